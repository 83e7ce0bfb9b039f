"""The per-address connection limit and rate-limit cool-down, shared by every worker in Redis.

``scan`` takes a connection budget (``address_limits``, ``mailtls.net.budget``): every
connection takes a slot of its address for its whole life. The embedded path shares one
``ConnectionBudget`` among the targets of its process. A worker passes a
``RedisConnectionBudget``: a slot is first taken in the process (by priority, as always), then
as a lease in a Redis sorted set per address, so ``--max-connections`` (1 with ``--slow``) holds
per connection across all workers and machines together.

- A lease is taken atomically (a Lua script: drop expired leases, count, add), renewed every
  ``LEASE_SECONDS / 3`` while its endpoint is probed, and expires by itself ``LEASE_SECONDS``
  after its last renewal: a worker killed with SIGKILL mid-scan frees the address's slots
  within that time.
- Cool-down: when a target's report shows that an address turned connections away (a
  421/BYE/-ERR greeting, the TLS enumeration rate limited), the worker sets a cool-down key for
  that address; every worker waits it out before it opens its next connection there.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import redis

from mailtls.net.budget import BASIC, AddressBudget, ConnectionBudget, Priority

__all__ = ["COOL_DOWN_SECONDS", "LEASE_SECONDS", "RedisConnectionBudget"]

PREFIX = "mailtls:limit:"
COOL_PREFIX = "mailtls:cool:"
COOL_DOWN_SECONDS = 5.0
LEASE_SECONDS = 10.0
POLL_SECONDS = (0.005, 0.03)  # a waiter polls again after a random pause in this range

# KEYS[1] the address's lease set; ARGV: now (ms), lease expiry (ms), limit, token
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisAddressBudget(AddressBudget):
    """One address's budget: a slot of this process (served by priority, as in the embedded
    path), then a lease in Redis shared with every other worker."""

    def __init__(self, owner: RedisConnectionBudget, address: str) -> None:
        super().__init__(owner.limit)
        self._owner = owner
        self._key = PREFIX + address
        self._cool = COOL_PREFIX + address
        self._held: list[tuple[str, asyncio.Task[None]]] = []

    async def acquire(self, priority: Priority = BASIC) -> None:
        await super().acquire(priority)
        try:
            await self._lease()
        except BaseException:
            super().release()
            raise

    async def _lease(self) -> None:
        owner = self._owner
        token = uuid.uuid4().hex
        while True:
            wait_ms = owner.client.pttl(self._cool)
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
                continue
            now = _now_ms()
            got = owner.acquire_script(
                keys=[self._key],
                args=[now, now + int(owner.lease_seconds * 1000), owner.limit, token])
            if got:
                self._held.append((token, asyncio.create_task(self._renew(token))))
                return
            await asyncio.sleep(random.uniform(*POLL_SECONDS))

    async def _renew(self, token: str) -> None:
        lease_ms = int(self._owner.lease_seconds * 1000)
        while True:
            await asyncio.sleep(self._owner.lease_seconds / 3)
            expiry = _now_ms() + lease_ms
            self._owner.client.zadd(self._key, {token: expiry}, xx=True)
            self._owner.client.pexpireat(self._key, expiry)

    def release(self) -> None:
        if self._held:  # leases are interchangeable: give back any one of ours
            token, renewal = self._held.pop()
            renewal.cancel()
            self._owner.client.zrem(self._key, token)
        super().release()


class RedisConnectionBudget(ConnectionBudget):
    """The connection budget of ``scan`` backed by Redis: at most ``limit`` connections to one
    address open at once, by all workers together."""

    def __init__(self, client: redis.Redis, *, limit: int,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        super().__init__(limit)
        self.client = client
        self.lease_seconds = lease_seconds
        self.acquire_script: Any = client.register_script(_ACQUIRE)
        self._redis_budgets: dict[str, RedisAddressBudget] = {}

    def for_address(self, address: str) -> AddressBudget:
        budget = self._redis_budgets.get(address)
        if budget is None:
            budget = self._redis_budgets[address] = RedisAddressBudget(self, address)
        return budget

    @property
    def peak(self) -> int:
        return max((b.peak for b in self._redis_budgets.values()), default=0)

    def cool_down(self, address: str, seconds: float = COOL_DOWN_SECONDS) -> None:
        """Every worker waits ``seconds`` before its next connection to ``address``."""
        self.client.set(COOL_PREFIX + address, "1", px=int(seconds * 1000))
