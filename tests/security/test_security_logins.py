"""Logins before TLS: made-up credentials, refused (passed) or processed (failed); not tried
when the server does not advertise them (passed, detail "not_advertised")."""

from __future__ import annotations

from typing import Any

import pytest

from mailtls.probes.security import DUMMY_PREFIX
from mailtls.testing import PASSWORD, USERNAME, TestPKI, start_imap, start_pop3, start_smtp
from tests.security.security_helpers import SERVICE, STARTERS


@pytest.mark.parametrize(
    ("proto", "options", "probe_name", "detail", "answer"),
    [
        ("imap", {"logindisabled": False}, "plaintext_login", "credentials_checked",
         "NO [AUTHENTICATIONFAILED]"),
        ("pop3", {"user_before_tls": True}, "plaintext_login", "user_accepted", "+OK"),
        ("smtp", {"auth_before_tls": True}, "plaintext_auth", "continued", "334"),
        ("imap", {"auth_plain_before_tls": True}, "plaintext_auth", "continued", "+"),
        ("pop3", {"sasl_plain_before_tls": True}, "plaintext_auth", "continued", "+"),
    ],
    ids=["imap-login", "pop3-user", "smtp-auth", "imap-authenticate", "pop3-auth"],
)
def test_login_processed_before_tls(
    proto: str, options: dict[str, Any], probe_name: str, detail: str, answer: str,
    pki: TestPKI, secure: Any,
) -> None:
    with STARTERS[proto](pki, **options) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
        received = list(server.plaintext_credentials)
    probe = run.probe(probe_name)
    assert probe["verdict"] == "failed" and probe["detail"] == detail
    finding = run.finding(f"{proto}.auth.plaintext_accepted")
    assert finding["severity"] == "fail" and run.code == 2
    assert any(line.startswith(answer) or f" {answer}" in line for line in finding["evidence"])
    # The advertisement alone is the existing warning; the probe adds the fact.
    assert f"{proto}.auth.plaintext_offered" in run.ids
    # Only made-up credentials, or the "*" that cancels a SASL exchange, ever reached the server.
    assert received
    assert all(DUMMY_PREFIX in c or c == "*" for c in received), received
    assert not any(PASSWORD in c or f" {USERNAME} " in f" {c} " for c in received)


def test_sasl_is_cancelled_without_any_payload(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_before_tls=True) as server:
        run = secure(f"submission={server.port}")
        received = list(server.plaintext_credentials)
    assert received == ["*"]
    sent = [t["text"] for t in run.probe("plaintext_auth")["transcript"] if t["dir"] == "C"]
    assert sent[sent.index("AUTH PLAIN") + 1] == "*"


@pytest.mark.parametrize(
    ("start", "service", "options", "probe_name", "answer"),
    [
        (start_imap, "imap", {"hide_logindisabled": True}, "plaintext_login",
         "NO [PRIVACYREQUIRED]"),
        (start_pop3, "pop3", {"capa": False}, "plaintext_login", "-ERR"),
        (start_smtp, "submission", {"auth_advertised_before_tls": True}, "plaintext_auth",
         "538 "),
    ],
    ids=["imap-login-refused-unadvertised", "pop3-user-without-capa", "smtp-auth-538"],
)
def test_login_refused_before_tls(
    start: Any, service: str, options: dict[str, Any], probe_name: str, answer: str,
    pki: TestPKI, secure: Any,
) -> None:
    with start(pki, **options) as server:
        run = secure(f"{service}={server.port}")
    probe = run.probe(probe_name)
    assert probe["verdict"] == "passed" and probe["detail"] == "refused"
    assert probe["evidence"][0].startswith(answer) or f" {answer}" in probe["evidence"][0]
    assert not {i for i in run.ids if i.endswith(".auth.plaintext_accepted")}


@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_login_not_advertised_is_not_tried(proto: str, pki: TestPKI, secure: Any) -> None:
    with STARTERS[proto](pki) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
        received = list(server.plaintext_credentials)
    names = ["plaintext_auth"] + ([] if proto == "smtp" else ["plaintext_login"])
    for name in names:
        probe = run.probe(name)
        assert probe["verdict"] == "passed" and probe["detail"] == "not_advertised", probe
        assert probe["connections"] == 0 and probe["transcript"] == []
        assert probe["evidence"], "the capability list the decision was made on"
    assert received == []
    assert run.code == 0


def test_mx_auth_probe_only_when_advertised(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False, auth_before_tls=True) as server:
        run = secure(f"smtp={server.port}")
    assert run.probe("plaintext_auth")["verdict"] == "failed"
    assert "smtp.auth.plaintext_accepted" in run.ids
