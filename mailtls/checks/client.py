"""Judge a mail client's settings against what their servers did. Pure: no I/O, no clock.

Input: the settings (from a file or from discovery, ``ServerSetting``), every port observation
of the scan that probed them (the configured mode, the other mode on the same port, and the
protocol's standard ports), the discovery steps. Output: a ``ClientReport``: each setting with a
verdict, what each kind of client would pick, the most secure setting that works per role, and
the ``client.*`` findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

from mailtls.checks import rules as R
from mailtls.formats.clientconfig import IMPLICIT_PORTS, STARTTLS_PORTS, service_for
from mailtls.model import (
    ClientPick,
    ClientReport,
    ConfigKind,
    DiscoveryStep,
    Finding,
    LoginOutcome,
    PortObservation,
    PortState,
    Protocol,
    Role,
    ServerSetting,
    SettingMethod,
    SettingResult,
    SocketType,
    TLSMode,
)
from mailtls.model.frozen import FrozenMap, frozen_map
from mailtls.pki.x509 import match_name

GOOD_TLS = ("TLSv1.2", "TLSv1.3")
THUNDERBIRD = "Thunderbird"
ANDROID = "Thunderbird for Android / K-9 Mail"
SRV_CLIENT = "RFC 6186/8314 client (SRV)"
# Discovery methods in the order each client consults them (Thunderbird's FindConfig/
# FetchConfig/GuessConfig.sys.mjs, Thunderbird for Android's ProviderAutoconfigUrlProvider.kt,
# RFC 6186).
CLIENT_ORDER: Mapping[str, tuple[SettingMethod, ...]] = FrozenMap({
    THUNDERBIRD: (SettingMethod.AUTOCONFIG, SettingMethod.AUTOCONFIG_WELL_KNOWN,
                  SettingMethod.MX_AUTOCONFIG, SettingMethod.GUESS),
    ANDROID: (SettingMethod.AUTOCONFIG, SettingMethod.AUTOCONFIG_WELL_KNOWN,
              SettingMethod.MX_AUTOCONFIG, SettingMethod.SRV),
    SRV_CLIENT: (SettingMethod.SRV,),
})


@dataclass(frozen=True)
class ClientFacts:
    settings: tuple[ServerSetting, ...]
    observations: tuple[PortObservation, ...]
    resolve_errors: Mapping[str, str]  # host -> why it has no address
    address: str | None = None
    domain: str | None = None
    config_file: str | None = None
    config_kind: ConfigKind | None = None
    steps: tuple[DiscoveryStep, ...] = ()
    stored_passwords: tuple[str, ...] = ()
    unset_outgoing_port: bool = False
    autoconfig_domains: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "resolve_errors", frozen_map(self.resolve_errors))


# --- one setting ---------------------------------------------------------------------------------


def _matching(
    facts: ClientFacts, host: str, service: str, port: int
) -> list[PortObservation]:
    return [
        o for o in facts.observations
        if o.endpoint.host == host and o.endpoint.service.name == service
        and o.endpoint.port == port
    ]


def works(obs: PortObservation, socket: SocketType) -> bool:
    if obs.state is not PortState.OPEN or not obs.greeting_ok:
        return obs.state is PortState.OPEN and socket is SocketType.SSL and obs.tls is not None \
            and bool(obs.greeting_ok)
    if socket is SocketType.SSL:
        return obs.tls is not None
    if socket is SocketType.STARTTLS:
        return bool(obs.starttls_accepted) and obs.tls is not None
    return True  # plaintext (or STARTTLS-if-offered) works once the greeting came


def tls_problem(obs: PortObservation, host: str) -> str | None:
    """Why the TLS session of ``obs`` does not meet RFC 8314 §5.2 for ``host`` (None: it does)."""
    tls = obs.tls
    if tls is None:
        return "no TLS"
    if not tls.verification.trusted:
        return (f"certificate not trusted by the {tls.verification.trust_store} store"
                f" ({tls.verification.message or 'verification failed'})")
    if not tls.chain:
        return "no certificate"
    match = match_name(tls.chain[0], host)
    if not match.matched:
        return f"certificate does not name {host}"
    if match.legacy_cn:
        return f"certificate names {host} only in its subject CN"
    if tls.version not in GOOD_TLS:
        return f"{tls.version} (below TLS 1.2)"
    return None


def _why_not(obs: Sequence[PortObservation], socket: SocketType, resolve: str | None) -> str:
    if resolve:
        return f"cannot resolve: {resolve}"
    if not obs:
        return "not tested"
    o = obs[0]
    if o.state is not PortState.OPEN:
        return o.error or o.state.value
    if o.plaintext_on_implicit:
        return f"the port speaks plaintext: {o.plaintext_on_implicit[0]}"
    if o.tls_on_starttls_port:
        return "the port starts with a TLS handshake (implicit TLS)"
    if socket is SocketType.STARTTLS and o.starttls_offered is False:
        return "STARTTLS is not offered"
    if socket is SocketType.STARTTLS and o.starttls_accepted is False:
        return f"STARTTLS refused: {' '.join(o.starttls_reply)}"
    return o.tls_error or o.error or "the session failed"


def evaluate(setting: ServerSetting, facts: ClientFacts) -> SettingResult:
    service = service_for(setting.protocol, setting.socket)
    obs = _matching(facts, setting.host, service.name, setting.port)
    working = [o for o in obs if works(o, setting.socket)]
    resolve = facts.resolve_errors.get(setting.host)
    login = next((o.login.outcome for o in obs if o.login is not None), None)
    if not working:
        return SettingResult(setting, service.name, tuple(o.endpoint.key for o in obs), False,
                             False, f"does not work: {_why_not(obs, setting.socket, resolve)}",
                             login)
    if setting.socket in (SocketType.PLAIN, SocketType.TRY_STARTTLS):
        verdict = "works, in plaintext: the password is sent unprotected"
        if setting.socket is SocketType.TRY_STARTTLS:
            verdict = "works, but STARTTLS is optional: a man in the middle can strip it"
        return SettingResult(setting, service.name, tuple(o.endpoint.key for o in obs), True,
                             False, verdict, login)
    problems = [p for p in (tls_problem(o, setting.host) for o in working) if p]
    tls = working[0].tls
    assert tls is not None
    if problems:
        return SettingResult(setting, service.name, tuple(o.endpoint.key for o in obs), True,
                             False, f"works, but insecure: {problems[0]}", login)
    return SettingResult(
        setting, service.name, tuple(o.endpoint.key for o in obs), True, True,
        f"works: {setting.socket.label}, {tls.version}, certificate verified", login,
    )


# --- findings about one setting ------------------------------------------------------------------


def _other_mode_works(setting: ServerSetting, facts: ClientFacts) -> list[PortObservation]:
    other = SocketType.STARTTLS if setting.socket is SocketType.SSL else SocketType.SSL
    service = service_for(setting.protocol, other)
    found = _matching(facts, setting.host, service.name, setting.port)
    if other is SocketType.STARTTLS:
        # a plaintext greeting on the port is what an implicit-TLS client trips over
        return [o for o in found if o.state is PortState.OPEN and o.greeting_ok]
    return [o for o in found if works(o, other)]


def _tls_available(setting: ServerSetting, facts: ClientFacts) -> list[str]:
    out = []
    for o in facts.observations:
        if o.endpoint.host != setting.host or o.endpoint.service.protocol is not setting.protocol:
            continue
        if o.endpoint.service.name == "smtp" or o.tls is None or o.tls_on_starttls_port:
            continue
        if tls_problem(o, setting.host) is None:
            mode = "SSL/TLS" if o.endpoint.service.tls_mode is TLSMode.IMPLICIT else "STARTTLS"
            out.append(f"{mode} on port {o.endpoint.port} works ({o.tls.version}, certificate "
                       "verified)")
    return list(dict.fromkeys(out))


class _Where(TypedDict):
    endpoint: str | None
    service: str | None


def _where(result: SettingResult) -> _Where:
    return {"endpoint": result.endpoints[0] if result.endpoints else None,
            "service": result.service}


def _label(s: ServerSetting) -> str:
    return f"{s.role} {s.protocol.value.upper()} {s.host}:{s.port} ({s.socket.label})"


def _evidence(s: ServerSetting, result: SettingResult) -> list[str]:
    return [f"configured: {s.configured or s.socket.value} ({s.source})", result.verdict]


def setting_findings(result: SettingResult, facts: ClientFacts) -> list[Finding]:
    s = result.setting
    label = _label(s)
    evidence = _evidence(s, result)
    where = _where(result)
    out: list[Finding] = []
    if s.socket is SocketType.PLAIN:
        available = _tls_available(s, facts)
        if available:
            out.append(R.CLIENT_PLAINTEXT_TLS_AVAILABLE.finding(
                f"{label}: configured without TLS, but the server offers it: {available[0]}",
                evidence=[*evidence, *available], **where))
        else:
            out.append(R.CLIENT_PLAINTEXT.finding(
                f"{label}: configured without TLS; the password would cross the network in "
                "plaintext", evidence=evidence, **where))
        return out
    if s.socket is SocketType.TRY_STARTTLS:
        out.append(R.CLIENT_STARTTLS_NOT_REQUIRED.finding(
            f"{label}: STARTTLS is used only if offered, so it can be stripped",
            evidence=evidence, **where))
        return out
    if not result.works:
        other = _other_mode_works(s, facts)
        if s.socket is SocketType.SSL and (other or (
            s.port in STARTTLS_PORTS and not _any_open(result, facts)
        )):
            out.append(R.CLIENT_SSL_ON_STARTTLS_PORT.finding(
                f"{label}: SSL/TLS configured, but port {s.port} speaks plaintext first "
                "(STARTTLS)", evidence=[*evidence, *(_greeting(o) for o in other)], **where))
        elif s.socket is SocketType.STARTTLS and (other or _tls_first(result, facts) or (
            s.port in IMPLICIT_PORTS and not _any_open(result, facts)
        )):
            out.append(R.CLIENT_STARTTLS_ON_IMPLICIT_PORT.finding(
                f"{label}: STARTTLS configured, but port {s.port} expects a TLS handshake "
                "first (implicit TLS)", evidence=evidence, **where))
        else:
            out.append(R.CLIENT_SETTING_BROKEN.finding(
                f"{label}: {result.verdict}", evidence=evidence, **where))
        return out
    if not result.secure:
        out.append(R.CLIENT_SETTING_INSECURE.finding(
            f"{label}: {result.verdict}", evidence=evidence, **where))
        return out
    out.extend(_auth_findings(result, facts))
    if s.socket is SocketType.STARTTLS:
        implicit = [a for a in _tls_available(s, facts) if a.startswith("SSL/TLS")]
        if implicit:
            out.append(R.CLIENT_BETTER_AVAILABLE.finding(
                f"{label}: {implicit[0]}", evidence=[*evidence, *implicit], **where))
    return out


def _any_open(result: SettingResult, facts: ClientFacts) -> bool:
    return any(o.state is PortState.OPEN for o in facts.observations
               if o.endpoint.key in result.endpoints)


def _tls_first(result: SettingResult, facts: ClientFacts) -> bool:
    return any(o.tls_on_starttls_port for o in facts.observations
               if o.endpoint.key in result.endpoints
               and o.endpoint.service.name == result.service)


def _greeting(o: PortObservation) -> str:
    return f"{o.endpoint.service.name} on {o.endpoint.key}: {' '.join(o.greeting)[:200]}"


_CLEARTEXT = {"password-cleartext", "password-cleartext (legacy)", "plain", "emailauthpassword"}
_ENCRYPTED = {"password-encrypted", "secure", "emailauthcrammd5"}
_OAUTH = {"oauth2", "oauth"}
_NONE = {"none", "emailauthnone", "client-ip-address"}


def _mechanisms(obs: PortObservation) -> tuple[set[str], bool] | None:
    """SASL mechanisms offered under TLS, and whether a plain password login is possible."""
    caps = obs.capabilities_after
    if caps is None:
        return None
    words = {c.split()[0].upper(): [w.upper() for w in c.split()[1:]] for c in caps if c.split()}
    protocol = obs.endpoint.service.protocol
    if protocol is Protocol.SMTP:
        sasl = set(words.get("AUTH", []))
        return sasl, bool(sasl & {"PLAIN", "LOGIN"})
    if protocol is Protocol.IMAP:
        sasl = {k.split("=", 1)[1] for k in words if k.startswith("AUTH=")}
        return sasl, "PLAIN" in sasl or "LOGINDISABLED" not in words
    sasl = set(words.get("SASL", []))
    return sasl, "USER" in words or "PLAIN" in sasl


def _auth_findings(result: SettingResult, facts: ClientFacts) -> list[Finding]:
    s = result.setting
    wanted = [a.lower() for a in s.authentication]
    if not wanted:
        return []
    if s.role is Role.OUTGOING and all(w in _NONE for w in wanted):
        return [R.CLIENT_AUTH_NONE.finding(
            f"{_label(s)}: configured without authentication ({', '.join(s.authentication)})",
            evidence=_evidence(s, result), **_where(result))]
    obs = [o for o in facts.observations if o.endpoint.key in result.endpoints
           and o.endpoint.service.name == result.service and o.capabilities_after is not None]
    if not obs:
        return []
    found = _mechanisms(obs[0])
    if found is None:
        return []
    sasl, password = found
    for w in wanted:
        if w in _CLEARTEXT and password:
            return []
        if w in _ENCRYPTED and sasl & {"CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256",
                                       "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"}:
            return []
        if w in _OAUTH and sasl & {"XOAUTH2", "OAUTHBEARER"}:
            return []
        if w not in _CLEARTEXT | _ENCRYPTED | _OAUTH:
            return []  # GSSAPI, NTLM, client certificates: not judged
    offered = " ".join(sorted(sasl)) or "no SASL mechanism"
    return [R.CLIENT_AUTH_NOT_OFFERED.finding(
        f"{_label(s)}: configured for {', '.join(s.authentication)}, but under TLS the server "
        f"offers {offered}" + (" (password login possible)" if password else ""),
        evidence=[*_evidence(s, result), *obs[0].capabilities_after_reply], **_where(result))]


# --- picks and the recommendation ----------------------------------------------------------------


def _first(results: Iterable[SettingResult], role: Role) -> SettingResult | None:
    ordered = sorted((r for r in results if r.setting.role == role),
                     key=lambda r: r.setting.priority)
    return ordered[0] if ordered else None


def _guess_rank(r: SettingResult) -> tuple[int, int, int, int]:
    """Thunderbird's guess order: TLS before plain, IMAP before POP, SSL before STARTTLS."""
    s = r.setting
    return (
        1 if s.socket is SocketType.PLAIN else 0,
        1 if s.protocol is Protocol.POP3 else 0,
        0 if s.socket is SocketType.SSL else 1,
        s.priority,
    )


def _guess_pick(results: Sequence[SettingResult], role: Role) -> SettingResult | None:
    """A guess succeeds only with a good certificate (requireGoodCert) or in plaintext."""
    ok = [r for r in results if r.setting.role == role and r.works
          and (r.secure or r.setting.socket is SocketType.PLAIN)]
    return min(ok, key=_guess_rank) if ok else None


def _srv_pick(results: Sequence[SettingResult], role: Role, client: str) -> SettingResult | None:
    """RFC 8314 §5.1: TLS services first (implicit before STARTTLS), then SRV priority; K-9
    looks only at IMAP and submission."""
    usable = [r for r in results if r.setting.role == role and (
        client != ANDROID or r.setting.protocol is not Protocol.POP3)]
    if not usable:
        return None
    return min(usable, key=lambda r: (r.setting.socket is SocketType.PLAIN,
                                      r.setting.socket is not SocketType.SSL, r.setting.priority))


def picks(results: Sequence[SettingResult]) -> list[ClientPick]:
    out: list[ClientPick] = []
    by_method: dict[SettingMethod, list[SettingResult]] = {}
    for r in results:
        by_method.setdefault(r.setting.method, []).append(r)
    for client, order in CLIENT_ORDER.items():
        for role in Role:
            chosen: SettingResult | None = None
            method_used = None
            for method in order:
                found = by_method.get(method, [])
                if method is SettingMethod.GUESS:
                    chosen = _guess_pick(found, role)
                elif method is SettingMethod.SRV:
                    chosen = _srv_pick(found, role, client)
                else:
                    chosen = _first(found, role)
                if chosen is not None:
                    method_used = method
                    break
            if chosen is None:
                out.append(ClientPick(client, role, None, None, "nothing found"))
                continue
            note = f"from {method_used}: {chosen.verdict}"
            out.append(ClientPick(client, role, chosen.setting, chosen.secure, note))
    return out


def _candidate(
    o: PortObservation, role_of: dict[Role, ServerSetting], address: str | None
) -> SettingResult | None:
    service = o.endpoint.service
    if service.name == "smtp" or o.state is not PortState.OPEN:
        return None
    socket = SocketType.SSL if service.tls_mode is TLSMode.IMPLICIT else SocketType.STARTTLS
    if not works(o, socket) or tls_problem(o, o.endpoint.host) is not None:
        return None
    role = Role.OUTGOING if service.protocol is Protocol.SMTP else Role.INCOMING
    model = role_of.get(role)
    setting = ServerSetting(
        role=role, protocol=service.protocol, host=o.endpoint.host, port=o.endpoint.port,
        socket=socket, source="recommended by mailtls (tested)", method=SettingMethod.RECOMMENDED,
        authentication=model.authentication if model else (),
        username=(model.username if model else None) or address,
    )
    tls = o.tls
    assert tls is not None
    login = o.login.outcome if o.login is not None else None
    return SettingResult(setting, service.name, (o.endpoint.key,), True, True,
                         f"works: {socket.label}, {tls.version}, certificate verified", login)


def recommend(
    settings: Sequence[ServerSetting], observations: Sequence[PortObservation],
    address: str | None = None,
) -> list[SettingResult]:
    """Per role, the most secure setting that works: implicit TLS over STARTTLS, the configured
    protocol (IMAP or POP3) and host first, a successful login over none over a failed one."""
    primary: dict[Role, ServerSetting] = {}
    for s in sorted(settings, key=lambda s: s.priority):
        primary.setdefault(s.role, s)
    hosts = list(dict.fromkeys(s.host for s in settings))
    out: list[SettingResult] = []
    for role in Role:
        seen: dict[tuple[str, int, str], SettingResult] = {}
        for o in observations:
            c = _candidate(o, primary, address)
            if c is None or c.setting.role != role:
                continue
            key = (c.setting.host, c.setting.port, c.service)
            seen.setdefault(key, c)
        if not seen:
            continue
        want = primary.get(role)

        def rank(r: SettingResult, want: ServerSetting | None = want) -> tuple[int, ...]:
            s = r.setting
            login = {LoginOutcome.SUCCEEDED: 0, None: 1}.get(r.login, 2)
            return (
                login,
                0 if want is None or s.protocol is want.protocol else 1,
                0 if s.socket is SocketType.SSL else 1,
                hosts.index(s.host) if s.host in hosts else len(hosts),
                0 if want is not None and s.port == want.port else 1,
            )

        out.append(min(seen.values(), key=rank))
    return out


# --- the whole client -------------------------------------------------------------------


def judge_client(facts: ClientFacts) -> ClientReport:
    results = [evaluate(s, facts) for s in facts.settings]
    findings: list[Finding] = []
    checked = [r for r in results if r.setting.method is not SettingMethod.GUESS]
    seen: set[tuple[str, str, int, str]] = set()
    for r in checked:
        key = (r.setting.role, r.setting.host, r.setting.port, r.setting.socket.value)
        if key in seen:
            continue
        seen.add(key)
        findings.extend(setting_findings(r, facts))
    findings.extend(_file_findings(facts, results))
    client_picks = picks(results) if facts.config_file is None else []
    findings.extend(_discovery_findings(facts, results, client_picks))
    return ClientReport(
        address=facts.address,
        domain=facts.domain,
        config_file=facts.config_file,
        config_kind=facts.config_kind,
        steps=facts.steps,
        settings=tuple(results),
        picks=tuple(client_picks),
        recommended=tuple(recommend(facts.settings, facts.observations, facts.address)),
        findings=tuple(findings),
        notes=facts.notes,
    )


def _file_findings(facts: ClientFacts, results: Sequence[SettingResult]) -> list[Finding]:
    out: list[Finding] = []
    for where in facts.stored_passwords:
        out.append(R.CLIENT_PASSWORD_STORED.finding(
            f"{where}: a password is stored in the profile (not shown)",
            evidence=[f"{where} is set (value not read into the report)"],
            endpoint=None, service=None))
    if facts.unset_outgoing_port:
        tried = [r for r in results if r.setting.role is Role.OUTGOING
                 and "port unset" in r.setting.source]
        first = next((r for r in tried if r.works), None)
        summary = "the outgoing port is not set: the device tries 25, 587, 465 in this order"
        if first is not None:
            summary += f" and would use {first.setting.port} ({first.verdict})"
        out.append(R.CLIENT_OUTGOING_PORT_UNSET.finding(
            summary, evidence=[f"{r.setting.port}: {r.verdict}" for r in tried],
            endpoint=None, service=None))
    return out


def _discovery_findings(
    facts: ClientFacts, results: Sequence[SettingResult], client_picks: Sequence[ClientPick]
) -> list[Finding]:
    if facts.config_file is not None:
        return []
    out: list[Finding] = []
    domain = facts.domain or ""
    for step in facts.steps:
        if step.outcome == "untrusted":
            out.append(R.CLIENT_AUTOCONFIG_UNTRUSTED.finding(
                f"{step.target}: {step.detail}", evidence=[step.target, step.detail],
                endpoint=None, service=None))
        elif step.outcome == "invalid":
            out.append(R.CLIENT_AUTOCONFIG_INVALID.finding(
                f"{step.target}: {step.detail}", evidence=[step.target, step.detail],
                endpoint=None, service=None))
        elif step.outcome == "found" and step.method.startswith("autoconfig") and domain \
                and step.domains and domain not in step.domains:
            out.append(R.CLIENT_AUTOCONFIG_DOMAIN.finding(
                f"{step.target} lists {', '.join(step.domains)} but not {domain}",
                evidence=[step.target], endpoint=None, service=None))
    if not facts.settings or not any(r.works for r in results):
        out.append(R.CLIENT_DISCOVERY_NOTHING.finding(
            f"no working configuration found for {facts.address or domain}",
            evidence=[f"{s.method} {s.target}: {s.outcome} ({s.detail})" for s in facts.steps],
            endpoint=None, service=None))
    auto = {r.setting.host for r in results if r.setting.method.startswith("autoconfig")
            and r.setting.role is Role.INCOMING}
    srv = {r.setting.host for r in results if r.setting.method == "srv"
           and r.setting.role is Role.INCOMING}
    if auto and srv and not auto & srv:
        out.append(R.CLIENT_DISCOVERY_DISAGREE.finding(
            f"autoconfig names {', '.join(sorted(auto))} for incoming mail, SRV records name "
            f"{', '.join(sorted(srv))}", evidence=[f"autoconfig: {sorted(auto)}",
                                                   f"SRV: {sorted(srv)}"],
            endpoint=None, service=None))
    for p in client_picks:
        if p.setting is not None and p.secure is False:
            out.append(R.CLIENT_PICK_INSECURE.finding(
                f"{p.client} would set up {_label(p.setting)} for {p.role} mail: {p.note}",
                evidence=[p.setting.source, p.note], endpoint=None, service=None))
    return out
