"""`mailtls diff` and `check --baseline`: changes between deterministic reports, and between real
scans before and after a loopback server's configuration changed (certificate replaced,
STARTTLS removed, TLS 1.3 switched off, a port closed)."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mailtls.regression.diff import diff_exit_code, diff_reports, render_diff_text
from mailtls.render.jsonout import render_json, report_dict
from mailtls.testing import TestPKI, start_imap, start_smtp
from tests.cli_runner import cli_output as run
from tests.regression.regression_helpers import HOST, golden, older_report, sample_report

BASE = ("check", HOST, "--address", "127.0.0.1", "--timeout", "20", "--read-timeout", "3",
        "--handshake-timeout", "3", "--format", "json")


def kinds(changes: Any) -> set[tuple[str, bool]]:
    return {(c["kind"], c["regression"]) if isinstance(c, dict) else (c.kind, c.regression)
            for c in changes}


def test_golden_diff_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(render_json(older_report(), 2))
    new.write_text(render_json(sample_report(), 2))
    changes = diff_reports(report_dict(older_report(), 2), report_dict(sample_report(), 2))
    text = render_diff_text(report_dict(older_report(), 2), report_dict(sample_report(), 2),
                            changes, diff_exit_code(changes), old_source="old.json",
                            new_source="new.json")
    golden("diff.txt", text)
    code, out, _ = run(capsys, "diff", str(old), str(new), "--format", "json")
    assert code == 2
    doc = json.loads(out)
    assert doc["schema"] == "mailtls-diff/1" and doc["summary"]["exit_code"] == 2
    doc["old"]["source"], doc["new"]["source"] = "old.json", "new.json"
    golden("diff.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    assert {("cert.changed", True), ("tls.version.gained", True), ("tls.version.lost", True),
            ("capability.lost", True), ("port.closed", True), ("finding.new", True),
            ("finding.new", False), ("host.added", False)} <= kinds(doc["changes"])


def test_diff_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(render_json(older_report(), 2))
    new.write_text(render_json(sample_report(), 2))
    code, out, _ = run(capsys, "diff", str(new), str(new))
    assert code == 0 and "no changes" in out
    assert run(capsys, "diff", str(old), str(new))[0] == 2
    # the other way round the deployment got better: changes, but no regression... except
    # the second host, which is missing now (a change) and the findings resolved (changes)
    code, out, _ = run(capsys, "diff", str(new), str(old), "--format", "json")
    regressions = [c for c in json.loads(out)["changes"] if c["regression"]]
    assert code == (2 if regressions else 1)
    assert {c["kind"] for c in regressions} <= {"tls.version.lost", "finding.new",
                                                "finding.severity", "capability.lost"}
    # usage errors: 3
    (tmp_path / "bad.json").write_text('{"schema": "something/9"}')
    assert run(capsys, "diff", str(old), str(tmp_path / "bad.json"))[0] == 3
    assert run(capsys, "diff", str(old), str(tmp_path / "missing.json"))[0] == 3
    (tmp_path / "text.json").write_text("not json at all")
    code, _, err = run(capsys, "diff", str(old), str(tmp_path / "text.json"))
    assert code == 3 and "neither JSON nor JSON Lines" in err


def test_improvement_only_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_doc = report_dict(sample_report(), 2)
    new_doc = json.loads(json.dumps(old_doc))
    imap = next(e for h in new_doc["hosts"] for e in h["endpoints"] if e["port"] == 143)
    imap["capabilities_before_tls"].append("STARTTLS")  # gained: a change, not a regression
    new_doc["hosts"][0]["findings"] = [f for f in new_doc["hosts"][0]["findings"]
                                       if f["id"] != "imap.starttls.not_offered"]
    changes = diff_reports(old_doc, new_doc)
    assert kinds(changes) == {("capability.gained", False), ("finding.resolved", False)}
    assert diff_exit_code(changes) == 1


def test_diff_reads_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    report = sample_report()
    lines = "".join(json.dumps(report_dict(dataclasses.replace(report, hosts=(h,)), 2)) + "\n"
                    for h in report.hosts)
    (tmp_path / "a.jsonl").write_text(lines)
    (tmp_path / "b.json").write_text(render_json(report, 2))
    assert run(capsys, "diff", str(tmp_path / "a.jsonl"), str(tmp_path / "b.json"))[0] == 0


# --- real scans before and after a change ------------------------------------------------------


@pytest.fixture
def scan_to(pki: TestPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    def scan(name: str, *services: str, quick: bool = True) -> tuple[Path, dict[str, Any]]:
        argv = [*BASE, "--ca-file", pki.ca_file(), *(a for s in services
                                                      for a in ("--service", s))]
        if quick:
            argv.append("--quick")
        _code, out, _ = run(capsys, *argv)
        path = tmp_path / f"{name}.json"
        path.write_text(out)
        return path, json.loads(out)

    return scan


def test_real_cert_change_and_starttls_removed(pki: TestPKI, scan_to: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with start_smtp(pki) as smtp, start_imap(pki, implicit_tls=True) as imaps:
        port, imaps_port = smtp.port, imaps.port
        before, _ = scan_to("before", f"submission={port}", f"imaps={imaps_port}")
    # Same ports: a new certificate (RSA key, new fingerprint) and no STARTTLS on 587;
    # 993 is gone.
    with start_smtp(pki, port=port, starttls=False):
        after, _ = scan_to("after", f"submission={port}", f"imaps={imaps_port}")
    with start_smtp(pki, port=port, cert="rsa") as smtp, start_imap(
            pki, port=imaps_port, implicit_tls=True, cert="with_intermediate"):
        assert smtp.port == port
        renewed, _ = scan_to("renewed", f"submission={port}", f"imaps={imaps_port}")

    code, out, _ = run(capsys, "diff", str(before), str(after), "--format", "json")
    doc = json.loads(out)
    assert code == 2
    got = kinds(doc["changes"])
    assert ("tls.lost", True) in got  # 587 no longer gets to TLS
    assert ("capability.lost", True) in got  # STARTTLS gone from EHLO
    assert ("port.closed", True) in got  # 993 refused now
    assert any(c["kind"] == "finding.new" and c["finding_id"] == "smtp.starttls.not_offered"
               and c["regression"] for c in doc["changes"])

    code, out, _ = run(capsys, "diff", str(before), str(renewed), "--format", "json")
    doc = json.loads(out)
    certs = [c for c in doc["changes"] if c["kind"] == "cert.changed"]
    assert len(certs) == 2 and code == 1  # new certificates, same expiry: changes only
    assert all(c["old"] != c["new"] and "sha256" in c["new"] for c in certs)
    assert not [c for c in doc["changes"] if c["regression"]]


def test_real_tls13_switched_off(pki: TestPKI, scan_to: Any,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Needs the enumeration (tls_scan), so this one is not --quick."""
    with start_smtp(pki) as smtp:
        port = smtp.port
        before, doc = scan_to("before", f"submission={port}", quick=False)
    assert doc["hosts"][0]["endpoints"][0]["tls_scan"]["versions"]["TLS 1.3"] is True
    with start_smtp(pki, port=port, maximum_version=ssl.TLSVersion.TLSv1_2):
        after, _ = scan_to("after", f"submission={port}", quick=False)
    code, out, _ = run(capsys, "diff", str(before), str(after))
    assert code == 2
    assert "tls.version.lost" in out and "no longer accepts TLS 1.3" in out
    assert "tls.negotiated" in out  # TLSv1.3 -> TLSv1.2
    assert "REGRESSION" in out


def test_check_with_baseline(pki: TestPKI, scan_to: Any,
                             capsys: pytest.CaptureFixture[str]) -> None:
    with start_smtp(pki, auth_before_tls=True) as smtp:  # a known warning
        port = smtp.port
        baseline, doc = scan_to("baseline", f"submission={port}")
        assert doc["summary"]["exit_code"] == 1
        argv = [*BASE, "--ca-file", pki.ca_file(), "--quick", "--service",
                f"submission={port}", "--baseline", str(baseline)]
        code, out, _ = run(capsys, *argv)
        assert code == 0, out  # the warning is in the baseline: known, does not count
        result = json.loads(out)
        assert result["baseline"] == {"changes": [], "regressions": 0}
        jsonschema.validate(result, json.loads(
            (Path(__file__).parents[2] / "mailtls/schema/report-1.json").read_text()))
    with start_smtp(pki, port=port, auth_before_tls=True, cert="expired"):
        code, out, _ = run(capsys, *argv)
        assert code == 2
        changes = json.loads(out)["baseline"]["changes"]
        assert any(c["finding_id"] == "cert.expired" for c in changes)
        code, out, _ = run(capsys, *[a if a != "json" else "text" for a in argv])
        assert "changes since the baseline" in out and "REGRESSION" in out
    code, _, err = run(capsys, *argv[:-1], str(baseline) + ".missing")
    assert code == 3 and "no such file" in err
