"""Judge a mail domain: MX, SRV, MTA-STS, TLS-RPT and DANE, from the DNS facts and the port
observations of its hosts. Pure: no sockets, no clock (``judgement.now``).
"""

from __future__ import annotations

from collections.abc import Sequence

from mailtls.checks import rules as R
from mailtls.checks.common import where
from mailtls.checks.judge import Judgement
from mailtls.formats.mailpolicy import (
    StsPolicy,
    mx_hosts,
    mx_matches as sts_mx_matches,
    parse_sts_policy,
    parse_sts_txt,
    parse_tlsrpt,
)
from mailtls.model import (
    DANEResult,
    DANEVerdict,
    Detection,
    DNSLookup,
    DNSStatus,
    DomainObservation,
    Finding,
    HostAddresses,
    HostReport,
    PolicyFetch,
    PortObservation,
    PortState,
    Severity,
    StopKind,
    TLSMode,
)
from mailtls.pki import dane
from mailtls.pki.x509 import days_left, describe, match_name

_MODERN_TLS = ("TLSv1.2", "TLSv1.3")
_ONE_DAY = 86400
_STOPPED_EARLY = frozenset({
    StopKind.DEADLINE, StopKind.INTERRUPTED, StopKind.INTERNAL, StopKind.GREETING_TIMEOUT,
    StopKind.CLOSED, StopKind.READ_TIMEOUT, StopKind.GREETING_REJECTED, StopKind.PROTOCOL,
    StopKind.NETWORK,
})


def lookup_line(lk: DNSLookup) -> str:
    """One line of evidence: the question and its answer."""
    head = f"{lk.name} {lk.rdtype}"
    if lk.status is DNSStatus.ANSWER:
        shown = "; ".join(lk.records[:6]) + (f" (+{len(lk.records) - 6})" if len(
            lk.records) > 6 else "")
        text = f"{head}: {shown}"
    elif lk.status.failed:
        text = f"{head}: {lk.status.value.upper()}" + (f" ({lk.error})" if lk.error else "")
    else:
        text = f"{head}: {lk.status.value.upper()}"
    if lk.canonical_name:
        text += f" (via CNAME {lk.canonical_name})"
    return text + (" [AD]" if lk.authenticated else "")


def _failed(lk: DNSLookup, what: str) -> Finding:
    return R.DNS_LOOKUP_FAILED.finding(
        f"the {lk.rdtype} lookup of {lk.name} failed ({lk.status.value}): {what} was not tested",
        endpoint=None, service=None, evidence=[lookup_line(lk)])


_where = where


def judge_domain(
    obs: DomainObservation, hosts: Sequence[HostReport], judgement: Judgement
) -> tuple[list[Finding], list[DANEResult]]:
    observations = [o for h in hosts for o in h.observations]
    by_name = {h.name: h for h in obs.hosts}
    findings: list[Finding] = []
    if obs.mx.status is DNSStatus.NXDOMAIN:
        findings.append(R.DOMAIN_NXDOMAIN.finding(
            f"{obs.domain} does not exist (NXDOMAIN from {obs.resolver})",
            endpoint=None, service=None, evidence=[lookup_line(obs.mx)]))
        return findings, []
    null_mx = any(not r.exchange for r in obs.mx_records)
    findings.extend(_mx(obs, by_name, hosts))
    findings.extend(_srv(obs, by_name, observations, null_mx))
    sts_findings, policy_present = _mta_sts(obs, observations, judgement, null_mx)
    findings.extend(sts_findings)
    dane_findings, results, tlsa_present = _dane(obs, by_name, observations, judgement, null_mx)
    findings.extend(dane_findings)
    findings.extend(_tls_rpt(obs, null_mx, policy_present or tlsa_present))
    return findings, results


# --- MX ----------------------------------------------------------------------------------------


def _mx(
    obs: DomainObservation, by_name: dict[str, HostAddresses], hosts: Sequence[HostReport]
) -> list[Finding]:
    out: list[Finding] = []
    domain = obs.domain
    if obs.mx.status.failed:
        out.append(_failed(obs.mx, "where the domain's mail goes"))
        return out
    null = [r for r in obs.mx_records if not r.exchange]
    if null:
        others = [r for r in obs.mx_records if r.exchange]
        evidence = [lookup_line(obs.mx)]
        if others:
            out.append(R.MX_NULL_MIXED.finding(
                f"{domain} publishes a null MX and {len(others)} other MX record(s): senders "
                "cannot tell whether it takes mail", endpoint=None, service=None,
                evidence=evidence))
        else:
            note = "" if null[0].preference == 0 else (
                f" (preference {null[0].preference}; RFC 7505 says it should be 0)")
            out.append(R.MX_NULL.finding(
                f"{domain} publishes a null MX ('MX 0 .'): it accepts no mail{note}",
                endpoint=None, service=None, evidence=evidence))
    if obs.implicit_mx:
        own = obs.own
        if own is not None and own.addresses:
            out.append(R.MX_NONE.finding(
                f"{domain} has no MX records: senders deliver to its own address "
                f"({', '.join(own.addresses)}), which was tested on port "
                f"{', '.join(str(p) for p in obs.smtp_ports)}",
                endpoint=None, service=None,
                evidence=[lookup_line(obs.mx), *(lookup_line(lk) for lk in own.lookups)]))
        elif own is not None and any(lk.status.failed for lk in own.lookups):
            out.extend(_failed(lk, "the address fallback (no MX)")
                       for lk in own.lookups if lk.status.failed)
        else:
            out.append(R.MX_NONE.finding(
                f"{domain} has neither MX nor address records: it accepts no mail, but does not "
                "say so with a null MX, so senders retry for days",
                endpoint=None, service=None, severity=Severity.FAIL,
                evidence=[lookup_line(obs.mx),
                          *(lookup_line(lk) for lk in (own.lookups if own else ()))]))
    for name in mx_hosts(obs.mx_records):
        h = by_name.get(name)
        if h is None:
            continue
        failed = [lk for lk in h.lookups if lk.status.failed]
        out.extend(_failed(lk, f"MX host {name}") for lk in failed)
        if not h.addresses and not failed:
            out.append(R.MX_TARGET_UNRESOLVED.finding(
                f"MX host {name} of {domain} has no A or AAAA record: mail cannot go there",
                endpoint=None, service=None, evidence=[lookup_line(lk) for lk in h.lookups]))
        aliased = [lk for lk in h.lookups if lk.canonical_name]
        if aliased:
            out.append(R.MX_TARGET_CNAME.finding(
                f"MX host {name} is an alias of {aliased[0].canonical_name}",
                endpoint=None, service=None, evidence=[lookup_line(lk) for lk in aliased]))
    tested = {h.name for h in hosts}
    own = obs.own
    if (obs.detected is Detection.MX and mx_hosts(obs.mx_records) and own is not None
            and own.addresses and domain not in tested):
        out.append(R.DOMAIN_OWN_NOT_TESTED.finding(
            f"{domain} has MX records, so its MX hosts ({', '.join(mx_hosts(obs.mx_records))}) "
            f"were tested as the domain's mail servers; {domain}'s own address "
            f"{', '.join(own.addresses)} was not checked (use --host for that)",
            endpoint=None, service=None,
            evidence=[lookup_line(obs.mx), *(lookup_line(lk) for lk in own.lookups)]))
    return out


# --- SRV ---------------------------------------------------------------------------------------


def _tls_works(o: PortObservation) -> bool | None:
    """True: TLS in the mode of the service; False: the port stays plaintext; None: unknown."""
    if o.state is not PortState.OPEN or o.error_kind in _STOPPED_EARLY:
        return None
    if o.tls is not None and not o.tls_on_starttls_port:
        return True
    if o.endpoint.service.tls_mode is TLSMode.STARTTLS:
        if o.starttls_offered is False or o.starttls_accepted is False or o.tls_on_starttls_port:
            return False
        return False if o.tls_error else None
    return False if (o.plaintext_on_implicit or o.tls_error) else None


def _srv(
    obs: DomainObservation, by_name: dict[str, HostAddresses],
    observations: Sequence[PortObservation], null_mx: bool,
) -> list[Finding]:
    out: list[Finding] = []
    domain = obs.domain
    any_record = False
    for srv in obs.srv:
        name = f"{srv.label}.{domain}"
        if srv.lookup.status.failed:
            out.append(_failed(srv.lookup, f"the {srv.service} service named by {name}"))
            continue
        if not srv.records:
            continue
        any_record = True
        secure = srv.lookup.authenticated and obs.resolver_trusted
        for record in srv.records:
            if not record.target:
                out.append(R.SRV_NOT_OFFERED.finding(
                    f"{name} says {srv.service} is not offered (target '.')",
                    endpoint=None, service=srv.service, evidence=[lookup_line(srv.lookup)]))
                continue
            h = by_name.get(record.target)
            if h is not None and not h.addresses:
                if not any(lk.status.failed for lk in h.lookups):
                    out.append(R.SRV_TARGET_UNRESOLVED.finding(
                        f"{name} names {record.target}, which has no A or AAAA record",
                        endpoint=None, service=srv.service,
                        evidence=[lookup_line(srv.lookup), *map(lookup_line, h.lookups)]))
                else:
                    out.extend(_failed(lk, f"SRV target {record.target}")
                               for lk in h.lookups if lk.status.failed)
                continue
            mine = [o for o in observations
                    if o.endpoint.host == record.target and o.endpoint.port == record.port
                    and o.endpoint.service.name == srv.service]
            out.extend(_srv_endpoint(srv.label, name, domain, record.target, secure, mine,
                                     srv.lookup))
    if not any_record and not null_mx and not any(s.lookup.status.failed for s in obs.srv):
        out.append(R.SRV_NONE.finding(
            f"{domain} publishes none of the six mail SRV records (RFC 6186/8314): clients must "
            "be configured by hand or guess", endpoint=None, service=None,
            evidence=[lookup_line(s.lookup) for s in obs.srv]))
    return out


def _srv_endpoint(
    label: str, name: str, domain: str, target: str, secure: bool,
    mine: Sequence[PortObservation], lookup: DNSLookup,
) -> list[Finding]:
    out: list[Finding] = []
    plain = [o for o in mine if _tls_works(o) is False]
    if plain:
        o = plain[0]
        out.append(R.SRV_PLAINTEXT.finding(
            f"{name} steers clients to {target} port {o.endpoint.port}, where "
            f"{o.endpoint.service.name} has no working "
            f"{'STARTTLS' if o.endpoint.service.tls_mode is TLSMode.STARTTLS else 'implicit TLS'}",
            evidence=[lookup_line(lookup), *(f"{p.endpoint.key}: {p.error or 'no TLS'}"
                                             for p in plain)], **_where(o)))
    with_cert = [o for o in mine if o.tls is not None and o.tls.chain]
    if not with_cert:
        return out
    o = with_cert[0]
    leaf = o.tls.chain[0] if o.tls else None
    assert leaf is not None
    target_ok = match_name(leaf, target).matched
    domain_ok = match_name(leaf, domain).matched
    evidence = [lookup_line(lookup), describe(leaf)]
    if not target_ok and not domain_ok:
        out.append(R.SRV_CERT_NAME.finding(
            f"{name} points at {target}, whose certificate names neither {target} nor {domain}",
            evidence=evidence, **_where(o)))
    elif not domain_ok and not secure and target != domain:
        out.append(R.SRV_CERT_NAME.finding(
            f"{name} is not DNSSEC-validated, so clients following RFC 7817 check the "
            f"certificate of {target} against {domain}, which it does not cover",
            evidence=evidence, severity=Severity.WARN, **_where(o)))
    return out


# --- MTA-STS -------------------------------------------------------------------------------------


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _mta_sts(
    obs: DomainObservation, observations: Sequence[PortObservation], judgement: Judgement,
    null_mx: bool,
) -> tuple[list[Finding], bool]:
    """The MTA-STS findings (RFC 8461) and whether the domain publishes a record at all."""
    out: list[Finding] = []
    if not _sts_record(obs, null_mx, out):
        return out, False
    fetch = obs.mta_sts_policy
    if fetch is None:
        return out, True
    where = f"{fetch.url} ({fetch.address or 'no address'} port {fetch.port})"
    if fetch.error and fetch.status is None:
        out.append(R.STS_POLICY_UNAVAILABLE.finding(
            f"the MTA-STS policy of {obs.domain} cannot be fetched: {fetch.error}",
            endpoint=None, service=None, evidence=[where, fetch.error]))
        return out, True
    cert_problems = _sts_policy_cert_problems(fetch, judgement)
    if cert_problems:
        out.append(R.STS_POLICY_CERT.finding(
            f"the certificate of {fetch.host} is not valid for the policy host: "
            + "; ".join(cert_problems) + " — senders ignore the policy",
            endpoint=None, service=None,
            evidence=[where] + ([describe(fetch.certificate)] if fetch.certificate else [])))
    if not _sts_response(fetch, where, out):
        return out, True
    policy = parse_sts_policy(fetch.body)
    body_lines = [f"| {line}" for line in fetch.body.splitlines()[:12]]
    if not policy.valid:
        out.append(R.STS_POLICY_INVALID.finding(
            f"the MTA-STS policy of {obs.domain} is invalid: {'; '.join(policy.problems)}",
            endpoint=None, service=None, evidence=[where, *body_lines]))
        return out, True
    _sts_policy_mode(obs.domain, policy, body_lines, out)
    if not cert_problems and policy.mode != "none":
        _sts_mx(obs, observations, judgement, policy, out)
    return out, True


def _sts_record(obs: DomainObservation, null_mx: bool, out: list[Finding]) -> bool:
    """The ``_mta-sts`` TXT record (RFC 8461 §3.1): False when there is none to go on."""
    txt = obs.mta_sts_txt
    if txt is None:
        return False
    if txt.status.failed:
        out.append(_failed(txt, "MTA-STS"))
        return False
    record = parse_sts_txt(txt.records)
    if not record.candidates:
        if not null_mx:
            out.append(R.STS_NONE.finding(
                f"{obs.domain} publishes no MTA-STS policy: senders use TLS only "
                "opportunistically", endpoint=None, service=None, evidence=[lookup_line(txt)]))
        return False
    if record.problems:
        out.append(R.STS_RECORD_INVALID.finding(
            f"the MTA-STS record of {obs.domain} is not usable: {'; '.join(record.problems)}",
            endpoint=None, service=None, evidence=[lookup_line(txt)]))
    return True


def _sts_policy_cert_problems(fetch: PolicyFetch, judgement: Judgement) -> list[str]:
    """Why the policy host's certificate makes senders ignore the policy (RFC 8461 §3.3)."""
    problems: list[str] = []
    ver = fetch.verification
    if ver is not None and not ver.trusted:
        problems.append(f"not trusted by the {ver.trust_store} store: "
                        f"{ver.message or 'verification failed'}")
    if fetch.certificate is not None:
        policy_name = match_name(fetch.certificate, fetch.host)
        if not policy_name.matched or policy_name.legacy_cn:
            problems.append(policy_name.reason if not policy_name.matched else
                            f"{fetch.host} matched only by the legacy subject CN")
        if days_left(fetch.certificate, judgement.now) < 0:
            problems.append(f"expired {fetch.certificate.not_after:%Y-%m-%d}")
    return problems


def _sts_response(fetch: PolicyFetch, where: str, out: list[Finding]) -> bool:
    """The HTTP response that carries the policy (RFC 8461 §3.3): True when its body is the
    policy to read."""
    status = fetch.status
    if status is not None and 300 <= status < 400:
        out.append(R.STS_POLICY_REDIRECT.finding(
            f"{fetch.url} answers {status} with a redirect"
            + (f" to {fetch.location}" if fetch.location else "")
            + ": senders do not follow it, so there is no policy for them",
            endpoint=None, service=None,
            evidence=[where, f"HTTP {status}", f"Location: {fetch.location}"]))
        return False
    if status != 200:
        out.append(R.STS_POLICY_UNAVAILABLE.finding(
            f"{fetch.url} answers HTTP {status} instead of 200 with the policy",
            endpoint=None, service=None, evidence=[where, f"HTTP {status}", fetch.body[:200]]))
        return False
    if _media_type(fetch.content_type) != "text/plain":
        out.append(R.STS_POLICY_CONTENT_TYPE.finding(
            f"{fetch.url} is served as {fetch.content_type or '(no Content-Type)'}, "
            "not text/plain", endpoint=None, service=None,
            evidence=[where, f"Content-Type: {fetch.content_type}"]))
    if fetch.truncated:
        out.append(R.STS_POLICY_TOO_LARGE.finding(
            f"{fetch.url} is larger than 64 KiB (reading stopped at {fetch.size} bytes)",
            endpoint=None, service=None, evidence=[where, f"read {fetch.size} bytes, more "
                                                          "followed"]))
        return False
    return True


def _sts_policy_mode(domain: str, policy: StsPolicy, body_lines: list[str],
                     out: list[Finding]) -> None:
    if policy.mode in ("testing", "none"):
        out.append(R.STS_NOT_ENFORCED.finding(
            f"the MTA-STS policy of {domain} is in mode {policy.mode}: senders "
            + ("report failures but still deliver" if policy.mode == "testing"
               else "drop any cached policy"),
            endpoint=None, service=None, evidence=body_lines))
    if policy.max_age is not None and policy.max_age < _ONE_DAY and policy.mode != "none":
        out.append(R.STS_MAX_AGE_SHORT.finding(
            f"the MTA-STS policy of {domain} has max_age {policy.max_age} s (under a day)",
            endpoint=None, service=None, evidence=body_lines))


def _sts_mx(obs: DomainObservation, observations: Sequence[PortObservation],
            judgement: Judgement, policy: StsPolicy, out: list[Finding]) -> None:
    """Every MX host against the policy's patterns and its TLS requirements (RFC 8461 §4)."""
    severity = Severity.FAIL if policy.mode == "enforce" else Severity.WARN
    names = mx_hosts(obs.mx_records) or ([obs.domain] if obs.implicit_mx else [])
    for name in names:
        if not any(sts_mx_matches(p, name) for p in policy.mx):
            out.append(R.STS_MX_NOT_LISTED.finding(
                f"MX host {name} matches none of the policy's mx patterns "
                f"({', '.join(policy.mx)}): senders enforcing the policy will not deliver there",
                endpoint=None, service=None, severity=severity,
                evidence=[f"mx: {p}" for p in policy.mx]))
    for o in observations:
        if o.endpoint.host not in names or o.endpoint.service.name != "smtp":
            continue
        problems = _sts_tls_problems(o, judgement)
        if problems:
            out.append(R.STS_MX_TLS.finding(
                f"MX {o.endpoint.host} at {o.endpoint.key} fails the MTA-STS requirements: "
                + "; ".join(problems), severity=severity,
                evidence=[*([describe(o.tls.chain[0])] if o.tls and o.tls.chain else []),
                          *([o.tls_error] if o.tls_error else [])],
                **_where(o)))


def _sts_tls_problems(o: PortObservation, judgement: Judgement) -> list[str]:
    if o.state is not PortState.OPEN or o.error_kind in _STOPPED_EARLY:
        return []  # not tested: reported by the port's own findings
    tls = o.tls
    if tls is None:
        return ["no working STARTTLS" + (f" ({o.tls_error})" if o.tls_error else "")]
    problems = []
    if tls.version not in _MODERN_TLS:
        problems.append(f"{tls.version} negotiated (TLS 1.2 or newer required)")
    if not tls.verification.trusted:
        problems.append(f"certificate not trusted ({tls.verification.message or 'unverified'})")
    if tls.chain:
        leaf = tls.chain[0]
        name = match_name(leaf, o.endpoint.host)
        if not name.matched or name.legacy_cn:
            problems.append(name.reason if not name.matched else "name only in the subject CN")
        if days_left(leaf, judgement.now) < 0:
            problems.append(f"certificate expired {leaf.not_after:%Y-%m-%d}")
    return problems


# --- TLS-RPT -------------------------------------------------------------------------------------


def _tls_rpt(obs: DomainObservation, null_mx: bool, wanted: bool) -> list[Finding]:
    txt = obs.tls_rpt_txt
    if txt is None or null_mx:
        return []
    if txt.status.failed:
        return [_failed(txt, "TLS-RPT")]
    record = parse_tlsrpt(txt.records)
    if not record.candidates:
        return [R.TLSRPT_NONE.finding(
            f"{obs.domain} publishes no TLS-RPT record: senders have nowhere to report TLS "
            "failures" + (" (MTA-STS/DANE are meant to be used with it)" if wanted else ""),
            endpoint=None, service=None, evidence=[lookup_line(txt)],
            severity=Severity.WARN if wanted else None)]
    if not record.valid:
        return [R.TLSRPT_INVALID.finding(
            f"the TLS-RPT record of {obs.domain} is not usable: {'; '.join(record.problems)}",
            endpoint=None, service=None, evidence=[lookup_line(txt)])]
    return []


# --- DANE ----------------------------------------------------------------------------------------


def _dane(
    obs: DomainObservation, by_name: dict[str, HostAddresses],
    observations: Sequence[PortObservation], judgement: Judgement, null_mx: bool,
) -> tuple[list[Finding], list[DANEResult], bool]:
    out: list[Finding] = []
    results: list[DANEResult] = []
    names = mx_hosts(obs.mx_records) or ([obs.domain] if obs.implicit_mx else [])
    tlsa = {lk.name: lk for lk in obs.tlsa}
    without: list[str] = []
    present = False
    for name in names:
        h = by_name.get(name)
        for port in obs.smtp_ports:
            lk = tlsa.get(f"_{port}._tcp.{name}")
            if lk is None:
                continue
            if lk.status.failed:
                signed = h is not None and obs.resolver_trusted and any(
                    a.authenticated for a in h.lookups)
                out.append(R.DANE_LOOKUP_FAILED.finding(
                    f"the TLSA lookup of {lk.name} failed ({lk.status.value}): DANE senders "
                    "defer mail to this MX" + ("" if signed else
                                               " if its zone is DNSSEC-signed"),
                    endpoint=None, service=None, evidence=[lookup_line(lk)],
                    severity=None if signed else Severity.WARN))
                continue
            if lk.status is not DNSStatus.ANSWER:
                without.append(lk.name)
                continue
            present = True
            out_, res = _dane_host(obs, name, port, lk, observations, judgement)
            out.extend(out_)
            results.extend(res)
    if names and without and not present and not null_mx:
        out.append(R.DANE_NONE.finding(
            f"no MX host of {obs.domain} publishes TLSA records: DANE senders use "
            "unauthenticated TLS", endpoint=None, service=None,
            evidence=[lookup_line(lk) for lk in obs.tlsa]))
    return out, results, present


def _dane_host(
    obs: DomainObservation, name: str, port: int, lk: DNSLookup,
    observations: Sequence[PortObservation], judgement: Judgement,
) -> tuple[list[Finding], list[DANEResult]]:
    out: list[Finding] = []
    secure = lk.authenticated and obs.resolver_trusted
    records = [r for r in (dane.parse_tlsa(t) for t in lk.records) if r is not None]
    usable = [r for r in records if dane.unusable_reason(r) is None]
    if not secure:
        out.append(R.DANE_NOT_AUTHENTICATED.finding(
            f"the TLSA records at {lk.name} are not DNSSEC-validated"
            + (f" by {obs.resolver}: DANE senders ignore them" if obs.resolver_trusted else
               f" as far as this run can tell: the AD bit of {obs.resolver} is not trusted "
               "(give --resolver with a validating resolver you trust)"),
            endpoint=None, service=None, evidence=[lookup_line(lk)],
            severity=Severity.WARN if obs.resolver_trusted else Severity.INFO))
    for r in records:
        reason = dane.unusable_reason(r)
        if reason is not None:
            out.append(R.DANE_UNUSABLE.finding(
                f"TLSA {r.short} at {lk.name}: {reason}"
                + ("" if usable else "; no usable record is left, so DANE senders fall back to "
                   "unauthenticated TLS"),
                endpoint=None, service=None, evidence=[r.text]))
    if len(usable) == 1:
        out.append(R.DANE_SINGLE_RECORD.finding(
            f"{lk.name} has a single usable TLSA record, {usable[0].label}: a key or "
            "certificate change breaks DANE delivery until the record is updated",
            endpoint=None, service=None, evidence=[usable[0].text]))
    results: list[DANEResult] = []
    fail = None if secure else Severity.WARN
    for o in observations:
        if (o.endpoint.host != name or o.endpoint.port != port
                or o.endpoint.service.name != "smtp" or o.state is not PortState.OPEN
                or o.error_kind in _STOPPED_EARLY):
            continue
        def result(
            verdict: DANEVerdict, matched: dane.Match | None = None, key: str = o.endpoint.key
        ) -> DANEResult:
            return DANEResult(
                endpoint=key, host=name, tlsa_name=lk.name, authenticated=secure,
                usable=tuple(r.text for r in usable),
                matched=matched.record.text if matched else None,
                matched_depth=matched.depth if matched else None, verdict=verdict)
        if o.tls is None or not o.tls.chain_der:
            results.append(result(DANEVerdict.NO_TLS))
            out.append(R.DANE_NO_STARTTLS.finding(
                f"{lk.name} has TLSA records but {o.endpoint.key} offers no working STARTTLS: "
                "DANE senders will not deliver in plaintext",
                evidence=[lookup_line(lk), o.tls_error or o.error or "STARTTLS not offered"],
                severity=fail, **_where(o)))
            continue
        if not usable:
            results.append(result(DANEVerdict.NO_USABLE_RECORDS))
            continue
        match = dane.match_chain(usable, o.tls.chain_der)
        if match is None:
            results.append(result(DANEVerdict.NO_MATCH))
            current = dane.record_for(o.tls.chain_der[0])
            out.append(R.DANE_NO_MATCH.finding(
                f"the certificate {o.endpoint.key} presents matches none of the "
                f"{len(usable)} usable TLSA record(s) at {lk.name}"
                + ("" if secure else " (not DNSSEC-validated, so not yet enforced)"),
                evidence=[*(f"TLSA {r.label}: {r.data.hex()}" for r in usable),
                          f"presented: {describe(o.tls.chain[0])}",
                          f"a record for the presented key: {current}"],
                severity=fail, **_where(o)))
            continue
        results.append(result(DANEVerdict.MATCH, match))
        if match.record.usage == 2:
            leaf = o.tls.chain[0]
            problems = []
            if not (match_name(leaf, name).matched or match_name(leaf, obs.domain).matched):
                problems.append(match_name(leaf, name).reason)
            left = days_left(leaf, judgement.now)
            if left < 0 or leaf.not_before > judgement.now:
                problems.append(f"outside its validity ({leaf.not_before:%Y-%m-%d} .. "
                                f"{leaf.not_after:%Y-%m-%d})")
            if problems:
                out.append(R.DANE_TA_NAME.finding(
                    f"{o.endpoint.key} matches DANE-TA record {match.record.short}, but "
                    + "; ".join(problems), evidence=[match.record.text, describe(leaf)],
                    severity=fail, **_where(o)))
    return out, results
