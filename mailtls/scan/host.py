"""Plan the endpoints of a scan and run their probes concurrently under limits and a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailtls.checks.judge import Judgement, judge_host
from mailtls.checks.outcomes import host_outcomes
from mailtls.errors import DNSError, NameNotResolved, UsageError
from mailtls.formats.arguments import host_name_problem, shown
from mailtls.model import (
    SERVICES,
    Endpoint,
    HostReport,
    PortState,
    Report,
    StopKind,
)
from mailtls.model.options import DEFAULTS, ScanOptions
from mailtls.net.budget import (
    BASIC,
    ConnectionBudget,
    Priority,
    current_budget,
    priority,
    reset_budget,
    use_budget,
)
from mailtls.net.stream import resolve
from mailtls.probes import deep_probes
from mailtls.probes.mailport import ProbeOptions, probe_port
from mailtls.probes.session import Recorder
from mailtls.scan.interrupt import cancel_and_wait, received, wait_all
from mailtls.scan.plan import (  # the plan's home; imported from here too (public path)
    PlannedService,
    ScanTarget,
    default_plan,
    parse_plan,
    parse_port,
)

__all__ = [
    "PlannedService",
    "ScanRequest",
    "ScanTarget",
    "Turns",
    "check_host_name",
    "default_plan",
    "parse_plan",
    "parse_port",
    "scan",
]

# The probes end this share of the deadline before it (at least MIN, at most MAX seconds):
# cancelling what is left, judging, rendering and exiting need a moment, more on a busy machine.
REPORT_MARGIN_SHARE = 0.1
REPORT_MARGIN_MIN_SECONDS = 0.3
REPORT_MARGIN_MAX_SECONDS = 1.0
# How long cancelled probes get to close their connections once the deadline has passed.
CANCEL_GRACE_SECONDS = 0.2

if TYPE_CHECKING:  # dnspython costs ~0.1 s to import: only domain mode and --resolver need it
    from mailtls.model import DomainObservation, DomainReport
    from mailtls.net.dns import Resolver


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
        raise UsageError(f"not a host name: {shown(host)} (give a name like mail.example.com)")
    problem = host_name_problem(name)
    if problem:
        raise UsageError(f"not a valid host name: {shown(host)}: {problem}")
    return name


@dataclass(frozen=True)
class ScanRequest:
    """What to scan (hosts, ports, addresses, domains); how is ``options``."""

    hosts: tuple[str, ...]
    plan: tuple[PlannedService, ...] = field(default_factory=default_plan)
    addresses: tuple[str, ...] = ()  # connect here instead of resolving (names stay for TLS)
    options: ScanOptions = DEFAULTS
    # time.monotonic() the deadline counts from (the CLI: the process start); None: scan()'s start
    started: float | None = None
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # Mail domains (see mailtls.scan.domain): checked through DNS, their MX hosts and SRV targets
    # probed. detect_domains: a name of ``hosts`` with MX records is checked as a domain.
    domains: tuple[str, ...] = ()
    detect_domains: bool = False
    port25_controls: tuple[str, ...] = ()  # --port25-control: port 25 only, to tell egress blocks


async def _resolve(
    host: str, request: ScanRequest, dns: Resolver | None = None
) -> tuple[list[str], str | None]:
    addresses, error = await _resolve_all(host, request, dns)
    if request.options.family is None or error is not None:
        return addresses, error
    version = request.options.family
    kept = [a for a in addresses if ipaddress.ip_address(a.strip("[]")).version == version]
    if not kept:
        return [], (f"{host}: no IPv{version} address (-{version}); it has "
                    f"{', '.join(addresses) or 'none'}")
    return kept, None


async def _resolve_all(
    host: str, request: ScanRequest, dns: Resolver | None = None
) -> tuple[list[str], str | None]:
    if request.addresses:
        return list(request.addresses), None
    if dns is not None and request.options.resolver and not _is_ip_literal(host):
        from mailtls.scan.domain import address_lookup

        return await address_lookup(dns, host)
    try:
        async with asyncio.timeout(max(request.options.timeouts.connect, 1.0) * 2):
            return await resolve(host), None
    except NameNotResolved as exc:
        return [], str(exc)
    except TimeoutError:
        return [], f"{host}: name resolution timed out"


async def scan(
    request: ScanRequest, *, address_limits: ConnectionBudget | None = None,
    on_probe: Callable[[int, int], None] | None = None, stop: asyncio.Event | None = None,
) -> Report:
    """Scan ``request``. ``address_limits``: the connection budget shared with other scans
    running at the same time (``mailtls.scan.batch``), so --max-connections holds across hosts.
    ``on_probe(done, total)`` is called as each port's probe ends (the progress line).
    ``stop`` (SIGINT/SIGTERM, see ``mailtls.scan.interrupt``): when set, probes in flight are
    cancelled and the report keeps what finished, with the rest as ``interrupted``."""
    budget = address_limits if address_limits is not None else ConnectionBudget(
        1 if request.options.slow else request.options.max_connections)
    token = use_budget(budget)  # every connection of this scan's tasks takes a slot of it
    try:
        return await _scan(request, on_probe, stop)
    finally:
        reset_budget(token)


async def _scan(request: ScanRequest, on_probe: Callable[[int, int], None] | None,
                stop: asyncio.Event | None) -> Report:
    started_at = request.clock()
    started = time.monotonic() if request.started is None else request.started
    opts = request.options
    deadline = started + opts.deadline
    margin = min(REPORT_MARGIN_MAX_SECONDS,
                 max(REPORT_MARGIN_MIN_SECONDS, opts.deadline * REPORT_MARGIN_SHARE))
    probes_end = deadline - min(margin, opts.deadline / 2)
    per_address = 1 if opts.slow else opts.max_connections
    options = ProbeOptions(opts, deadline=probes_end)

    dns = _dns_resolver(request)
    targets, domain_obs, mode_notes = await _targets(request, dns, stop)
    # Tasks are created in exactly the order of _flatten(recorders).
    recorders: dict[int, list[Recorder]] = {i: [] for i in range(len(targets))}
    tasks: list[asyncio.Task[None]] = []
    turns: dict[str, Turns] = {}
    for index, target in enumerate(targets):
        for address in target.addresses:
            turn = turns.setdefault(address, Turns(per_address, probes_end))
            for planned in target.plan:
                endpoint = Endpoint(
                    target.host, address, planned.port, planned.service, planned.requested
                )
                recorder = Recorder(endpoint, ehlo=options.ehlo)
                recorders[index].append(recorder)
                turn.enqueue()
                tasks.append(asyncio.create_task(_limited(turn, endpoint, options, recorder)))
    controls = await _control_recorders(request, dns)
    quick = options.basic()  # controls: never log in
    for recorder in controls:
        turn = turns.setdefault(recorder.endpoint.address, Turns(per_address, probes_end))
        recorders.setdefault(-1, []).append(recorder)
        turn.enqueue()
        tasks.append(asyncio.create_task(_limited(turn, recorder.endpoint, quick, recorder)))

    if tasks and on_probe is not None:
        finished = [0]

        def _ended(_task: asyncio.Task[None]) -> None:
            finished[0] += 1
            on_probe(finished[0], len(tasks))

        for task in tasks:
            task.add_done_callback(_ended)
        on_probe(0, len(tasks))
    interrupted = await _await_probes(tasks, _flatten(recorders), probes_end, stop, opts.deadline)

    now = request.clock()
    control_observations = tuple(r.freeze() for r in recorders.get(-1, []))
    judgement = Judgement(now=now, warn_days=opts.warn_days, profile=opts.profile,
                          port25_controls=control_observations)
    hosts = _judge_hosts(targets, recorders, judgement)
    domain_reports: tuple[DomainReport, ...] = ()
    if domain_obs:
        from mailtls.scan.domain import domain_reports as judge_domains

        domain_reports = judge_domains(domain_obs, hosts, judgement)
    return Report(
        started_at=started_at,
        seconds=round(time.monotonic() - started, 3),
        hosts=tuple(hosts),
        domains=domain_reports,
        port25_controls=control_observations,
        options={
            "services": [f"{p.service.name}={p.port}" for p in request.plan],
            "timeout": opts.deadline,
            "connect_timeout": opts.timeouts.connect,
            "read_timeout": opts.timeouts.read,
            "handshake_timeout": opts.timeouts.handshake,
            "trust_store": opts.trust_store,
            "warn_days": opts.warn_days,
            "addresses": list(request.addresses),
            "quick": opts.quick,
            "slow": opts.slow,
            "profile": opts.profile,
            "relay_test": opts.relay_test,
            **_login_options(request),
            **_domain_options(request, dns, mode_notes),
            **({"interrupted": received() or "stop"} if interrupted else {}),
        },
    )


async def _targets(
    request: ScanRequest, dns: Resolver | None, stop: asyncio.Event | None,
) -> tuple[list[ScanTarget], tuple[DomainObservation, ...], dict[str, str]]:
    """The names resolved (or why not) and the domains' targets: what the probes will scan."""
    prelude = asyncio.create_task(_prelude(request, dns))
    domain_obs: tuple[DomainObservation, ...] = ()
    mode_notes: dict[str, str] = {}
    if await wait_all([prelude], None, stop):  # interrupted while still looking up names
        await cancel_and_wait([prelude])
        cut = "interrupted before the name was resolved"
        host_names = list(request.hosts)
        resolved = [(list(request.addresses), None if request.addresses else cut)
                    for _ in host_names]
    else:
        host_names, domain_obs, mode_notes, resolved = prelude.result()
    targets = [
        ScanTarget(h, tuple(addresses), request.plan, error)
        for h, (addresses, error) in zip(host_names, resolved, strict=True)
    ]
    if domain_obs:
        from mailtls.scan.domain import targets_of

        targets.extend(targets_of(domain_obs, request.plan))
    if any(p.service.name not in SERVICES for t in targets for p in t.plan):
        # LDAP, FTP, NNTP, HTTP (--also): their adapters load here, before the first connection;
        # loaded by the first such probe, they would stall the handshakes under way
        import mailtls.probes.portadapters  # noqa: F401
    return targets, domain_obs, mode_notes


async def _await_probes(tasks: list[asyncio.Task[None]], recorders: list[Recorder],
                        probes_end: float, stop: asyncio.Event | None,
                        deadline: float) -> bool:
    """Wait for the probes until their end or a stop; the unfinished ones are cancelled and
    their recorders say why. True when the scan was interrupted."""
    interrupted = stop is not None and stop.is_set()
    if tasks:
        remaining = max(0.0, probes_end - time.monotonic())
        pending = await wait_all(tasks, remaining, stop)
        interrupted = stop is not None and stop.is_set()
        await cancel_and_wait(pending, grace=CANCEL_GRACE_SECONDS)
        for task, recorder in zip(tasks, recorders, strict=True):
            if task in pending and interrupted:
                recorder.fail(StopKind.INTERRUPTED,
                              f"the scan was interrupted ({received() or 'stop'})"
                              " before this probe finished")
            elif task in pending:
                recorder.fail(
                    StopKind.DEADLINE,
                    f"the scan deadline ({deadline:g} s) passed before this probe finished",
                )
            elif task.exception() is not None:  # a bug in mailtls, not the server's doing
                exc = task.exception()
                recorder.fail(StopKind.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
    return interrupted


def _judge_hosts(targets: list[ScanTarget], recorders: dict[int, list[Recorder]],
                 judgement: Judgement) -> list[HostReport]:
    hosts = []
    for index, target in enumerate(targets):
        observations = tuple(r.freeze() for r in recorders[index])
        findings = judge_host(target.host, observations, judgement,
                              resolve_error=target.resolve_error)
        hosts.append(HostReport(target.host, target.addresses, target.resolve_error,
                                observations, tuple(findings), roles=target.roles,
                                checks=host_outcomes(observations, findings,
                                                     target.resolve_error)))
    return hosts


async def _prelude(request: ScanRequest, dns: Resolver | None) -> tuple[
    list[str], tuple[DomainObservation, ...], dict[str, str], list[tuple[list[str], str | None]]
]:
    """Mail domains and host names looked up: everything before the first probe."""
    host_names, domain_obs, mode_notes = await _domains(request, dns)
    resolved = await asyncio.gather(*(_resolve(h, request, dns) for h in host_names))
    return host_names, domain_obs, mode_notes, list(resolved)


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _dns_resolver(request: ScanRequest) -> Resolver | None:
    """The resolver of this scan: only when DNS beyond getaddrinfo is needed."""
    if not (request.options.resolver or request.domains or request.detect_domains):
        return None
    from mailtls.net.dns import Resolver, parse_resolver

    server = parse_resolver(request.options.resolver) if request.options.resolver else None
    try:
        return Resolver(server, timeout=request.options.dns_timeout)
    except DNSError:
        if request.domains:
            raise
        return None  # detection only: without a resolver every name stays a host


async def _domains(
    request: ScanRequest, dns: Resolver | None
) -> tuple[list[str], tuple[DomainObservation, ...], dict[str, str]]:
    """Which names are hosts and which are domains; the domains' DNS and MTA-STS facts."""
    hosts = list(request.hosts)
    notes: dict[str, str] = {d: "checked as a mail domain (requested)" for d in request.domains}
    if dns is None:
        return hosts, (), notes
    from mailtls.model.domain import Detection  # a scan with no DNS has no mail domains

    domains = [(d, Detection.REQUESTED) for d in request.domains]
    if request.detect_domains:
        from mailtls.scan.domain import has_mx, may_detect

        given = bool(request.options.resolver)
        candidates = [h for h in hosts if may_detect(h, resolver_given=given)]
        answers = await asyncio.gather(*(has_mx(dns, h) for h in candidates))
        for name, (found, why) in zip(candidates, answers, strict=True):
            notes[name] = why
            if found:
                hosts.remove(name)
                domains.append((name, Detection.MX))
    if not domains:
        return hosts, (), notes
    from mailtls.scan.domain import discover_all

    observations = await discover_all(
        dns, domains, plan=request.plan, timeouts=request.options.timeouts,
        ca_file=request.options.ca_file, mta_sts_port=request.options.mta_sts_port,
    )
    return hosts, observations, notes


async def _control_recorders(request: ScanRequest, dns: Resolver | None) -> list[Recorder]:
    """--port25-control hosts: port 25 of each of their addresses, nothing else."""
    recorders: list[Recorder] = []
    plain = dataclasses.replace(request, addresses=())
    resolved = await asyncio.gather(*(_resolve(c, plain, dns) for c in request.port25_controls))
    for control, (addresses, _error) in zip(request.port25_controls, resolved, strict=True):
        for address in addresses:
            recorders.append(Recorder(Endpoint(control, address, 25, SERVICES["smtp"], True),
                                      ehlo=request.options.ehlo))
    return recorders


def _domain_options(
    request: ScanRequest, dns: Resolver | None, notes: dict[str, str]
) -> dict[str, object]:
    """Report options of domain mode, only when it was in play (host reports stay as they were)."""
    out: dict[str, object] = {}
    if request.options.resolver or request.domains or any(n.endswith("mail domain") for n in
                                                  notes.values()):
        out["resolver"] = dns.description if dns is not None else None
    if notes:
        out["mode"] = notes
    if request.port25_controls:
        out["port25_controls"] = list(request.port25_controls)
    return out


def _flatten(recorders: dict[int, list[Recorder]]) -> list[Recorder]:
    return [r for rec_list in recorders.values() for r in rec_list]


def _login_options(request: ScanRequest) -> dict[str, object]:
    """The login test in the report's options: the user name and the override, never more."""
    if request.options.login is None:
        return {}
    return {
        "login_user": request.options.login.username,
        "login_insecure_override": request.options.login.allow_unverified,
    }


class Turns:
    """The basic probes of one address that have not started yet, and when the probes must end:
    each basic probe gets an equal share of the time left, so every port gets its turn.

    The probe that starts now shares the time left with the ``n`` probes still waiting: the
    free slots take some at once, the rest need ``ceil(rest / limit)`` more waves after this
    one; its connections (connect, every read, the handshakes) get its wave's share as their
    deadline through ``Timeouts.deadline``. A probe that finishes early leaves its unused time
    to the next ones.
    """

    def __init__(self, limit: int, end: float) -> None:
        self.limit = max(1, limit)
        self.end = end
        self.waiting = 0
        self.running = 0
        # at most `limit` basic probes of the address at once, as its connection budget allows
        self.gate = asyncio.Semaphore(self.limit)
        # set once every basic probe has started: only then may deep connections compete
        self.all_started = asyncio.Event()

    def enqueue(self) -> None:
        """One more basic probe planned (called when its task is created, before any starts)."""
        self.waiting += 1

    def start(self, now: float) -> float:
        """A basic probe starts: the deadline of its turn (monotonic)."""
        self.waiting -= 1
        self.running += 1
        if self.waiting <= 0:
            self.all_started.set()
        free = max(0, self.limit - self.running)
        waves = 1 + math.ceil(max(0, self.waiting - free) / self.limit)
        return now + max(0.0, self.end - now) / waves

    def finish(self) -> None:
        """A basic probe is done (its slot is free for the next one)."""
        self.running -= 1


async def _limited(
    turns: Turns, endpoint: Endpoint, options: ProbeOptions, recorder: Recorder
) -> None:
    """All probes of one endpoint; each connection waits for a slot of the address's budget.

    The basic probes of every port go first (``BASIC``), each in its share of the time left
    (``Turns``: its connections' deadline), so a slow or silent port takes no other port's
    turn; the deep probes and the login test follow at the priority of their port's expected
    cost, the slowest port first: its enumeration is the scan's critical path."""
    recorder.started = time.monotonic()
    try:
        async with turns.gate:
            now = time.monotonic()
            recorder.started = now  # waiting for its turn is not the port's time
            basic = dataclasses.replace(options, turn=turns.start(now))
            try:
                with priority(BASIC):
                    await probe_port(endpoint, basic, recorder)
            finally:
                turns.finish()
        # The basic probes still waiting for their turn are not in the budget's queue yet:
        # no deep connection may overtake them.
        await turns.all_started.wait()
        # --slow: one port's deep probes at a time per address, so their pauses add up
        budget = current_budget()
        slow = options.slow and budget is not None
        lane = budget.lane(endpoint.address) if slow and budget else contextlib.nullcontext()
        async with lane:
            with priority(_deep_priority(recorder)):
                if not options.quick and recorder.state is PortState.OPEN:
                    await deep_probes(endpoint, options, recorder)
                if options.login is not None:
                    from mailtls.probes.login import login_probe

                    await login_probe(endpoint, options, recorder)
    finally:
        recorder.finished = time.monotonic()


def _deep_priority(recorder: Recorder) -> Priority:
    """After every basic probe; among the ports, the one whose connections cost most first.

    The deep probes of every port make about the same number of connections (the suite
    enumeration's), so a port's cost is its cost per connection, which its basic probe just
    measured: a STARTTLS dialogue costs more round trips than implicit TLS, a server that forks
    a process per connection more time."""
    spent = time.monotonic() - recorder.started
    per_connection = spent / max(1, recorder.connections)
    return (1.0, -per_connection)
