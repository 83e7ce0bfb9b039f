"""The canonical machine-readable form of a report (schema ``mailtls/1``, see
``mailtls/schema/report-1.json``). Other formats derive from the same report."""

from __future__ import annotations

import json
from typing import Any

from mailtls import __version__
from mailtls.model import HostReport, Report
from mailtls.render.clientjson import client_fields
from mailtls.render.domainjson import domain_fields
from mailtls.render.jsonparts import (  # their home; imported from here too (public path)
    finding_dict,
    observation_dict,
)
from mailtls.render.summary import GRADE_SCHEME

__all__ = ["SCHEMA", "finding_dict", "host_dict", "observation_dict", "render_json",
           "report_dict"]

SCHEMA = "mailtls/1"


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
