"""SMTP test server: aiosmtpd 1.4.6 on the shared background loop.

``_SMTPController`` subclasses aiosmtpd's ``UnthreadedController`` and runs on the loop of
``mailtls.testing`` (no thread of its own; aio-libs/aiosmtpd#276 does not apply because no
trigger connection is made - the port is read from the listening socket). ``_TestSMTP``
subclasses ``aiosmtpd.smtp.SMTP`` for what the options need:

* EHLO is built here: STARTTLS (plaintext, or inside TLS with
  ``starttls_advertised_after_tls``), ``AUTH PLAIN LOGIN`` inside TLS or with
  ``auth_before_tls``;
* STARTTLS is replaced: bytes buffered after the command are split into plaintext (discarded, or
  replayed inside TLS with ``inject_vulnerable``) and a pipelined ClientHello (fed into TLS) -
  aiosmtpd would leave the latter in its StreamReader and hang (python/cpython#142352);
* implicit TLS is done by this class too (not by the listener), so the raw connection is tracked
  and ``stop()`` can close connections that are still in the handshake;
* AUTH failures use ``AuthResult(handled=False)`` (535, not silence); AUTH before TLS is refused
  with 538 unless ``auth_before_tls``; ``require_starttls`` gives 530;
* MAIL needs AUTH first (``auth_required``, the default); recipients outside the server's own
  domains are refused unless authenticated (or ``open_relay``); ``keep_state_across_tls`` keeps
  the envelope through STARTTLS and EHLO;
* every AUTH payload and SASL continuation line is recorded in ``RunningServer.credentials``
  and, when received outside TLS, in ``RunningServer.plaintext_credentials``, even when the
  command is then refused.
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import logging
import ssl
from base64 import b64decode, b64encode
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr, Unpack

from aiosmtpd.controller import UnthreadedController
from aiosmtpd.smtp import (
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
    syntax,
)

from ._runtime import (
    LOOP,
    Connections,
    attach_tls,
    new_server_tls,
    push_front,
    split_early,
    take_buffered,
)
from .pki import TestPKI
from .servers import (
    Listener,
    RunningServer,
    SMTPKwargs,
    SMTPOptions,
    check_credentials,
    launch,
)

__all__ = ["start_smtp"]

# aiosmtpd logs every session at INFO/WARNING on "mail.log"; keep it off stderr unless the
# application configured logging itself.
logging.getLogger("mail.log").addHandler(logging.NullHandler())

_ALLOWED_BEFORE_STARTTLS = frozenset({"NOOP", "EHLO", "STARTTLS", "QUIT"})
_IDENT = "ESMTP mailtls test server"


class _QuietSession(Session):
    """aiosmtpd's Session logs a deprecation WARNING on every login_data access."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


def is_local_recipient(address: str, server_name: str) -> bool:
    """The bare ``postmaster`` (RFC 5321 §4.5.1), or an address in ``server_name`` or one of its
    parent domains (not the top-level domain)."""
    if address.lower() == "postmaster":
        return True
    _local, at, domain = address.rpartition("@")
    if not at:
        return False
    domain = domain.lower().rstrip(".")
    name = server_name.lower().rstrip(".")
    return "." in domain and (domain == name or name.endswith("." + domain))


class _Handler:
    """aiosmtpd handler: relay policy on RCPT, messages dropped (like aiosmtpd's Sink)."""

    def __init__(self, options: SMTPOptions) -> None:
        self._opts = options

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        o = self._opts
        if o.greylist:
            return "450 4.2.0 Greylisted, please try again later"
        if o.open_relay or session.authenticated or is_local_recipient(address, o.server_name):
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        return f"554 5.7.1 <{address}>: Relay access denied"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and check_credentials(
        auth_data.login, auth_data.password
    )
    # handled=False: aiosmtpd then answers 535 itself (handled=True would send nothing)
    return AuthResult(success=ok, handled=False)


class _TestSMTP(SMTP):
    def __init__(
        self,
        handler: Any,
        *,
        options: SMTPOptions,
        running: RunningServer,
        conns: Connections,
        tls_ctx: ssl.SSLContext,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._opts = options
        self._running = running
        self._conns = conns
        self._ctx = tls_ctx
        self._implicit = options.implicit_tls
        self._raw_seen = False
        self._greeted = False
        methods: dict[str, Callable[[str | None], Awaitable[None]]] = self._smtp_methods
        self._smtp_methods = {cmd: self._gate(cmd, fn) for cmd, fn in methods.items()}

    @property
    def in_tls(self) -> bool:
        return self._implicit or self._tls_protocol is not None

    def _record(self, text: str) -> None:
        self._running.record_credential(text, tls=self.in_tls)

    def _gate(
        self, command: str, method: Callable[[str | None], Awaitable[None]]
    ) -> Callable[[str | None], Awaitable[None]]:
        @functools.wraps(method)
        async def gated(arg: str | None) -> None:
            if command == "AUTH" and arg and len(arg.split()) > 1:
                self._record(f"AUTH {arg}")
            if (
                self._opts.require_starttls
                and not self.in_tls
                and command not in _ALLOWED_BEFORE_STARTTLS
            ):
                await self.push("530 5.7.0 Must issue a STARTTLS command first")
                return
            if (
                command == "MAIL"
                and self._opts.auth_required
                and not (self.session is not None and self.session.authenticated)
            ):
                await self.push("530 5.7.0 Authentication required")
                return
            await method(arg)

        return gated

    # -- connection life cycle --------------------------------------------------------------

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._raw_seen:
            self._raw_seen = True
            self._conns.add_transport(transport)
            if self._implicit:
                # TLS from the first byte; aiosmtpd's own connection_made runs after the
                # handshake, with the TLS transport (waiter None: failures only close).
                assert isinstance(transport, asyncio.Transport)
                ssl_protocol = new_server_tls(
                    self,
                    self._ctx,
                    None,  # failures just close the connection
                    call_connection_made=True,
                    handshake_timeout=self._opts.handshake_timeout,
                )
                attach_tls(transport, ssl_protocol, b"")
                return
        super().connection_made(transport)
        if self._handler_coroutine is not None:
            self._conns.add_task(self._handler_coroutine)

    async def push(self, status: AnyStr) -> None:
        if not self._greeted:
            self._greeted = True  # the first push is the greeting
            if self._opts.greeting is not None:
                await super().push(f"220 {self._opts.greeting}")
                return
        await super().push(status)

    # -- commands ------------------------------------------------------------------------------

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str | None) -> None:
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        o = self._opts
        assert self.session is not None
        if not o.keep_state_across_tls:  # RFC 5321 §4.1.4: EHLO resets the transaction
            self._set_rset_state()  # type: ignore[no-untyped-call]
        self.session.extended_smtp = True
        self.session.host_name = hostname
        lines = [self.hostname]
        if self.data_size_limit:
            lines.append(f"SIZE {self.data_size_limit}")
            self.command_size_limits["MAIL"] += 26
        lines.append("8BITMIME")
        if self.enable_SMTPUTF8:
            lines.append("SMTPUTF8")
            self.command_size_limits["MAIL"] += 10
        if (not self.in_tls and o.starttls_available) or (
            self.in_tls and o.starttls_advertised_after_tls
        ):
            lines.append("STARTTLS")
        if o.auth and (self.in_tls or o.auth_before_tls or o.auth_advertised_before_tls):
            mechanisms = sorted(self._auth_methods, key=lambda m: (m != "PLAIN", m))
            lines.append("AUTH " + " ".join(mechanisms))  # "AUTH PLAIN LOGIN"
        lines.append("HELP")
        for line in lines[:-1]:
            await self.push(f"250-{line}")
        await self.push(f"250 {lines[-1]}")

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str | None) -> None:
        o = self._opts
        if arg:
            await self.push("501 Syntax: STARTTLS")
            return
        if self.in_tls:
            await self.push("554 5.5.1 Error: TLS already active")
            return
        if not o.starttls_available:
            await self.push("502 5.5.1 STARTTLS not supported")
            return
        if o.starttls_refused:
            await self.push("454 4.7.0 TLS not available due to temporary reason")
            return
        await self.push("220 2.0.0 Ready to start TLS")
        kept: Envelope | None = self.envelope
        plain, tls_bytes = split_early(take_buffered(self._reader))
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._tls_protocol = new_server_tls(
            self,
            self._ctx,
            waiter,
            call_connection_made=True,
            handshake_timeout=o.handshake_timeout,
        )
        raw = self.transport
        assert isinstance(raw, asyncio.Transport)
        self._original_transport = raw
        self.transport = self._tls_protocol._app_transport
        attach_tls(raw, self._tls_protocol, tls_bytes)
        try:
            await waiter
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise TLSSetupException() from error
        # connection_made() (run by the handshake) cleared the reader; a correct server drops
        # the plaintext that followed STARTTLS, a CVE-2011-0411 server executes it now.
        if o.inject_vulnerable:
            push_front(self._reader, plain)
        # ... and it also reset the envelope (RFC 3207 §4.2), unless told to keep it.
        if o.keep_state_across_tls and kept is not None:
            self.envelope = kept

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str | None) -> None:
        o = self._opts
        if not o.auth:
            await self.push("502 5.5.1 AUTH not supported")
            return
        if not self.in_tls and not o.auth_before_tls:
            await self.push("538 5.7.11 Encryption required for requested authentication mechanism")
            return
        await super().smtp_AUTH(arg)

    async def challenge_auth(
        self,
        challenge: str | bytes,
        encode_to_b64: bool = True,
        log_client_response: bool = False,
    ) -> Any:
        """aiosmtpd's challenge_auth, recording the client's answer when outside TLS."""
        data = challenge.encode() if isinstance(challenge, str) else challenge
        await self.push(b"334 " + (b64encode(data) if encode_to_b64 else data))
        line: bytes = await self._reader.readline()
        blob = line.strip()
        self._record(blob.decode("utf-8", "replace"))
        if blob == b"*":
            await self.push("501 5.7.0 Auth aborted")
            return MISSING
        try:
            return b64decode(blob, validate=True)
        except binascii.Error:
            await self.push("501 5.5.2 Can't decode base64")
            return MISSING


class _SMTPController(UnthreadedController, Listener):
    """aiosmtpd controller on the shared background loop."""

    def __init__(self, options: SMTPOptions, tls_ctx: ssl.SSLContext, running: RunningServer):
        loop = LOOP.get()
        super().__init__(
            _Handler(options),
            hostname=options.host,
            port=options.port,
            loop=loop,
            server_hostname=options.server_name,
            ident=_IDENT,
            tls_context=tls_ctx if options.starttls_available else None,
            require_starttls=False,  # enforced by _TestSMTP (it knows about implicit TLS)
            auth_require_tls=False,  # likewise (aiosmtpd#281: it would refuse AUTH on 465)
            authenticator=_authenticator,
            enable_SMTPUTF8=True,
        )
        self.SMTP_kwargs["loop"] = loop  # the SMTP protocol objects live on the shared loop
        self._options = options
        self._tls_ctx = tls_ctx
        self._running = running
        self._conns = Connections()

    def factory(self) -> _TestSMTP:
        return _TestSMTP(
            self.handler,
            options=self._options,
            running=self._running,
            conns=self._conns,
            tls_ctx=self._tls_ctx,
            **self.SMTP_kwargs,
        )

    def _factory_invoker(self) -> _TestSMTP:
        # aiosmtpd's version swallows factory errors into a silent fake server
        self.smtpd = self.factory()
        return self.smtpd

    async def start(self, host: str, port: int) -> int:
        self.hostname, self.port = host, port
        self.server_coro = self._create_server()
        server = await self.server_coro
        assert isinstance(server, asyncio.Server)
        self.server = server
        bound: int = server.sockets[0].getsockname()[1]
        self.port = bound
        return bound

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
        await self._conns.close_all()
        if self.server is not None:
            await self.finalize()  # type: ignore[no-untyped-call]


def start_smtp(pki: TestPKI, **options: Unpack[SMTPKwargs]) -> RunningServer:
    """Start an SMTP test server; see :class:`~mailtls.testing.servers.SMTPOptions`."""
    opts = SMTPOptions(**options)
    running = RunningServer(
        host=opts.host,
        port=opts.port,
        name=opts.name or ("smtps" if opts.implicit_tls else "smtp"),
        protocol="smtp",
        implicit_tls=opts.implicit_tls,
    )
    controller = _SMTPController(opts, opts.tls_context(pki), running)
    return launch(controller, running)
