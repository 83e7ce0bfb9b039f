"""A saved JSON report (schema ``mailtls/1``) back into a ``Report``, so that every format can be
rendered from it later (``mailtls show report.json --format html``) without a second scan.

The inverse of ``mailtls.render.jsonout``: ``report_dict(report_from_dict(doc)) == doc`` for every
report mailtls writes (the round-trip tests hold it to that). Fields the JSON does not carry
(the raw capability replies, the chain's DER, a setting's priority) are not rendered by any
format either. Derived fields (verdicts, grades, counts) are computed again, not read.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, TypeVar

from mailtls.checks.outcomes import with_checks
from mailtls.errors import UsageError
from mailtls.model import (
    ALL_SERVICES,
    CertificateInfo,
    Change,
    ChangeKind,
    ClientPick,
    ClientReport,
    ConfigKind,
    DANEResult,
    DANEVerdict,
    Detection,
    Direction,
    DiscoveryStep,
    DNSLookup,
    DNSStatus,
    DomainObservation,
    DomainReport,
    Endpoint,
    ExpectationResult,
    FetchError,
    Finding,
    HostAddresses,
    HostReport,
    LoginAttempt,
    LoginOutcome,
    MXRecord,
    Outcome,
    PolicyFetch,
    PortObservation,
    PortState,
    ProbeVerdict,
    Protocol,
    RecordType,
    Report,
    Role,
    SecurityProbe,
    ServerSetting,
    Service,
    SettingMethod,
    SettingResult,
    Severity,
    SocketType,
    SRVRecord,
    SRVService,
    StepOutcome,
    StopKind,
    TLSMode,
    TLSScan,
    TLSSession,
    TranscriptLine,
    Verification,
)

__all__ = ["load_saved_report", "report_from_dict"]

Doc = dict[str, Any]
E = TypeVar("E", bound=enum.Enum)


class UnknownValue(ValueError):
    """A closed set's value this mailtls does not know: a report written by a newer one."""


def load_saved_report(path: str) -> tuple[Report, int]:
    """A report file (JSON, or JSON Lines whose hosts are merged) and its saved exit code."""
    from mailtls.regression.diff import load_report

    return report_from_dict(load_report(path), source=path)


def report_from_dict(doc: Doc, source: str = "<report>") -> tuple[Report, int]:
    """The ``Report`` a ``mailtls/1`` document describes, and the exit code it was saved with.
    A document that is not a complete report is a ``UsageError`` naming what is wrong."""
    try:
        return _report(doc), int(doc["summary"]["exit_code"])
    except UnknownValue as exc:
        raise UsageError(f"{source}: {exc} (written by a newer mailtls?)") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UsageError(f"{source}: not a complete mailtls report ({what})") from None


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value)


def _opt_strs(value: Any) -> tuple[str, ...] | None:
    return None if value is None else _strs(value)


def _enum(kind: type[E], value: Any, field: str) -> E:
    """``value`` as a member of the closed set ``kind``; an unknown one names the field."""
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(m.value) for m in kind)
        raise UnknownValue(f"unknown {field} {value!r} (known: {known})") from None


def _opt_enum(kind: type[E], value: Any, field: str) -> E | None:
    return None if value is None else _enum(kind, value, field)


def _severity(label: Any) -> Severity:
    if not isinstance(label, str) or label.upper() not in Severity.__members__:
        known = ", ".join(s.label for s in Severity)
        raise UnknownValue(f"unknown severity {label!r} (known: {known})")
    return Severity[label.upper()]


def _report(doc: Doc) -> Report:
    return Report(
        started_at=_time(doc["started_at"]),
        seconds=float(doc["seconds"]),
        hosts=tuple(_host(h) for h in doc["hosts"]),
        options=dict(doc.get("options", {})),
        domains=tuple(_domain(d) for d in doc.get("domains", ())),
        port25_controls=tuple(_observation(o) for o in doc.get("port25_controls", ())),
        expectations=tuple(_expectation(e) for e in doc.get("expectations", ())),
        changes=(None if "baseline" not in doc else
                 tuple(_change(c) for c in doc["baseline"]["changes"])),
        client=_client(doc["client"]) if doc.get("client") is not None else None,
    )


def finding_from_dict(f: Doc) -> Finding:
    return Finding(
        id=f["id"],
        severity=_severity(f["severity"]),
        summary=f["summary"],
        endpoint=f["endpoint"],
        service=f["service"],
        evidence=_strs(f["evidence"]),
        reference=f["reference"],
        remediation=f["remediation"],
        requirement=f.get("requirement"),
    )


def _host(h: Doc) -> HostReport:
    # which checks passed or were skipped is not saved: judged again from what was
    return with_checks(HostReport(
        name=h["name"],
        addresses=_strs(h["addresses"]),
        resolve_error=h["resolve_error"],
        observations=tuple(_observation(e) for e in h["endpoints"]),
        findings=tuple(finding_from_dict(f) for f in h["findings"]),
        roles=_strs(h.get("roles", ())),
    ))


def _service(e: Doc) -> Service:
    known = ALL_SERVICES.get(e["service"])
    protocol = _enum(Protocol, e["protocol"], "protocol")
    mode = _enum(TLSMode, e["tls_mode"], "tls_mode")
    if known is not None and known.protocol is protocol and known.tls_mode is mode:
        return known
    return Service(e["service"], protocol, mode, int(e["port"]), e["service"])


def _lines(lines: Any) -> tuple[TranscriptLine, ...]:
    return tuple(TranscriptLine(_enum(Direction, t["dir"], "transcript direction"), t["text"],
                                bool(t["tls"]), float(t["at"]))
                 for t in lines)


def _cert(c: Doc) -> CertificateInfo:
    return CertificateInfo(
        subject=c["subject"],
        issuer=c["issuer"],
        serial=c["serial"],
        not_before=_time(c["not_before"]),
        not_after=_time(c["not_after"]),
        dns_names=_strs(c["dns_names"]),
        ip_addresses=_strs(c["ip_addresses"]),
        common_names=_strs(c["common_names"]),
        key_type=c["key_type"],
        key_bits=int(c["key_bits"]),
        signature_algorithm=c["signature_algorithm"],
        sha256_fingerprint=c["sha256_fingerprint"],
        self_issued=bool(c["self_issued"]),
        self_signed=bool(c["self_signed"]),
        is_ca=bool(c["is_ca"]),
        must_staple=bool(c.get("must_staple", False)),
        ocsp_urls=_strs(c.get("ocsp_urls", ())),
        subject_key_id=_opt_text(c.get("subject_key_id")),
        authority_key_id=_opt_text(c.get("authority_key_id")),
    )


def _opt_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _tls(t: Doc | None) -> TLSSession | None:
    if t is None:
        return None
    v = t["verification"]
    return TLSSession(
        version=t["version"],
        cipher=t["cipher"],
        cipher_bits=t["cipher_bits"],
        chain=tuple(_cert(c) for c in t["chain"]),
        verification=Verification(bool(v["trusted"]), v["trust_store"], v["code"], v["message"]),
        handshake_seconds=float(t["handshake_seconds"]),
    )


def _tls_scan(t: Doc | None) -> TLSScan | None:
    if t is None:
        return None
    return TLSScan(
        versions=dict(t["versions"]),
        suites={v: _strs(names) for v, names in t["suites"].items()},
        server_order=dict(t["server_order"]),
        groups=_strs(t["groups"]),
        ecdhe_groups=_strs(t["ecdhe_groups"]),
        dh_bits=t["dh_bits"],
        secure_renegotiation=t["secure_renegotiation"],
        connections=int(t["connections"]),
        seconds=float(t["seconds"]),
        errors=_strs(t.get("errors", ())),
        compression=t.get("compression"),
        fallback_scsv=t.get("fallback_scsv"),
        ocsp_stapling=t.get("ocsp_stapling"),
    )


def _login(a: Doc | None) -> LoginAttempt | None:
    if a is None:
        return None
    return LoginAttempt(
        outcome=_enum(LoginOutcome, a["outcome"], "login outcome"),
        username=a["username"],
        reason=a["reason"],
        mechanism=a["mechanism"],
        reply=_strs(a["reply"]),
        sent=bool(a["sent"]),
        verified=bool(a["verified"]),
        override=bool(a["override"]),
        tls_version=a["tls_version"],
        connections=int(a["connections"]),
        seconds=float(a["seconds"]),
    )


def _security(p: Doc) -> SecurityProbe:
    return SecurityProbe(
        name=p["name"],
        verdict=_enum(ProbeVerdict, p["verdict"], "security probe verdict"),
        reason=p["reason"],
        evidence=_strs(p["evidence"]),
        transcript=_lines(p.get("transcript", ())),
        connections=int(p["connections"]),
        detail=p.get("detail"),
    )


def _observation(e: Doc) -> PortObservation:
    endpoint = Endpoint(e["host"], e["address"], int(e["port"]), _service(e),
                        bool(e["requested"]))
    data = e["data_after_go_ahead"]
    return PortObservation(
        endpoint=endpoint,
        state=_enum(PortState, e["state"], "port state"),
        error=e["error"],
        error_kind=_opt_enum(StopKind, e["error_kind"], "probe stop reason"),
        greeting=_strs(e["greeting"]),
        greeting_ok=e["greeting_ok"],
        capabilities_before=_opt_strs(e["capabilities_before_tls"]),
        starttls_offered=e["starttls_offered"],
        starttls_reply=_strs(e["starttls_reply"]),
        starttls_accepted=e["starttls_accepted"],
        data_after_go_ahead=data.encode("latin-1") if data else b"",
        tls=_tls(e["tls"]),
        tls_error=e["tls_error"],
        capabilities_after=_opt_strs(e["capabilities_after_tls"]),
        plaintext_on_implicit=_strs(e["plaintext_on_implicit_port"]),
        tls_on_starttls_port=bool(e["tls_on_starttls_port"]),
        preauth=bool(e["imap_preauth"]),
        tls_scan=_tls_scan(e.get("tls_scan")),
        security=tuple(_security(p) for p in e.get("security", ())),
        login=_login(e.get("login")),
        transcript=_lines(e.get("transcript", ())),
        connections=int(e["connections"]),
        seconds=float(e["seconds"]),
    )


# --- mail domains ------------------------------------------------------------------------------


def _lookup(lk: Doc | None) -> DNSLookup | None:
    if lk is None:
        return None
    return DNSLookup(
        name=lk["name"],
        rdtype=_enum(RecordType, lk["type"], "DNS record type"),
        status=_enum(DNSStatus, lk["status"], "DNS status"),
        records=_strs(lk["records"]),
        authenticated=bool(lk["authenticated"]),
        canonical_name=lk["canonical_name"],
        error=lk["error"],
        seconds=float(lk["seconds"]),
    )


def _required_lookup(lk: Doc) -> DNSLookup:
    found = _lookup(lk)
    if found is None:
        raise ValueError("a DNS lookup is null")
    return found


def _addresses(h: Doc | None) -> HostAddresses | None:
    if h is None:
        return None
    return HostAddresses(h["name"], _strs(h["addresses"]),
                         tuple(_required_lookup(lk) for lk in h["lookups"]))


def _policy(p: Doc | None) -> PolicyFetch | None:
    if p is None:
        return None
    verification = None
    if p["trusted"] is not None:
        verification = Verification(bool(p["trusted"]), "system", None, p["verify_message"])
    return PolicyFetch(
        url=p["url"],
        host=p["host"],
        address=p["address"],
        port=int(p["port"]),
        status=p["status"],
        content_type=p["content_type"],
        location=p["location"],
        body=p["body"],
        size=int(p["size"]),
        truncated=bool(p["truncated"]),
        tls_version=p["tls_version"],
        certificate=_cert(p["certificate"]) if p["certificate"] else None,
        verification=verification,
        unverified=bool(p["unverified_fetch"]),
        error=p["error"],
        error_kind=_opt_enum(FetchError, p["error_kind"], "policy fetch error"),
        connections=int(p["connections"]),
        seconds=float(p["seconds"]),
    )


def _dane(r: Doc) -> DANEResult:
    return DANEResult(
        endpoint=r["endpoint"],
        host=r["host"],
        tlsa_name=r["tlsa_name"],
        authenticated=bool(r["authenticated"]),
        usable=_strs(r["usable_records"]),
        matched=r["matched"],
        matched_depth=r["matched_depth"],
        verdict=_enum(DANEVerdict, r["verdict"], "DANE verdict"),
    )


def _exchange(name: str) -> str:
    return "" if name == "." else name


def _domain(d: Doc) -> DomainReport:
    mx = d["mx"]
    observation = DomainObservation(
        domain=d["name"],
        resolver=d["resolver"],
        resolver_trusted=bool(d["resolver_trusted"]),
        detected=_enum(Detection, d["detected"], "domain detection"),
        mx=_required_lookup(mx["lookup"]),
        mx_records=tuple(MXRecord(int(r["preference"]), _exchange(r["exchange"]))
                         for r in mx["records"]),
        implicit_mx=bool(mx["implicit"]),
        own=_addresses(d["own"]),
        hosts=tuple(h for h in (_addresses(x) for x in d["hosts"]) if h is not None),
        smtp_ports=tuple(int(p) for p in d["smtp_ports"]),
        tlsa=tuple(_required_lookup(lk) for lk in d["dane"]["tlsa"]),
        srv=tuple(
            SRVService(s["label"], s["service"], _required_lookup(s["lookup"]),
                       tuple(SRVRecord(int(r["priority"]), int(r["weight"]), int(r["port"]),
                                       _exchange(r["target"])) for r in s["records"]))
            for s in d["srv"]
        ),
        mta_sts_txt=_lookup(d["mta_sts"]["txt"]),
        mta_sts_policy=_policy(d["mta_sts"]["policy"]),
        tls_rpt_txt=_lookup(d["tls_rpt"]["txt"]),
        seconds=float(d["seconds"]),
    )
    return DomainReport(
        name=d["name"],
        observation=observation,
        findings=tuple(finding_from_dict(f) for f in d["findings"]),
        dane=tuple(_dane(r) for r in d["dane"]["results"]),
        hosts=_strs(d["tested_hosts"]),
    )


# --- regression and client ---------------------------------------------------------------------


def _expectation(e: Doc) -> ExpectationResult:
    return ExpectationResult(e["id"], e["host"], e["subject"], e["expected"], e["observed"],
                             _enum(Outcome, e["outcome"], "expectation outcome"),
                             _strs(e["evidence"]))


def _change(c: Doc) -> Change:
    return Change(
        kind=_enum(ChangeKind, c["kind"], "change kind"),
        host=c["host"],
        endpoint=c["endpoint"],
        summary=c["summary"],
        regression=bool(c["regression"]),
        old=c["old"],
        new=c["new"],
        finding_id=c["finding_id"],
        severity=_severity(c["severity"]) if c["severity"] is not None else None,
    )


def _setting(s: Doc) -> ServerSetting:
    return ServerSetting(
        role=_enum(Role, s["role"], "role"),
        protocol=_enum(Protocol, s["protocol"], "protocol"),
        host=s["host"],
        port=int(s["port"]),
        socket=_enum(SocketType, s["socket"], "socket type"),
        source=s["source"],
        method=_enum(SettingMethod, s["method"], "setting method"),
        configured=s["configured"],
        authentication=_strs(s["authentication"]),
        username=s["username"],
    )


def _result(r: Doc) -> SettingResult:
    return SettingResult(_setting(r["setting"]), r["service"], _strs(r["endpoints"]),
                         bool(r["works"]), bool(r["secure"]), r["verdict"],
                         _opt_enum(LoginOutcome, r["login"], "login outcome"))


def _client(c: Doc) -> ClientReport:
    return ClientReport(
        address=c["address"],
        domain=c["domain"],
        config_file=c["config_file"],
        config_kind=_opt_enum(ConfigKind, c["config_kind"], "configuration kind"),
        steps=tuple(
            DiscoveryStep(_enum(SettingMethod, s["method"], "discovery method"), s["target"],
                          _enum(StepOutcome, s["outcome"], "discovery outcome"), s["detail"],
                          tuple(_setting(x) for x in s["settings"]), _strs(s["domains"]),
                          bool(s["authenticated"]), int(s["connections"]), float(s["seconds"]))
            for s in c["discovery"]
        ),
        settings=tuple(_result(r) for r in c["settings"]),
        picks=tuple(
            ClientPick(p["client"], _enum(Role, p["role"], "role"),
                       _setting(p["setting"]) if p["setting"] is not None else None,
                       p["secure"], p["note"])
            for p in c["picks"]
        ),
        recommended=tuple(_result(r) for r in c["recommended"]),
        findings=tuple(finding_from_dict(f) for f in c["findings"]),
        notes=_strs(c["notes"]),
    )
