"""STARTTLS and implicit-TLS behaviour of real loopback servers, each verdict both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mailtls.testing import TestPKI, hostile, start_imap, start_pop3, start_smtp
from mailtls.testing.hostile import MailProtocol

STARTERS: dict[str, Callable[..., Any]] = {"smtp": start_smtp, "imap": start_imap,
                                           "pop3": start_pop3}
STARTTLS_SERVICE = {"smtp": "submission", "imap": "imap", "pop3": "pop3"}
IMPLICIT_SERVICE = {"smtp": "submissions", "imap": "imaps", "pop3": "pop3s"}
PROTOCOLS: list[MailProtocol] = ["smtp", "imap", "pop3"]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_well_configured_starttls_port_is_clean(
    proto: MailProtocol, pki: TestPKI, mailtls: Any
) -> None:
    with STARTERS[proto](pki) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    assert run.code == 0, run.findings
    assert run.findings == []
    (ep,) = run.endpoints
    assert ep["state"] == "open" and ep["greeting_ok"] is True
    assert ep["starttls_offered"] is True and ep["starttls_accepted"] is True
    assert ep["tls"]["version"] == "TLSv1.3"
    assert ep["tls"]["verification"]["trusted"] is True
    assert ep["tls"]["chain"][0]["dns_names"][0] == "mail.example.test"
    # Capabilities are read again under TLS, and differ: no STARTTLS there any more.
    assert ep["capabilities_after_tls"] is not None
    word = "STLS" if proto == "pop3" else "STARTTLS"
    assert any(c.split()[0] == word for c in ep["capabilities_before_tls"])
    assert not any(c.split()[0] == word for c in ep["capabilities_after_tls"])
    assert ep["connections"] == 1
    texts = [t["text"] for t in ep["transcript"]]
    assert any(word in t for t in texts if t)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_implicit_tls_port_is_clean(proto: MailProtocol, pki: TestPKI, mailtls: Any) -> None:
    with STARTERS[proto](pki, implicit_tls=True) as server:
        run = mailtls(f"{IMPLICIT_SERVICE[proto]}={server.port}")
    assert run.code == 0, run.findings
    (ep,) = run.endpoints
    assert ep["tls"]["version"] == "TLSv1.3" and ep["greeting_ok"] is True
    assert ep["transcript"][2]["tls"] is True  # the greeting came inside TLS


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_starttls_not_offered(proto: MailProtocol, pki: TestPKI, mailtls: Any) -> None:
    with STARTERS[proto](pki, starttls=False) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    finding = run.finding(f"{proto}.starttls.not_offered")
    assert finding["severity"] == "fail" and run.code == 2
    assert finding["evidence"], "the capability list is the evidence"
    assert run.endpoints[0]["tls"] is None


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_starttls_advertised_but_refused(proto: MailProtocol, pki: TestPKI, mailtls: Any) -> None:
    with STARTERS[proto](pki, starttls_refused=True) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    finding = run.finding(f"{proto}.starttls.refused")
    assert finding["evidence"] and run.code == 2
    assert f"{proto}.starttls.not_offered" not in run.ids


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_starttls_advertised_after_tls(proto: MailProtocol, pki: TestPKI, mailtls: Any) -> None:
    with STARTERS[proto](pki, starttls_advertised_after_tls=True) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    assert run.ids == {f"{proto}.starttls.advertised_after_tls"}
    assert run.code == 1  # a warning


@pytest.mark.parametrize(
    ("proto", "options", "needle"),
    [
        ("smtp", {"auth_before_tls": True}, "AUTH"),
        ("imap", {"logindisabled": False}, "LOGINDISABLED"),
        ("imap", {"auth_plain_before_tls": True}, "AUTH=PLAIN"),
        ("pop3", {"user_before_tls": True}, "USER"),
        ("pop3", {"sasl_plain_before_tls": True}, "SASL PLAIN"),
    ],
)
def test_login_offered_before_tls(
    proto: MailProtocol, options: dict[str, Any], needle: str, pki: TestPKI, mailtls: Any
) -> None:
    with STARTERS[proto](pki, **options) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    finding = run.finding(f"{proto}.auth.plaintext_offered")
    assert needle in finding["summary"]
    assert finding["severity"] == "warn" and run.code == 1


def test_submission_without_auth_under_tls(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, auth=False) as server:
        run = mailtls(f"submission={server.port}")
    assert run.ids == {"smtp.auth.not_offered"}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_plaintext_on_implicit_port(proto: MailProtocol, pki: TestPKI, mailtls: Any) -> None:
    with hostile.plaintext_on_tls_port(proto) as server:
        run = mailtls(f"{IMPLICIT_SERVICE[proto]}={server.port}")
    finding = run.finding("tls.plaintext_on_implicit_port")
    greeting = {"smtp": "220 ", "imap": "* OK", "pop3": "+OK"}[proto]
    assert finding["evidence"][0].startswith(greeting)
    assert "tls.handshake_failed" not in run.ids
    assert run.code == 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_starttls_port_that_starts_tls_at_once(
    proto: MailProtocol, pki: TestPKI, mailtls: Any
) -> None:
    with hostile.tls_on_plaintext_port(pki, proto) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    assert "tls.implicit_on_starttls_port" in run.ids
    assert "session.no_greeting" not in run.ids
    assert run.endpoints[0]["tls_on_starttls_port"] is True


@pytest.mark.parametrize(
    "make", [hostile.close_after_go_ahead, hostile.silent_after_starttls,
             hostile.reset_mid_handshake],
    ids=["close-after-go-ahead", "silent-after-starttls", "reset-mid-handshake"],
)
@pytest.mark.parametrize("proto", PROTOCOLS)
def test_starttls_accepted_but_handshake_fails(
    make: Callable[..., Any], proto: MailProtocol, mailtls: Any
) -> None:
    with make(proto) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    finding = run.finding("tls.handshake_failed")
    assert "handshake failed" in finding["summary"] or "did not finish" in finding["summary"]
    assert run.code == 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_plaintext_after_go_ahead_is_reported_and_never_used(
    proto: MailProtocol, pki: TestPKI, mailtls: Any
) -> None:
    with hostile.extra_data_after_go_ahead(pki, proto) as server:
        run = mailtls(f"{STARTTLS_SERVICE[proto]}={server.port}")
    finding = run.finding("starttls.data_after_go_ahead")
    assert "injected" in " ".join(finding["evidence"]).lower()
    ep = run.endpoints[0]
    assert ep["tls"] is not None  # the session went on, with the bytes dropped
    assert "injected" not in " ".join(ep["capabilities_after_tls"] or []).lower()


def test_imap_preauth_on_plaintext_port(pki: TestPKI, mailtls: Any) -> None:
    with start_imap(pki, preauth=True) as server:
        run = mailtls(f"imap={server.port}")
    assert "imap.preauth" in run.ids
    assert "imap.starttls.not_offered" not in run.ids


def test_no_implicit_tls_alternative(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki) as submission, hostile.plaintext_on_tls_port("smtp") as plain:
        run = mailtls(f"submission={submission.port}", f"submissions={plain.port}")
        finding = run.finding("service.no_implicit_tls")
        assert finding["service"] == "submissions"
        with start_smtp(pki, implicit_tls=True) as submissions:
            ok = mailtls(f"submission={submission.port}", f"submissions={submissions.port}")
    assert "service.no_implicit_tls" not in ok.ids and ok.code == 0


def test_pop3_without_capa_still_gets_stls_tried(pki: TestPKI, mailtls: Any) -> None:
    with start_pop3(pki, capa=False) as server:
        run = mailtls(f"pop3={server.port}")
    ep = run.endpoints[0]
    assert ep["capabilities_before_tls"] is None
    assert ep["starttls_offered"] is True and ep["tls"]["version"] == "TLSv1.3"
    assert "pop3.starttls.not_offered" not in run.ids
    with start_pop3(pki, capa=False, starttls=False) as server:
        run = mailtls(f"pop3={server.port}")
    assert "pop3.starttls.not_offered" in run.ids


def test_ipv6_loopback(pki: TestPKI, mailtls: Any) -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with start_smtp(pki, host="::1") as server:
        run = mailtls(f"submission={server.port}", extra=("--address", "::1"))
    (ep,) = [e for e in run.endpoints if e["address"] == "::1"]
    assert ep["endpoint"] == f"[::1]:{server.port}"
    assert ep["tls"]["version"] == "TLSv1.3"
