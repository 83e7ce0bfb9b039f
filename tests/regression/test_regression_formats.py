"""--format json/jsonl/junit/nagios/prometheus/text: golden files from a deterministic report,
each format parsed back (JUnit against an XSD, Nagios by the plugin guidelines' grammar,
Prometheus with the official client's parser), and one end-to-end run per format against
loopback servers."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from prometheus_client.parser import text_string_to_metric_families

from mailtls.cli.regression import split_by_host
from mailtls.model import Report
from mailtls.model.exitcodes import FailOn, exit_code
from mailtls.render.jsonout import render_json, report_dict
from mailtls.render.junit import render_junit
from mailtls.render.nagios import render_nagios
from mailtls.render.prometheus import render_prometheus
from mailtls.render.terminal import make_console, render_terminal
from mailtls.testing import TestPKI, start_imap, start_pop3, start_smtp
from tests.cli_runner import cli_output
from tests.regression.regression_helpers import (
    HOST,
    HOSTILE_BANNER,
    HOSTILE_CAPABILITY,
    full_report,
    golden,
    sample_report,
)

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())
JUNIT_XSD = xmlschema.XMLSchema(str(Path(__file__).parent / "junit.xsd"))

# 'label'=value[UOM];[warn];[crit];[min];[max] (monitoring-plugin-guidelines, 03.Output.md)
PERF = re.compile(
    r"^(?P<label>'[^'=]+'|[^'= ]+)=(?P<value>-?[0-9]+(?:\.[0-9]+)?|U)(?P<uom>s|ms|us|%|B|KB|MB|"
    r"TB|c)?(?:;(?P<warn>[^; ]*))?(?:;(?P<crit>[^; ]*))?(?:;(?P<min>[^; ]*))?(?:;(?P<max>[^; ]*))?$"
)
STATUS = re.compile(r"^MAILTLS (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|]*) \| "
                    r"(?P<perf>.*)$")


def render(fmt: str, report: Report, code: int) -> str:
    if fmt == "json":
        return render_json(report, code) + "\n"
    if fmt == "jsonl":  # as --format jsonl writes it: one report per host, its own exit code
        return "".join(json.dumps(report_dict(one, exit_code(one)), ensure_ascii=False) + "\n"
                       for one in split_by_host(report))
    if fmt == "junit":
        return render_junit(report, code)
    if fmt == "nagios":
        return render_nagios(report, code)
    if fmt == "prometheus":
        return render_prometheus(report, code)
    buf = io.StringIO()
    console = make_console(buf, color=False)
    console.width = 120
    render_terminal(report, console, verbose=True, exit_code=code)
    return buf.getvalue()


SUFFIX = {"json": "json", "jsonl": "jsonl", "junit": "junit.xml", "nagios": "nagios.txt",
          "prometheus": "prom", "text": "txt"}


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("kind", ["report", "regression"])
def test_golden(fmt: str, kind: str) -> None:
    report = sample_report() if kind == "report" else full_report()
    code = 2
    golden(f"{kind}.{SUFFIX[fmt]}", render(fmt, report, code))


def test_renderers_are_pure_functions() -> None:
    for fmt in SUFFIX:
        assert render(fmt, full_report(), 2) == render(fmt, full_report(), 2)


def parse_perfdata(perf: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in perf.split():
        m = PERF.match(item)
        assert m, f"not valid perfdata: {item!r}"
        label = m.group("label").strip("'")
        assert label not in out, f"duplicate label {label}"
        out[label] = {k: v for k, v in m.groupdict().items() if v is not None}
    return out


def parse_nagios(text: str) -> tuple[str, str, dict[str, dict[str, str]], list[str]]:
    first, *rest = text.rstrip("\n").split("\n")
    m = STATUS.match(first)
    assert m, first
    assert "e+" not in m.group("perf") and "e-" not in m.group("perf")  # no scientific notation
    return m.group("state"), m.group("text"), parse_perfdata(m.group("perf")), rest


def test_json_and_jsonl_follow_the_schema() -> None:
    report = full_report()
    jsonschema.validate(json.loads(render("json", report, 2)), SCHEMA)
    lines = render("jsonl", report, 2).splitlines()
    assert len(lines) == len(report.hosts) == 2
    for line in lines:
        doc = json.loads(line)
        jsonschema.validate(doc, SCHEMA)
        assert len(doc["hosts"]) == 1


def raw_banner_report() -> Report:
    """The sample report with the hostile banner NOT escaped by the probe (defence in depth:
    the renderers must not rely on it)."""
    import dataclasses

    report = sample_report()
    host = report.hosts[0]
    findings = tuple(
        dataclasses.replace(f, summary=f.summary + " " + HOSTILE_BANNER,
                            evidence=(*f.evidence, HOSTILE_CAPABILITY, "\ud800 \ufffe"))
        for f in host.findings)
    host = dataclasses.replace(host, findings=findings)
    return dataclasses.replace(report, hosts=(host, *report.hosts[1:]))


@pytest.mark.parametrize("fmt", ["junit", "nagios", "prometheus"])
def test_control_characters_never_reach_the_output(fmt: str) -> None:
    text = render(fmt, raw_banner_report(), 2)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe]", text)
    if fmt == "junit":
        JUNIT_XSD.validate(text)
        ET.fromstring(text.encode("utf-8"))
        assert "\\x1b]0;pwned\\x07" in text  # the evidence, escaped visibly
        assert "&lt;ready&gt; &amp;" in text
    if fmt == "nagios":
        state, _status_text, _perf, lines = parse_nagios(text)
        assert state == "CRITICAL" and all("\\x1b[31m" in line for line in lines if "FAIL" in
                                           line)


def test_junit_is_valid_and_has_every_check() -> None:
    report = full_report()
    xml = render_junit(report, 2)
    JUNIT_XSD.validate(xml)
    root = ET.fromstring(xml)
    imap = next(s for s in root if s.get("name", "").endswith(":143 imap"))
    case = next(c for c in imap if c.get("name") == "imap.starttls.not_offered")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "fail"
    assert "\\x1b]0;pwned\\x07" in (failure.text or "")  # the evidence, escaped visibly
    # passing checks are test cases too; a closed port's TLS checks are skipped
    sub = next(s for s in root if s.get("name", "").endswith(":587 submission"))
    names = {c.get("name") for c in sub.iter("testcase")}
    assert {"smtp.starttls.not_offered", "cert.expired", "tls.version.legacy_accepted"} <= names
    assert all(c.find("failure") is None for c in sub.iter("testcase"))
    refused = next(s for s in root if s.get("name", "").endswith(":993 imaps"))
    skipped = [c for c in refused.iter("testcase") if c.find("skipped") is not None]
    assert {c.get("name") for c in skipped} >= {"cert.expired", "tls.handshake_failed"}
    assert all(c.find("skipped").get("message") == "port refused" for c in skipped)  # type: ignore[union-attr]
    # counts add up
    for suite in root:
        cases = list(suite.iter("testcase"))
        assert int(suite.get("tests", -1)) == len(cases)
        assert int(suite.get("failures", -1)) == sum(c.find("failure") is not None
                                                     for c in cases)
        assert int(suite.get("errors", -1)) == sum(c.find("error") is not None for c in cases)
    assert int(root.get("tests", -1)) == sum(int(s.get("tests", 0)) for s in root)
    # expectations and baseline have suites of their own
    suites = {s.get("name") for s in root}
    assert {"expectations", "baseline"} <= suites


def test_junit_warnings_follow_fail_on() -> None:
    report = sample_report()

    def case(xml: str, suite_suffix: str, name: str) -> ET.Element:
        suite = next(s for s in ET.fromstring(xml) if s.get("name", "").endswith(suite_suffix))
        return next(c for c in suite.iter("testcase") if c.get("name") == name)

    default = render_junit(report, 2)
    assert case(default, ":465 submissions", "cert.expiring_soon").find("failure") is not None
    relaxed = case(render_junit(report, 2, fail_on=FailOn.FAIL), ":465 submissions",
                   "cert.expiring_soon")
    assert relaxed.find("failure") is None and relaxed.find("system-out") is not None
    assert case(default, ":995 pop3s", "port.not_tested").find("error") is not None


def test_nagios_status_line_and_perfdata_parse_back() -> None:
    report = full_report()
    state, text, perf, long_output = parse_nagios(render_nagios(report, 2))
    assert state == "CRITICAL"
    assert "|" not in text and "\x1b" not in "".join(long_output)
    assert float(perf["cert_days"]["value"]) == 10  # the 465 certificate
    assert perf["cert_days"]["warn"] == "30:" and perf["cert_days"]["crit"] == "0:"
    assert perf["time"] == {"label": "time", "value": "1.5", "uom": "s", "warn": "",
                            "crit": "", "min": "0"}
    assert perf["handshake_time"]["uom"] == "s"
    assert int(perf["findings_fail"]["value"]) == sum(f.severity.label == "fail"
                                                      for f in report.findings)
    assert int(perf["expectations_broken"]["value"]) >= 1
    assert int(perf["regressions"]["value"]) >= 1
    assert any(line.startswith("[FAIL] imap.starttls.not_offered") for line in long_output)
    assert any(line.startswith("[EXPECT BROKEN]") for line in long_output)
    assert any(line.startswith("[REGRESSION]") for line in long_output)
    for code, name in ((0, "OK"), (1, "WARNING"), (3, "UNKNOWN")):
        assert parse_nagios(render_nagios(report, code))[0] == name


def metrics(text: str) -> dict[str, list[Any]]:
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    return families


def test_prometheus_parses_with_the_official_parser() -> None:
    report = full_report()
    text = render_prometheus(report, 2)
    fam = metrics(text)
    assert fam["mailtls_scan_duration_seconds"][0].value == 1.5
    assert fam["mailtls_exit_code"][0].value == 2
    expiry = {s.labels["endpoint"]: s.value for s in fam["mailtls_cert_expiry_seconds"]}
    assert expiry == {"127.0.0.1:587": 200 * 86400, "127.0.0.1:465": 10 * 86400}
    versions = {s.labels["endpoint"]: s.value for s in fam["mailtls_tls_version"]}
    assert versions == {"127.0.0.1:587": 1.3, "127.0.0.1:465": 1.2, "127.0.0.1:143": 0}
    status = {(s.labels["endpoint"], s.labels["check"]): s.value
              for s in fam["mailtls_check_status"]}
    assert status[("127.0.0.1:143", "imap.starttls.not_offered")] == 4
    assert status[("127.0.0.1:465", "cert.expiring_soon")] == 2
    assert status[("127.0.0.1:587", "cert.expired")] == 0
    assert ("127.0.0.1:993", "cert.expired") not in status  # skipped: not a series
    assert status[("", "host.unresolved")] == 4 - 1  # unknown
    broken = [s for s in fam["mailtls_expectation_status"] if s.value == 1]
    assert broken
    changes = {s.labels["regression"]: s.value for s in fam["mailtls_baseline_changes"]}
    assert changes["true"] >= 1
    # every series of a family has the same label names (the textfile collector insists)
    for name, samples in fam.items():
        assert len({tuple(sorted(s.labels)) for s in samples}) == 1, name
        assert len({tuple(sorted(s.labels.items())) for s in samples}) == len(samples), name


def test_prometheus_escapes_label_values() -> None:
    import dataclasses

    report = sample_report()
    host = dataclasses.replace(report.hosts[0], name='we"ird\\host\nname')
    text = render_prometheus(dataclasses.replace(report, hosts=(host,)), 0)
    names = {s.labels["host"] for s in metrics(text)["mailtls_host_resolved"]}
    assert names == {'we"ird\\host\nname'}


# --- end to end, against loopback servers ------------------------------------------------------


BASE = ("check", HOST, "--address", "127.0.0.1", "--timeout", "20", "--quick")


@pytest.fixture
def servers(pki: TestPKI) -> Any:
    with start_smtp(pki) as submission, start_imap(pki, cert="expiring_soon",
                                                   implicit_tls=True) as imaps, \
            start_pop3(pki, starttls=False) as pop3:
        yield {"submission": submission.port, "imaps": imaps.port, "pop3": pop3.port}


@pytest.fixture
def deployment(pki: TestPKI, servers: dict[str, int]) -> list[str]:
    services = [a for name, port in servers.items() for a in ("--service", f"{name}={port}")]
    return [*BASE, "--ca-file", pki.ca_file(), *services]


def test_end_to_end_junit(deployment: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_output(capsys, *deployment, "--format", "junit")
    assert code == 2
    JUNIT_XSD.validate(out)
    root = ET.fromstring(out)
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert {"pop3.starttls.not_offered", "cert.expiring_soon"} <= failed
    enumeration = [c for c in root.iter("testcase") if c.get("name") == "tls.cipher.broken"]
    assert enumeration and all(c.find("skipped") is not None for c in enumeration)  # --quick


def test_end_to_end_nagios(deployment: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_output(capsys, *deployment, "--format", "nagios")
    state, _text, perf, lines = parse_nagios(out)
    assert (code, state) == (2, "CRITICAL")
    assert 4 < float(perf["cert_days"]["value"]) < 6
    assert int(perf["ports_open"]["value"]) == 3
    assert any("pop3.starttls.not_offered" in line for line in lines)



def test_end_to_end_nagios_ok(pki: TestPKI, servers: dict[str, int],
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_output(capsys, *BASE, "--ca-file", pki.ca_file(), "--format", "nagios",
                           "--service", f"submission={servers['submission']}")
    state, text, perf, lines = parse_nagios(out)
    assert (code, state, lines) == (0, "OK", [])
    assert "no problems found" in text and float(perf["cert_days"]["value"]) > 300


def test_end_to_end_nagios_usage_error_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli_output(capsys, "check", HOST, "--format", "nagios", "--service",
                              "nonsense=1")
    assert code == 3 and "nonsense" in err


def test_end_to_end_prometheus(deployment: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_output(capsys, *deployment, "--format", "prometheus")
    fam = metrics(out)
    assert fam["mailtls_exit_code"][0].value == code == 2
    expiry = [s.value for s in fam["mailtls_cert_expiry_seconds"]]
    assert any(4 * 86400 < v < 6 * 86400 for v in expiry)
    assert {s.labels["version"] for s in fam["mailtls_tls_version_info"]} == {"TLSv1.3"}


def test_end_to_end_json_and_jsonl(deployment: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_output(capsys, *deployment, "--format", "jsonl")
    (line,) = out.splitlines()
    doc = json.loads(line)
    jsonschema.validate(doc, SCHEMA)
    assert code == doc["summary"]["exit_code"] == 2
    code, out, _ = cli_output(capsys, *deployment, "--format", "json")
    jsonschema.validate(json.loads(out), SCHEMA)
    assert "expectations" not in json.loads(out) and "baseline" not in json.loads(out)
