"""A small IMAP4rev1 test server on asyncio streams (STARTTLS, LOGINDISABLED, PREAUTH, ...).

Commands: CAPABILITY, NOOP, STARTTLS, LOGIN, AUTHENTICATE PLAIN (SASL-IR or continuation),
LOGOUT; anything else is ``BAD``. Capabilities:

* plaintext: ``IMAP4rev1`` + ``STARTTLS`` (option ``starttls``) + ``LOGINDISABLED`` (option
  ``logindisabled``, unless ``hide_logindisabled``) + ``SASL-IR AUTH=PLAIN`` (option
  ``auth_plain_before_tls``);
* inside TLS: ``IMAP4rev1 SASL-IR AUTH=PLAIN`` (+ ``STARTTLS`` with
  ``starttls_advertised_after_tls``).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Unpack

from .pki import TestPKI
from .servers import (
    IMAPKwargs,
    IMAPOptions,
    LineSession,
    LineTooLong,
    RunningServer,
    check_credentials,
    decode_sasl_plain,
    start_line_server,
)

__all__ = ["start_imap"]

_PRIVACY = "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections"


def parse_astrings(text: str) -> list[str] | None:
    """Atoms and quoted strings separated by spaces; None for literals or bad quoting."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == " ":
            i += 1
        elif ch == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                return None
            i += 1
            out.append("".join(chars))
        elif ch == "{":
            return None  # literals are not supported by this test server
        else:
            end = text.find(" ", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
    return out


class _IMAPSession(LineSession):
    options: IMAPOptions

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        options: IMAPOptions,
        running: RunningServer,
        tls_ctx: ssl.SSLContext,
    ) -> None:
        super().__init__(reader, writer, options=options, running=running, tls_ctx=tls_ctx)
        self.authenticated = options.preauth

    def capabilities(self) -> str:
        o = self.options
        caps = ["IMAP4rev1"]
        if self.tls:
            if o.starttls_advertised_after_tls:
                caps.append("STARTTLS")
            caps += ["SASL-IR", "AUTH=PLAIN"]
        else:
            if o.starttls_available:
                caps.append("STARTTLS")
            if o.logindisabled and not o.hide_logindisabled:
                caps.append("LOGINDISABLED")
            if o.auth_plain_before_tls:
                caps += ["SASL-IR", "AUTH=PLAIN"]
        return " ".join(caps)

    async def run(self) -> None:
        o = self.options
        status = "PREAUTH" if o.preauth else "OK"
        text = o.greeting
        if text is None:
            text = f"{o.server_name} IMAP4rev1 test server ready"
        if o.alert_greeting is not None:
            await self.send(f"* {status} [ALERT] {o.alert_greeting}")
        else:
            await self.send(f"* {status} [CAPABILITY {self.capabilities()}] {text}")
        while True:
            try:
                line = await self.recv()
            except LineTooLong:
                await self.send("* BAD Command line too long")
                continue
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            if not tag or tag in ("*", "+") or not rest:
                await self.send("* BAD Missing tag or command")
                continue
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "LOGOUT":
                await self.send(f"* BYE {o.server_name} logging out", f"{tag} OK LOGOUT completed")
                return
            handler = getattr(self, f"cmd_{command}", None) if command.isalpha() else None
            if handler is None:
                await self.send(f"{tag} BAD Unknown command")
            else:
                await handler(tag, args)

    async def cmd_CAPABILITY(self, tag: str, args: str) -> None:
        await self.send(f"* CAPABILITY {self.capabilities()}", f"{tag} OK CAPABILITY completed")

    async def cmd_NOOP(self, tag: str, args: str) -> None:
        await self.send(f"{tag} OK NOOP completed")

    async def cmd_STARTTLS(self, tag: str, args: str) -> None:
        o = self.options
        if self.tls:
            await self.send(f"{tag} BAD TLS is already active")
        elif not o.starttls_available:
            await self.send(f"{tag} BAD Unknown command")
        elif self.authenticated:
            await self.send(f"{tag} BAD STARTTLS not permitted in authenticated state")
        elif o.starttls_refused:
            await self.send(f"{tag} NO [UNAVAILABLE] TLS is not available right now")
        else:
            await self.send(f"{tag} OK Begin TLS negotiation now")
            await self.start_tls()

    async def cmd_LOGIN(self, tag: str, args: str) -> None:
        self.credential(f"LOGIN {args}")
        if self.authenticated:
            await self.send(f"{tag} BAD Already authenticated")
            return
        if not self.tls and self.options.logindisabled:
            await self.send(f"{tag} {_PRIVACY}")
            return
        parts = parse_astrings(args)
        if parts is None or len(parts) != 2:
            await self.send(f"{tag} BAD Invalid arguments")
            return
        await self._login_result(tag, check_credentials(parts[0], parts[1]))

    async def cmd_AUTHENTICATE(self, tag: str, args: str) -> None:
        mechanism, _, initial = args.partition(" ")
        if initial:
            self.credential(f"AUTHENTICATE {args}")
        if self.authenticated:
            await self.send(f"{tag} BAD Already authenticated")
            return
        if not mechanism:
            await self.send(f"{tag} BAD Missing mechanism")
            return
        if mechanism.upper() != "PLAIN":
            await self.send(f"{tag} NO Unsupported authentication mechanism")
            return
        if not self.tls and not self.options.auth_plain_before_tls:
            await self.send(f"{tag} {_PRIVACY}")
            return
        if not initial:
            await self.send("+ ")
            response = await self.recv()
            if response is None:
                return
            self.credential(response)
            if response.strip() == "*":
                await self.send(f"{tag} BAD AUTHENTICATE cancelled")
                return
            initial = response
        decoded = decode_sasl_plain("" if initial == "=" else initial)
        if decoded is None:
            await self.send(f"{tag} BAD Invalid SASL PLAIN response")
            return
        await self._login_result(tag, check_credentials(*decoded))

    async def _login_result(self, tag: str, ok: bool) -> None:
        if ok:
            self.authenticated = True
            await self.send(f"{tag} OK [CAPABILITY {self.capabilities()}] Logged in")
        else:
            await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")


def start_imap(pki: TestPKI, **options: Unpack[IMAPKwargs]) -> RunningServer:
    """Start an IMAP test server; see :class:`~mailtls.testing.servers.IMAPOptions`."""
    return start_line_server(pki, IMAPOptions(**options), _IMAPSession, "imap")
