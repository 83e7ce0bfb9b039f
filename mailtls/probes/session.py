"""Drive the sans-I/O dialogues over a ``Stream`` and record every line of the conversation.

A ``Recorder`` is the mutable notebook of one probe: filled step by step, so that when the scan
deadline cancels a probe half-way, what it saw so far still reaches the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from mailtls.errors import ProtocolError, ReadTimeout, SessionRejected
from mailtls.model import (
    Direction,
    Endpoint,
    LoginAttempt,
    PortObservation,
    PortState,
    SecurityProbe,
    StopKind,
    TLSScan,
    TLSSession,
    TranscriptLine,
)
from mailtls.model.options import DEFAULT_EHLO
from mailtls.net.stream import Stream
from mailtls.proto.imap import (
    IMAPDialogue,
    IMAPEvent,
    IMAPTagged,
    IMAPUntagged,
    capabilities_from,
    parse_greeting,
)
from mailtls.proto.lines import decode_line
from mailtls.proto.pop3 import POP3Dialogue, POP3Event, POP3MultiLine, POP3Status, parse_capa
from mailtls.proto.smtp import SMTPDialogue, SMTPReply, parse_ehlo

if TYPE_CHECKING:  # imported with their adapters (mailtls.probes.portadapters), when planned
    from mailtls.proto.ftp import FTPDialogue
    from mailtls.proto.http import HTTPDialogue
    from mailtls.proto.ldap import LDAPDialogue
    from mailtls.proto.nntp import NNTPDialogue

# A transcript is evidence, not a capture: cap it so an endless reply cannot fill memory.
MAX_TRANSCRIPT_LINES = 400
EHLO_NAME = DEFAULT_EHLO  # model/options.py owns the default
REDACTED = "***"  # what a transcript shows in place of a secret


@dataclass
class Recorder:
    """Mutable twin of ``PortObservation``; ``freeze()`` turns it into the immutable record."""

    endpoint: Endpoint
    state: PortState = PortState.NOT_TESTED
    error: str | None = None
    error_kind: StopKind | None = None
    greeting: tuple[str, ...] = ()
    greeting_ok: bool | None = None
    capabilities_before: tuple[str, ...] | None = None
    capabilities_reply: tuple[str, ...] = ()
    starttls_offered: bool | None = None
    starttls_reply: tuple[str, ...] = ()
    starttls_accepted: bool | None = None
    data_after_go_ahead: bytes = b""
    tls: TLSSession | None = None
    tls_error: str | None = None
    capabilities_after: tuple[str, ...] | None = None
    capabilities_after_reply: tuple[str, ...] = ()
    plaintext_on_implicit: tuple[str, ...] = ()
    tls_on_starttls_port: bool = False
    preauth: bool = False
    tls_scan: TLSScan | None = None
    security: list[SecurityProbe] = field(default_factory=list)
    login: LoginAttempt | None = None
    transcript: list[TranscriptLine] = field(default_factory=list)
    connections: int = 0
    started: float = field(default_factory=time.monotonic)  # reset when the probe really starts
    finished: float | None = None  # set when the last probe of the endpoint is done
    in_tls: bool = False
    dropped_lines: int = 0
    # Secrets (a password and the encodings of it that are sent) that must never be recorded:
    # every transcript line is scrubbed of them, whoever wrote it (the login test sets this).
    redact: tuple[str, ...] = field(default=(), repr=False)
    # the name this probe's SMTP sessions greet with (--ehlo; RFC 5321 §4.1.1.1)
    ehlo: str = EHLO_NAME

    def note(self, direction: Direction, text: str, at: float | None = None) -> None:
        """Record one line; ``at`` (monotonic) when it arrived earlier than now."""
        for secret in self.redact:
            if secret:
                text = text.replace(secret, REDACTED)
        if len(self.transcript) >= MAX_TRANSCRIPT_LINES:
            self.dropped_lines += 1
            return
        when = time.monotonic() if at is None else at
        self.transcript.append(
            TranscriptLine(direction, text, self.in_tls, round(when - self.started, 3))
        )

    def fail(self, kind: StopKind, message: str) -> None:
        if self.error is None:
            self.error, self.error_kind = message, kind
        self.note(Direction.NOTE, message)

    def freeze(self) -> PortObservation:
        transcript = list(self.transcript)
        if self.dropped_lines:
            transcript.append(
                TranscriptLine(
                    Direction.NOTE, f"... {self.dropped_lines} more lines not kept", self.in_tls, 0
                )
            )
        values = {
            f.name: getattr(self, f.name)
            for f in fields(PortObservation)
            if f.name not in ("transcript", "seconds", "security")
        }
        values["transcript"] = tuple(transcript)
        values["security"] = tuple(self.security)
        end = self.finished if self.finished is not None else time.monotonic()
        values["seconds"] = round(end - self.started, 3)
        return PortObservation(**values)


D = TypeVar(
    "D", SMTPDialogue, IMAPDialogue, POP3Dialogue,
    # the other ports (mailtls.probes.portadapters)
    "FTPDialogue", "NNTPDialogue", "HTTPDialogue", "LDAPDialogue",
)
E = TypeVar("E")


def expect_event(event: object, kind: type[E], what: str) -> E:
    """``event`` if it is a ``kind``; else the server answered out of turn: a ProtocolError
    (never an assert: server input must not vanish under ``python -O``)."""
    if not isinstance(event, kind):
        raise ProtocolError(f"expected {what}, the server's answer was {type(event).__name__}")
    return event


class Conversation(Generic[D]):
    """A stream, a dialogue and the recorder: send lines, wait for events."""

    def __init__(self, stream: Stream, dialogue: D, recorder: Recorder) -> None:
        self.stream = stream
        self.dialogue: D = dialogue
        self.recorder = recorder
        self._events: list[object] = []
        self._partial_since: float | None = None  # arrival of an unfinished reply's first bytes
        self._asked_at: float | None = None  # when the last command went out (None: not yet)

    async def send(self, data: bytes, shown: str | None = None) -> None:
        self.recorder.note(Direction.CLIENT, shown if shown is not None else _shown(data))
        await self.write(data)

    async def write(self, data: bytes) -> None:
        """Send without a transcript line (the caller noted it); the answer's time starts now."""
        await self.stream.write(data)
        self._asked_at = time.monotonic()

    async def next_event(self, timeout: float | None = None) -> object:
        """The next complete reply. ``timeout`` (default: the read timeout) bounds the whole
        answer to the last command sent, not the gap between bytes nor each event: a server
        that drips its greeting one byte a second, or answers with untagged lines that never
        end, is as unusable as a silent one. (The stream's ``ReceiveBudget`` bounds the bytes,
        the lines and the turn's deadline; the dialogue bounds each line and reply.)"""
        limit = self.stream.timeouts.read if timeout is None else timeout
        if self._asked_at is None:  # the greeting: its time starts when we begin to wait
            self._asked_at = time.monotonic()
        deadline = self._asked_at + limit
        while not self._events:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise ReadTimeout("")
                data = await self.stream.read(remaining)
            except ReadTimeout as exc:
                # What was really waited: the turn's deadline may have cut the read timeout.
                waited = f"{time.monotonic() - self._asked_at:.1f} s"
                turn = " (the probe's turn ended)" if "scan deadline" in str(exc) else ""
                partial = self.dialogue.pending()
                if not partial:
                    raise ReadTimeout(f"no reply from the server within {waited}{turn}") from None
                self.recorder.note(Direction.SERVER, decode_line(partial[:200]) + " [incomplete]",
                                   at=self._partial_since)
                raise ReadTimeout(
                    f"the reply did not complete within {waited}{turn} "
                    f"({len(partial)} byte(s) received)"
                ) from None
            now = time.monotonic()
            # A reply's lines are stamped with the arrival of its first bytes, not of its end:
            # a "220-" sent at once and completed 6 s later (postscreen) must show as such.
            first_at = self._partial_since if self._partial_since is not None else now
            try:
                events = list(self.dialogue.receive_data(data))
            except ProtocolError:
                self.recorder.note(Direction.SERVER, decode_line(data[:200]), at=first_at)
                raise
            for index, event in enumerate(events):
                for line in _raw_lines(event):
                    self.recorder.note(Direction.SERVER, line, at=first_at if index == 0 else now)
            if not self.dialogue.pending():
                self._partial_since = None
            else:  # an unfinished reply: began in this chunk, or still the one from before
                self._partial_since = now if events else first_at
            self._events.extend(events)
        return self._events.pop(0)

    def take_leftovers(self) -> bytes:
        """Everything received but not yet consumed, in plaintext: to be reported and dropped."""
        left = b"".join(_raw_bytes(e) for e in self._events)
        self._events.clear()
        unparsed: bytes = self.dialogue.discard_pending()
        return left + unparsed + self.stream.take_unread()


def _shown(data: bytes) -> str:
    return decode_line(data.rstrip(b"\r\n"))


def _raw_lines(event: object) -> tuple[str, ...]:
    raw = getattr(event, "raw", ())
    if isinstance(raw, str):
        return (raw,)
    if isinstance(event, POP3MultiLine):
        return (event.status.raw, *event.raw, ".")
    return tuple(raw)


def _raw_bytes(event: object) -> bytes:
    return "".join(line + "\r\n" for line in _raw_lines(event)).encode("utf-8", "replace")


# --- protocol adapters: the few verbs a probe needs, per protocol ---------------------------------


class MailAdapter(Protocol):
    """What every protocol adapter offers. Code that needs no more takes a MailAdapter and
    never branches on the protocol; ``Adapter`` (the union) is for protocol-specific dialogue."""

    starttls_word: str
    preauth: bool  # IMAP greeted with PREAUTH (always False elsewhere)
    greeting_caps: frozenset[str] | None  # IMAP CAPABILITY in the greeting (None elsewhere)

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]: ...

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]: ...

    def offers_starttls(self, caps: tuple[str, ...]) -> bool: ...

    async def starttls(self) -> tuple[bool, tuple[str, ...]]: ...

    async def quit(self) -> None: ...


class SMTPAdapter:
    starttls_word = "STARTTLS"
    preauth = False
    greeting_caps: frozenset[str] | None = None

    def __init__(self, conv: Conversation[SMTPDialogue]) -> None:
        self.conv = conv

    async def reply(self, timeout: float | None = None) -> SMTPReply:
        return expect_event(await self.conv.next_event(timeout), SMTPReply, "an SMTP reply")

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        reply = await self.reply(timeout)
        return reply.raw, reply.code == 220

    async def command(self, verb: str, argument: str | None = None) -> SMTPReply:
        await self.conv.send(self.conv.dialogue.send_command(verb, argument))
        return await self.reply()

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        reply = await self.command("EHLO", self.conv.recorder.ehlo)
        if 400 <= reply.code < 500:
            # 421 and friends: the server sends us away (rate limit, overload), it does not
            # answer the question; "no STARTTLS" would be a false verdict.
            raise SessionRejected(f"EHLO answered {reply.raw[0] if reply.raw else reply.code}")
        if reply.code != 250:
            return None, reply.raw
        info = parse_ehlo(reply)
        caps = tuple(" ".join((k, *v)) for k, v in info.keywords.items())
        return caps, reply.raw

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        return any(c.split()[0].upper() == "STARTTLS" for c in caps if c.split())

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        reply = await self.command("STARTTLS")
        return reply.code == 220, reply.raw

    async def quit(self) -> None:
        await self.conv.send(self.conv.dialogue.send_command("QUIT"))
        await self.reply()


class IMAPAdapter:
    starttls_word = "STARTTLS"

    def __init__(self, conv: Conversation[IMAPDialogue]) -> None:
        self.conv = conv
        self.greeting_caps: frozenset[str] | None = None
        self.preauth = False

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        event = await self.conv.next_event(timeout)
        greeting = parse_greeting(event)  # type: ignore[arg-type]
        self.greeting_caps = greeting.capabilities
        self.preauth = greeting.status == "PREAUTH"
        return (getattr(event, "raw", ""),), greeting.status in ("OK", "PREAUTH")

    async def tagged(self, command: str) -> tuple[IMAPTagged, list[IMAPEvent]]:
        tag, data = self.conv.dialogue.send_command(command)
        await self.conv.send(data)
        seen: list[IMAPEvent] = []
        while True:
            event = await self.conv.next_event()
            if not (isinstance(event, IMAPUntagged | IMAPTagged) or hasattr(event, "text")):
                raise ProtocolError(f"expected an IMAP response, the server's answer was "
                                    f"{type(event).__name__}")
            seen.append(event)  # type: ignore[arg-type]
            if isinstance(event, IMAPTagged) and event.tag == tag:
                return event, seen
            if isinstance(event, IMAPUntagged) and event.text.upper().startswith("BYE"):
                # The server is going away; the tagged answer may never come.
                continue

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        done, seen = await self.tagged("CAPABILITY")
        raw = tuple(getattr(e, "raw", "") for e in seen)
        caps = capabilities_from(seen)
        if done.status != "OK" or caps is None:
            return None, raw
        return tuple(sorted(caps)), raw

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        return "STARTTLS" in {c.upper() for c in caps}

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        done, seen = await self.tagged("STARTTLS")
        return done.status == "OK", tuple(getattr(e, "raw", "") for e in seen)

    async def quit(self) -> None:
        await self.tagged("LOGOUT")


class POP3Adapter:
    starttls_word = "STLS"
    preauth = False
    greeting_caps: frozenset[str] | None = None

    def __init__(self, conv: Conversation[POP3Dialogue]) -> None:
        self.conv = conv

    async def status(self) -> POP3Event:
        event = await self.conv.next_event()
        if not isinstance(event, POP3Status | POP3MultiLine):
            raise ProtocolError(f"expected a POP3 status, the server's answer was "
                                f"{type(event).__name__}")
        return event

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        event = expect_event(await self.conv.next_event(timeout), POP3Status, "a POP3 greeting")
        return (event.raw,), event.ok

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        await self.conv.send(self.conv.dialogue.send_command("CAPA", multiline=True))
        event = await self.status()
        if isinstance(event, POP3MultiLine):
            caps = parse_capa(event)
            return tuple(" ".join((k, *v)) for k, v in caps.items()), (
                event.status.raw,
                *event.raw,
                ".",
            )
        return None, (event.raw,)

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        return any(c.split()[0].upper() == "STLS" for c in caps if c.split())

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        await self.conv.send(self.conv.dialogue.send_command("STLS"))
        event = expect_event(await self.status(), POP3Status, "a POP3 status line")
        return event.ok, (event.raw,)

    async def quit(self) -> None:
        await self.conv.send(self.conv.dialogue.send_command("QUIT"))
        await self.status()


Adapter = SMTPAdapter | IMAPAdapter | POP3Adapter
