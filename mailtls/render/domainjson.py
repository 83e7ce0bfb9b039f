"""The JSON form of mail-domain results (``domains`` in schema ``mailtls/1``, optional)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailtls.model import Report
from mailtls.render.jsonparts import cert_dict, finding_dict, observation_dict

if TYPE_CHECKING:
    from mailtls.model import DANEResult, DNSLookup, DomainReport, HostAddresses, PolicyFetch


def lookup_dict(lk: DNSLookup | None) -> dict[str, Any] | None:
    if lk is None:
        return None
    return {
        "name": lk.name,
        "type": lk.rdtype,
        "status": lk.status.value,
        "records": list(lk.records),
        "authenticated": lk.authenticated,
        "canonical_name": lk.canonical_name,
        "error": lk.error,
        "seconds": lk.seconds,
    }


def _host(h: HostAddresses | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {
        "name": h.name,
        "addresses": list(h.addresses),
        "lookups": [lookup_dict(lk) for lk in h.lookups],
    }


def _policy(p: PolicyFetch | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "url": p.url,
        "host": p.host,
        "address": p.address,
        "port": p.port,
        "status": p.status,
        "content_type": p.content_type,
        "location": p.location,
        "body": p.body,
        "size": p.size,
        "truncated": p.truncated,
        "tls_version": p.tls_version,
        "certificate": cert_dict(p.certificate) if p.certificate else None,
        "trusted": p.verification.trusted if p.verification else None,
        "verify_message": p.verification.message if p.verification else None,
        "unverified_fetch": p.unverified,
        "error": p.error,
        "error_kind": p.error_kind,
        "connections": p.connections,
        "seconds": p.seconds,
    }


def _dane(r: DANEResult) -> dict[str, Any]:
    return {
        "endpoint": r.endpoint,
        "host": r.host,
        "tlsa_name": r.tlsa_name,
        "authenticated": r.authenticated,
        "usable_records": list(r.usable),
        "matched": r.matched,
        "matched_depth": r.matched_depth,
        "verdict": r.verdict,
    }


def domain_dict(d: DomainReport) -> dict[str, Any]:
    from mailtls.render.summary import domain_grade, verdict

    o = d.observation
    return {
        "name": d.name,
        "detected": o.detected,
        "resolver": o.resolver,
        "resolver_trusted": o.resolver_trusted,
        "mx": {
            "lookup": lookup_dict(o.mx),
            "records": [{"preference": r.preference, "exchange": r.exchange or "."}
                        for r in o.mx_records],
            "null": any(not r.exchange for r in o.mx_records),
            "implicit": o.implicit_mx,
        },
        "own": _host(o.own),
        "hosts": [_host(h) for h in o.hosts],
        "tested_hosts": list(d.hosts),
        "smtp_ports": list(o.smtp_ports),
        "srv": [
            {
                "label": s.label,
                "service": s.service,
                "lookup": lookup_dict(s.lookup),
                "records": [{"priority": r.priority, "weight": r.weight, "port": r.port,
                             "target": r.target or "."} for r in s.records],
            }
            for s in o.srv
        ],
        "mta_sts": {"txt": lookup_dict(o.mta_sts_txt), "policy": _policy(o.mta_sts_policy)},
        "tls_rpt": {"txt": lookup_dict(o.tls_rpt_txt)},
        "dane": {"tlsa": [lookup_dict(lk) for lk in o.tlsa], "results": [_dane(r) for r in d.dane]},
        "findings": [finding_dict(f) for f in d.findings],
        "verdict": verdict(d.findings),
        "grade": domain_grade(d),
        "seconds": o.seconds,
    }


def domain_fields(report: Report) -> dict[str, Any]:
    """``domains`` and ``port25_controls``, only when the run had them."""
    out: dict[str, Any] = {}
    if report.domains:
        out["domains"] = [domain_dict(d) for d in report.domains]
    if report.port25_controls:
        out["port25_controls"] = [observation_dict(o) for o in report.port25_controls]
    return out
