"""Plan the endpoints of a scan and run their probes concurrently under limits and a deadline."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailtls.checks.judge import Judgement, judge_host
from mailtls.errors import NameNotResolved, UsageError
from mailtls.model import SERVICES, Endpoint, HostReport, PortState, Report, Service
from mailtls.net.stream import Timeouts, resolve
from mailtls.probes import deep_probes
from mailtls.probes.mailport import ProbeOptions, probe_port
from mailtls.probes.session import Recorder


@dataclass(frozen=True)
class PlannedService:
    service: Service
    port: int
    requested: bool  # named by the user: unreachable means "could not test", not "not offered"


def default_plan() -> tuple[PlannedService, ...]:
    return tuple(PlannedService(s, s.default_port, False) for s in SERVICES.values())


def parse_plan(only: Sequence[str], services: Sequence[str]) -> tuple[PlannedService, ...]:
    """``--only smtp,imaps`` and ``--service submission=2587``; neither gives all seven."""
    plan: list[PlannedService] = []
    for item in only:
        for name in filter(None, (n.strip().lower() for n in item.split(","))):
            if name not in SERVICES:
                raise UsageError(f"unknown service {name!r} (known: {', '.join(SERVICES)})")
            plan.append(PlannedService(SERVICES[name], SERVICES[name].default_port, True))
    for item in services:
        name, sep, port_text = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in SERVICES:
            raise UsageError(
                f"--service wants NAME=PORT with NAME one of {', '.join(SERVICES)}; got {item!r}"
            )
        plan.append(PlannedService(SERVICES[name], parse_port(port_text), True))
    if not plan:
        return default_plan()
    unique: dict[tuple[str, int], PlannedService] = {}
    for p in plan:
        unique.setdefault((p.service.name, p.port), p)
    return tuple(unique.values())


def parse_port(text: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        raise UsageError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"port out of range 1-65535: {port}")
    return port


def check_host_name(host: str) -> str:
    """Refuse what cannot be a host before any I/O: empty, spaces, URLs, over-long labels."""
    name = host.strip()
    if not name:
        raise UsageError("empty host name")
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        return bare
    if any(c.isspace() for c in name) or "/" in name or "@" in name or ":" in name:
        raise UsageError(f"not a host name: {host!r} (give a name like mail.example.com)")
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or any(not label or len(label) > 63 for label in labels):
        raise UsageError(f"not a valid host name: {host!r}")
    return name


@dataclass(frozen=True)
class ScanRequest:
    hosts: tuple[str, ...]
    plan: tuple[PlannedService, ...] = field(default_factory=default_plan)
    addresses: tuple[str, ...] = ()  # connect here instead of resolving (names stay for TLS)
    timeouts: Timeouts = field(default_factory=Timeouts)
    deadline: float = 60.0
    max_connections: int = 5  # at once per address: be polite, avoid tripping rate limits
    ca_file: str | None = None
    warn_days: int = 30
    quick: bool = False  # one connection per port: no suite enumeration, no security probes
    profile: str = "mail"  # yardstick for the enumerated TLS parameters
    relay_test: bool = False  # opt-in open-relay probe on port 25
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)


async def _resolve(host: str, request: ScanRequest) -> tuple[list[str], str | None]:
    if request.addresses:
        return list(request.addresses), None
    try:
        async with asyncio.timeout(max(request.timeouts.connect, 1.0) * 2):
            return await resolve(host), None
    except NameNotResolved as exc:
        return [], str(exc)
    except TimeoutError:
        return [], f"{host}: name resolution timed out"


async def scan(request: ScanRequest) -> Report:
    started_at = request.clock()
    started = time.monotonic()
    deadline = started + request.deadline
    options = ProbeOptions(
        timeouts=request.timeouts,
        ca_file=request.ca_file,
        quick=request.quick,
        relay_test=request.relay_test,
    )

    resolved = await asyncio.gather(*(_resolve(h, request) for h in request.hosts))
    # Tasks are created in exactly the order of _flatten(recorders).
    recorders: dict[str, list[Recorder]] = {h: [] for h in request.hosts}
    tasks: list[asyncio.Task[None]] = []
    limits: dict[str, asyncio.Semaphore] = {}
    for host, (addresses, _error) in zip(request.hosts, resolved, strict=True):
        for address in addresses:
            limit = limits.setdefault(address, asyncio.Semaphore(request.max_connections))
            for planned in request.plan:
                endpoint = Endpoint(host, address, planned.port, planned.service, planned.requested)
                recorder = Recorder(endpoint)
                recorders[host].append(recorder)
                tasks.append(asyncio.create_task(_limited(limit, endpoint, options, recorder)))

    if tasks:
        remaining = max(0.0, deadline - time.monotonic())
        _done, pending = await asyncio.wait(tasks, timeout=remaining)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2.0)
        for task, recorder in zip(tasks, _flatten(recorders), strict=True):
            if task in pending:
                recorder.fail(
                    "deadline",
                    f"the scan deadline ({request.deadline:g} s) passed before this probe finished",
                )
            elif task.exception() is not None:  # a bug in mailtls, not the server's doing
                exc = task.exception()
                recorder.fail("internal", f"internal error: {type(exc).__name__}: {exc}")

    now = request.clock()
    judgement = Judgement(now=now, warn_days=request.warn_days, profile=request.profile)
    hosts = []
    for host, (addresses, error) in zip(request.hosts, resolved, strict=True):
        observations = tuple(r.freeze() for r in recorders[host])
        findings = judge_host(host, observations, judgement, resolve_error=error)
        hosts.append(HostReport(host, tuple(addresses), error, observations, tuple(findings)))
    return Report(
        started_at=started_at,
        seconds=round(time.monotonic() - started, 3),
        hosts=tuple(hosts),
        options={
            "services": [f"{p.service.name}={p.port}" for p in request.plan],
            "timeout": request.deadline,
            "connect_timeout": request.timeouts.connect,
            "read_timeout": request.timeouts.read,
            "handshake_timeout": request.timeouts.handshake,
            "trust_store": request.ca_file or "system",
            "warn_days": request.warn_days,
            "addresses": list(request.addresses),
            "quick": request.quick,
            "profile": request.profile,
            "relay_test": request.relay_test,
        },
    )


def _flatten(recorders: dict[str, list[Recorder]]) -> list[Recorder]:
    return [r for rec_list in recorders.values() for r in rec_list]


async def _limited(
    limit: asyncio.Semaphore, endpoint: Endpoint, options: ProbeOptions, recorder: Recorder
) -> None:
    """All probes of one endpoint, one connection at a time, under the per-address limit."""
    async with limit:
        await probe_port(endpoint, options, recorder)
        if options.quick or recorder.state is not PortState.OPEN:
            return
        await deep_probes(endpoint, options, recorder)
