"""The canonical machine-readable form of a report (schema ``mailtls/1``, see
``mailtls/schema/report-1.json``). Other formats derive from the same report."""

from __future__ import annotations

import json
from typing import Any

from mailtls import __version__
from mailtls.model import (
    CertificateInfo,
    Finding,
    HostReport,
    LoginAttempt,
    PortObservation,
    Report,
    SecurityProbe,
    TLSScan,
    TLSSession,
    TranscriptLine,
)
from mailtls.render.clientjson import client_fields
from mailtls.render.domainjson import domain_fields
from mailtls.render.summary import GRADE_SCHEME

SCHEMA = "mailtls/1"


def _cert(c: CertificateInfo) -> dict[str, Any]:
    return {
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial,
        "not_before": c.not_before.isoformat(),
        "not_after": c.not_after.isoformat(),
        "dns_names": list(c.dns_names),
        "ip_addresses": list(c.ip_addresses),
        "common_names": list(c.common_names),
        "key_type": c.key_type,
        "key_bits": c.key_bits,
        "signature_algorithm": c.signature_algorithm,
        "sha256_fingerprint": c.sha256_fingerprint,
        "self_issued": c.self_issued,
        "self_signed": c.self_signed,
        "is_ca": c.is_ca,
        "must_staple": c.must_staple,
        "ocsp_urls": list(c.ocsp_urls),
        "subject_key_id": c.subject_key_id,
        "authority_key_id": c.authority_key_id,
    }


def _tls(t: TLSSession | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "version": t.version,
        "cipher": t.cipher,
        "cipher_bits": t.cipher_bits,
        "handshake_seconds": t.handshake_seconds,
        "verification": {
            "trusted": t.verification.trusted,
            "trust_store": t.verification.trust_store,
            "code": t.verification.code,
            "message": t.verification.message,
        },
        "chain": [_cert(c) for c in t.chain],
    }


def _tls_scan(t: TLSScan | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "versions": dict(t.versions),
        "suites": {v: list(names) for v, names in t.suites.items()},
        "server_order": dict(t.server_order),
        "groups": list(t.groups),
        "ecdhe_groups": list(t.ecdhe_groups),
        "dh_bits": t.dh_bits,
        "secure_renegotiation": t.secure_renegotiation,
        "compression": t.compression,
        "fallback_scsv": t.fallback_scsv,
        "ocsp_stapling": t.ocsp_stapling,
        "connections": t.connections,
        "seconds": t.seconds,
        "errors": list(t.errors),
    }


def _caps(caps: tuple[str, ...] | None) -> list[str] | None:
    return None if caps is None else list(caps)


def _login(a: LoginAttempt | None) -> dict[str, Any] | None:
    """The login test of a port; holds no password by construction (LoginAttempt has none)."""
    if a is None:
        return None
    return {
        "outcome": a.outcome.value,
        "username": a.username,
        "reason": a.reason,
        "mechanism": a.mechanism,
        "reply": list(a.reply),
        "sent": a.sent,
        "verified": a.verified,
        "override": a.override,
        "tls_version": a.tls_version,
        "connections": a.connections,
        "seconds": a.seconds,
    }


def _lines(transcript: tuple[TranscriptLine, ...]) -> list[dict[str, Any]]:
    return [{"dir": t.direction.value, "tls": t.tls, "at": t.at, "text": t.text}
            for t in transcript]


def _security(p: SecurityProbe, transcript: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "verdict": p.verdict.value,
        "detail": p.detail,
        "reason": p.reason,
        "evidence": list(p.evidence),
        "connections": p.connections,
    }
    if transcript:
        out["transcript"] = _lines(p.transcript)
    return out


def observation_dict(o: PortObservation, transcript: bool = True) -> dict[str, Any]:
    e = o.endpoint
    out: dict[str, Any] = {
        "endpoint": e.key,
        "host": e.host,
        "address": e.address,
        "port": e.port,
        "service": e.service.name,
        "protocol": e.service.protocol.value,
        "tls_mode": e.service.tls_mode.value,
        "requested": e.requested,
        "state": o.state.value,
        "error": o.error,
        "error_kind": o.error_kind,
        "greeting": list(o.greeting),
        "greeting_ok": o.greeting_ok,
        "capabilities_before_tls": _caps(o.capabilities_before),
        "starttls_offered": o.starttls_offered,
        "starttls_reply": list(o.starttls_reply),
        "starttls_accepted": o.starttls_accepted,
        "data_after_go_ahead": o.data_after_go_ahead.decode("latin-1") or None,
        "tls": _tls(o.tls),
        "tls_error": o.tls_error,
        "capabilities_after_tls": _caps(o.capabilities_after),
        "plaintext_on_implicit_port": list(o.plaintext_on_implicit),
        "tls_on_starttls_port": o.tls_on_starttls_port,
        "imap_preauth": o.preauth,
        "tls_scan": _tls_scan(o.tls_scan),
        "login": _login(o.login),
        "security": [_security(p, transcript) for p in o.security],
        "connections": o.connections,
        "seconds": o.seconds,
    }
    if transcript:
        out["transcript"] = [
            {"dir": t.direction.value, "tls": t.tls, "at": t.at, "text": t.text}
            for t in o.transcript
        ]
    return out


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "severity": f.severity.label,
        "summary": f.summary,
        "endpoint": f.endpoint,
        "service": f.service,
        "evidence": list(f.evidence),
        "reference": f.reference,
        "requirement": f.requirement,
        "remediation": f.remediation,
    }


def host_dict(h: HostReport) -> dict[str, Any]:
    from mailtls.render.summary import host_grade, port_grade, port_verdict, verdict

    endpoints = []
    for o in h.observations:
        e = observation_dict(o)
        # derived from the findings (mailtls.render.summary): the table's verdict column
        e["verdict"] = port_verdict(h, o)
        e["grade"] = port_grade(h, o)
        endpoints.append(e)
    return {
        "name": h.name,
        "addresses": list(h.addresses),
        "resolve_error": h.resolve_error,
        "verdict": verdict(h.findings),
        "grade": host_grade(h),
        "endpoints": endpoints,
        "findings": [finding_dict(f) for f in h.findings],
        **({"roles": list(h.roles)} if h.roles else {}),
    }


def report_dict(report: Report, exit_code: int) -> dict[str, Any]:
    counts = {s: 0 for s in ("fail", "unknown", "warn", "info")}
    for f in report.findings:
        counts[f.severity.label] += 1
    return {
        "schema": SCHEMA,
        "tool": {"name": "mailtls", "version": __version__},
        "started_at": report.started_at.isoformat(),
        "seconds": report.seconds,
        "options": dict(report.options),
        "summary": {"findings": counts, "connections": report.connections, "exit_code": exit_code,
                    "grade_scheme": GRADE_SCHEME},
        "hosts": [host_dict(h) for h in report.hosts],
        **_regression_fields(report),
        **domain_fields(report),
        **client_fields(report),
    }


def _regression_fields(report: Report) -> dict[str, Any]:
    """``expectations`` (--expect) and ``baseline`` (--baseline), only when asked for."""
    out: dict[str, Any] = {}
    if not report.expectations and report.changes is None:
        return out
    from mailtls.regression.diff import change_dict  # only then: start-up time of every check

    if report.expectations:
        out["expectations"] = [
            {
                "id": r.id,
                "host": r.host,
                "subject": r.subject,
                "expected": r.expected,
                "observed": r.observed,
                "outcome": r.outcome.value,
                "evidence": list(r.evidence),
            }
            for r in report.expectations
        ]
    if report.changes is not None:
        out["baseline"] = {
            "changes": [change_dict(c) for c in report.changes],
            "regressions": sum(1 for c in report.changes if c.regression),
        }
    return out


def render_json(report: Report, exit_code: int) -> str:
    return json.dumps(report_dict(report, exit_code), indent=2, ensure_ascii=False)
