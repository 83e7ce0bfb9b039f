"""TestPKI: every certificate kind gives the OpenSSL verdict it promises."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailtls.testing import (
    CERT_KINDS,
    WRONG_NAME,
    CertKind,
    RunningServer,
    TestPKI,
    start_imap,
    start_pop3,
    start_smtp,
)
from tests.testing.testing_clients import LineClient, client_ctx

# None = trusted; else the X509 verify code a verifying client must get
EXPECTED_CODE: dict[CertKind, int | None] = {
    "good": None,
    "expiring_soon": None,
    "with_intermediate": None,
    "rsa": None,
    "expired": 10,
    "not_yet_valid": 9,
    "wrong_name": 62,
    "self_signed": 18,
    "missing_intermediate": 20,
}


def chain(pki: TestPKI, kind: CertKind) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pki.leaf_chain_pem(kind))


def test_expected_codes_cover_every_kind() -> None:
    assert set(EXPECTED_CODE) == set(CERT_KINDS)


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3"])
@pytest.mark.parametrize("kind", CERT_KINDS)
async def test_verify_code(pki: TestPKI, kind: CertKind, protocol: str) -> None:
    expected = EXPECTED_CODE[kind]
    starters: dict[str, Callable[..., RunningServer]] = {
        "smtp": start_smtp,
        "imap": start_imap,
        "pop3": start_pop3,
    }
    start = starters[protocol]
    with start(pki, implicit_tls=True, cert=kind) as server:
        if expected is None:
            async with await LineClient.open(server, tls=pki.client_context()) as c:
                assert (await c.line()).startswith(("220 ", "* OK ", "+OK "))
        else:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await LineClient.open(server, tls=pki.client_context())
            assert info.value.verify_code == expected


async def test_wrong_name_is_fine_without_hostname_check(pki: TestPKI) -> None:
    with start_pop3(pki, implicit_tls=True, cert="wrong_name") as server:
        ctx = pki.client_context(check_hostname=False)
        async with await LineClient.open(server, tls=ctx) as c:
            assert (await c.line()).startswith("+OK ")


async def test_every_default_name_verifies(pki: TestPKI) -> None:
    with start_pop3(pki, implicit_tls=True) as server:
        for name in pki.names:
            async with await LineClient.open(server, tls=pki.client_context(), sni=name) as c:
                assert (await c.line()).startswith("+OK ")


def test_leaf_properties(pki: TestPKI) -> None:
    now = dt.datetime.now(dt.UTC)
    good = chain(pki, "good")
    assert len(good) == 1
    assert isinstance(good[0].public_key(), ec.EllipticCurvePublicKey)
    sans = good[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mail.example.test" in sans.get_values_for_type(x509.DNSName)

    soon = chain(pki, "expiring_soon")[0]
    assert dt.timedelta(days=4) < soon.not_valid_after_utc - now <= dt.timedelta(days=5)
    assert chain(pki, "expired")[0].not_valid_after_utc < now
    assert chain(pki, "not_yet_valid")[0].not_valid_before_utc > now

    wrong = chain(pki, "wrong_name")[0]
    wrong_sans = wrong.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert wrong_sans.get_values_for_type(x509.DNSName) == [WRONG_NAME]

    self_signed = chain(pki, "self_signed")[0]
    assert self_signed.issuer == self_signed.subject

    full, short = chain(pki, "with_intermediate"), chain(pki, "missing_intermediate")
    assert len(full) == 2 and len(short) == 1
    assert full[0] == short[0]  # the same leaf, sent without its issuer
    assert full[0].issuer == full[1].subject

    key = chain(pki, "rsa")[0].public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


def test_contexts_are_cached(pki: TestPKI) -> None:
    assert pki.server_context("good") is pki.server_context("good")
    assert pki.server_context("good") is not pki.server_context("rsa")
    assert pki.server_context("good", maximum_version=ssl.TLSVersion.TLSv1_2) is not (
        pki.server_context("good")
    )
    with pytest.raises(ValueError):
        pki.server_context("bogus")  # type: ignore[arg-type]


def test_ca_file_lifecycle() -> None:
    pki = TestPKI(names=("only.example.test",))
    with pki:
        path = pki.ca_file()
        assert path == pki.ca_file()
        with open(path, "rb") as f:
            assert f.read() == pki.ca_pem
        ssl.create_default_context(cafile=path)  # loads
    assert not os.path.exists(path)
    pki.close()  # idempotent


async def test_legacy_tls_versions(pki: TestPKI) -> None:
    legacy = client_ctx(verify=False)
    legacy.minimum_version = ssl.TLSVersion.TLSv1
    legacy.set_ciphers("ALL:@SECLEVEL=0")
    with start_pop3(pki, implicit_tls=True, maximum_version=ssl.TLSVersion.TLSv1) as server:
        async with await LineClient.open(server, tls=legacy) as c:
            assert c.tls_version() == "TLSv1"
            assert (await c.line()).startswith("+OK ")
        # a modern client is refused with a real TLS alert, not a bare reset
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
            await LineClient.open(server, tls=pki.client_context())


async def test_minimum_version_enforced(pki: TestPKI) -> None:
    old_client = client_ctx(verify=False)
    old_client.maximum_version = ssl.TLSVersion.TLSv1_2
    with start_pop3(pki, implicit_tls=True, minimum_version=ssl.TLSVersion.TLSv1_3) as server:
        with pytest.raises(ssl.SSLError):
            await LineClient.open(server, tls=old_client)
        async with await LineClient.open(server, tls=pki.client_context()) as c:
            assert c.tls_version() == "TLSv1.3"
