"""Scheduling under the per-address connection budget, against seven real loopback servers on
one address that count the connections they have open at once."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.tlsscan.tlsscan_servers import (
    Concurrency,
    Protocol,
    openssl_server,
    server_context,
)

SEVEN: list[tuple[str, Protocol, bool]] = [
    ("submission", "smtp", False), ("smtp", "smtp", False), ("imap", "imap", False),
    ("pop3", "pop3", False), ("submissions", "smtp", True), ("imaps", "imap", True),
    ("pop3s", "pop3", True)]


@dataclass
class Counted(Concurrency):
    """One server's connections, also counted in ``shared`` (all seven together)."""

    shared: Concurrency = field(default_factory=Concurrency)

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        with self.shared.connection(), super().connection():
            yield


def _seven(deep: Any, *extra: str) -> tuple[Concurrency, list[Counted], Any]:
    shared = Concurrency()
    counters = [Counted(shared=shared) for _ in SEVEN]
    ctx = server_context()
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(openssl_server(ctx, proto, implicit=implicit,
                                                      concurrency=counter))
                   for (_name, proto, implicit), counter in zip(SEVEN, counters, strict=True)]
        # seven TLS servers in this process's background thread: generous timeouts, so a busy
        # machine slows the test down instead of failing it
        slack = ("--read-timeout", "15", "--handshake-timeout", "15", "--timeout", "120")
        run = deep(*(f"{name}={server.port}" for (name, _p, _i), server in
                     zip(SEVEN, servers, strict=True)), extra=(*slack, *extra))
    return shared, counters, run


@pytest.mark.parametrize("limit", [5, 2])
def test_never_more_than_the_limit_at_once(deep: Any, limit: int) -> None:
    extra = () if limit == 5 else ("--max-connections", str(limit))
    shared, counters, run = _seven(deep, *extra)
    assert shared.peak <= limit
    assert shared.peak == limit  # and the budget is used: the ports' questions run side by side
    for counter in counters:
        assert len(counter.accepted) > 10  # every port was enumerated
    for endpoint in run.run.endpoints:
        assert endpoint["tls_scan"]["versions"]["TLS 1.3"] is True


def test_every_basic_probe_before_any_deep_connection(deep: Any) -> None:
    """Each port's first connection (its basic probe) is accepted before any port's second."""
    _shared, counters, _run = _seven(deep)
    firsts = [c.accepted[0] for c in counters]
    seconds = [c.accepted[1] for c in counters]
    assert max(firsts) <= min(seconds)
