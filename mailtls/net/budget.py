"""The per-address connection budget: at most ``limit`` connections open at once to one
address, whoever opens them, handed out by priority.

A scan installs one :class:`ConnectionBudget` (``use_budget``) and every :func:`open_stream
<mailtls.net.stream.open_stream>` in that context takes a slot for the connection's whole life
(``Stream.close`` gives it back). So the politeness limit holds per connection, not per port:
ports with more work left run several connections at once while others are idle, and the
limit still holds across every probe of every port (and, through ``mailtls.batch``, across
hosts).

Priorities (``priority``): lower goes first, ties first come first served. The scan gives the
basic probes of every port the first turn, then the deep probes of the port that is expected
to take longest (the critical path).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Iterator
from contextvars import ContextVar, Token

Priority = tuple[float, ...]

BASIC: Priority = (0.0,)  # the basic probe of a port: every port's first, before any deep probe


class AddressBudget:
    """At most ``limit`` slots at once; waiters are served lowest priority first."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the connection limit must be at least 1")
        self.limit = limit
        self.in_use = 0
        self.peak = 0  # the most slots ever held at once (tests hold the invariant to it)
        self.granted = 0
        self._waiters: list[tuple[Priority, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: Priority = BASIC) -> None:
        if self.in_use < self.limit and not self._waiters:
            self._take()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted and cancelled in the same breath: give it back
            else:
                self._waiters = [w for w in self._waiters if w[2] is not future]
                heapq.heapify(self._waiters)
            raise

    def _take(self) -> None:
        self.in_use += 1
        self.granted += 1
        self.peak = max(self.peak, self.in_use)

    def release(self) -> None:
        self.in_use -= 1
        while self._waiters and self.in_use < self.limit:
            _priority, _n, future = heapq.heappop(self._waiters)
            if not future.done():
                self._take()
                future.set_result(None)


class ConnectionBudget:
    """The budgets of every address of one scan (or of a batch of scans)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_address: dict[str, AddressBudget] = {}
        self._lanes: dict[str, asyncio.Lock] = {}

    def for_address(self, address: str) -> AddressBudget:
        budget = self._by_address.get(address)
        if budget is None:
            budget = self._by_address[address] = AddressBudget(self.limit)
        return budget

    def lane(self, address: str) -> asyncio.Lock:
        """A lock per address for work that must not overlap at all (``--slow``: one port's
        deep probes at a time, so the pauses between their connections add up)."""
        return self._lanes.setdefault(address, asyncio.Lock())

    @property
    def peak(self) -> int:
        """The most connections ever open at once to any one address."""
        return max((b.peak for b in self._by_address.values()), default=0)


_BUDGET: ContextVar[ConnectionBudget | None] = ContextVar("mailtls_budget", default=None)
_PRIORITY: ContextVar[Priority] = ContextVar("mailtls_priority", default=BASIC)


def use_budget(budget: ConnectionBudget | None) -> Token[ConnectionBudget | None]:
    """Install ``budget`` for this context (tasks created from now on inherit it)."""
    return _BUDGET.set(budget)


def reset_budget(token: Token[ConnectionBudget | None]) -> None:
    _BUDGET.reset(token)


def current_budget() -> ConnectionBudget | None:
    return _BUDGET.get()


@contextlib.contextmanager
def priority(value: Priority) -> Iterator[None]:
    """Connections opened inside this block (by this task) wait for a slot at ``value``."""
    token = _PRIORITY.set(value)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


async def take_slot(address: str) -> AddressBudget | None:
    """A slot for one connection to ``address`` (None when no budget is installed)."""
    budget = _BUDGET.get()
    if budget is None:
        return None
    slot = budget.for_address(address)
    await slot.acquire(_PRIORITY.get())
    return slot
