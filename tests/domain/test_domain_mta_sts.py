"""MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) of a mail domain: the TXT records, the policy
fetched over HTTPS from a loopback web server (the real code path; only its port is the
test's), the policy's syntax and mode, and whether every MX matches it and passes its TLS
requirements."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailtls.testing import CertKind, TestPKI
from tests.domain.domain_dns import FakeDNS, load_zone
from tests.domain.domain_helpers import (
    MX1,
    DomainRun,
    PolicyResponse,
    PolicyServer,
    Site,
    start_policy_server,
)

Make = Callable[..., FakeDNS]
Run = Callable[..., DomainRun]

STS_IDS = {"mta_sts.none", "mta_sts.record_invalid", "mta_sts.policy_unavailable",
           "mta_sts.policy_redirect", "mta_sts.policy_cert_invalid",
           "mta_sts.policy_content_type", "mta_sts.policy_too_large", "mta_sts.policy_invalid",
           "mta_sts.not_enforced", "mta_sts.max_age_short", "mta_sts.mx_not_listed",
           "mta_sts.mx_tls_invalid"}


def _check(site: Site, make_dns: Make, run: Run, port: int | None = None,
           **zone: str) -> DomainRun:
    dns = make_dns(site.zone(**zone), ad=True)
    return run("example.test", "--service", f"smtp={site.smtp_port}", "--mta-sts-port",
               str(port or site.policy.port), dns=dns)


def _policy(site: Site, body: bytes | str, **kwargs: object) -> None:
    data = body.encode() if isinstance(body, str) else body
    site.policy.response = PolicyResponse(body=data, **kwargs)  # type: ignore[arg-type]


def test_good_policy(good_site: Site, make_dns: Make, run: Run) -> None:
    r = _check(good_site, make_dns, run)
    assert not r.ids & STS_IDS, r.ids
    assert not {i for i in r.ids if i.startswith("tls_rpt.")}
    policy = r.domain["mta_sts"]["policy"]
    assert policy["status"] == 200 and policy["trusted"] is True
    assert policy["url"] == "https://mta-sts.example.test/.well-known/mta-sts.txt"
    request = good_site.policy.requests[-1].decode()
    assert request.startswith("GET /.well-known/mta-sts.txt HTTP/1.1")
    assert f"host: mta-sts.example.test:{good_site.policy.port}" in request.lower()


def test_policy_syntax_errors(good_site: Site, make_dns: Make, run: Run) -> None:
    _policy(good_site, "version: STSv1\nmode: strict\nmx: mx1.example.test\n")
    finding = _check(good_site, make_dns, run).finding("mta_sts.policy_invalid")
    assert "mode is 'strict'" in finding["summary"] and "no max_age" in finding["summary"]
    assert finding["severity"] == "fail"


def test_mx_not_in_the_policy_enforce_and_testing(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    _policy(good_site, "version: STSv1\nmode: enforce\nmx: other.example.net\nmax_age: 604800\n")
    enforce = _check(good_site, make_dns, run).all("mta_sts.mx_not_listed")
    assert {f["severity"] for f in enforce} == {"fail"} and len(enforce) == 2
    _policy(good_site, "version: STSv1\nmode: testing\nmx: other.example.net\nmax_age: 604800\n")
    testing = _check(good_site, make_dns, run)
    assert {f["severity"] for f in testing.all("mta_sts.mx_not_listed")} == {"warn"}
    assert testing.finding("mta_sts.not_enforced")["severity"] == "info"


def test_redirect_is_not_followed(good_site: Site, make_dns: Make, run: Run) -> None:
    before = len(good_site.policy.requests)
    _policy(good_site, b"", status=301, reason="Moved",
            headers={"Location": "https://www.example.test/mta-sts.txt"})
    finding = _check(good_site, make_dns, run).finding("mta_sts.policy_redirect")
    assert "www.example.test" in finding["summary"] and finding["severity"] == "fail"
    assert len(good_site.policy.requests) == before + 1


def test_policy_larger_than_64_kib(good_site: Site, make_dns: Make, run: Run) -> None:
    head = b"version: STSv1\r\nmode: enforce\r\nmax_age: 604800\r\n"
    big = head + b"mx: a.example.test\r\n" * 4000
    _policy(good_site, big)
    r = _check(good_site, make_dns, run)
    assert r.finding("mta_sts.policy_too_large")["severity"] == "fail"
    assert r.domain["mta_sts"]["policy"]["size"] == 64 * 1024


def test_content_type_and_status(good_site: Site, make_dns: Make, run: Run) -> None:
    from tests.domain.domain_helpers import GOOD_POLICY

    _policy(good_site, GOOD_POLICY, headers={"Content-Type": "text/html; charset=utf-8"})
    assert _check(good_site, make_dns, run).finding("mta_sts.policy_content_type")[
        "severity"] == "warn"
    _policy(good_site, GOOD_POLICY, headers={"Content-Type": "text/plain; charset=us-ascii"})
    assert "mta_sts.policy_content_type" not in _check(good_site, make_dns, run).ids
    _policy(good_site, b"not found", status=404, reason="Not Found")
    finding = _check(good_site, make_dns, run).finding("mta_sts.policy_unavailable")
    assert "HTTP 404" in finding["summary"]


def test_short_max_age(good_site: Site, make_dns: Make, run: Run) -> None:
    _policy(good_site, "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 3600\n")
    assert _check(good_site, make_dns, run).finding("mta_sts.max_age_short")["severity"] == "warn"


@pytest.fixture
def other_policy_server(pki: TestPKI) -> Iterator[Callable[[CertKind], PolicyServer]]:
    started: list[PolicyServer] = []

    def start(kind: CertKind) -> PolicyServer:
        server = start_policy_server(pki, "127.0.0.6", kind)
        started.append(server)
        return server

    yield start
    for s in started:
        s.server.stop()


@pytest.mark.parametrize(("kind", "reason"), [
    ("self_signed", "not trusted"),
    ("wrong_name", "no SAN DNS name matches mta-sts.example.test"),
    ("expired", "expired"),
])
def test_policy_host_certificate(
    good_site: Site, make_dns: Make, run: Run,
    other_policy_server: Callable[[CertKind], PolicyServer], kind: CertKind, reason: str,
) -> None:
    server = other_policy_server(kind)
    r = _check(good_site, make_dns, run, port=server.port, STS="127.0.0.6")
    finding = r.finding("mta_sts.policy_cert_invalid")
    assert reason in finding["summary"] and finding["severity"] == "fail"
    assert "mta_sts.mx_not_listed" not in r.ids  # a policy senders ignore enforces nothing
    policy = r.domain["mta_sts"]["policy"]
    assert policy["status"] == 200 and "version: STSv1" in policy["body"]
    assert policy["unverified_fetch"] is (kind != "wrong_name")


def test_policy_host_refuses(good_site: Site, make_dns: Make, run: Run) -> None:
    r = _check(good_site, make_dns, run, STS="127.0.0.7")
    finding = r.finding("mta_sts.policy_unavailable")
    assert "connection refused" in finding["summary"] and finding["severity"] == "fail"
    assert r.domain["mta_sts"]["policy"]["error_kind"] == "refused"


def test_policy_host_without_address(good_site: Site, make_dns: Make, run: Run) -> None:
    dns = make_dns(good_site.zone().replace("mta-sts         IN A    127.0.0.4", ""))
    r = run("example.test", "--service", f"smtp={good_site.smtp_port}", dns=dns)
    assert "cannot resolve" in r.finding("mta_sts.policy_unavailable")["summary"]


@pytest.mark.parametrize(("txt", "expected"), [
    ('_mta-sts IN TXT "v=STSv1; id=not-valid!;"', "mta_sts.record_invalid"),
    ('_mta-sts IN TXT "v=STSv1; id=1;"\n_mta-sts IN TXT "v=STSv1; id=2;"',
     "mta_sts.record_invalid"),
    ('_mta-sts IN TXT "v=spf1 -all"', "mta_sts.none"),
])
def test_mta_sts_txt_record(
    good_site: Site, make_dns: Make, run: Run, txt: str, expected: str
) -> None:
    r = _check(good_site, make_dns, run, STS_TXT=txt)
    assert expected in r.ids
    if expected == "mta_sts.none":
        assert r.domain["mta_sts"]["policy"] is None  # no record: the policy is not fetched


def test_mx_failing_the_policy_tls_requirements(good_site: Site, make_dns: Make, run: Run) -> None:
    """mx3 matches *.example.test but its certificate does not name it."""
    r = _check(good_site, make_dns, run,
               MORE=f"@ IN MX 30 mx3.example.test.\nmx3 IN A {MX1}")
    failing = r.all("mta_sts.mx_tls_invalid")
    assert [f["severity"] for f in failing] == ["fail"]
    assert "mx3.example.test" in failing[0]["summary"]
    assert "no SAN DNS name matches mx3.example.test" in failing[0]["summary"]


# --- TLS-RPT -----------------------------------------------------------------------------------


def test_tls_rpt_missing_is_a_warning_next_to_mta_sts(
    good_site: Site, make_dns: Make, run: Run
) -> None:
    r = _check(good_site, make_dns, run, RPT_TXT="")
    assert r.finding("tls_rpt.none")["severity"] == "warn"
    plain = run("implicit.fallback.test", "--service", "smtp=1",
                dns=make_dns(load_zone("fallback.test", {"IMPLICIT": "127.0.0.5"})))
    assert plain.finding("tls_rpt.none")["severity"] == "info"
    assert plain.finding("mta_sts.none")["severity"] == "info"


@pytest.mark.parametrize("record", [
    '"v=TLSRPTv1; rua=ftp://reports.example.test/"',
    '"v=TLSRPTv1;"',
    '"v=TLSRPTv1; rua=mailto:a@example.test"\n_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:b@x.test"',
])
def test_tls_rpt_invalid(good_site: Site, make_dns: Make, run: Run, record: str) -> None:
    r = _check(good_site, make_dns, run, RPT_TXT=f"_smtp._tls IN TXT {record}")
    assert r.finding("tls_rpt.invalid")["severity"] == "fail"
