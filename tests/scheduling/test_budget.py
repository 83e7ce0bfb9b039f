"""The per-address connection budget (mailtls.net.budget): the limit holds, priorities are
served in order, a cancelled waiter leaks no slot, and real sockets give their slot back."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mailtls.errors import ConnectRefused
from mailtls.net.budget import AddressBudget, ConnectionBudget, priority, reset_budget, use_budget
from mailtls.net.stream import Timeouts, open_stream


async def test_limit_and_priority_order() -> None:
    budget = AddressBudget(2)
    served: list[str] = []
    await budget.acquire((0.0,))
    await budget.acquire((0.0,))
    assert budget.in_use == 2

    async def wait(name: str, prio: tuple[float, ...]) -> None:
        await budget.acquire(prio)
        served.append(name)

    tasks = [asyncio.create_task(wait(n, p)) for n, p in
             [("deep-cheap", (1.0, -0.01)), ("deep-costly", (1.0, -0.05)), ("basic", (0.0,)),
              ("deep-cheap-2", (1.0, -0.01))]]
    await asyncio.sleep(0)
    assert served == [] and budget.in_use == 2
    for _ in range(4):
        budget.release()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    # basic first, then the costliest port, then first come first served
    assert served == ["basic", "deep-costly", "deep-cheap", "deep-cheap-2"]
    assert budget.peak == 2


async def test_cancelled_waiter_leaks_no_slot() -> None:
    budget = AddressBudget(1)
    await budget.acquire()
    waiter = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    budget.release()
    assert budget.in_use == 0
    await asyncio.wait_for(budget.acquire(), 1)  # the slot is free again
    assert budget.in_use == 1


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AddressBudget(0)


async def test_streams_take_and_return_slots() -> None:
    """Real loopback sockets: at most the limit open at once; a refused connect returns its
    slot; closing a stream returns its slot."""
    open_now = 0
    peak = 0
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            await reader.read()  # until the client closes
        finally:
            open_now -= 1
            writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    budget = ConnectionBudget(3)
    token = use_budget(budget)
    try:
        async def one() -> None:
            stream = await open_stream("127.0.0.1", port, Timeouts())
            await release.wait()
            await stream.close()

        with priority((1.0,)):
            tasks = [asyncio.create_task(one()) for _ in range(8)]
        await asyncio.sleep(0.2)
        assert budget.for_address("127.0.0.1").in_use == 3
        release.set()
        await asyncio.gather(*tasks)
        assert budget.peak == 3 and budget.for_address("127.0.0.1").in_use == 0
        # a refused connection gives its slot back at once
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
        closed.close()
        for _ in range(5):
            with pytest.raises(ConnectRefused):
                await open_stream("127.0.0.1", dead_port, Timeouts())
        assert budget.for_address("127.0.0.1").in_use == 0
    finally:
        reset_budget(token)
        server.close()
        await server.wait_closed()
    assert peak <= 3
