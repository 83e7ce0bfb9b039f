"""The probes in the reports: JSON (schema), terminal -v, --quick, the rule catalogue, and one
full run with the TLS enumeration switched on."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from mailtls.checks.rules import RULES, rule_stage
from mailtls.cli.app import main
from mailtls.testing import TestPKI, start_imap, start_pop3, start_smtp

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())
NEW_IDS = {
    "smtp.starttls.command_injection": "fail", "imap.starttls.command_injection": "fail",
    "pop3.starttls.command_injection": "fail", "smtp.starttls.not_enforced": "warn",
    "smtp.auth.plaintext_accepted": "fail", "imap.auth.plaintext_accepted": "fail",
    "pop3.auth.plaintext_accepted": "fail", "smtp.starttls.state_kept": "fail",
    "smtp.starttls.required_on_mx": "info", "imap.alert_in_plaintext": "info",
    "smtp.open_relay": "fail", "starttls.probe_inconclusive": "info",
}


def test_json_report_with_probes_follows_the_schema(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, inject_vulnerable=True, auth_required=False) as smtp, \
            start_imap(pki, logindisabled=False) as imap, start_pop3(pki) as pop3:
        run = secure(f"smtp={smtp.port}", f"submission={smtp.port}", f"imap={imap.port}",
                     f"pop3={pop3.port}", extra=("--relay-test",))
    jsonschema.validate(run.run.report, SCHEMA)
    for endpoint in run.run.endpoints:
        assert endpoint["security"], endpoint["endpoint"]
        for probe in endpoint["security"]:
            assert probe["verdict"] in ("passed", "failed", "not_testable", "inconclusive")
            assert probe["reason"]
            if probe["connections"]:
                # everything the tool sent is in the probe's own transcript
                assert any(t["dir"] == "C" for t in probe["transcript"])
    # the connections of the probes are counted, in the endpoint and in the summary
    by_port = {e["endpoint"]: e for e in run.run.endpoints}
    for endpoint in by_port.values():
        assert endpoint["connections"] >= 1 + sum(p["connections"] for p in endpoint["security"])
    assert run.run.report["summary"]["connections"] == sum(
        e["connections"] for e in run.run.endpoints)


def test_quick_skips_the_probes(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, inject_vulnerable=True) as server:
        run = mailtls(f"submission={server.port}")  # the shared fixture adds --quick
    assert run.endpoints[0]["security"] == []
    assert run.endpoints[0]["connections"] == 1
    assert "smtp.starttls.command_injection" not in run.ids


def test_implicit_tls_ports_are_not_probed(pki: TestPKI, secure: Any) -> None:
    with start_imap(pki, implicit_tls=True, inject_vulnerable=True) as server:
        run = secure(f"imaps={server.port}")
    assert run.endpoint()["security"] == []


def test_verbose_terminal_shows_failed_probe_transcripts(pki: TestPKI, secure: Any) -> None:
    with start_imap(pki, inject_vulnerable=True) as server:
        run = secure(f"imap={server.port}", json_out=False, extra=("-v",))
    out = run.run.out
    assert "imap.starttls.command_injection" in out
    assert "security probe command_injection: failed" in out
    assert "security probe command_injection: failed, 1 connection(s)" in out
    assert "OK NOOP completed" in out  # the unprompted answer, shown with its lock
    # passed probes are summarised in the port's transcript, not replayed
    assert "security probe capability_change: passed" in out
    assert "security probe capability_change: passed," not in out


def test_rule_catalogue(capsys: Any) -> None:
    for rule_id, severity in NEW_IDS.items():
        assert RULES[rule_id].severity.label == severity, rule_id
        assert RULES[rule_id].reference and RULES[rule_id].remediation
    # judged only after the deep probes ran (not with --quick), except the greeting's [ALERT]
    assert rule_stage("smtp.starttls.command_injection") == rule_stage("tls.cipher.broken")
    assert rule_stage("imap.alert_in_plaintext") == "session"
    assert main(["rules"]) == 0
    listed = capsys.readouterr().out
    assert all(rule_id in listed for rule_id in NEW_IDS)


def test_relay_flag_in_help(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "--relay-test" in capsys.readouterr().out


def test_full_deep_run_with_enumeration(pki: TestPKI, secure: Any) -> None:
    """The probes run after the version/suite enumeration, on the same endpoint."""
    with start_pop3(pki, inject_vulnerable=True) as server:
        run = secure(f"pop3={server.port}", enumerate_tls=True)
    endpoint = run.endpoint()
    assert endpoint["tls_scan"] is not None
    assert run.probe("command_injection")["verdict"] == "failed"
    assert endpoint["connections"] == (1 + endpoint["tls_scan"]["connections"]
                                       + sum(p["connections"] for p in endpoint["security"]))
