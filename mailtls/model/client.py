"""Mail clients: configured or discovered settings (``mailtls client``;
``checks/client.py`` judges).

Part of :mod:`mailtls.model` (importable from there, as ``from mailtls.model import
SocketType``), in a module of its own so a scan that has no client records does
not build their classes at start-up (issue 12)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailtls.model.record import Record

if TYPE_CHECKING:
    from mailtls.model import Finding, LoginOutcome, Protocol


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
