"""Frozen data: what a scan plans, what probes observe, what checks find.

Probes fill the observation types verbatim; checks read them and emit ``Finding``s; renderers
read the ``Report``. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailtls.model.frozen import FrozenMap, frozen_map
from mailtls.model.record import Record


class Protocol(enum.StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    POP3 = "pop3"
    # the other secure ports of a mail host (issue 17; mailtls.ports)
    LDAP = "ldap"
    FTP = "ftp"
    NNTP = "nntp"
    HTTP = "http"


class TLSMode(enum.StrEnum):
    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    # plaintext with no upgrade in the protocol (HTTP on 80): the probe looks for the way to TLS
    NONE = "none"


@dataclass(frozen=True, repr=False, eq=False)
class Service(Record):
    """A mail service as a port plan entry: what to speak and how TLS starts."""

    name: str
    protocol: Protocol
    tls_mode: TLSMode
    default_port: int
    description: str

    @property
    def label(self) -> str:
        return self.name


SERVICES: Mapping[str, Service] = FrozenMap({
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
})

# The other secure ports of a mail host, beside the seven mail ones (issue 17). Not in the
# default plan: named with --only/--service or added by group with --also/--services.
OTHER_SERVICES: Mapping[str, Service] = FrozenMap({
    s.name: s
    for s in (
        Service("http", Protocol.HTTP, TLSMode.NONE, 80, "HTTP: redirect to HTTPS (RFC 6797 §7.2)"),
        Service("https", Protocol.HTTP, TLSMode.IMPLICIT, 443, "HTTPS (RFC 9110 §4.2.2), HSTS"),
        Service("ldap", Protocol.LDAP, TLSMode.STARTTLS, 389, "LDAP, StartTLS (RFC 4511 §4.14)"),
        Service("ldaps", Protocol.LDAP, TLSMode.IMPLICIT, 636, "LDAP over implicit TLS"),
        Service("ftp", Protocol.FTP, TLSMode.STARTTLS, 21, "FTP, AUTH TLS (RFC 4217)"),
        Service("ftps", Protocol.FTP, TLSMode.IMPLICIT, 990, "FTP over implicit TLS"),
        Service("nntp", Protocol.NNTP, TLSMode.STARTTLS, 119, "NNTP, STARTTLS (RFC 4642)"),
        Service("nntps", Protocol.NNTP, TLSMode.IMPLICIT, 563, "NNTP, implicit TLS (RFC 4642)"),
    )
})
ALL_SERVICES: Mapping[str, Service] = FrozenMap({**SERVICES, **OTHER_SERVICES})
# --also GROUP / --services GROUP
SERVICE_GROUPS: Mapping[str, tuple[str, ...]] = FrozenMap({
    "mail": tuple(SERVICES),
    "web": ("http", "https"),
    "ldap": ("ldap", "ldaps"),
    "ftp": ("ftp", "ftps"),
    "news": ("nntp", "nntps"),
    "all": tuple(ALL_SERVICES),
})

# The implicit-TLS sibling of each STARTTLS service (RFC 8314 §3).
IMPLICIT_SIBLING: Mapping[str, str] = FrozenMap(
    {"submission": "submissions", "imap": "imaps", "pop3": "pop3s"}
)


@dataclass(frozen=True, repr=False, eq=False)
class Endpoint(Record):
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


@dataclass(frozen=True, repr=False, eq=False)
class TranscriptLine(Record):
    direction: Direction
    text: str
    tls: bool  # inside TLS
    at: float  # seconds since the probe started


@dataclass(frozen=True, repr=False, eq=False)
class CertificateInfo(Record):
    """Facts about one X.509 certificate, parsed by ``mailtls.pki.x509``."""

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
    # TLS Feature extension (RFC 7633) asking for status_request: "OCSP must-staple"
    must_staple: bool = False
    ocsp_urls: tuple[str, ...] = ()  # OCSP responders named in authorityInfoAccess
    # keyIdentifiers (RFC 5280 §4.2.1.1/§4.2.1.2), hex with colons; None when absent: how a
    # missing issuer is named besides its subject (cert.chain.incomplete)
    subject_key_id: str | None = None
    authority_key_id: str | None = None


@dataclass(frozen=True, repr=False, eq=False)
class Verification(Record):
    """OpenSSL's verdict on the chain, as a real mail client or MTA would reach it."""

    trusted: bool
    trust_store: str  # "system" or the --ca-file path
    code: int | None = None  # X509 verify error code when not trusted
    message: str | None = None


@dataclass(frozen=True, repr=False, eq=False)
class TLSSession(Record):
    version: str  # "TLSv1.3", ...
    cipher: str  # OpenSSL name
    cipher_bits: int | None
    chain: tuple[CertificateInfo, ...]  # as the server sent it, leaf first
    verification: Verification
    handshake_seconds: float
    # the chain as DER, leaf first (DANE matches digests of these); not rendered
    chain_der: tuple[bytes, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True, repr=False, eq=False)
class TLSScan(Record):
    """Every protocol version and cipher suite a port accepted, found with hand-built hellos."""

    # TLSVersion.label ("SSLv2", "SSLv3", "TLS 1.0" .. "TLS 1.3") -> accepted (None: not testable)
    versions: Mapping[str, bool | None]
    suites: Mapping[str, tuple[str, ...]]  # version -> IANA suite names, server order if enforced
    server_order: Mapping[str, bool | None]  # version -> does the server impose its own order
    groups: tuple[str, ...]  # TLS 1.3 key-exchange groups accepted
    ecdhe_groups: tuple[str, ...]  # curves accepted for ECDHE in TLS <= 1.2
    dh_bits: int | None  # the smallest DHE prime seen
    secure_renegotiation: bool | None  # RFC 5746 renegotiation_info answered
    connections: int
    seconds: float
    errors: tuple[str, ...] = ()
    # extra hellos after the enumeration (None: not tested, not applicable or no clear answer)
    compression: bool | None = None  # chose DEFLATE when offered (CRIME)
    fallback_scsv: bool | None = None  # refused a lower version carrying TLS_FALLBACK_SCSV
    ocsp_stapling: bool | None = None  # stapled an OCSP response in a TLS <= 1.2 flight

    def __post_init__(self) -> None:
        # callers may pass dicts; the frozen scan keeps read-only copies
        object.__setattr__(self, "versions", frozen_map(self.versions))
        object.__setattr__(self, "suites", frozen_map(self.suites))
        object.__setattr__(self, "server_order", frozen_map(self.server_order))


class StopKind(enum.StrEnum):
    """Why a port's probe stopped before it was done (``PortObservation.error_kind``)."""

    REFUSED = "refused"  # the connection was refused
    FILTERED = "filtered"  # connect timed out
    UNREACHABLE = "unreachable"
    GREETING_TIMEOUT = "greeting_timeout"  # connected, but no greeting
    GREETING_REJECTED = "greeting_rejected"  # the greeting refused the session (554, * BYE)
    READ_TIMEOUT = "read_timeout"  # no answer to a command
    REJECTED = "rejected"  # the server ended the session
    CLOSED = "closed"  # the connection closed under the probe
    PROTOCOL = "protocol"  # an answer the protocol does not allow
    NETWORK = "network"  # any other network failure
    TLS_HANDSHAKE = "tls_handshake"
    DEADLINE = "deadline"  # the scan's deadline passed before the probe finished
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM
    INTERNAL = "internal"  # a bug in mailtls


class ProbeVerdict(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_TESTABLE = "not_testable"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, repr=False, eq=False)
class SecurityProbe(Record):
    """One STARTTLS security probe (command injection, enforcement, ...): what was sent, what
    came back, and whether the fact it looks for was seen."""

    name: str  # stable: "command_injection", "starttls_enforced", ...
    verdict: ProbeVerdict
    reason: str  # one line
    evidence: tuple[str, ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()
    connections: int = 0
    # a stable word qualifying the verdict: "not_advertised", "plaintext_answer", ...
    detail: str | None = None


class LoginOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"  # the server accepted the credentials
    FAILED = "failed"  # the server refused them
    REFUSED_UNVERIFIED = "refused_unverified"  # not sent: the certificate was not verified
    NO_TLS = "no_tls"  # not sent: no TLS session on this port (never before TLS)
    UNSUPPORTED = "unsupported"  # not sent: no mechanism mailtls can use was offered under TLS
    ERROR = "error"  # the session broke before the server answered the credentials


@dataclass(frozen=True, repr=False, eq=False)
class LoginAttempt(Record):
    """The login test of one port (``--user``). Never holds the password."""

    outcome: LoginOutcome
    username: str
    reason: str  # one line
    mechanism: str | None = None  # "AUTHENTICATE PLAIN", "LOGIN", "AUTH PLAIN", "USER/PASS", ...
    reply: tuple[str, ...] = ()  # the server's answer to the credentials, verbatim
    sent: bool = False  # the credentials went on the wire (always inside TLS)
    verified: bool = False  # chain trusted and name matched on the connection that logged in
    override: bool = False  # sent although unverified (--insecure-send-password-to-...)
    tls_version: str | None = None
    connections: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, repr=False, eq=False)
class PortObservation(Record):
    """Everything one probe of one endpoint saw. Verbatim; no judgement."""

    endpoint: Endpoint
    state: PortState
    error: str | None = None  # why the probe stopped early (one line), if it did
    error_kind: StopKind | None = None  # that reason as a stable word
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
    login: LoginAttempt | None = None  # --user: the login test on this port (None: not asked)
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


@dataclass(frozen=True, repr=False, eq=False)
class Finding(Record):
    id: str  # stable dotted id; renaming one breaks users' CI
    severity: Severity
    summary: str  # one line
    endpoint: str | None  # Endpoint.key, or None for a host-level finding
    service: str | None
    evidence: tuple[str, ...]
    reference: str  # "RFC 3207 §4.2"
    remediation: str
    requirement: str | None = None  # MUST / SHOULD / MUST NOT / profile


class CheckOutcome(enum.StrEnum):
    """What became of one check of the catalogue on one endpoint (or once for a host)."""

    PASSED = "passed"  # judged, no finding of it
    FAILED = "failed"  # a finding of it is present, whatever its severity
    SKIPPED = "skipped"  # not judged: the probe did not get that far (the reason says why)


@dataclass(frozen=True, repr=False, eq=False)
class CheckResult(Record):
    """One check judged (or skipped) on one endpoint of a host, or once for the host.

    Made by ``mailtls.checks.outcomes`` from the rule's scope and stage, what the probe got to and
    the findings; JUnit, Prometheus and the HTML matrix read it (findings list only what failed).
    """

    id: str  # the rule's id (or the id of a finding the catalogue does not place there)
    endpoint: str | None  # Endpoint.key; None: a host-wide check
    service: str | None  # the endpoint's service name (one port may be probed as two services)
    outcome: CheckOutcome
    reason: str = ""  # why it was skipped: "port refused", "no TLS session", ...


@dataclass(frozen=True, repr=False, eq=False)
class HostReport(Record):
    name: str
    addresses: tuple[str, ...]
    resolve_error: str | None
    observations: tuple[PortObservation, ...]
    findings: tuple[Finding, ...]
    # why a mail domain check tested this host: "MX 10 of example.com", "SRV _imaps._tcp..."
    roles: tuple[str, ...] = ()
    # every applicable check with its outcome, host-wide first, then per endpoint in catalogue
    # order (mailtls.checks.outcomes.with_checks); a HostReport made by hand has none
    checks: tuple[CheckResult, ...] = ()


# Domain, client and regression records live in modules of their own, loaded on first use
# (``from mailtls.model import DomainReport`` works as ever): a host scan does not build them.
_LAZY: dict[str, str] = {
    **dict.fromkeys((
        "DNSStatus", "RecordType", "DNSLookup", "MXRecord", "SRVRecord", "SRVService",
        "HostAddresses", "FetchError", "PolicyFetch", "Detection", "DomainObservation",
        "DANEVerdict", "DANEResult", "DomainReport",
    ), "mailtls.model.domain"),
    **dict.fromkeys((
        "SocketType", "Role", "SettingMethod", "StepOutcome", "ConfigKind", "ServerSetting",
        "DiscoveryStep", "SettingResult", "ClientPick", "HopTLS", "Hop", "RoundTrip",
        "ClientReport",
    ), "mailtls.model.client"),
    **dict.fromkeys((
        "Outcome", "ExpectationResult", "ChangeKind", "Change",
    ), "mailtls.model.regression"),
}

if TYPE_CHECKING:
    from mailtls.model.client import (
        ClientPick as ClientPick,
        ClientReport as ClientReport,
        ConfigKind as ConfigKind,
        DiscoveryStep as DiscoveryStep,
        Hop as Hop,
        HopTLS as HopTLS,
        Role as Role,
        RoundTrip as RoundTrip,
        ServerSetting as ServerSetting,
        SettingMethod as SettingMethod,
        SettingResult as SettingResult,
        SocketType as SocketType,
        StepOutcome as StepOutcome,
    )
    from mailtls.model.domain import (
        DANEResult as DANEResult,
        DANEVerdict as DANEVerdict,
        Detection as Detection,
        DNSLookup as DNSLookup,
        DNSStatus as DNSStatus,
        DomainObservation as DomainObservation,
        DomainReport as DomainReport,
        FetchError as FetchError,
        HostAddresses as HostAddresses,
        MXRecord as MXRecord,
        PolicyFetch as PolicyFetch,
        RecordType as RecordType,
        SRVRecord as SRVRecord,
        SRVService as SRVService,
    )
    from mailtls.model.regression import (
        Change as Change,
        ChangeKind as ChangeKind,
        ExpectationResult as ExpectationResult,
        Outcome as Outcome,
    )
else:

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # once loaded, a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})


@dataclass(frozen=True, repr=False, eq=False)
class Report(Record):
    started_at: dt.datetime
    seconds: float
    hosts: tuple[HostReport, ...]
    options: Mapping[str, object] = field(default_factory=FrozenMap)
    domains: tuple[DomainReport, ...] = ()  # mail domains (mailtls domain / check --domain)
    # --port25-control: other hosts' port 25, probed only to tell an egress block from a server
    port25_controls: tuple[PortObservation, ...] = ()
    # --expect FILE: each declared expectation, met or broken (mailtls.regression.expect)
    expectations: tuple[ExpectationResult, ...] = ()
    # --baseline FILE: what changed since the baseline (mailtls.regression.diff); None: no baseline
    changes: tuple[Change, ...] | None = None
    client: ClientReport | None = None  # mailtls client: the client configuration verdict

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", frozen_map(self.options))

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (
            tuple(f for h in self.hosts for f in h.findings)
            + tuple(f for d in self.domains for f in d.findings)
            + (self.client.findings if self.client is not None else ())
        )

    @property
    def connections(self) -> int:
        return (
            sum(o.connections for h in self.hosts for o in h.observations)
            + sum(o.connections for o in self.port25_controls)
            + sum(
                d.observation.mta_sts_policy.connections
                for d in self.domains
                if d.observation.mta_sts_policy is not None
            )
            + (self.client.connections if self.client is not None else 0)
        )
