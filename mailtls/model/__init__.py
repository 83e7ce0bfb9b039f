"""Frozen data: what a scan plans, what probes observe, what checks find.

Probes fill the observation types verbatim; checks read them and emit ``Finding``s; renderers
read the ``Report``. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

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


# --- mail domains: what DNS and the MTA-STS web server said (facts; checks/domain.py judges) ----


class DNSStatus(enum.StrEnum):
    ANSWER = "answer"  # at least one record of the type asked for
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists without records of this type
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    ERROR = "error"  # anything else that gave no answer (no resolver, malformed reply, ...)

    @property
    def failed(self) -> bool:
        """No answer at all: the question is still open."""
        return self in (DNSStatus.SERVFAIL, DNSStatus.REFUSED, DNSStatus.TIMEOUT, DNSStatus.ERROR)


class RecordType(enum.StrEnum):
    """The DNS record types mailtls asks for."""

    MX = "MX"
    SRV = "SRV"
    TXT = "TXT"
    TLSA = "TLSA"
    A = "A"
    AAAA = "AAAA"


@dataclass(frozen=True, repr=False, eq=False)
class DNSLookup(Record):
    """One DNS question and its answer, verbatim."""

    name: str  # without the trailing dot
    rdtype: RecordType
    status: DNSStatus
    # MX "10 mx.example.com."; SRV "0 1 465 mail.example.com."; TLSA "3 1 1 <hex>";
    # TXT the strings of one record joined; A/AAAA the address
    records: tuple[str, ...] = ()
    authenticated: bool = False  # the resolver set the AD bit (DNSSEC-validated)
    canonical_name: str | None = None  # the answer came through a CNAME to this name
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, repr=False, eq=False)
class MXRecord(Record):
    preference: int
    exchange: str  # lower case without the trailing dot; "" for the null MX "."


@dataclass(frozen=True, repr=False, eq=False)
class SRVRecord(Record):
    priority: int
    weight: int
    port: int
    target: str  # lower case without the trailing dot; "" for "." (service not offered)


@dataclass(frozen=True, repr=False, eq=False)
class SRVService(Record):
    """The SRV RRset of one RFC 6186/8314 label."""

    label: str  # "_imaps._tcp"
    service: str  # the mailtls service it names: "imaps"
    lookup: DNSLookup
    records: tuple[SRVRecord, ...]


@dataclass(frozen=True, repr=False, eq=False)
class HostAddresses(Record):
    """The A and AAAA answers of one name (an MX host, an SRV target, the domain itself)."""

    name: str
    addresses: tuple[str, ...]
    lookups: tuple[DNSLookup, ...]


class FetchError(enum.StrEnum):
    """Why an HTTPS fetch of an MTA-STS policy failed (``PolicyFetch.error_kind``)."""

    RESOLVE = "resolve"  # the policy host has no address
    REFUSED = "refused"
    CONNECT_TIMEOUT = "connect_timeout"
    UNREACHABLE = "unreachable"
    TLS = "tls"  # the handshake failed or the certificate did not verify
    TIMEOUT = "timeout"  # no (complete) answer in time
    PROTOCOL = "protocol"  # not HTTP
    NETWORK = "network"  # any other network failure


@dataclass(frozen=True, repr=False, eq=False)
class PolicyFetch(Record):
    """The HTTPS GET of an MTA-STS policy (RFC 8461 §3.3): what the web server did."""

    url: str  # https://mta-sts.<domain>/.well-known/mta-sts.txt
    host: str  # mta-sts.<domain>: SNI, Host header and the certificate's reference identity
    address: str | None  # where we connected
    port: int
    status: int | None = None
    content_type: str | None = None
    location: str | None = None  # of a redirect (never followed)
    body: str = ""  # as received (at most the size limit), non-ASCII escaped
    size: int = 0  # bytes read
    truncated: bool = False  # the body went on past the size limit
    tls_version: str | None = None
    certificate: CertificateInfo | None = None
    verification: Verification | None = None
    # only when the chain was untrusted: the body was fetched again without verification, to
    # report its syntax too (a sender would not get this far)
    unverified: bool = False
    error: str | None = None
    error_kind: FetchError | None = None
    connections: int = 0
    seconds: float = 0.0


class Detection(enum.StrEnum):
    """Why a name was checked as a mail domain."""

    REQUESTED = "requested"  # mailtls domain / --domain
    MX = "mx"  # mailtls check found MX records for it


@dataclass(frozen=True, repr=False, eq=False)
class DomainObservation(Record):
    """Everything DNS and the policy web server said about one mail domain."""

    domain: str
    resolver: str  # "127.0.0.1:5353" or "system (...)"
    resolver_trusted: bool  # the AD bit counts (a resolver the user named, or on loopback)
    detected: Detection
    mx: DNSLookup
    mx_records: tuple[MXRecord, ...]
    implicit_mx: bool  # no MX: the domain's own A/AAAA act as its MX (RFC 5321 §5.1)
    own: HostAddresses | None  # the domain's own A/AAAA (asked when there is no MX, or to say
    # which was tested when there is)
    hosts: tuple[HostAddresses, ...]  # every MX host and SRV target, each once
    smtp_ports: tuple[int, ...]  # the ports MX hosts were tested on (25 unless --service smtp=)
    tlsa: tuple[DNSLookup, ...]  # _PORT._tcp.<mx> TLSA, per MX host and SMTP port
    srv: tuple[SRVService, ...]
    mta_sts_txt: DNSLookup | None
    mta_sts_policy: PolicyFetch | None
    tls_rpt_txt: DNSLookup | None
    seconds: float = 0.0


class DANEVerdict(enum.StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NO_TLS = "no_tls"
    NO_USABLE_RECORDS = "no_usable_records"


@dataclass(frozen=True, repr=False, eq=False)
class DANEResult(Record):
    """Does the chain an MX endpoint presented match its TLSA RRset (RFC 7672 §3)?"""

    endpoint: str  # Endpoint.key
    host: str  # the MX host (TLSA base domain)
    tlsa_name: str  # _25._tcp.<host>
    authenticated: bool  # the TLSA RRset was DNSSEC-validated by a trusted resolver
    usable: tuple[str, ...]  # the records usable for SMTP (usage 2/3, known selector/type)
    matched: str | None  # the record that matched, verbatim
    matched_depth: int | None  # which certificate of the chain it matched (0 = leaf)
    verdict: DANEVerdict


@dataclass(frozen=True, repr=False, eq=False)
class DomainReport(Record):
    name: str
    observation: DomainObservation
    findings: tuple[Finding, ...]
    dane: tuple[DANEResult, ...] = ()
    hosts: tuple[str, ...] = ()  # names of the HostReports tested for this domain


# --- mail clients: configured or discovered settings (mailtls client; checks/client.py judges) ---


class SocketType(enum.StrEnum):
    """How a client is told to secure one server (autoconfig's socketType, normalised)."""

    SSL = "ssl"  # implicit TLS from the first byte ("SSL/TLS")
    STARTTLS = "starttls"  # STARTTLS required: disconnect if it fails
    TRY_STARTTLS = "try_starttls"  # STARTTLS if offered, else plaintext (Thunderbird's legacy 1)
    PLAIN = "plain"  # no TLS at all

    @property
    def label(self) -> str:
        return {"ssl": "SSL/TLS", "starttls": "STARTTLS", "try_starttls": "STARTTLS if available",
                "plain": "none (plaintext)"}[self.value]


class Role(enum.StrEnum):
    """Which side of a mail client a server is for."""

    INCOMING = "incoming"  # IMAP, POP3: reading mail
    OUTGOING = "outgoing"  # SMTP submission: sending mail


class SettingMethod(enum.StrEnum):
    """Where a client setting, or a step of the discovery, came from."""

    FILE = "file"  # a configuration file (--config)
    AUTOCONFIG = "autoconfig"  # autoconfig.<domain>
    AUTOCONFIG_WELL_KNOWN = "autoconfig-well-known"  # <domain>/.well-known/autoconfig
    MX_AUTOCONFIG = "mx-autoconfig"  # autoconfig of the MX host's domain
    SRV = "srv"  # RFC 6186 / RFC 8314 SRV records
    GUESS = "guess"  # Thunderbird's guesses (imap.<domain>, ...)
    RECOMMENDED = "recommended"  # a setting mailtls recommends after testing the servers


class StepOutcome(enum.StrEnum):
    """What one lookup of the client discovery gave."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    UNTRUSTED = "untrusted"
    INVALID = "invalid"
    ERROR = "error"
    SKIPPED = "skipped"


class ConfigKind(enum.StrEnum):
    """The kinds of client configuration file ``mailtls client --config`` reads."""

    AUTOCONFIG = "autoconfig"
    PREFS_JS = "prefs.js"
    MOBILECONFIG = "mobileconfig"


@dataclass(frozen=True, repr=False, eq=False)
class ServerSetting(Record):
    """One incoming or outgoing server as a client would be configured with it."""

    role: Role
    protocol: Protocol
    host: str
    port: int
    socket: SocketType
    source: str  # where it came from: "prefs.js mail.server.server2", "SRV _imaps._tcp...", ...
    method: SettingMethod
    configured: str = ""  # the setting's own words: "socketType=STARTTLS", "UseSSL=true", ...
    authentication: tuple[str, ...] = ()  # "password-cleartext", "OAuth2", "EmailAuthPassword"
    username: str | None = None  # with %EMAILADDRESS% & co. already substituted when known
    priority: int = 0  # order within its source (SRV priority; position in the file)


@dataclass(frozen=True, repr=False, eq=False)
class DiscoveryStep(Record):
    """One lookup of the discovery, in the order clients make them."""

    method: SettingMethod  # never FILE or RECOMMENDED
    target: str  # the URL or DNS name asked
    outcome: StepOutcome
    detail: str  # one line
    settings: tuple[ServerSetting, ...] = ()
    domains: tuple[str, ...] = ()  # autoconfig: the domains its emailProvider lists
    authenticated: bool = False  # DNS: the answer was DNSSEC-validated (AD from a trusted resolver)
    connections: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, repr=False, eq=False)
class SettingResult(Record):
    """A setting checked against what its server did on the configured port."""

    setting: ServerSetting
    service: str  # the mailtls service it was probed as: "imaps", "submission", ...
    endpoints: tuple[str, ...]  # Endpoint.key of every address probed
    works: bool  # the configured mode worked (on at least one address)
    secure: bool  # TLS required, certificate verified for the configured host, TLS >= 1.2
    verdict: str  # one line
    login: LoginOutcome | None = None  # the login test's outcome there, if --user


@dataclass(frozen=True, repr=False, eq=False)
class ClientPick(Record):
    """What one kind of client ends up with for one role."""

    client: str  # "Thunderbird", "Thunderbird for Android / K-9 Mail", "RFC 6186 (SRV)", ...
    role: Role
    setting: ServerSetting | None
    secure: bool | None  # None: nothing picked or not tested
    note: str


class HopTLS(enum.StrEnum):
    """What a ``Received:`` header says about the TLS of its hop."""

    TLS = "tls"
    NONE = "none"
    LOCAL = "local"  # no network: LMTP over a socket, local pickup
    UNKNOWN = "unknown"


@dataclass(frozen=True, repr=False, eq=False)
class Hop(Record):
    """One ``Received:`` header of the round-trip message (RFC 5321 §4.4), top = last hop."""

    index: int  # 1 = the topmost Received (the last hop, into the mailbox)
    by: str
    from_: str
    with_: str  # the protocol word: ESMTPSA, ESMTPS, LMTP, ... (RFC 3848)
    tls: HopTLS
    detail: str  # what the header says about TLS, e.g. "TLSv1.3 with cipher TLS_AES_..."
    raw: str


@dataclass(frozen=True, repr=False, eq=False)
class RoundTrip(Record):
    """``mailtls client --round-trip``: one tagged message submitted and looked for."""

    tag: str
    timeout: float
    attempts: tuple[str, ...]  # one line per configuration tried, in order
    submission: str | None  # "mail.example.test:465 implicit TLS" when one worked
    submission_tls: str | None
    retrieval: str | None  # "imap mail.example.test:993 implicit TLS"
    retrieval_tls: str | None
    submitted: bool
    delivered: bool
    delivery_seconds: float | None
    hops: tuple[Hop, ...] = ()
    authentication_results: tuple[str, ...] = ()
    deleted: bool = False
    error: str | None = None  # why it stopped, one line


@dataclass(frozen=True, repr=False, eq=False)
class ClientReport(Record):
    address: str | None  # user@example.com (None: a configuration file without an address)
    domain: str | None
    config_file: str | None  # --config FILE
    config_kind: ConfigKind | None
    steps: tuple[DiscoveryStep, ...]
    settings: tuple[SettingResult, ...]  # configured or discovered, each checked
    picks: tuple[ClientPick, ...]
    recommended: tuple[SettingResult, ...]  # the most secure setting that works, per role
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    round_trip: RoundTrip | None = None  # --round-trip

    @property
    def connections(self) -> int:
        return sum(s.connections for s in self.steps)


# --- regression testing: declared expectations and baseline changes (mailtls.regression) ---


class Outcome(enum.StrEnum):
    MET = "met"
    BROKEN = "broken"
    UNKNOWN = "unknown"  # could not be evaluated: the port was not tested, not in the scan, ...


@dataclass(frozen=True, repr=False, eq=False)
class ExpectationResult(Record):
    """One expectation of an ``--expect`` file, checked against what the scan saw."""

    id: str  # stable: "port.open", "port.closed", "tls.min_version", "cert.min_days", ...
    host: str
    subject: str  # what it is about: "submission (587)", "127.0.0.1:465", "cert.*"
    expected: str  # one line: "open", ">= TLS 1.2", ">= 14 days", "no finding worse than warn"
    observed: str  # one line: "refused", "TLS 1.0 accepted", "12.5 days", ...
    outcome: Outcome
    evidence: tuple[str, ...] = ()


class ChangeKind(enum.StrEnum):
    """The kinds of change between a baseline and a newer report (``mailtls.regression.diff``)."""

    FINDING_NEW = "finding.new"
    FINDING_RESOLVED = "finding.resolved"
    FINDING_SEVERITY = "finding.severity"
    PORT_CLOSED = "port.closed"
    PORT_OPENED = "port.opened"
    PORT_STATE = "port.state"
    TLS_LOST = "tls.lost"
    TLS_GAINED = "tls.gained"
    TLS_NEGOTIATED = "tls.negotiated"
    TLS_CIPHER = "tls.cipher"
    TLS_VERSION_GAINED = "tls.version.gained"
    TLS_VERSION_LOST = "tls.version.lost"
    TLS_SUITES_GAINED = "tls.suites.gained"
    TLS_SUITES_LOST = "tls.suites.lost"
    CAPABILITY_GAINED = "capability.gained"
    CAPABILITY_LOST = "capability.lost"
    CERT_CHANGED = "cert.changed"
    HOST_ADDED = "host.added"
    HOST_REMOVED = "host.removed"
    HOST_UNRESOLVED = "host.unresolved"
    HOST_RESOLVED = "host.resolved"
    ENDPOINT_ADDED = "endpoint.added"
    ENDPOINT_REMOVED = "endpoint.removed"


@dataclass(frozen=True, repr=False, eq=False)
class Change(Record):
    """One difference between a baseline report and a newer one."""

    kind: ChangeKind  # stable
    host: str
    endpoint: str | None  # Endpoint.key, or None for the host as a whole
    summary: str  # one line
    regression: bool  # the deployment got worse
    old: str | None = None
    new: str | None = None
    finding_id: str | None = None  # for finding.* changes
    severity: Severity | None = None  # for finding.* changes: the finding's (new) severity


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
