"""The Python API (scan_host, HostResult.port(...).tls.version >= TLS1_2) and the pytest plugin
(mailtls_scan / mailtls_report fixtures), the latter run by pytester as a user would."""

from __future__ import annotations

import pytest

import mailtls
from mailtls import TLS1_0, TLS1_2, TLS1_3, TLSVersion, scan_host, scan_host_async
from mailtls.errors import UsageError
from mailtls.model import PortState
from mailtls.testing import TestPKI, start_pop3, start_smtp

pytest_plugins = ["pytester"]

HOST = "mail.example.test"


def test_versions_compare_parse_and_print() -> None:
    assert TLS1_3 > TLS1_2 > TLS1_0 > TLSVersion.SSL3 > TLSVersion.NONE
    for text in ("TLSv1.2", "TLS 1.2", "tls1.2", "TLS1_2", "1.2"):
        assert TLSVersion.parse(text) is TLS1_2
    assert TLSVersion.parse("TLSv1") is TLS1_0 and TLSVersion.parse("SSLv3") is TLSVersion.SSL3
    assert str(TLS1_3) == "TLSv1.3" and TLS1_3.label == "TLS 1.3" and TLS1_3.number == 1.3
    assert repr(TLS1_2) == "TLSVersion.TLS1_2"
    with pytest.raises(ValueError, match="not a TLS version"):
        TLSVersion.parse("TLS 2.0")
    assert set(mailtls.__all__) >= {"scan_host", "TLS1_2", "TLSVersion", "HostResult"}


def test_scan_host(pki: TestPKI) -> None:
    with start_smtp(pki, cert="expiring_soon") as smtp, start_pop3(pki, starttls=False) as pop3:
        result = scan_host(HOST, addresses=["127.0.0.1"], ca_file=pki.ca_file(),
                           services={"submission": smtp.port, "pop3": pop3.port}, timeout=20)
    sub = result.port(smtp.port)
    assert sub is not None and sub.is_open and sub.state is PortState.OPEN
    assert sub.tls.established and sub.tls.version >= TLS1_2 and sub.tls.trusted
    assert sub.tls.accepted_versions == frozenset({TLS1_2, TLS1_3})  # enumerated
    assert sub.tls.lowest_version is TLS1_2
    assert sub.starttls is True and "AUTH PLAIN LOGIN" in sub.capabilities
    assert sub.certificate is not None and sub.days_left is not None and 4 < sub.days_left < 6
    assert sub.ids == {"cert.expiring_soon"} and result.port("submission") == sub
    plain = result.port("pop3")
    assert not plain.tls.established and plain.tls.version < TLS1_0
    assert plain.tls.error == "STARTTLS not offered"
    assert "pop3.starttls.not_offered" in plain.ids and result.has("pop3.starttls.not_offered")
    assert result.exit_code == 2 and result.worst is not None and result.worst.label == "fail"
    assert result.to_json()["schema"] == "mailtls/1"
    with pytest.raises(KeyError, match="was not scanned"):
        result.port(993)
    with pytest.raises(UsageError):
        scan_host("not a host")


async def test_scan_host_async(pki: TestPKI) -> None:
    with start_smtp(pki, implicit_tls=True) as smtps:
        result = await scan_host_async(HOST, addresses=["127.0.0.1"], ca_file=pki.ca_file(),
                                       services=[f"submissions={smtps.port}"], quick=True)
    port = result.port("submissions")
    assert port.tls.version is TLS1_3 and port.tls.accepted_versions is None  # quick
    assert port.starttls is None and not result.findings


# --- the pytest plugin -------------------------------------------------------------------------

USER_TESTS = """
from mailtls import TLS1_2, TLS1_3


def test_submission_is_modern(mailtls_report):
    port = mailtls_report.port("submission")
    assert port.tls.version >= TLS1_2
    assert port.days_left > 14
    assert not port.findings


def test_pop3_has_tls(mailtls_report):
    assert mailtls_report.port("pop3").tls.version >= TLS1_2


def test_same_scan_is_reused(mailtls_report, mailtls_scan):
    assert mailtls_scan() is mailtls_report


def test_explicit_host(mailtls_scan):
    other = mailtls_scan("localhost")
    assert other.name == "localhost" and other.port("submission").tls.version >= TLS1_3
"""


def test_pytest_plugin_fixtures(pytester: pytest.Pytester, pki: TestPKI) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_deployment=USER_TESTS)
    with start_smtp(pki) as smtp, start_pop3(pki, starttls=False) as pop3:
        result = pytester.runpytest_subprocess(
            "--mailtls-host", HOST, "--mailtls-address", "127.0.0.1",
            "--mailtls-service", f"submission={smtp.port}",
            "--mailtls-service", f"pop3={pop3.port}",
            "--mailtls-ca-file", pki.ca_file(), "--mailtls-quick", "-p", "no:cacheprovider",
        )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "mailtls: scanning mail.example.test",
        "*test_pop3_has_tls*",
        "*assert TLSVersion.NONE >= TLSVersion.TLS1_2*",
    ])


def test_pytest_plugin_without_a_host(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile("def test_needs_host(mailtls_report):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no host to scan: pass --mailtls-host*"])
