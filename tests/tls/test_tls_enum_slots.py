"""Waiting for a connection slot is not the server's slowness: with ``mark_connected`` the
hello's timeout starts once the exchange says it is connected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from mailtls.tls.enumeration import HelloExchange, enumerate_tls
from mailtls.tls.versions import TLSVersion
from tests.tls.tls_helpers import SERVER_NAME, FakeServer

T12 = [0xC02F, 0xC030, 0x009C]


def queued_exchange(fake: FakeServer, queued: float) -> HelloExchange:
    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        await asyncio.sleep(queued)  # in line for a slot of the connection budget
        yield b""  # connected
        data = await fake.answer(hello)
        if data:
            yield data

    return exchange


async def test_slot_wait_does_not_count_against_the_hello_timeout() -> None:
    fake = FakeServer({0x0303: T12})
    result = await enumerate_tls(queued_exchange(fake, 0.3), server_name=SERVER_NAME,
                                 versions=[TLSVersion.TLS1_2], timeout=0.1, mark_connected=True)
    assert result.versions[TLSVersion.TLS1_2] is True
    assert set(result.suites[TLSVersion.TLS1_2]) == set(T12)
    assert result.errors == ()


async def test_without_the_mark_the_whole_exchange_is_timed() -> None:
    fake = FakeServer({0x0303: T12})
    result = await enumerate_tls(queued_exchange(fake, 0.3), server_name=SERVER_NAME,
                                 versions=[TLSVersion.TLS1_2], timeout=0.1)
    assert result.versions[TLSVersion.TLS1_2] is None  # untestable: every hello timed out
