"""Certificate and TLS-version verdicts against real loopback TLS servers, both ways."""

from __future__ import annotations

import re
import ssl
from typing import Any

import pytest

from mailtls.testing import TestPKI, start_imap, start_smtp


@pytest.mark.parametrize(
    ("kind", "expected", "code"),
    [
        ("good", set(), 0),
        ("with_intermediate", set(), 0),
        ("expired", {"cert.expired"}, 2),
        ("not_yet_valid", {"cert.not_yet_valid"}, 2),
        ("expiring_soon", {"cert.expiring_soon"}, 1),
        ("wrong_name", {"cert.name_mismatch"}, 2),
        ("self_signed", {"cert.untrusted", "cert.self_signed"}, 2),
        ("missing_intermediate", {"cert.untrusted", "cert.chain.incomplete"}, 2),
    ],
)
def test_certificate_verdicts(
    kind: str, expected: set[str], code: int, pki: TestPKI, mailtls: Any
) -> None:
    with start_smtp(pki, implicit_tls=True, cert=kind) as server:  # type: ignore[arg-type]
        run = mailtls(f"submissions={server.port}")
    assert run.ids == expected
    assert run.code == code
    ep = run.endpoints[0]
    assert ep["tls"]["chain"], "the certificate is reported even when it is not trusted"
    trusted = ep["tls"]["verification"]["trusted"]
    assert trusted is (kind not in ("expired", "not_yet_valid", "self_signed",
                                    "missing_intermediate"))


def test_untrusted_chain_costs_a_second_connection_only_when_needed(
    pki: TestPKI, mailtls: Any
) -> None:
    with start_imap(pki, cert="missing_intermediate") as bad, start_imap(pki) as good:
        run = mailtls(f"imap={bad.port}", f"imap={good.port}")
    by_port = {e["port"]: e for e in run.endpoints}
    assert by_port[bad.port]["connections"] == 2
    assert by_port[good.port]["connections"] == 1
    untrusted = run.finding("cert.untrusted")
    assert "verify error 20" in untrusted["evidence"][0]
    assert "the chain sent is incomplete: cert.chain.incomplete" in untrusted["summary"]
    assert by_port[bad.port]["tls"]["verification"]["code"] == 20


def test_missing_intermediate_is_named_by_subject_and_key_id(pki: TestPKI, mailtls: Any) -> None:
    """testssl.sh says "chain incomplete"; we say which issuer is missing, and how to find it."""
    with start_imap(pki, cert="missing_intermediate") as bad, \
            start_imap(pki, cert="with_intermediate") as complete:
        run = mailtls(f"imap={bad.port}", f"imap={complete.port}")
    (incomplete,) = [f for f in run.findings if f["id"] == "cert.chain.incomplete"]
    assert incomplete["endpoint"].endswith(f":{bad.port}")
    leaf = next(e for e in run.endpoints if e["port"] == bad.port)["tls"]["chain"][0]
    assert leaf["authority_key_id"] and re.fullmatch(r"([0-9a-f]{2}:)+[0-9a-f]{2}",
                                                     leaf["authority_key_id"])
    assert (f"the leaf's issuer {leaf['issuer']} (authority key id {leaf['authority_key_id']})"
            in incomplete["summary"])
    assert f"missing issuer: {leaf['issuer']}" in incomplete["evidence"]
    assert incomplete["reference"] == "RFC 8446 §4.4.2; RFC 5246 §7.4.2"
    assert incomplete["severity"] == "fail"
    sent = next(e for e in run.endpoints if e["port"] == complete.port)["tls"]["chain"]
    assert sent[1]["subject_key_id"] == leaf["authority_key_id"]  # the one that was missing


def test_system_trust_store_does_not_know_the_test_ca(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki) as server:
        run = mailtls(f"submission={server.port}", trust=False)
    # the leaf's issuer is neither sent nor in the system store
    assert run.ids == {"cert.untrusted", "cert.chain.incomplete"}
    assert run.endpoints[0]["tls"]["verification"]["trust_store"] == "system"


def test_mx_certificate_problems_are_warnings(pki: TestPKI, mailtls: Any) -> None:
    """Opportunistic senders do not authenticate an MX (RFC 7672 §1.3): warn, don't fail."""
    with start_smtp(pki, cert="wrong_name") as server:
        run = mailtls(f"smtp={server.port}")
    assert run.finding("cert.name_mismatch")["severity"] == "warn"
    with start_smtp(pki, cert="wrong_name") as server:
        run = mailtls(f"submission={server.port}")
    assert run.finding("cert.name_mismatch")["severity"] == "fail"


def test_name_checked_against_the_name_the_user_gave(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, implicit_tls=True) as server:
        ok = mailtls(f"submissions={server.port}", host="localhost")
        wrong = mailtls(f"submissions={server.port}", host="other.example.test")
        by_ip = mailtls(f"submissions={server.port}", host="127.0.0.1")
    assert ok.code == 0
    assert "other.example.test" in wrong.finding("cert.name_mismatch")["summary"]
    assert by_ip.code == 0  # the test leaf carries IP:127.0.0.1


@pytest.mark.parametrize(
    ("maximum", "legacy"),
    [(ssl.TLSVersion.TLSv1, True), (ssl.TLSVersion.TLSv1_1, True),
     (ssl.TLSVersion.TLSv1_2, False)],
)
def test_tls_below_1_2(maximum: ssl.TLSVersion, legacy: bool, pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, implicit_tls=True, minimum_version=ssl.TLSVersion.TLSv1,
                    maximum_version=maximum) as server:
        run = mailtls(f"submissions={server.port}")
    assert ("tls.version.legacy" in run.ids) is legacy
    if not legacy:
        assert run.ids == {"tls.version.no_tls13"}
        assert run.code == 0  # information only
    else:
        assert run.code == 2
