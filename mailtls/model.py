"""Frozen data: what a scan plans, what probes observe, what checks find.

Probes fill the observation types verbatim; checks read them and emit ``Finding``s; renderers
read the ``Report``. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class Protocol(enum.StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    POP3 = "pop3"


class TLSMode(enum.StrEnum):
    STARTTLS = "starttls"
    IMPLICIT = "implicit"


@dataclass(frozen=True)
class Service:
    """A mail service as a port plan entry: what to speak and how TLS starts."""

    name: str
    protocol: Protocol
    tls_mode: TLSMode
    default_port: int
    description: str

    @property
    def label(self) -> str:
        return self.name


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(
            "smtp", Protocol.SMTP, TLSMode.STARTTLS, 25, "SMTP relay (MX), STARTTLS (RFC 3207)"
        ),
        Service(
            "submission", Protocol.SMTP, TLSMode.STARTTLS, 587, "submission (RFC 6409), STARTTLS"
        ),
        Service(
            "submissions",
            Protocol.SMTP,
            TLSMode.IMPLICIT,
            465,
            "submission, implicit TLS (RFC 8314)",
        ),
        Service("imap", Protocol.IMAP, TLSMode.STARTTLS, 143, "IMAP, STARTTLS (RFC 2595 / 9051)"),
        Service("imaps", Protocol.IMAP, TLSMode.IMPLICIT, 993, "IMAP, implicit TLS (RFC 8314)"),
        Service("pop3", Protocol.POP3, TLSMode.STARTTLS, 110, "POP3, STLS (RFC 2595)"),
        Service("pop3s", Protocol.POP3, TLSMode.IMPLICIT, 995, "POP3, implicit TLS (RFC 8314)"),
    )
}

# The implicit-TLS sibling of each STARTTLS service (RFC 8314 §3).
IMPLICIT_SIBLING: dict[str, str] = {"submission": "submissions", "imap": "imaps", "pop3": "pop3s"}


@dataclass(frozen=True)
class Endpoint:
    """One port on one address of one host name."""

    host: str  # the name the user gave: reference identity for the certificate, SNI
    address: str  # the IP actually connected to
    port: int
    service: Service
    requested: bool = False  # named explicitly by the user (--service/--only): must be testable

    @property
    def key(self) -> str:
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return f"{addr}:{self.port}"


class PortState(enum.StrEnum):
    OPEN = "open"  # TCP connected
    REFUSED = "refused"  # RST: nothing listens
    FILTERED = "filtered"  # connect timed out: dropped on the way
    UNREACHABLE = "unreachable"  # ICMP unreachable, no route, local firewall
    NOT_TESTED = "not_tested"  # the scan deadline passed before the probe could run


class Direction(enum.StrEnum):
    CLIENT = "C"
    SERVER = "S"
    NOTE = "*"  # something the prober did or saw that is not a protocol line (handshake, timeout)


@dataclass(frozen=True)
class TranscriptLine:
    direction: Direction
    text: str
    tls: bool  # inside TLS
    at: float  # seconds since the probe started


@dataclass(frozen=True)
class CertificateInfo:
    """Facts about one X.509 certificate, parsed by ``mailtls.certs``."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    common_names: tuple[str, ...]
    key_type: str  # "RSA", "EC", "Ed25519", ...
    key_bits: int
    signature_algorithm: str  # e.g. "sha256WithRSAEncryption" / "ecdsa-with-SHA256"
    sha256_fingerprint: str  # hex, lower case, no colons
    self_issued: bool  # subject == issuer
    self_signed: bool  # self-issued and its signature verifies with its own key
    is_ca: bool


@dataclass(frozen=True)
class Verification:
    """OpenSSL's verdict on the chain, as a real mail client or MTA would reach it."""

    trusted: bool
    trust_store: str  # "system" or the --ca-file path
    code: int | None = None  # X509 verify error code when not trusted
    message: str | None = None


@dataclass(frozen=True)
class TLSSession:
    version: str  # "TLSv1.3", ...
    cipher: str  # OpenSSL name
    cipher_bits: int | None
    chain: tuple[CertificateInfo, ...]  # as the server sent it, leaf first
    verification: Verification
    handshake_seconds: float


@dataclass(frozen=True)
class TLSScan:
    """Every protocol version and cipher suite a port accepted, found with hand-built hellos."""

    versions: dict[str, bool | None]  # "SSLv3" .. "TLSv1.3" -> accepted (None: not testable)
    suites: dict[str, tuple[str, ...]]  # version -> IANA suite names, server order if enforced
    server_order: dict[str, bool | None]  # version -> does the server impose its own order
    groups: tuple[str, ...]  # TLS 1.3 key-exchange groups accepted
    ecdhe_groups: tuple[str, ...]  # curves accepted for ECDHE in TLS <= 1.2
    dh_bits: int | None  # the smallest DHE prime seen
    secure_renegotiation: bool | None  # RFC 5746 renegotiation_info answered
    connections: int
    seconds: float
    errors: tuple[str, ...] = ()


class ProbeVerdict(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_TESTABLE = "not_testable"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class SecurityProbe:
    """One STARTTLS security probe (command injection, enforcement, ...): what was sent, what
    came back, and whether the fact it looks for was seen."""

    name: str  # stable: "command_injection", "starttls_enforced", ...
    verdict: ProbeVerdict
    reason: str  # one line
    evidence: tuple[str, ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()
    connections: int = 0


@dataclass(frozen=True)
class PortObservation:
    """Everything one probe of one endpoint saw. Verbatim; no judgement."""

    endpoint: Endpoint
    state: PortState
    error: str | None = None  # why the probe stopped early (one line), if it did
    # machine name of that reason: "greeting_timeout", "protocol", "deadline", ...
    error_kind: str | None = None
    greeting: tuple[str, ...] = ()  # the server's greeting lines, verbatim
    greeting_ok: bool | None = None  # 220 / * OK / +OK (PREAUTH counts as ok for IMAP)
    capabilities_before: tuple[str, ...] | None = None  # EHLO lines / IMAP caps / CAPA lines
    capabilities_reply: tuple[str, ...] = ()  # the raw reply they were read from
    starttls_offered: bool | None = None
    starttls_reply: tuple[str, ...] = ()  # the server's answer to STARTTLS/STLS
    starttls_accepted: bool | None = None
    data_after_go_ahead: bytes = b""  # plaintext the server sent after its go-ahead (discarded)
    tls: TLSSession | None = None
    tls_error: str | None = None  # the handshake failure, if any
    capabilities_after: tuple[str, ...] | None = None  # re-read after the handshake
    capabilities_after_reply: tuple[str, ...] = ()
    # the greeting seen in plaintext on an implicit-TLS port
    plaintext_on_implicit: tuple[str, ...] = ()
    tls_on_starttls_port: bool = False  # a STARTTLS port that wanted a TLS handshake at once
    preauth: bool = False  # IMAP greeting was PREAUTH
    tls_scan: TLSScan | None = None  # versions and suites enumerated (not with --quick)
    security: tuple[SecurityProbe, ...] = ()  # the STARTTLS security probes (not with --quick)
    transcript: tuple[TranscriptLine, ...] = ()
    connections: int = 0
    seconds: float = 0.0


class Severity(enum.IntEnum):
    """Ordered: a report's worst finding decides the exit code."""

    INFO = 0
    WARN = 1
    UNKNOWN = 2  # could not test something the user asked for
    FAIL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    id: str  # stable dotted id; renaming one breaks users' CI
    severity: Severity
    summary: str  # one line
    endpoint: str | None  # Endpoint.key, or None for a host-level finding
    service: str | None
    evidence: tuple[str, ...]
    reference: str  # "RFC 3207 §4.2"
    remediation: str
    requirement: str | None = None  # MUST / SHOULD / MUST NOT / profile


@dataclass(frozen=True)
class HostReport:
    name: str
    addresses: tuple[str, ...]
    resolve_error: str | None
    observations: tuple[PortObservation, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Report:
    started_at: dt.datetime
    seconds: float
    hosts: tuple[HostReport, ...]
    options: dict[str, object] = field(default_factory=dict)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for h in self.hosts for f in h.findings)

    @property
    def connections(self) -> int:
        return sum(o.connections for h in self.hosts for o in h.observations)
