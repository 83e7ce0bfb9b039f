"""The ``client`` part of the JSON report (``mailtls client``), schema ``mailtls/1``."""

from __future__ import annotations

from typing import Any

from mailtls.model import ClientPick, DiscoveryStep, Report, ServerSetting, SettingResult


def client_fields(report: Report) -> dict[str, Any]:
    """``{"client": ...}`` for a client report, nothing otherwise (fields are only added)."""
    from mailtls.render.jsonout import finding_dict

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
        }
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
