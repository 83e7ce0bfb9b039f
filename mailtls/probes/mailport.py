"""Probe one mail port: connect, greeting, capabilities, STARTTLS or implicit TLS, certificate,
capabilities again. Records what the server said; judges nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
from typing import TYPE_CHECKING

from mailtls.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    DeadlinePassed,
    HandshakeTimeout,
    MailTLSError,
    NetworkError,
    ProtocolError,
    ReadTimeout,
    SessionRejected,
    TLSHandshakeError,
    Unreachable,
)
from mailtls.model import (
    Direction,
    Endpoint,
    PortState,
    Protocol,
    StopKind,
    TLSMode,
    TLSSession,
    Verification,
)
from mailtls.model.credentials import LoginCredentials
from mailtls.model.options import ScanOptions
from mailtls.net.stream import Stream, Timeouts, client_context, open_stream
from mailtls.pki.x509 import chain_info
from mailtls.probes.session import (
    Adapter,
    Conversation,
    IMAPAdapter,
    POP3Adapter,
    Recorder,
    SMTPAdapter,
)
from mailtls.proto.imap import IMAPDialogue
from mailtls.proto.lines import decode_line
from mailtls.proto.pop3 import POP3Dialogue
from mailtls.proto.smtp import SMTPDialogue

if TYPE_CHECKING:
    from mailtls.probes.portadapters import PortAdapter

# How long an implicit-TLS port that failed its handshake is watched for a plaintext greeting.
PLAINTEXT_SNIFF_SECONDS = 3.0
# When its turn is short, a silent STARTTLS port keeps this share of what is left (at least
# MIN_TLS_TRY_SECONDS) for the TLS handshake tried in case it speaks implicit TLS: a TLS
# listener answers a ClientHello at once, so a short try tells as much as a long one.
TLS_TRY_SHARE = 0.25
MIN_TLS_TRY_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class ProbeOptions:
    """The scan's options as the probes of one endpoint read them (nothing declared again)."""

    scan: ScanOptions
    # time.monotonic() of the scan deadline: deep probes stop starting connections before it
    deadline: float | None = None
    # time.monotonic() by which this probe's turn ends (the basic probe's share of the scan,
    # mailtls.scan.host.Turns); None: the scan deadline
    turn: float | None = None

    @property
    def timeouts(self) -> Timeouts:
        """The scan's timeouts, with the turn (or the scan deadline) as every connection's
        deadline (``mailtls.net.receive.ReceiveBudget``)."""
        end = self.turn if self.turn is not None else self.deadline
        return dataclasses.replace(self.scan.timeouts, deadline=end)

    @property
    def ca_file(self) -> str | None:
        return self.scan.ca_file

    @property
    def trust_store(self) -> str:
        return self.scan.trust_store

    @property
    def quick(self) -> bool:
        """Only the basic probe: one connection per port."""
        return self.scan.quick

    @property
    def relay_test(self) -> bool:
        """Opt-in: may try MAIL FROM/RCPT TO relaying on port 25."""
        return self.scan.relay_test

    @property
    def slow(self) -> bool:
        """--slow: pause between the deep probes' connections (the scan allows one at a time)."""
        return self.scan.slow

    @property
    def ehlo(self) -> str:
        """--ehlo: what the SMTP sessions greet with."""
        return self.scan.ehlo

    @property
    def login(self) -> LoginCredentials | None:
        """--user: the login test (mailtls.probes.login); never outside a verified TLS session."""
        return self.scan.login

    def basic(self) -> ProbeOptions:
        """The same limits for a basic probe only, never logging in (port 25 control hosts)."""
        return dataclasses.replace(
            self, scan=dataclasses.replace(self.scan, quick=True, login=None))


def sni_for(host: str) -> str | None:
    """SNI carries DNS names only (RFC 6066 §3), never IP literals."""
    bare = host.strip("[]")
    if ":" in bare or bare.replace(".", "").isdigit():
        return None
    return host.rstrip(".")


def adapter_for(
    stream: Stream, endpoint: Endpoint, recorder: Recorder, *, resumed: bool = False
) -> Adapter | PortAdapter:
    """A fresh dialogue; ``resumed`` for the session after STARTTLS (no greeting due)."""
    protocol = endpoint.service.protocol
    if protocol is Protocol.SMTP:
        return SMTPAdapter(Conversation(stream, SMTPDialogue(), recorder))
    if protocol is Protocol.IMAP:
        return IMAPAdapter(Conversation(stream, IMAPDialogue(), recorder))
    if protocol is Protocol.POP3:
        dialogue = POP3Dialogue(expect_greeting=not resumed)
        return POP3Adapter(Conversation(stream, dialogue, recorder))
    # LDAP, FTP, NNTP, HTTP: their adapters and dialogues are imported only when such a port
    # is planned (--also), not by every check (start-up time)
    from mailtls.probes.portadapters import port_adapter_for

    return port_adapter_for(stream, endpoint, recorder, resumed=resumed)


def mail_adapter_for(
    stream: Stream, endpoint: Endpoint, recorder: Recorder, *, resumed: bool = False
) -> Adapter:
    """``adapter_for`` where only the seven mail services can come (login, mail probes)."""
    adapter = adapter_for(stream, endpoint, recorder, resumed=resumed)
    if isinstance(adapter, SMTPAdapter | IMAPAdapter | POP3Adapter):
        return adapter
    raise ValueError(f"{endpoint.service.name} is not a mail service")


async def _handshake(
    stream: Stream, endpoint: Endpoint, recorder: Recorder, context: ssl.SSLContext, trust: str
) -> None:
    """Start TLS and record the session; raises TLSHandshakeError."""
    sni = sni_for(endpoint.host)
    recorder.note(Direction.NOTE, f"TLS handshake (SNI {sni or 'none'})")
    seconds = await stream.start_tls(context, sni)
    recorder.in_tls = True
    obj = stream.ssl_object
    if obj is None:  # pragma: no cover - start_tls always gives an ssl object
        raise TLSHandshakeError("TLS handshake gave no session")
    cipher = obj.cipher()
    chain_der = stream.peer_chain_der()
    chain = chain_info(chain_der)
    verified = context.verify_mode == ssl.CERT_REQUIRED
    recorder.tls = TLSSession(
        version=obj.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        cipher_bits=cipher[2] if cipher else None,
        chain=chain,
        # A session opened with verification off says nothing about trust; the caller fills it in.
        verification=Verification(trusted=verified, trust_store=trust),
        handshake_seconds=round(seconds, 4),
        chain_der=tuple(chain_der),
    )
    recorder.note(
        Direction.NOTE,
        f"TLS established: {recorder.tls.version} {recorder.tls.cipher}, "
        f"{len(chain)} certificate(s)",
    )


async def _sniff_plaintext(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """After a failed handshake on an implicit-TLS port: does the port speak plaintext?"""
    recorder.connections += 1
    recorder.note(Direction.NOTE, "reconnecting in plaintext to see whether the port speaks first")
    try:
        stream = await open_stream(endpoint.address, endpoint.port, options.timeouts)
    except NetworkError:
        return
    try:
        data = await stream.read(timeout=min(PLAINTEXT_SNIFF_SECONDS, options.timeouts.read))
        lines = tuple(decode_line(line) for line in data.splitlines()[:5] if line.strip())
        for line in lines:
            recorder.note(Direction.SERVER, line)
        if lines and not data.startswith((b"\x15", b"\x16")):
            recorder.plaintext_on_implicit = lines
    except MailTLSError:
        pass
    finally:
        await stream.close()


async def _dialogue(
    stream: Stream,
    endpoint: Endpoint,
    recorder: Recorder,
    options: ProbeOptions,
    context: ssl.SSLContext,
) -> None:
    implicit = endpoint.service.tls_mode is TLSMode.IMPLICIT
    adapter = adapter_for(stream, endpoint, recorder)
    if implicit:
        await _handshake(stream, endpoint, recorder, context, options.trust_store)

    try:
        recorder.greeting, recorder.greeting_ok = await adapter.greeting(
            _greeting_wait(stream, implicit))
    except ReadTimeout as timeout:
        if implicit or adapter.conv.dialogue.pending():
            raise  # it spoke, too slowly: no TLS listener waits for our ClientHello
        # A STARTTLS port that says nothing may be waiting for a ClientHello (implicit TLS on
        # the wrong port): try a handshake on the same connection before calling it silent.
        recorder.note(
            Direction.NOTE, "no greeting; trying a TLS handshake in case the port speaks TLS"
        )
        try:
            await _handshake(stream, endpoint, recorder, context, options.trust_store)
        except TLSHandshakeError as exc:
            recorder.note(Direction.NOTE, str(exc))
            recorder.tls = None
            raise ReadTimeout(f"{timeout} (the server never spoke)") from None
        recorder.tls_on_starttls_port = True
        return
    recorder.preauth = adapter.preauth
    if not recorder.greeting_ok:
        recorder.fail(StopKind.GREETING_REJECTED, "the server refused the session in its greeting")
        return

    caps, raw = await adapter.capabilities()
    if caps is None and adapter.greeting_caps is not None:
        caps = tuple(sorted(adapter.greeting_caps))
    if implicit:
        recorder.capabilities_after, recorder.capabilities_after_reply = caps, raw
        recorder.starttls_offered = adapter.offers_starttls(caps or ())
        await polite_quit(adapter)
        return

    recorder.capabilities_before, recorder.capabilities_reply = caps, raw
    recorder.starttls_offered = adapter.offers_starttls(caps or ())
    if caps is None and (isinstance(adapter, POP3Adapter)
                         or getattr(adapter, "tries_unadvertised", False)):
        # A POP3 server without CAPA cannot advertise STLS (RFC 2595 §4); try it anyway, so
        # that "no STLS" is a fact, not an inference.
        recorder.note(Direction.NOTE, f"no capabilities: trying {adapter.starttls_word} "
                                      "without an advertisement")
        recorder.starttls_offered = None
    if recorder.starttls_offered is False or recorder.preauth:
        await polite_quit(adapter)
        return

    accepted, reply = await adapter.starttls()
    recorder.starttls_accepted, recorder.starttls_reply = accepted, reply
    if recorder.starttls_offered is None:
        recorder.starttls_offered = accepted
        recorder.starttls_accepted = accepted or None
    if not accepted:
        await polite_quit(adapter)
        return
    # Anything the server sent after its go-ahead arrived in plaintext: keep it as evidence,
    # never let it reach the TLS session (RFC 3207 §4.2, RFC 2595 §3.1).
    leftovers = adapter.conv.take_leftovers()
    if leftovers:
        recorder.data_after_go_ahead = leftovers[:4096]
        recorder.note(
            Direction.NOTE, f"{len(leftovers)} plaintext byte(s) after the go-ahead, discarded"
        )
    await _handshake(stream, endpoint, recorder, context, options.trust_store)
    # After TLS the dialogue starts from scratch: a fresh parser, capabilities read again.
    adapter = adapter_for(stream, endpoint, recorder, resumed=True)
    caps, raw = await adapter.capabilities()
    recorder.capabilities_after, recorder.capabilities_after_reply = caps, raw
    await polite_quit(adapter)


def _greeting_wait(stream: Stream, implicit: bool) -> float:
    """The read timeout, cut so that a silent STARTTLS port still gets its TLS try in its turn."""
    read = stream.timeouts.read
    left = stream.time_left()
    if implicit or left is None:
        return read
    reserve = min(stream.timeouts.handshake, max(MIN_TLS_TRY_SECONDS, left * TLS_TRY_SHARE),
                  left / 2)
    return max(0.0, min(read, left - reserve))


async def polite_quit(adapter: Adapter | PortAdapter) -> None:
    """QUIT (or the port's goodbye); a server that answers badly or has gone is fine here."""
    with contextlib.suppress(MailTLSError):
        await adapter.quit()


async def _attempt(
    endpoint: Endpoint, options: ProbeOptions, recorder: Recorder, verify: bool
) -> None:
    """One connection. Fills ``recorder``; raises only for a failed verified handshake."""
    recorder.connections += 1
    recorder.note(Direction.NOTE, f"connecting to {endpoint.key}")
    try:
        stream = await open_stream(endpoint.address, endpoint.port, options.timeouts)
    except ConnectRefused as exc:
        recorder.state = PortState.REFUSED
        recorder.fail(StopKind.REFUSED, str(exc))
        return
    except DeadlinePassed as exc:  # its turn was over before the connection was made
        recorder.fail(StopKind.DEADLINE, str(exc))
        return
    except ConnectTimeout as exc:
        recorder.state = PortState.FILTERED
        recorder.fail(StopKind.FILTERED, str(exc))
        return
    except ConnectionClosed as exc:  # accepted, then reset before a word: open, and broken
        recorder.state = PortState.OPEN
        recorder.fail(StopKind.CLOSED, str(exc))
        return
    except (Unreachable, NetworkError) as exc:
        recorder.state = PortState.UNREACHABLE
        recorder.fail(StopKind.UNREACHABLE, str(exc))
        return
    recorder.state = PortState.OPEN
    context = client_context(verify=verify, ca_file=options.ca_file)
    try:
        await _dialogue(stream, endpoint, recorder, options, context)
    except HandshakeTimeout as exc:
        if endpoint.service.tls_mode is not TLSMode.IMPLICIT or recorder.greeting:
            recorder.tls = None
            recorder.tls_error = str(exc)
            recorder.fail(StopKind.TLS_HANDSHAKE, str(exc))
        else:
            # Silent on an implicit-TLS port: our ClientHello is its first word to answer, and
            # no answer is no greeting (a plaintext or broken server fails the handshake fast).
            recorder.tls = None
            recorder.fail(StopKind.GREETING_TIMEOUT,
                          f"the server never answered the TLS ClientHello ({exc})")
    except TLSHandshakeError as exc:
        if exc.verify_code is not None:
            raise
        recorder.tls = None
        recorder.tls_error = str(exc)
        recorder.fail(StopKind.TLS_HANDSHAKE, str(exc))
    except ReadTimeout as exc:
        recorder.fail(StopKind.READ_TIMEOUT if recorder.greeting else StopKind.GREETING_TIMEOUT,
                      str(exc))
    except SessionRejected as exc:
        recorder.fail(StopKind.REJECTED, f"the server ended the session: {exc}")
    except ConnectionClosed as exc:
        recorder.fail(StopKind.CLOSED, str(exc))
    except ProtocolError as exc:
        recorder.fail(StopKind.PROTOCOL, f"protocol error: {exc}")
    except NetworkError as exc:
        recorder.fail(StopKind.NETWORK, str(exc))
    finally:
        await stream.close()


async def probe_port(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """Probe ``endpoint`` into ``recorder``.

    The first connection verifies the chain the way a mail client would; if that fails, a second
    one, without verification, collects the certificate so the report can say what is wrong.
    """
    try:
        await _attempt(endpoint, options, recorder, verify=True)
    except TLSHandshakeError as exc:
        verification = Verification(
            trusted=False,
            trust_store=options.trust_store,
            code=exc.verify_code,
            message=exc.verify_message,
        )
        recorder.note(Direction.NOTE, f"{exc}; reconnecting without verification to inspect it")
        recorder.in_tls = False
        await _attempt(endpoint, options, recorder, verify=False)
        if recorder.tls is not None:
            recorder.tls = dataclasses.replace(recorder.tls, verification=verification)
        elif recorder.error is None:
            recorder.fail(StopKind.TLS_HANDSHAKE, str(exc))
    if (
        recorder.tls_error
        and endpoint.service.tls_mode is TLSMode.IMPLICIT
        and recorder.state is PortState.OPEN
    ):
        await _sniff_plaintext(endpoint, options, recorder)
