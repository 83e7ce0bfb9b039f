"""Domain results in the JSON report (schema mailtls/1, additive) and on the terminal."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources

import jsonschema

from mailtls.cli.app import main
from tests.domain.domain_dns import FakeDNS
from tests.domain.domain_helpers import DomainRun, Site, tlsa

Make = Callable[..., FakeDNS]
Run = Callable[..., DomainRun]


def _schema() -> dict[str, object]:
    text = resources.files("mailtls").joinpath("schema/report-1.json").read_text()
    data: dict[str, object] = json.loads(text)
    return data


def test_domain_report_matches_the_schema(good_site: Site, make_dns: Make, run: Run) -> None:
    dns = make_dns(good_site.zone(), ad=True)
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    jsonschema.validate(r.report, _schema())
    d = r.domain
    assert d["resolver"] == dns.address
    assert d["mta_sts"]["txt"]["records"] == ["v=STSv1; id=20240101T000000;"]
    assert d["tls_rpt"]["txt"]["records"] == ["v=TLSRPTv1; rua=mailto:tlsrpt@example.test"]
    assert {s["label"] for s in d["srv"]} == {"_submissions._tcp", "_submission._tcp",
                                             "_imaps._tcp", "_imap._tcp", "_pop3s._tcp",
                                             "_pop3._tcp"}
    assert r.report["summary"]["findings"]["info"] == len(r.findings)
    assert r.report["options"]["resolver"] == dns.address


def test_failures_match_the_schema_too(good_site: Site, make_dns: Make, run: Run) -> None:
    dns = make_dns(good_site.zone(), servfail=["example.test/MX"], silent=["_mta-sts.example.test"])
    r = run("example.test", "--dns-timeout", "1", dns=dns)
    jsonschema.validate(r.report, _schema())
    assert r.domain["mta_sts"]["txt"]["status"] == "timeout"


def test_host_reports_are_unchanged_outside_domain_mode(
    capsys: object, make_dns: Make, run: Run
) -> None:
    r = run("mail.example.test", "--address", "127.0.0.9", "--only", "smtp",
            "--connect-timeout", "1", dns=make_dns(), command="check")
    assert "domains" not in r.report and "roles" not in r.report["hosts"][0]
    assert "port25_controls" not in r.report


def test_terminal_shows_the_domain_section(good_site: Site, make_dns: Make, run: Run) -> None:
    markup = '_smtp._tls IN TXT "v=TLSRPTv1; rua=[bold]reports"'
    dns = make_dns(good_site.zone(RPT_TXT=markup), ad=True)
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}", "--no-color",
            "--mta-sts-port", str(good_site.policy.port), dns=dns, json_out=False)
    out = r.out
    assert "mail domain example.test" in out
    assert "10 mx1.example.test  127.0.0.2 (tested)" in out
    assert "_pop3._tcp  not offered (.)" in out
    assert "policy: HTTP 200, trusted, mode enforce" in out
    assert f"matches {tlsa(good_site.pki)[:24]}... (leaf)" in out
    assert "MX 10 of example.test" in out  # the host's role in its title
    assert "'[bold]reports' has no scheme" in out  # DNS text is never rich markup
    assert "tls_rpt.invalid" in out


def test_rules_lists_the_domain_ids(capsys: object) -> None:
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule_id in ("dns.mx.null", "srv.plaintext", "mta_sts.mx_not_listed", "tls_rpt.invalid",
                    "dane.no_match", "smtp.port25.masked"):
        assert rule_id in out
