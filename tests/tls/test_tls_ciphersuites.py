"""The cipher-suite table: integrity, agreement with local OpenSSL and tlslite-ng, properties."""

from __future__ import annotations

import re
import ssl

import pytest

from mailtls.tls import suites as cs
from tests.tls.tls_helpers import import_tlslite

OPENSSL_KX = {
    "kx-rsa": "RSA",
    "kx-dhe": "DHE",
    "kx-ecdhe": "ECDHE",
    "kx-psk": "PSK",
    "kx-dhe-psk": "DHE_PSK",
    "kx-rsa-psk": "RSA_PSK",
    "kx-ecdhe-psk": "ECDHE_PSK",
    "kx-srp": "SRP",
    "kx-any": "any",
}
OPENSSL_AUTH = {
    "auth-rsa": "RSA",
    "auth-dss": "DSS",
    "auth-ecdsa": "ECDSA",
    "auth-null": "anon",
    "auth-psk": "PSK",
    "auth-srp": "SRP",
    "auth-any": "any",
}
OPENSSL_MAC = {"sha1": "SHA1", "md5": "MD5", "sha256": "SHA256", "sha384": "SHA384"}


def local_openssl_ciphers() -> list[dict[str, object]]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return list(ctx.get_ciphers())  # type: ignore[arg-type]


def test_table_is_sorted_unique_and_large() -> None:
    codes = [s.code for s in cs.ALL_SUITES]
    assert codes == sorted(set(codes))
    assert len(cs.ALL_SUITES) >= 340
    assert len({s.iana_name for s in cs.ALL_SUITES}) == len(cs.ALL_SUITES)
    names = [s.openssl_name for s in cs.ALL_SUITES if s.openssl_name]
    assert len(names) == len(set(names))
    for s in cs.ALL_SUITES:
        assert 0 <= s.code <= 0xFFFF
        assert re.fullmatch(r"(TLS|SSL)_[A-Za-z0-9_]+", s.iana_name), s
        assert s.code not in cs.SCSV_NAMES
        assert not cs.is_grease(s.code)


def test_tls13_suites() -> None:
    codes = {s.code for s in cs.TLS13_SUITES}
    assert {0x1301, 0x1302, 0x1303, 0x1304, 0x1305} <= codes
    assert all(s.kx == "any" and s.auth == "any" and s.forward_secret for s in cs.TLS13_SUITES)
    assert not codes & {s.code for s in cs.LEGACY_SUITES}


def test_every_suite_the_local_openssl_knows_agrees() -> None:
    known = local_openssl_ciphers()
    assert len(known) > 100
    for c in known:
        suite = cs.by_code(int(c["id"]) & 0xFFFF)  # type: ignore[call-overload]
        assert suite is not None, c["name"]
        assert suite.openssl_name == c["name"]
        assert suite.kx == OPENSSL_KX[str(c["kea"])], suite
        assert suite.auth == OPENSSL_AUTH[str(c["auth"])], suite
        assert suite.bits == c["strength_bits"], suite
        assert suite.is_aead == c["aead"], suite
        if not c["aead"]:
            assert suite.mac == OPENSSL_MAC[str(c["digest"])], suite
        assert suite.tls13 == (c["protocol"] == "TLSv1.3")
        assert suite.is_null == (c["symmetric"] is None), suite
        assert cs.by_openssl_name(str(c["name"])) is suite


def test_iana_names_agree_with_tlslite() -> None:
    api = import_tlslite()
    del api
    from tlslite.constants import CipherSuite

    compared = 0
    for code, name in CipherSuite.ietfNames.items():
        if code > 0xFFFF or "draft" in name:
            continue
        assert cs.suite_name(code).upper() == name.upper(), hex(code)
        compared += 1
    assert compared > 100


@pytest.mark.parametrize(
    ("code", "flags"),
    [
        (0x0003, {"is_export", "is_rc4"}),
        (0x0004, {"is_rc4"}),
        (0x0009, {"is_des", "is_cbc"}),
        (0x0014, {"is_export", "is_des", "is_cbc", "forward_secret"}),
        (0x000A, {"is_3des", "is_cbc"}),
        (0x0018, {"is_anonymous", "is_rc4", "forward_secret"}),
        (0x0002, {"is_null"}),
        (0x0000, {"is_null", "is_anonymous"}),
        (0xC015, {"is_null", "is_anonymous", "forward_secret"}),
        (0x0007, {"is_cbc"}),
        (0x002F, {"is_cbc"}),
        (0xC02F, {"is_aead", "forward_secret"}),
        (0xCCA9, {"is_aead", "forward_secret"}),
        (0x1301, {"is_aead", "forward_secret"}),
        (0x1305, {"is_aead", "forward_secret"}),
        (0xC0B4, {"is_null", "forward_secret"}),
        (0x0062, {"is_export", "is_des", "is_cbc"}),
        (0x00A0, {"is_aead"}),
    ],
)
def test_properties(code: int, flags: set[str]) -> None:
    suite = cs.by_code(code)
    assert suite is not None
    all_flags = ["is_export", "is_rc4", "is_des", "is_3des", "is_cbc", "is_aead", "is_null"]
    all_flags += ["is_anonymous", "forward_secret"]
    assert {f for f in all_flags if getattr(suite, f)} == flags


def test_weak_reasons() -> None:
    def reasons(code: int) -> tuple[str, ...]:
        suite = cs.by_code(code)
        assert suite is not None
        return suite.weak_reasons()

    assert reasons(0xC02F) == ()
    assert reasons(0x1301) == ()
    assert reasons(0x009C) == ("no forward secrecy",)
    assert reasons(0x0003) == (
        "EXPORT-grade cryptography",
        "RC4 stream cipher",
        "MD5 MAC",
        "no forward secrecy",
    )
    assert "3DES (64-bit block, Sweet32)" in reasons(0xC012)
    assert "anonymous key exchange (no server authentication)" in reasons(0xC018)
    assert "no encryption (NULL cipher)" in reasons(0x0002)
    assert "64-bit block cipher" in reasons(0x0007)  # IDEA
    assert "single DES" in reasons(0x0015)


def test_bits() -> None:
    def bits(code: int) -> int:
        suite = cs.by_code(code)
        assert suite is not None
        return suite.bits

    assert [bits(c) for c in (0x0003, 0x0009, 0x000A, 0x002F, 0x0035, 0xCCA8, 0x0002)] == [
        40,
        56,
        112,
        128,
        256,
        256,
        0,
    ]


def test_unknown_codes_and_scsv() -> None:
    assert cs.by_code(0x0A0A) is None
    assert cs.suite_name(0x0A0A) == "0x0A0A"
    assert cs.suite_name(0xABCD) == "0xABCD"
    assert cs.suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert cs.suite_name(0x5600) == "TLS_FALLBACK_SCSV"
    unknown = cs.describe(0xABCD)
    assert unknown.iana_name == "0xABCD" and unknown.kx == "unknown"
    assert unknown.weak_reasons() == ()
    assert cs.describe(0x13FE).tls13
    assert cs.is_grease(0x1A1A) and cs.is_grease(0xFAFA) and not cs.is_grease(0x1A2A)
    assert cs.by_iana_name("TLS_RSA_WITH_RC4_128_SHA") is cs.by_code(5)


def test_sslv2_kinds() -> None:
    codes = [k.code for k in cs.SSL2_CIPHER_KINDS]
    assert len(codes) == len(set(codes)) == 8
    assert cs.ssl2_name(0x0700C0) == "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
    assert cs.ssl2_name(0x123456) == "0x123456"
    kind = cs.ssl2_by_code(0x020080)
    assert kind is not None and kind.is_export and kind.bits == 40
