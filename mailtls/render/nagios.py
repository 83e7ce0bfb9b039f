"""Nagios / Icinga / Naemon plugin output (``--format nagios``; Monitoring Plugins guidelines).

One status line, ``MAILTLS <STATE> - <text> | <perfdata>``, then one line per finding (and per
broken expectation or regression) as the plugin's long output. The state is the exit code's:
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors, could not test, Ctrl-C).

Performance data (``'label'=value[UOM];[warn];[crit];[min];[max]``, no scientific notation):

=============================  ================================================================
label                          value
=============================  ================================================================
cert_days                      fewest days any certificate has left; warn = --warn-days, crit 0
handshake_time                 slowest TLS handshake, seconds
time                           duration of the scan, seconds
ports_open / ports_total       endpoints that answered / were planned
findings_fail/_unknown/...     findings per severity
expectations_broken            with --expect
regressions                    with --baseline
delivery_time / delivered      with ``client --round-trip``: seconds until the test message
                               arrived (the timeout if it did not; crit = the timeout), 1/0
<host>_<service>_<port>_days   per endpoint with a certificate (host only with several hosts)
<...>_handshake                per endpoint with TLS, seconds
=============================  ================================================================
"""

from __future__ import annotations

import math
import re

from mailtls.model import Finding, Outcome, PortObservation, PortState, Report, Severity
from mailtls.pki.x509 import days_left
from mailtls.render.checks import clean

__all__ = ["STATES", "render_nagios"]

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
_MAX_LISTED = 3


def _number(value: float) -> str:
    """Plain decimal, never scientific notation, at most 3 decimals, no trailing zeros."""
    if not math.isfinite(value):
        return "U"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _label(text: str) -> str:
    """A perfdata label: no '=' nor quote; spaces only inside single quotes."""
    text = re.sub(r"[='\s|]+", "_", clean(text))
    return text


def _perf(label: str, value: float, uom: str = "", warn: str = "", crit: str = "",
          minimum: str = "", maximum: str = "") -> str:
    parts = [f"{_label(label)}={_number(value)}{uom}", warn, crit, minimum, maximum]
    while parts and parts[-1] == "":
        parts.pop()
    return ";".join(parts)


def _text(text: str) -> str:
    """Plugin text: one line, no '|' (it starts the performance data)."""
    return clean(text).replace("|", "/")


def _where(f: Finding) -> str:
    return f" {f.endpoint}" if f.endpoint else ""


def _endpoint_label(report: Report, host_name: str, n_addresses: int,
                    obs: PortObservation) -> str:
    e = obs.endpoint
    parts = [host_name] if len(report.hosts) > 1 else []
    if n_addresses > 1:
        parts.append(e.address)
    parts += [e.service.name, str(e.port)]
    return "_".join(parts)


def render_nagios(report: Report, exit_code: int, *, interrupted: bool = False) -> str:  # noqa: C901 (a split is still to do: issue 15)
    """The status line, the long output, and the exit code's state (pure)."""
    state = STATES.get(exit_code, "UNKNOWN")
    findings = sorted(report.findings, key=lambda f: (-f.severity, f.endpoint or "", f.id))
    counts = {s: 0 for s in Severity}
    for f in findings:
        counts[f.severity] += 1
    observations = [o for h in report.hosts for o in h.observations]
    opened = [o for o in observations if o.state is PortState.OPEN]
    broken = [r for r in report.expectations if r.outcome is not Outcome.MET]
    regressions = [c for c in (report.changes or ()) if c.regression]

    names = ", ".join(h.name for h in report.hosts) or "no host"
    summary_bits = [f"{names}: {len(opened)}/{len(observations)} port(s) open"]
    serious = [f for f in findings if f.severity > Severity.INFO]
    if serious:
        listed = "; ".join(f"{f.id}{_where(f)}" for f in serious[:_MAX_LISTED])
        more = f" (+{len(serious) - _MAX_LISTED} more)" if len(serious) > _MAX_LISTED else ""
        summary_bits.append(
            ", ".join(f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True)
                      if counts[s] and s > Severity.INFO) + f": {listed}{more}")
    else:
        summary_bits.append("no problems found")
    if report.expectations:
        summary_bits.append(f"{len(broken)} of {len(report.expectations)} expectation(s) "
                            "not met" if broken else
                            f"all {len(report.expectations)} expectation(s) met")
    if report.changes is not None:
        summary_bits.append(f"{len(regressions)} regression(s) since the baseline")
    if interrupted:
        summary_bits.append("interrupted: partial results")

    warn_days = report.options.get("warn_days", 30)
    perf: list[str] = []
    cert_days: list[tuple[PortObservation, float]] = []
    handshakes: list[tuple[PortObservation, float]] = []
    labels: dict[int, str] = {}
    for host in report.hosts:
        for obs in host.observations:
            labels[id(obs)] = _endpoint_label(report, host.name, len(host.addresses), obs)
            if obs.tls is not None:
                handshakes.append((obs, obs.tls.handshake_seconds))
                if obs.tls.chain:
                    cert_days.append((obs, days_left(obs.tls.chain[0], report.started_at)))
    warn = str(warn_days) + ":" if isinstance(warn_days, int) else ""
    if cert_days:
        perf.append(_perf("cert_days", min(d for _, d in cert_days), "", warn, "0:"))
    if handshakes:
        perf.append(_perf("handshake_time", max(s for _, s in handshakes), "s", minimum="0"))
    perf.append(_perf("time", report.seconds, "s", minimum="0"))
    perf.append(_perf("ports_open", len(opened), minimum="0", maximum=str(len(observations))))
    perf.append(_perf("ports_total", len(observations), minimum="0"))
    for s in sorted(Severity, reverse=True):
        perf.append(_perf(f"findings_{s.label}", counts[s], minimum="0"))
    if report.expectations:
        perf.append(_perf("expectations_broken", len(broken), crit="0", minimum="0",
                          maximum=str(len(report.expectations))))
    if report.changes is not None:
        perf.append(_perf("regressions", len(regressions), crit="0", minimum="0"))
    rt = report.client.round_trip if report.client is not None else None
    if rt is not None:  # like check_email_delivery: the round trip's time, crit = its timeout
        waited = rt.delivery_seconds if rt.delivery_seconds is not None else rt.timeout
        perf.append(_perf("delivery_time", waited, "s", crit=_number(rt.timeout), minimum="0"))
        perf.append(_perf("delivered", 1 if rt.delivered else 0, crit="1:", minimum="0",
                          maximum="1"))
    for obs, days in cert_days:
        perf.append(_perf(f"{labels[id(obs)]}_days", days, "", warn, "0:"))
    for obs, seconds in handshakes:
        perf.append(_perf(f"{labels[id(obs)]}_handshake", seconds, "s", minimum="0"))

    lines = [f"MAILTLS {state} - {_text('; '.join(summary_bits))} | {' '.join(perf)}"]
    for f in findings:
        lines.append(_text(f"[{f.severity.label.upper()}] {f.id}{_where(f)}: {f.summary}"))
    for r in broken:
        lines.append(_text(f"[EXPECT {r.outcome.value.upper()}] {r.id} {r.host} {r.subject}: "
                           f"{r.observed} (expected {r.expected})"))
    for c in regressions:
        lines.append(_text(f"[REGRESSION] {c.kind} {c.host}"
                           + (f" {c.endpoint}" if c.endpoint else "") + f": {c.summary}"))
    return "\n".join(lines) + "\n"
