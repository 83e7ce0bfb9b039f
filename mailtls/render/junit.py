"""JUnit XML for CI (``--format junit``): a test suite per endpoint, a test case per check.

Layout (the de-facto schema of Ant's XMLJUnitResultFormatter; read by GitLab, Jenkins, GitHub
reporter actions): ``<testsuites>`` holds one ``<testsuite>`` per endpoint (``HOST ADDRESS:PORT
SERVICE``), one per host for the host-wide checks, one per mail domain, one for the ``--expect``
expectations and one for the ``--baseline`` changes. Each check of the catalogue that applies to
the endpoint is a ``<testcase name="CHECK-ID">``: passed, ``<failure type="fail">`` (or
``type="warn"`` with ``--fail-on warn``), ``<error type="unknown">`` (could not test) or
``<skipped>`` (the port was closed, no TLS session, no enumeration with ``--quick``). Failures
carry the evidence.

Server text is escaped: control characters become visible ``\\x1b`` escapes, so the document is
always well-formed XML 1.0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mailtls.model import (
    Finding,
    HostReport,
    Outcome,
    PortObservation,
    Report,
    Severity,
)
from mailtls.model.exitcodes import FailOn
from mailtls.regression.diff import change_line
from mailtls.render.checks import FAILED, SKIPPED, CheckView, clean, endpoint_checks, host_checks

__all__ = ["render_junit"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "_"


class _Suite:
    def __init__(self, parent: ET.Element, name: str, *, timestamp: str, time: float,
                 hostname: str | None = None) -> None:
        attrs = {"name": clean(name), "tests": "0", "failures": "0", "errors": "0",
                 "skipped": "0", "time": f"{time:.3f}", "timestamp": timestamp}
        if hostname:
            attrs["hostname"] = clean(hostname)
        self.element = ET.SubElement(parent, "testsuite", attrs)
        self.properties: ET.Element | None = None
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def prop(self, name: str, value: object) -> None:
        if value is None:
            return
        if self.properties is None:
            self.properties = ET.SubElement(self.element, "properties")
        ET.SubElement(self.properties, "property", {"name": name, "value": clean(str(value))})

    def case(self, classname: str, name: str, *, failure: tuple[str, str, str] | None = None,
             error: tuple[str, str, str] | None = None, skipped: str | None = None,
             out: str | None = None) -> None:
        case = ET.SubElement(self.element, "testcase",
                             {"classname": clean(classname), "name": clean(name), "time": "0"})
        self.counts["tests"] += 1
        if skipped is not None:
            ET.SubElement(case, "skipped", {"message": clean(skipped)})
            self.counts["skipped"] += 1
        for tag, detail, counter in (("error", error, "errors"),
                                     ("failure", failure, "failures")):
            if detail is not None:
                kind, message, text = detail
                el = ET.SubElement(case, tag, {"type": kind, "message": clean(message)})
                el.text = clean(text, newlines=True)
                self.counts[counter] += 1
        if out:
            ET.SubElement(case, "system-out").text = clean(out, newlines=True)

    def close(self) -> dict[str, int]:
        for key, value in self.counts.items():
            self.element.set(key, str(value))
        return self.counts


def _finding_text(findings: tuple[Finding, ...]) -> str:
    lines: list[str] = []
    for f in findings:
        lines.append(f"[{f.severity.label}] {f.summary}")
        lines.extend(f"  | {e}" for e in f.evidence)
        if f.reference:
            lines.append(f"  reference: {f.reference}" + (
                f" ({f.requirement})" if f.requirement else ""))
        lines.append(f"  fix: {f.remediation}")
    return "\n".join(lines)


def _check_case(suite: _Suite, classname: str, check: CheckView, fail_on: FailOn) -> None:
    if check.status is SKIPPED:
        suite.case(classname, check.id, skipped=check.reason)
        return
    if check.status is not FAILED:
        suite.case(classname, check.id)
        return
    text = _finding_text(check.findings)
    message = check.findings[0].summary
    severity = check.severity
    if severity is Severity.FAIL:
        suite.case(classname, check.id, failure=("fail", message, text))
    elif severity is Severity.UNKNOWN:
        suite.case(classname, check.id, error=("unknown", message, text))
    elif severity is Severity.WARN and fail_on is FailOn.WARN:
        suite.case(classname, check.id, failure=("warn", message, text))
    else:  # info, or a warning below the --fail-on level: passed, with the finding as output
        suite.case(classname, check.id, out=text)


def _endpoint_suite(root: ET.Element, report: Report, host: HostReport, obs: PortObservation,
                    timestamp: str, fail_on: FailOn) -> dict[str, int]:
    e = obs.endpoint
    suite = _Suite(root, f"{host.name} {e.key} {e.service.name}", timestamp=timestamp,
                   time=obs.seconds, hostname=host.name)
    suite.prop("host", host.name)
    suite.prop("address", e.address)
    suite.prop("port", e.port)
    suite.prop("service", e.service.name)
    suite.prop("tls_mode", e.service.tls_mode.value)
    suite.prop("state", obs.state.value)
    if obs.tls is not None:
        suite.prop("tls_version", obs.tls.version)
        suite.prop("cipher", obs.tls.cipher)
        suite.prop("handshake_seconds", obs.tls.handshake_seconds)
        if obs.tls.chain:
            leaf = obs.tls.chain[0]
            suite.prop("cert_subject", leaf.subject)
            suite.prop("cert_issuer", leaf.issuer)
            suite.prop("cert_not_after", leaf.not_after.isoformat())
            suite.prop("cert_sha256", leaf.sha256_fingerprint)
    classname = f"mailtls.{_slug(host.name)}.{e.service.name}_{e.port}"
    if len(host.addresses) > 1:
        classname += f".{_slug(e.address)}"
    for check in endpoint_checks(host, obs):
        _check_case(suite, classname, check, fail_on)
    return suite.close()


def render_junit(report: Report, exit_code: int, *, fail_on: FailOn = FailOn.WARN) -> str:  # noqa: C901 (a split is still to do: issue 15)
    """The report as a JUnit XML document (pure: the same report gives the same bytes)."""
    timestamp = report.started_at.strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", {"name": "mailtls", "tests": "0", "failures": "0",
                                     "errors": "0", "skipped": "0",
                                     "time": f"{report.seconds:.3f}", "timestamp": timestamp})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def add(counts: dict[str, int]) -> None:
        for key, value in counts.items():
            totals[key] += value

    for host in report.hosts:
        suite = _Suite(root, f"{host.name} (host)", timestamp=timestamp, time=0.0,
                       hostname=host.name)
        suite.prop("addresses", ", ".join(host.addresses) or None)
        suite.prop("resolve_error", host.resolve_error)
        for check in host_checks(host):
            _check_case(suite, f"mailtls.{_slug(host.name)}", check, fail_on)
        add(suite.close())
        for obs in host.observations:
            add(_endpoint_suite(root, report, host, obs, timestamp, fail_on))

    for domain in report.domains:
        suite = _Suite(root, f"{domain.name} (domain)", timestamp=timestamp,
                       time=domain.observation.seconds)
        by_id: dict[str, list[Finding]] = {}
        for f in domain.findings:
            by_id.setdefault(f.id, []).append(f)
        for finding_id, found in by_id.items():
            worst = max(f.severity for f in found)
            check = CheckView(finding_id, finding_id, FAILED, worst, tuple(found))
            _check_case(suite, f"mailtls.domain.{_slug(domain.name)}", check, fail_on)
        if not by_id:
            suite.case(f"mailtls.domain.{_slug(domain.name)}", "domain.checks")
        add(suite.close())

    if report.expectations:
        suite = _Suite(root, "expectations", timestamp=timestamp, time=0.0)
        suite.prop("file", report.options.get("expect"))
        for r in report.expectations:
            name = f"{r.id} {r.subject}"
            text = "\n".join([f"expected: {r.expected}", f"observed: {r.observed}",
                              *(f"  | {e}" for e in r.evidence)])
            classname = f"mailtls.expect.{_slug(r.host)}"
            if r.outcome is Outcome.BROKEN:
                suite.case(classname, name, failure=("broken", f"{r.subject}: {r.observed} "
                                                     f"(expected {r.expected})", text))
            elif r.outcome is Outcome.UNKNOWN:
                suite.case(classname, name, error=("unknown", f"{r.subject}: {r.observed}",
                                                   text))
            else:
                suite.case(classname, name, out=text)
        add(suite.close())

    if report.changes is not None:
        suite = _Suite(root, "baseline", timestamp=timestamp, time=0.0)
        suite.prop("file", report.options.get("baseline"))
        for c in report.changes:
            name = f"{c.kind} {c.endpoint or c.host}" + (f" {c.finding_id}" if c.finding_id
                                                         else "")
            text = "\n".join([change_line(c), f"was: {c.old or '-'}", f"now: {c.new or '-'}"])
            classname = f"mailtls.baseline.{_slug(c.host)}"
            if c.regression:
                suite.case(classname, name, failure=("regression", c.summary, text))
            else:
                suite.case(classname, name, out=text)
        if not report.changes:
            suite.case("mailtls.baseline", "no changes")
        add(suite.close())

    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
