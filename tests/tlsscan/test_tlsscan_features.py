"""Compression (CRIME), TLS_FALLBACK_SCSV and OCSP stapling, found by the hellos after the
enumeration; each verdict both ways, against real servers wherever one shows the behaviour.

No TLS library here compresses (OpenSSL 3 is built without zlib, tlslite-ng never did), and none
ignores TLS_FALLBACK_SCSV (OpenSSL and tlslite-ng both honour it): those two positives come from
``extra_suites_server``, whose TLS <= 1.2 ServerHello flights are our own bytes over a real
socket. Stapling is real: ``openssl s_server -status_file`` staples, Python's ssl cannot.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from importlib import resources
from typing import Any

import jsonschema

from tests.tlsscan.tlsscan_servers import (
    OCSP_URL,
    SServer,
    TLSLiteServer,
    extra_suites_server,
    mini_pki,
    openssl_server,
    server_context,
)

SUITES = [0xC02F, 0x009C]  # answered by the scripted servers below TLS 1.3
SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())


def notes(run: Any, port: int) -> list[str]:
    return [t["text"] for t in run.endpoint(port)["transcript"] if t["dir"] == "*"]


def test_compression(deep: Any) -> None:
    with extra_suites_server(
        server_context(), SUITES, implicit=True, legacy_only_extra=True, compress=True
    ) as deflate, extra_suites_server(
        server_context(), SUITES, implicit=True, legacy_only_extra=True
    ) as null, openssl_server(server_context(), implicit=True) as real:
        run = deep(f"submissions={deflate.port}", f"submissions={null.port}",
                   f"submissions={real.port}")

    assert run.scan(deflate.port)["compression"] is True
    found = run.finding(deflate.port, "tls.compression")
    assert found["severity"] == "fail" and found["requirement"] == "SHOULD NOT"
    assert found["reference"] == "RFC 9325 §3.3; RFC 7457 §2.6"
    assert "chose DEFLATE" in found["evidence"][0]
    assert any("compression DEFLATE" in n for n in notes(run, deflate.port))
    for port in (null.port, real.port):  # the scripted control, and OpenSSL itself
        assert run.scan(port)["compression"] is False
        assert "tls.compression" not in run.ids(port)
        assert any("compression null" in n for n in notes(run, port))
    jsonschema.validate(run.run.report, SCHEMA)


def test_fallback_scsv(deep: Any) -> None:
    all_versions = server_context(minimum=ssl.TLSVersion.TLSv1)  # OpenSSL, TLS 1.0-1.3
    with openssl_server(all_versions, implicit=True) as openssl, TLSLiteServer(
        versions=((3, 1), (3, 3)), cipher_names=["aes128"], implicit=True
    ) as tlslite, extra_suites_server(  # TLS 1.0-1.2 scripted, TLS 1.3 by OpenSSL
        server_context(), SUITES, implicit=True, legacy_only_extra=True
    ) as ignoring, openssl_server(server_context(), implicit=True) as modern:
        run = deep(f"submissions={openssl.port}", f"submissions={tlslite.port}",
                   f"submissions={ignoring.port}", f"submissions={modern.port}")

    # real servers refuse the fallback hello with inappropriate_fallback: no finding
    for port, lower in ((openssl.port, "TLS 1.1"), (tlslite.port, "TLS 1.1")):
        assert run.scan(port)["fallback_scsv"] is True
        assert "tls.fallback_scsv.missing" not in run.ids(port)
        assert f"{lower} hello with TLS_FALLBACK_SCSV: inappropriate_fallback alert" in (
            notes(run, port))
        assert "tls.version.legacy_accepted" in run.ids(port)  # the versions are still judged

    assert run.scan(ignoring.port)["versions"]["TLS 1.1"] is True
    assert run.scan(ignoring.port)["fallback_scsv"] is False
    found = run.finding(ignoring.port, "tls.fallback_scsv.missing")
    assert found["severity"] == "warn" and found["reference"] == "RFC 7507 §3; RFC 8996"
    assert "fallback to TLS 1.1 (it supports TLS 1.3)" in found["summary"]
    assert "accepted: TLS 1.0, TLS 1.1, TLS 1.2, TLS 1.3" in found["evidence"]

    # TLS 1.2 + 1.3 only: nothing to fall back to (RFC 8996), so no hello and no verdict
    assert run.scan(modern.port)["fallback_scsv"] is None
    assert "tls.fallback_scsv.missing" not in run.ids(modern.port)
    assert not any("TLS_FALLBACK_SCSV" in n for n in notes(run, modern.port))
    jsonschema.validate(run.run.report, SCHEMA)


def test_ocsp_stapling_with_openssl_s_server(deep: Any) -> None:
    """openssl s_server staples (``-status_file``) or not; the leaf names an OCSP responder,
    and with must-staple also demands the staple (RFC 7633)."""
    with SServer("must_staple", staple=True) as must_stapled, SServer(
        "must_staple", staple=False
    ) as must_bare, SServer("ocsp", staple=True) as stapled, SServer(
        "ocsp", staple=False
    ) as bare:
        run = deep(*(f"submissions={s.port}" for s in (must_stapled, must_bare, stapled, bare)))

    size = len(mini_pki().ocsp_responses["must_staple"])
    for server in (must_stapled, stapled):
        assert run.scan(server.port)["ocsp_stapling"] is True
        assert not run.ids(server.port) & {"cert.must_staple.not_stapled", "tls.ocsp.not_stapled"}
    assert run.endpoint(must_stapled.port)["greeting"] == [
        "220 mail.example.test ESMTP openssl s_server"]  # a whole session, not just TLS
    assert any(f"OCSP response stapled ({size} bytes)" in n
               for n in notes(run, must_stapled.port))
    leaf = run.endpoint(must_stapled.port)["tls"]["chain"][0]
    assert leaf["must_staple"] is True and leaf["ocsp_urls"] == [OCSP_URL]

    assert run.scan(must_bare.port)["ocsp_stapling"] is False
    found = run.finding(must_bare.port, "cert.must_staple.not_stapled")
    assert found["severity"] == "fail" and found["reference"] == "RFC 7633 §4.2.3"
    assert "no CertificateStatus" in found["evidence"][0]
    assert "tls.ocsp.not_stapled" not in run.ids(must_bare.port)  # said once, as the failure

    assert run.scan(bare.port)["ocsp_stapling"] is False
    info = run.finding(bare.port, "tls.ocsp.not_stapled")
    assert info["severity"] == "info" and info["reference"].startswith("RFC 6066 §8")
    assert f"OCSP responder: {OCSP_URL}" in info["evidence"]
    assert "cert.must_staple.not_stapled" not in run.ids(bare.port)
    assert run.code == 2
    jsonschema.validate(run.run.report, SCHEMA)


def test_ocsp_not_stapled_by_python_ssl(deep: Any) -> None:
    """Python's ssl never staples: must-staple fails on submission, only warns on an MX (senders
    do not authenticate it by default); a leaf without an OCSP responder has nothing to staple."""
    with openssl_server(server_context("must_staple"), "smtp") as mx, openssl_server(
        server_context("must_staple"), "smtp"
    ) as submission, openssl_server(server_context("ocsp"), "imap") as imap, openssl_server(
        server_context("good"), implicit=True
    ) as no_responder:
        run = deep(f"smtp={mx.port}", f"submission={submission.port}", f"imap={imap.port}",
                   f"submissions={no_responder.port}")

    for port in (mx.port, submission.port, imap.port, no_responder.port):
        assert run.scan(port)["ocsp_stapling"] is False
    assert run.finding(mx.port, "cert.must_staple.not_stapled")["severity"] == "warn"
    assert run.finding(submission.port, "cert.must_staple.not_stapled")["severity"] == "fail"
    assert run.finding(imap.port, "tls.ocsp.not_stapled")["severity"] == "info"
    assert "cert.must_staple.not_stapled" not in run.ids(imap.port)
    assert not run.ids(no_responder.port) & {"tls.ocsp.not_stapled",
                                             "cert.must_staple.not_stapled"}
    assert run.endpoint(no_responder.port)["tls"]["chain"][0]["ocsp_urls"] == []


def test_verbose_terminal_shows_the_extra_hellos(mailtls: Callable[..., Any]) -> None:
    with SServer("ocsp", staple=True) as stapled:
        run = mailtls(f"submissions={stapled.port}", deep=True, trust=False, json_out=False,
                      extra=("--ca-file", mini_pki().ca_file, "-v"))
    assert "TLS 1.2 hello offering DEFLATE compression and status_request: compression null; " \
        "OCSP response stapled" in run.out
