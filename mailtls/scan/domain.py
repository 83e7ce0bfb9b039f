"""Mail domains in a scan: which names are domains, what their DNS says, which hosts and ports
that makes (the targets ``scan`` probes), and the domain's own judgement afterwards.

How a name becomes a domain (documented in the README and ``mailtls domain --help``):

* ``mailtls domain NAME`` and ``mailtls check --domain NAME``: always a mail domain.
* ``mailtls check NAME``: a host, exactly as before, unless ``--domain``/``--host`` say
  otherwise or all of these hold, in which case its MX RRset is asked for and a name with MX
  records (a null MX included) is checked as a mail domain: no ``--address``, ``--only`` or
  ``--service``; NAME is not an IP address; and either ``--resolver`` was given or NAME is not
  a special-use name (RFC 6761: ``.test``, ``.invalid``, ``.example``, ``.localhost``,
  ``localhost``), which never has public MX records. A lookup that fails leaves NAME a host.

A domain's targets: every MX host in preference order, every A/AAAA of each, on port 25 (or
the ports of ``--service smtp=PORT``), plus the other services the user named; without MX the
domain's own addresses (RFC 5321 §5.1); every SRV target (RFC 6186, RFC 8314) on the port and
service its label names. A host named several times is probed once, on the union of its ports.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailtls.checks.domain import judge_domain
from mailtls.checks.judge import Judgement
from mailtls.formats.mailpolicy import mx_hosts
from mailtls.model import (
    SERVICES,
    Detection,
    DNSStatus,
    DomainObservation,
    DomainReport,
    HostAddresses,
    HostReport,
    RecordType,
)
from mailtls.net.dns import Resolver
from mailtls.net.stream import Timeouts
from mailtls.probes.domain import DomainOptions, discover, host_addresses, lookup
from mailtls.scan.plan import PlannedService, ScanTarget

SPECIAL_USE_SUFFIXES = (".test", ".invalid", ".example", ".localhost")


def is_special_use(name: str) -> bool:
    n = name.lower().rstrip(".")
    return n == "localhost" or n in {s[1:] for s in SPECIAL_USE_SUFFIXES} or n.endswith(
        SPECIAL_USE_SUFFIXES
    )


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def may_detect(name: str, *, resolver_given: bool) -> bool:
    return not _is_ip(name) and (resolver_given or not is_special_use(name))


async def has_mx(resolver: Resolver, name: str) -> tuple[bool, str]:
    """Does ``name`` have MX records? And a one-line reason for the report's options."""
    found = await lookup(resolver, name, RecordType.MX)
    if found.status is DNSStatus.ANSWER:
        return True, f"{name} has MX records: checked as a mail domain"
    if found.status.failed:
        return False, f"MX lookup failed ({found.error}): checked as a host"
    return False, f"{name} has no MX records: checked as a host"


async def address_lookup(resolver: Resolver, name: str) -> tuple[list[str], str | None]:
    """A host's addresses through the scan's resolver (``--resolver``), as ``scan`` wants them."""
    found = await host_addresses(resolver, name)
    return list(found.addresses), _address_error(found)


def mx_plan(plan: Sequence[PlannedService]) -> tuple[PlannedService, ...]:
    """SMTP on 25 (or where ``--service smtp=PORT`` says), plus what the user named."""
    named = [p for p in plan if p.requested]
    smtp = [p for p in named if p.service.name == "smtp"] or [
        PlannedService(SERVICES["smtp"], 25, True)
    ]
    return (*smtp, *(p for p in named if p.service.name != "smtp"))


@dataclass
class _Merged:
    addresses: tuple[str, ...]
    error: str | None
    plan: dict[tuple[str, int], PlannedService] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)


def _address_error(h: HostAddresses) -> str | None:
    if h.addresses:
        return None
    failed = [lk for lk in h.lookups if lk.status.failed]
    if failed:
        return f"{h.name}: {failed[0].error or failed[0].status.value}"
    if any(lk.status is DNSStatus.NXDOMAIN for lk in h.lookups):
        return f"{h.name}: no such name (NXDOMAIN)"
    return f"{h.name}: no A or AAAA record"


def targets_of(
    observations: Sequence[DomainObservation], plan: Sequence[PlannedService]
) -> tuple[ScanTarget, ...]:
    merged: dict[str, _Merged] = {}

    def add(name: str, service: PlannedService, role: str, by_name: dict[str, HostAddresses]
            ) -> None:
        h = by_name.get(name)
        if h is None:
            return
        entry = merged.setdefault(name, _Merged(h.addresses, _address_error(h)))
        entry.plan.setdefault((service.service.name, service.port), service)
        if role not in entry.roles:
            entry.roles.append(role)

    for obs in observations:
        by_name = {h.name: h for h in obs.hosts}
        smtp_plan = mx_plan(plan)
        if obs.implicit_mx:
            for p in smtp_plan:
                add(obs.domain, p, f"address fallback of {obs.domain} (no MX, RFC 5321 §5.1)",
                    by_name)
        for name in mx_hosts(obs.mx_records):
            pref = min(r.preference for r in obs.mx_records if r.exchange == name)
            for p in smtp_plan:
                add(name, p, f"MX {pref} of {obs.domain}", by_name)
        for srv in obs.srv:
            for r in srv.records:
                if not r.target or r.port == 0:
                    continue
                planned = PlannedService(SERVICES[srv.service], r.port, True)
                add(r.target, planned, f"SRV {srv.label}.{obs.domain} (priority {r.priority})",
                    by_name)
    return tuple(
        ScanTarget(name, m.addresses if m.error is None else (), tuple(m.plan.values()),
                   m.error, tuple(m.roles))
        for name, m in merged.items()
    )


async def discover_all(
    resolver: Resolver,
    domains: Sequence[tuple[str, Detection]],
    *,
    plan: Sequence[PlannedService],
    timeouts: Timeouts,
    ca_file: str | None,
    mta_sts_port: int,
) -> tuple[DomainObservation, ...]:
    """``domains``: (name, how it was decided: "requested" or "mx")."""
    smtp_ports = tuple(dict.fromkeys(p.port for p in mx_plan(plan) if p.service.name == "smtp"))
    return tuple(await asyncio.gather(*(
        discover(resolver, name, DomainOptions(
            timeouts=timeouts, ca_file=ca_file, smtp_ports=smtp_ports,
            mta_sts_port=mta_sts_port, detected=detected,
        ))
        for name, detected in domains
    )))


def domain_reports(
    observations: Sequence[DomainObservation],
    hosts: Sequence[HostReport],
    judgement: Judgement,
) -> tuple[DomainReport, ...]:
    out = []
    for obs in observations:
        names = {h.name for h in obs.hosts}
        mine = [h for h in hosts if h.name in names]
        findings, dane = judge_domain(obs, mine, judgement)
        out.append(DomainReport(obs.domain, obs, tuple(findings), tuple(dane),
                                tuple(h.name for h in mine)))
    return tuple(out)
