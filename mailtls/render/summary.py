"""Verdicts, grades and headlines: the summary of a report, derived from its findings only.

Every renderer (terminal, HTML, CSV, JSON) takes its verdicts, grades and colours from here, so
the table can never disagree with the findings below it.

The grading rule (``GRADE_RULE``, printed by ``mailtls rules``) is deliberately simple: the grade
of a port is decided by the worst finding on it, as nmap's least-strength grade is decided by the
weakest suite, and a host is as good as its worst port.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailtls.model import (
    Finding,
    HostReport,
    PortObservation,
    PortState,
    Severity,
)
from mailtls.model.frozen import FrozenMap

if TYPE_CHECKING:
    from mailtls.model import DomainReport

__all__ = [
    "GRADES",
    "GRADE_RULE",
    "GRADE_SCHEME",
    "HTML_COLOURS",
    "PASS",
    "STYLE",
    "Grade",
    "Headline",
    "Verdict",
    "domain_grade",
    "endpoint_findings",
    "grade",
    "host_grade",
    "host_headline",
    "port_grade",
    "port_verdict",
    "style_of",
    "verdict",
    "worst",
]

GRADE_SCHEME = "mailtls-grade/1"



class Grade(enum.StrEnum):
    """The grades of ``GRADE_RULE``."""

    A_PLUS = "A+"
    A = "A"
    B = "B"
    C = "C"
    UNKNOWN = "?"
    F = "F"
    NOT_GRADED = "-"  # a port that is not offered and has nothing worse than info


class Verdict(enum.StrEnum):
    """The worst severity of a set of findings, or pass when there is none."""

    FAIL = "fail"
    UNKNOWN = "unknown"
    WARN = "warn"
    INFO = "info"
    PASS = "pass"


# Best first; NOT_GRADED is not in the order.
GRADES = (Grade.A_PLUS, Grade.A, Grade.B, Grade.C, Grade.UNKNOWN, Grade.F)
NOT_GRADED = Grade.NOT_GRADED

GRADE_RULE = """\
grades (mailtls-grade/1), derived from the findings only:
  F   at least one fail finding
  ?   no fail, but at least one unknown finding (something asked for could not be tested)
  C   only warnings (and info), from 3 or more different rules
  B   only warnings (and info), from 1 or 2 different rules
  A   nothing worse than info
  A+  no finding at all, and the TLS versions and suites were enumerated (not --quick)
  -   a port that is not offered (closed) and has nothing worse than info: not graded
a port is graded by the findings on it; a host by its worst port and its host-wide findings
(an unresolved host is ?); a mail domain by its own findings (DNS, MTA-STS, TLS-RPT, DANE).
verdict: the worst severity of the findings (fail > unknown > warn > info), pass when none.
"""

PASS = Verdict.PASS

# The one place colours come from: a verdict (a severity label or "pass") -> rich style.
STYLE: Mapping[str, str] = FrozenMap[str, str]({
    Verdict.FAIL: "bold red",
    Verdict.UNKNOWN: "bold magenta",
    Verdict.WARN: "yellow",
    Verdict.INFO: "cyan",
    Verdict.PASS: "green",
})
# The same verdicts as colours for the HTML report (red, magenta, amber, teal, green).
HTML_COLOURS: Mapping[str, str] = FrozenMap[str, str]({
    Verdict.FAIL: "#c62828",
    Verdict.UNKNOWN: "#8e24aa",
    Verdict.WARN: "#e69500",
    Verdict.INFO: "#00838f",
    Verdict.PASS: "#2e7d32",
})
GRADE_STYLE: Mapping[str, str] = FrozenMap[str, str]({
    Grade.A_PLUS: "bold green", Grade.A: "green", Grade.B: "yellow", Grade.C: "yellow",
    Grade.UNKNOWN: "bold magenta", Grade.F: "bold red", Grade.NOT_GRADED: "dim",
})


def worst(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


def verdict(findings: Iterable[Finding]) -> Verdict:
    """"fail", "unknown", "warn", "info" or "pass"."""
    w = worst(findings)
    return Verdict.PASS if w is None else Verdict(w.label)


def style_of(findings: Iterable[Finding]) -> str:
    """The colour of anything the findings judge: a table cell, a row, a headline."""
    return STYLE[verdict(findings)]


def grade(findings: Sequence[Finding], *, enumerated: bool = True) -> Grade:
    """The grade of a set of findings by ``GRADE_RULE``."""
    severities = {f.severity for f in findings}
    if Severity.FAIL in severities:
        return Grade.F
    if Severity.UNKNOWN in severities:
        return Grade.UNKNOWN
    warn_rules = {f.id for f in findings if f.severity is Severity.WARN}
    if len(warn_rules) >= 3:
        return Grade.C
    if warn_rules:
        return Grade.B
    if findings or not enumerated:
        return Grade.A
    return Grade.A_PLUS


def worst_grade(grades: Iterable[str]) -> Grade:
    ranked = [Grade(g) for g in grades if g in GRADES]
    if not ranked:
        return NOT_GRADED
    return max(ranked, key=GRADES.index)


def endpoint_findings(host: HostReport, obs: PortObservation) -> tuple[Finding, ...]:
    return tuple(f for f in host.findings if f.endpoint == obs.endpoint.key)


def port_verdict(host: HostReport, obs: PortObservation) -> Verdict:
    return verdict(endpoint_findings(host, obs))


def port_grade(host: HostReport, obs: PortObservation) -> Grade:
    found = endpoint_findings(host, obs)
    w = worst(found)
    if obs.state is not PortState.OPEN and (w is None or w is Severity.INFO):
        return NOT_GRADED
    return grade(found, enumerated=obs.tls_scan is not None)


def host_grade(host: HostReport) -> Grade:
    if host.resolve_error is not None:
        return Grade.UNKNOWN
    keys = {o.endpoint.key for o in host.observations}
    rest = [f for f in host.findings if f.endpoint not in keys]
    grades = [port_grade(host, o) for o in host.observations]
    if rest:
        grades.append(grade(rest))
    if all(g == NOT_GRADED for g in grades):
        # nothing offered at all: host.no_open_port says so (unknown); else nothing to grade
        return grade(rest) if rest else NOT_GRADED
    return worst_grade(grades)


def domain_grade(domain: DomainReport) -> Grade:
    """A domain's own grade (DNS, MTA-STS, TLS-RPT, DANE); its hosts carry their own."""
    return grade(domain.findings)


@dataclass(frozen=True)
class Headline:
    subject: str
    verdict: Verdict
    grade: Grade
    text: str  # "flawed.example.test: FAIL (grade F) — 12 failures on 7 ports"

    @property
    def style(self) -> str:
        return STYLE[self.verdict]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def headline_text(subject: str, findings: Sequence[Finding], grade_: str, *,
                  ports: int | None = None) -> str:
    """"NAME: FAIL (grade F) — 12 failures, 1 warning on 7 ports"."""
    v = verdict(findings)
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    parts = []
    for sev, one, many in ((Severity.FAIL, "failure", "failures"),
                           (Severity.UNKNOWN, "not tested", "not tested"),
                           (Severity.WARN, "warning", "warnings")):
        if counts[sev]:
            parts.append(_count(counts[sev], one, many))
    if parts:
        where = {f.endpoint for f in findings if f.severity >= Severity.WARN and f.endpoint}
        what = ", ".join(parts)
        if where:
            what += f" on {_count(len(where), 'port', 'ports')}"
    elif counts[Severity.INFO]:
        what = f"no problems ({_count(counts[Severity.INFO], 'note', 'notes')})"
    else:
        what = "no findings"
    if ports is not None and not parts:
        what += f" on {_count(ports, 'open port', 'open ports')}"
    label = "PASS" if v in (Verdict.PASS, Verdict.INFO) else v.upper()
    return f"{subject}: {label} (grade {grade_}) — {what}"


def host_headline(host: HostReport) -> Headline:
    g = host_grade(host)
    open_ports = sum(1 for o in host.observations if o.state is PortState.OPEN)
    v = verdict(host.findings)
    return Headline(host.name, v, g, headline_text(host.name, host.findings, g,
                                                   ports=open_ports))


def domain_headline(domain: DomainReport) -> Headline:
    g = domain_grade(domain)
    v = verdict(domain.findings)
    return Headline(domain.name, v, g,
                    headline_text(f"mail domain {domain.name}", domain.findings, g))
