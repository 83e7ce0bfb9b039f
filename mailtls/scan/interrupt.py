"""SIGINT (Ctrl-C) and SIGTERM (cron, CI, systemd, ``timeout``) during a command.

The first signal asks the running scan to stop: probes in flight are cancelled and awaited,
ports that finished are kept, and the report says what was cut short. A signal that arrives
when no scan is running (start-up, argument checks, demo servers starting) raises
:class:`Interrupted` in the main thread, which the CLI turns into one line and exit 3. A second
signal quits at once, without a report.

Only the command-line launcher installs these handlers (:func:`install`), before it imports
the rest of mailtls, with both signals blocked until then so none is lost in between; the
library and in-process callers (tests, the pytest plugin) keep Python's defaults.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

__all__ = [
    "SIGNALS",
    "Interrupted",
    "block",
    "cancel_and_wait",
    "install",
    "raise_pending",
    "received",
    "run",
    "wait_all",
    "watching",
]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")


class Interrupted(Exception):
    """A signal arrived while no scan was running to stop gracefully."""

    def __init__(self, name: str) -> None:
        super().__init__(f"interrupted by {name}")
        self.signal_name = name


class _State:
    def __init__(self) -> None:
        self.installed = False
        self.received: str | None = None  # name of the first signal
        self.count = 0
        self.deferring = False  # inside install(): note a signal, do not raise
        # the running scan's stop event and its loop; None when no scan runs
        self.watch: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None


_state = _State()


def block() -> None:
    """Hold SIGINT/SIGTERM back (they stay pending) until :func:`install` takes them."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def install() -> None:
    """Take over SIGINT and SIGTERM for this process (the CLI launcher only), then let the
    signals held back by :func:`block` in."""
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    _state.installed = True
    if hasattr(signal, "pthread_sigmask"):
        # a signal held back arrives right here: noted, raised by raise_pending() once the
        # command line is parsed (so --format nagios still gets its status line)
        _state.deferring = True
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        finally:
            _state.deferring = False


def raise_pending() -> None:
    """Raise :class:`Interrupted` for a signal that came during start-up."""
    if _state.received is not None and _state.watch is None:
        raise Interrupted(_state.received)


def received() -> str | None:
    """The name of the first signal received ("SIGINT", "SIGTERM"), or None."""
    return _state.received


def _handler(signum: int, _frame: Any) -> None:
    name = signal.Signals(signum).name
    _state.count += 1
    if _state.count > 1:
        # The user insists: no report, no clean-up beyond what the OS does.
        os.write(2, f"mailtls: {name} again: quitting without a report\n".encode())
        os._exit(3)
    _state.received = name
    watch = _state.watch
    if _state.deferring:
        return
    if watch is None:
        raise Interrupted(name)
    loop, stop = watch
    try:
        loop.call_soon_threadsafe(stop.set)
    except RuntimeError:  # the loop closed in between: nothing left to stop gracefully
        raise Interrupted(name) from None


@contextmanager
def watching(stop: asyncio.Event) -> Iterator[asyncio.Event]:
    """While inside, a signal sets ``stop`` (on the running loop) instead of raising. A signal
    that came before is passed on at once."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = _state.watch
    _state.watch = (asyncio.get_running_loop(), stop)
    try:
        if _state.received is not None:
            stop.set()
        yield stop
    finally:
        _state.watch = previous


def run(work: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """``asyncio.run(work(stop))`` where a signal sets ``stop`` (the work decides what a
    graceful stop means). Without installed handlers ``stop`` is never set by a signal."""

    async def main() -> T:
        stop = asyncio.Event()
        if not _state.installed:
            return await work(stop)
        with watching(stop):
            return await work(stop)

    return asyncio.run(main())


def exit_status_of(name: str | None) -> int:
    """128 + the signal number: the shell's convention for a command killed by a signal."""
    if name is None:
        return 0
    return 128 + int(signal.Signals[name])


def note(message: str) -> None:
    """One line on stderr, even when stdout is a broken pipe."""
    with suppress(OSError):
        print(f"mailtls: {message}", file=sys.stderr, flush=True)


async def wait_all(
    tasks: Iterable[asyncio.Task[Any]], timeout: float | None, stop: asyncio.Event | None
) -> set[asyncio.Task[Any]]:
    """Wait until every task is done, ``timeout`` seconds pass or ``stop`` is set, whichever
    comes first; return the tasks still pending (the caller cancels them)."""
    pending = set(tasks)
    if not pending:
        return pending
    if stop is None:
        _done, still = await asyncio.wait(pending, timeout=timeout)
        return set(still)
    loop = asyncio.get_running_loop()
    end = None if timeout is None else loop.time() + timeout
    stopper = asyncio.create_task(stop.wait())
    try:
        while pending and not stop.is_set():
            left = None if end is None else end - loop.time()
            if left is not None and left <= 0:
                break
            done, _ = await asyncio.wait(pending | {stopper}, timeout=left,
                                         return_when=asyncio.FIRST_COMPLETED)
            pending -= done
    finally:
        stopper.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
    return pending


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], grace: float = 2.0) -> None:
    """Cancel ``tasks`` and give them ``grace`` seconds to finish their clean-up, retrieving
    every outcome (no "Task exception was never retrieved" later)."""
    tasks = [t for t in tasks if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=grace)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio does not log it again
