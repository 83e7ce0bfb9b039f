"""The base of the hostile session servers: lines with limits, the transcript, TLS switches.

One :class:`Session` serves one connection of one case. It runs on the serve loop and writes
what the client does into a :class:`~mailtls.serve.record.ConnectionRecord`; the protocol
subclasses (``smtp``, ``imap``, ``pop3`` in this package) play the case's behaviour.

Buffered bytes and the TLS switch follow ``mailtls.testing._runtime`` (python/cpython#142352):
after a go-ahead, plaintext the client sent behind its STARTTLS is taken out and discarded, a
pipelined ClientHello goes to TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from mailtls.testing._runtime import push_front, split_early, take_buffered, upgrade_stream
from mailtls.testing.pki import CertKind, TestPKI

from .cases import Case
from .record import ConnectionRecord, Secrets, b64_text, sasl_plain_password

#: Longest command line a session accepts (RFC 5321 §4.5.3.1.4 allows 512; IMAP more).
LINE_LIMIT = 16384
_TLS_RECORD = 0x16


@dataclass(frozen=True)
class ServeContext:
    """What every session of a run shares."""

    pki: TestPKI
    secrets: Secrets
    server_name: str = "mail.example.test"
    idle_timeout: float = 30.0  # silence from the client ends the connection
    handshake_timeout: float = 10.0
    injection_hold: float = 2.0  # how long the first answer inside TLS is held back

    def tls_context(self, case: Case) -> ssl.SSLContext:
        cert: CertKind = case.cert  # type: ignore[assignment]
        if case.tls10_only:
            return self.pki.server_context(cert, minimum_version=ssl.TLSVersion.TLSv1,
                                           maximum_version=ssl.TLSVersion.TLSv1)
        return self.pki.server_context(cert)


class ClientGone(Exception):
    """The client closed, went silent or sent an over-long line: end the session."""


class Session:
    """One connection of one case (subclass per protocol: ``greet`` and ``handle``)."""

    protocol = ""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        case: Case,
        record: ConnectionRecord,
        ctx: ServeContext,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.case = case
        self.rec = record
        self.ctx = ctx
        self.tls = False
        self.pending: list[str] = []
        self.watch_injection = False

    # -- the case ---------------------------------------------------------------------------

    @property
    def auth_offered(self) -> bool:
        return self.case.auth_after_tls if self.tls else self.case.auth_before_tls

    @property
    def starttls_offered(self) -> bool:
        return not self.tls and self.case.mode == "starttls" and self.case.starttls_offered

    async def run(self) -> None:
        """Play the case on this connection until the client leaves (or goes silent)."""
        try:
            if self.case.mode == "implicit":
                if self.case.plaintext_on_implicit:
                    await self.greet()
                    if await self._client_starts_tls():
                        self.rec.tls_attempted = True
                        self.event("the client started a TLS handshake (answered with nothing)")
                        self.rec.closed_by = "server"
                        return
                else:
                    self.rec.tls_attempted = True
                    if not await self._handshake(take_buffered(self.reader)):
                        return
                    await self.greet()
            else:
                await self.greet()
            while True:
                line = await self.recv()
                if self.watch_injection:
                    self.watch_injection = False
                    await self._watch_injection()
                if not await self.handle(line):
                    self.rec.closed_by = self.rec.closed_by or "server"
                    return
        except ClientGone:
            return

    async def greet(self) -> None:
        raise NotImplementedError

    async def handle(self, line: str) -> bool:
        """Answer one command line; False ends the session."""
        raise NotImplementedError

    def injection(self, go_ahead_tag: str) -> list[str]:
        """The forged answer sent behind the go-ahead (a complete answer to the next command)."""
        raise NotImplementedError

    # -- lines ------------------------------------------------------------------------------

    def event(self, text: str) -> None:
        self.rec.log("-", text, tls=self.tls)

    async def send(self, *lines: str, log: bool = True) -> None:
        if log:
            for line in lines:
                self.rec.log("S", line, tls=self.tls)
        self.writer.write("".join(line + "\r\n" for line in lines).encode("utf-8"))
        try:
            await self.writer.drain()
        except (OSError, ConnectionError) as exc:
            raise ClientGone from exc

    async def recv(self, *, log: bool = True, timeout: float | None = None) -> str:
        """One line without CRLF (logged as it came unless ``log`` is False)."""
        if self.pending:
            line = self.pending.pop(0)
        else:
            read = await self._read_line(self.ctx.idle_timeout if timeout is None else timeout)
            assert read is not None  # only None with silence_ok
            line = read
        if log:
            self.rec.log("C", self.ctx.secrets.scrub(self.redact(line)), tls=self.tls)
        return line

    def redact(self, line: str) -> str:
        """The form of a command line that goes into the transcript (credentials masked)."""
        return line

    async def _read_line(self, timeout: float, *, silence_ok: bool = False) -> str | None:
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), timeout)
        except TimeoutError as exc:
            if silence_ok:
                return None
            self.rec.closed_by = "timeout"
            self.event(f"the client was silent for {timeout:g} s: closing")
            raise ClientGone from exc
        except asyncio.IncompleteReadError as exc:
            self.rec.closed_by = "client"
            if exc.partial:
                self.rec.log("C", exc.partial.decode("utf-8", "replace")[:80] + " (no CRLF)",
                             tls=self.tls)
            self.event("the client closed the connection")
            raise ClientGone from exc
        except asyncio.LimitOverrunError as exc:
            self.rec.closed_by = "server"
            self.event("line too long: closing")
            raise ClientGone from exc
        except (OSError, ConnectionError) as exc:
            self.rec.closed_by = "client"
            self.event(f"connection error: {exc}")
            raise ClientGone from exc
        return raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")

    async def read_bytes(self, n: int) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.readexactly(n), self.ctx.idle_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, OSError) as exc:
            self.rec.closed_by = "client"
            raise ClientGone from exc

    def credential(self, mechanism: str, password: str | bytes | None) -> None:
        seen = self.ctx.secrets.seen(mechanism, password, tls=self.tls)
        self.rec.credentials.append(seen)
        where = "inside TLS" if self.tls else "IN PLAINTEXT"
        self.event(f"credentials received {where} ({mechanism}, hash {seen.hash_prefix or '-'})")

    def check_password(self, user: str | bytes | None, password: str | bytes | None) -> bool:
        if isinstance(user, bytes):
            user = user.decode("utf-8", "replace")
        if isinstance(password, bytes):
            password = password.decode("utf-8", "replace")
        ok = user == self.ctx.secrets.user and password == self.ctx.secrets.password
        if ok:
            self.rec.authenticated = True
            self.rec.authenticated_tls = self.tls
        return ok

    async def sasl(self, args: str, *, label: str, go_on: str, cancelled: str,
                   unsupported: str) -> bool | None:
        """One SASL exchange, PLAIN (RFC 4616) or LOGIN, the same in SMTP, IMAP and POP3.

        ``args`` is the mechanism and an optional initial response; ``label`` names the
        credentials ("AUTH", "AUTHENTICATE"), ``go_on`` is the protocol's continuation ("334 ",
        "+ ") and ``cancelled``/``unsupported`` its answers to a ``*`` (RFC 4954 §4, RFC 5034
        §4, RFC 9051 §6.2.2) and to another mechanism. Returns whether the credentials were the
        run's, or None when the exchange was already answered (cancelled or unsupported).
        """
        mechanism, _, initial = args.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            if not initial:
                initial = await self._sasl_answer(go_on, "***")
            if initial.strip() == "*":
                await self.send(cancelled)
                return None
            password = sasl_plain_password(initial)
            self.credential(f"{label} PLAIN", password)
            raw = b64_text(initial)
            parts = raw.split(b"\x00") if raw else []
            return self.check_password(parts[1] if len(parts) == 3 else None, password)
        if mechanism == "LOGIN":
            if not initial:  # "Username:"
                initial = await self._sasl_answer(go_on + "VXNlcm5hbWU6", "*** (user name)")
            answer = await self._sasl_answer(go_on + "UGFzc3dvcmQ6", "***")  # "Password:"
            if answer.strip() == "*":
                await self.send(cancelled)
                return None
            password = b64_text(answer)
            self.credential(f"{label} LOGIN", password)
            return self.check_password(b64_text(initial), password)
        await self.send(unsupported)
        return None

    async def _sasl_answer(self, challenge: str, shown: str) -> str:
        """The client's answer to a SASL challenge; the transcript shows ``shown`` instead."""
        await self.send(challenge)
        answer = await self.recv(log=False)
        self.rec.log("C", shown, tls=self.tls)
        return answer

    # -- TLS --------------------------------------------------------------------------------

    async def starttls(self, go_ahead: str) -> bool:
        """Answer the client's STARTTLS as the case says; True if TLS is now up."""
        self.rec.starttls_requested = True
        reply = self.case.starttls_reply
        if reply == "close":
            await self.send(go_ahead)
            self.event("closing right after the go-ahead (the case)")
            self.rec.closed_by = "server"
            return False
        if reply == "inject":
            forged = self.injection(go_ahead)
            self.rec.log("S", go_ahead, tls=False)
            for line in forged:
                self.rec.log("S", line + "    <- injected before TLS", tls=False)
            await self.send(go_ahead, *forged, log=False)  # one write: one segment
            self.watch_injection = True
        else:
            await self.send(go_ahead)
        self.rec.tls_attempted = True
        plain, tls_bytes = split_early(take_buffered(self.reader))
        if plain:
            self.event(f"{len(plain)} bytes the client sent behind STARTTLS discarded")
        return await self._handshake(tls_bytes)

    async def _handshake(self, early: bytes) -> bool:
        try:
            await upgrade_stream(self.reader, self.writer, self.ctx.tls_context(self.case),
                                 early=early, handshake_timeout=self.ctx.handshake_timeout)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            self.rec.tls_error = reason[:200]
            self.rec.closed_by = "client"
            self.event(f"TLS handshake failed: {self.rec.tls_error}")
            self.watch_injection = False
            return False
        self.tls = True
        ssl_object = self.writer.get_extra_info("ssl_object")
        version = ssl_object.version() if ssl_object is not None else None
        self.rec.tls_version = version
        self.event(f"TLS handshake done: {version}, certificate {self.case.cert}")
        return True

    async def _client_starts_tls(self) -> bool:
        """On an implicit-TLS port that greeted in plaintext: does the client send TLS?"""
        try:
            first = await asyncio.wait_for(self.reader.readexactly(1), self.ctx.idle_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, OSError) as exc:
            self.rec.closed_by = "client"
            self.event("the client sent nothing and left")
            raise ClientGone from exc
        if first[0] == _TLS_RECORD:
            return True
        push_front(self.reader, first)
        return False

    async def _watch_injection(self) -> None:
        """The first command inside TLS came: does a second come before it is answered?

        A client that took the injected answer as the answer to that command goes on at once;
        a correct one waits (the server holds its answer back for ``injection_hold`` seconds).
        """
        if self.reader.at_eof():
            return
        line = await self._read_line(self.ctx.injection_hold, silence_ok=True)
        if line is None:  # silence is the correct behaviour here
            self.rec.injection_acted = False
            self.event(f"no further command for {self.ctx.injection_hold:g} s: "
                       "the injected answer was not used")
            return
        self.rec.injection_acted = True
        self.event("a second command arrived before the first was answered: the client "
                   "acted on the injected answer")
        self.pending.append(line)


def redact_auth(line: str) -> str:
    """An ``AUTH mechanism [initial-response]`` line (SMTP, POP3) with the response masked."""
    verb, _, args = line.partition(" ")
    if verb.upper() == "AUTH":
        return f"{verb} {args.split(' ', 1)[0]}{' ***' if ' ' in args else ''}"
    return line
