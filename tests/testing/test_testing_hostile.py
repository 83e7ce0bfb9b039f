"""mailtls.testing.hostile: each scripted server misbehaves exactly as documented."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time

import pytest

from mailtls.testing import RunningServer, TestPKI, hostile
from mailtls.testing.hostile import MailProtocol
from tests.testing.testing_clients import LineClient, client_ctx

PROTOCOLS: tuple[MailProtocol, ...] = ("smtp", "imap", "pop3")
GREETING_START = {"smtp": "220 ", "imap": "* OK ", "pop3": "+OK "}


async def up_to_go_ahead(server: RunningServer, protocol: MailProtocol) -> LineClient:
    """Connect, greet, STARTTLS; returns the client right after reading the go-ahead."""
    c = await LineClient.open(server, timeout=2.0)
    assert (await c.line()).startswith(GREETING_START[protocol])
    if protocol == "smtp":
        ehlo = await c.smtp_ehlo()
        assert "250 STARTTLS" in ehlo
        await c.send("STARTTLS")
        assert await c.line() == "220 2.0.0 Ready to start TLS"
    elif protocol == "imap":
        reply = await c.imap("a", "CAPABILITY")
        assert "STARTTLS" in reply[0]
        assert await c.imap("b", "STARTTLS") == ["b OK Begin TLS negotiation now"]
    else:
        capa = await c.pop3_capa()
        assert "STLS" in capa
        await c.send("STLS")
        assert await c.line() == "+OK Begin TLS negotiation"
    return c


async def test_tarpit() -> None:
    with hostile.tarpit() as server:
        async with await LineClient.open(server) as c:
            await c.send("EHLO client.example.test")
            assert await c.nothing_within(0.3)
            server.stop()  # the held connection is closed by stop()
            assert await asyncio.wait_for(c.reader.read(), 2) == b""


async def test_slow_greeting() -> None:
    with hostile.slow_greeting("smtp", interval=0.1) as server:
        async with await LineClient.open(server) as c:
            start = time.monotonic()
            received = b""
            while time.monotonic() - start < 0.35:
                with contextlib.suppress(TimeoutError):
                    received += await asyncio.wait_for(c.reader.read(100), 0.05)
            assert 1 <= len(received) <= 8
            assert b"220 mail.example.test".startswith(received)


@pytest.mark.parametrize("mode", ["ehlo", "greeting"])
async def test_endless_multiline(mode: str) -> None:
    with hostile.endless_multiline(mode) as server:  # type: ignore[arg-type]
        async with await LineClient.open(server) as c:
            if mode == "ehlo":
                assert (await c.line()).startswith("220 ")
                await c.send("EHLO client.example.test")
            prefix = "250-" if mode == "ehlo" else "220-"
            for _ in range(2000):
                assert (await c.line()).startswith(prefix)


async def test_long_line() -> None:
    with hostile.long_line() as server:
        async with await LineClient.open(server) as c:
            size = (1 << 20) + 4096  # the first MiB and some of the "more"
            data = await asyncio.wait_for(c.reader.readexactly(size), 5)
            assert data.startswith(b"220 ") and b"\n" not in data


async def test_garbage() -> None:
    with hostile.garbage(seed=7) as server:
        async with await LineClient.open(server) as c:
            data = await asyncio.wait_for(c.reader.readexactly(4096), 2)
            assert data == random.Random(7).randbytes(4096)
            assert await c.nothing_within(0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tls_on_plaintext_port(pki: TestPKI, protocol: MailProtocol) -> None:
    with hostile.tls_on_plaintext_port(pki, protocol) as server:
        async with await LineClient.open(server) as plain:
            assert await plain.nothing_within(0.2)  # no greeting: it waits for a ClientHello
        async with await LineClient.open(server, tls=pki.client_context()) as c:
            assert (await c.line()).startswith(GREETING_START[protocol])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_plaintext_on_tls_port(pki: TestPKI, protocol: MailProtocol) -> None:
    with hostile.plaintext_on_tls_port(protocol) as server:
        with pytest.raises(ssl.SSLError):
            await LineClient.open(server, tls=client_ctx(verify=False))
        async with await LineClient.open(server) as c:
            assert (await c.line()).startswith(GREETING_START[protocol])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_reset_mid_handshake(pki: TestPKI, protocol: MailProtocol) -> None:
    with hostile.reset_mid_handshake(protocol) as server:
        c = await up_to_go_ahead(server, protocol)
        try:
            with pytest.raises(ConnectionResetError):
                await c.starttls(pki.client_context())
        finally:
            await c.close()


async def test_reset_mid_handshake_implicit(pki: TestPKI) -> None:
    with (
        hostile.reset_mid_handshake(implicit_tls=True) as server,
        pytest.raises(ConnectionResetError),
    ):
        await LineClient.open(server, tls=pki.client_context())


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_close_after_go_ahead(pki: TestPKI, protocol: MailProtocol) -> None:
    with hostile.close_after_go_ahead(protocol) as server:
        c = await up_to_go_ahead(server, protocol)
        try:
            with pytest.raises(OSError):  # EOF in the handshake (ConnectionResetError/SSLError)
                await c.starttls(pki.client_context())
        finally:
            await c.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_too_many_connections(protocol: MailProtocol) -> None:
    expected = {
        "smtp": "421 4.7.0 Too many connections",
        "imap": "* BYE Too many connections",
        "pop3": "-ERR [SYS/TEMP] Too many connections",
    }[protocol]
    with hostile.too_many_connections(protocol) as server:
        async with await LineClient.open(server) as c:
            assert await c.line() == expected
            assert await asyncio.wait_for(c.reader.read(), 2) == b""


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_silent_after_starttls(pki: TestPKI, protocol: MailProtocol) -> None:
    with hostile.silent_after_starttls(protocol) as server:
        c = await up_to_go_ahead(server, protocol)
        c.timeout = 0.3  # the client's handshake timeout
        try:
            with pytest.raises(OSError):  # handshake timeout (TimeoutError/ConnectionAborted)
                await asyncio.wait_for(c.starttls(pki.client_context()), 2)
        finally:
            await c.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_extra_data_after_go_ahead(pki: TestPKI, protocol: MailProtocol) -> None:
    with hostile.extra_data_after_go_ahead(pki, protocol) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            if protocol == "smtp":
                await c.smtp_ehlo()
                await c.send("STARTTLS")
                assert await c.line() == "220 go ahead"
                injected = b"250 injected\r\n"
            elif protocol == "imap":
                await c.send("a STARTTLS")
                assert await c.line() == "a OK go ahead"
                injected = b"* OK injected\r\n"
            else:
                await c.send("STLS")
                assert await c.line() == "+OK go ahead"
                injected = b"+OK injected\r\n"
            assert await c.starttls(pki.client_context()) == injected
            if protocol == "smtp":
                assert "250 AUTH PLAIN LOGIN" in await c.smtp_ehlo()
            elif protocol == "imap":
                assert (await c.imap("b", "CAPABILITY"))[-1] == "b OK CAPABILITY completed"
            else:
                assert "USER" in await c.pop3_capa()
