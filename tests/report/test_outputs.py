"""One scan, several outputs: --output FORMAT=FILE, -o FILE, mailtls show REPORT.json in any
format (a saved report renders every format exactly as the scan did), CSV, HTML escaping."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mailtls.cli import main
from mailtls.cli.output import FORMATS, render
from mailtls.model import Report
from mailtls.render.csv import COLUMNS, render_csv
from mailtls.render.html import render_html
from tests.regression.regression_helpers import full_report, sample_report
from tests.roundtrip import assert_round_trip


@pytest.mark.parametrize("make", [sample_report, full_report])
def test_saved_report_renders_every_format_alike(make: Any) -> None:
    assert_round_trip(make(), 2)


def test_demo_report_round_trips(demo_report: Report) -> None:
    """Real servers: transcripts, TLS scans, security probes, chains, all carried."""
    assert_round_trip(demo_report, 2)


def test_one_scan_writes_every_format(tmp_path: Path, capsys: Any) -> None:
    """`mailtls demo` (real loopback servers) once, every format to a file; each file is what
    `mailtls show` renders from the saved JSON."""
    args = ["demo", "--output", f"json={tmp_path / 'r.json'}", "-o", str(tmp_path / "main.txt")]
    for fmt in FORMATS:
        if fmt != "json":
            args += ["--output", f"{fmt}={tmp_path / ('r.' + fmt)}"]
    assert main(args) == 0  # the demo worked: good passed, flawed failed
    assert capsys.readouterr().out == ""  # everything went to files
    saved = tmp_path / "r.json"
    assert json.loads(saved.read_text())["summary"]["exit_code"] == 0
    main_text = (tmp_path / "main.txt").read_text()
    assert "flawed.example.test: FAIL (grade F)" in main_text and "\x1b[" not in main_text
    for fmt in FORMATS:
        if fmt == "json":
            continue
        assert main(["show", str(saved), "--format", fmt]) == 0  # as saved
        shown = capsys.readouterr().out
        assert shown == (tmp_path / f"r.{fmt}").read_bytes().decode(), fmt
    assert main(["show", str(saved), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(saved.read_text())


def test_output_errors_are_one_line_before_any_scan(tmp_path: Path, capsys: Any) -> None:
    cases = [
        (["--output", "pdf=x.pdf"], "unknown format 'pdf'"),
        (["--output", "html"], "expected FORMAT=FILE"),
        (["--output", f"html={tmp_path}/no/such/dir/r.html"], "no such directory"),
        (["--output", f"html={tmp_path}"], "is a directory"),
        (["--output", f"html={tmp_path}/a", "--output", f"csv={tmp_path}/a"], "same file"),
        (["-o", f"{tmp_path}/a", "--output", f"csv={tmp_path}/a"], "also named by --output"),
    ]
    for extra, message in cases:
        # a scan would take seconds and print a report; a usage error is immediate and silent
        assert main(["check", "mail.example.test", "--address", "127.0.0.1", *extra]) == 3
        out, err = capsys.readouterr()
        assert out == "" and message in err and len(err.strip().splitlines()) == 1, err


def test_show_rejects_what_is_not_a_report(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.json"
    for text, message in [("{}", "not a mailtls report"), ("nonsense", "neither JSON"),
                          ('{"schema": "mailtls/1", "hosts": [{"name": "x"}]}',
                           "not a complete mailtls report")]:
        bad.write_text(text)
        assert main(["show", str(bad), "--format", "html"]) == 3
        out, err = capsys.readouterr()
        assert out == "" and message in err and len(err.strip().splitlines()) == 1, err
    assert main(["show", str(tmp_path / "missing.json")]) == 3
    assert "no such file" in capsys.readouterr().err


def test_csv_one_row_per_finding_and_no_formulas() -> None:
    report = full_report()
    rows = list(csv.reader(io.StringIO(render_csv(report, 2))))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) - 1 == len(report.findings)
    by_id = {r[5]: dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]}
    legacy = by_id["tls.version.legacy_accepted"]
    assert legacy["severity"] == "fail" and legacy["port_grade"] == "F"
    assert "TLS 1.0: accepted" in legacy["evidence"].splitlines()
    assert legacy["fix"].startswith("Allow TLS 1.2")
    # server text that looks like a formula is data
    from mailtls.model import Finding, Severity

    evil = Finding("x.y", Severity.WARN, "=HYPERLINK(\"http://e.test\")", None, None,
                   ("+cmd|' /C calc'!A0", "\x1b[31mred"), "RFC 1", "-fix")
    import dataclasses

    host = dataclasses.replace(report.hosts[0], findings=(evil,))
    text = render_csv(dataclasses.replace(report, hosts=(host,), domains=()), 2)
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[6].startswith("'=") and row[7].startswith("'+") and row[10] == "'-fix"
    assert "\x1b" not in text and "\\x1b[31mred" in text


def test_html_escapes_server_text_and_fetches_nothing() -> None:
    import dataclasses

    from mailtls.model import Finding, Severity

    report = sample_report()
    hostile = Finding("x.y", Severity.WARN, '<script>alert("s")</script>', "127.0.0.1:143",
                      "imap", ('<img src=x onerror=alert(1)> & "q"',), "RFC 1", "</pre>fix")
    host = dataclasses.replace(report.hosts[0], findings=(*report.hosts[0].findings, hostile))
    page = render_html(dataclasses.replace(report, hosts=(host, *report.hosts[1:])), 2)
    assert "<script" not in page.lower() and "<img" not in page
    assert "&lt;script&gt;alert(&quot;s&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;" in page
    assert "\x1b" not in page and "LOGINDISABLED \\x1b]0;pwned\\x07" in page
    # every link stays inside the page; nothing is loaded from anywhere
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert not re.search(r'<[^>]*\ssrc=|url\(|@import', page)
    # the one stylesheet is allowed by its hash, nothing else is
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and "default-src 'none'" in csp.group(1)
    css = re.search(r"<style>(.*?)</style>", page, re.S)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp.group(1)
    assert page.count("<style>") == 1 and ' style="' not in page


def test_html_has_matrix_chains_timeline_transcripts_and_fixes() -> None:
    page = render_html(full_report(), 2)
    assert 'class="matrix"' in page and ">TLS versions<" in page
    assert "certificate chains" in page and "CN=Example CA,O=Example" in page
    assert "certificate expiry" in page and "<svg" in page
    assert "<details><summary>transcript 127.0.0.1:587" in page
    assert "<b>Fix:</b> Allow TLS 1.2 and 1.3 only" in page
    assert "mail.example.test: FAIL (grade F)" in page
    assert render(full_report(), 2, "html") == page  # pure


@pytest.mark.parametrize(("path", "value", "message"), [
    (("hosts", 0, "endpoints", 0, "state"), "half_open", "unknown port state 'half_open'"),
    (("hosts", 0, "endpoints", 0, "protocol"), "gopher", "unknown protocol 'gopher'"),
    (("hosts", 0, "findings", 0, "severity"), "critical", "unknown severity 'critical'"),
])
def test_a_value_from_a_newer_mailtls_is_one_line(path: tuple[Any, ...], value: str,
                                                   message: str) -> None:
    """A closed set read back (``StrEnum``s in the model) names the unknown value, the field
    and the values it knows, in one line, instead of a traceback."""
    from mailtls.errors import UsageError
    from mailtls.render.jsonout import report_dict
    from mailtls.render.load import report_from_dict

    doc = json.loads(json.dumps(report_dict(full_report(), 2)))
    where = doc
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    with pytest.raises(UsageError) as caught:
        report_from_dict(doc, source="new.json")
    text = str(caught.value)
    assert text.startswith("new.json: ") and message in text and "newer mailtls" in text
    assert "(known: " in text and "\n" not in text
