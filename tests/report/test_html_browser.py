"""The HTML report in a real browser: headless Chromium (Debian's package, installed by
scripts/install/chromium.sh) opens the demo's report, takes a screenshot and dumps the DOM; the
test looks at both and at Chromium's console, which must stay silent (no CSP violation, no
error). Skips with a message when Chromium is absent, unless MAILTLS_BROWSER=require."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailtls.model import Report
from mailtls.render.html import render_html
from mailtls.render.summary import HTML_COLOURS
from tests.report.pngread import count_near, read_png

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    message = "no Chromium (install with scripts/install/chromium.sh)"
    if os.environ.get("MAILTLS_BROWSER") == "require":
        pytest.fail(message + " and MAILTLS_BROWSER=require")
    pytest.skip(message)


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [_browser(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra,
            page.as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90,
                          env={**os.environ, "HOME": str(profile)})


def _console(stderr: str) -> list[str]:
    """What the page said on the console: uncaught errors, CSP violations, anything logged."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_report_renders_in_chromium(demo_report: Report, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(demo_report, 2), encoding="utf-8")
    shot = tmp_path / "shot.png"
    run = _chromium(page, tmp_path / "profile1", "--window-size=1024,1100",
                    f"--screenshot={shot}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console(run.stderr) == []
    dom = _chromium(page, tmp_path / "profile2", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console(dom.stderr) == []
    html = dom.stdout
    # what a reader sees: both hosts' verdicts, the matrix, chains, timeline, folded transcripts
    assert "flawed.example.test: FAIL (grade F)" in html
    assert "good.example.test: PASS (grade A+)" in html
    assert "checks per port" in html and "certificate chains" in html
    assert "certificate expiry" in html and "<svg" in html
    assert "<details><summary>transcript" in html and "<details open" not in html
    assert "Fix:" in html
    # the screenshot shows the stylesheet applied: the FAIL red and the PASS green are on it
    width, height, rows = read_png(shot.read_bytes())
    assert (width, height) == (1024, 1100)
    assert count_near(rows, HTML_COLOURS["fail"]) > 500
    assert count_near(rows, HTML_COLOURS["pass"]) > 500
    assert len({row[i:i + 3] for row in rows[::16] for i in range(0, len(row), 48)}) > 20


def test_console_check_catches_a_blocked_style(tmp_path: Path) -> None:
    """The console check can fail: a stylesheet the CSP does not allow is reported."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                    "content=\"default-src 'none'; style-src 'sha256-AAAA'\">"
                    "<style>p{color:red}</style></head><body><p>x</p></body></html>")
    run = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert run.returncode == 0
    assert any("Content Security Policy" in line for line in _console(run.stderr))
