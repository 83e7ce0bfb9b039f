"""A small POP3 test server on asyncio streams (CAPA, STLS, USER/PASS, AUTH PLAIN).

Commands: CAPA, STLS, USER, PASS, AUTH, NOOP, QUIT; anything else is ``-ERR``. CAPA lists
``TOP UIDL RESP-CODES AUTH-RESP-CODE PIPELINING IMPLEMENTATION`` plus, in plaintext, ``STLS``
(option ``starttls``), ``USER`` (``user_before_tls``), ``SASL PLAIN``
(``sasl_plain_before_tls``) or a bare ``SASL`` (``bare_sasl_before_tls``); inside TLS ``USER``
and ``SASL PLAIN`` (+ ``STLS`` with ``starttls_advertised_after_tls``).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Unpack

from .pki import TestPKI
from .servers import (
    LineSession,
    LineTooLong,
    POP3Kwargs,
    POP3Options,
    RunningServer,
    check_credentials,
    decode_sasl_plain,
    start_line_server,
)

__all__ = ["start_pop3"]

_PLAINTEXT_REFUSED = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections"


class _POP3Session(LineSession):
    options: POP3Options

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        options: POP3Options,
        running: RunningServer,
        tls_ctx: ssl.SSLContext,
    ) -> None:
        super().__init__(reader, writer, options=options, running=running, tls_ctx=tls_ctx)
        self.user: str | None = None
        self.authenticated = False

    @property
    def user_allowed(self) -> bool:
        return self.tls or self.options.user_before_tls

    @property
    def sasl_allowed(self) -> bool:
        return self.tls or self.options.sasl_plain_before_tls

    def capabilities(self) -> list[str]:
        o = self.options
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if o.starttls_advertised_after_tls if self.tls else o.starttls_available:
            caps.append("STLS")
        if self.user_allowed:
            caps.append("USER")
        if self.sasl_allowed:
            caps.append("SASL PLAIN")
        elif o.bare_sasl_before_tls:
            caps.append("SASL")  # Dovecot before STLS: the keyword, no mechanism
        caps.append("IMPLEMENTATION mailtls-test")
        return caps

    async def run(self) -> None:
        o = self.options
        text = o.greeting if o.greeting is not None else f"{o.server_name} POP3 test server ready"
        await self.send(f"+OK {text}")
        while True:
            try:
                line = await self.recv()
            except LineTooLong:
                await self.send("-ERR Command line too long")
                continue
            if line is None:
                return
            command, _, args = line.partition(" ")
            command = command.upper()
            if command == "QUIT":
                await self.send(f"+OK {o.server_name} signing off")
                return
            handler = getattr(self, f"cmd_{command}", None) if command.isalpha() else None
            if handler is None:
                await self.send("-ERR Unknown command")
            else:
                await handler(args)

    async def cmd_CAPA(self, args: str) -> None:
        if not self.options.capa:
            await self.send("-ERR Unknown command")
            return
        await self.send("+OK Capability list follows", *self.capabilities(), ".")

    async def cmd_NOOP(self, args: str) -> None:
        await self.send("+OK")

    async def cmd_STLS(self, args: str) -> None:
        o = self.options
        if self.tls:
            await self.send("-ERR Command not permitted when TLS active")
        elif not o.starttls_available:
            await self.send("-ERR Unknown command")
        elif self.authenticated:
            await self.send("-ERR Command not permitted in TRANSACTION state")
        elif o.starttls_refused:
            await self.send("-ERR [SYS/TEMP] TLS is not available right now")
        else:
            await self.send("+OK Begin TLS negotiation")
            await self.start_tls()

    async def cmd_USER(self, args: str) -> None:
        self.credential(f"USER {args}")
        if self.authenticated:
            await self.send("-ERR Already authenticated")
        elif not self.user_allowed:
            await self.send(_PLAINTEXT_REFUSED)
        elif not args:
            await self.send("-ERR Missing user name")
        else:
            self.user = args
            await self.send("+OK")

    async def cmd_PASS(self, args: str) -> None:
        self.credential(f"PASS {args}")
        if self.authenticated:
            await self.send("-ERR Already authenticated")
        elif not self.user_allowed:
            await self.send(_PLAINTEXT_REFUSED)
        elif self.user is None:
            await self.send("-ERR No user name given")
        else:
            await self._login_result(check_credentials(self.user, args))

    async def cmd_AUTH(self, args: str) -> None:
        mechanism, _, initial = args.partition(" ")
        if initial:
            self.credential(f"AUTH {args}")
        if not mechanism:
            await self.send("+OK", *(["PLAIN"] if self.sasl_allowed else []), ".")
            return
        if self.authenticated:
            await self.send("-ERR Already authenticated")
            return
        if mechanism.upper() != "PLAIN":
            await self.send("-ERR Unsupported authentication mechanism")
            return
        if not self.sasl_allowed:
            await self.send(_PLAINTEXT_REFUSED)
            return
        if not initial:
            await self.send("+ ")
            response = await self.recv()
            if response is None:
                return
            self.credential(response)
            if response.strip() == "*":
                await self.send("-ERR Authentication cancelled")
                return
            initial = response
        decoded = decode_sasl_plain("" if initial == "=" else initial)
        if decoded is None:
            await self.send("-ERR Invalid SASL PLAIN response")
            return
        await self._login_result(check_credentials(*decoded))

    async def _login_result(self, ok: bool) -> None:
        if ok:
            self.authenticated = True
            await self.send("+OK Logged in")
        else:
            self.user = None
            await self.send("-ERR [AUTH] Authentication failed")


def start_pop3(pki: TestPKI, **options: Unpack[POP3Kwargs]) -> RunningServer:
    """Start a POP3 test server; see :class:`~mailtls.testing.servers.POP3Options`."""
    return start_line_server(pki, POP3Options(**options), _POP3Session, "pop3")
