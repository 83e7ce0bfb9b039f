"""Protocol versions found by the deep scan (mailtls check without --quick), each verdict both
ways: a server that shows the defect next to one that does not, in the same scan."""

from __future__ import annotations

import ssl
from typing import Any

from tests.tlsscan.tlsscan_servers import TLSLiteServer, openssl_server, server_context

ALL_OFF = {"SSLv2": False, "SSLv3": False, "TLS 1.0": False, "TLS 1.1": False}


def test_tls10_11_only_over_imap_starttls(deep: Any) -> None:
    legacy_ctx = server_context(maximum=ssl.TLSVersion.TLSv1_1)
    with openssl_server(legacy_ctx, "imap") as legacy, openssl_server(
        server_context(), "imap"
    ) as modern:
        run = deep(f"imap={legacy.port}", f"imap={modern.port}")

    assert run.scan(legacy.port)["versions"] == {
        **ALL_OFF, "TLS 1.0": True, "TLS 1.1": True, "TLS 1.2": False, "TLS 1.3": False,
    }
    assert {"tls.version.legacy_accepted", "tls.version.no_tls12", "tls.version.no_tls13"} <= (
        run.ids(legacy.port)
    )
    assert run.finding(legacy.port, "tls.version.no_tls12")["severity"] == "fail"
    assert "TLS 1.0 and TLS 1.1" in run.finding(legacy.port, "tls.version.legacy_accepted")[
        "summary"
    ]

    assert run.scan(modern.port)["versions"] == {**ALL_OFF, "TLS 1.2": True, "TLS 1.3": True}
    assert not run.ids(modern.port) & {
        "tls.version.legacy_accepted", "tls.version.no_tls12", "tls.version.no_tls13",
        "tls.version.ssl_accepted", "tls.scan.incomplete",
    }
    assert run.code == 2


def test_sslv3_through_tlslite(deep: Any) -> None:
    """tlslite-ng still speaks SSLv3; the same server without it is the control."""
    with TLSLiteServer(
        versions=((3, 0), (3, 3)), cipher_names=["aes128"], implicit=True
    ) as ssl3, TLSLiteServer(
        versions=((3, 1), (3, 3)), cipher_names=["aes128"], implicit=True
    ) as tls1:
        run = deep(f"submissions={ssl3.port}", f"submissions={tls1.port}")

    assert run.scan(ssl3.port)["versions"]["SSLv3"] is True
    assert run.scan(ssl3.port)["suites"]["SSLv3"] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    found = run.finding(ssl3.port, "tls.version.ssl_accepted")
    assert found["severity"] == "fail" and "SSLv3" in found["summary"]

    assert run.scan(tls1.port)["versions"]["SSLv3"] is False
    assert "tls.version.ssl_accepted" not in run.ids(tls1.port)
    # both are TLS 1.0-1.2 servers without TLS 1.3
    for port in (ssl3.port, tls1.port):
        assert {"tls.version.legacy_accepted", "tls.version.no_tls13"} <= run.ids(port)
        assert "tls.version.no_tls12" not in run.ids(port)


def test_tls13_only_and_tls12_only(deep: Any) -> None:
    only13 = server_context(minimum=ssl.TLSVersion.TLSv1_3)
    only12 = server_context(maximum=ssl.TLSVersion.TLSv1_2)
    with openssl_server(only13, implicit=True) as s13, openssl_server(
        only12, implicit=True
    ) as s12, openssl_server(server_context(), implicit=True) as both:
        run = deep(f"submissions={s13.port}", f"submissions={s12.port}", f"submissions={both.port}")

    assert run.scan(s13.port)["versions"] == {**ALL_OFF, "TLS 1.2": False, "TLS 1.3": True}
    # TLS 1.3 alone is modern but shuts out TLS-1.2-only peers: a warning, not a failure
    assert run.finding(s13.port, "tls.version.no_tls12")["severity"] == "warn"
    assert "tls.version.no_tls13" not in run.ids(s13.port)
    assert run.scan(s13.port)["suites"]["TLS 1.2"] == []

    assert run.scan(s12.port)["versions"] == {**ALL_OFF, "TLS 1.2": True, "TLS 1.3": False}
    assert run.finding(s12.port, "tls.version.no_tls13")["severity"] == "info"
    assert "tls.version.no_tls12" not in run.ids(s12.port)

    assert not run.ids(both.port) & {"tls.version.no_tls12", "tls.version.no_tls13"}
    assert run.scan(both.port)["groups"][:1] == ["x25519"]
