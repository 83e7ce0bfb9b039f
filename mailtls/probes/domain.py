"""Discover a mail domain as senders and clients do, and record what DNS and the MTA-STS web
server said: MX (RFC 5321 §5.1, RFC 7505), SRV (RFC 6186, RFC 8314 §5.1), the MTA-STS record
and policy (RFC 8461), TLS-RPT (RFC 8460) and TLSA (RFC 7672). Judges nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mailtls.errors import (
    ConnectRefused,
    ConnectTimeout,
    DNSError,
    MailTLSError,
    ProtocolError,
    ReadTimeout,
    TLSHandshakeError,
    Unreachable,
)
from mailtls.formats.mailpolicy import POLICY_SIZE_LIMIT, STS_TXT_PREFIX, mx_hosts
from mailtls.model import (
    Detection,
    DNSLookup,
    DNSStatus,
    DomainObservation,
    FetchError,
    HostAddresses,
    MXRecord,
    PolicyFetch,
    RecordType,
    SRVRecord,
    SRVService,
    Verification,
)
from mailtls.net.dns import Resolver
from mailtls.net.https import https_context, https_get
from mailtls.net.stream import Timeouts
from mailtls.pki.x509 import chain_info

# RFC 6186 / RFC 8314 §5.1 labels -> the mailtls service each names.
SRV_LABELS: tuple[tuple[str, str], ...] = (
    ("_submissions._tcp", "submissions"),
    ("_submission._tcp", "submission"),
    ("_imaps._tcp", "imaps"),
    ("_imap._tcp", "imap"),
    ("_pop3s._tcp", "pop3s"),
    ("_pop3._tcp", "pop3"),
)
POLICY_PATH = "/.well-known/mta-sts.txt"


@dataclass(frozen=True)
class DomainOptions:
    timeouts: Timeouts
    ca_file: str | None
    smtp_ports: tuple[int, ...]
    mta_sts_port: int  # tests point this at a loopback server; the name stays real
    detected: Detection = Detection.REQUESTED


def _name(text: str) -> str:
    return text.strip().rstrip(".").lower()


async def lookup(resolver: Resolver, name: str, rdtype: RecordType) -> DNSLookup:
    try:
        answer = await resolver.query(name, rdtype)
    except DNSError as exc:
        return DNSLookup(name=_name(name), rdtype=rdtype, status=DNSStatus(exc.status),
                         error=str(exc))
    return DNSLookup(
        name=answer.name, rdtype=rdtype, status=DNSStatus(answer.status),
        records=answer.records, authenticated=answer.authenticated,
        canonical_name=answer.canonical_name, seconds=answer.seconds,
    )


async def host_addresses(resolver: Resolver, name: str) -> HostAddresses:
    a, aaaa = await asyncio.gather(lookup(resolver, name, RecordType.A),
                                   lookup(resolver, name, RecordType.AAAA))
    addresses = tuple(dict.fromkeys(r for r in (*a.records, *aaaa.records)))
    return HostAddresses(_name(name), addresses, (a, aaaa))


def parse_mx(records: Sequence[str]) -> tuple[MXRecord, ...]:
    out = []
    for text in records:
        preference, _, exchange = text.partition(" ")
        try:
            out.append(MXRecord(int(preference), _name(exchange)))
        except ValueError:
            continue
    return tuple(sorted(out, key=lambda r: (r.preference, r.exchange)))


def parse_srv(records: Sequence[str]) -> tuple[SRVRecord, ...]:
    out = []
    for text in records:
        parts = text.split()
        if len(parts) != 4:
            continue
        try:
            out.append(SRVRecord(int(parts[0]), int(parts[1]), int(parts[2]), _name(parts[3])))
        except ValueError:
            continue
    return tuple(sorted(out, key=lambda r: (r.priority, -r.weight, r.target, r.port)))


async def _srv(resolver: Resolver, domain: str, label: str, service: str) -> SRVService:
    found = await lookup(resolver, f"{label}.{domain}", RecordType.SRV)
    return SRVService(label, service, found, parse_srv(found.records))


async def discover(resolver: Resolver, domain: str, options: DomainOptions) -> DomainObservation:
    started = time.monotonic()
    domain = _name(domain)
    mx_task = lookup(resolver, domain, RecordType.MX)
    own_task = host_addresses(resolver, domain)
    srv_tasks = [_srv(resolver, domain, label, service) for label, service in SRV_LABELS]
    sts_task = lookup(resolver, f"_mta-sts.{domain}", RecordType.TXT)
    rpt_task = lookup(resolver, f"_smtp._tls.{domain}", RecordType.TXT)
    (mx, own, sts_txt, rpt_txt), srv = await asyncio.gather(
        asyncio.gather(mx_task, own_task, sts_task, rpt_task), asyncio.gather(*srv_tasks)
    )
    mx_records = parse_mx(mx.records) if mx.status is DNSStatus.ANSWER else ()
    implicit = mx.status is DNSStatus.NODATA or (
        mx.status is DNSStatus.ANSWER and not mx_records
    )
    names = mx_hosts(mx_records)
    if implicit and own.addresses:
        names = [domain]
    srv_targets = [r.target for s in srv for r in s.records if r.target]
    wanted = [n for n in dict.fromkeys([*names, *srv_targets]) if n != domain or not implicit]
    resolved = await asyncio.gather(*(host_addresses(resolver, n) for n in wanted))
    hosts = ((own,) if implicit and own.addresses else ()) + tuple(resolved)
    tlsa_names = [f"_{port}._tcp.{n}" for n in names for port in options.smtp_ports]
    policy_task = (
        _fetch_policy(resolver, domain, options)
        if any(r.startswith(STS_TXT_PREFIX) for r in sts_txt.records)
        else None
    )
    tlsa, policy = await asyncio.gather(
        asyncio.gather(*(lookup(resolver, n, RecordType.TLSA) for n in tlsa_names)),
        policy_task if policy_task is not None else _none(),
    )
    return DomainObservation(
        domain=domain,
        resolver=resolver.description,
        resolver_trusted=resolver.trusted,
        detected=options.detected,
        mx=mx,
        mx_records=mx_records,
        implicit_mx=implicit,
        own=own,
        hosts=hosts,
        smtp_ports=options.smtp_ports,
        tlsa=tuple(tlsa),
        srv=tuple(srv),
        mta_sts_txt=sts_txt,
        mta_sts_policy=policy,
        tls_rpt_txt=rpt_txt,
        seconds=round(time.monotonic() - started, 3),
    )


async def _none() -> None:
    return None


def _error_kind(exc: MailTLSError) -> FetchError:
    if isinstance(exc, ConnectRefused):
        return FetchError.REFUSED
    if isinstance(exc, ConnectTimeout):
        return FetchError.CONNECT_TIMEOUT
    if isinstance(exc, Unreachable):
        return FetchError.UNREACHABLE
    if isinstance(exc, TLSHandshakeError):
        return FetchError.TLS
    if isinstance(exc, ReadTimeout):
        return FetchError.TIMEOUT
    if isinstance(exc, ProtocolError):
        return FetchError.PROTOCOL
    return FetchError.NETWORK


async def _fetch_policy(
    resolver: Resolver, domain: str, options: DomainOptions
) -> PolicyFetch:
    """RFC 8461 §3.3: GET https://mta-sts.<domain>/.well-known/mta-sts.txt, chain verified,
    no redirects, size-limited; each address of the policy host until one answers."""
    started = time.monotonic()
    host = f"mta-sts.{domain}"
    url = f"https://{host}{POLICY_PATH}"
    port = options.mta_sts_port
    trust = options.ca_file or "system"
    found = await host_addresses(resolver, host)
    if not found.addresses:
        failed = [lk for lk in found.lookups if lk.status.failed]
        detail = failed[0].error if failed else f"{host} has no A or AAAA record"
        return PolicyFetch(url=url, host=host, address=None, port=port,
                           error=f"cannot resolve the policy host: {detail}",
                           error_kind=FetchError.RESOLVE, seconds=_since(started))
    connections = 0
    last: PolicyFetch | None = None
    for address in found.addresses:
        connections += 1
        try:
            response = await https_get(
                host, POLICY_PATH, address=address, port=port,
                context=https_context(verify=True, ca_file=options.ca_file),
                timeouts=options.timeouts, max_bytes=POLICY_SIZE_LIMIT,
            )
            verification = Verification(trusted=True, trust_store=trust)
            unverified = False
        except TLSHandshakeError as exc:
            if exc.verify_code is None:
                last = PolicyFetch(url=url, host=host, address=address, port=port,
                                   error=str(exc), error_kind=FetchError.TLS,
                                   connections=connections, seconds=_since(started))
                continue
            # Verify first, inspect second: fetch again without verification so the report
            # can show the certificate (and the policy a sender would never have accepted).
            verification = Verification(trusted=False, trust_store=trust, code=exc.verify_code,
                                        message=exc.verify_message)
            connections += 1
            try:
                response = await https_get(
                    host, POLICY_PATH, address=address, port=port,
                    context=https_context(verify=False), timeouts=options.timeouts,
                    max_bytes=POLICY_SIZE_LIMIT,
                )
            except MailTLSError:
                return PolicyFetch(url=url, host=host, address=address, port=port,
                                   verification=verification, error=str(exc),
                                   error_kind=FetchError.TLS, connections=connections,
                                   seconds=_since(started))
            unverified = True
        except (ConnectRefused, ConnectTimeout, Unreachable) as exc:
            last = PolicyFetch(url=url, host=host, address=address, port=port, error=str(exc),
                               error_kind=_error_kind(exc), connections=connections,
                               seconds=_since(started))
            continue
        except MailTLSError as exc:
            return PolicyFetch(url=url, host=host, address=address, port=port, error=str(exc),
                               error_kind=_error_kind(exc), connections=connections,
                               seconds=_since(started))
        certificate = None
        if response.peer_chain_der:
            try:
                certificate = chain_info(response.peer_chain_der[:1])[0]
            except ProtocolError:
                certificate = None
        return PolicyFetch(
            url=url, host=host, address=address, port=port,
            status=response.status, content_type=response.content_type,
            location=response.location,
            body=response.body.decode("ascii", "backslashreplace"),
            size=len(response.body), truncated=response.truncated,
            tls_version=response.tls_version, certificate=certificate,
            verification=verification, unverified=unverified,
            connections=connections, seconds=_since(started),
        )
    assert last is not None
    return last


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
