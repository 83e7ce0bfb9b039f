"""Tests for mailtls.pki.x509: parsing, name matching (RFC 6125/7817/9525), days_left, describe.

Every certificate is minted at test time (trustme / cryptography); no PEM files are committed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import warnings
from dataclasses import replace
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings, strategies as st

from mailtls.errors import ProtocolError
from mailtls.model import CertificateInfo
from mailtls.pki.x509 import (
    NameMatch,
    certificate_info,
    chain_info,
    days_left,
    describe,
    match_name,
)
from tests.der_builder import resign_sha1

UTC = dt.UTC
NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2026, 4, 1, tzinfo=UTC)

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | Any  # DSA: deprecated by cryptography 51 (it warns on access), see _dsa_key
)


def _dsa_key() -> Any:
    """A DSA key, while cryptography still makes them (deprecated in 51: generated quietly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate = getattr(dsa, "generate_private_key", None)
        if generate is None:
            pytest.skip("this cryptography no longer supports DSA")
        return generate(2048)


# --------------------------------------------------------------------------------------------
# certificate factories


@functools.cache
def _key(kind: str) -> PrivateKey:
    """Keys are slow to make (RSA, DSA): one per kind per test run."""
    if kind == "rsa2048":
        return rsa.generate_private_key(65537, 2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(65537, 1024)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p256-other":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    if kind == "dsa":
        return _dsa_key()
    raise AssertionError(kind)


def _name(cn: str | None = None, org: str | None = None) -> x509.Name:
    attrs = []
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _make(
    key: PrivateKey,
    *,
    subject: x509.Name | None = None,
    issuer: x509.Name | None = None,
    signer: PrivateKey | None = None,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    ca: bool | None = None,
    serial: int = 0x1234,
    sign_hash: hashes.HashAlgorithm | None = None,
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> bytes:
    """A DER certificate; self-signed with ``key`` unless ``issuer``/``signer`` say otherwise."""
    import ipaddress

    subject = subject if subject is not None else _name("test.example")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    signing_key = signer if signer is not None else key
    if sign_hash is None and not isinstance(
        signing_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        sign_hash = hashes.SHA256()
    cert = builder.sign(signing_key, sign_hash)  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.DER)


def _sha1_self_signed(key: rsa.RSAPrivateKey, dns: str) -> bytes:
    """A correctly signed sha1WithRSAEncryption certificate (see ``resign_sha1``)."""
    der = _make(key, subject=_name(dns), dns=(dns,))
    return resign_sha1(x509.load_der_x509_certificate(der), key)


def _pem_to_der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@functools.cache
def _trustme() -> tuple[trustme.CA, bytes, bytes, bytes]:
    """(CA, CA DER, EC leaf DER, RSA leaf DER)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("mail.example.test", "192.0.2.25", common_name="mail.example.test")
    rsa_leaf = ca.issue_cert("mail.example.test", key_type=trustme.KeyType.RSA)
    return (
        ca,
        _pem_to_der(ca.cert_pem.bytes()),
        _pem_to_der(leaf.cert_chain_pems[0].bytes()),
        _pem_to_der(rsa_leaf.cert_chain_pems[0].bytes()),
    )


@functools.cache
def _sample_der() -> bytes:
    return _make(
        _key("p256"),
        subject=_name("mail.example.com", "Example"),
        dns=("mail.example.com", "*.example.net"),
        ips=("192.0.2.1", "2001:db8::1"),
    )


# --------------------------------------------------------------------------------------------
# certificate_info


def test_trustme_leaf_and_ca() -> None:
    _, ca_der, leaf_der, rsa_der = _trustme()
    ca = certificate_info(ca_der)
    leaf = certificate_info(leaf_der)
    assert ca.is_ca and ca.self_issued and ca.self_signed
    assert ca.subject == ca.issuer and ca.subject.startswith("OU=Testing CA #")
    assert leaf.issuer == ca.subject
    assert not leaf.is_ca and not leaf.self_issued and not leaf.self_signed
    assert leaf.dns_names == ("mail.example.test",)
    assert leaf.ip_addresses == ("192.0.2.25",)
    assert leaf.common_names == ("mail.example.test",)
    assert (leaf.key_type, leaf.key_bits) == ("EC", 256)
    assert leaf.signature_algorithm == "ecdsa-with-SHA256"
    rsa_leaf = certificate_info(rsa_der)
    assert (rsa_leaf.key_type, rsa_leaf.key_bits) == ("RSA", 2048)
    assert rsa_leaf.signature_algorithm == "ecdsa-with-SHA256"  # signed by the EC CA
    assert rsa_leaf.common_names == ()


def test_basic_fields() -> None:
    der = _sample_der()
    info = certificate_info(der)
    assert info.subject == "O=Example,CN=mail.example.com"  # RFC 4514: most specific RDN last
    assert info.issuer == info.subject
    assert info.serial == "1234"
    assert info.not_before == NOT_BEFORE and info.not_after == NOT_AFTER
    assert info.not_before.utcoffset() == dt.timedelta(0)
    assert info.dns_names == ("mail.example.com", "*.example.net")
    assert info.ip_addresses == ("192.0.2.1", "2001:db8::1")
    assert info.common_names == ("mail.example.com",)
    assert info.sha256_fingerprint == hashlib.sha256(der).hexdigest()
    assert info.self_issued and info.self_signed
    assert not info.is_ca  # no basicConstraints at all


def test_rfc4514_escaping_and_ordering() -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Let's Encrypt, Inc."),
            x509.NameAttribute(NameOID.COMMON_NAME, "R11"),
        ]
    )
    info = certificate_info(_make(_key("p256"), subject=subject))
    assert info.subject == "CN=R11,O=Let's Encrypt\\, Inc.,C=US"


@pytest.mark.parametrize(
    ("serial", "expected"),
    [(1, "01"), (0xABC, "0abc"), (0x00FF, "ff"), (2**159 - 1, "7f" + "ff" * 19)],
)
def test_serial_hex(serial: int, expected: str) -> None:
    assert certificate_info(_make(_key("p256"), serial=serial)).serial == expected


@pytest.mark.parametrize(("byte", "expected"), [(b"\xff", "-01"), (b"\x00", "00")])
def test_non_positive_serial_is_reported_without_warning(byte: bytes, expected: str) -> None:
    # RFC 5280 forbids it and cryptography warns (an error here: filterwarnings=error), but
    # appliances do send serial 0; mailtls reports the certificate instead.
    der = _make(_key("p256"), serial=1)
    marker = b"\x02\x01\x01"  # INTEGER 1, the serial
    assert der.count(marker) == 1
    info = certificate_info(der.replace(marker, b"\x02\x01" + byte))
    assert info.serial == expected


def test_rfc5280_violations_seen_in_the_wild_parse_without_warning() -> None:
    # cryptography warns on these while parsing; with filterwarnings=error any leak fails here.
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "USA"),
            x509.NameAttribute(NameOID.COMMON_NAME, "x.example"),
        ]
    )
    der = _make(_key("p256"), subject=subject)
    org_oid, country_oid = bytes.fromhex("060355040a"), bytes.fromhex("0603550406")
    assert der.count(org_oid) == 2  # subject and issuer
    assert certificate_info(der.replace(org_oid, country_oid)).subject == "CN=x.example,C=USA"

    key = _key("p256")
    aki = x509.AuthorityKeyIdentifier(None, [x509.DirectoryName(_name("ca"))], 1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("x"))
        .issuer_name(_name("x"))
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(aki, critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    aki_serial = b"\x82\x01\x01"  # [2] authorityCertSerialNumber = 1
    assert der.count(aki_serial) == 1
    assert certificate_info(der.replace(aki_serial, b"\x82\x01\xff")).serial == "07"


def test_unknown_string_type_in_name_is_protocol_error() -> None:
    der = _make(_key("p256"), subject=_name("test.example"))
    cn_value = b"\x0c\x0ctest.example"  # UTF8String
    assert der.count(cn_value) == 2
    with pytest.raises(ProtocolError) as info:
        certificate_info(der.replace(cn_value, b"\x0d" + cn_value[1:]))  # RELATIVE-OID
    # cryptography < 50 fails while decoding the name (KeyError), 50+ while parsing the DER
    # (a Rust ParseError): either way one sentence, never the library's debug dump
    message = str(info.value)
    assert re.fullmatch(
        r"not a valid X\.509 certificate: (unsupported ASN\.1 value type 13 in a name|"
        r"unexpected ASN\.1 tag 13 \(universal\) in the subject)", message), message


@pytest.mark.parametrize(
    ("kind", "key_type", "bits", "algorithm"),
    [
        ("rsa2048", "RSA", 2048, "sha256WithRSAEncryption"),
        ("rsa1024", "RSA", 1024, "sha256WithRSAEncryption"),
        ("p256", "EC", 256, "ecdsa-with-SHA256"),
        ("p384", "EC", 384, "ecdsa-with-SHA256"),
        ("ed25519", "Ed25519", 256, "ed25519"),
        ("ed448", "Ed448", 456, "ed448"),
        ("dsa", "DSA", 2048, "dsa-with-sha256"),
    ],
)
def test_key_types(kind: str, key_type: str, bits: int, algorithm: str) -> None:
    info = certificate_info(_make(_key(kind)))
    assert (info.key_type, info.key_bits, info.signature_algorithm) == (key_type, bits, algorithm)
    assert info.self_signed


def test_sha1_signed() -> None:
    key = _key("rsa2048")
    assert isinstance(key, rsa.RSAPrivateKey)
    info = certificate_info(_sha1_self_signed(key, "old.example.com"))
    assert info.signature_algorithm == "sha1WithRSAEncryption"
    assert info.self_issued and info.self_signed  # the hand-made SHA-1 signature does verify


def test_ca_flags() -> None:
    root_key, leaf_key = _key("rsa2048"), _key("p256")
    root_name = _name("Test Root", "Test")
    root = certificate_info(_make(root_key, subject=root_name, ca=True))
    assert root.is_ca and root.self_signed
    leaf = certificate_info(
        _make(leaf_key, subject=_name("leaf.example"), issuer=root_name, signer=root_key, ca=False)
    )
    assert not leaf.is_ca and not leaf.self_issued and not leaf.self_signed
    assert leaf.issuer == "O=Test,CN=Test Root"
    assert leaf.signature_algorithm == "sha256WithRSAEncryption"
    assert (leaf.key_type, leaf.key_bits) == ("EC", 256)


def test_self_issued_but_not_self_signed() -> None:
    # Same subject and issuer name, but signed by another key: not self-signed.
    der = _make(_key("p256"), signer=_key("p256-other"))
    info = certificate_info(der)
    assert info.self_issued and not info.self_signed


def test_must_staple_and_ocsp_responders() -> None:
    """RFC 7633 TLS Feature status_request is "must-staple"; OCSP URLs come from AIA."""
    from cryptography.x509.oid import AuthorityInformationAccessOID as AIA

    plain = certificate_info(_make(_key("p256")))
    assert plain.must_staple is False and plain.ocsp_urls == ()
    access = x509.AuthorityInformationAccess([
        x509.AccessDescription(AIA.OCSP, x509.UniformResourceIdentifier("http://o1.example/")),
        x509.AccessDescription(AIA.CA_ISSUERS, x509.UniformResourceIdentifier("http://ca/x.crt")),
        x509.AccessDescription(AIA.OCSP, x509.UniformResourceIdentifier("http://o2.example/")),
    ])
    staple = x509.TLSFeature([x509.TLSFeatureType.status_request])
    info = certificate_info(_make(_key("p256"), extensions=(staple, access)))
    assert info.must_staple is True
    assert info.ocsp_urls == ("http://o1.example/", "http://o2.example/")
    # status_request_v2 alone is not the must-staple the check is about
    v2 = x509.TLSFeature([x509.TLSFeatureType.status_request_v2])
    assert certificate_info(_make(_key("p256"), extensions=(v2,))).must_staple is False
    _, _, leaf_der, _ = _trustme()
    assert certificate_info(leaf_der).must_staple is False


def test_ip_sans_are_normalised() -> None:
    der = _make(_key("p256"), ips=("127.0.0.1", "2001:0DB8:0:0:0:0:0:0001", "0:0:0:0:0:0:0:1"))
    assert certificate_info(der).ip_addresses == ("127.0.0.1", "2001:db8::1", "::1")


def test_no_san_cn_only() -> None:
    info = certificate_info(_make(_key("p256"), subject=_name("legacy.example.com")))
    assert info.dns_names == () and info.ip_addresses == ()
    assert info.common_names == ("legacy.example.com",)


def test_idn_san_is_kept_as_a_label() -> None:
    info = certificate_info(_make(_key("p256"), dns=("xn--bcher-kva.example",)))
    assert info.dns_names == ("xn--bcher-kva.example",)


def test_unknown_key_algorithm_and_signature_oid() -> None:
    der = _make(_key("p256"))
    ec_key_oid = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey
    ecdsa_sha256 = bytes.fromhex("06082a8648ce3d040302")
    assert der.count(ec_key_oid) == 1 and der.count(ecdsa_sha256) == 2
    odd_key = certificate_info(der.replace(ec_key_oid, bytes.fromhex("06072a8648ce3d0209")))
    assert (odd_key.key_type, odd_key.key_bits) == ("unknown", 0)
    assert odd_key.self_issued and not odd_key.self_signed  # never raises
    odd_sig = certificate_info(der.replace(ecdsa_sha256, bytes.fromhex("06082a8648ce3d040309")))
    assert odd_sig.signature_algorithm == "1.2.840.10045.4.3.9"
    assert not odd_sig.self_signed


def test_bad_signature_is_not_self_signed() -> None:
    der = bytearray(_make(_key("p256")))
    der[-3] ^= 0x01  # inside the ECDSA signature value
    info = certificate_info(bytes(der))
    assert info.self_issued and not info.self_signed


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x30\x00",
        b"not a certificate",
        b"\x30\x82\xff\xff" + b"\x00" * 10,
    ],
)
def test_garbage_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        certificate_info(data)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("not a valid X.509 certificate: ")
    assert not re.search(r"ParseError|\{ |Tag \{", str(info.value)), str(info.value)


def test_pem_truncated_and_trailing_data_are_rejected() -> None:
    der = _sample_der()
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    for data in (pem, der[:-1], der[: len(der) // 2], der + b"\x00"):
        with pytest.raises(ProtocolError):
            certificate_info(data)


def test_chain_info() -> None:
    ca = trustme.CA()
    child = ca.create_child_ca()
    leaf = child.issue_cert("mail.example.test")
    ders = [_pem_to_der(p.bytes()) for p in leaf.cert_chain_pems]
    chain = chain_info(ders)
    assert len(chain) == 2
    assert chain[0].dns_names == ("mail.example.test",)
    assert chain[0].issuer == chain[1].subject
    assert chain[1].is_ca and not chain[1].self_issued
    assert chain_info([]) == ()
    with pytest.raises(ProtocolError, match=r"^the server's certificate could not be parsed "
                       r"\(number 2 of 3 in the chain it sent\): not a valid"):
        chain_info([ders[0], b"junk", ders[1]])


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        certificate_info(data)


@settings(max_examples=400)
@given(st.data())
def test_mutated_certificates_never_raise_anything_else(data: st.DataObject) -> None:
    der = bytearray(_sample_der())
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        index = data.draw(st.integers(0, len(der) - 1), label="index")
        action = data.draw(st.sampled_from(["set", "delete", "insert", "truncate"]), label="op")
        if action == "set":
            der[index] = data.draw(st.integers(0, 255), label="byte")
        elif action == "delete":
            del der[index]
        elif action == "insert":
            der.insert(index, data.draw(st.integers(0, 255), label="byte"))
        else:
            del der[index:]
        if not der:
            break
    try:
        info = certificate_info(bytes(der))
    except ProtocolError as exc:
        assert "\n" not in str(exc)
        return
    # Whatever parsed must also be usable downstream.
    assert "\n" not in describe(info)
    assert "\n" not in match_name(info, "mail.example.com").reason
    assert "\n" not in match_name(info, "192.0.2.1").reason


# --------------------------------------------------------------------------------------------
# match_name: table-driven over synthetic CertificateInfo (the matcher reads only the names)

BASE = CertificateInfo(
    subject="",
    issuer="CN=Test CA",
    serial="01",
    not_before=NOT_BEFORE,
    not_after=NOT_AFTER,
    dns_names=(),
    ip_addresses=(),
    common_names=(),
    key_type="EC",
    key_bits=256,
    signature_algorithm="ecdsa-with-SHA256",
    sha256_fingerprint="00" * 32,
    self_issued=False,
    self_signed=False,
    is_ca=False,
)


def _info(
    dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), cns: tuple[str, ...] = ()
) -> CertificateInfo:
    return replace(BASE, dns_names=dns, ip_addresses=ips, common_names=cns)


# (dNSName SANs, iPAddress SANs, subject CNs, reference, expected matched_by or None)
MATCH_TABLE: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str, str | None]] = [
    # exact DNS-ID, case and trailing dot
    (("mail.example.com",), (), (), "mail.example.com", "DNS:mail.example.com"),
    (("mail.example.com",), (), (), "MAIL.Example.COM", "DNS:mail.example.com"),
    (("MAIL.EXAMPLE.COM",), (), (), "mail.example.com", "DNS:MAIL.EXAMPLE.COM"),
    (("mail.example.com",), (), (), "mail.example.com.", "DNS:mail.example.com"),
    (("mail.example.com.",), (), (), "mail.example.com", "DNS:mail.example.com."),
    (("mail.example.com",), (), (), "  mail.example.com ", "DNS:mail.example.com"),
    (("mail.example.com",), (), (), "mail.example.com..", None),
    (("mail.example.com",), (), (), "smtp.example.com", None),
    (("mail.example.com",), (), (), "example.com", None),
    (("mail.example.com",), (), (), "mail.example.com.evil", None),
    (("mail.example.com",), (), (), "xmail.example.com", None),
    (("a.example.com", "mail.example.com"), (), (), "mail.example.com", "DNS:mail.example.com"),
    # wildcard: complete left-most label, exactly one label
    (("*.example.com",), (), (), "mail.example.com", "DNS:*.example.com"),
    (("*.example.com",), (), (), "MAIL.EXAMPLE.COM.", "DNS:*.example.com"),
    (("*.Example.COM",), (), (), "mail.example.com", "DNS:*.Example.COM"),
    (("*.example.com",), (), (), "example.com", None),
    (("*.example.com",), (), (), "a.b.example.com", None),
    (("*.example.com",), (), (), ".example.com", None),
    (("*.example.com",), (), (), "mail.example.org", None),
    (("*.example.com",), (), (), "*.example.com", None),  # a reference holds no wildcard
    (("*.example.com",), (), (), "bücher.example.com", "DNS:*.example.com"),
    (("*.co.uk",), (), (), "example.co.uk", "DNS:*.co.uk"),  # no public-suffix list
    # wildcards that never match
    (("m*.example.com",), (), (), "mail.example.com", None),
    (("*mail.example.com",), (), (), "mail.example.com", None),
    (("*mail.example.com",), (), (), "xmail.example.com", None),
    (("mail*.example.com",), (), (), "mail1.example.com", None),
    (("ma*l.example.com",), (), (), "mail.example.com", None),
    (("xn--*.example.com",), (), (), "xn--bcher-kva.example.com", None),
    (("mail.*.com",), (), (), "mail.example.com", None),
    (("*.*.example.com",), (), (), "a.b.example.com", None),
    (("*.com",), (), (), "example.com", None),
    (("*.com",), (), (), "mail.example.com", None),
    (("*",), (), (), "com", None),
    (("*",), (), (), "localhost", None),
    (("*.example",), (), (), "host.example", None),
    (("m*.example.com", "*.example.com"), (), (), "mail.example.com", "DNS:*.example.com"),
    # IDNA: A-labels compared, U-labels in the reference converted
    (("xn--bcher-kva.example",), (), (), "bücher.example", "DNS:xn--bcher-kva.example"),
    (("xn--bcher-kva.example",), (), (), "BÜCHER.example.", "DNS:xn--bcher-kva.example"),
    (("xn--bcher-kva.example",), (), (), "xn--bcher-kva.example", "DNS:xn--bcher-kva.example"),
    (("XN--BCHER-KVA.EXAMPLE",), (), (), "bücher.example", "DNS:XN--BCHER-KVA.EXAMPLE"),
    (("xn--bcher-kva.example",), (), (), "bucher.example", None),
    (("bücher.example",), (), (), "bücher.example", None),  # U-label in a SAN is not a DNS-ID
    (("xn--bcher-kva.example",), (), (), "bücher..example", None),  # IDNA conversion fails
    (("x.example",), (), (), "a" * 64 + ".example", None),  # label too long
    # stdlib codec = IDNA 2003: "ß" maps to "ss" (IDNA 2008 would give xn--strae-oqa)
    (("strasse.example",), (), (), "straße.example", "DNS:strasse.example"),
    (("xn--strae-oqa.example",), (), (), "straße.example", None),
    # IP references: only iPAddress SANs, compared as addresses
    ((), ("127.0.0.1",), (), "127.0.0.1", "IP:127.0.0.1"),
    ((), ("127.0.0.1",), (), "[127.0.0.1]", "IP:127.0.0.1"),
    ((), ("127.0.0.1",), (), "127.0.0.2", None),
    ((), ("127.0.0.1",), (), "::ffff:127.0.0.1", None),
    ((), ("::ffff:7f00:1",), (), "127.0.0.1", None),
    ((), ("2001:db8::1",), (), "2001:db8::1", "IP:2001:db8::1"),
    ((), ("2001:db8::1",), (), "2001:DB8:0:0:0:0:0:1", "IP:2001:db8::1"),
    ((), ("2001:db8::1",), (), "2001:0db8:0000::0001", "IP:2001:db8::1"),
    ((), ("2001:db8::1",), (), "[2001:db8::1]", "IP:2001:db8::1"),
    ((), ("2001:db8::1",), (), "[IPv6:2001:db8::1]", "IP:2001:db8::1"),
    ((), ("fe80::1",), (), "fe80::1%eth0", "IP:fe80::1"),
    ((), ("2001:db8::1",), (), "2001:db8::2", None),
    ((), ("::1",), (), "[::1]", "IP:::1"),
    ((), ("::1",), (), "::1", "IP:::1"),
    ((), ("::1",), (), "0:0:0:0:0:0:0:1", "IP:::1"),
    ((), ("::1",), (), "127.0.0.1", None),
    ((), ("127.0.0.1", "::1"), (), "[::1]", "IP:::1"),
    # never across types
    (("127.0.0.1",), (), (), "127.0.0.1", None),  # IP reference vs dNSName
    (("::1",), (), (), "[::1]", None),
    ((), (), ("127.0.0.1",), "127.0.0.1", None),  # IP reference vs CN
    ((), ("192.0.2.1",), (), "192.0.2.1.", None),  # not an IP literal, not a host name
    ((), ("192.0.2.1",), (), "host.example", None),  # DNS reference vs iPAddress
    (("mail.example.com",), (), (), "[mail.example.com]", None),
    ((), ("127.0.0.1",), (), "[127.0.0.1", None),
    # legacy CN-ID fallback only without any dNSName SAN
    ((), (), ("mail.example.com",), "mail.example.com", "CN:mail.example.com"),
    ((), (), ("MAIL.example.com",), "mail.example.com.", "CN:MAIL.example.com"),
    ((), (), ("*.example.com",), "mail.example.com", "CN:*.example.com"),
    ((), (), ("*.example.com",), "a.b.example.com", None),
    ((), (), ("m*.example.com",), "mail.example.com", None),
    ((), (), ("Example Mail", "mail.example.com"), "mail.example.com", "CN:mail.example.com"),
    ((), ("192.0.2.1",), ("mail.example.com",), "mail.example.com", "CN:mail.example.com"),
    ((), (), ("other.example.com",), "mail.example.com", None),
    ((), (), ("Example Mail",), "mail.example.com", None),
    ((), (), (), "mail.example.com", None),
    (("other.example.com",), (), ("mail.example.com",), "mail.example.com", None),
    (("*.example.org",), (), ("mail.example.com",), "mail.example.com", None),
    # degenerate references
    (("mail.example.com",), (), (), "", None),
    (("mail.example.com",), (), (), "   ", None),
    (("mail.example.com",), (), (), "mail example.com", None),
]


@pytest.mark.parametrize(("dns", "ips", "cns", "reference", "expected"), MATCH_TABLE)
def test_match_name_table(
    dns: tuple[str, ...],
    ips: tuple[str, ...],
    cns: tuple[str, ...],
    reference: str,
    expected: str | None,
) -> None:
    result = match_name(_info(dns, ips, cns), reference)
    assert isinstance(result, NameMatch)
    assert "\n" not in result.reason and result.reason
    if expected is None:
        assert not result.matched, result
        assert result.matched_by is None
        assert not result.legacy_cn
        return
    assert result.matched, result
    if expected.startswith("CN:"):
        assert result.legacy_cn
        assert result.matched_by == f"{expected} (legacy CN fallback)"
        assert "legacy CN fallback" in result.reason
    else:
        assert not result.legacy_cn
        assert result.matched_by == expected


@pytest.mark.parametrize(
    ("dns", "ips", "cns", "reference", "fragments"),
    [
        (
            ("*.example.com", "www.example.com"),
            (),
            (),
            "example.com",
            ["no SAN DNS name matches example.com; SANs: DNS:*.example.com DNS:www.example.com"],
        ),
        (
            ("m*.example.com",),
            (),
            (),
            "mail.example.com",
            ["DNS:m*.example.com partial-label or non-left-most wildcard"],
        ),
        (("*.com",), (), (), "example.com", ["DNS:*.com wildcard directly above a top-level"]),
        (
            ("xn--bcher-kva.example",),
            (),
            (),
            "bücher.example",
            ["DNS:xn--bcher-kva.example matches bücher.example (xn--bcher-kva.example)"],
        ),
        (("*.example.com",), (), (), "mail.example.com", ["wildcard SAN DNS:*.example.com"]),
        (
            (),
            ("192.0.2.1",),
            (),
            "2001:db8::1",
            ["no SAN IP address matches 2001:db8::1; SAN IPs: IP:192.0.2.1"],
        ),
        (("mail.example.com",), (), (), "192.0.2.1", ["no SAN IP address", "never matched"]),
        ((), (), ("a.example",), "b.example", ["no SAN DNS name", "CN (a.example)"]),
        ((), (), (), "b.example", ["no SAN DNS name and no subject CN"]),
        (("x.example",), (), (), "bücher..example", ["not a valid host name", "IDNA"]),
        (("x.example",), (), (), "[x.example]", ["not a valid IP address literal"]),
        (
            tuple(f"h{i}.example.com" for i in range(20)),
            (),
            (),
            "mail.example.com",
            ["DNS:h7.example.com ... (+12 more)"],
        ),
        (("a\nb.example",), (), (), "c.example", ["DNS:a\\x0ab.example"]),
    ],
)
def test_match_name_reasons(
    dns: tuple[str, ...],
    ips: tuple[str, ...],
    cns: tuple[str, ...],
    reference: str,
    fragments: list[str],
) -> None:
    reason = match_name(_info(dns, ips, cns), reference).reason
    assert "\n" not in reason
    for fragment in fragments:
        assert fragment in reason


def test_match_name_on_real_certificates() -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("bücher.example", "*.example.org", "192.0.2.1", "2001:db8::1")
    info = certificate_info(_pem_to_der(leaf.cert_chain_pems[0].bytes()))
    assert info.dns_names == ("xn--bcher-kva.example", "*.example.org")
    assert match_name(info, "BÜCHER.example").matched
    assert match_name(info, "mail.example.org").matched_by == "DNS:*.example.org"
    assert not match_name(info, "example.org").matched
    assert match_name(info, "[2001:DB8::1]").matched_by == "IP:2001:db8::1"
    assert match_name(info, "192.0.2.1").matched_by == "IP:192.0.2.1"
    assert not match_name(info, "192.0.2.2").matched

    cn_only = certificate_info(_make(_key("p256"), subject=_name("legacy.example.com")))
    legacy = match_name(cn_only, "legacy.example.com")
    assert legacy == NameMatch(
        matched=True,
        matched_by="CN:legacy.example.com (legacy CN fallback)",
        reason=legacy.reason,
        legacy_cn=True,
    )
    with_san = certificate_info(
        _make(_key("p256"), subject=_name("legacy.example.com"), dns=("other.example.com",))
    )
    assert not match_name(with_san, "legacy.example.com").matched


@settings(max_examples=300)
@given(
    dns=st.lists(st.text(max_size=30), max_size=3),
    ips=st.lists(st.ip_addresses().map(str), max_size=2),
    cns=st.lists(st.text(max_size=30), max_size=2),
    reference=st.one_of(st.text(max_size=40), st.ip_addresses().map(str)),
)
def test_match_name_never_raises(
    dns: list[str], ips: list[str], cns: list[str], reference: str
) -> None:
    result = match_name(_info(tuple(dns), tuple(ips), tuple(cns)), reference)
    assert "\n" not in result.reason
    assert result.matched == (result.matched_by is not None)
    assert not result.legacy_cn or result.matched


@given(label=st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True))
def test_wildcard_matches_exactly_one_label(label: str) -> None:
    cert = _info(dns=("*.example.com",))
    assert match_name(cert, f"{label}.example.com").matched
    assert match_name(cert, f"{label.upper()}.EXAMPLE.COM.").matched
    assert not match_name(cert, f"{label}.x.example.com").matched
    assert not match_name(cert, f"{label}.example.org").matched


# --------------------------------------------------------------------------------------------
# days_left and describe


def test_days_left() -> None:
    info = _info()
    assert days_left(info, dt.datetime(2026, 3, 1, tzinfo=UTC)) == 31.0
    assert days_left(info, NOT_AFTER) == 0.0
    assert days_left(info, dt.datetime(2026, 4, 1, 12, tzinfo=UTC)) == -0.5
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert days_left(info, dt.datetime(2026, 4, 1, 2, tzinfo=plus2)) == 0.0
    with pytest.raises(ValueError, match="timezone-aware"):
        days_left(info, dt.datetime(2026, 3, 1))


def test_describe_example_format() -> None:
    info = replace(
        _info(dns=("mail.example.com", "www.example.com"), ips=("192.0.2.1",)),
        subject="CN=mail.example.com",
        issuer="CN=R11,O=Let's Encrypt,C=US",
    )
    assert describe(info) == (
        "CN=mail.example.com, SAN DNS:mail.example.com DNS:www.example.com IP:192.0.2.1, "
        "issuer CN=R11,O=Let's Encrypt,C=US, valid 2026-01-01..2026-04-01, EC 256, "
        "ecdsa-with-SHA256"
    )


def test_describe_real_and_edge_cases() -> None:
    info = certificate_info(_make(_key("rsa1024"), subject=_name("Root"), ca=True))
    assert describe(info) == (
        "CN=Root, no SAN, issuer CN=Root, valid 2026-01-01..2026-04-01, RSA 1024, "
        "sha256WithRSAEncryption, self-signed, CA"
    )
    odd = replace(
        _info(dns=tuple(f"h{i}.example" for i in range(10))),
        subject="",
        key_type="unknown",
        key_bits=0,
        self_issued=True,
    )
    text = describe(odd)
    assert text.startswith("(empty subject), SAN DNS:h0.example ")
    assert "DNS:h7.example ... (+2 more)" in text
    assert text.endswith("unknown key, ecdsa-with-SHA256, self-issued")
    evil = replace(_info(), subject="CN=a\r\nFAKE: line")
    assert "\n" not in describe(evil) and "\\x0d\\x0a" in describe(evil)
