"""STARTTLS enforced on submission (RFC 3207 §4, RFC 6409 §4.3) and not required on the MX
(RFC 3207 §4: a publicly referenced server MUST NOT require it)."""

from __future__ import annotations

from typing import Any

import pytest

from mailtls.testing import TestPKI, start_smtp


def test_submission_accepting_mail_before_starttls(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False, open_relay=True) as server:
        run = secure(f"submission={server.port}")
    probe = run.probe("starttls_enforced")
    assert probe["verdict"] == "failed" and probe["detail"] == "mail_accepted"
    finding = run.finding("smtp.starttls.not_enforced")
    assert finding["severity"] == "warn"
    assert finding["evidence"][0] == "250 OK" and finding["evidence"][1].startswith("250")
    # The transaction was never continued: MAIL, one RCPT to an undeliverable address, RSET.
    sent = [t["text"] for t in probe["transcript"] if t["dir"] == "C"]
    assert sent[-4].startswith("MAIL FROM:<mailtls-probe@example.invalid>")
    assert sent[-3] == "RCPT TO:<mailtls-relay-probe@relay-target.invalid>"
    assert sent[-2:] == ["RSET", "QUIT"]
    assert not any(s.startswith("DATA") for s in sent)


def test_submission_accepting_mail_but_no_recipient_before_starttls(
    pki: TestPKI, secure: Any
) -> None:
    """Postfix with smtpd_tls_security_level=may: MAIL is accepted, every recipient refused
    (seen against real Postfix in tests/interop). Nothing can be submitted: not a finding."""
    with start_smtp(pki, auth_required=False) as server:
        run = secure(f"submission={server.port}")
    probe = run.probe("starttls_enforced")
    assert probe["verdict"] == "passed" and probe["detail"] == "recipient_refused"
    assert "smtp.starttls.not_enforced" not in run.ids


@pytest.mark.parametrize(
    ("options", "detail", "code"),
    [
        ({"require_starttls": True}, "tls_required", "530 5.7.0 Must issue a STARTTLS"),
        ({}, "auth_required", "530 5.7.0 Authentication required"),  # RFC 6409 MSA default
    ],
    ids=["starttls-required", "auth-required"],
)
def test_submission_refusing_mail_before_starttls(
    options: dict[str, Any], detail: str, code: str, pki: TestPKI, secure: Any
) -> None:
    with start_smtp(pki, **options) as server:
        run = secure(f"submission={server.port}")
    probe = run.probe("starttls_enforced")
    assert probe["verdict"] == "passed" and probe["detail"] == detail
    assert probe["evidence"][0].startswith(code)
    assert "smtp.starttls.not_enforced" not in run.ids and run.code == 0


def test_submission_without_starttls_is_not_testable(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, starttls=False, auth_required=False) as server:
        run = secure(f"submission={server.port}")
    assert run.probe("starttls_enforced")["verdict"] == "not_testable"
    assert "smtp.starttls.not_enforced" not in run.ids  # smtp.starttls.not_offered says it all
    assert "smtp.starttls.not_offered" in run.ids


def test_mx_requiring_starttls_is_information(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, require_starttls=True, auth_required=False) as server:
        run = secure(f"smtp={server.port}")
    probe = run.probe("starttls_not_required")
    assert probe["verdict"] == "failed" and probe["detail"] == "tls_required"
    finding = run.finding("smtp.starttls.required_on_mx")
    assert finding["severity"] == "info" and finding["requirement"] == "MUST NOT"
    assert finding["evidence"][0].startswith("530 ")
    assert run.code == 0  # information, not pass/fail
    assert "starttls_enforced" not in run.probes()  # that one is for submission only


def test_mx_accepting_mail_without_tls(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False) as server:
        run = secure(f"smtp={server.port}")
    probe = run.probe("starttls_not_required")
    assert probe["verdict"] == "passed" and probe["detail"] == "mail_accepted"
    assert "smtp.starttls.required_on_mx" not in run.ids
    assert "smtp.starttls.not_enforced" not in run.ids  # not judged on port 25
    assert run.code == 0, run.run.findings
