"""The case catalogue, the pure verdicts and the credential record of ``mailtls serve``."""

from __future__ import annotations

import base64
import re

import pytest

from mailtls.serve.cases import CASES, CASES_BY_ID, PROTOCOLS, select_cases
from mailtls.serve.imap import next_tag
from mailtls.serve.record import ConnectionRecord, Secrets
from mailtls.serve.verdicts import judge

REQUIRED = {
    "control.starttls", "control.implicit", "starttls.stripped", "starttls.refused",
    "starttls.closed", "starttls.injection", "cert.untrusted", "cert.expired",
    "cert.wrong_name", "tls.tls10_only", "implicit.plaintext", "auth.before_tls_only",
}


def test_every_protocol_has_the_required_cases_with_stable_unique_ids() -> None:
    assert len(CASES_BY_ID) == len(CASES)
    for p in PROTOCOLS:
        names = {c.id.split(".", 1)[1] for c in CASES if c.protocol == p}
        assert names >= REQUIRED, p
    assert {"imap.preauth.plaintext", "imap.alert.before_tls"} <= set(CASES_BY_ID)
    for case in CASES:
        assert re.fullmatch(r"(smtp|imap|pop3)\.[a-z0-9_.]+", case.id)
        assert case.reference.startswith(("RFC", "CVE"))


def test_select_cases_by_glob_and_suffix() -> None:
    assert [c.id for c in select_cases(("imap",), ("imap.cert.*",))] == [
        "imap.cert.untrusted", "imap.cert.expired", "imap.cert.wrong_name"]
    assert [c.id for c in select_cases(("smtp", "pop3"), ("control.implicit",))] == [
        "smtp.control.implicit", "pop3.control.implicit"]
    with pytest.raises(ValueError, match="no case matches"):
        select_cases(("smtp",), ("imap.preauth.plaintext",))


def _secrets() -> Secrets:
    return Secrets("u", "pw-123", b"salt" * 4)


def _conn() -> ConnectionRecord:
    return ConnectionRecord(index=1, peer="127.0.0.1:1", started=0.0)


def test_verdicts_of_a_downgrade() -> None:
    case = CASES_BY_ID["smtp.starttls.stripped"]
    assert judge(case, []).verdict == "inconclusive"
    quiet = _conn()
    quiet.command("EHLO", tls=False)
    assert judge(case, [quiet]).verdict == "safe"
    leak = _conn()
    leak.credentials.append(_secrets().seen("AUTH PLAIN", "pw-123", tls=False))
    j = judge(case, [quiet, leak])
    assert j.verdict == "vulnerable"
    assert "credentials_plaintext" in j.behaviours
    mail = _conn()
    mail.message_started_plaintext = True
    assert judge(case, [mail]).verdict == "vulnerable"


def test_verdicts_of_control_certificate_injection_alert() -> None:
    control = CASES_BY_ID["imap.control.starttls"]
    done = _conn()
    done.credentials.append(_secrets().seen("LOGIN", "pw-123", tls=True))
    assert judge(control, [done]).verdict == "inconclusive"  # did not finish
    done.completed = True
    assert judge(control, [done]).verdict == "safe"

    cert = CASES_BY_ID["pop3.cert.expired"]
    c = _conn()
    c.starttls_requested = c.tls_attempted = True
    c.tls_error = "[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED]"
    assert judge(cert, [c]).verdict == "safe"
    c.tls_error, c.tls_version = None, "TLSv1.3"
    c.command("CAPA", tls=True)
    assert judge(cert, [c]).verdict == "vulnerable"

    inj = CASES_BY_ID["smtp.starttls.injection"]
    c = _conn()
    c.starttls_requested = True
    c.injection_acted = True
    assert judge(inj, [c]).verdict == "vulnerable"
    c.injection_acted = False
    assert judge(inj, [c]).verdict == "safe"

    alert = CASES_BY_ID["imap.alert.before_tls"]
    assert judge(alert, [_conn()], alert_shown=None).verdict == "inconclusive"
    assert judge(alert, [_conn()], alert_shown=True).verdict == "vulnerable"
    assert judge(alert, [_conn()], alert_shown=False).verdict == "safe"

    preauth = CASES_BY_ID["imap.preauth.plaintext"]
    c = _conn()
    c.command("CAPABILITY", tls=False)
    assert judge(preauth, [c]).verdict == "safe"
    c.command("SELECT", tls=False)
    assert judge(preauth, [c]).verdict == "vulnerable"


def test_credentials_are_hashed_with_the_salt_and_scrubbed() -> None:
    s = _secrets()
    seen = s.seen("LOGIN", "pw-123", tls=False)
    assert seen.matches and len(seen.hash_prefix) == 12
    assert "pw-123" not in repr(seen)
    other = Secrets("u", "pw-123", b"pepper" * 3).seen("LOGIN", "pw-123", tls=False)
    assert other.hash_prefix != seen.hash_prefix  # per-run salt
    assert not s.seen("LOGIN", "guess", tls=True).matches
    plain = base64.b64encode(b"\0u\0pw-123").decode()
    assert s.scrub(f"x pw-123 {plain} y") == "x *** *** y"


@pytest.mark.parametrize(("tag", "nxt"), [("A001", "A002"), ("7", "8"), ("a099", "a100"),
                                          ("x", "x1")])
def test_next_imap_tag(tag: str, nxt: str) -> None:
    assert next_tag(tag) == nxt
