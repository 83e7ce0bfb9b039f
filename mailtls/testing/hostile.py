"""Scripted hostile/broken servers on ``start_raw``: each function returns a RunningServer.

Until their trick, the protocol-parameterised ones behave like a minimal server of
``protocol`` ("smtp", "imap" or "pop3"): a greeting, then EHLO / CAPABILITY / CAPA listing
STARTTLS/STLS, NOOP, QUIT / LOGOUT; the go-ahead for STARTTLS is ``220 2.0.0 Ready to start
TLS`` / ``<tag> OK Begin TLS negotiation now`` / ``+OK Begin TLS negotiation``.

=========================  ===================================================================
server                     behaviour
=========================  ===================================================================
tarpit                     accepts, never speaks, reads and holds the connection
slow_greeting              the greeting at one byte per ``interval`` seconds (default 1 s)
endless_multiline          SMTP "250-" lines forever after EHLO (``mode="ehlo"``), or a
                           "220-" greeting forever (``mode="greeting"``)
long_line                  1 MiB greeting without CRLF, then more bytes without CRLF
garbage                    random binary "greeting" (deterministic: ``seed``), then holds
tls_on_plaintext_port      implicit TLS where plaintext is expected: waits for a ClientHello
                           (after the handshake: the protocol's greeting inside TLS)
plaintext_on_tls_port      a plaintext greeting where implicit TLS is expected
reset_mid_handshake        go-ahead, reads the ClientHello, then RST (SO_LINGER 0);
                           ``implicit_tls=True``: the same on an implicit-TLS port
close_after_go_ahead       go-ahead, then closes (FIN)
too_many_connections       "421 4.7.0 Too many connections" (IMAP "* BYE", POP3 "-ERR
                           [SYS/TEMP]"), then closes
silent_after_starttls      go-ahead, then never answers the ClientHello (holds)
extra_data_after_go_ahead  go-ahead + one injected response in ONE write ("220 go ahead\\r\\n
                           250 injected\\r\\n" for SMTP), then TLS with the test PKI
pipelined_as_tls           takes plaintext pipelined after STARTTLS as the start of the TLS
                           handshake (which then fails: RFC 9051 §6.2.1 allows it); a
                           STARTTLS sent alone works normally
answers_pipelined_in_      answers commands pipelined after STARTTLS in plaintext, in the same
plaintext                  write as its go-ahead, then starts TLS (the answers are data after
                           the go-ahead; nothing runs inside TLS)
silent_after_tls           go-ahead, TLS handshake, then never answers inside TLS
runs_pipelined_inside_tls  CVE-2011-0411: commands pipelined after STARTTLS are run inside TLS,
                           ``delay`` seconds after the handshake; IMAP with
                           ``after_next=True``: only after answering the client's next command
misbehaving                a well-behaved server until ``phase``, then ``behaviour`` (below)
=========================  ===================================================================

``misbehaving(pki, protocol, phase, behaviour, implicit_tls=...)`` is the hostile matrix's
server (tests/check/test_hostile_matrix.py, benchmarks/hostile_matrix.py). Phases: ``greeting``
(on implicit-TLS ports: the first words inside TLS), ``capabilities`` (EHLO/CAPABILITY/CAPA;
inside TLS on implicit ports), ``starttls`` (the answer to STARTTLS/STLS), ``tls_capabilities``
(the capabilities after STARTTLS, inside TLS), ``commands`` (every other command: the login,
AUTH, MAIL... of the security probes and the login test; the basic probe succeeds). Behaviours:
``endless_lines`` (short protocol-looking lines without end), ``endless_line`` (one line that
never ends), ``drip`` (a proper answer at one byte per ``interval`` seconds), ``silence``,
``garbage`` (4 KiB of random bytes, then silence), ``close`` (FIN), ``reset`` (RST).
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Callable
from typing import Literal

from ._runtime import push_front, take_buffered, upgrade_stream
from .pki import CertKind, TestPKI
from .servers import RunningServer, start_raw, upgrade_to_tls

__all__ = [
    "BEHAVIOURS",
    "IMPLICIT_PHASES",
    "PHASES",
    "Behaviour",
    "MailProtocol",
    "Phase",
    "answers_pipelined_in_plaintext",
    "close_after_go_ahead",
    "endless_multiline",
    "extra_data_after_go_ahead",
    "garbage",
    "long_line",
    "misbehaving",
    "pipelined_as_tls",
    "plaintext_on_tls_port",
    "reset_mid_handshake",
    "runs_pipelined_inside_tls",
    "silent_after_starttls",
    "silent_after_tls",
    "slow_greeting",
    "tarpit",
    "tls_on_plaintext_port",
    "too_many_connections",
]

MailProtocol = Literal["smtp", "imap", "pop3"]
Phase = Literal["greeting", "capabilities", "starttls", "tls_capabilities", "commands"]
Behaviour = Literal[
    "endless_lines", "endless_line", "drip", "silence", "garbage", "close", "reset"
]
PHASES: tuple[Phase, ...] = (
    "greeting", "capabilities", "starttls", "tls_capabilities", "commands"
)
IMPLICIT_PHASES: tuple[Phase, ...] = ("greeting", "capabilities", "commands")
BEHAVIOURS: tuple[Behaviour, ...] = (
    "endless_lines", "endless_line", "drip", "silence", "garbage", "close", "reset"
)

SERVER_NAME = "mail.example.test"


def greeting(protocol: MailProtocol, *, starttls: bool = True) -> str:
    if protocol == "smtp":
        return f"220 {SERVER_NAME} ESMTP hostile test server"
    if protocol == "imap":
        caps = "IMAP4rev1 STARTTLS LOGINDISABLED" if starttls else "IMAP4rev1 AUTH=PLAIN"
        return f"* OK [CAPABILITY {caps}] hostile test server ready"
    return "+OK hostile test server ready"


async def send(writer: asyncio.StreamWriter, *lines: str) -> None:
    writer.write("".join(line + "\r\n" for line in lines).encode())
    await writer.drain()


async def read_line(reader: asyncio.StreamReader) -> str | None:
    raw = await reader.readline()
    if not raw.endswith(b"\n"):
        return None
    return raw.rstrip(b"\r\n").decode("utf-8", "replace")


async def hold(reader: asyncio.StreamReader) -> None:
    """Read and discard until the client goes away (or the server stops)."""
    while await reader.read(65536):
        pass


async def script(  # noqa: C901 (a split is still to do: issue 15)
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    protocol: MailProtocol,
    *,
    tls: bool = False,
    starttls: bool = True,
) -> str | None:
    """A minimal server dialogue until STARTTLS/STLS (when offered and not yet in TLS).

    Returns the go-ahead line to send (not sent yet), or None when the client quit or left.
    """
    offer = starttls and not tls
    while True:
        line = await read_line(reader)
        if line is None:
            return None
        if protocol == "smtp":
            command = line.split(" ", 1)[0].upper()
            if command == "EHLO":
                caps = [SERVER_NAME, "PIPELINING"]
                caps += ["STARTTLS"] if offer else []
                caps += ["AUTH PLAIN LOGIN"] if tls else []
                await send(writer, *(f"250-{c}" for c in caps[:-1]), f"250 {caps[-1]}")
            elif command == "HELO":
                await send(writer, f"250 {SERVER_NAME}")
            elif command in ("NOOP", "RSET"):
                await send(writer, "250 2.0.0 OK")
            elif command == "QUIT":
                await send(writer, "221 2.0.0 Bye")
                return None
            elif command == "STARTTLS" and offer:
                return "220 2.0.0 Ready to start TLS"
            else:
                await send(writer, "502 5.5.2 Command not recognized")
        elif protocol == "imap":
            tag, _, rest = line.partition(" ")
            command = rest.split(" ", 1)[0].upper()
            if command == "CAPABILITY":
                listed = "IMAP4rev1 STARTTLS LOGINDISABLED" if offer else "IMAP4rev1 AUTH=PLAIN"
                await send(writer, f"* CAPABILITY {listed}", f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                await send(writer, f"{tag} OK NOOP completed")
            elif command == "LOGOUT":
                await send(writer, "* BYE logging out", f"{tag} OK LOGOUT completed")
                return None
            elif command == "STARTTLS" and offer:
                return f"{tag} OK Begin TLS negotiation now"
            else:
                await send(writer, f"{tag} BAD Unknown command")
        else:
            command = line.split(" ", 1)[0].upper()
            if command == "CAPA":
                caps = ["TOP", "UIDL"] + (["STLS"] if offer else ["USER", "SASL PLAIN"])
                await send(writer, "+OK Capability list follows", *caps, ".")
            elif command == "NOOP":
                await send(writer, "+OK")
            elif command == "QUIT":
                await send(writer, "+OK Bye")
                return None
            elif command == "STLS" and offer:
                return "+OK Begin TLS negotiation"
            else:
                await send(writer, "-ERR Unknown command")


async def _until_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: MailProtocol
) -> str | None:
    await send(writer, greeting(protocol))
    return await script(reader, writer, protocol)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- the servers ----------------------------------------------------------------------------------


def tarpit(*, host: str = "127.0.0.1") -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold(reader)

    return start_raw(handler, name="tarpit", host=host)


def slow_greeting(
    protocol: MailProtocol = "smtp", *, interval: float = 1.0, host: str = "127.0.0.1"
) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for byte in (greeting(protocol, starttls=False) + "\r\n").encode():
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)
        await script(reader, writer, protocol, starttls=False)

    return start_raw(handler, name=f"slow_greeting-{protocol}", host=host)


def endless_multiline(
    mode: Literal["ehlo", "greeting"] = "ehlo",
    *,
    interval: float = 0.0,
    host: str = "127.0.0.1",
) -> RunningServer:
    """SMTP continuation lines forever (``interval`` seconds between batches of 100 lines)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if mode == "ehlo":
            await send(writer, greeting("smtp"))
            while True:
                line = await read_line(reader)
                if line is None:
                    return
                if line.upper().startswith(("EHLO", "HELO")):
                    break
                await send(writer, "503 5.5.1 EHLO first")
            code = "250"
        else:
            code = "220"
        n = 0
        while True:
            batch = "".join(f"{code}-{SERVER_NAME} line {n + i}\r\n" for i in range(100))
            n += 100
            writer.write(batch.encode())
            await writer.drain()
            await asyncio.sleep(interval)

    return start_raw(handler, name=f"endless_multiline-{mode}", host=host)


def long_line(
    *, size: int = 1 << 20, more_interval: float = 0.05, host: str = "127.0.0.1"
) -> RunningServer:
    """``size`` bytes of greeting without CRLF, then 4 KiB more every ``more_interval`` s."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 " + b"x" * max(0, size - 4))
        await writer.drain()
        while True:
            await asyncio.sleep(more_interval)
            writer.write(b"x" * 4096)
            await writer.drain()

    return start_raw(handler, name="long_line", host=host)


def garbage(*, size: int = 4096, seed: int = 0, host: str = "127.0.0.1") -> RunningServer:
    data = random.Random(seed).randbytes(size)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        await hold(reader)

    return start_raw(handler, name="garbage", host=host)


def tls_on_plaintext_port(
    pki: TestPKI,
    protocol: MailProtocol = "smtp",
    *,
    cert: CertKind = "good",
    host: str = "127.0.0.1",
) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send(writer, greeting(protocol, starttls=False))
        await script(reader, writer, protocol, tls=True)

    return start_raw(
        handler,
        ssl_context=pki.server_context(cert),
        name=f"tls_on_plaintext_port-{protocol}",
        host=host,
    )


def plaintext_on_tls_port(
    protocol: MailProtocol = "smtp", *, host: str = "127.0.0.1"
) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send(writer, greeting(protocol, starttls=False))
        await script(reader, writer, protocol, starttls=False)

    return start_raw(handler, name=f"plaintext_on_tls_port-{protocol}", host=host)


def reset_mid_handshake(
    protocol: MailProtocol = "smtp", *, implicit_tls: bool = False, host: str = "127.0.0.1"
) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not implicit_tls:
            go_ahead = await _until_starttls(reader, writer, protocol)
            if go_ahead is None:
                return
            await send(writer, go_ahead)
        hello = await reader.read(65536)  # a pipelined ClientHello is already buffered: fine
        if hello:
            _reset(writer)

    suffix = "-implicit" if implicit_tls else ""
    return start_raw(handler, name=f"reset_mid_handshake-{protocol}{suffix}", host=host)


def close_after_go_ahead(
    protocol: MailProtocol = "smtp", *, host: str = "127.0.0.1"
) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is not None:
            await send(writer, go_ahead)
        # returning closes the connection (FIN)

    return start_raw(handler, name=f"close_after_go_ahead-{protocol}", host=host)


def too_many_connections(
    protocol: MailProtocol = "smtp", *, host: str = "127.0.0.1"
) -> RunningServer:
    line = {
        "smtp": "421 4.7.0 Too many connections",
        "imap": "* BYE Too many connections",
        "pop3": "-ERR [SYS/TEMP] Too many connections",
    }[protocol]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send(writer, line)

    return start_raw(handler, name=f"too_many_connections-{protocol}", host=host)


def silent_after_starttls(
    protocol: MailProtocol = "smtp", *, host: str = "127.0.0.1"
) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is None:
            return
        await send(writer, go_ahead)
        await hold(reader)

    return start_raw(handler, name=f"silent_after_starttls-{protocol}", host=host)


def extra_data_after_go_ahead(
    pki: TestPKI,
    protocol: MailProtocol = "smtp",
    *,
    cert: CertKind = "good",
    host: str = "127.0.0.1",
) -> RunningServer:
    ctx = pki.server_context(cert)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is None:
            return
        if protocol == "smtp":
            both = "220 go ahead\r\n250 injected\r\n"
        elif protocol == "imap":
            both = go_ahead.split(" ", 1)[0] + " OK go ahead\r\n* OK injected\r\n"
        else:
            both = "+OK go ahead\r\n+OK injected\r\n"
        writer.write(both.encode())  # one write: the client reads both before its handshake
        await writer.drain()
        await upgrade_to_tls(reader, writer, ctx)
        await script(reader, writer, protocol, tls=True)

    return start_raw(handler, name=f"extra_data_after_go_ahead-{protocol}", host=host)


def pipelined_as_tls(
    pki: TestPKI,
    protocol: MailProtocol = "smtp",
    *,
    cert: CertKind = "good",
    host: str = "127.0.0.1",
) -> RunningServer:
    """Everything after the STARTTLS line goes to TLS, plaintext included (RFC 9051 §6.2.1,
    option 1): a pipelined command makes the handshake fail instead of running."""
    ctx = pki.server_context(cert)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is None:
            return
        await send(writer, go_ahead)
        await upgrade_stream(reader, writer, ctx, early=take_buffered(reader),
                             handshake_timeout=10.0)
        await script(reader, writer, protocol, tls=True)

    return start_raw(handler, name=f"pipelined_as_tls-{protocol}", host=host)


def _plaintext_answer(protocol: MailProtocol, line: str) -> list[str]:
    """What the minimal server would answer to ``line`` (no state changes)."""
    if protocol == "smtp":
        if line.upper().startswith("EHLO"):
            return [f"250-{SERVER_NAME} answered in plaintext", "250 PIPELINING"]
        return ["250 2.0.0 OK (answered in plaintext)"]
    if protocol == "imap":
        tag = line.split(" ", 1)[0]
        return [f"{tag} OK answered in plaintext"]
    if line.upper().startswith("CAPA"):
        return ["+OK Capability list follows (in plaintext)", "TOP", "UIDL", "."]
    return ["+OK answered in plaintext"]


def answers_pipelined_in_plaintext(
    pki: TestPKI,
    protocol: MailProtocol = "smtp",
    *,
    cert: CertKind = "good",
    host: str = "127.0.0.1",
) -> RunningServer:
    """Commands pipelined after STARTTLS are answered in plaintext, together with the go-ahead,
    before the switch: not an injection into TLS, but plaintext data after the go-ahead."""
    ctx = pki.server_context(cert)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is None:
            return
        pipelined = take_buffered(reader).decode("utf-8", "replace").split("\r\n")
        answers = [a for line in pipelined if line for a in _plaintext_answer(protocol, line)]
        await send(writer, go_ahead, *answers)  # one write
        await upgrade_to_tls(reader, writer, ctx)
        await script(reader, writer, protocol, tls=True)

    return start_raw(handler, name=f"answers_pipelined_in_plaintext-{protocol}", host=host)


def silent_after_tls(
    pki: TestPKI,
    protocol: MailProtocol = "smtp",
    *,
    cert: CertKind = "good",
    host: str = "127.0.0.1",
) -> RunningServer:
    """STARTTLS and the handshake work; inside TLS the server never says a word."""
    ctx = pki.server_context(cert)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is None:
            return
        await send(writer, go_ahead)
        await upgrade_to_tls(reader, writer, ctx)
        await hold(reader)

    return start_raw(handler, name=f"silent_after_tls-{protocol}", host=host)


def runs_pipelined_inside_tls(
    pki: TestPKI,
    protocol: MailProtocol = "smtp",
    *,
    delay: float = 0.0,
    after_next: bool = False,
    cert: CertKind = "good",
    host: str = "127.0.0.1",
) -> RunningServer:
    """The plaintext pipelined after STARTTLS is run inside TLS (CVE-2011-0411), but slowly:
    ``delay`` seconds after the handshake, or (``after_next``, meant for IMAP, whose answers
    carry tags) after the client's next command has been answered."""
    ctx = pki.server_context(cert)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        go_ahead = await _until_starttls(reader, writer, protocol)
        if go_ahead is None:
            return
        await send(writer, go_ahead)
        injected = await upgrade_to_tls(reader, writer, ctx)
        if delay:
            await asyncio.sleep(delay)
        if after_next:
            first = await reader.readline()
            push_front(reader, first + injected)
        else:
            push_front(reader, injected)
        await script(reader, writer, protocol, tls=True)

    return start_raw(handler, name=f"runs_pipelined_inside_tls-{protocol}", host=host)


# -- the hostile matrix's server ------------------------------------------------------------------


def _capability_answer(protocol: MailProtocol, tag: str, *, tls: bool) -> list[str]:
    if protocol == "smtp":
        last = "AUTH PLAIN LOGIN" if tls else "STARTTLS"
        return [f"250-{SERVER_NAME}", "250-PIPELINING", f"250 {last}"]
    if protocol == "imap":
        listed = "IMAP4rev1 AUTH=PLAIN" if tls else "IMAP4rev1 STARTTLS LOGINDISABLED"
        return [f"* CAPABILITY {listed}", f"{tag} OK CAPABILITY completed"]
    caps = ["TOP", "UIDL"] + (["USER", "SASL PLAIN"] if tls else ["STLS"])
    return ["+OK Capability list follows", *caps, "."]


async def _endless(writer: asyncio.StreamWriter, gone: asyncio.Task[None],
                   chunks: Callable[[int], bytes]) -> None:
    """Write ``chunks(n)`` for n = 0, 1, ... until the client goes away (throttled a little,
    so that the server does not starve the machine: still ~1 MB/s)."""
    n = 0
    while not gone.done() and not writer.is_closing():
        writer.write(chunks(n))
        n += 1
        await writer.drain()
        await asyncio.sleep(0.01)


async def _perform(
    behaviour: Behaviour, protocol: MailProtocol, phase: Phase, tag: str,
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, interval: float,
) -> None:
    """Answer with ``behaviour`` instead of what ``phase`` calls for, until the client leaves."""
    if behaviour == "close":
        return
    if behaviour == "reset":
        _reset(writer)
        return
    gone = asyncio.ensure_future(hold(reader))  # the client's EOF ends the endless behaviours
    try:
        if behaviour == "silence":
            await gone
        elif behaviour == "garbage":
            writer.write(random.Random(7).randbytes(4096))
            await writer.drain()
            await gone
        elif behaviour == "endless_lines":
            if protocol == "smtp":
                code = "220" if phase in ("greeting", "starttls") else "250"
                first = b""
                line = f"{code}-{SERVER_NAME} line %d\r\n"
            elif protocol == "imap":
                first, line = b"", "* OK line %d\r\n"
            else:  # a status line, then body lines that never end with "."
                # (-ERR to a login: an endless reply must not pass for accepted credentials)
                status = b"-ERR" if phase == "commands" else b"+OK"
                first, line = status + b" endless\r\n", "X-LINE-%d\r\n"
            # The status line and the first lines in one write: a go-ahead followed at once by
            # plaintext, so the client finds the plaintext next to the go-ahead (not, by the luck
            # of scheduling, only inside its TLS handshake).
            await _endless(writer, gone, lambda n: (first if n == 0 else b"") + "".join(
                line % (n * 200 + i) for i in range(200)).encode())
        elif behaviour == "endless_line":
            start = {"smtp": "220 " if phase == "greeting" else "250 ",
                     "imap": "* OK " if phase == "greeting" else f"{tag} OK ",
                     "pop3": "+OK "}[protocol]
            writer.write(start.encode())
            await _endless(writer, gone, lambda n: b"x" * 8192)
        else:  # drip: a proper answer, one byte at a time
            answer = {"smtp": "220 " if phase in ("greeting", "starttls") else "250 ",
                      "imap": "* OK " if phase == "greeting" else f"{tag} OK ",
                      "pop3": "+OK "}[protocol] + f"{SERVER_NAME} answers one byte at a time\r\n"
            for byte in answer.encode():
                if gone.done() or writer.is_closing():
                    return
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(interval)
            await gone
    finally:
        gone.cancel()


def misbehaving(
    pki: TestPKI,
    protocol: MailProtocol,
    phase: Phase,
    behaviour: Behaviour,
    *,
    implicit_tls: bool = False,
    interval: float = 1.0,
    host: str = "127.0.0.1",
) -> RunningServer:
    """A minimal server of ``protocol`` that answers ``phase`` with ``behaviour`` (module doc).

    Plaintext port: greeting, capabilities (offering STARTTLS), STARTTLS with the test PKI,
    capabilities again inside TLS. Implicit-TLS port (``implicit_tls=True``): the same inside
    TLS from the start, without STARTTLS (so the phases ``starttls`` and ``tls_capabilities``
    do not apply there).
    """
    if implicit_tls and phase not in IMPLICIT_PHASES:
        raise ValueError(f"phase {phase!r} does not exist on an implicit-TLS port")
    ctx = pki.server_context("good")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if phase == "greeting":
            await _perform(behaviour, protocol, phase, "*", reader, writer, interval)
            return
        await send(writer, greeting(protocol, starttls=not implicit_tls))
        tls = implicit_tls
        while True:
            line = await read_line(reader)
            if line is None:
                return
            if protocol == "imap":
                tag, _, rest = line.partition(" ")
                command = rest.split(" ", 1)[0].upper()
            else:
                tag, command = "", line.split(" ", 1)[0].upper()
            if command in ("EHLO", "HELO", "CAPABILITY", "CAPA"):
                # "capabilities" before TLS on a STARTTLS port, and inside TLS on an implicit one
                if (phase == "capabilities" and tls == implicit_tls) or (
                    phase == "tls_capabilities" and tls and not implicit_tls
                ):
                    await _perform(behaviour, protocol, phase, tag, reader, writer, interval)
                    return
                await send(writer, *_capability_answer(protocol, tag, tls=tls))
            elif command in ("STARTTLS", "STLS") and not tls:
                if phase == "starttls":
                    await _perform(behaviour, protocol, phase, tag, reader, writer, interval)
                    return
                await send(writer, {"smtp": "220 2.0.0 Ready to start TLS",
                                    "imap": f"{tag} OK Begin TLS negotiation now",
                                    "pop3": "+OK Begin TLS negotiation"}[protocol])
                await upgrade_to_tls(reader, writer, ctx)
                tls = True
            elif command in ("QUIT", "LOGOUT"):
                await send(writer, *{"smtp": ["221 2.0.0 Bye"],
                                     "imap": ["* BYE logging out", f"{tag} OK LOGOUT completed"],
                                     "pop3": ["+OK Bye"]}[protocol])
                return
            elif command == "NOOP":
                await send(writer, {"smtp": "250 2.0.0 OK", "imap": f"{tag} OK NOOP completed",
                                    "pop3": "+OK"}[protocol])
            elif phase == "commands":
                await _perform(behaviour, protocol, phase, tag, reader, writer, interval)
                return
            else:
                await send(writer, {"smtp": "502 5.5.2 Command not recognized",
                                    "imap": f"{tag} BAD Unknown command",
                                    "pop3": "-ERR Unknown command"}[protocol])

    kind = "implicit" if implicit_tls else "plain"
    return start_raw(handler, ssl_context=ctx if implicit_tls else None,
                     name=f"misbehaving-{protocol}-{kind}-{phase}-{behaviour}", host=host)
