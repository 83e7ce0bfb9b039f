"""Every check that applies to a host and its endpoints, with its outcome: passed, failed or
skipped (and why). Pure.

Findings list only what failed; JUnit (a test case per check), Prometheus (a status per check
that ran) and the HTML matrix also need what passed and what could not run. Which checks apply
is the catalogue's (each rule's ``scope``); whether one was judged is its ``stage`` against what
the probe got to: a closed port was not judged on TLS, a ``--quick`` scan ran no enumeration.
A finding whose rule the catalogue does not place there (an id the catalogue does not know, or a
rule of another scope reported on the endpoint) still counts as a failed check, after the
catalogue's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from mailtls.checks.rules import Rule, Stage, applicable_rules, host_rules
from mailtls.model import (
    CheckOutcome,
    CheckResult,
    Finding,
    HostReport,
    PortObservation,
    PortState,
)

__all__ = ["endpoint_outcomes", "host_outcomes", "skip_reason", "with_checks"]


def skip_reason(stage: Stage, obs: PortObservation) -> str | None:
    """Why a rule of ``stage`` was not judged on ``obs`` (None: it was)."""
    if stage is Stage.SESSION and obs.state is not PortState.OPEN:
        return f"port {obs.state.value}"
    if stage is Stage.TLS_SESSION and obs.tls is None:
        return f"port {obs.state.value}" if obs.state is not PortState.OPEN else "no TLS session"
    if stage is Stage.TLS_ENUMERATION and obs.tls_scan is None:
        if obs.state is not PortState.OPEN:
            return f"port {obs.state.value}"
        return "no TLS session" if obs.tls is None else "no version/suite enumeration (--quick)"
    return None


def _outcomes(rules: Iterable[Rule], findings: Iterable[Finding], endpoint: str | None,
              service: str | None, skipped: dict[str, str]) -> list[CheckResult]:
    ids = [r.id for r in rules]
    failed = {f.id for f in findings}
    ids += [i for i in dict.fromkeys(f.id for f in findings) if i not in ids]
    out = []
    for rule_id in ids:
        if rule_id in failed:
            out.append(CheckResult(rule_id, endpoint, service, CheckOutcome.FAILED))
        elif rule_id in skipped:
            out.append(CheckResult(rule_id, endpoint, service, CheckOutcome.SKIPPED,
                                   skipped[rule_id]))
        else:
            out.append(CheckResult(rule_id, endpoint, service, CheckOutcome.PASSED))
    return out


def endpoint_outcomes(obs: PortObservation, findings: Sequence[Finding]) -> list[CheckResult]:
    """Every check of the catalogue that applies to ``obs``'s service, in catalogue order, then
    any other finding reported on the endpoint."""
    s = obs.endpoint.service
    rules = applicable_rules(s.name, s.protocol.value, s.tls_mode.value)
    skipped = {r.id: why for r in rules if (why := skip_reason(r.stage, obs)) is not None}
    key = obs.endpoint.key
    return _outcomes(rules, [f for f in findings if f.endpoint == key], key, s.name, skipped)


def host_outcomes(observations: Sequence[PortObservation], findings: Sequence[Finding],
                  resolve_error: str | None) -> tuple[CheckResult, ...]:
    """The host-wide checks (``host.*``, and any finding not tied to a scanned endpoint), then
    each endpoint's."""
    keys = {o.endpoint.key for o in observations}
    rules = host_rules()
    skipped: dict[str, str] = {}
    if resolve_error is not None:
        skipped = {r.id: "the name did not resolve" for r in rules if r.id != "host.unresolved"}
    out = _outcomes(rules, [f for f in findings if f.endpoint is None or f.endpoint not in keys],
                    None, None, skipped)
    seen: set[tuple[str, str]] = set()
    for obs in observations:
        # the same port probed twice as the same service has the same checks: listed once
        where = (obs.endpoint.key, obs.endpoint.service.name)
        if where not in seen:
            seen.add(where)
            out += endpoint_outcomes(obs, findings)
    return tuple(out)


def with_checks(host: HostReport) -> HostReport:
    """``host`` with the outcome of every check that applies to it (after its findings are
    final: a finding dropped later would leave its check failed)."""
    return dataclasses.replace(
        host, checks=host_outcomes(host.observations, host.findings, host.resolve_error))
