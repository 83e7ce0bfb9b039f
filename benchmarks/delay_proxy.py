"""A TCP relay that adds a fixed round-trip time, for the RTT benchmark.

Why not netem: ``tc qdisc add dev lo root netem delay 10ms`` needs the sch_netem kernel
module, which this project's machines do not have ("Error: Specified qdisc kind is unknown.",
no /lib/modules). This relay gives the same effect to any client in user space: it listens on
``LISTEN_ADDRESS:PORT`` for each given port and relays to ``TARGET_ADDRESS:PORT``, delaying
every chunk by half the round-trip time in each direction (in order), and a new connection by
one round trip before anything flows, as the TCP handshake would.

    python benchmarks/delay_proxy.py LISTEN_ADDRESS TARGET_ADDRESS RTT_MS PORT [PORT ...]

Both addresses must be loopback (127.0.0.0/8). It prints "ready" when listening; for every line
read on stdin it prints the connections relayed per port since the last such line (one JSON
object), and it ends when stdin ends. Run in its own process, so its work does not slow the
tool being measured.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import sys
import time
from collections import Counter

CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float,
                start: float) -> None:
    """Forward what ``reader`` receives to ``writer``, each chunk ``delay`` s after it arrived
    (never before ``start``); order kept, EOF forwarded the same way."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        try:
            while data := await reader.read(CHUNK):
                queue.put_nowait((time.monotonic() + delay, data))
        except OSError:
            pass
        queue.put_nowait((time.monotonic() + delay, b""))

    receiving = asyncio.create_task(receive())
    try:
        while True:
            due, data = await queue.get()
            wait = max(due, start) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        receiving.cancel()


async def _relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                 target: str, port: int, rtt: float) -> None:
    start = time.monotonic() + rtt  # the handshake's round trip: nothing flows before it
    try:
        server_reader, server_writer = await asyncio.open_connection(target, port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(_pump(client_reader, server_writer, rtt / 2, start),
                             _pump(server_reader, client_writer, rtt / 2, start))
    finally:
        for w in (client_writer, server_writer):
            w.close()


async def serve(listen: str, target: str, rtt: float, ports: list[int]) -> None:
    servers = []
    counts: Counter[int] = Counter()
    # asyncio drops its reference to a connection's task when the client hangs up: keep one
    # here, or a relay still flushing the other direction is collected half-way
    alive: set[asyncio.Task[None]] = set()
    for port in ports:
        async def relay(r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int) -> None:
            await _relay(r, w, target, port, rtt)

        def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int = port) -> None:
            counts[port] += 1
            task = asyncio.get_running_loop().create_task(relay(r, w, port))
            alive.add(task)
            task.add_done_callback(alive.discard)

        servers.append(await asyncio.start_server(handle, listen, port, backlog=512))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(json.dumps({str(p): counts[p] for p in ports}), flush=True)
        counts.clear()
    os._exit(0)  # stdin ended: the benchmark is done; relays still open end with the process


def main() -> int:
    listen, target, rtt_ms, *ports = sys.argv[1:]
    for address in (listen, target):
        if ipaddress.ip_address(address) not in ipaddress.ip_network("127.0.0.0/8"):
            sys.exit(f"refusing non-loopback address {address}")
    asyncio.run(serve(listen, target, float(rtt_ms) / 1000, [int(p) for p in ports]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
