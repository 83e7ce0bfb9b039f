"""The STARTTLS security probes: each opens its own connection(s), records everything it sent
and everything that came back, and gives a verdict on one fact (``SecurityProbe``).
``checks/security.py`` turns the verdicts into findings; nothing here judges severity.

===================== ================ ====================================================
probe                 services         passed / failed
===================== ================ ====================================================
command_injection     all STARTTLS     a command pipelined after STARTTLS (same write) is
                                       dropped / answered inside TLS (CVE-2011-0411)
starttls_enforced     submission       MAIL before STARTTLS refused (530) / accepted (250)
starttls_not_required smtp (MX)        MAIL before STARTTLS accepted / refused with 530
plaintext_login       imap, pop3       LOGIN / USER (made-up) refused before TLS / processed
plaintext_auth        all STARTTLS     AUTH PLAIN (no payload) refused before TLS / continued
state_reset           smtp, submission MAIL before STARTTLS is forgotten after it (503) /
                                       the transaction survives (RCPT 250)
capability_change     all STARTTLS     login offered only after TLS / before it (no new
                                       connection: read from the basic probe)
open_relay            smtp (MX), only  every recipient in a reserved domain refused / one
                      --relay-test     accepted
===================== ================ ====================================================

A probe that cannot run says ``not_testable`` (why: STARTTLS not offered, MAIL refused, ...); one
whose answer proves nothing either way says ``inconclusive``.

Safety (none of this is configurable):

* Credentials are made up per run (``mailtls-probe-<random>``), never the user's: there is no way
  to pass a real one in. POP3 ``PASS`` is never sent; SASL exchanges are started without an
  initial response and cancelled with ``*``, so not even the made-up password crosses the
  network there. IMAP ``LOGIN``/POP3 ``USER``/``AUTH`` are tried only when the server advertises
  them before TLS (a client would send them there); when it does not, the probe passes with
  ``detail="not_advertised"`` and no connection.
* Mail is never sent: no ``DATA``, ``RSET`` after every transaction, recipients only in the
  reserved ``.invalid`` TLD (RFC 2606) or the server's own ``postmaster`` (RFC 5321 §4.5.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from mailtls.errors import (
    ConnectionClosed,
    MailTLSError,
    ReadTimeout,
    TLSHandshakeError,
)
from mailtls.model import (
    Direction,
    Endpoint,
    PortState,
    ProbeVerdict,
    Protocol,
    SecurityProbe,
    TLSMode,
)
from mailtls.net.stream import Stream, client_context, open_stream
from mailtls.probes.mailport import ProbeOptions, mail_adapter_for, polite_quit, sni_for
from mailtls.probes.portadapters import PortAdapter
from mailtls.probes.session import (
    Adapter,
    IMAPAdapter,
    POP3Adapter,
    Recorder,
    SMTPAdapter,
)
from mailtls.proto.capabilities import cleartext_login_offers, keywords as _keywords, login_offers
from mailtls.proto.imap import IMAPContinuation, IMAPTagged
from mailtls.proto.lines import decode_line
from mailtls.proto.pop3 import POP3Status
from mailtls.proto.smtp import SMTPReply

MAX_LISTEN = 16384  # bytes of unprompted data worth keeping
MAX_EVIDENCE = 24

PROBE_SENDER = "mailtls-probe@example.invalid"  # RFC 2606: can never be delivered to
RELAY_DOMAIN = "relay-target.invalid"
RELAY_LOCAL_PART = "mailtls-relay-probe"
DUMMY_PREFIX = "mailtls-probe-"  # every made-up credential starts with this

_SMTP_LINE = re.compile(r"^(\d{3})([ -]|$)")
_TLS_WORDS = ("starttls", "tls", "ssl", "encrypt", "secur", "privacy", "cleartext", "plaintext")
_AUTH_WORDS = ("auth", "login", "credential")
_IMAP_PROCESSED_CODES = frozenset({"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED"})
_PLAINTEXT_MECHANISMS = ("PLAIN", "LOGIN")


def dummy_credentials() -> tuple[str, str]:
    """A made-up user name and password, obviously fake, new for every probe."""
    tag = secrets.token_hex(4)
    return f"{DUMMY_PREFIX}{tag}", f"{DUMMY_PREFIX}{tag}-not-a-password"


@dataclass(frozen=True)
class _Outcome:
    verdict: ProbeVerdict
    reason: str
    evidence: Sequence[str] = ()
    detail: str | None = None


class _Stop(Exception):
    """A verdict reached early (not an error)."""

    def __init__(self, outcome: _Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _passed(reason: str, evidence: Sequence[str] = (), detail: str | None = None) -> _Outcome:
    return _Outcome(ProbeVerdict.PASSED, reason, evidence, detail)


def _failed(reason: str, evidence: Sequence[str] = (), detail: str | None = None) -> _Outcome:
    return _Outcome(ProbeVerdict.FAILED, reason, evidence, detail)


def _untestable(reason: str, evidence: Sequence[str] = (), detail: str | None = None) -> _Outcome:
    return _Outcome(ProbeVerdict.NOT_TESTABLE, reason, evidence, detail)


def _inconclusive(
    reason: str, evidence: Sequence[str] = (), detail: str | None = None
) -> _Outcome:
    return _Outcome(ProbeVerdict.INCONCLUSIVE, reason, evidence, detail)


class _Session:
    """The connections of one probe and its own notebook (its transcript)."""

    def __init__(self, endpoint: Endpoint, options: ProbeOptions) -> None:
        self.endpoint = endpoint
        self.options = options
        self.notes = Recorder(endpoint, ehlo=options.ehlo)
        self._streams: list[Stream] = []
        self._context = client_context(verify=False)  # what is probed does not need trust

    def note(self, text: str) -> None:
        self.notes.note(Direction.NOTE, text)

    async def connect(self) -> Stream:
        self.notes.connections += 1
        self.notes.in_tls = False
        self.note(f"connecting to {self.endpoint.key}")
        stream = await open_stream(self.endpoint.address, self.endpoint.port,
                                   self.options.timeouts)
        self._streams.append(stream)
        return stream

    async def handshake(self, stream: Stream) -> None:
        sni = sni_for(self.endpoint.host)
        self.note(f"TLS handshake (SNI {sni or 'none'})")
        await stream.start_tls(self._context, sni)
        self.notes.in_tls = True
        obj = stream.ssl_object
        cipher = obj.cipher() if obj is not None else None
        self.note(f"TLS established: {obj.version() if obj else '?'} "
                  f"{cipher[0] if cipher else '?'}")

    def adapter(self, stream: Stream, *, resumed: bool = False) -> Adapter:
        return mail_adapter_for(stream, self.endpoint, self.notes, resumed=resumed)

    async def open(self) -> tuple[Stream, Adapter, tuple[str, ...] | None]:
        """Connect, read the greeting and the capabilities, as the basic probe did."""
        stream = await self.connect()
        adapter = self.adapter(stream)
        greeting, ok = await adapter.greeting()
        if not ok:
            raise _Stop(_inconclusive("the server refused this connection in its greeting "
                                      "(rate limiting?)", greeting))
        if adapter.preauth:
            raise _Stop(_untestable("the server greeted with PREAUTH", greeting))
        caps, _raw = await adapter.capabilities()
        if caps is None and adapter.greeting_caps:
            caps = tuple(sorted(adapter.greeting_caps))
        return stream, adapter, caps

    async def close(self) -> None:
        for stream in self._streams:
            await stream.close()
        self._streams.clear()


Body = Callable[[_Session, Recorder], Awaitable[_Outcome]]


# --- helpers -------------------------------------------------------------------------------------




def _has_words(text: str, words: Sequence[str]) -> bool:
    lower = text.lower()
    return any(w in lower for w in words)


def _imap_code(text: str) -> str | None:
    """The response code of "[CODE ...] text", upper-cased."""
    if not text.startswith("["):
        return None
    end = text.find("]")
    inner = text[1:end] if end > 0 else ""
    return inner.split(" ", 1)[0].upper() or None


async def _send_pipelined(adapter: Adapter | PortAdapter, parts: Sequence[bytes]) -> None:
    """Several command lines in ONE write (one TCP segment on any sane stack); the bound on
    the answer (``Conversation.next_event``) counts from this write."""
    for part in parts:
        adapter.conv.recorder.note(Direction.CLIENT, decode_line(part.rstrip(b"\r\n")))
    adapter.conv.recorder.note(Direction.NOTE, f"the {len(parts)} lines above went out in "
                                               "one write")
    await adapter.conv.write(b"".join(parts))


async def _listen(
    stream: Stream, notes: Recorder, wait: float, done: Callable[[list[str]], bool]
) -> tuple[list[str], bool]:
    """Lines the server sends within ``wait`` seconds without being asked; (lines, closed).
    Stops early once ``done(lines)``."""
    deadline = time.monotonic() + wait
    buffer = b""
    lines: list[str] = []
    closed = False
    received = 0
    while received < MAX_LISTEN:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            data = await stream.read(timeout=left)
        except ReadTimeout:
            break
        except ConnectionClosed:
            closed = True
            break
        received += len(data)
        buffer += data
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            line = decode_line(raw.rstrip(b"\r"))
            notes.note(Direction.SERVER, line)
            lines.append(line)
        if done(lines):
            break
    if buffer:
        line = decode_line(buffer[:512])
        notes.note(Direction.SERVER, line)
        lines.append(line)
    if closed:
        notes.note(Direction.NOTE, "the server closed the connection")
    return lines, closed


def _starttls_usable(rec: Recorder) -> _Outcome | None:
    """Why a probe that needs a working STARTTLS cannot run, or None."""
    word = "STLS" if rec.endpoint.service.protocol is Protocol.POP3 else "STARTTLS"
    if not rec.starttls_offered:
        return _untestable(f"{word} is not offered")
    if not rec.starttls_accepted:
        return _untestable(f"{word} was refused in the basic probe", rec.starttls_reply)
    if rec.tls is None:
        return _untestable(f"the TLS handshake after {word} failed in the basic probe: "
                           f"{rec.tls_error or 'no session'}")
    return None


async def _starttls(sess: _Session, stream: Stream, adapter: Adapter) -> Adapter:
    """STARTTLS, handshake, fresh dialogue (and EHLO for SMTP); _Stop if anything fails."""
    ok, reply = await adapter.starttls()
    if not ok:
        raise _Stop(_inconclusive("STARTTLS was refused on this connection", reply))
    leftovers = adapter.conv.take_leftovers()
    if leftovers:
        sess.note(f"{len(leftovers)} plaintext byte(s) after the go-ahead, discarded")
    try:
        await sess.handshake(stream)
    except TLSHandshakeError as exc:
        raise _Stop(_inconclusive(f"the TLS handshake failed on this connection: {exc}")) from None
    resumed = sess.adapter(stream, resumed=True)
    if isinstance(resumed, SMTPAdapter):
        caps, raw = await resumed.capabilities()
        if caps is None:
            raise _Stop(_inconclusive("EHLO was refused after the TLS handshake", raw))
    return resumed


# --- command injection (CVE-2011-0411; RFC 3207 §4.2, RFC 9051 §6.2.1, RFC 2595 §4) ---------------


@dataclass
class _Injection:
    """What was pipelined, and how to recognise its answer."""

    parts: list[bytes]
    what: str  # the injected command, for messages
    token: str
    starttls_tag: str | None = None  # IMAP

    def proof(self, protocol: Protocol, lines: list[str]) -> bool:
        """Do these unprompted lines answer the injected command?"""
        if protocol is Protocol.SMTP:
            codes = [m.group(1) for x in lines if (m := _SMTP_LINE.match(x))]
            return any(c == "250" or c.startswith("5") for c in codes) or any(
                self.token in x for x in lines
            )
        if protocol is Protocol.IMAP:
            return any(x.startswith(self.token + " ") for x in lines)
        return any(x.upper().startswith(("+OK", "-ERR")) for x in lines)


def _injection_for(adapter: Adapter) -> _Injection:
    token = secrets.token_hex(5)
    if isinstance(adapter, SMTPAdapter):
        d = adapter.conv.dialogue
        name = f"mailtls-{token}.invalid"
        return _Injection([d.send_command("STARTTLS"), d.send_command("EHLO", name)],
                          f"EHLO {name}", name)
    if isinstance(adapter, IMAPAdapter):
        d_imap = adapter.conv.dialogue
        tag_starttls, first = d_imap.send_command("STARTTLS")
        tag = f"M{token}"
        _, second = d_imap.send_command("NOOP", tag=tag)
        return _Injection([first, second], f"{tag} NOOP", tag, tag_starttls)
    d_pop = adapter.conv.dialogue
    return _Injection([d_pop.send_command("STLS"), d_pop.send_command("CAPA", multiline=True)],
                      "CAPA", "CAPA")


async def _go_ahead(adapter: Adapter, injection: _Injection) -> tuple[bool, bool, list[str]]:
    """Read only the answer to STARTTLS: (go-ahead, refused for good, its lines)."""
    if isinstance(adapter, SMTPAdapter):
        reply = await adapter.reply()
        return reply.code == 220, 500 <= reply.code < 600, list(reply.raw)
    if isinstance(adapter, IMAPAdapter):
        lines: list[str] = []
        while True:
            event = await adapter.conv.next_event()
            lines.append(getattr(event, "raw", ""))
            if isinstance(event, IMAPTagged) and event.tag == injection.starttls_tag:
                return event.status == "OK", event.status in ("NO", "BAD"), lines
    event = await adapter.status()
    if not isinstance(event, POP3Status):
        return False, False, [event.status.raw]
    return event.ok, not event.ok, [event.raw]


def _sentinel_for(protocol: Protocol) -> tuple[list[bytes], str, str]:
    """The sentinel pipelined inside TLS: (lines, the real command, the closing command).

    A real command and the session's end in ONE write. Servers answer in order (RFC 5321
    §4.1.1, RFC 2920 §3.1; RFC 1939 §3; IMAP by tag), so the end's answer (SMTP 221, IMAP's
    tagged LOGOUT, POP3's hang-up after QUIT) proves that every answer to what came before it
    has been sent: no silence needs to be waited out."""
    if protocol is Protocol.IMAP:
        return [b"A1 NOOP\r\n", b"A2 LOGOUT\r\n"], "A1 NOOP", "A2 LOGOUT"
    return [b"NOOP\r\n", b"QUIT\r\n"], "NOOP", "QUIT"


_SMTP_FINAL = re.compile(r"^(\d{3})( |$)")


def _smtp_replies(lines: Sequence[str]) -> list[list[str]]:
    """Complete SMTP replies (a final line "ddd " ends one); an unfinished one last."""
    replies: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        current.append(line)
        if _SMTP_FINAL.match(line):
            replies.append(current)
            current = []
    if current:
        replies.append(current)
    return replies


def _pop3_status(line: str) -> bool:
    return line.upper().startswith(("+OK", "-ERR"))


def _sentinel_done(protocol: Protocol, lines: list[str]) -> bool:
    """Has the closing command been answered? (POP3: its +OK is not told apart from the
    others' by its text, so the server's hang-up after QUIT ends the reading, or a third
    status line, which already decides the verdict.)"""
    if protocol is Protocol.SMTP:
        return any(_SMTP_FINAL.match(x) and x.startswith("221") for x in lines)
    if protocol is Protocol.IMAP:
        return any(x.startswith("A2 ") for x in lines)
    return sum(1 for x in lines if _pop3_status(x)) >= 3


@dataclass
class _Sorted:
    """The lines after the handshake, sorted by what they answer."""

    injected: list[str]  # answers to the pipelined (injected) command
    late: bool  # ... of which some came after the real command's answer (IMAP only)
    answer: list[str]  # the real command's answer
    other: list[str]  # lines nobody asked for, answering neither


def _sort_lines(protocol: Protocol, injection: _Injection, lines: list[str]) -> _Sorted:
    if protocol is Protocol.IMAP:
        injected = [x for x in lines if x.startswith(injection.token + " ")]
        answer_at = next((i for i, x in enumerate(lines) if x.startswith("A1 ")), None)
        answer = lines[: answer_at + 1] if answer_at is not None else []
        answer = [x for x in answer if x not in injected]
        late = answer_at is not None and any(
            x.startswith(injection.token + " ") for x in lines[answer_at + 1 :])
        other = [x for x in lines if x.split(" ", 1)[0] not in ("*", "A1", "A2", injection.token)
                 and x not in answer]
        return _Sorted(injected, late, answer, other)
    if protocol is Protocol.SMTP:
        replies = [r for r in _smtp_replies(lines) if not r[-1].startswith("221")]
        if not replies:
            return _Sorted([], False, [], [])
        *before, answer = replies
        if len(answer) > 1 or injection.token in " ".join(answer):
            # NOOP is answered in one line: a multi-line 250 is the EHLO we injected
            before, answer = [*before, answer], []
        earlier = [x for r in before for x in r]
        if earlier and not injection.proof(protocol, earlier):
            return _Sorted([], False, answer, earlier)
        return _Sorted(earlier, False, answer, [])
    # POP3: one status line answers NOOP, one QUIT; anything more answers the injected CAPA.
    statuses = [i for i, x in enumerate(lines) if _pop3_status(x)]
    cut: int | None = None
    if len(statuses) >= 3:
        cut = statuses[-2]
    elif "." in lines:  # only CAPA is answered in several lines
        dot = lines.index(".")
        cut = next((i for i in statuses if i > dot), len(lines))
    if cut is not None:
        return _Sorted(lines[:cut], False, lines[cut : cut + 1], [])
    if not statuses:
        return _Sorted([], False, [], list(lines))
    return _Sorted([], False, [lines[statuses[0]]],
                   [x for i, x in enumerate(lines) if i not in statuses])


async def _yield_to_arrivals() -> None:
    """Let bytes that have already arrived reach the stream's buffer (one loop pass reads every
    ready socket); this is not a wait: nothing that has not arrived yet is waited for."""
    for _ in range(2):
        await asyncio.sleep(0)


async def _after_go_ahead(sess: _Session,
                          adapter: Adapter | PortAdapter) -> tuple[bytes, list[str]]:
    """What the server wrote right behind its go-ahead, taken out before the handshake (rule 4):
    (its bytes if they begin a TLS record, else b""; the plaintext lines, noted and discarded).
    A plaintext answer to the pipelined command comes right behind the go-ahead; one written
    later fails the handshake (not run inside TLS either way)."""
    await _yield_to_arrivals()
    leftovers = adapter.conv.take_leftovers()
    if leftovers[:1] in (b"\x15", b"\x16"):
        return leftovers, []
    if leftovers:
        sess.note(f"{len(leftovers)} plaintext byte(s) after the go-ahead, discarded")
    return b"", [decode_line(x) for x in leftovers.splitlines() if x.strip()]


async def _send_sentinel(sess: _Session, stream: Stream, parts: Sequence[bytes], note: str,
                         evidence: Sequence[str],
                         done: Callable[[list[str]], bool]) -> tuple[list[str], bool]:
    """The sentinel inside TLS: ``parts`` (a real command and the goodbye) in one write, then
    the lines until ``done`` (``_listen``). Answers come in order, so an answer before the real
    command's one answers the pipelined command. A failed write stops the probe, inconclusive."""
    sess.note(note)
    for part in parts:
        sess.notes.note(Direction.CLIENT, decode_line(part.rstrip(b"\r\n")))
    try:
        await stream.write(b"".join(parts))
    except MailTLSError as exc:
        raise _Stop(_inconclusive(f"the sentinel could not be sent inside TLS: {exc}",
                                  evidence)) from None
    return await _listen(stream, sess.notes, sess.options.timeouts.read, done)


def _not_executed(what: str, word: str, real: str, evidence: Sequence[str],
                  answer: Sequence[str], heard: Sequence[str], closed: bool, plaintext: bool,
                  unanswered: str) -> _Outcome:
    """The verdict when nothing answered the pipelined ``what`` inside TLS: passed if the
    sentinel ``real`` was answered (or the server closed), ``unanswered`` (inconclusive) if
    neither."""
    if not answer:
        if closed and not heard:
            return _passed(f"the server closed the TLS session instead of running the "
                           f"pipelined {what}", evidence, "closed")
        return _inconclusive(unanswered, [*evidence, *heard])
    if plaintext:
        return _passed(f"not run inside TLS, but the server answered the pipelined {what} in "
                       "plaintext after its go-ahead", [*evidence, *answer], "plaintext_answer")
    return _passed(f"the {what} pipelined after {word} was discarded: the sentinel {real} was "
                   "answered first and alone", [*evidence, *answer], "discarded")


async def _command_injection(sess: _Session, rec: Recorder) -> _Outcome:
    blocked = _starttls_usable(rec)
    if blocked is not None:
        return blocked
    protocol = sess.endpoint.service.protocol
    word = "STLS" if protocol is Protocol.POP3 else "STARTTLS"
    stream, adapter, caps = await sess.open()
    # POP3 without CAPA cannot advertise STLS: the basic probe tried it anyway, so do we
    blind = caps is None and isinstance(adapter, POP3Adapter)
    if not blind and not adapter.offers_starttls(caps or ()):
        return _inconclusive(f"{word} was not offered on this connection")
    injection = _injection_for(adapter)
    await _send_pipelined(adapter, injection.parts)
    go, refused, reply = await _go_ahead(adapter, injection)
    if not go:
        if refused:
            return _passed(f"the server refused {word} when a command followed it in the same "
                           "packet (it accepted it alone)", reply, "starttls_refused")
        return _inconclusive(f"{word} was not accepted on this connection", reply)
    records, plaintext = await _after_go_ahead(sess, adapter)
    if records:
        sess.note(f"{len(records)} byte(s) of TLS records before our ClientHello")
        return _passed(f"the server took the {injection.what} pipelined after {word} as the "
                       "start of the TLS handshake and aborted it (RFC 9051 §6.2.1 allows "
                       "this): nothing ran", [*reply, f"TLS record(s) from the server: "
                                                     f"{records[:16].hex()}"],
                       "pipelined_as_tls")
    try:
        await sess.handshake(stream)
    except TLSHandshakeError as exc:
        return _passed(f"the TLS handshake failed after the pipelined {injection.what} ({exc}): "
                       "the server did not carry it into TLS (RFC 9051 §6.2.1 allows "
                       "treating it as TLS data)", reply, "handshake_failed")
    parts, real, end = _sentinel_for(protocol)
    evidence = [*reply, *plaintext]
    lines, closed = await _send_sentinel(
        sess, stream, parts, f"sentinel: {real} and {end} in one write; every answer before the "
        f"one to {end} answers what was sent before it, the pipelined {injection.what} included",
        evidence, lambda got: _sentinel_done(protocol, got))
    found = _sort_lines(protocol, injection, lines)
    if found.injected:
        late = " (late, after the answer to the next command)" if found.late else ""
        return _failed(f"the server answered the {injection.what} pipelined after {word} inside "
                       f"TLS{late}: it runs plaintext commands as if they had come through TLS "
                       "(CVE-2011-0411 class)", [*evidence, *found.injected, *found.answer],
                       "executed_late" if found.late else "executed")
    if found.other:
        return _inconclusive("the server sent something inside TLS that answers neither the "
                             f"pipelined {injection.what} nor the sentinel {real}",
                             [*evidence, *found.other, *found.answer])
    return _not_executed(injection.what, word, real, evidence, found.answer, lines, closed,
                         bool(plaintext), "nothing unprompted after the handshake, but no "
                         "answer to a real command either: cannot tell")


# --- SMTP: MAIL before STARTTLS (RFC 3207 §4) ---------------------------------------------------


def _mail_refusal(reply: SMTPReply) -> str:
    """accepted / temporary / tls_required / auth_required / ambiguous / other"""
    if 200 <= reply.code < 300:
        return "accepted"
    if 400 <= reply.code < 500:
        return "temporary"
    if _has_words(reply.text, _TLS_WORDS):
        return "tls_required"
    if _has_words(reply.text, _AUTH_WORDS):
        return "auth_required"
    return "ambiguous" if reply.code == 530 else "other"


async def _mail_before_tls(
    sess: _Session, rec: Recorder, *, with_recipient: bool = False
) -> tuple[str, SMTPReply, SMTPReply | None]:
    """MAIL FROM before STARTTLS; with ``with_recipient``, when MAIL is accepted, also one
    RCPT TO an undeliverable outside address (never DATA)."""
    if not rec.starttls_offered:
        raise _Stop(_untestable("STARTTLS is not offered, so it cannot be required"))
    _stream, adapter, caps = await sess.open()
    assert isinstance(adapter, SMTPAdapter)
    if caps is None:
        raise _Stop(_inconclusive("EHLO was refused"))
    reply = await adapter.command("MAIL", f"FROM:<{PROBE_SENDER}>")
    kind = _mail_refusal(reply)
    rcpt: SMTPReply | None = None
    if kind == "accepted":
        if with_recipient:
            rcpt = await adapter.command("RCPT", f"TO:<{RELAY_LOCAL_PART}@{RELAY_DOMAIN}>")
        await adapter.command("RSET")
    await polite_quit(adapter)
    return kind, reply, rcpt


async def _starttls_enforced(sess: _Session, rec: Recorder) -> _Outcome:
    """Submission: no mail may be submitted before STARTTLS.

    MAIL FROM alone is not submission: Postfix with smtpd_tls_security_level=may accepts it and
    then refuses every recipient. Only a recipient accepted in plaintext, without AUTH, is."""
    kind, reply, rcpt = await _mail_before_tls(sess, rec, with_recipient=True)
    evidence = list(reply.raw) + (list(rcpt.raw) if rcpt is not None else [])
    if kind == "accepted" and rcpt is not None and 200 <= rcpt.code < 300:
        return _failed("MAIL FROM and RCPT TO were accepted before STARTTLS, without AUTH: mail "
                       "can be submitted without TLS", evidence, "mail_accepted")
    if kind == "accepted" and rcpt is not None and rcpt.code >= 500:
        return _passed("MAIL FROM was accepted before STARTTLS but the recipient was refused: "
                       "nothing is submitted without TLS and AUTH", evidence,
                       "recipient_refused")
    if kind == "accepted":
        return _inconclusive("MAIL FROM was accepted before STARTTLS and the recipient got a "
                             "temporary answer", evidence)
    if kind == "tls_required":
        return _passed("MAIL FROM before STARTTLS was refused: TLS is required", evidence,
                       "tls_required")
    if kind in ("auth_required", "ambiguous"):
        return _passed("MAIL FROM before STARTTLS was refused until the client authenticates "
                       "(authentication before TLS is the plaintext_auth probe's)", evidence,
                       "auth_required" if kind == "auth_required" else "refused")
    if kind == "temporary":
        return _inconclusive("MAIL FROM before STARTTLS got a temporary error", evidence)
    return _inconclusive("MAIL FROM before STARTTLS was refused for a reason that does not "
                         "say whether TLS would help", evidence)


async def _starttls_not_required(sess: _Session, rec: Recorder) -> _Outcome:
    """MX (port 25): mail must be accepted without TLS (RFC 3207 §4)."""
    kind, reply, _rcpt = await _mail_before_tls(sess, rec)
    evidence = list(reply.raw)
    if kind == "accepted":
        return _passed("MAIL FROM was accepted without TLS, as a publicly referenced server "
                       "must", evidence, "mail_accepted")
    if kind == "tls_required":
        return _failed("MAIL FROM without TLS was refused: this MX requires STARTTLS", evidence,
                       "tls_required")
    if kind == "auth_required":
        return _passed("MAIL FROM was refused for want of authentication, not of TLS",
                       evidence, "auth_required")
    return _inconclusive("MAIL FROM without TLS was refused for a reason that does not say "
                         "whether TLS would help", evidence)


# --- plaintext logins ---------------------------------------------------------------------------


def _not_advertised(what: str, rec: Recorder) -> _Outcome:
    return _passed(f"{what} before TLS, so a client never sends it there; not tried",
                   rec.capabilities_reply, "not_advertised")


async def _plaintext_login(sess: _Session, rec: Recorder) -> _Outcome:
    """IMAP LOGIN / POP3 USER with made-up credentials, before TLS."""
    kw = _keywords(rec.capabilities_before)
    imap = sess.endpoint.service.protocol is Protocol.IMAP
    if imap and "LOGINDISABLED" in kw:
        return _not_advertised("LOGINDISABLED is advertised", rec)
    if not imap and rec.capabilities_before is not None and "USER" not in kw:
        return _not_advertised("USER is not listed in CAPA", rec)
    user, password = dummy_credentials()
    _stream, adapter, _caps = await sess.open()
    if isinstance(adapter, IMAPAdapter):
        sess.note("made-up credentials, never a real account")
        done, _seen = await adapter.tagged(f"LOGIN {user} {password}")
        await polite_quit(adapter)
        evidence = [done.raw]
        code = _imap_code(done.text)
        if done.status == "OK":
            return _failed("LOGIN with made-up credentials succeeded before TLS", evidence,
                           "login_accepted")
        refused = _passed("LOGIN before TLS was refused without looking at the credentials",
                          evidence, "refused")
        if code == "PRIVACYREQUIRED" or done.status == "BAD":
            return refused
        processed = code in _IMAP_PROCESSED_CODES
        if not processed and _has_words(done.text, _TLS_WORDS):
            return refused
        if processed or _has_words(
            done.text, ("invalid", "incorrect", "failed", "wrong", "unknown user")
        ):
            return _failed("LOGIN before TLS was processed: the server checked the "
                           "(made-up) credentials, so a real password would be accepted in "
                           "plaintext", evidence, "credentials_checked")
        return _inconclusive("LOGIN before TLS got a NO that does not say why", evidence)
    assert isinstance(adapter, POP3Adapter)
    await adapter.conv.send(adapter.conv.dialogue.send_command("USER", user))
    event = await adapter.status()
    status = event if isinstance(event, POP3Status) else event.status
    await polite_quit(adapter)  # PASS is never sent
    if status.ok:
        return _failed("USER was accepted before TLS: the next step would be the password, in "
                       "plaintext (PASS was not sent)", [status.raw], "user_accepted")
    return _passed("USER before TLS was refused", [status.raw], "refused")


async def _plaintext_auth(sess: _Session, rec: Recorder) -> _Outcome:  # noqa: C901 (a split is still to do: issue 15)
    """AUTH PLAIN/LOGIN before TLS, without an initial response; cancelled with "*"."""
    kw = _keywords(rec.capabilities_before)
    protocol = sess.endpoint.service.protocol
    if protocol is Protocol.SMTP:
        offered = kw.get("AUTH")
        if offered is None:
            return _not_advertised("AUTH is not advertised", rec)
    elif protocol is Protocol.IMAP:
        offered = tuple(k.split("=", 1)[1] for k in kw if k.startswith("AUTH="))
        if not offered:
            return _not_advertised("no AUTH= mechanism is advertised", rec)
    else:
        offered = kw.get("SASL")
        if offered is None:
            return _not_advertised("SASL is not listed in CAPA", rec)
    mechanism = next((m for m in _PLAINTEXT_MECHANISMS if m in offered), None)
    if mechanism is None:
        return _passed(f"only {' '.join(offered) or 'no'} mechanism(s) before TLS, none of "
                       "them sends a password in plaintext", rec.capabilities_reply,
                       "no_plaintext_mechanism")
    stream, adapter, _caps = await sess.open()
    sess.note("no credentials follow: the exchange is cancelled with '*'")
    evidence: list[str] = []
    if isinstance(adapter, SMTPAdapter):
        reply = await adapter.command("AUTH", mechanism)
        evidence = list(reply.raw)
        if reply.code == 334:
            await adapter.conv.send(b"*\r\n")  # cancel (RFC 4954 §4); not a verb to the dialogue
            with contextlib.suppress(MailTLSError):
                evidence += (await adapter.reply()).raw
            await polite_quit(adapter)
            return _failed(f"AUTH {mechanism} before TLS was answered with a 334 challenge: the "
                           "server would take a password in plaintext", evidence, "continued")
        await polite_quit(adapter)
        if 200 <= reply.code < 300:
            return _failed(f"AUTH {mechanism} before TLS succeeded without credentials",
                           evidence, "accepted")
        if 500 <= reply.code < 600:
            return _passed(f"AUTH {mechanism} before TLS was refused", evidence, "refused")
        return _inconclusive(f"AUTH {mechanism} before TLS got a temporary error", evidence)
    if isinstance(adapter, IMAPAdapter):
        tag, data = adapter.conv.dialogue.send_command("AUTHENTICATE", mechanism)
        await adapter.conv.send(data)
        evidence = []
        continued = False
        final: IMAPTagged | None = None
        try:
            while final is None:
                event = await adapter.conv.next_event()
                evidence.append(getattr(event, "raw", ""))
                if isinstance(event, IMAPContinuation) and not continued:
                    continued = True
                    await adapter.conv.send(b"*\r\n")
                elif isinstance(event, IMAPTagged) and event.tag == tag:
                    final = event
        except MailTLSError:
            if not continued:
                raise
        await polite_quit(adapter)
        if continued:
            return _failed(f"AUTHENTICATE {mechanism} before TLS was continued ('+'): the "
                           "server would take a password in plaintext", evidence, "continued")
        assert final is not None
        if final.status == "OK":
            return _failed(f"AUTHENTICATE {mechanism} before TLS succeeded without "
                           "credentials", evidence, "accepted")
        return _passed(f"AUTHENTICATE {mechanism} before TLS was refused", evidence, "refused")
    # POP3: the dialogue knows no SASL "+ " lines, so this exchange is read line by line.
    await adapter.conv.send(f"AUTH {mechanism}\r\n".encode())
    lines, _closed = await _listen(stream, sess.notes, sess.options.timeouts.read,
                                   lambda got: bool(got))
    if not lines:
        return _inconclusive(f"no answer to AUTH {mechanism}")
    first = lines[0]
    if first == "+" or first.startswith("+ "):
        await adapter.conv.send(b"*\r\n")
        more, _ = await _listen(stream, sess.notes, sess.options.timeouts.read,
                                lambda got: bool(got))
        await adapter.conv.send(b"QUIT\r\n")
        return _failed(f"AUTH {mechanism} before STLS was continued ('+'): the server would "
                       "take a password in plaintext", [first, *more], "continued")
    await adapter.conv.send(b"QUIT\r\n")
    if first.upper().startswith("+OK"):
        return _failed(f"AUTH {mechanism} before STLS succeeded without credentials", [first],
                       "accepted")
    return _passed(f"AUTH {mechanism} before STLS was refused", [first], "refused")


# --- SMTP: state across the upgrade (RFC 3207 §4.2) ---------------------------------------------


async def _state_reset(sess: _Session, rec: Recorder) -> _Outcome:
    blocked = _starttls_usable(rec)
    if blocked is not None:
        return blocked
    stream, adapter, caps = await sess.open()
    assert isinstance(adapter, SMTPAdapter)
    if caps is None:
        return _inconclusive("EHLO was refused")
    mail = await adapter.command("MAIL", f"FROM:<{PROBE_SENDER}>")
    if mail.code != 250:
        await polite_quit(adapter)
        return _untestable("MAIL FROM before STARTTLS was refused, so there is no transaction "
                           "to carry across it", mail.raw)
    ok, reply = await adapter.starttls()
    if not ok:
        await polite_quit(adapter)
        evidence = [*mail.raw, *reply]
        if reply and reply[-1][:1] == "5":
            return _passed("the server refuses STARTTLS inside a mail transaction", evidence,
                           "starttls_refused")
        return _inconclusive("STARTTLS after MAIL FROM was not accepted", evidence)
    leftovers = adapter.conv.take_leftovers()
    if leftovers:
        sess.note(f"{len(leftovers)} plaintext byte(s) after the go-ahead, discarded")
    try:
        await sess.handshake(stream)
    except TLSHandshakeError as exc:
        return _inconclusive(f"the TLS handshake failed on this connection: {exc}")
    resumed = sess.adapter(stream, resumed=True)
    assert isinstance(resumed, SMTPAdapter)
    caps_after, raw = await resumed.capabilities()
    if caps_after is None:
        return _inconclusive("EHLO after the handshake was refused", raw)
    # The server's own postmaster (RFC 5321 §4.5.1: always accepted), never a third party;
    # a server that kept the transaction answers 250, one that reset it 503.
    rcpt = await resumed.command("RCPT", "TO:<postmaster>")
    if 200 <= rcpt.code < 300:
        await resumed.command("RSET")
    await polite_quit(resumed)
    evidence = [*mail.raw, *reply, *rcpt.raw]
    if rcpt.code == 503:
        return _passed("after STARTTLS and EHLO, RCPT was refused for want of MAIL: the "
                       "transaction started in plaintext was forgotten", evidence, "reset")
    if 200 <= rcpt.code < 300:
        return _failed("the MAIL FROM given before STARTTLS survived the TLS handshake (and "
                       "the new EHLO): RCPT was accepted inside TLS", evidence, "kept")
    return _inconclusive(f"RCPT after STARTTLS got {rcpt.code} instead of 503 (bad sequence) "
                         "or 250", evidence)


# --- capabilities before and after TLS (RFC 3207 §4.2, RFC 2595 §3.1/§4) ------------------------


async def _capability_change(sess: _Session, rec: Recorder) -> _Outcome:
    if rec.capabilities_before is None or rec.capabilities_after is None:
        return _untestable("the capabilities were not read both before and after TLS")
    protocol = sess.endpoint.service.protocol
    before = {c.upper() for c in rec.capabilities_before}
    after = {c.upper() for c in rec.capabilities_after}
    evidence = [f"before TLS: {' '.join(sorted(before))}",
                f"after TLS: {' '.join(sorted(after))}"]
    if after - before:
        evidence.append(f"only after TLS: {' '.join(sorted(after - before))}")
    if before - after:
        evidence.append(f"only before TLS: {' '.join(sorted(before - after))}")
    # the judge's definition (<proto>.auth.plaintext_offered): the verdict never contradicts it
    login_before = cleartext_login_offers(protocol, rec.capabilities_before)
    login_after = login_offers(protocol, rec.capabilities_after)
    if login_before:
        return _failed(f"login is offered before TLS ({', '.join(login_before)})", evidence,
                       "login_before_tls")
    if login_after:
        return _passed(f"login is offered only after TLS ({', '.join(login_after)}), as it "
                       "should be", evidence, "login_after_tls_only")
    return _passed("no login is offered before TLS (nor after it)", evidence, "no_login")


# --- open relay (opt-in: --relay-test; RFC 5321 §3.6, RFC 2505 §2) ------------------------------


def _address_literal(address: str) -> str:
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _relay_attempts(endpoint: Endpoint) -> list[tuple[str, str, str]]:
    """(reverse path, forward path, what it tries); every recipient ends in .invalid."""
    target = f"{RELAY_LOCAL_PART}@{RELAY_DOMAIN}"
    literal = _address_literal(endpoint.address)
    attempts = [
        (PROBE_SENDER, target, "outside sender to outside recipient"),
        ("", target, "null sender to outside recipient"),
    ]
    if sni_for(endpoint.host):  # a name, not an address: a sender "from" the server's domain
        attempts.append((f"mailtls-probe@{endpoint.host.rstrip('.')}", target,
                         "sender in the server's own domain"))
    attempts += [
        (PROBE_SENDER, f"{RELAY_LOCAL_PART}%{RELAY_DOMAIN}@{literal}", "percent hack"),
        (PROBE_SENDER, f"@{literal}:{target}", "source route"),
        (PROBE_SENDER, f'"{target}"', "quoted address as local part"),
        (PROBE_SENDER, f"{RELAY_DOMAIN}!{RELAY_LOCAL_PART}@{literal}", "bang path"),
    ]
    return attempts


async def _open_relay(sess: _Session, rec: Recorder) -> _Outcome:
    stream, adapter, caps = await sess.open()
    assert isinstance(adapter, SMTPAdapter)
    if caps is None:
        return _inconclusive("EHLO was refused")
    over = "plaintext"
    if rec.starttls_offered and rec.tls is not None and adapter.offers_starttls(caps):
        resumed = await _starttls(sess, stream, adapter)
        assert isinstance(resumed, SMTPAdapter)
        adapter, over = resumed, "TLS"
    sess.note(f"relay attempts over {over}; DATA is never sent")
    accepted: list[str] = []
    refused: list[str] = []
    temporary: list[str] = []
    mail_refused: list[str] = []
    for sender, recipient, what in _relay_attempts(sess.endpoint):
        mail = await adapter.command("MAIL", f"FROM:<{sender}>")
        if 200 <= mail.code < 300:
            rcpt = await adapter.command("RCPT", f"TO:<{recipient}>")
            line = f"{what}: RCPT TO:<{recipient}>: {rcpt.raw[-1]}"
            if 200 <= rcpt.code < 300:
                accepted.append(line)
            elif 400 <= rcpt.code < 500:
                temporary.append(line)
            else:
                refused.append(line)
        else:
            line = f"{what}: MAIL FROM:<{sender}>: {mail.raw[-1]}"
            (temporary if 400 <= mail.code < 500 else mail_refused).append(line)
        await adapter.command("RSET")
    await polite_quit(adapter)
    tried = len(accepted) + len(refused) + len(temporary) + len(mail_refused)
    if accepted:
        return _failed(f"{len(accepted)} of {tried} attempt(s) got a recipient in the reserved "
                       f"domain {RELAY_DOMAIN} accepted, without authentication",
                       accepted + refused, "relayed")
    if refused:
        return _passed(f"every recipient outside the server's domains was refused ({tried} "
                       f"attempt(s) over {over})", refused + mail_refused + temporary, "refused")
    if mail_refused and not temporary:
        return _passed("the server refuses to start a mail transaction for this client at "
                       "all, so it relays nothing for it", mail_refused, "mail_refused")
    return _inconclusive("only temporary errors (greylisting?): relaying could not be tested",
                         temporary + mail_refused, "temporary")


# --- running them ------------------------------------------------------------------------------


def plan(endpoint: Endpoint, options: ProbeOptions) -> list[tuple[str, Body]]:
    """The probes that apply to ``endpoint``, in the order they run."""
    if endpoint.service.protocol not in (Protocol.SMTP, Protocol.IMAP, Protocol.POP3):
        return []  # LDAP, FTP, NNTP: probes/portsecurity.py
    if endpoint.service.tls_mode is not TLSMode.STARTTLS:
        return []
    probes: list[tuple[str, Body]] = [("command_injection", _command_injection)]
    mx = endpoint.service.name == "smtp"
    if endpoint.service.protocol is Protocol.SMTP:
        probes.append(("starttls_not_required", _starttls_not_required) if mx
                      else ("starttls_enforced", _starttls_enforced))
        probes += [("plaintext_auth", _plaintext_auth), ("state_reset", _state_reset)]
    else:
        probes += [("plaintext_login", _plaintext_login), ("plaintext_auth", _plaintext_auth)]
    probes.append(("capability_change", _capability_change))
    if mx and options.relay_test:
        probes.append(("open_relay", _open_relay))
    return probes


async def _run(name: str, body: Body, endpoint: Endpoint, options: ProbeOptions,
               recorder: Recorder) -> None:
    sess = _Session(endpoint, options)
    outcome: _Outcome | None = None
    try:
        outcome = await body(sess, recorder)
    except _Stop as stop:
        outcome = stop.outcome
    except MailTLSError as exc:  # an answer of the wrong kind is a ProtocolError too
        outcome = _inconclusive(f"the probe did not finish: {exc or type(exc).__name__}")
    finally:
        if outcome is None:  # cancelled: the scan deadline
            outcome = _inconclusive("the scan deadline passed before this probe finished")
        probe = SecurityProbe(
            name=name,
            verdict=outcome.verdict,
            reason=outcome.reason,
            evidence=tuple(outcome.evidence)[:MAX_EVIDENCE],
            transcript=tuple(sess.notes.transcript),
            connections=sess.notes.connections,
            detail=outcome.detail,
        )
        recorder.security.append(probe)
        recorder.connections += probe.connections
        recorder.note(Direction.NOTE,
                      f"security probe {name}: {probe.verdict.value} ({probe.reason})")
        await sess.close()


async def probe_security(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """Run the STARTTLS security probes of ``endpoint`` into ``recorder.security``."""
    if recorder.state is not PortState.OPEN or not recorder.greeting_ok:
        return
    if recorder.tls_on_starttls_port or recorder.preauth:
        return  # no plaintext dialogue to probe (PREAUTH is reported as it is)
    probes = plan(endpoint, options)
    order = {name: index for index, (name, _body) in enumerate(probes)}
    try:
        # Side by side: each probe has its own connection and reads only the basic probe's facts
        await asyncio.gather(*(_run(name, body, endpoint, options, recorder)
                               for name, body in probes))
    finally:  # the report lists them in plan order, whichever finished first
        recorder.security.sort(key=lambda p: order.get(p.name, len(order)))
