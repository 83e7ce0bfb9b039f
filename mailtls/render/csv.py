"""CSV for spreadsheets (``--format csv``): one row per finding, RFC 4180, a header row.

Every finding of the report is a row: a host's (with its port's verdict and grade and the
host's grade), a mail domain's and a client configuration's (``scope`` says which). Evidence
lines are joined with newlines inside one quoted cell.

Server text is data, not formulas: a cell that begins with ``=``, ``+``, ``-``, ``@``, TAB or CR
gets a leading apostrophe (OWASP "CSV injection"), so a spreadsheet never evaluates a banner.
Control characters become visible escapes, as in every other format.
"""

from __future__ import annotations

import csv
import io

from mailtls.model import Finding, Report
from mailtls.render.checks import clean
from mailtls.render.summary import domain_grade, host_grade, port_grade, port_verdict

__all__ = ["COLUMNS", "render_csv"]

COLUMNS = ("scope", "subject", "endpoint", "service", "severity", "id", "summary", "evidence",
           "reference", "requirement", "fix", "port_verdict", "port_grade", "subject_grade")

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else clean(str(value), newlines=True)
    if text.startswith(_FORMULA):
        text = "'" + text
    return text


def _row(scope: str, subject: str, f: Finding, verdict: str, grade: str,
         subject_grade: str) -> list[str]:
    values: tuple[object, ...] = (
        scope, subject, f.endpoint, f.service, f.severity.label, f.id, f.summary,
        "\n".join(f.evidence), f.reference, f.requirement, f.remediation, verdict, grade,
        subject_grade)
    return [_cell(v) for v in values]


def render_csv(report: Report, exit_code: int) -> str:
    """The report's findings as CSV (pure; ``exit_code`` is not a row, it is in every format's
    exit status)."""
    del exit_code
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for host in report.hosts:
        hg = host_grade(host)
        by_key = {o.endpoint.key: o for o in host.observations}
        for f in sorted(host.findings, key=lambda f: (-f.severity, f.endpoint or "", f.id)):
            o = by_key.get(f.endpoint or "")
            verdict = port_verdict(host, o) if o else ""
            grade = port_grade(host, o) if o else ""
            writer.writerow(_row("host", host.name, f, verdict, grade, hg))
    for d in report.domains:
        dg = domain_grade(d)
        for f in sorted(d.findings, key=lambda f: (-f.severity, f.id)):
            writer.writerow(_row("domain", d.name, f, "", "", dg))
    if report.client is not None:
        subject = report.client.address or report.client.config_file or ""
        for f in report.client.findings:
            writer.writerow(_row("client", subject, f, "", "", ""))
    return out.getvalue()
