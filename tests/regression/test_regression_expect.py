"""--expect mailtls.toml and `mailtls init`: files that pass and fail against loopback servers,
the file's errors as usage errors (exit 3), and init's file passing on the deployment it came
from."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailtls.errors import UsageError
from mailtls.model import Outcome
from mailtls.regression.expect import ScanSpec, evaluate, expectations_exit_code, init_toml, parse
from mailtls.testing import TestPKI, start_pop3, start_smtp
from tests.cli_runner import cli_output as run
from tests.regression.regression_helpers import EXPECTATIONS, HOST, sample_report

BASE = ("--address", "127.0.0.1", "--timeout", "20", "--read-timeout", "3",
        "--handshake-timeout", "3", "--quick")


def write(tmp_path: Path, text: str, name: str = "mailtls.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def outcomes(out: str) -> dict[tuple[str, str], str]:
    doc = json.loads(out)
    return {(e["id"], e["subject"]): e["outcome"] for e in doc["expectations"]}


# --- the file ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("version = 2\n", "version"),
    ("colour = 'blue'\n", "unknown key"),
    ("min_tls_version = 'TLS 1.7'\n", "not a TLS version"),
    ("max_severity = 'bad'\n", "max_severity"),
    ("cert_min_days = -1\n", "cert_min_days"),
    ("open = ['smpt']\n", "unknown service 'smpt'"),
    ("open = [70000]\n", "out of range"),
    ("open = 'smtp'\n", "must be a list"),
    ("[hosts.mail.example.com]\nopen = [25]\n", "quote a host name"),
    ("[scan]\nhost = ['x']\n", "scan.host"),
    ("accept = 'x'\n", "list of strings"),
])
def test_bad_files_are_usage_errors(text: str, message: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match=message):
        parse(tomllib.loads(text), "x.toml")
    code, _out, err = run(capsys, "check", HOST, "--expect", write(tmp_path, text))
    assert code == 3 and message in err


def test_unreadable_files_are_usage_errors(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", HOST, "--expect", str(tmp_path / "missing.toml"))
    assert code == 3 and "no such file" in err
    code, _, err = run(capsys, "check", HOST, "--expect", write(tmp_path, "open = [\n"))
    assert code == 3 and "not valid TOML" in err


def test_deterministic_evaluation() -> None:
    report = sample_report()
    results = evaluate(parse(tomllib.loads(EXPECTATIONS), "mailtls.toml"), report)
    by = {(r.id, r.subject): r for r in results if r.host == HOST}
    assert by[("port.open", "submission (587)")].outcome is Outcome.MET
    assert by[("port.closed", "imaps (993)")].outcome is Outcome.MET
    assert by[("port.closed", "pop3s (995)")].outcome is Outcome.UNKNOWN  # not tested
    assert by[("starttls.required", "127.0.0.1:143 (imap)")].outcome is Outcome.BROKEN
    legacy = by[("tls.min_version", "127.0.0.1:465 (submissions)")]
    assert legacy.outcome is Outcome.BROKEN and legacy.observed == "TLS 1.0 accepted"
    assert "TLS 1.0: accepted" in legacy.evidence
    assert by[("cert.min_days", "127.0.0.1:465 (submissions)")].outcome is Outcome.BROKEN
    assert by[("cert.min_days", "127.0.0.1:587 (submission)")].outcome is Outcome.MET
    severity = by[("findings.max_severity", "findings")]
    assert severity.outcome is Outcome.BROKEN
    assert any(e.startswith("accepted: info tls.version.no_tls13") for e in severity.evidence)
    assert expectations_exit_code(results) == 2


def test_init_file_is_met_by_the_report_it_came_from() -> None:
    report = sample_report()
    text = init_toml(report, ScanSpec(hosts=(HOST,)), warn_days=30)
    spec = parse(tomllib.loads(text), "init.toml")
    results = evaluate(spec, report)
    assert {r.outcome for r in results if r.host == HOST} <= {Outcome.MET, Outcome.UNKNOWN}
    assert not [r for r in results if r.outcome is Outcome.BROKEN]
    host = spec.for_host(HOST)
    assert host.open == ("submission", "submissions", "imap")
    assert host.closed == ("imaps",)  # 995 was not tested: neither open nor closed
    assert "imap.starttls.not_offered" in host.accept


# --- against loopback servers ------------------------------------------------------------------


GOOD = """\
version = 1
min_tls_version = "TLSv1.2"
cert_min_days = 30
max_severity = "info"
[scan]
hosts = ["mail.example.test"]
[hosts."mail.example.test"]
open = ["submission"]
starttls_required = ["submission"]
forbid = ["cert.*", "*.auth.plaintext_offered"]
"""


def test_expectations_met_and_broken_against_live_servers(
        pki: TestPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    args = ("check", "--expect", path, *BASE, "--ca-file", pki.ca_file(), "--format", "json")
    with start_smtp(pki) as good:
        code, out, _ = run(capsys, *args, "--service", f"submission={good.port}")
    assert code == 0, out
    assert set(outcomes(out).values()) == {"met"}
    assert json.loads(out)["hosts"][0]["name"] == HOST  # the host came from [scan]

    with start_smtp(pki, auth_before_tls=True, cert="expiring_soon") as bad:
        code, out, _ = run(capsys, *args, "--service", f"submission={bad.port}")
    assert code == 2
    got = outcomes(out)
    key = f"127.0.0.1:{bad.port} (submission)"
    assert got[("starttls.required", key)] == "broken"  # AUTH offered before TLS
    assert got[("cert.min_days", key)] == "broken"
    assert got[("findings.forbid", "cert.*")] == "broken"
    assert got[("findings.forbid", "*.auth.plaintext_offered")] == "broken"
    assert got[("tls.min_version", key)] == "met"
    evidence = {(e["id"], e["subject"]): e["evidence"] for e in json.loads(out)["expectations"]}
    assert any("AUTH" in line for line in evidence[("starttls.required", key)])

    with start_smtp(pki, starttls=False) as plain:
        code, out, _ = run(capsys, *args, "--service", f"submission={plain.port}")
    assert code == 2
    assert outcomes(out)[("tls.min_version", f"127.0.0.1:{plain.port} (submission)")] == \
        "broken"

    with start_smtp(pki, auth_before_tls=True) as bad:  # --fail-on never still exits 0
        code, _, _ = run(capsys, *args, "--service", f"submission={bad.port}",
                         "--fail-on", "never")
    assert code == 0


def test_expected_closed_port_and_untestable_expectation(
        pki: TestPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with start_smtp(pki) as server:
        text = GOOD.replace('open = ["submission"]',
                            f'open = ["submission"]\nclosed = [{server.port}, "pop3"]')
        code, out, _ = run(capsys, "check", "--expect", write(tmp_path, text), *BASE,
                           "--ca-file", pki.ca_file(), "--format", "json",
                           "--service", f"submission={server.port}")
    got = outcomes(out)
    assert got[("port.closed", f"port {server.port}")] == "broken"  # it is open
    assert got[("port.closed", "pop3 (110)")] == "unknown"  # not in the scan
    assert code == 2


def test_only_unknown_expectations_exit_3(pki: TestPKI, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with start_smtp(pki) as server:
        text = 'version = 1\nmax_severity = "info"\nopen = ["imaps"]\n'
        code, out, _ = run(capsys, "check", HOST, "--expect", write(tmp_path, text), *BASE,
                           "--ca-file", pki.ca_file(), "--format", "json",
                           "--service", f"submission={server.port}")
    assert code == 3 and outcomes(out)[("port.open", "imaps (993)")] == "unknown"


def test_init_then_check_then_break(pki: TestPKI, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The CI story: write the file once from a good deployment, then catch a regression."""
    with start_smtp(pki) as smtp, start_pop3(pki, starttls=False) as pop3:
        services = ("--service", f"submission={smtp.port}", "--service", f"pop3={pop3.port}")
        code, toml, _ = run(capsys, "init", HOST, *BASE, "--ca-file", pki.ca_file(), *services)
        assert code == 0
        data: dict[str, Any] = tomllib.loads(toml)
        assert data["scan"]["services"] == [f"submission={smtp.port}", f"pop3={pop3.port}"]
        host = data["hosts"][HOST]
        assert host["open"] == [smtp.port, pop3.port]
        assert host["starttls_required"] == [smtp.port]
        assert host["accept"] == ["pop3.starttls.not_offered"]
        path = write(tmp_path, toml)
        # Everything the file needs is in it: no HOST, no --service on the command line.
        code, out, _ = run(capsys, "check", "--expect", path, "--format", "json", "--quick")
        assert code == 0, out
        smtp_port = smtp.port
    with start_smtp(pki, port=smtp_port, starttls=False) as changed, \
            start_pop3(pki, port=pop3.port, starttls=False):
        assert changed.port == smtp_port
        code, out, _ = run(capsys, "check", "--expect", path, "--quick")
    assert code == 2
    assert "BROKEN" in out and "starttls.required" in out and "STARTTLS not offered" in out
    assert "smtp.starttls.not_offered" in out
