"""Server life cycle: stop(), stop_all(), threads, fds, host checks, options, sync use."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from mailtls.testing import (
    IMAPOptions,
    POP3Options,
    RunningServer,
    ServerOptions,
    SMTPOptions,
    TestPKI,
    hostile,
    running_servers,
    start_imap,
    start_pop3,
    start_raw,
    start_smtp,
    stop_all,
)
from mailtls.testing._runtime import LOOP, split_early
from mailtls.testing.servers import (
    IMAPKwargs,
    POP3Kwargs,
    ServerKwargs,
    SMTPKwargs,
    option_names,
)
from tests.testing.testing_clients import BioClient

Starter = Callable[..., RunningServer]
STARTERS: dict[str, Starter] = {"smtp": start_smtp, "imap": start_imap, "pop3": start_pop3}


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mailtls-test-servers"]


def greet_sync(server: RunningServer, pki: TestPKI) -> socket.socket | ssl.SSLSocket:
    """A blocking connection that has read the greeting (so the server surely accepted it)."""
    sock: socket.socket | ssl.SSLSocket = socket.create_connection(server.address, timeout=2)
    if server.implicit_tls:
        sock = pki.client_context().wrap_socket(sock, server_hostname="mail.example.test")
    assert sock.recv(1000)
    return sock


def assert_closed_by_server(sock: socket.socket | ssl.SSLSocket) -> None:
    """Reads what is still in flight (a greeting, say), then must see EOF or a reset."""
    sock.settimeout(2)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass


def test_stop_is_idempotent_and_refuses_new_connections(pki: TestPKI) -> None:
    server = start_smtp(pki)
    address = server.address
    assert not server.stopped
    server.stop()
    server.stop()
    assert server.stopped
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


@pytest.mark.parametrize("protocol", STARTERS)
@pytest.mark.parametrize("implicit_tls", [False, True])
def test_stop_closes_open_connections(pki: TestPKI, protocol: str, implicit_tls: bool) -> None:
    server = STARTERS[protocol](pki, implicit_tls=implicit_tls)
    greeted = greet_sync(server, pki)
    in_handshake = socket.create_connection(server.address, timeout=2)  # never sends a hello
    try:
        time.sleep(0.05)
        server.stop()
        assert_closed_by_server(greeted)
        assert_closed_by_server(in_handshake)
    finally:
        greeted.close()
        in_handshake.close()


def test_stop_closes_hostile_connections() -> None:
    with hostile.tarpit() as tarpit, hostile.endless_multiline("greeting") as endless:
        a = socket.create_connection(tarpit.address, timeout=2)
        b = socket.create_connection(endless.address, timeout=2)
        try:
            assert b.recv(100).startswith(b"220-")
            time.sleep(0.05)
            tarpit.stop()
            endless.stop()
            assert_closed_by_server(a)
            assert_closed_by_server(b)
        finally:
            a.close()
            b.close()


def fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def busy_scenario(pki: TestPKI) -> None:
    """Several servers with open connections (one after a pipelined STARTTLS), all stopped."""
    servers = [
        start_smtp(pki),
        start_smtp(pki, implicit_tls=True),
        start_imap(pki),
        start_pop3(pki, implicit_tls=True),
        hostile.garbage(),
    ]
    assert len(loop_threads()) == 1
    socks = [greet_sync(s, pki) for s in servers]
    client = BioClient(servers[2])
    client.line()
    client.starttls_pipelined("a STARTTLS", pki.client_context())
    for server in servers:
        server.stop()
    for sock in socks:
        sock.close()
    client.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_stop_leaks_no_fds_or_threads(pki: TestPKI) -> None:
    start_pop3(pki).stop()  # the loop thread runs (maybe for others' servers too)
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = fds()
    busy_scenario(pki)
    assert {t.ident for t in threading.enumerate()} == threads_before
    assert fds() == fds_before


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_stop_all_leaves_nothing_behind(pki: TestPKI) -> None:
    if running_servers():
        pytest.skip("servers of other tests are running; stop_all() would stop them")
    stop_all()
    assert loop_threads() == []
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = fds()
    busy_scenario(pki)
    first = start_pop3(pki)  # left running: stop_all() stops it
    greet_sync(first, pki).close()
    assert running_servers() == [first]
    stop_all()
    assert first.stopped and running_servers() == []
    assert loop_threads() == []
    assert {t.ident for t in threading.enumerate()} == threads_before
    assert fds() == fds_before
    with start_pop3(pki) as again:  # the loop restarts lazily
        greet_sync(again, pki).close()


def test_concurrent_starts_from_threads(pki: TestPKI) -> None:
    kinds = list(STARTERS.values())
    with ThreadPoolExecutor(6) as pool:
        servers = list(pool.map(lambda i: kinds[i % 3](pki), range(12)))
    try:
        assert len({s.port for s in servers}) == 12
        assert len(loop_threads()) == 1
        for server in servers:
            greet_sync(server, pki).close()
    finally:
        for server in servers:
            server.stop()


def test_blocking_calls_from_the_server_loop_raise() -> None:
    seen: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            start_raw(handler)
        except RuntimeError as exc:
            seen.append(str(exc))
        writer.write(b"done\r\n")
        await writer.drain()

    with start_raw(handler) as server, socket.create_connection(server.address, timeout=2) as s:
        assert s.recv(100) == b"done\r\n"
    assert seen and "loop thread" in seen[0]


def test_handler_bugs_are_reported() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise KeyError("bug in a test handler")

    before = len(LOOP.errors)
    with (
        start_raw(handler, name="buggy") as server,
        socket.create_connection(server.address, timeout=2) as s,
    ):
        assert_closed_by_server(s)
    assert LOOP.errors[before:] == ["buggy handler: KeyError('bug in a test handler')"]
    del LOOP.errors[before:]  # expected here: keep the autouse check green


def test_stop_from_a_handler() -> None:
    holder: list[RunningServer] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        holder[0].stop()  # schedules the close on the loop, does not block
        await asyncio.sleep(10)  # cancelled by that close

    server = start_raw(handler, name="self-stopping")
    holder.append(server)
    with socket.create_connection(server.address, timeout=2) as s:
        assert_closed_by_server(s)
    assert server.stopped
    deadline = time.monotonic() + 2
    while True:
        try:
            socket.create_connection(server.address, timeout=2).close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "listener still open"
        time.sleep(0.01)


@pytest.mark.parametrize("host", ["0.0.0.0", "", "localhost", "192.0.2.1", "::"])
def test_only_loopback_addresses(pki: TestPKI, host: str) -> None:
    for start in STARTERS.values():
        with pytest.raises(ValueError, match="bind only"):
            start(pki, host=host)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pass

    with pytest.raises(ValueError, match="bind only"):
        start_raw(handler, host=host)


@pytest.mark.parametrize(
    ("kwargs_type", "options_type"),
    [
        (ServerKwargs, ServerOptions),
        (SMTPKwargs, SMTPOptions),
        (IMAPKwargs, IMAPOptions),
        (POP3Kwargs, POP3Options),
    ],
)
def test_kwargs_mirror_the_option_dataclasses(kwargs_type: type, options_type: type) -> None:
    assert kwargs_type.__optional_keys__ == option_names(options_type)  # type: ignore[attr-defined]


def test_unknown_option_is_an_error(pki: TestPKI) -> None:
    with pytest.raises(TypeError):
        start_smtp(pki, logindisabled=False)  # type: ignore[call-arg]


def test_names_and_credentials_list() -> None:
    with hostile.tarpit() as server:
        assert server.name == "tarpit" and server.protocol == "raw"
        server.record_plaintext_credential("x")
        assert server.plaintext_credentials == ["x"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", (b"", b"")),
        (b"\x16\x03\x01\x02\x00", (b"", b"\x16\x03\x01\x02\x00")),
        (b"NOOP\r\n", (b"NOOP\r\n", b"")),
        (b"NOOP\r\nQUIT\r\n\x16\x03\x01", (b"NOOP\r\nQUIT\r\n", b"\x16\x03\x01")),
        (b"X \x16\x03", (b"X \x16\x03", b"")),  # not at a line start: plaintext
    ],
)
def test_split_early(data: bytes, expected: tuple[bytes, bytes]) -> None:
    assert split_early(data) == expected
