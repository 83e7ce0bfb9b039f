"""SRV records for mail clients (RFC 6186, RFC 8314 §5.1): the endpoints they name are tested
with the service of their label; '.' means not offered; records that steer clients to
plaintext or to certificates that do not cover the names clients check are flagged."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailtls.testing import RunningServer, TestPKI, start_imap, start_smtp
from tests.domain.domain_dns import FakeDNS, load_zone
from tests.domain.domain_helpers import DomainRun, Site

Make = Callable[..., FakeDNS]
Run = Callable[..., DomainRun]


def _srv_zone(*records: str) -> str:
    return load_zone("srv.test", {"SRV": "\n".join(records)})


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    started: list[RunningServer] = []
    yield started
    for s in started:
        s.stop()


def test_srv_endpoints_are_tested_with_the_service_of_their_label(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    dns = make_dns(good_site.zone(), ad=True)
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    mail = r.host("mail.example.test")
    assert {(e["service"], e["port"], e["state"]) for e in mail["endpoints"]} == {
        ("submissions", good_site.submissions.port, "open"),
        ("imaps", good_site.imaps.port, "open"),
    }
    assert mail["roles"] == ["SRV _submissions._tcp.example.test (priority 0)",
                             "SRV _imaps._tcp.example.test (priority 0)"]
    not_offered = r.finding("srv.not_offered")
    assert not_offered["service"] == "pop3" and not_offered["severity"] == "info"
    assert not r.ids & {"srv.plaintext", "srv.cert_name_mismatch", "srv.none"}


def test_no_srv_records_at_all(make_dns: Make, run: Run) -> None:
    r = run("implicit.fallback.test", "--service", "smtp=1",
            dns=make_dns(load_zone("fallback.test", {"IMPLICIT": "127.0.0.5"})))
    assert r.finding("srv.none")["severity"] == "info"


def test_srv_to_a_port_without_tls(
    good_site: Site, pki: TestPKI, make_dns: Make, run: Run, servers: list[RunningServer]
) -> None:
    plain_imap = start_imap(pki)  # STARTTLS, not implicit TLS: the _imaps label is wrong
    no_starttls = start_smtp(pki, starttls=False)
    servers += [plain_imap, no_starttls]
    dns = make_dns(good_site.zone(), _srv_zone(
        f"_imaps._tcp IN SRV 0 1 {plain_imap.port} mail.example.test.",
        f"_submission._tcp IN SRV 0 1 {no_starttls.port} mail.example.test.",
        f"_submissions._tcp IN SRV 0 1 {good_site.submissions.port} mail.example.test.",
    ), ad=True)
    r = run("srv.test", dns=dns)
    plain = r.all("srv.plaintext")
    assert {f["service"] for f in plain} == {"imaps", "submission"}
    assert all(f["severity"] == "fail" for f in plain)
    assert any("implicit TLS" in f["summary"] for f in plain)
    assert any("STARTTLS" in f["summary"] for f in plain)
    assert r.code == 2


def test_srv_certificate_names_with_and_without_dnssec(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    record = f"_imaps._tcp IN SRV 0 1 {good_site.imaps.port} mail.example.test."
    # DNSSEC-validated: the target is a fine reference identity (RFC 7817 §3)
    secure = run("srv.test", dns=make_dns(good_site.zone(), _srv_zone(record), ad=True))
    assert "srv.cert_name_mismatch" not in secure.ids
    # not validated: RFC 7817 clients check against srv.test, which the certificate lacks
    insecure = run("srv.test", dns=make_dns(good_site.zone(), _srv_zone(record), ad=False))
    finding = insecure.finding("srv.cert_name_mismatch")
    assert finding["severity"] == "warn" and "srv.test" in finding["summary"]
    # ... unless the certificate covers the domain too
    covered = run("covered.test", dns=make_dns(
        good_site.zone(), load_zone("covered.test", {"IMAPS_PORT": str(good_site.imaps.port)})))
    assert "srv.cert_name_mismatch" not in covered.ids


def test_srv_target_certificate_covering_neither_name(
    good_site: Site, pki: TestPKI, make_dns: Make, run: Run, servers: list[RunningServer]
) -> None:
    wrong = start_imap(pki, implicit_tls=True, cert="wrong_name")
    servers.append(wrong)
    dns = make_dns(good_site.zone(),
                   _srv_zone(f"_imaps._tcp IN SRV 0 1 {wrong.port} mail.example.test."), ad=True)
    r = run("srv.test", dns=dns)
    finding = r.finding("srv.cert_name_mismatch")
    assert finding["severity"] == "fail"
    assert "neither mail.example.test nor srv.test" in finding["summary"]
    assert "cert.name_mismatch" in r.ids  # the endpoint's own finding, as in host mode


def test_srv_target_without_address(make_dns: Make, run: Run) -> None:
    r = run("srv.test", dns=make_dns(_srv_zone("_imaps._tcp IN SRV 0 1 993 nowhere.srv.test.")))
    assert r.finding("srv.target_unresolved")["severity"] == "fail"


def test_srv_lookup_failure(good_site: Site, make_dns: Make, run: Run) -> None:
    dns = make_dns(good_site.zone(), servfail=["_imaps._tcp.example.test"])
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}",
            "--mta-sts-port", str(good_site.policy.port), dns=dns)
    failed = r.finding("dns.lookup_failed")
    assert "_imaps._tcp.example.test" in failed["summary"]
    assert [e["service"] for e in r.host("mail.example.test")["endpoints"]] == ["submissions"]
