"""The summary agrees with the findings: verdicts, grades, headlines, colours; less noise; an
80-column layout; -v shows what a clean server offers; `mailtls rules` explains."""

from __future__ import annotations

import io
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest

from mailtls.cli import main
from mailtls.model import Finding, Report, Severity
from mailtls.render.jsonout import report_dict
from mailtls.render.summary import GRADE_RULE, grade, host_grade, port_grade, verdict
from mailtls.render.terminal import make_console, render_terminal
from tests.regression.regression_helpers import full_report, sample_report

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())


def text(report: Report, width: int = 80, *, verbose: bool = False, color: bool = False) -> str:
    buf = io.StringIO()
    console = make_console(buf, color=color)
    console.width = width
    if color:
        console._force_terminal = True
        console._color_system = None
        from rich.color import ColorSystem

        console._color_system = ColorSystem.STANDARD
    render_terminal(report, console, verbose=verbose, exit_code=2)
    return buf.getvalue()


def finding(rule: str, severity: Severity, endpoint: str | None = "127.0.0.1:25") -> Finding:
    return Finding(rule, severity, "s", endpoint, None, (), "RFC 1", "fix")


@pytest.mark.parametrize(("findings", "expected"), [
    ([], "A+"),
    ([finding("tls.version.no_tls13", Severity.INFO)], "A"),
    ([finding("a", Severity.WARN), finding("a", Severity.WARN)], "B"),
    ([finding("a", Severity.WARN), finding("b", Severity.WARN)], "B"),
    ([finding(x, Severity.WARN) for x in "abc"], "C"),
    ([finding("a", Severity.WARN), finding("port.not_tested", Severity.UNKNOWN)], "?"),
    ([finding("a", Severity.UNKNOWN), finding("b", Severity.FAIL)], "F"),
])
def test_grade_rule(findings: list[Finding], expected: str) -> None:
    assert grade(findings) == expected
    assert expected in GRADE_RULE


def test_not_enumerated_is_never_a_plus() -> None:
    assert grade([], enumerated=False) == "A"


def test_demo_every_row_agrees_with_its_findings(demo_report: Report) -> None:
    """The issue's case: the flawed imap row was green although the port had two FAILs."""
    doc = report_dict(demo_report, 2)
    jsonschema.validate(doc, SCHEMA)
    assert doc["summary"]["grade_scheme"] == "mailtls-grade/1"
    good, flawed = doc["hosts"]
    for h in doc["hosts"]:
        for e in h["endpoints"]:
            mine = [f["severity"] for f in h["findings"] if f["endpoint"] == e["endpoint"]]
            order = ["info", "warn", "unknown", "fail"]
            assert e["verdict"] == (max(mine, key=order.index) if mine else "pass")
    assert good["grade"] == "A+" and good["verdict"] == "pass"
    assert flawed["grade"] == "F" and flawed["verdict"] == "fail"
    by_service = {e["service"]: e for e in flawed["endpoints"]}
    assert by_service["imap"]["verdict"] == "fail"  # command injection, plaintext LOGIN
    assert by_service["submission"]["verdict"] == "fail"  # AUTH before STARTTLS
    out = text(demo_report)
    fails = sum(1 for f in demo_report.hosts[1].findings if f.severity is Severity.FAIL)
    assert re.search(rf"^flawed\.example\.test: FAIL \(grade F\) — {fails} failures", out, re.M)
    assert "good.example.test: PASS (grade A+)" in out
    rows = {line.split()[1]: line for line in out.splitlines()
            if re.match(r"^\d+ +(smtp|submission|submissions|imap|imaps|pop3|pop3s) ", line)}
    flawed_rows = [line for line in out.split("flawed.example.test:")[1].splitlines()
                   if re.match(r"^\d+ +\w+ ", line)]
    assert len(flawed_rows) == 7 and all("FAIL (F)" in line for line in flawed_rows)
    assert rows and all("ok (A+)" in line for line in out.split("flawed")[0].splitlines()
                        if re.match(r"^\d+ +\w+ ", line))


def test_colours_come_from_the_findings(demo_report: Report) -> None:
    """With colour, the flawed imap row's verdict is red; the good rows are green."""
    out = text(demo_report, 120, color=True)
    flawed = out.split("flawed.example.test")[1]
    imap = next(line for line in flawed.splitlines() if " imap " in line)
    assert "\x1b[1;31mFAIL (F)" in imap  # bold red: the FAIL style of mailtls.render.summary
    good = out.split("flawed.example.test")[0]
    smtp = next(line for line in good.splitlines() if " smtp " in line)
    assert "\x1b[32mok (A+)" in smtp


def test_80_columns_cut_no_word_and_indent_wrapped_text(demo_report: Report) -> None:
    out = text(demo_report, 80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in out  # rich's ellipsis: a word cut short
    assert not [line for line in lines if line != line.rstrip()]  # no padding blanks
    # a finding's wrapped text stays indented: only headers, headlines and the table start at 0
    start = re.compile(r"^(FAIL|WARN|INFO|UNKNOWN) |^findings$|^no findings$|^\S+\.example\.test"
                       r": |^port |^─|^\d+ |^\d+ fail, ")
    for line in lines:
        if line and not line.startswith(" "):
            assert start.match(line), line


def test_evidence_shown_once_per_port_and_port_refused_folded() -> None:
    out = text(sample_report(), 120)
    # tls.version.no_tls13 has the same version lines as tls.version.legacy_accepted
    assert out.count("| TLS 1.1: refused") == 1
    assert "same evidence as under tls.version.legacy_accepted above" in out
    # port.refused only repeats the table: one line, no evidence
    assert out.count("port.refused") == 1
    assert "| connection refused" not in out


def test_same_rule_many_times_is_one_group() -> None:
    report = sample_report()
    dns = tuple(Finding("dns.lookup_failed", Severity.UNKNOWN, f"the SRV lookup of _{n}._tcp "
                        "failed (timeout)", None, None, (f"_{n}._tcp SRV: TIMEOUT",),
                        "RFC 1035 §4.1.1", "Check the zone's name servers.") for n in range(9))
    host = report.hosts[0]
    import dataclasses

    report = dataclasses.replace(report, hosts=(dataclasses.replace(
        host, findings=host.findings + dns),))
    out = text(report, 100)
    assert out.count("dns.lookup_failed") == 1 and "dns.lookup_failed ×9" in out
    assert out.count("Check the zone's name servers.") == 1
    assert out.count("- the SRV lookup of") == 9


def test_verbose_shows_what_a_clean_server_offers() -> None:
    out = text(sample_report(), 100, verbose=True)
    offers = out.split("offers 127.0.0.1:587")[1].split("offers ")[0]
    assert "versions" in offers and "TLS 1.2, TLS 1.3" in offers
    assert "TLS_AES_256_GCM_SHA384" in offers  # suites per version
    assert "groups" in offers and "x25519" in offers
    assert "issuer CN=Example CA" in offers and "expires 2030-08-03" in offers
    assert "EC 256" in offers
    assert "offers 127.0.0.1:587" not in text(sample_report(), 100)


def test_grades_of_closed_and_unresolved(demo_report: Report) -> None:
    report = full_report()
    host = report.hosts[0]
    refused = next(o for o in host.observations if o.state.value == "refused")
    assert port_grade(host, refused) in ("-", "B")  # B: service.no_implicit_tls names it
    unresolved = next(h for h in report.hosts if h.resolve_error)
    assert host_grade(unresolved) == "?"
    assert verdict(()) == "pass"


def test_rules_explain_one_and_list_json(capsys: Any) -> None:
    assert main(["rules", "cert.expired"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cert.expired (fail") and "fix: Renew the certificate" in out
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "grades (mailtls-grade/1)" in out and "A+" in out
    assert main(["rules", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    from mailtls.checks.rules import RULES

    assert {r["id"] for r in doc["rules"]} == set(RULES)
    assert all(r["fix"] and r["summary"] for r in doc["rules"])
    assert main(["rules", "cert."]) == 0
    assert "cert.name_mismatch" in capsys.readouterr().out
    assert main(["rules", "no.such.rule"]) == 3
    assert "no rule 'no.such.rule'" in capsys.readouterr().err
