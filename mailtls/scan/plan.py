"""What a scan probes: the planned services (``--only``, ``--service``, ``--services``,
``--also``) and the targets they make, a host with its addresses and ports.

Both ``scan/host.py`` (which runs the plan) and ``scan/domain.py`` (which turns a mail domain's
MX hosts and SRV targets into targets) use these, so they live apart from either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailtls.errors import UsageError
from mailtls.model import ALL_SERVICES, SERVICE_GROUPS, SERVICES, Service
from mailtls.model.ports import MAX_PORT, is_port


@dataclass(frozen=True)
class PlannedService:
    service: Service
    port: int
    requested: bool  # named by the user: unreachable means "could not test", not "not offered"


def default_plan() -> tuple[PlannedService, ...]:
    return tuple(PlannedService(s, s.default_port, False) for s in SERVICES.values())


def parse_plan(
    only: Sequence[str],
    services: Sequence[str],
    also: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> tuple[PlannedService, ...]:
    """``--only smtp,imaps``, ``--service submission=2587``, ``--services GROUP,...`` and
    ``--also GROUP,...``; with none of them, the seven mail services.

    Named services (--only/--service) must be testable (``requested``); services that come in
    with a group (--services/--also: web, ldap, ftp, news, mail, all) are planned like the
    default seven: a closed one is "not offered". ``--also`` adds to the default seven unless
    --only/--service/--services chose the services."""
    plan: list[PlannedService] = []
    for item in only:
        names = _names(item)
        if not names:
            raise UsageError(f"--only {item!r} names no service (known: {', '.join(SERVICES)})")
        for name in names:
            if name not in ALL_SERVICES:
                raise UsageError(f"unknown service {name!r} (known: {', '.join(ALL_SERVICES)})")
            plan.append(PlannedService(ALL_SERVICES[name], ALL_SERVICES[name].default_port, True))
    for item in services:
        name, sep, port_text = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in ALL_SERVICES:
            raise UsageError(
                f"--service wants NAME=PORT with NAME one of {', '.join(ALL_SERVICES)}; "
                f"got {item!r}"
            )
        plan.append(PlannedService(ALL_SERVICES[name], parse_port(port_text), True))
    plan.extend(_group_plan(groups, "--services"))
    extra = _group_plan(also, "--also")
    if not plan:
        plan = list(default_plan()) if extra or not (only or services or groups) else plan
    plan.extend(extra)
    unique: dict[tuple[str, int], PlannedService] = {}
    for p in plan:
        unique.setdefault((p.service.name, p.port), p)
    return tuple(unique.values())


def _names(item: str) -> list[str]:
    return [n for n in (n.strip().lower() for n in item.split(",")) if n]


def _group_plan(items: Sequence[str], option: str) -> list[PlannedService]:
    """The services of the groups (or single services) named, at their standard ports."""
    out: list[PlannedService] = []
    for item in items:
        for name in _names(item):
            members = SERVICE_GROUPS.get(name) or ((name,) if name in ALL_SERVICES else None)
            if members is None:
                raise UsageError(
                    f"{option}: unknown group or service {name!r} (groups: "
                    f"{', '.join(SERVICE_GROUPS)}; or a service name)"
                )
            out.extend(PlannedService(ALL_SERVICES[m], ALL_SERVICES[m].default_port, False)
                       for m in members)
    return out


def parse_port(text: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        raise UsageError(f"not a port number: {text!r}") from None
    if not is_port(port):
        raise UsageError(f"port out of range 1-{MAX_PORT}: {port}")
    return port


@dataclass(frozen=True)
class ScanTarget:
    """One host with its own addresses and ports (a mail domain's MX host or SRV target)."""

    host: str
    addresses: tuple[str, ...]
    plan: tuple[PlannedService, ...]
    resolve_error: str | None = None
    roles: tuple[str, ...] = ()
