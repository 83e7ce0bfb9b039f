"""Discover a mail account's servers the way clients do (Thunderbird's FindConfig.sys.mjs,
draft-ietf-mailmaint-autoconfig, Thunderbird for Android, RFC 6186).
Records what each lookup found; judges nothing.

Order (Thunderbird's, which Thunderbird for Android / K-9 follows for the first three):

1. ``https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>``
2. ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=<address>``
   (1 and 2 are fetched in parallel; the first in this order that has a config wins)
3. MX: the most preferred MX host; its domain (the host without its first label) and its base
   domain (the last two labels: mailtls has no Public Suffix List) are tried with the https
   autoconfig URL of 1, unless they are the e-mail domain itself
4. RFC 6186 / RFC 8314 SRV records of all six labels (what K-9 and RFC 6186 clients use;
   Thunderbird desktop does not)
5. only if 1-3 found nothing (as Thunderbird): the host names Thunderbird guesses, ``imap.``,
   ``pop3.``, ``pop.``, ``mail.`` and the domain for incoming, ``smtp.``, ``mail.`` and the
   domain for outgoing, each that resolves with every mode on the standard ports.

Not done: the ISPDB (a third party's database: mailtls talks only to the domain's own servers),
the plain-http autoconfig URLs (a config fetched over http can be forged on the path; clients
that try them are told so in the notes), Exchange Autodiscover. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailtls.errors import (
    ConnectRefused,
    MailTLSError,
    ProtocolError,
    TLSHandshakeError,
)
from mailtls.formats.clientconfig import MAX_CONFIG_BYTES, ConfigError, parse_autoconfig
from mailtls.model import (
    SERVICES,
    DiscoveryStep,
    DNSStatus,
    Protocol,
    RecordType,
    Role,
    ServerSetting,
    SettingMethod,
    SocketType,
    StepOutcome,
)
from mailtls.net.dns import Resolver
from mailtls.net.https import https_context, https_get
from mailtls.net.stream import Timeouts
from mailtls.pki.x509 import chain_info, match_name
from mailtls.probes.domain import SRV_LABELS, host_addresses, lookup, parse_mx, parse_srv

AUTOCONFIG_PATH = "/mail/config-v1.1.xml"
WELL_KNOWN_PATH = "/.well-known/autoconfig/mail/config-v1.1.xml"
GUESS_INCOMING = ("imap", "pop3", "pop", "mail", "")
GUESS_OUTGOING = ("smtp", "mail", "")
_SRV_SOCKET = {
    "submissions": (Protocol.SMTP, SocketType.SSL),
    "submission": (Protocol.SMTP, SocketType.STARTTLS),
    "imaps": (Protocol.IMAP, SocketType.SSL),
    "imap": (Protocol.IMAP, SocketType.STARTTLS),
    "pop3s": (Protocol.POP3, SocketType.SSL),
    "pop3": (Protocol.POP3, SocketType.STARTTLS),
}


@dataclass(frozen=True)
class DiscoveryOptions:
    timeouts: Timeouts
    ca_file: str | None
    https_port: int  # where the autoconfig web servers are reached (tests: loopback)
    ports: Mapping[str, int]  # service -> port for guesses


def split_address(address: str) -> tuple[str, str]:
    local, _at, domain = address.strip().rpartition("@")
    return local, domain.rstrip(".").lower()


def mx_domains(mx_host: str, domain: str) -> list[str]:
    """Thunderbird's MX-derived domains: the MX host without its first label, and its base
    domain (approximated as the last two labels), each unless it is the e-mail domain."""
    labels = mx_host.split(".")
    out = []
    if len(labels) > 2:
        out.append(".".join(labels[1:]))
    if len(labels) >= 2:
        out.append(".".join(labels[-2:]))
    return [d for d in dict.fromkeys(out) if d != domain]


async def discover_client(
    resolver: Resolver, address: str, options: DiscoveryOptions
) -> tuple[DiscoveryStep, ...]:
    _local, domain = split_address(address)
    query = "?emailaddress=" + urllib.parse.quote(address, safe="@")
    first = await asyncio.gather(
        fetch_autoconfig(resolver, SettingMethod.AUTOCONFIG, f"autoconfig.{domain}",
                         AUTOCONFIG_PATH + query, address, options),
        fetch_autoconfig(resolver, SettingMethod.AUTOCONFIG_WELL_KNOWN, domain,
                         WELL_KNOWN_PATH + query, address, options),
        _mx_autoconfig(resolver, domain, query, address, options),
        srv_settings(resolver, domain, options),
    )
    auto, well_known, mx_steps, srv = first
    steps = [auto, well_known, *mx_steps, srv]
    if not any(s.settings for s in (auto, well_known, *mx_steps)):
        steps.append(await guess(resolver, domain, options))
    else:
        steps.append(DiscoveryStep(SettingMethod.GUESS, domain, StepOutcome.SKIPPED,
                                   "not needed: a configuration was found (as Thunderbird)"))
    return tuple(steps)


async def fetch_autoconfig(
    resolver: Resolver, method: SettingMethod, host: str, path: str, address: str,
    options: DiscoveryOptions,
) -> DiscoveryStep:
    started = time.monotonic()
    port = options.https_port
    shown_port = "" if port == 443 else f":{port}"
    url = f"https://{host}{shown_port}{path}"

    def step(outcome: StepOutcome, detail: str, **kw: object) -> DiscoveryStep:
        return DiscoveryStep(method, url, outcome, detail,
                             seconds=round(time.monotonic() - started, 3), **kw)  # type: ignore[arg-type]

    found = await host_addresses(resolver, host)
    if not found.addresses:
        failed = [lk for lk in found.lookups if lk.status.failed]
        detail = failed[0].error if failed else f"{host} has no A/AAAA record"
        return step(StepOutcome.ERROR if failed else StepOutcome.NOT_FOUND, detail or "no address")
    connections = 0
    last = "no address answered"
    for address_ip in found.addresses:
        connections += 1
        try:
            response = await https_get(
                host, path, address=address_ip, port=port,
                context=https_context(verify=True, ca_file=options.ca_file),
                timeouts=options.timeouts, max_bytes=MAX_CONFIG_BYTES,
            )
        except TLSHandshakeError as exc:
            if exc.verify_code is not None:
                return step(StepOutcome.UNTRUSTED, f"certificate not trusted: {exc.verify_message}",
                            connections=connections)
            return step(StepOutcome.ERROR, str(exc), connections=connections)
        except ConnectRefused as exc:
            last = str(exc)
            continue
        except MailTLSError as exc:
            last = str(exc)
            continue
        problem = _name_problem(response.peer_chain_der, host)
        if problem is not None:
            return step(StepOutcome.UNTRUSTED, problem, connections=connections)
        if response.status != 200:
            where = f" to {response.location}" if response.location else ""
            return step(StepOutcome.NOT_FOUND, f"HTTP {response.status} {response.reason}{where}",
                        connections=connections)
        if response.truncated:
            return step(StepOutcome.INVALID, f"larger than {MAX_CONFIG_BYTES} bytes",
                        connections=connections)
        try:
            parsed = parse_autoconfig(response.body, address, source=url, method=method)
        except ConfigError as exc:
            return step(StepOutcome.INVALID, str(exc), connections=connections)
        servers = ", ".join(f"{s.protocol.value} {s.host}:{s.port} {s.socket.value}"
                            for s in parsed.settings)
        return step(StepOutcome.FOUND, f"HTTP 200: {servers}", settings=parsed.settings,
                    domains=parsed.domains, connections=connections)
    return step(StepOutcome.NOT_FOUND, last, connections=connections)


def _name_problem(chain: Sequence[bytes], host: str) -> str | None:
    if not chain:
        return "the server sent no certificate"
    try:
        leaf = chain_info(chain[:1])[0]
    except ProtocolError as exc:
        return f"unreadable certificate: {exc}"
    match = match_name(leaf, host)
    if not match.matched or match.legacy_cn:
        return f"certificate does not name {host}: {match.reason}"
    return None


async def _mx_autoconfig(
    resolver: Resolver, domain: str, query: str, address: str, options: DiscoveryOptions
) -> list[DiscoveryStep]:
    mx = await lookup(resolver, domain, RecordType.MX)
    records = parse_mx(mx.records) if mx.status is DNSStatus.ANSWER else ()
    hosts = [r.exchange for r in records if r.exchange]  # preference order; no null MX
    if not hosts:
        detail = mx.error or f"{domain} has no MX record"
        return [DiscoveryStep(SettingMethod.MX_AUTOCONFIG, f"{domain} MX", StepOutcome.NOT_FOUND,
                              detail)]
    domains = mx_domains(hosts[0], domain)
    if not domains:
        return [DiscoveryStep(SettingMethod.MX_AUTOCONFIG, f"{domain} MX", StepOutcome.SKIPPED,
                              f"MX {hosts[0]} is in the e-mail domain itself")]
    return list(await asyncio.gather(*(
        fetch_autoconfig(resolver, SettingMethod.MX_AUTOCONFIG, f"autoconfig.{d}",
                         AUTOCONFIG_PATH + query, address, options)
        for d in domains
    )))


async def srv_settings(
    resolver: Resolver, domain: str, options: DiscoveryOptions
) -> DiscoveryStep:
    started = time.monotonic()
    found = await asyncio.gather(*(lookup(resolver, f"{label}.{domain}", RecordType.SRV)
                                   for label, _ in SRV_LABELS))
    settings: list[ServerSetting] = []
    lines: list[str] = []
    authenticated = True
    for (label, service), answer in zip(SRV_LABELS, found, strict=True):
        if answer.status is not DNSStatus.ANSWER:
            continue
        authenticated = authenticated and answer.authenticated
        protocol, socket = _SRV_SOCKET[service]
        for record in parse_srv(answer.records):
            if not record.target:
                lines.append(f"{label}: not offered ('.')")
                continue
            lines.append(f"{label}: {record.target}:{record.port} priority {record.priority}")
            settings.append(ServerSetting(
                role=Role.OUTGOING if protocol is Protocol.SMTP else Role.INCOMING,
                protocol=protocol, host=record.target, port=record.port, socket=socket,
                source=f"SRV {label}.{domain}", method=SettingMethod.SRV, configured=f"{label} SRV",
                priority=record.priority,
            ))
    errors = [a.error for a in found if a.status.failed and a.error]
    outcome = (StepOutcome.FOUND if settings
               else StepOutcome.ERROR if errors and not lines else StepOutcome.NOT_FOUND)
    detail = "; ".join(lines) or (errors[0] if errors else "no SRV records")
    return DiscoveryStep(SettingMethod.SRV, f"_*._tcp.{domain} SRV", outcome, detail,
                         tuple(settings),
                         authenticated=bool(settings) and authenticated,
                         seconds=round(time.monotonic() - started, 3))


async def guess(resolver: Resolver, domain: str, options: DiscoveryOptions) -> DiscoveryStep:
    started = time.monotonic()
    names = list(dict.fromkeys(
        [f"{p}.{domain}" if p else domain for p in GUESS_INCOMING]
        + [f"{p}.{domain}" if p else domain for p in GUESS_OUTGOING]
    ))
    found = await asyncio.gather(*(host_addresses(resolver, n) for n in names))
    resolving = {h.name for h in found if h.addresses}
    settings: list[ServerSetting] = []

    def port(service: str) -> int:
        return options.ports.get(service, SERVICES[service].default_port)

    order = 0
    for prefix in GUESS_INCOMING:
        host = f"{prefix}.{domain}" if prefix else domain
        if host not in resolving:
            continue
        for protocol, tls_service, plain_service in (
            (Protocol.IMAP, "imaps", "imap"), (Protocol.POP3, "pop3s", "pop3")
        ):
            for socket, service in ((SocketType.SSL, tls_service),
                                    (SocketType.STARTTLS, plain_service),
                                    (SocketType.PLAIN, plain_service)):
                order += 1
                settings.append(_guessed(Role.INCOMING, protocol, host, port(service), socket,
                                         order))
    for prefix in GUESS_OUTGOING:
        host = f"{prefix}.{domain}" if prefix else domain
        if host not in resolving:
            continue
        for socket, service in ((SocketType.SSL, "submissions"),
                                (SocketType.STARTTLS, "submission"),
                                (SocketType.PLAIN, "submission")):
            order += 1
            settings.append(_guessed(Role.OUTGOING, Protocol.SMTP, host, port(service), socket,
                                     order))
    detail = (f"host names that resolve: {', '.join(sorted(resolving))}" if resolving
              else "none of " + ", ".join(names) + " resolves")
    outcome = StepOutcome.FOUND if settings else StepOutcome.NOT_FOUND
    return DiscoveryStep(SettingMethod.GUESS, domain, outcome, detail,
                         tuple(settings), seconds=round(time.monotonic() - started, 3))


def _guessed(
    role: Role, protocol: Protocol, host: str, port: int, socket: SocketType, order: int
) -> ServerSetting:
    return ServerSetting(role=role, protocol=protocol, host=host, port=port, socket=socket,
                         source=f"guessed {host}:{port}", method=SettingMethod.GUESS,
                         configured=f"guess {socket.value}", priority=order)
