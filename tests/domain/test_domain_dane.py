"""DANE for SMTP (RFC 7672, RFC 6698, RFC 7671): TLSA records computed from the test
certificates at test time, matched against the chain each MX presents; DNSSEC status from the
AD bit; unusable records, rollover readiness, lookup failures, STARTTLS missing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailtls.testing import CertKind, RunningServer, TestPKI, start_smtp
from tests.domain.domain_dns import FakeDNS
from tests.domain.domain_helpers import MX2, DomainRun, Site, tlsa

Make = Callable[..., FakeDNS]
Run = Callable[..., DomainRun]
MX1_ALT = "127.0.0.11"
ZERO = "3 1 1 " + "00" * 32


@pytest.fixture
def mx1_with(pki: TestPKI, site: Site) -> Iterator[Callable[..., RunningServer]]:
    """Serve mx1.example.test from its own loopback address with another certificate."""
    started: list[RunningServer] = []

    def start(kind: CertKind, **options: object) -> RunningServer:
        server = start_smtp(pki, host=MX1_ALT, port=site.smtp_port, cert=kind,
                            **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


def _lines(site: Site, mx1: list[str], mx2: list[str] | None = None) -> str:
    mx2 = [tlsa(site.pki)] if mx2 is None else mx2
    return "\n".join([*(f"_{site.smtp_port}._tcp.mx1 IN TLSA {r}" for r in mx1),
                      *(f"_{site.smtp_port}._tcp.mx2 IN TLSA {r}" for r in mx2)])


def _check(site: Site, make_dns: Make, run: Run, tlsa_lines: str, *, ad: bool = True,
           mx1: str | None = None, **dns_options: object) -> DomainRun:
    zone = site.zone(tlsa_lines, **({"MX1": mx1} if mx1 else {}))
    dns = make_dns(zone, ad=ad, **dns_options)
    return run("example.test", "--service", f"smtp={site.smtp_port}",
               "--mta-sts-port", str(site.policy.port), dns=dns)


def _result(r: DomainRun, host: str) -> dict[str, object]:
    results: list[dict[str, object]] = [x for x in r.domain["dane"]["results"]
                                        if x["host"] == host]
    assert len(results) == 1, r.domain["dane"]["results"]
    return results[0]


def test_matching_dane_ee_record_is_named(good_site: Site, make_dns: Make, run: Run) -> None:
    record = tlsa(good_site.pki)
    r = _check(good_site, make_dns, run, _lines(good_site, [record, ZERO]))
    result = _result(r, "mx1.example.test")
    assert result["verdict"] == "match" and result["matched"] == record
    assert result["matched_depth"] == 0 and result["authenticated"] is True
    assert not {i for i in r.ids if i.startswith("dane.")} - {"dane.rollover.single_record"}
    # mx1 has a next-key record, mx2 only the current one
    single = r.all("dane.rollover.single_record")
    assert len(single) == 1 and "mx2.example.test" in single[0]["summary"]


@pytest.mark.parametrize(("selector", "mtype"), [(0, 1), (1, 2), (0, 0)])
def test_other_selectors_and_matching_types(
    good_site: Site, make_dns: Make, run: Run, selector: int, mtype: int
) -> None:
    record = tlsa(good_site.pki, selector=selector, mtype=mtype)
    r = _check(good_site, make_dns, run, _lines(good_site, [record]))
    assert _result(r, "mx1.example.test")["matched"] == record


def test_no_matching_record(good_site: Site, make_dns: Make, run: Run) -> None:
    other = tlsa(good_site.pki, "rsa")
    r = _check(good_site, make_dns, run, _lines(good_site, [ZERO, other]))
    finding = r.finding("dane.no_match")
    assert finding["severity"] == "fail" and finding["endpoint"].startswith("127.0.0.2:")
    assert any(line.endswith(tlsa(good_site.pki)) for line in finding["evidence"])
    assert _result(r, "mx1.example.test")["verdict"] == "no_match"
    assert _result(r, "mx2.example.test")["verdict"] == "match"
    assert r.code == 2


def test_without_dnssec_dane_does_not_apply(good_site: Site, make_dns: Make, run: Run) -> None:
    r = _check(good_site, make_dns, run, _lines(good_site, [ZERO]), ad=False)
    assert r.finding("dane.no_match")["severity"] == "warn"
    not_auth = r.all("dane.not_authenticated")
    assert len(not_auth) == 2 and {f["severity"] for f in not_auth} == {"warn"}
    assert _result(r, "mx1.example.test")["authenticated"] is False
    # only the MX host's zone unsigned
    mixed = _check(good_site, make_dns, run, _lines(good_site, [tlsa(good_site.pki)]),
                   unsigned=[f"_{good_site.smtp_port}._tcp.mx2.example.test"])
    assert ["mx2.example.test" in f["summary"] for f in mixed.all("dane.not_authenticated")] == [
        True]


def test_dane_ta_matches_the_intermediate_the_server_sends(
    good_site: Site, make_dns: Make, run: Run, mx1_with: Callable[..., RunningServer]
) -> None:
    mx1_with("with_intermediate")
    record = tlsa(good_site.pki, "with_intermediate", usage=2, depth=1)
    r = _check(good_site, make_dns, run, _lines(good_site, [record]), mx1=MX1_ALT)
    result = _result(r, "mx1.example.test")
    assert result["verdict"] == "match" and result["matched_depth"] == 1
    assert "dane.ta_name_mismatch" not in r.ids


def test_dane_ta_leaf_must_name_the_mx(
    good_site: Site, make_dns: Make, run: Run, mx1_with: Callable[..., RunningServer]
) -> None:
    """Served as mx3 (not in the certificate): DANE-TA checks the name, DANE-EE does not."""
    mx1_with("with_intermediate")
    ta = tlsa(good_site.pki, "with_intermediate", usage=2, depth=1)
    ee = tlsa(good_site.pki, "with_intermediate", usage=3)
    more = f"@ IN MX 30 mx3.example.test.\nmx3 IN A {MX1_ALT}\n"
    for record, expected in ((ta, True), (ee, False)):
        lines = _lines(good_site, []) + f"\n_{good_site.smtp_port}._tcp.mx3 IN TLSA {record}"
        dns = make_dns(good_site.zone(lines, MORE=more), ad=True)
        r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
                "--mta-sts-port", str(good_site.policy.port), dns=dns)
        assert _result(r, "mx3.example.test")["verdict"] == "match"
        assert ("dane.ta_name_mismatch" in r.ids) is expected


def test_dane_ee_ignores_dates_and_trust(
    good_site: Site, make_dns: Make, run: Run, mx1_with: Callable[..., RunningServer]
) -> None:
    mx1_with("expired")
    r = _check(good_site, make_dns, run, _lines(good_site, [tlsa(good_site.pki, "expired")]),
               mx1=MX1_ALT)
    assert _result(r, "mx1.example.test")["verdict"] == "match"
    assert "cert.expired" in r.ids and "dane.no_match" not in r.ids


def test_pkix_usages_are_unusable_for_smtp(good_site: Site, make_dns: Make, run: Run) -> None:
    only_pkix = [tlsa(good_site.pki, usage=1), tlsa(good_site.pki, usage=0, depth=0)]
    r = _check(good_site, make_dns, run, _lines(good_site, only_pkix))
    unusable = r.all("dane.unusable_record")
    assert len(unusable) == 2 and {f["severity"] for f in unusable} == {"warn"}
    assert all("no usable record" in f["summary"] for f in unusable)
    assert _result(r, "mx1.example.test")["verdict"] == "no_usable_records"
    mixed = _check(good_site, make_dns, run,
                   _lines(good_site, [tlsa(good_site.pki, usage=1), tlsa(good_site.pki)]))
    assert "no usable record" not in mixed.finding("dane.unusable_record")["summary"]
    assert _result(mixed, "mx1.example.test")["verdict"] == "match"


@pytest.mark.parametrize(("ad", "severity"), [(True, "fail"), (False, "warn")])
def test_tlsa_lookup_failure(
    good_site: Site, make_dns: Make, run: Run, ad: bool, severity: str
) -> None:
    name = f"_{good_site.smtp_port}._tcp.mx1.example.test"
    r = _check(good_site, make_dns, run, _lines(good_site, [tlsa(good_site.pki)]), ad=ad,
               servfail=[name])
    finding = r.finding("dane.tlsa.lookup_failed")
    assert finding["severity"] == severity and name in finding["summary"]


def test_no_tlsa_records(good_site: Site, make_dns: Make, run: Run) -> None:
    r = _check(good_site, make_dns, run, "")
    assert r.finding("dane.none")["severity"] == "info"
    assert r.domain["dane"]["results"] == []
    assert "dane.none" not in _check(good_site, make_dns, run, _lines(good_site, [ZERO])).ids


def test_tlsa_without_starttls(
    good_site: Site, make_dns: Make, run: Run, mx1_with: Callable[..., RunningServer]
) -> None:
    mx1_with("good", starttls=False)
    r = _check(good_site, make_dns, run, _lines(good_site, [tlsa(good_site.pki)]), mx1=MX1_ALT)
    finding = r.finding("dane.starttls_missing")
    assert finding["severity"] == "fail"
    assert finding["endpoint"] == f"{MX1_ALT}:{good_site.smtp_port}"
    assert _result(r, "mx1.example.test")["verdict"] == "no_tls"
    assert "dane.starttls_missing" not in _check(
        good_site, make_dns, run, _lines(good_site, [tlsa(good_site.pki)])).ids


def test_mx2_address_is_tested_too(good_site: Site, make_dns: Make, run: Run) -> None:
    r = _check(good_site, make_dns, run, _lines(good_site, [tlsa(good_site.pki)]))
    assert _result(r, "mx2.example.test")["endpoint"] == f"{MX2}:{good_site.smtp_port}"
