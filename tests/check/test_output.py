"""Renderers, the JSON schema, exit codes, --fail-on, the demo and the help text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from typing import Any

import jsonschema
import pytest

from mailtls.cli.app import main
from mailtls.testing import TestPKI, hostile, start_imap, start_pop3, start_smtp

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())


def test_json_report_follows_the_published_schema(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, auth_before_tls=True) as smtp, start_imap(pki, cert="expired",
                                                                   implicit_tls=True) as imaps, \
            start_pop3(pki, starttls=False) as pop3, hostile.tarpit() as tarpit:
        run = mailtls(f"submission={smtp.port}", f"imaps={imaps.port}", f"pop3={pop3.port}",
                      f"imap={tarpit.port}")
    jsonschema.validate(run.report, SCHEMA)
    assert run.report["schema"] == "mailtls/1"
    assert run.report["summary"]["exit_code"] == run.code == 2
    assert run.report["summary"]["connections"] == sum(e["connections"] for e in run.endpoints)
    counts = run.report["summary"]["findings"]
    assert sum(counts.values()) == len(run.findings)
    for finding in run.findings:
        assert finding["reference"] or finding["id"] == "port.not_tested"
        assert finding["remediation"]


def test_terminal_report_has_table_findings_and_evidence(pki: TestPKI, mailtls: Any) -> None:
    with start_pop3(pki, starttls=False) as pop3:
        run = mailtls(f"pop3={pop3.port}", json_out=False)
    assert run.code == 2
    assert "port" in run.out and "pop3" in run.out and "verdict" in run.out
    assert "mail.example.test: FAIL (grade F)" in run.out
    assert "pop3.starttls.not_offered" in run.out
    assert "+OK" in run.out  # the server's own words
    assert "\x1b[" not in run.out  # not a terminal: no colour
    assert "exit 2" in run.out


def test_verbose_shows_the_transcript(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki) as smtp:
        quiet = mailtls(f"submission={smtp.port}", json_out=False)
        loud = mailtls(f"submission={smtp.port}", json_out=False, extra=("-v",))
    assert "C: EHLO" not in quiet.out
    assert "C: EHLO" in loud.out and "C: STARTTLS" in loud.out and "S: 220" in loud.out


def test_colour_only_when_forced_and_no_color_wins(pki: TestPKI) -> None:
    with start_smtp(pki, cert="expired", implicit_tls=True) as smtp:
        base = [sys.executable, "-m", "mailtls", "check", "mail.example.test", "--address",
                "127.0.0.1", "--service", f"submissions={smtp.port}", "--ca-file", pki.ca_file()]
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        forced = subprocess.run(base, capture_output=True, text=True, timeout=60,
                                env={**env, "FORCE_COLOR": "1"})
        no_color = subprocess.run(base, capture_output=True, text=True, timeout=60,
                                  env={**env, "FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" in forced.stdout
    assert "\x1b[" not in no_color.stdout
    assert forced.returncode == no_color.returncode == 2


@pytest.mark.parametrize(("fail_on", "code"), [("warn", 1), ("fail", 0), ("never", 0)])
def test_fail_on_threshold_for_warnings(fail_on: str, code: int, pki: TestPKI,
                                        mailtls: Any) -> None:
    with start_smtp(pki, cert="expiring_soon", implicit_tls=True) as smtp:
        run = mailtls(f"submissions={smtp.port}", extra=("--fail-on", fail_on))
    assert run.ids == {"cert.expiring_soon"} and run.code == code


@pytest.mark.parametrize(("fail_on", "code"), [("warn", 2), ("fail", 2), ("never", 0)])
def test_fail_on_threshold_for_failures(fail_on: str, code: int, pki: TestPKI,
                                        mailtls: Any) -> None:
    with start_smtp(pki, cert="expired", implicit_tls=True) as smtp:
        run = mailtls(f"submissions={smtp.port}", extra=("--fail-on", fail_on))
    assert run.code == code


def test_warn_days(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, cert="expiring_soon", implicit_tls=True) as smtp:
        short = mailtls(f"submissions={smtp.port}", extra=("--warn-days", "3"))
    assert short.code == 0 and short.findings == []


def test_rules_lists_every_id_once(capsys: Any) -> None:
    from mailtls.checks.rules import RULES

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule_id in RULES:
        assert rule_id in out


def test_demo_runs_end_to_end_on_a_fresh_process() -> None:
    result = subprocess.run([sys.executable, "-m", "mailtls", "demo", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    good, flawed = report["hosts"]
    assert good["findings"] == []
    assert all(e["tls"] for e in good["endpoints"])
    ids = {f["id"] for f in flawed["findings"]}
    assert {"tls.plaintext_on_implicit_port", "pop3.starttls.not_offered", "cert.expired",
            "tls.version.legacy_accepted", "tls.cipher.broken", "cert.name_mismatch",
            "smtp.auth.plaintext_offered", "imap.auth.plaintext_offered",
            "cert.expiring_soon"} <= ids
    # the flawed host fails by design: the demo itself worked
    assert result.returncode == 0, result.stderr
    assert report["summary"]["exit_code"] == 0


def test_demo_exit_code_says_whether_the_demo_worked() -> None:
    """0 only for the designed outcome: good host clean, flawed host failing."""
    import datetime as dt

    from mailtls.cli.demo import FLAWED, GOOD, demo_exit_code
    from mailtls.model import Finding, HostReport, Report, Severity

    def host(name: str, *severities: Severity) -> HostReport:
        findings = tuple(Finding("x.y", s, "s", None, None, (), "RFC 1", "r") for s in severities)
        return HostReport(name, ("127.0.0.1",), None, (), findings)

    def report(*hosts: HostReport) -> Report:
        return Report(dt.datetime.now(dt.UTC), 1.0, hosts)

    assert demo_exit_code(report(host(GOOD), host(FLAWED, Severity.FAIL, Severity.WARN))) == 0
    assert demo_exit_code(report(host(GOOD, Severity.WARN), host(FLAWED, Severity.FAIL))) == 3
    assert demo_exit_code(report(host(GOOD), host(FLAWED, Severity.WARN))) == 3
    assert demo_exit_code(report(host(GOOD))) == 3


def test_help_documents_exit_codes() -> None:
    result = subprocess.run([sys.executable, "-m", "mailtls", "check", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for text in ("--service", "--only", "--address", "--fail-on", "exit codes", "3  could not"):
        assert text in result.stdout
