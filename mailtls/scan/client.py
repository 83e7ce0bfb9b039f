"""``mailtls client``: find or read a mail client's settings, probe every server in them, judge.

1. The settings: parsed from ``--config FILE`` (``mailtls.formats.clientconfig``), or discovered
   for an address as clients do (``mailtls.probes.discovery``).
2. The plan, per host: each setting's port in the configured mode (named: must be testable),
   the other mode on the same port (to tell "SSL on 587" and "STARTTLS on 993" apart from a
   dead port), and the protocol's standard ports (to find the most secure setting that works).
3. One ``scan`` per host (the scan's own probes, judgement, ``--quick``, login test).
4. ``checks.client.judge_client``: verdict per setting, client picks, recommendation, findings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from mailtls.checks.client import ClientFacts, judge_client, works
from mailtls.checks.outcomes import with_checks
from mailtls.errors import DNSError, UsageError
from mailtls.formats.clientconfig import ParsedConfig, parse_config, service_for
from mailtls.model import (
    SERVICES,
    DiscoveryStep,
    HostReport,
    PortObservation,
    Protocol,
    Report,
    ServerSetting,
    SocketType,
    TLSMode,
)
from mailtls.model.options import CLIENT_DEFAULTS, ScanOptions
from mailtls.net.dns import Resolver, parse_resolver
from mailtls.probes.discovery import DiscoveryOptions, discover_client, split_address
from mailtls.scan.host import PlannedService, ScanRequest, check_host_name, scan

_STANDARD = {
    Protocol.IMAP: ("imaps", "imap"),
    Protocol.POP3: ("pop3s", "pop3"),
    Protocol.SMTP: ("submissions", "submission"),
}


@dataclass(frozen=True)
class ClientRequest:
    """Which client settings to verify; how is ``options`` (its resolver: discovery and every
    server name; its https_port: the autoconfig web servers)."""

    address: str | None = None
    config_path: str | None = None
    addresses: tuple[str, ...] = ()  # --address: connect here instead of resolving
    # --service NAME=PORT: where the standard services are looked for
    ports: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    options: ScanOptions = CLIENT_DEFAULTS
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)


def check_address(address: str) -> str:
    text = address.strip()
    local, domain = split_address(text)
    if "@" not in text or not local or not domain:
        raise UsageError(f"not an e-mail address: {address!r} (give user@example.com)")
    check_host_name(domain)
    return f"{local}@{domain}"


def read_config(path: str, address: str | None) -> ParsedConfig:
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 20 + 1)
    except OSError as exc:
        raise UsageError(f"--config: cannot read {path}: {exc.strerror or exc}") from None
    return parse_config(data, os.path.basename(path), address, source=os.path.basename(path))


def plan_hosts(
    settings: Sequence[ServerSetting], ports: Mapping[str, int]
) -> dict[str, tuple[PlannedService, ...]]:
    plans: dict[str, dict[tuple[str, int], PlannedService]] = {}
    for s in settings:
        plan = plans.setdefault(s.host, {})
        named = s.method in ("file", "autoconfig", "autoconfig-well-known", "mx-autoconfig",
                             "srv")
        configured = service_for(s.protocol, s.socket)
        other = service_for(
            s.protocol, SocketType.STARTTLS if s.socket is SocketType.SSL else SocketType.SSL
        )
        wanted = [(configured, s.port, named), (other, s.port, False)]
        for name in _STANDARD[s.protocol]:
            wanted.append((SERVICES[name], ports.get(name, SERVICES[name].default_port), False))
        for service, port, requested in wanted:
            key = (service.name, port)
            if requested or key not in plan:
                plan[key] = PlannedService(service, port, requested)
    return {host: tuple(plan.values()) for host, plan in plans.items()}


async def run_client(request: ClientRequest) -> Report:
    started_at = request.clock()
    started = time.monotonic()
    opts = request.options
    parsed: ParsedConfig | None = None
    steps: tuple[DiscoveryStep, ...] = ()
    settings: tuple[ServerSetting, ...]
    domain = split_address(request.address)[1] if request.address else None
    if request.config_path is not None:
        parsed = read_config(request.config_path, request.address)
        settings = parsed.settings
        address = request.address or parsed.address
    else:
        assert request.address is not None
        address = request.address
        resolver = _resolver(request)
        steps = await discover_client(
            resolver, address,
            DiscoveryOptions(timeouts=opts.timeouts, ca_file=opts.ca_file,
                             https_port=opts.https_port, ports=request.ports),
        )
        settings = _unique(s for step in steps for s in step.settings)
    plans = plan_hosts(settings, request.ports)
    remaining = max(1.0, opts.deadline - (time.monotonic() - started))
    per_host = dataclasses.replace(opts, timeout=remaining)
    reports = await asyncio.gather(*(
        scan(ScanRequest(hosts=(host,), plan=plan, addresses=request.addresses,
                         options=per_host, clock=request.clock))
        for host, plan in plans.items()
    ))
    hosts: list[HostReport] = [_without_wrong_mode(h) for r in reports for h in r.hosts]
    facts = ClientFacts(
        settings=tuple(settings),
        observations=tuple(o for h in hosts for o in h.observations),
        resolve_errors={h.name: h.resolve_error for h in hosts if h.resolve_error},
        address=address,
        domain=domain or (split_address(address)[1] if address else None),
        config_file=request.config_path,
        config_kind=parsed.kind if parsed else None,
        steps=tuple(steps),
        stored_passwords=parsed.stored_passwords if parsed else (),
        unset_outgoing_port=parsed.unset_outgoing_port if parsed else False,
        notes=_notes(parsed, request),
    )
    client = judge_client(facts)
    options: dict[str, object] = {
        "command": "client",
        "address": address,
        "config": request.config_path,
        "resolver": opts.resolver,
        "https_port": opts.https_port,
        "addresses": list(request.addresses),
        "timeout": opts.deadline,
        "trust_store": opts.trust_store,
        "quick": opts.quick,
        "profile": opts.profile,
    }
    if opts.login is not None:
        options["login_user"] = opts.login.username
        options["login_insecure_override"] = opts.login.allow_unverified
    return Report(
        started_at=started_at,
        seconds=round(time.monotonic() - started, 3),
        hosts=tuple(hosts),
        options=options,
        client=client,
    )


def _without_wrong_mode(host: HostReport) -> HostReport:
    """A port probed in both modes (to tell a client's wrong mode from a dead port): the mode
    the port does not speak is evidence for the client findings, not a defect of the server,
    so its own findings (handshake failed, plaintext on an implicit port, ...) are dropped."""
    by_key: dict[str, list[PortObservation]] = {}
    for o in host.observations:
        by_key.setdefault(o.endpoint.key, []).append(o)
    dropped: set[tuple[str, str]] = set()
    for key, group in by_key.items():
        if len(group) < 2:
            continue
        real = [o for o in group if works(o, SocketType.SSL if o.endpoint.service.tls_mode
                                          is TLSMode.IMPLICIT else SocketType.STARTTLS)]
        real = real or [o for o in group if o.endpoint.requested]
        real = real or [o for o in group if o.endpoint.service.default_port == o.endpoint.port]
        if not real:
            continue
        keep = {o.endpoint.service.name for o in real}
        dropped |= {(key, o.endpoint.service.name) for o in group
                    if o.endpoint.service.name not in keep}
    if not dropped:
        return host
    findings = tuple(f for f in host.findings if (f.endpoint, f.service) not in dropped)
    return with_checks(dataclasses.replace(host, findings=findings))


def _resolver(request: ClientRequest) -> Resolver:
    opts = request.options
    server = parse_resolver(opts.resolver) if opts.resolver else None
    try:
        return Resolver(server, timeout=max(opts.timeouts.connect, 1.0))
    except DNSError as exc:
        raise UsageError(f"discovery needs DNS: {exc} (give --resolver IP)") from None


def _unique(settings: Iterable[ServerSetting]) -> tuple[ServerSetting, ...]:
    seen: dict[tuple[str, str, str, int, str, str], ServerSetting] = {}
    for s in settings:
        key = (s.method, s.role, s.host, s.port, s.socket.value, s.protocol.value)
        seen.setdefault(key, s)
    return tuple(seen.values())


def _notes(parsed: ParsedConfig | None, request: ClientRequest) -> tuple[str, ...]:
    notes: list[str] = []
    if parsed is not None:
        notes.extend(parsed.notes)
        if parsed.signed:
            notes.append("the profile is signed (CMS); mailtls read its content but did not "
                         "verify the signature")
    else:
        notes.append("not tried: the ISPDB (a third party's database), plain-http autoconfig "
                     "(forgeable on the path), Exchange Autodiscover")
    if request.options.quick:
        notes.append("--quick (default): TLS versions and cipher suites were not enumerated; "
                     "--no-quick does")
    return tuple(notes)
