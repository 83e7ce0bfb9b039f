"""The parts of schema ``mailtls/1`` that every section of a JSON report uses: a port's
observation, a certificate, a finding. The host list (``jsonout.py``), the mail domains
(``domainjson.py``) and the client (``clientjson.py``) all build on them."""

from __future__ import annotations

from typing import Any

from mailtls.model import (
    CertificateInfo,
    Finding,
    LoginAttempt,
    PortObservation,
    SecurityProbe,
    TLSScan,
    TLSSession,
    TranscriptLine,
)


def cert_dict(c: CertificateInfo) -> dict[str, Any]:
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
        "chain": [cert_dict(c) for c in t.chain],
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
