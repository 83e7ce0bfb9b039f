"""Mail domains: what DNS and the MTA-STS web server said (facts; ``checks/domain.py`` judges).

Part of :mod:`mailtls.model` (importable from there, as ``from mailtls.model import
DNSStatus``), in a module of its own so a scan that has no domain records does
not build their classes at start-up (issue 12)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailtls.model.record import Record

if TYPE_CHECKING:
    from mailtls.model import CertificateInfo, Finding, Verification


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
