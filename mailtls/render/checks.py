"""The checks run on each endpoint, passed ones included: shared by JUnit, Prometheus and the
HTML matrix.

A report holds findings, i.e. the checks that did *not* pass; which checks applied and which of
them passed or were skipped is ``HostReport.checks`` (``mailtls.checks.outcomes`` judged it).
Here each is joined with its title and its findings, for the renderers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtls.checks.rules import RULES
from mailtls.model import (
    CheckOutcome,
    CheckResult,
    Finding,
    HostReport,
    PortObservation,
    Severity,
)

__all__ = ["CheckView", "clean", "endpoint_checks", "host_checks"]

PASSED, FAILED, SKIPPED = CheckOutcome.PASSED, CheckOutcome.FAILED, CheckOutcome.SKIPPED

# Not allowed in XML 1.0 (and never wanted in a status line): C0 controls but TAB/LF/CR, DEL,
# C1 controls, lone surrogates, U+FFFE/U+FFFF, the line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u2028\u2029]")


def clean(text: str, *, newlines: bool = False) -> str:
    """Control characters as visible escapes (``\\x1b``); newlines too unless ``newlines``."""
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text)
    if not newlines:
        out = out.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return out


@dataclass(frozen=True)
class CheckView:
    """A check's outcome with what a renderer shows of it."""

    id: str
    title: str
    status: CheckOutcome
    severity: Severity | None  # the worst finding's, when failed
    findings: tuple[Finding, ...] = ()
    reason: str = ""  # why skipped


def _title(rule_id: str) -> str:
    rule = RULES.get(rule_id)
    return rule.title if rule else rule_id


def _views(checks: list[CheckResult], findings: list[Finding]) -> list[CheckView]:
    by_id: dict[str, list[Finding]] = {}
    for f in findings:
        by_id.setdefault(f.id, []).append(f)
    out = []
    for c in checks:
        found = tuple(by_id.get(c.id, ())) if c.outcome is CheckOutcome.FAILED else ()
        worst = max((f.severity for f in found), default=None)
        out.append(CheckView(c.id, _title(c.id), c.outcome, worst, found, c.reason))
    return out


def endpoint_checks(host: HostReport, obs: PortObservation) -> list[CheckView]:
    """The checks of ``obs`` (``HostReport.checks``): the catalogue's that apply to its service,
    in catalogue order, then any other finding reported on the endpoint."""
    key, service = obs.endpoint.key, obs.endpoint.service.name
    checks = [c for c in host.checks if c.endpoint == key and c.service == service]
    return _views(checks, [f for f in host.findings if f.endpoint == key])


def host_checks(host: HostReport) -> list[CheckView]:
    """The host-wide checks (``host.*``) and any finding not tied to a scanned endpoint."""
    keys = {o.endpoint.key for o in host.observations}
    findings = [f for f in host.findings if f.endpoint is None or f.endpoint not in keys]
    return _views([c for c in host.checks if c.endpoint is None], findings)
