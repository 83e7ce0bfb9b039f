"""Cipher suites, DH groups, renegotiation and suite order found by the deep scan, each verdict
both ways. OpenSSL 3 still serves NULL and anonymous suites (at security level 0); RC4 and 3DES
come from tlslite-ng; EXPORT and single DES from a server that answers those hellos itself."""

from __future__ import annotations

from typing import Any

from tests.tlsscan.tlsscan_servers import (
    TLSLiteServer,
    extra_suites_server,
    openssl_server,
    server_context,
)

GOOD = "ECDHE+AESGCM:ECDHE+CHACHA20"  # forward secrecy and AEAD only


def test_null_and_anonymous_suites(deep: Any) -> None:
    weak = server_context(ciphers=f"eNULL:aNULL:{GOOD}")
    with openssl_server(weak, implicit=True) as bad, openssl_server(
        server_context(ciphers=GOOD), implicit=True
    ) as good:
        run = deep(f"submissions={bad.port}", f"submissions={good.port}")

    broken = run.finding(bad.port, "tls.cipher.broken")
    assert broken["severity"] == "fail"
    assert "NULL" in broken["summary"] and "anonymous" in broken["summary"]
    tls12 = run.scan(bad.port)["suites"]["TLS 1.2"]
    assert "TLS_RSA_WITH_NULL_SHA256" in tls12
    assert any("_anon_" in s for s in tls12)
    assert "TLS_RSA_WITH_NULL_SHA256" in " ".join(broken["evidence"])

    assert not run.ids(good.port) & {
        "tls.cipher.broken", "tls.cipher.sweet32", "tls.cipher.no_forward_secrecy",
        "tls.cipher.forward_secrecy_missing", "tls.cipher_order.client", "tls.scan.incomplete",
    }
    assert set(run.scan(good.port)["suites"]["TLS 1.2"]) == {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    }


def test_export_and_single_des_over_smtp_starttls(deep: Any) -> None:
    export = [0x0003, 0x0008, 0x0009]  # EXP-RC4-MD5, EXP-DES-CBC-SHA, DES-CBC-SHA
    with extra_suites_server(server_context(), export) as bad, extra_suites_server(
        server_context(), []
    ) as control:
        run = deep(f"submission={bad.port}", f"submission={control.port}")

    tls12 = run.scan(bad.port)["suites"]["TLS 1.2"]
    assert tls12[:3] == [
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
        "TLS_RSA_WITH_DES_CBC_SHA",
    ]
    broken = run.finding(bad.port, "tls.cipher.broken")
    for kind in ("EXPORT", "DES", "RC4"):
        assert kind in broken["summary"]
    # the same server without the extra suites
    assert "tls.cipher.broken" not in run.ids(control.port)
    assert run.scan(control.port)["versions"]["TLS 1.0"] is False


def test_rc4_and_3des_through_tlslite_starttls(deep: Any) -> None:
    with TLSLiteServer(
        versions=((3, 1), (3, 3)), cipher_names=["aes128", "3des", "rc4"], implicit=False
    ) as bad, TLSLiteServer(
        versions=((3, 1), (3, 3)), cipher_names=["aes128"], implicit=False
    ) as plain_rsa, openssl_server(server_context(ciphers=GOOD)) as good:
        run = deep(
            f"submission={bad.port}", f"submission={plain_rsa.port}", f"submission={good.port}"
        )

    suites = run.scan(bad.port)["suites"]["TLS 1.2"]
    assert {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA"} <= set(suites)
    assert "RC4" in run.finding(bad.port, "tls.cipher.broken")["summary"]
    sweet32 = run.finding(bad.port, "tls.cipher.sweet32")
    assert sweet32["severity"] == "warn"
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in " ".join(sweet32["evidence"])

    # static RSA only: no forward secrecy at all, but nothing broken
    assert not run.ids(plain_rsa.port) & {"tls.cipher.broken", "tls.cipher.sweet32"}
    assert run.finding(plain_rsa.port, "tls.cipher.forward_secrecy_missing")["severity"] == "fail"
    assert run.finding(plain_rsa.port, "tls.cipher.no_forward_secrecy")["severity"] == "warn"

    assert not run.ids(good.port) & {
        "tls.cipher.broken", "tls.cipher.sweet32", "tls.cipher.no_forward_secrecy",
        "tls.cipher.forward_secrecy_missing",
    }


def test_dh_group_size_over_pop3_stls(deep: Any) -> None:
    dhe = "DHE-RSA-AES128-GCM-SHA256:" + GOOD
    with openssl_server(server_context(ciphers=dhe, dh_bits=1024), "pop3") as weak, (
        openssl_server(server_context(ciphers=dhe, dh_bits=2048), "pop3")
    ) as strong:
        run = deep(f"pop3={weak.port}", f"pop3={strong.port}")

    assert run.scan(weak.port)["dh_bits"] == 1024
    found = run.finding(weak.port, "tls.dh.weak")
    assert found["severity"] == "fail" and "1024-bit" in found["summary"]
    assert run.scan(strong.port)["dh_bits"] == 2048
    assert "tls.dh.weak" not in run.ids(strong.port)
    for port in (weak.port, strong.port):
        assert "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" in run.scan(port)["suites"]["TLS 1.2"]


def test_server_order_versus_client_order(deep: Any) -> None:
    """Static-RSA suites next to good ones: harmless while the server picks, a finding when the
    client does."""
    mixed = f"{GOOD}:AES128-SHA:AES256-SHA"
    client_ctx = server_context(ciphers=mixed, client_order=True)
    with openssl_server(client_ctx, implicit=True) as client, (
        openssl_server(server_context(ciphers=mixed), implicit=True)
    ) as server:
        run = deep(f"submissions={client.port}", f"submissions={server.port}")

    assert run.scan(client.port)["server_order"]["TLS 1.2"] is False
    assert run.scan(client.port)["server_order"]["TLS 1.3"] is False
    assert run.finding(client.port, "tls.cipher_order.client")["severity"] == "info"

    assert run.scan(server.port)["server_order"]["TLS 1.2"] is True
    assert "tls.cipher_order.client" not in run.ids(server.port)
    # in server order the list is the server's preference: ECDHE first, static RSA last
    suites = run.scan(server.port)["suites"]["TLS 1.2"]
    assert suites[0].startswith("TLS_ECDHE_") and suites[-1].startswith("TLS_RSA_")
    assert set(suites) == set(run.scan(client.port)["suites"]["TLS 1.2"])


def test_secure_renegotiation(deep: Any) -> None:
    suites = [0xC02F, 0x009C]  # answered by the server itself below TLS 1.3
    with extra_suites_server(
        server_context(), suites, implicit=True, legacy_only_extra=True,
        secure_renegotiation=False,
    ) as insecure, extra_suites_server(
        server_context(), suites, implicit=True, legacy_only_extra=True
    ) as secure:
        run = deep(f"submissions={insecure.port}", f"submissions={secure.port}")

    for port in (insecure.port, secure.port):
        assert run.scan(port)["suites"]["TLS 1.2"] == [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256",
        ]
    assert run.scan(insecure.port)["secure_renegotiation"] is False
    assert run.finding(insecure.port, "tls.renegotiation.insecure")["severity"] == "fail"
    assert run.scan(secure.port)["secure_renegotiation"] is True
    assert "tls.renegotiation.insecure" not in run.ids(secure.port)
