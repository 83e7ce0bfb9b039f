"""enumerate_tls and servers that turn connections away (rate limiting), the deadline, pauses,
and chunks that go unanswered: exact checks on the simulated server."""

from __future__ import annotations

import ssl
import time

from mailtls.tls.enumeration import (
    RateLimited,
    TLSEnumeration,
    enumerate_tls,
    exchange_from_callable,
)
from mailtls.tls.versions import TLSVersion
from tests.tls.tls_helpers import SERVER_NAME, FakeServer, server_context, ssl_server, tcp_exchange

T12 = [0xC02F, 0xC030, 0x009C]
T13 = [0x1301, 0x1302]


class Limited(FakeServer):
    """Answers ``admit`` connections, then turns the next ``refuse`` away (RateLimited), and so
    on; ``refuse=None`` turns away every connection after the first ``admit``."""

    def __init__(self, *args: object, admit: int, refuse: int | None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.admit, self.refuse = admit, refuse
        self.turned_away = 0
        self._streak = 0

    async def answer(self, hello: bytes) -> bytes | None:
        self._streak += 1
        cycle = self.admit + (self.refuse or 0)
        position = self._streak if self.refuse is None else (self._streak - 1) % cycle + 1
        if position > self.admit:
            self.turned_away += 1
            raise RateLimited("421 4.7.0 Too many connections")
        return await super().answer(hello)


async def scan(server: FakeServer, **kw: object) -> TLSEnumeration:
    return await enumerate_tls(
        exchange_from_callable(server.answer), server_name=SERVER_NAME, **kw  # type: ignore[arg-type]
    )


async def test_backs_off_and_completes() -> None:
    free = await scan(FakeServer({0x0303: T12, 0x0304: T13}))
    limited = Limited({0x0303: T12, 0x0304: T13}, admit=5, refuse=2)
    result = await scan(limited, backoff=0.001)
    assert limited.turned_away > 0
    assert result.rate_limited == limited.turned_away
    assert result.backoff_seconds > 0
    assert result.errors == ()
    assert result.versions == free.versions
    assert result.suites == free.suites
    assert result.groups == free.groups and result.ecdhe_groups == free.ecdhe_groups


async def test_gives_up_and_stops_connecting() -> None:
    limited = Limited({0x0303: T12, 0x0304: T13}, admit=4, refuse=None)
    result = await scan(limited, backoff=0.001, retries=2)
    assert limited.turned_away == 3  # one connection, retried twice, then no more
    assert result.connections == 4 + 3
    assert len(result.errors) == 1
    assert result.errors[0].startswith("rate limited: 421 4.7.0 Too many connections")
    assert "gave up after 3 refused connection(s)" in result.errors[0]
    # what was seen stays; what was not reached is untested (None), never "refused" (False)
    assert result.versions[TLSVersion.SSL2] is False
    assert result.versions[TLSVersion.TLS1_2] is None
    assert result.versions[TLSVersion.TLS1_3] is None


async def test_after_recovering_it_slows_down() -> None:
    """A sliding window (3 connections per 50 ms): after the first refusal the enumeration
    spaces its connections out instead of running into the limit again and again."""

    class Window(FakeServer):
        def __init__(self, *args: object, **kw: object) -> None:
            super().__init__(*args, **kw)  # type: ignore[arg-type]
            self.admitted: list[float] = []
            self.turned_away = 0

        async def answer(self, hello: bytes) -> bytes | None:
            now = time.monotonic()
            if sum(1 for t in self.admitted if now - t < 0.05) >= 3:
                self.turned_away += 1
                raise RateLimited("421 4.7.0 Too many connections")
            self.admitted.append(now)
            return await super().answer(hello)

    server = Window({0x0303: T12, 0x0304: T13})
    result = await scan(server, backoff=0.01)
    assert result.errors == ()
    assert result.connections >= 20
    # running into the limit every fourth connection would turn away a quarter of them (5 or
    # more); slowing down after the first recovery leaves the first few
    assert server.turned_away <= 3


async def test_deadline_in_the_past_makes_no_connection() -> None:
    fake = FakeServer({0x0303: T12})
    result = await scan(fake, deadline=time.monotonic() - 1)
    assert fake.connections == 0
    assert set(result.versions.values()) == {None}
    assert result.errors == ("stopped early: the scan deadline was reached",)


async def test_pause_between_connections() -> None:
    fake = FakeServer({0x0303: T12})
    started = time.monotonic()
    result = await scan(fake, versions=[TLSVersion.TLS1_2], pause=0.02)
    assert time.monotonic() - started >= 0.02 * (result.connections - 1)


async def test_unanswered_chunk_makes_the_version_untested_not_refused() -> None:
    """The first chunk of TLS 1.2 suites is refused, the second times out: that is no proof
    that TLS 1.2 is off (it was "refused" before)."""

    class SilentOnSecondChunk(FakeServer):
        async def answer(self, hello: bytes) -> bytes | None:
            if b"\xc0\x2f" in hello:  # ECDHE suites live in the second chunk
                from mailtls.errors import ReadTimeout

                raise ReadTimeout("no answer")
            return await super().answer(hello)

    result = await scan(SilentOnSecondChunk({0x0303: [0xC02F]}), versions=[TLSVersion.TLS1_2])
    assert result.versions[TLSVersion.TLS1_2] is None
    assert any("timeout" in e for e in result.errors)


async def test_real_server_with_ecdsa_certificate_and_client_order() -> None:
    """RFC 8422: the ECDSA certificate's curve stays offered, so every ECDHE curve is found
    from a server that follows the client's preference."""
    ctx = server_context("ecdsa", ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    srv = ssl_server(ctx)
    with srv:
        result = await enumerate_tls(
            tcp_exchange(srv.port), server_name=SERVER_NAME, versions=[TLSVersion.TLS1_2]
        )
    assert {0x001D, 0x0017, 0x001E, 0x0018, 0x0019} <= set(result.ecdhe_groups)
