"""The receive budget of a connection (mailtls.net.receive) enforced by ``Stream.read`` against
real loopback servers: bytes, lines and the deadline, whatever the caller's own loop does."""

from __future__ import annotations

import asyncio
import time

import pytest

from mailtls.errors import DeadlinePassed, ReadTimeout, ReceiveLimitExceeded, TLSHandshakeError
from mailtls.net.https import https_context, https_get
from mailtls.net.receive import ReceiveBudget
from mailtls.net.stream import Timeouts, client_context, open_stream
from mailtls.testing import TestPKI, start_raw


async def _endless_lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while not writer.is_closing():
        writer.write(b"* OK x\r\n" * 100)
        await writer.drain()
        await asyncio.sleep(0.001)


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while not writer.is_closing():
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.05)


async def _read_all(port: int, budget: ReceiveBudget, timeouts: Timeouts) -> int:
    """A careless reader: reads until something stops it."""
    stream = await open_stream("127.0.0.1", port, timeouts, budget)
    try:
        while True:
            await stream.read()
    finally:
        await stream.close()


def test_lines_are_counted_and_capped() -> None:
    with start_raw(_endless_lines) as server:
        budget = ReceiveBudget(max_lines=2000)
        with pytest.raises(ReceiveLimitExceeded, match="more than 2000 lines"):
            asyncio.run(_read_all(server.port, budget, Timeouts(read=5)))
    assert 2000 < budget.lines < 2000 + 16384 // 8 + 1  # stopped within one chunk


def test_bytes_are_capped() -> None:
    with start_raw(_endless_lines) as server:
        budget = ReceiveBudget(max_bytes=100_000, max_lines=10**9)
        with pytest.raises(ReceiveLimitExceeded, match="more than 100000 bytes"):
            asyncio.run(_read_all(server.port, budget, Timeouts(read=5)))


def test_the_deadline_cuts_a_drip_that_every_read_timeout_would_allow() -> None:
    """A byte every 50 ms never trips a 5 s read timeout; the connection's deadline ends it."""
    with start_raw(_drip) as server:
        started = time.monotonic()
        budget = ReceiveBudget(deadline=started + 0.6)
        with pytest.raises(ReadTimeout, match="scan deadline"):
            asyncio.run(_read_all(server.port, budget, Timeouts(read=5)))
        assert time.monotonic() - started < 1.0


def test_timeouts_deadline_reaches_every_stream_and_the_connect() -> None:
    """``Timeouts.deadline`` is the default budget's deadline: no caller has to pass it."""

    async def go(port: int) -> None:
        past = Timeouts(connect=5, deadline=time.monotonic() - 1)
        await open_stream("127.0.0.1", port, past)

    with start_raw(_drip) as server, pytest.raises(DeadlinePassed, match="scan deadline"):
        asyncio.run(go(server.port))


def test_an_https_body_dripped_under_the_read_timeout_ends_in_time(pki: TestPKI) -> None:
    """MTA-STS and autoconfig fetches: a byte every 50 ms passes httpx's per-read timeout for
    ever; the whole exchange is bounded by connect + handshake + read."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n"
                     b"\r\n")
        await _drip(reader, writer)

    timeouts = Timeouts(connect=0.3, handshake=0.3, read=0.4)
    with start_raw(handler, ssl_context=pki.server_context("good")) as server:
        started = time.monotonic()
        with pytest.raises(ReadTimeout, match="no complete response"):
            asyncio.run(https_get(
                "mta-sts.example.test", "/.well-known/mta-sts.txt", address="127.0.0.1",
                port=server.port, context=https_context(verify=False), timeouts=timeouts,
                max_bytes=65536))
        assert time.monotonic() - started < 1.0 + 0.5


async def _plaintext_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)  # the first byte of the ClientHello
    writer.write(b"-ERR this is not TLS\r\n")
    await writer.drain()
    await reader.read()


def test_a_plaintext_answer_to_the_client_hello_is_named() -> None:
    """OpenSSL says WRONG_VERSION_NUMBER; the report says what that means."""
    async def handshake(port: int) -> None:
        stream = await open_stream("127.0.0.1", port, Timeouts(read=5))
        try:
            await stream.start_tls(client_context(verify=False), "localhost")
        finally:
            await stream.close()

    with start_raw(_plaintext_answer) as server, pytest.raises(
            TLSHandshakeError, match=r"WRONG_VERSION_NUMBER \(the server's answer was not TLS\)"):
        asyncio.run(handshake(server.port))
