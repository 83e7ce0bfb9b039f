"""A dead resolver is one group of findings, not nine; DANE says "not looked up" when no TLSA
question was asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailtls.render.load import report_from_dict
from tests.domain.domain_dns import FakeDNS
from tests.domain.domain_helpers import DomainRun, Site
from tests.roundtrip import assert_round_trip

Make = Callable[..., FakeDNS]


@dataclass
class _DeadResolver:
    address: str = "127.0.0.1:9"  # nothing listens: every question times out


def test_dead_resolver_findings_are_grouped(run: Callable[..., DomainRun]) -> None:
    r = run("example.test", "--dns-timeout", "1", "--no-color", dns=_DeadResolver(),
            json_out=False)
    out = r.out
    assert r.code == 3
    assert out.count("dns.lookup_failed") == 1, out
    assert "UNKNOWN dns.lookup_failed ×9" in out
    assert out.count("fix: The question could not be answered") == 1
    assert "no TLSA records" not in out
    assert "not looked up (no MX host to test)" in out
    assert "mail domain example.test: UNKNOWN (grade ?)" in out


def test_domain_report_round_trips_every_format(good_site: Site, make_dns: Make,
                                                run: Callable[..., DomainRun]) -> None:
    """A saved domain report (MX, SRV, MTA-STS policy, TLS-RPT, TLSA, DANE results) renders
    every format exactly as the scan's own report did (mailtls show)."""
    dns = make_dns(good_site.zone(), ad=True)
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    report, code = report_from_dict(r.report)
    assert report.domains and report.domains[0].dane and report.domains[0].observation.srv
    doc = assert_round_trip(report, code)
    assert doc == r.report
