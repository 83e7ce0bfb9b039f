"""Loopback test servers: common options, :class:`RunningServer`, ``start_raw`` and ``stop_all``.

Every server of a process runs on ONE private asyncio loop in ONE background daemon thread
(started lazily by the first ``start_*`` call, stopped by :func:`stop_all`, restarted lazily
afterwards). ``start_*`` and ``RunningServer.stop`` are synchronous and thread-safe, so the
servers work from sync tests, from async tests running their own loop, from CLI tests and from
``mailtls demo``. Servers bind ``127.0.0.1`` (or ``::1``) only, on an OS-chosen port by default.

Do not call ``start_*``/``stop_all`` from code running on the servers' own loop (a ``start_raw``
handler): they block on that loop and raise ``RuntimeError`` there instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import binascii
import ipaddress
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, fields
from types import TracebackType
from typing import Any, Literal, TypedDict

from ._runtime import (
    LOOP,
    Connections,
    log,
    push_front,
    split_early,
    take_buffered,
    upgrade_stream,
)
from .pki import CertKind, TestPKI

__all__ = [
    "ALLOWED_HOSTS",
    "PASSWORD",
    "USERNAME",
    "IMAPKwargs",
    "IMAPOptions",
    "POP3Kwargs",
    "POP3Options",
    "RunningServer",
    "SMTPKwargs",
    "SMTPOptions",
    "ServerKwargs",
    "ServerOptions",
    "StreamHandler",
    "running_servers",
    "start_raw",
    "started_servers",
    "stop_all",
    "upgrade_to_tls",
]

#: The one account every test server accepts (SMTP AUTH, IMAP LOGIN/AUTHENTICATE, POP3 USER/AUTH).
USERNAME = "user"
PASSWORD = "secret-password"

#: The usual addresses of a test server; any other loopback address (127.0.0.0/8) works too.
ALLOWED_HOSTS = ("127.0.0.1", "::1")

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# Errors a peer can cause on a connection: ends it quietly (anything else is a server bug).
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ssl.SSLError, ConnectionError, TimeoutError
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    EOFError,
)


# -- options ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """Options common to ``start_smtp``/``start_imap``/``start_pop3`` (all keyword-only).

    host: "127.0.0.1" (default) or "::1" - nothing else is accepted.
    port: 0 (default) = OS-chosen.
    implicit_tls: TLS from the first byte (465/993/995 style); STARTTLS is then answered with
        an error, and not advertised unless ``starttls_advertised_after_tls``.
    cert: which leaf of the ``TestPKI`` the server presents (see ``mailtls.testing.pki``).
    minimum_version / maximum_version / ciphers: the server's TLS settings
        (``TestPKI.server_context``; below TLS 1.2 implies ``ALL:@SECLEVEL=0``).
    greeting: the banner's text after the status ("220 ", "* OK [CAPABILITY ...] ", "+OK ").
    starttls: advertise and support STARTTLS/STLS (ignored on implicit TLS).
    starttls_refused: STARTTLS advertised, but answered with an error (SMTP 454, IMAP NO,
        POP3 -ERR); the connection stays in plaintext.
    starttls_advertised_after_tls: still list STARTTLS/STLS inside TLS (a defect).
    inject_vulnerable: EXECUTE plaintext commands pipelined after STARTTLS inside the TLS
        session (CVE-2011-0411). A correct server (default) discards them.
    server_name: the name in banners and EHLO.
    name: label of the RunningServer (default: protocol name, e.g. "smtp" / "smtps").
    handshake_timeout: server-side TLS handshake timeout in seconds.
    """

    host: str = "127.0.0.1"
    port: int = 0
    implicit_tls: bool = False
    cert: CertKind = "good"
    minimum_version: ssl.TLSVersion | None = None
    maximum_version: ssl.TLSVersion | None = None
    ciphers: str | None = None
    greeting: str | None = None
    starttls: bool = True
    starttls_refused: bool = False
    starttls_advertised_after_tls: bool = False
    inject_vulnerable: bool = False
    server_name: str = "mail.example.test"
    name: str | None = None
    handshake_timeout: float = 10.0

    def __post_init__(self) -> None:
        check_host(self.host)

    def tls_context(self, pki: TestPKI) -> ssl.SSLContext:
        return pki.server_context(
            self.cert,
            minimum_version=self.minimum_version,
            maximum_version=self.maximum_version,
            ciphers=self.ciphers,
        )

    @property
    def starttls_available(self) -> bool:
        """STARTTLS is advertised in plaintext (whether or not it is then refused)."""
        return self.starttls and not self.implicit_tls


@dataclass(frozen=True, kw_only=True)
class SMTPOptions(ServerOptions):
    """``start_smtp`` options, in addition to :class:`ServerOptions`.

    auth: offer AUTH PLAIN LOGIN inside TLS (after STARTTLS / on implicit TLS) for
        USERNAME / PASSWORD. False: no AUTH at all (AUTH -> 502).
    auth_before_tls: AUTH advertised and accepted in plaintext too (else 538 before TLS).
    auth_advertised_before_tls: AUTH listed in the plaintext EHLO, but refused there with 538
        (the RFC 4954 "historical" configuration).
    require_starttls: everything except EHLO/NOOP/STARTTLS/QUIT -> 530 before TLS.
    auth_required: MAIL before a successful AUTH -> ``530 5.7.0 Authentication required``
        (an RFC 6409 §4.3 submission server, the default). False: anyone may start a mail
        transaction, as on an MX.
    keep_state_across_tls: the mail transaction (MAIL FROM) survives STARTTLS and a later EHLO
        (a defect: RFC 3207 §4.2 and RFC 5321 §4.1.4 both reset it).
    open_relay: accept any recipient from anyone (a defect). By default a recipient is
        accepted only for the server's own domains (``server_name`` and its parent domains,
        e.g. example.test) or the bare ``postmaster``, or after AUTH; else
        ``554 5.7.1 Relay access denied``.
    greylist: answer every RCPT with ``450 4.2.0`` (temporary failure, as greylisting does).
    """

    auth: bool = True
    auth_before_tls: bool = False
    auth_advertised_before_tls: bool = False
    require_starttls: bool = False
    auth_required: bool = True
    keep_state_across_tls: bool = False
    open_relay: bool = False
    greylist: bool = False


@dataclass(frozen=True, kw_only=True)
class IMAPOptions(ServerOptions):
    """``start_imap`` options, in addition to :class:`ServerOptions`.

    logindisabled: before TLS, advertise LOGINDISABLED and answer LOGIN with
        ``NO [PRIVACYREQUIRED]``; False: plaintext LOGIN is processed.
    hide_logindisabled: with ``logindisabled``, refuse LOGIN before TLS but do not advertise
        LOGINDISABLED (a defect: RFC 2595 §3.2 wants it advertised).
    auth_plain_before_tls: advertise (and process) AUTH=PLAIN / SASL-IR before TLS.
    preauth: greet with ``* PREAUTH`` (already authenticated: STARTTLS is then BAD).
    alert_greeting: greet with ``* OK [ALERT] <text>`` (an alert shown to users, sent in
        plaintext; the capabilities are then only in the CAPABILITY response).
    """

    logindisabled: bool = True
    hide_logindisabled: bool = False
    auth_plain_before_tls: bool = False
    preauth: bool = False
    alert_greeting: str | None = None


@dataclass(frozen=True, kw_only=True)
class POP3Options(ServerOptions):
    """``start_pop3`` options, in addition to :class:`ServerOptions`.

    user_before_tls: list USER in the plaintext CAPA and process USER/PASS before TLS
        (else both are answered ``-ERR [AUTH] ...``).
    sasl_plain_before_tls: list ``SASL PLAIN`` in the plaintext CAPA and process AUTH PLAIN.
    bare_sasl_before_tls: list ``SASL`` with no mechanism in the plaintext CAPA, as Dovecot
        does by default (``disable_plaintext_auth = yes``): it offers nothing.
    capa: support CAPA (False: CAPA -> -ERR, as very old servers do).
    """

    user_before_tls: bool = False
    sasl_plain_before_tls: bool = False
    bare_sasl_before_tls: bool = False
    capa: bool = True


class ServerKwargs(TypedDict, total=False):
    """Keyword form of :class:`ServerOptions` (for ``**options`` type checking)."""

    host: str
    port: int
    implicit_tls: bool
    cert: CertKind
    minimum_version: ssl.TLSVersion | None
    maximum_version: ssl.TLSVersion | None
    ciphers: str | None
    greeting: str | None
    starttls: bool
    starttls_refused: bool
    starttls_advertised_after_tls: bool
    inject_vulnerable: bool
    server_name: str
    name: str | None
    handshake_timeout: float


class SMTPKwargs(ServerKwargs, total=False):
    auth: bool
    auth_before_tls: bool
    auth_advertised_before_tls: bool
    require_starttls: bool
    auth_required: bool
    keep_state_across_tls: bool
    open_relay: bool
    greylist: bool


class IMAPKwargs(ServerKwargs, total=False):
    logindisabled: bool
    hide_logindisabled: bool
    auth_plain_before_tls: bool
    preauth: bool
    alert_greeting: str | None


class POP3Kwargs(ServerKwargs, total=False):
    user_before_tls: bool
    sasl_plain_before_tls: bool
    bare_sasl_before_tls: bool
    capa: bool


def option_names(options_type: type[ServerOptions]) -> frozenset[str]:
    return frozenset(f.name for f in fields(options_type))


def check_host(host: str) -> None:
    """Loopback only: 127.0.0.0/8 (several test hosts on one machine) or ::1."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"test servers bind only loopback addresses (127.0.0.0/8, ::1), "
                         f"not {host!r}")


# -- running servers ---------------------------------------------------------------------------

_registry_lock = threading.Lock()
_registry: dict[int, RunningServer] = {}
_history: list[RunningServer] = []  # every server started in this process, stopped or not
_background: set[asyncio.Task[None]] = set()


@dataclass(eq=False)
class RunningServer:
    """A listening test server. ``stop()`` (or leaving ``with``) closes it and its connections."""

    host: str
    port: int
    name: str
    protocol: Literal["smtp", "imap", "pop3", "raw"] = "raw"
    implicit_tls: bool = False
    #: Every credential line (IMAP LOGIN/AUTHENTICATE, POP3 USER/PASS/AUTH, SMTP AUTH, and
    #: SASL continuation lines) the server received OUTSIDE TLS, verbatim without CRLF (IMAP:
    #: without the tag). Appended from the server thread; read it after the client is done.
    plaintext_credentials: list[str] = field(default_factory=list)
    #: Every credential line received at all, inside TLS or not (same form as above): a test
    #: that a client sent nothing, not even under TLS, reads this.
    credentials: list[str] = field(default_factory=list)
    _closer: Callable[[], Coroutine[Any, Any, None]] | None = field(
        default=None, init=False, repr=False
    )
    _stopped: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def record_plaintext_credential(self, text: str) -> None:
        with self._lock:
            self.plaintext_credentials.append(text)

    def record_credential(self, text: str, *, tls: bool) -> None:
        """Record a credential line received inside TLS (``tls``) or outside it."""
        with self._lock:
            self.credentials.append(text)
            if not tls:
                self.plaintext_credentials.append(text)

    def stop(self) -> None:
        """Close the listener and every open client connection. Idempotent, thread-safe."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            closer, self._closer = self._closer, None
        with _registry_lock:
            _registry.pop(id(self), None)
        if closer is None:
            return
        if LOOP.in_loop_thread():  # from a handler: cannot block on our own loop
            task = asyncio.get_running_loop().create_task(closer())
            _background.add(task)
            task.add_done_callback(_background.discard)
        else:
            LOOP.run(closer())

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Listener:
    """What a server implementation gives ``launch``: start on the loop, close on the loop."""

    async def start(self, host: str, port: int) -> int:  # returns the bound port
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


def launch(
    listener: Listener,
    running: RunningServer,
) -> RunningServer:
    """Start ``listener`` on the background loop for ``running`` (whose port is 0 until then)."""
    check_host(running.host)
    running.port = LOOP.run(listener.start(running.host, running.port))
    running._closer = listener.aclose
    with _registry_lock:
        _registry[id(running)] = running
        _history.append(running)
    return running


def running_servers() -> list[RunningServer]:
    """The servers started and not yet stopped in this process."""
    with _registry_lock:
        return list(_registry.values())


def started_servers() -> list[RunningServer]:
    """Every server started in this process, stopped ones included (for credential audits)."""
    with _registry_lock:
        return list(_history)


def stop_all() -> None:
    """Stop every running test server of this process, then the background loop thread."""
    with _registry_lock:
        servers = list(_registry.values())
    for server in servers:
        try:
            server.stop()
        except Exception:  # keep stopping the others
            log.warning("stopping %s failed", server.name, exc_info=True)
    LOOP.shutdown()


atexit.register(stop_all)


# -- asyncio-streams servers (IMAP, POP3, raw) -------------------------------------------------


class StreamListener(Listener):
    """A plaintext listener whose connections run ``handler``; optional implicit TLS first."""

    def __init__(
        self,
        handler: StreamHandler,
        *,
        implicit_ctx: ssl.SSLContext | None,
        handshake_timeout: float,
        label: str,
    ) -> None:
        self._handler = handler
        self._implicit_ctx = implicit_ctx
        self._handshake_timeout = handshake_timeout
        self._label = label
        self._conns = Connections()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._on_client, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._conns.close_all()
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add_task(asyncio.current_task())
        self._conns.add_transport(writer.transport)
        try:
            if self._implicit_ctx is not None:
                # a ClientHello may already sit in the reader: it belongs to TLS
                early = take_buffered(reader)
                await upgrade_stream(
                    reader,
                    writer,
                    self._implicit_ctx,
                    early=early,
                    handshake_timeout=self._handshake_timeout,
                )
            await self._handler(reader, writer)
        except asyncio.CancelledError:
            pass  # stop(): end quietly (3.11's client_connected_cb callback dislikes cancelled)
        except EXPECTED_ERRORS:
            pass
        except Exception as exc:
            LOOP.errors.append(f"{self._label} handler: {exc!r}")
            log.warning("%s: connection handler failed", self._label, exc_info=True)
        finally:
            writer.close()


def start_raw(
    handler: StreamHandler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    name: str = "raw",
    host: str = "127.0.0.1",
    port: int = 0,
    handshake_timeout: float = 10.0,
) -> RunningServer:
    """Serve each connection with ``handler(reader, writer)`` on the background loop.

    For scripted and hostile servers. With ``ssl_context`` the server does implicit TLS first
    (the handler then talks inside TLS). The writer is closed after the handler returns;
    ``stop()`` cancels running handlers. Peer-caused errors (OSError, IncompleteReadError, ...)
    in the handler end the connection quietly. Use ``upgrade_to_tls`` for STARTTLS-like
    switches inside a handler.
    """
    running = RunningServer(host=host, port=port, name=name, implicit_tls=ssl_context is not None)
    listener = StreamListener(
        handler, implicit_ctx=ssl_context, handshake_timeout=handshake_timeout, label=name
    )
    return launch(listener, running)


async def upgrade_to_tls(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ctx: ssl.SSLContext,
    *,
    handshake_timeout: float = 10.0,
) -> bytes:
    """Server-side STARTTLS for a ``start_raw`` handler, after it sent the go-ahead.

    Plaintext bytes the client sent after the command are removed and returned (a correct
    server ignores them); a pipelined ClientHello is fed into TLS. Raises on handshake failure.
    """
    plain, tls_bytes = split_early(take_buffered(reader))
    await upgrade_stream(reader, writer, ctx, early=tls_bytes, handshake_timeout=handshake_timeout)
    return plain


def start_line_server(
    pki: TestPKI,
    opts: ServerOptions,
    session_type: type[LineSession],
    protocol: Literal["imap", "pop3"],
) -> RunningServer:
    """Start an IMAP or POP3 server whose connections ``session_type`` handles."""
    tls_ctx = opts.tls_context(pki)
    running = RunningServer(
        host=opts.host,
        port=opts.port,
        name=opts.name or (f"{protocol}s" if opts.implicit_tls else protocol),
        protocol=protocol,
        implicit_tls=opts.implicit_tls,
    )

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = session_type(reader, writer, options=opts, running=running, tls_ctx=tls_ctx)
        await session.run()

    listener = StreamListener(
        handler,
        implicit_ctx=tls_ctx if opts.implicit_tls else None,
        handshake_timeout=opts.handshake_timeout,
        label=running.name,
    )
    return launch(listener, running)


class LineSession:
    """Base of the IMAP and POP3 connection handlers: CRLF lines and the STARTTLS switch."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        options: ServerOptions,
        running: RunningServer,
        tls_ctx: ssl.SSLContext,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.options = options
        self.running = running
        self.tls_ctx = tls_ctx
        self.tls = options.implicit_tls  # implicit TLS is done before the handler runs

    async def run(self) -> None:
        """The whole dialogue of one connection (the protocol's subclass)."""
        raise NotImplementedError

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(line + "\r\n" for line in lines).encode("utf-8"))
        await self.writer.drain()

    async def recv(self) -> str | None:
        """One line without CRLF; None at EOF. Raises LineTooLong (the line is consumed)."""
        try:
            raw = await self.reader.readline()
        except ValueError as exc:  # limit overrun: readline() already dropped the data
            raise LineTooLong from exc
        if not raw.endswith(b"\n"):
            return None
        return raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")

    def credential(self, text: str) -> None:
        self.running.record_credential(text, tls=self.tls)

    async def start_tls(self) -> None:
        """After the go-ahead was sent: switch to TLS (see ``_runtime`` for the buffer rules)."""
        plain, tls_bytes = split_early(take_buffered(self.reader))
        await upgrade_stream(
            self.reader,
            self.writer,
            self.tls_ctx,
            early=tls_bytes,
            handshake_timeout=self.options.handshake_timeout,
        )
        self.tls = True
        if self.options.inject_vulnerable:
            push_front(self.reader, plain)  # the CVE-2011-0411 defect: run them inside TLS


class LineTooLong(Exception):
    pass


def check_credentials(user: str | bytes, password: str | bytes) -> bool:
    if isinstance(user, bytes):
        user = user.decode("utf-8", "replace")
    if isinstance(password, bytes):
        password = password.decode("utf-8", "replace")
    return user == USERNAME and password == PASSWORD


def decode_sasl_plain(payload: str) -> tuple[str, str] | None:
    """(authcid, password) from a base64 SASL PLAIN response, or None if malformed."""
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    parts = raw.split(b"\x00")
    if len(parts) != 3:
        return None
    return parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace")
