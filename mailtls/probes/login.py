"""The login test (``--user``): log in with the user's credentials and log out at once.

RFC 8314 §5.1: a client "MUST NOT test an account configuration by submitting credentials unless
a TLS session meeting minimum confidentiality is established"; §5.2: that means a validated
certificate. So, per port, the credentials are sent only

* inside TLS (implicit TLS, or after a STARTTLS the server accepted) - never before it, whatever
  the options say;
* over TLS 1.2 or later;
* when the chain was verified by OpenSSL against the trust store AND the certificate names the
  host (``mailtls.pki.x509.match_name``, RFC 9525: no subject-CN fallback). Only the loud
  ``--insecure-send-password-to-unverified-server`` lifts this second condition.

The decision is made twice: from the port's probe (no connection at all when it already showed
an unverified certificate or no TLS), and again on the login connection itself, where the
password would actually go. Nothing is judged here: the outcome goes into
``PortObservation.login``; ``mailtls.checks.login`` makes findings of it.

Secrets: the transcript lines that carry credentials are recorded as ``***`` (``shown=``), and
the recorder scrubs every form of the password from anything else it notes (``Recorder.redact``),
server lines included. Error messages are scrubbed before they are kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailtls.errors import MailTLSError, ProtocolError, TLSHandshakeError
from mailtls.model import (
    Direction,
    Endpoint,
    LoginAttempt,
    LoginOutcome,
    PortState,
    Protocol,
    TLSMode,
)
from mailtls.model.credentials import INSECURE_FLAG, LoginCredentials, b64, sasl_plain
from mailtls.net.https import https_context
from mailtls.net.stream import Stream, open_stream
from mailtls.pki.x509 import chain_info, match_name
from mailtls.probes.mailport import ProbeOptions, mail_adapter_for, polite_quit, sni_for
from mailtls.probes.session import (
    REDACTED,
    Adapter,
    Conversation,
    IMAPAdapter,
    POP3Adapter,
    Recorder,
    SMTPAdapter,
    expect_event,
)
from mailtls.proto.capabilities import keywords as _keywords
from mailtls.proto.imap import IMAPContinuation, IMAPDialogue, IMAPTagged
from mailtls.proto.pop3 import POP3Dialogue, POP3Status
from mailtls.proto.smtp import SMTPDialogue, SMTPReply

if TYPE_CHECKING:
    import ssl

# A server may delay its answer to wrong credentials on purpose (Dovecot: 2 s and more).
ANSWER_TIMEOUT = 15.0


def wants_login(endpoint: Endpoint) -> bool:
    """Not on the relay service (port 25): that is where other servers deliver, not where
    clients log in (submission on port 25 can still be tested as ``--service submission=25``)."""
    mail = endpoint.service.protocol in (Protocol.SMTP, Protocol.IMAP, Protocol.POP3)
    return mail and endpoint.service.name != "smtp"  # (the login test speaks mail only)


@dataclass
class _Progress:
    credentials: LoginCredentials
    mechanism: str | None = None
    reply: tuple[str, ...] = ()
    sent: bool = False
    verified: bool = False
    tls_version: str | None = None
    connections: int = 0


class _NotSent(Exception):
    """The login stops before any credential was sent."""

    def __init__(self, outcome: LoginOutcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


async def login_probe(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """Run the login test of ``endpoint`` (after its probe) into ``recorder.login``."""
    creds = options.login
    if creds is None or not wants_login(endpoint) or recorder.state is not PortState.OPEN:
        return
    started = time.monotonic()
    recorder.redact = creds.redactions()
    progress = _Progress(creds)
    try:
        outcome, reason = _precheck(endpoint, recorder, creds)
        if outcome is None:
            outcome, reason = await _connect_and_login(endpoint, options, recorder, progress)
    except _NotSent as stop:
        outcome, reason = stop.outcome, stop.reason
    except Exception as exc:  # a bug: its message must not carry anything into the report
        outcome = LoginOutcome.ERROR
        reason = f"internal error in the login test ({type(exc).__name__})"
    recorder.login = LoginAttempt(
        outcome=outcome,
        username=creds.username,
        reason=_scrub(reason, recorder),
        mechanism=progress.mechanism,
        reply=tuple(_scrub(line, recorder) for line in progress.reply),
        sent=progress.sent,
        verified=progress.verified,
        override=creds.allow_unverified,
        tls_version=progress.tls_version,
        connections=progress.connections,
        seconds=round(time.monotonic() - started, 3),
    )


def _scrub(text: str, recorder: Recorder) -> str:
    for secret in recorder.redact:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _precheck(
    endpoint: Endpoint, recorder: Recorder, creds: LoginCredentials
) -> tuple[LoginOutcome | None, str]:
    """What the port's probe already tells: no TLS, or an unverified certificate."""
    tls = recorder.tls
    if tls is None:
        why = recorder.tls_error or recorder.error or _no_tls_reason(recorder)
        return LoginOutcome.NO_TLS, f"not sent: no TLS session on this port ({why})"
    if creds.allow_unverified:
        return None, ""
    problem = _certificate_problem(recorder, endpoint.host)
    if problem is not None:
        return (
            LoginOutcome.REFUSED_UNVERIFIED,
            f"not sent: {problem} (override: {INSECURE_FLAG})",
        )
    return None, ""


def _no_tls_reason(recorder: Recorder) -> str:
    if recorder.preauth:
        return "PREAUTH greeting"
    if recorder.starttls_offered is False:
        return "STARTTLS not offered"
    if recorder.starttls_accepted is False:
        return "STARTTLS refused"
    return "no TLS"


def _certificate_problem(recorder: Recorder, host: str) -> str | None:
    tls = recorder.tls
    assert tls is not None
    if not tls.verification.trusted:
        detail = tls.verification.message or "verification failed"
        return f"the certificate is not trusted by the {tls.verification.trust_store} store " \
            f"({detail})"
    if not tls.chain:
        return "the server sent no certificate"
    match = match_name(tls.chain[0], host)
    if not match.matched:
        return f"the certificate does not name {host}: {match.reason}"
    if match.legacy_cn:
        return f"the certificate names {host} only in its subject CN (RFC 9525: not a name)"
    return None


async def _connect_and_login(
    endpoint: Endpoint, options: ProbeOptions, recorder: Recorder, progress: _Progress
) -> tuple[LoginOutcome, str]:
    creds = progress.credentials
    verify = not creds.allow_unverified
    recorder.in_tls = False
    recorder.connections += 1
    progress.connections += 1
    recorder.note(
        Direction.NOTE,
        f"login test as {creds.username!r}: connecting to {endpoint.key}"
        + ("" if verify else f" ({INSECURE_FLAG}: certificate verification OFF)"),
    )
    try:
        stream = await open_stream(endpoint.address, endpoint.port, options.timeouts)
    except MailTLSError as exc:
        return LoginOutcome.ERROR, f"cannot connect: {exc}"
    try:
        context = https_context(verify=verify, ca_file=options.ca_file)
        return await _session(stream, endpoint, recorder, progress, context, verify)
    except TLSHandshakeError as exc:
        if exc.verify_code is not None:
            recorder.note(Direction.NOTE, str(exc))
            return (
                LoginOutcome.REFUSED_UNVERIFIED,
                f"not sent: {exc} (override: {INSECURE_FLAG})",
            )
        recorder.note(Direction.NOTE, str(exc))
        return LoginOutcome.ERROR, f"TLS handshake failed (mailtls logs in over TLS 1.2+): {exc}"
    except MailTLSError as exc:
        recorder.note(Direction.NOTE, f"login test stopped: {exc}")
        state = "after" if progress.sent else "before"
        return LoginOutcome.ERROR, f"the session broke off {state} the credentials were sent: {exc}"
    finally:
        await stream.close()


async def _start_tls(
    stream: Stream,
    endpoint: Endpoint,
    recorder: Recorder,
    progress: _Progress,
    context: ssl.SSLContext,
    verify: bool,
) -> None:
    sni = sni_for(endpoint.host)
    recorder.note(Direction.NOTE, f"TLS handshake (SNI {sni or 'none'})")
    await stream.start_tls(context, sni)
    recorder.in_tls = True
    obj = stream.ssl_object
    progress.tls_version = obj.version() if obj is not None else None
    try:
        chain = chain_info(stream.peer_chain_der()[:1])
    except ProtocolError as exc:
        chain = ()
        recorder.note(Direction.NOTE, f"certificate unreadable: {exc}")
    problem: str | None = None
    if not chain:
        problem = "the server sent no usable certificate"
    else:
        match = match_name(chain[0], endpoint.host)
        if not match.matched:
            problem = f"the certificate does not name {endpoint.host}: {match.reason}"
        elif match.legacy_cn:
            problem = f"the certificate names {endpoint.host} only in its subject CN"
    recorder.note(
        Direction.NOTE,
        f"TLS established: {progress.tls_version}; certificate "
        + ("verified" if verify and problem is None else f"NOT verified ({problem or 'override'})"),
    )
    if verify and problem is not None:
        raise _NotSent(
            LoginOutcome.REFUSED_UNVERIFIED, f"not sent: {problem} (override: {INSECURE_FLAG})"
        )
    progress.verified = verify and problem is None


async def _session(
    stream: Stream,
    endpoint: Endpoint,
    recorder: Recorder,
    progress: _Progress,
    context: ssl.SSLContext,
    verify: bool,
) -> tuple[LoginOutcome, str]:
    implicit = endpoint.service.tls_mode is TLSMode.IMPLICIT
    adapter = mail_adapter_for(stream, endpoint, recorder)
    try:
        if implicit:
            await _start_tls(stream, endpoint, recorder, progress, context, verify)
        greeting, ok = await adapter.greeting()
        if not ok:
            raise _NotSent(LoginOutcome.ERROR, f"the server refused the session: {greeting[0]}")
        caps, _raw = await adapter.capabilities()
        if caps is None and adapter.greeting_caps:
            caps = tuple(sorted(adapter.greeting_caps))
        if not implicit:
            if adapter.preauth:
                raise _NotSent(LoginOutcome.NO_TLS, "not sent: PREAUTH greeting before any TLS")
            if caps is not None and not adapter.offers_starttls(caps):
                raise _NotSent(LoginOutcome.NO_TLS, "not sent: STARTTLS is not offered")
            accepted, reply = await adapter.starttls()
            if not accepted:
                raise _NotSent(
                    LoginOutcome.NO_TLS, f"not sent: STARTTLS refused: {' '.join(reply)}"
                )
            leftovers = adapter.conv.take_leftovers()
            if leftovers:
                recorder.note(
                    Direction.NOTE,
                    f"{len(leftovers)} plaintext byte(s) after the go-ahead, discarded",
                )
            await _start_tls(stream, endpoint, recorder, progress, context, verify)
            adapter = mail_adapter_for(stream, endpoint, recorder, resumed=True)
            caps, _raw = await adapter.capabilities()
        assert recorder.in_tls  # the one rule nothing may bend: credentials only inside TLS
        outcome, reason = await _authenticate(adapter, caps, progress)
    except _NotSent as stop:
        await polite_quit(adapter)
        return stop.outcome, stop.reason
    await polite_quit(adapter)
    return outcome, reason


async def _authenticate(
    adapter: Adapter, caps: tuple[str, ...] | None, progress: _Progress
) -> tuple[LoginOutcome, str]:
    if isinstance(adapter, SMTPAdapter):
        return await _smtp(adapter.conv, caps or (), progress)
    if isinstance(adapter, IMAPAdapter):
        return await _imap(adapter.conv, caps or (), progress)
    assert isinstance(adapter, POP3Adapter)
    return await _pop3(adapter.conv, caps, progress)


def _result(ok: bool, reply: tuple[str, ...], progress: _Progress) -> tuple[LoginOutcome, str]:
    progress.reply = reply
    text = " ".join(reply)[:300]
    if ok:
        return LoginOutcome.SUCCEEDED, f"{progress.mechanism} accepted: {text}"
    return LoginOutcome.FAILED, f"{progress.mechanism} refused: {text}"


# --- SMTP: AUTH PLAIN (RFC 4616 initial response) or AUTH LOGIN --------------------------------


async def _smtp_reply(conv: Conversation[SMTPDialogue]) -> SMTPReply:
    event = await conv.next_event(max(conv.stream.timeouts.read, ANSWER_TIMEOUT))
    return expect_event(event, SMTPReply, "an SMTP reply")


async def _smtp(
    conv: Conversation[SMTPDialogue], caps: tuple[str, ...], progress: _Progress
) -> tuple[LoginOutcome, str]:
    creds = progress.credentials
    password = creds.password.reveal()
    mechanisms = _keywords(caps).get("AUTH", ())
    if "PLAIN" in mechanisms:
        progress.mechanism = "AUTH PLAIN"
        progress.sent = True
        await conv.send(
            f"AUTH PLAIN {sasl_plain(creds.username, password)}\r\n".encode("ascii"),
            shown="AUTH PLAIN ***",
        )
        reply = await _smtp_reply(conv)
        if reply.code == 334:  # wanted the response separately after all: cancel
            await conv.send(b"*\r\n")
            reply = await _smtp_reply(conv)
            progress.reply = reply.raw
            return LoginOutcome.ERROR, f"AUTH PLAIN: unexpected challenge: {' '.join(reply.raw)}"
        return _smtp_result(reply, progress)
    if "LOGIN" in mechanisms:
        progress.mechanism = "AUTH LOGIN"
        await conv.send(b"AUTH LOGIN\r\n")
        reply = await _smtp_reply(conv)
        if reply.code != 334:
            return _smtp_result(reply, progress)
        await conv.send(f"{b64(creds.username)}\r\n".encode("ascii"), shown="*** (user name)")
        reply = await _smtp_reply(conv)
        if reply.code != 334:
            return _smtp_result(reply, progress)
        progress.sent = True
        await conv.send(f"{b64(password)}\r\n".encode("ascii"), shown="*** (password)")
        return _smtp_result(await _smtp_reply(conv), progress)
    offered = " ".join(mechanisms) or "no AUTH at all"
    return LoginOutcome.UNSUPPORTED, f"not sent: under TLS the server offers {offered}"


def _smtp_result(reply: SMTPReply, progress: _Progress) -> tuple[LoginOutcome, str]:
    if 200 <= reply.code < 300:
        return _result(True, reply.raw, progress)
    if reply.code in (535, 534, 530, 501, 504) or reply.code >= 500:
        return _result(False, reply.raw, progress)
    progress.reply = reply.raw
    return LoginOutcome.ERROR, f"{progress.mechanism}: temporary failure: {' '.join(reply.raw)}"


# --- IMAP: AUTHENTICATE PLAIN (SASL-IR or continuation) or LOGIN ---------------------------------


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _imap(
    conv: Conversation[IMAPDialogue], caps: tuple[str, ...], progress: _Progress
) -> tuple[LoginOutcome, str]:
    creds = progress.credentials
    password = creds.password.reveal()
    upper = {c.upper() for c in caps}
    dialogue = conv.dialogue
    if "AUTH=PLAIN" in upper:
        progress.mechanism = "AUTHENTICATE PLAIN"
        payload = sasl_plain(creds.username, password)
        if "SASL-IR" in upper:
            tag, data = dialogue.send_command("AUTHENTICATE", "PLAIN", payload)
            progress.sent = True
            await conv.send(data, shown=f"{tag} AUTHENTICATE PLAIN ***")
        else:
            tag, data = dialogue.send_command("AUTHENTICATE", "PLAIN")
            await conv.send(data)
            event = await conv.next_event(max(conv.stream.timeouts.read, ANSWER_TIMEOUT))
            if isinstance(event, IMAPTagged) and event.tag == tag:
                return _imap_result(event, progress)
            if not isinstance(event, IMAPContinuation):
                raw = getattr(event, "raw", "")
                raise ProtocolError(f"no continuation for AUTHENTICATE: {raw}")
            progress.sent = True
            await conv.send(f"{payload}\r\n".encode("ascii"), shown=REDACTED)
    elif "LOGINDISABLED" not in upper:
        progress.mechanism = "LOGIN"
        user = _quoted(creds.username)
        tag, data = dialogue.send_command("LOGIN", user, _quoted(password))
        progress.sent = True
        await conv.send(data, shown=f"{tag} LOGIN {user} ***")
    else:
        auth = sorted(c for c in upper if c.startswith("AUTH="))
        offered = " ".join(auth) or "no AUTH= mechanism"
        return (
            LoginOutcome.UNSUPPORTED,
            f"not sent: under TLS the server has LOGINDISABLED and offers {offered}",
        )
    while True:
        event = await conv.next_event(max(conv.stream.timeouts.read, ANSWER_TIMEOUT))
        if isinstance(event, IMAPTagged) and event.tag == tag:
            return _imap_result(event, progress)
        if isinstance(event, IMAPContinuation):  # a second challenge: PLAIN has none
            await conv.send(b"*\r\n")


def _imap_result(event: IMAPTagged, progress: _Progress) -> tuple[LoginOutcome, str]:
    if event.status == "OK":
        return _result(True, (event.raw,), progress)
    if event.status == "NO":
        return _result(False, (event.raw,), progress)
    progress.reply = (event.raw,)
    return LoginOutcome.ERROR, f"{progress.mechanism} answered BAD: {event.raw}"


# --- POP3: AUTH PLAIN (RFC 5034 initial response) or USER/PASS ---------------------------------


async def _pop3_status(conv: Conversation[POP3Dialogue]) -> POP3Status:
    event = await conv.next_event(max(conv.stream.timeouts.read, ANSWER_TIMEOUT))
    return expect_event(event, POP3Status, "a POP3 status line")


async def _pop3(
    conv: Conversation[POP3Dialogue], caps: tuple[str, ...] | None, progress: _Progress
) -> tuple[LoginOutcome, str]:
    creds = progress.credentials
    password = creds.password.reveal()
    keywords = _keywords(caps)
    dialogue = conv.dialogue
    if "PLAIN" in keywords.get("SASL", ()):
        progress.mechanism = "AUTH PLAIN"
        data = dialogue.send_command("AUTH", f"PLAIN {sasl_plain(creds.username, password)}")
        progress.sent = True
        await conv.send(data, shown="AUTH PLAIN ***")
        status = await _pop3_status(conv)
        return _result(status.ok, (status.raw,), progress)
    if "USER" in keywords or caps is None:
        progress.mechanism = "USER/PASS"
        await conv.send(dialogue.send_command("USER", creds.username))
        status = await _pop3_status(conv)
        if not status.ok:
            return _result(False, (status.raw,), progress)
        progress.sent = True
        await conv.send(dialogue.send_command("PASS", password), shown="PASS ***")
        status = await _pop3_status(conv)
        return _result(status.ok, (status.raw,), progress)
    offered = " ".join(keywords.get("SASL", ())) or "neither USER nor SASL"
    return LoginOutcome.UNSUPPORTED, f"not sent: under TLS the server offers {offered}"

