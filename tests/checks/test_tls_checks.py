"""Observation -> finding ids for the enumerated TLS parameters and the certificate's keys,
signatures and chain shape (checks/tlsparams.py), on a fixed clock, without sockets. The same
verdicts against real servers are in tests/tlsscan and tests/check/test_certificates.py."""

from __future__ import annotations

import dataclasses

import pytest

from mailtls.checks.judge import Judgement, judge_host
from mailtls.model import PortObservation, TLSScan
from tests.checks.builders import NOW, cert, port, tls

replace = dataclasses.replace
_SUITE12 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
_SUITE13 = "TLS_AES_256_GCM_SHA384"


def scan(**changes: object) -> TLSScan:
    """A clean, complete scan: TLS 1.2 and 1.3 only, forward-secret AEAD suites in server order,
    secure renegotiation, no compression, TLS_FALLBACK_SCSV honoured."""
    base = TLSScan(
        versions={"SSLv2": False, "SSLv3": False, "TLS 1.0": False, "TLS 1.1": False,
                  "TLS 1.2": True, "TLS 1.3": True},
        suites={"TLS 1.2": (_SUITE12,), "TLS 1.3": (_SUITE13,)},
        server_order={"TLS 1.2": True, "TLS 1.3": True},
        groups=("x25519",), ecdhe_groups=("secp256r1",), dh_bits=None,
        secure_renegotiation=True, connections=10, seconds=1.0,
        compression=False, fallback_scsv=True, ocsp_stapling=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def scanned(profile: str = "mail", **changes: object) -> set[str]:
    obs = port("imaps", tls_scan=scan(**changes))
    return {f.id for f in judge_host(obs.endpoint.host, [obs], Judgement(now=NOW,
                                                                         profile=profile))}


def certified(*chain: object) -> set[str]:
    obs: PortObservation = port("imaps", tls=tls(*chain))  # type: ignore[arg-type]
    return {f.id for f in judge_host(obs.endpoint.host, [obs], Judgement(now=NOW))}


_LEGACY_ON = {**scan().versions, "TLS 1.0": True}
ROOT = cert(subject="CN=Root", issuer="CN=Root", self_issued=True, self_signed=True, is_ca=True)
INTERMEDIATE = cert(subject="CN=Test Intermediate CA", issuer="CN=Root", is_ca=True)

# name -> (scan fields changed, the profile, the exact ids expected)
SCAN_CASES: dict[str, tuple[dict[str, object], str, set[str]]] = {
    "clean scan": ({}, "mail", set()),
    "clean scan, mozilla-intermediate": ({}, "mozilla-intermediate", set()),
    "SSLv3 accepted": ({"versions": {**scan().versions, "SSLv3": True}}, "mail",
                       {"tls.version.ssl_accepted"}),
    "TLS 1.0 accepted": ({"versions": {**scan().versions, "TLS 1.0": True}}, "mail",
                         {"tls.version.legacy_accepted"}),
    "no TLS 1.2": ({"versions": {**scan().versions, "TLS 1.2": False},
                    "suites": {"TLS 1.3": (_SUITE13,)}}, "mail", {"tls.version.no_tls12"}),
    "no TLS 1.3": ({"versions": {**scan().versions, "TLS 1.3": False},
                    "suites": {"TLS 1.2": (_SUITE12,)}}, "mail", {"tls.version.no_tls13"}),
    "version untested": ({"versions": {**scan().versions, "TLS 1.1": None}}, "mail",
                         {"tls.scan.incomplete"}),
    "scan errors": ({"errors": ("rate limited: 421",)}, "mail", {"tls.scan.incomplete"}),
    "RC4": ({"suites": {"TLS 1.2": (_SUITE12, "TLS_RSA_WITH_RC4_128_SHA")}}, "mail",
            {"tls.cipher.broken"}),
    "3DES": ({"suites": {"TLS 1.2": (_SUITE12, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA")}},
             "mail", {"tls.cipher.sweet32"}),
    "static RSA": ({"suites": {"TLS 1.2": (_SUITE12, "TLS_RSA_WITH_AES_128_GCM_SHA256")}},
                   "mail", {"tls.cipher.no_forward_secrecy"}),
    "no forward secrecy at all": ({"versions": {**scan().versions, "TLS 1.3": False},
                                   "suites": {"TLS 1.2": ("TLS_RSA_WITH_AES_128_GCM_SHA256",)}},
                                  "mail", {"tls.version.no_tls13", "tls.cipher.no_forward_secrecy",
                                           "tls.cipher.forward_secrecy_missing"}),
    "weak DH": ({"dh_bits": 1024}, "mail", {"tls.dh.weak"}),
    "insecure renegotiation": ({"secure_renegotiation": False}, "mail",
                               {"tls.renegotiation.insecure"}),
    "client order with weak suites": ({"suites": {"TLS 1.2": (
        _SUITE12, "TLS_RSA_WITH_AES_128_GCM_SHA256")}, "server_order": {"TLS 1.2": False}},
        "mail", {"tls.cipher.no_forward_secrecy", "tls.cipher_order.client"}),
    "client order with strong suites only": ({"server_order": {"TLS 1.2": False}}, "mail",
                                             set()),
    "compression": ({"compression": True}, "mail", {"tls.compression"}),
    "fallback SCSV ignored": ({"versions": _LEGACY_ON, "fallback_scsv": False}, "mail",
                              {"tls.version.legacy_accepted", "tls.fallback_scsv.missing"}),
    "fallback SCSV with TLS 1.2+ only": ({"fallback_scsv": False}, "mail", set()),
    "profile: version": ({}, "mozilla-modern", {"tls.profile.version"}),
    "profile: cipher": ({"suites": {"TLS 1.2": (_SUITE12, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")},
                         }, "mozilla-intermediate", {"tls.profile.cipher"}),
    "profile: dh": ({"dh_bits": 2048}, "ncsc", {"tls.profile.dh"}),
}


@pytest.mark.parametrize(("changes", "profile", "expected"), SCAN_CASES.values(),
                         ids=SCAN_CASES.keys())
def test_scan_checks(changes: dict[str, object], profile: str, expected: set[str]) -> None:
    assert scanned(profile, **changes) == expected


def _stapling(leaf: object, service: str = "imaps") -> set[str]:
    obs = port(service, tls=tls(leaf), tls_scan=scan(ocsp_stapling=False))  # type: ignore[arg-type]
    return {f.id for f in judge_host(obs.endpoint.host, [obs], Judgement(now=NOW))}


def test_ocsp_stapling() -> None:
    assert _stapling(cert()) == set()  # no responder: nothing to staple
    assert _stapling(cert(ocsp_urls=("http://ocsp.test",))) == {"tls.ocsp.not_stapled"}
    assert _stapling(cert(must_staple=True, ocsp_urls=("http://ocsp.test",))) == {
        "cert.must_staple.not_stapled"}


CERT_CASES: dict[str, tuple[tuple[object, ...], set[str]]] = {
    "clean chain with intermediate": ((cert(), INTERMEDIATE), set()),
    "weak RSA key": ((cert(key_type="RSA", key_bits=1024),), {"cert.key.weak"}),
    "weak key of the intermediate": ((cert(), replace(INTERMEDIATE, key_type="RSA",
                                                      key_bits=1024)), {"cert.key.weak"}),
    "SHA-1 signature": ((cert(signature_algorithm="sha1WithRSAEncryption"),),
                        {"cert.signature.weak"}),
    "SHA-1 self-signature of a root sent is not relied on": (
        (cert(), INTERMEDIATE, replace(ROOT, signature_algorithm="sha1WithRSAEncryption")),
        {"cert.chain.root_sent"}),
    "root sent": ((cert(), INTERMEDIATE, ROOT), {"cert.chain.root_sent"}),
    "out of order": ((cert(), ROOT, INTERMEDIATE), {"cert.chain.root_sent",
                                                     "cert.chain.order"}),
}


@pytest.mark.parametrize(("chain", "expected"), CERT_CASES.values(), ids=CERT_CASES.keys())
def test_certificate_crypto(chain: tuple[object, ...], expected: set[str]) -> None:
    assert certified(*chain) == expected


def case_ids() -> set[str]:
    return ({i for *_x, expected in SCAN_CASES.values() for i in expected}
            | {i for _c, expected in CERT_CASES.values() for i in expected}
            | {"tls.ocsp.not_stapled", "cert.must_staple.not_stapled"})
