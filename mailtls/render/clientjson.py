"""The ``client`` part of the JSON report (``mailtls client``), schema ``mailtls/1``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailtls.model import Report
from mailtls.render.jsonparts import finding_dict

if TYPE_CHECKING:
    from mailtls.model import ClientPick, DiscoveryStep, RoundTrip, ServerSetting, SettingResult


def client_fields(report: Report) -> dict[str, Any]:
    """``{"client": ...}`` for a client report, nothing otherwise (fields are only added)."""
    c = report.client
    if c is None:
        return {}
    return {
        "client": {
            "address": c.address,
            "domain": c.domain,
            "config_file": c.config_file,
            "config_kind": c.config_kind,
            "discovery": [_step(s) for s in c.steps],
            "settings": [_result(r) for r in c.settings],
            "picks": [_pick(p) for p in c.picks],
            "recommended": [_result(r) for r in c.recommended],
            "findings": [finding_dict(f) for f in c.findings],
            "notes": list(c.notes),
            **({"round_trip": round_trip_dict(c.round_trip)} if c.round_trip else {}),
        }
    }


def round_trip_dict(rt: RoundTrip) -> dict[str, Any]:
    return {
        "tag": rt.tag,
        "timeout": rt.timeout,
        "attempts": list(rt.attempts),
        "submission": rt.submission,
        "submission_tls": rt.submission_tls,
        "retrieval": rt.retrieval,
        "retrieval_tls": rt.retrieval_tls,
        "submitted": rt.submitted,
        "delivered": rt.delivered,
        "delivery_seconds": rt.delivery_seconds,
        "hops": [{"index": h.index, "by": h.by, "from": h.from_, "with": h.with_,
                  "tls": h.tls, "detail": h.detail, "raw": h.raw} for h in rt.hops],
        "authentication_results": list(rt.authentication_results),
        "deleted": rt.deleted,
        "error": rt.error,
    }


def setting_dict(s: ServerSetting) -> dict[str, Any]:
    return {
        "role": s.role,
        "protocol": s.protocol.value,
        "host": s.host,
        "port": s.port,
        "socket": s.socket.value,
        "source": s.source,
        "method": s.method,
        "configured": s.configured,
        "authentication": list(s.authentication),
        "username": s.username,
    }


def _step(s: DiscoveryStep) -> dict[str, Any]:
    return {
        "method": s.method,
        "target": s.target,
        "outcome": s.outcome,
        "detail": s.detail,
        "settings": [setting_dict(x) for x in s.settings],
        "domains": list(s.domains),
        "authenticated": s.authenticated,
        "connections": s.connections,
        "seconds": s.seconds,
    }


def _result(r: SettingResult) -> dict[str, Any]:
    return {
        "setting": setting_dict(r.setting),
        "service": r.service,
        "endpoints": list(r.endpoints),
        "works": r.works,
        "secure": r.secure,
        "verdict": r.verdict,
        "login": r.login,
    }


def _pick(p: ClientPick) -> dict[str, Any]:
    return {
        "client": p.client,
        "role": p.role,
        "setting": setting_dict(p.setting) if p.setting is not None else None,
        "secure": p.secure,
        "note": p.note,
    }
