"""The checks run on each endpoint, passed ones included: shared by JUnit and Prometheus.

A report holds findings, i.e. the checks that did *not* pass. Which checks ran is derived from
the rule catalogue (``mailtls.checks.rules.applicable_rules``) and what the probe got to: a
port that is closed was not judged on TLS, a ``--quick`` scan ran no enumeration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtls.checks.rules import (
    RULES,
    SESSION,
    TLS_ENUMERATION,
    TLS_SESSION,
    applicable_rules,
    host_rules,
    rule_stage,
)
from mailtls.model import Finding, HostReport, PortObservation, PortState, Severity

__all__ = ["CheckResult", "clean", "endpoint_checks", "host_checks"]

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"

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
class CheckResult:
    id: str
    title: str
    status: str  # passed, failed (a finding is present, whatever its severity), skipped
    severity: Severity | None  # the worst finding's, when failed
    findings: tuple[Finding, ...] = ()
    reason: str = ""  # why skipped


def _skip_reason(stage: str, obs: PortObservation) -> str | None:
    if stage == SESSION and obs.state is not PortState.OPEN:
        return f"port {obs.state.value}"
    if stage == TLS_SESSION and obs.tls is None:
        return f"port {obs.state.value}" if obs.state is not PortState.OPEN else "no TLS session"
    if stage == TLS_ENUMERATION and obs.tls_scan is None:
        if obs.state is not PortState.OPEN:
            return f"port {obs.state.value}"
        return "no TLS session" if obs.tls is None else "no version/suite enumeration (--quick)"
    return None


def _title(rule_id: str) -> str:
    rule = RULES.get(rule_id)
    return rule.title if rule else rule_id


def _results(ids: list[str], findings: list[Finding],
             skip: dict[str, str | None]) -> list[CheckResult]:
    by_id: dict[str, list[Finding]] = {}
    for f in findings:
        by_id.setdefault(f.id, []).append(f)
    for extra in by_id:  # a finding whose rule the catalogue does not place here still counts
        if extra not in ids:
            ids.append(extra)
    out = []
    for rule_id in ids:
        found = by_id.get(rule_id, [])
        if found:
            out.append(CheckResult(rule_id, _title(rule_id), FAILED,
                                   max(f.severity for f in found), tuple(found)))
        elif skip.get(rule_id):
            out.append(CheckResult(rule_id, _title(rule_id), SKIPPED, None,
                                   reason=skip[rule_id] or ""))
        else:
            out.append(CheckResult(rule_id, _title(rule_id), PASSED, None))
    return out


def endpoint_checks(host: HostReport, obs: PortObservation) -> list[CheckResult]:
    """Every check of the catalogue that applies to ``obs``'s service, in catalogue order, then
    any other finding reported on the endpoint."""
    s = obs.endpoint.service
    rules = applicable_rules(s.name, s.protocol.value, s.tls_mode.value)
    ids = [r.id for r in rules]
    skip = {r.id: _skip_reason(rule_stage(r.id), obs) for r in rules}
    findings = [f for f in host.findings if f.endpoint == obs.endpoint.key]
    return _results(ids, findings, skip)


def host_checks(host: HostReport) -> list[CheckResult]:
    """The host-wide checks (``host.*``) and any finding not tied to a scanned endpoint."""
    keys = {o.endpoint.key for o in host.observations}
    findings = [f for f in host.findings if f.endpoint is None or f.endpoint not in keys]
    ids = [r.id for r in host_rules()]
    skip: dict[str, str | None] = {}
    if host.resolve_error is not None:
        skip = {i: "the name did not resolve" for i in ids if i != "host.unresolved"}
    return _results(ids, findings, skip)
