"""Which servers a mail domain has: MX in preference order with every address, the address
fallback, null MX, DNS errors as findings, and how `check NAME` tells a domain from a host."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.domain.domain_dns import FakeDNS, load_zone
from tests.domain.domain_helpers import MX1, DomainRun, Site

Make = Callable[..., FakeDNS]
Run = Callable[..., DomainRun]


def _fallback(implicit: str = "127.0.0.5") -> str:
    return load_zone("fallback.test", {"IMPLICIT": implicit})


def test_mx_hosts_in_preference_order_each_on_port_25_or_the_named_port(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    dns = make_dns(good_site.zone(), ad=True)
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    assert r.host_names == ["mx1.example.test", "mx2.example.test", "mail.example.test"]
    mx1 = r.host("mx1.example.test")
    assert mx1["roles"] == ["MX 10 of example.test"]
    assert mx1["addresses"] == [MX1]
    assert [e["port"] for e in mx1["endpoints"]] == [good_site.smtp_port]
    assert r.host("mx2.example.test")["roles"] == ["MX 20 of example.test"]
    d = r.domain
    assert [m["exchange"] for m in d["mx"]["records"]] == ["mx1.example.test", "mx2.example.test"]
    assert d["detected"] == "requested" and d["resolver_trusted"]
    assert d["tested_hosts"] == r.host_names
    assert {f["severity"] for f in r.findings} <= {"info"}, r.findings
    assert r.code == 0


def test_mx_default_port_is_25(good_site: Site, make_dns: Make, run: Run) -> None:
    """Without --service smtp=PORT the MX hosts are tried on 25 (nothing listens there on
    these loopback addresses: refused, and that is could-not-test for an MX)."""
    dns = make_dns(good_site.zone(tlsa_lines=""))
    r = run("example.test", "--mta-sts-port", str(good_site.policy.port), dns=dns)
    endpoint = r.host("mx1.example.test")["endpoints"][0]
    assert endpoint["port"] == 25 and endpoint["requested"]
    assert r.domain["smtp_ports"] == [25]
    assert dns.asked("_25._tcp.mx1.example.test", "TLSA")


def test_other_services_the_user_names_are_added_to_every_mx(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    dns = make_dns(good_site.zone())
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}", "--only", "imaps",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    assert [e["service"] for e in r.host("mx1.example.test")["endpoints"]] == ["smtp", "imaps"]


def test_null_mx_accepts_no_mail(make_dns: Make, run: Run) -> None:
    r = run("nullmx.fallback.test", dns=make_dns(_fallback()))
    finding = r.finding("dns.mx.null")
    assert finding["severity"] == "info" and "accepts no mail" in finding["summary"]
    assert r.host_names == []
    assert not r.ids & {"mta_sts.none", "tls_rpt.none", "dane.none", "srv.none", "dns.mx.none"}
    assert r.domain["mx"]["null"] is True
    assert r.code == 0


def test_null_mx_with_other_mx_records_fails(make_dns: Make, run: Run) -> None:
    r = run("mixed.fallback.test", "--service", "smtp=1", dns=make_dns(_fallback()))
    assert r.finding("dns.mx.null_mixed")["severity"] == "fail"
    assert "dns.mx.null" not in r.ids
    assert r.host_names == ["mx.fallback.test"]
    assert r.code == 2


def test_no_mx_falls_back_to_the_address(good_site: Site, make_dns: Make, run: Run) -> None:
    r = run("implicit.fallback.test", "--service", f"smtp={good_site.smtp_port}",
            dns=make_dns(_fallback(implicit=MX1)))
    finding = r.finding("dns.mx.none")
    assert finding["severity"] == "warn" and MX1 in finding["summary"]
    host = r.host("implicit.fallback.test")
    assert host["roles"] == ["address fallback of implicit.fallback.test (no MX, RFC 5321 §5.1)"]
    assert host["endpoints"][0]["state"] == "open"
    assert r.domain["mx"]["implicit"] is True


def test_no_mx_and_no_address_accepts_no_mail_without_saying_so(
    make_dns: Make, run: Run
) -> None:
    r = run("nothing.fallback.test", dns=make_dns(_fallback()))
    finding = r.finding("dns.mx.none")
    assert finding["severity"] == "fail" and "null MX" in finding["summary"]
    assert r.host_names == [] and r.code == 2


def test_domain_that_does_not_exist(make_dns: Make, run: Run) -> None:
    r = run("nosuch.fallback.test", dns=make_dns(_fallback()))
    assert r.finding("dns.domain.nxdomain")["severity"] == "unknown"
    assert r.code == 3


@pytest.mark.parametrize(("option", "status"), [("servfail", "servfail"), ("silent", "timeout"),
                                                ("refused", "refused")])
def test_mx_lookup_failure_is_a_clear_finding(
    good_site: Site, make_dns: Make, run: Run, option: str, status: str
) -> None:
    dns = make_dns(good_site.zone(), **{option: ["example.test/MX"]})
    r = run("example.test", "--dns-timeout", "1", "--mta-sts-port", str(good_site.policy.port),
            dns=dns)
    finding = r.finding("dns.lookup_failed")
    assert finding["severity"] == "unknown"
    assert f"({status})" in finding["summary"] and "example.test MX" in finding["evidence"][0]
    assert "mx1.example.test" not in r.host_names  # no guessing
    assert "mail.example.test" in r.host_names  # the SRV part still ran
    assert "dns.mx.none" not in r.ids
    assert r.code == 3


def test_mx_host_without_address(make_dns: Make, run: Run) -> None:
    r = run("dangling.fallback.test", dns=make_dns(_fallback()))
    finding = r.finding("dns.mx.target_unresolved")
    assert finding["severity"] == "fail" and "nowhere.fallback.test" in finding["summary"]
    assert r.host("nowhere.fallback.test")["resolve_error"]
    assert r.code == 2


def test_mx_host_address_lookup_failure(good_site: Site, make_dns: Make, run: Run) -> None:
    dns = make_dns(good_site.zone(), servfail=["mx2.example.test/A"])
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    failed = r.finding("dns.lookup_failed")
    assert "mx2.example.test" in failed["summary"]
    assert "dns.mx.target_unresolved" not in r.ids  # unknown, not "has no address"
    assert r.code == 3


def test_mx_that_is_an_alias(make_dns: Make, run: Run) -> None:
    r = run("aliased.fallback.test", "--service", "smtp=1", dns=make_dns(_fallback()))
    assert "mx.fallback.test" in r.finding("dns.mx.target_cname")["summary"]
    plain = run("mixed.fallback.test", "--service", "smtp=1", dns=make_dns(_fallback()))
    assert "dns.mx.target_cname" not in plain.ids


# --- check NAME: a domain or a host? -------------------------------------------------------------


def test_check_of_a_name_with_mx_records_checks_the_domain(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    dns = make_dns(good_site.zone())
    r = run("example.test", "--mta-sts-port", str(good_site.policy.port), dns=dns,
            command="check")
    assert r.domain["detected"] == "mx"
    assert "mx1.example.test" in r.host_names and "example.test" not in r.host_names
    said = r.finding("domain.own_address_not_tested")
    assert "127.0.0.8" in said["summary"] and "--host" in said["summary"]
    assert r.report["options"]["mode"]["example.test"].startswith("example.test has MX records")


def test_check_of_a_name_with_a_null_mx_is_a_domain_that_takes_no_mail(
    make_dns: Make, run: Run
) -> None:
    r = run("nullmx.fallback.test", dns=make_dns(_fallback()), command="check")
    assert r.domain["detected"] == "mx" and r.host_names == []
    assert "dns.mx.null" in r.ids and "domain.own_address_not_tested" not in r.ids


def test_check_of_a_name_without_mx_stays_a_host(make_dns: Make, run: Run) -> None:
    dns = make_dns(_fallback())
    r = run("implicit.fallback.test", dns=dns, command="check")
    assert "domains" not in r.report
    assert r.host_names == ["implicit.fallback.test"]
    assert len(r.host("implicit.fallback.test")["endpoints"]) == 7
    assert r.host("implicit.fallback.test")["addresses"] == ["127.0.0.5"]
    assert "no MX records" in r.report["options"]["mode"]["implicit.fallback.test"]


@pytest.mark.parametrize("extra", [("--host",), ("--only", "smtp"), ("--address", "127.0.0.9")])
def test_check_never_asks_for_mx_when_told_it_is_a_host(
    good_site: Site, make_dns: Make, run: Run, extra: tuple[str, ...]
) -> None:
    dns = make_dns(good_site.zone())
    r = run("example.test", *extra, "--connect-timeout", "1", dns=dns, command="check")
    assert "domains" not in r.report and r.host_names == ["example.test"]
    assert not dns.asked("example.test", "MX")


def test_check_domain_flag(good_site: Site, make_dns: Make, run: Run) -> None:
    dns = make_dns(good_site.zone())
    r = run("example.test", "--domain", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns, command="check")
    assert r.domain["detected"] == "requested"
    assert "domain.own_address_not_tested" not in r.ids


def test_domain_with_address_is_a_usage_error(make_dns: Make, run: Run) -> None:
    r = run("example.test", "--address", "127.0.0.1", dns=make_dns(_fallback()), json_out=False)
    assert r.code == 3 and "--address cannot be used" in r.err
