"""``mailtls serve``: listeners, one case at a time, the client (``--run``) or the user, verdicts.

One listener per protocol and port style the chosen cases need; it serves the case that is
active right now (connections between cases are closed at once). Each case ends when the
client process exits (``--run``; then a short grace for its connections to finish) or, in the
interactive drive, when its connections have been closed for a few seconds, when the user
presses Enter, or at the case timeout. Everything runs on one asyncio loop in the calling
thread (``run_serve`` is synchronous).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import logging
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mailtls.errors import UsageError
from mailtls.testing.pki import DEFAULT_NAMES, TestPKI

from .cases import ALERT_MARKER, Case, Mode, Protocol
from .imap import IMAPSession
from .pop3 import POP3Session
from .record import ConnectionRecord, Secrets
from .session import LINE_LIMIT, ServeContext, Session
from .smtp import SMTPSession
from .verdicts import ClientRun, Judgement, judge

__all__ = ["CaseResult", "ServeConfig", "ServeResult", "check_template", "run_serve"]

_SESSIONS: dict[Protocol, type[Session]] = {
    "smtp": SMTPSession, "imap": IMAPSession, "pop3": POP3Session,
}
PLACEHOLDERS = ("host", "port", "name", "user", "password", "cafile", "case", "protocol",
                "workdir", "message")
_OUTPUT_LIMIT = 1 << 20
_TAIL_LINES = 6


@dataclass(frozen=True)
class ServeConfig:
    cases: tuple[Case, ...]
    listen: str = "127.0.0.1"
    port_base: int = 10000  # a case's port: port_base + its standard port; 0 = OS-chosen
    run: str | None = None  # client command template for STARTTLS-style cases
    run_implicit: str | None = None  # ... for implicit-TLS cases (default: ``run``)
    case_timeout: float = 30.0
    idle_timeout: float = 20.0
    quiet: float = 3.0  # interactive: the case ends this long after its last connection closed
    grace: float = 2.0  # --run: how long connections may outlive the client process
    injection_hold: float = 2.0
    server_name: str = "mail.example.test"
    user: str = "mailtls-test"
    write_ca: str | None = None
    announce: Callable[[str], None] = field(default=lambda text: print(text, flush=True))
    ask: Callable[[str], str | None] | None = None  # interactive yes/no questions


@dataclass(frozen=True)
class CaseResult:
    case: Case
    host: str
    port: int
    judgement: Judgement
    connections: tuple[ConnectionRecord, ...]
    client: ClientRun | None
    seconds: float


@dataclass(frozen=True)
class ServeResult:
    started: dt.datetime
    finished: dt.datetime
    listen: str
    drive: str  # "run" or "interactive"
    run: str | None
    run_implicit: str | None
    user: str
    results: tuple[CaseResult, ...]

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.results if r.judgement.verdict == verdict)


def check_template(template: str) -> list[str]:
    """Split a ``--run`` template (shlex) and check its placeholders; raises UsageError."""
    try:
        argv = shlex.split(template)
    except ValueError as exc:
        raise UsageError(f"--run: cannot split the command: {exc}") from None
    if not argv:
        raise UsageError("--run: empty command")
    if "\0" in template:
        raise UsageError("--run: the command contains a NUL byte")
    dummy = dict.fromkeys(PLACEHOLDERS, "x")
    for token in argv:
        try:
            token.format_map(dummy)
        except KeyError as exc:
            raise UsageError(f"--run: unknown placeholder {{{exc.args[0]}}}; known: "
                             + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)) from None
        except (ValueError, IndexError) as exc:
            raise UsageError(f"--run: bad placeholder in {token!r}: {exc} "
                             "(write {{ and }} for literal braces)") from None
    if shutil.which(argv[0]) is None:
        raise UsageError(f"--run: command not found: {argv[0]}")
    return argv


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class _Active:
    case: Case
    t0: float
    records: list[ConnectionRecord] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    open: int = 0
    last_close: float = 0.0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class _Server:
    def __init__(self, config: ServeConfig, ctx: ServeContext) -> None:
        self.config = config
        self.ctx = ctx
        self.active: _Active | None = None
        self.listeners: dict[tuple[Protocol, Mode], asyncio.Server] = {}
        self.ports: dict[tuple[Protocol, Mode], int] = {}

    async def start(self) -> None:
        for case in self.config.cases:
            key = (case.protocol, case.mode)
            if key in self.listeners:
                continue
            port = self.config.port_base + case.standard_port if self.config.port_base else 0
            try:
                server = await asyncio.start_server(
                    functools.partial(self._on_client, key), self.config.listen, port,
                    limit=LINE_LIMIT,
                )
            except OSError as exc:
                raise UsageError(f"cannot listen on {self.config.listen} port {port}: "
                                 f"{exc.strerror or exc}") from None
            self.listeners[key] = server
            self.ports[key] = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for server in self.listeners.values():
            server.close()
        await self.end_case()
        for server in self.listeners.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _on_client(self, key: tuple[Protocol, Mode], reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        active = self.active
        if active is None or (active.case.protocol, active.case.mode) != key:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        active.tasks.add(task)
        peer = writer.get_extra_info("peername")
        rec = ConnectionRecord(index=len(active.records) + 1,
                               peer=f"{peer[0]}:{peer[1]}" if peer else "?",
                               started=round(time.monotonic() - active.t0, 3),
                               _t0=active.t0)
        active.records.append(rec)
        active.open += 1
        active.arrived.set()
        session = _SESSIONS[active.case.protocol](reader, writer, active.case, rec, self.ctx)
        try:
            await session.run()
        except asyncio.CancelledError:
            rec.closed_by = rec.closed_by or "timeout"
            rec.log("-", "the case ended: connection closed by mailtls", tls=session.tls)
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            rec.closed_by = rec.closed_by or "client"
            rec.log("-", f"connection error: {exc}", tls=session.tls)
        finally:
            active.open -= 1
            active.last_close = time.monotonic()
            active.tasks.discard(task)
            writer.transport.abort() if rec.closed_by == "timeout" else writer.close()

    async def end_case(self) -> None:
        active, self.active = self.active, None
        if active is None:
            return
        for task in list(active.tasks):
            task.cancel()
        if active.tasks:
            await asyncio.wait(list(active.tasks), timeout=5)

    async def wait_settled(self, active: _Active, limit: float) -> None:
        """Until no connection of ``active`` is open (or ``limit`` seconds)."""
        end = time.monotonic() + limit
        while active.open and time.monotonic() < end:
            await asyncio.sleep(0.05)


async def _run_client(argv: list[str], workdir: str, timeout: float,
                      secrets_: Secrets, template: str, stdin_path: str | None) -> ClientRun:
    """Run the client once; an SMTP client reads the test message on its standard input."""
    with contextlib.ExitStack() as stack:
        stdin = stack.enter_context(open(stdin_path, "rb")) if stdin_path else None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in an argument
            return ClientRun(template, None, False, f"could not start: {exc}", False)
    return await _collect(proc, timeout, secrets_, template)


async def _collect(proc: asyncio.subprocess.Process, timeout: float, secrets_: Secrets,
                   template: str) -> ClientRun:
    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0

    async def drain() -> None:
        nonlocal size
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            if size < _OUTPUT_LIMIT:
                chunks.append(chunk)
                size += len(chunk)

    timed_out = False
    try:
        await asyncio.wait_for(asyncio.gather(drain(), proc.wait()), timeout)
    except TimeoutError:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group this run started for the client
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)
    output = b"".join(chunks).decode("utf-8", "replace")
    lines = [line for line in output.splitlines() if line.strip()]
    tail = secrets_.scrub("\n".join(line[:200] for line in lines[-_TAIL_LINES:]))
    return ClientRun(
        command=template,
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        output_tail=tail,
        alert_shown=ALERT_MARKER in output,
    )


_MESSAGE = """\
From: mailtls-test@example.test
To: mailtls-test@example.test
Subject: mailtls serve test message
Date: {date}
Message-ID: <{tag}@mailtls.test>

This message was sent by a mail client under test to 'mailtls serve'; it is dropped.
"""


async def _serve(config: ServeConfig) -> ServeResult:
    started = dt.datetime.now(dt.UTC)
    names = tuple(dict.fromkeys((*DEFAULT_NAMES, config.listen)))
    secrets_ = Secrets(config.user, secrets.token_hex(12), secrets.token_bytes(16))
    templates = {"starttls": config.run, "implicit": config.run_implicit or config.run}
    drive = "run" if config.run or config.run_implicit else "interactive"
    with TestPKI(names) as pki, tempfile.TemporaryDirectory(prefix="mailtls-serve-") as tmp:
        ctx = ServeContext(pki=pki, secrets=secrets_, server_name=config.server_name,
                           idle_timeout=config.idle_timeout,
                           injection_hold=config.injection_hold)
        cafile = config.write_ca or os.path.join(tmp, "mailtls-serve-ca.pem")
        with open(cafile, "wb") as f:
            f.write(pki.ca_pem)
        message = os.path.join(tmp, "message.eml")
        with open(message, "w", encoding="ascii", newline="\r\n") as f:
            f.write(_MESSAGE.format(date=started.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                                    tag=secrets.token_hex(8)))
        server = _Server(config, ctx)
        await server.start()
        results: list[CaseResult] = []
        try:
            if drive == "interactive":
                _announce_interactive(config, secrets_, cafile)
            for number, case in enumerate(config.cases, 1):
                key = (case.protocol, case.mode)
                port = server.ports[key]
                host = config.listen
                workdir = os.path.join(tmp, case.id)
                os.makedirs(workdir, exist_ok=True)
                active = _Active(case, time.monotonic())
                server.active = active
                client: ClientRun | None = None
                template = templates[case.mode]
                if drive == "run":
                    if template is None:
                        await server.end_case()
                        continue
                    values = {"host": host, "port": str(port), "user": secrets_.user,
                              "password": secrets_.password, "cafile": cafile,
                              "name": "localhost" if is_loopback(host) else host,
                              "case": case.id, "protocol": case.protocol, "workdir": workdir,
                              "message": message}
                    argv = [token.format_map(values) for token in shlex.split(template)]
                    client = await _run_client(
                        argv, workdir, config.case_timeout, secrets_, template,
                        message if case.protocol == "smtp" else None)
                    await server.wait_settled(active, config.grace)
                else:
                    config.announce(_case_banner(number, len(config.cases), case, host, port))
                    await _wait_interactive(server, active, config)
                await server.end_case()
                alert: bool | None = None
                if case.alert:
                    if client is not None:
                        alert = client.alert_shown
                    elif config.ask is not None and active.records:
                        answer = config.ask(f"Did the client show a message containing "
                                            f"{ALERT_MARKER}? [y/n] ")
                        alert = None if answer is None else answer.strip().lower() == "y"
                judgement = judge(case, active.records, alert_shown=alert)
                results.append(CaseResult(case, host, port, judgement, tuple(active.records),
                                          client, round(time.monotonic() - active.t0, 3)))
                if drive == "interactive":
                    config.announce(f"  -> {judgement.verdict.upper()}: {judgement.reason}\n")
        finally:
            await server.close()
    return ServeResult(started, dt.datetime.now(dt.UTC), config.listen, drive, config.run,
                       config.run_implicit, secrets_.user, tuple(results))


def _announce_interactive(config: ServeConfig, secrets_: Secrets, cafile: str) -> None:
    config.announce(
        "mailtls serve: configure your mail client for each case below, then let it check or "
        "send mail.\n"
        f"  user name:  {secrets_.user}\n"
        f"  password:   {secrets_.password}   (a throwaway for this run; never your own)\n"
        f"  test CA:    {cafile}   (trust it in the client for the control cases)\n"
        f"  each case waits up to {config.case_timeout:g} s; press Enter to end a case early.\n"
    )


def _case_banner(number: int, total: int, case: Case, host: str, port: int) -> str:
    style = "STARTTLS" if case.mode == "starttls" else "SSL/TLS (implicit)"
    return (f"[{number}/{total}] {case.id}: {case.title}\n"
            f"  {case.protocol.upper()} server {host}  port {port}  security {style}\n"
            f"  a secure client {case.secure}.")


def _on_enter(enter: asyncio.Event) -> None:
    sys.stdin.readline()
    enter.set()


async def _wait_interactive(server: _Server, active: _Active, config: ServeConfig) -> None:
    loop = asyncio.get_running_loop()
    enter = asyncio.Event()
    reading = False
    if sys.stdin is not None and sys.stdin.isatty():
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            loop.add_reader(sys.stdin.fileno(), _on_enter, enter)
            reading = True
    try:
        end = time.monotonic() + config.case_timeout
        while time.monotonic() < end and not enter.is_set():
            if active.records and not active.open and \
                    time.monotonic() - active.last_close >= config.quiet:
                return
            await asyncio.sleep(0.1)
    finally:
        if reading:
            loop.remove_reader(sys.stdin.fileno())


def run_serve(config: ServeConfig) -> ServeResult:
    """Play every case of ``config`` and judge the client (synchronous)."""
    if not config.cases:
        raise UsageError("no case selected")
    for template in (config.run, config.run_implicit):
        if template is not None:
            check_template(template)
    quiet = _QuietSSLEOF()
    logging.getLogger("asyncio").addFilter(quiet)
    try:
        return asyncio.run(_serve(config))
    finally:
        logging.getLogger("asyncio").removeFilter(quiet)


class _QuietSSLEOF(logging.Filter):
    """asyncio warns on every client that closes TLS first (a normal end here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received()" not in record.getMessage()


def select_protocols(text: str | None) -> tuple[Protocol, ...]:
    from .cases import PROTOCOLS

    if not text:
        return PROTOCOLS
    chosen: list[Protocol] = []
    for item in text.split(","):
        item = item.strip().lower()
        match = [p for p in PROTOCOLS if p == item]
        if not match:
            raise UsageError(f"--protocol: unknown protocol {item!r} (smtp, imap, pop3)")
        chosen.append(match[0])
    return tuple(dict.fromkeys(chosen))


def exit_code(result: ServeResult) -> int:
    from mailtls.model.exitcodes import FAILURES, UNKNOWN

    if result.count("vulnerable"):
        return FAILURES
    if result.count("inconclusive") or not result.results:
        return UNKNOWN
    return 0
