"""SMTP state across STARTTLS (RFC 3207 §4.2): MAIL before, RCPT after must get 503."""

from __future__ import annotations

from typing import Any

import pytest

from mailtls.testing import TestPKI, start_smtp


@pytest.mark.parametrize("service", ["submission", "smtp"])
def test_transaction_that_survives_starttls(service: str, pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False, keep_state_across_tls=True) as server:
        run = secure(f"{service}={server.port}")
    probe = run.probe("state_reset")
    assert probe["verdict"] == "failed" and probe["detail"] == "kept"
    finding = run.finding("smtp.starttls.state_kept")
    assert finding["severity"] == "fail" and finding["requirement"] == "MUST"
    assert finding["evidence"][-1].startswith("250")
    # MAIL in plaintext, RCPT (to the server's own postmaster) inside TLS, after a new EHLO;
    # then RSET and QUIT, never DATA.
    lines = probe["transcript"]
    mail = next(t for t in lines if t["dir"] == "C" and t["text"].startswith("MAIL"))
    rcpt = next(t for t in lines if t["dir"] == "C" and t["text"].startswith("RCPT"))
    assert not mail["tls"] and rcpt["tls"] and rcpt["text"] == "RCPT TO:<postmaster>"
    sent = [t["text"] for t in lines if t["dir"] == "C"]
    assert sent[sent.index("RCPT TO:<postmaster>") - 1].startswith("EHLO")
    assert sent[-2:] == ["RSET", "QUIT"] and "DATA" not in sent


def test_transaction_reset_by_starttls(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False) as server:
        run = secure(f"submission={server.port}")
    probe = run.probe("state_reset")
    assert probe["verdict"] == "passed" and probe["detail"] == "reset"
    assert probe["evidence"][-1].startswith("503")
    assert "smtp.starttls.state_kept" not in run.ids


def test_no_transaction_before_tls_is_not_testable(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki) as server:  # MAIL needs AUTH first (the RFC 6409 default)
        run = secure(f"submission={server.port}")
    probe = run.probe("state_reset")
    assert probe["verdict"] == "not_testable" and probe["evidence"][0].startswith("530")
    assert "starttls.probe_inconclusive" not in run.ids and run.code == 0


def test_temporary_answer_is_inconclusive(pki: TestPKI, secure: Any) -> None:
    # A greylisting server that reset the state still says 503 (the sequence is checked
    # first); one that kept it says 450: neither 503 nor 250, so no verdict.
    with start_smtp(pki, auth_required=False, greylist=True) as server:
        assert secure(f"submission={server.port}").probe("state_reset")["verdict"] == "passed"
    with start_smtp(pki, auth_required=False, greylist=True,
                    keep_state_across_tls=True) as server:
        run = secure(f"submission={server.port}")
    probe = run.probe("state_reset")
    assert probe["verdict"] == "inconclusive" and probe["evidence"][-1].startswith("450")
    (finding,) = [f for f in run.findings("starttls.probe_inconclusive")
                  if "state_reset" in f["summary"]]
    assert finding["severity"] == "info"
