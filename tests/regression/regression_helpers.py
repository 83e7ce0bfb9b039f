"""Helpers for the regression-testing tests: a DETERMINISTIC report built by hand (fixed clock,
fixed certificates, real judgement) and golden files.

Golden files live in tests/regression/golden/. When a format changes on purpose (or the shared
JSON gains a field), regenerate them and review the diff:

    MAILTLS_UPDATE_GOLDEN=1 python -m pytest tests/regression -k golden
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from mailtls.checks.judge import Judgement, judge_host
from mailtls.checks.outcomes import with_checks
from mailtls.model import (
    SERVICES,
    CertificateInfo,
    Direction,
    Endpoint,
    HostReport,
    PortObservation,
    PortState,
    Report,
    StopKind,
    TLSScan,
    TLSSession,
    TranscriptLine,
    Verification,
)
from mailtls.proto.lines import decode_line

GOLDEN = Path(__file__).parent / "golden"
HOSTILE_BANNER = '* OK \x1b[31mIMAP <ready> & "waiting" [b]bold[/b]\x00'
HOSTILE_CAPABILITY = "* CAPABILITY IMAP4rev1 LOGINDISABLED \x1b]0;pwned\x07"
NOW = dt.datetime(2030, 1, 15, 12, 0, 0, tzinfo=dt.UTC)
HOST = "mail.example.test"
ADDRESS = "127.0.0.1"


def golden(name: str, text: str) -> None:
    """Compare ``text`` with golden/NAME (or write it with MAILTLS_UPDATE_GOLDEN=1)."""
    path = GOLDEN / name
    if os.environ.get("MAILTLS_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with MAILTLS_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file (MAILTLS_UPDATE_GOLDEN=1 " \
                             "rewrites it; review the diff)"


def cert(name: str = HOST, *, days: float = 200, issuer: str = "CN=Example CA,O=Example",
         fingerprint: str = "ab" * 32, serial: str = "0102") -> CertificateInfo:
    return CertificateInfo(
        subject=f"CN={name}",
        issuer=issuer,
        serial=serial,
        not_before=NOW - dt.timedelta(days=60),
        not_after=NOW + dt.timedelta(days=days),
        dns_names=(name,),
        ip_addresses=(),
        common_names=(name,),
        key_type="EC",
        key_bits=256,
        signature_algorithm="ecdsa-with-SHA256",
        sha256_fingerprint=fingerprint,
        self_issued=False,
        self_signed=False,
        is_ca=False,
    )


def session(version: str = "TLSv1.3", *, leaf: CertificateInfo | None = None,
            cipher: str = "TLS_AES_256_GCM_SHA384") -> TLSSession:
    return TLSSession(version=version, cipher=cipher, cipher_bits=256,
                      chain=(leaf or cert(),), verification=Verification(True, "system"),
                      handshake_seconds=0.042)


GOOD_12 = ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
GOOD_13 = ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256")


def tls_scan(*, legacy: bool = False, tls13: bool = True,
             extra_12: tuple[str, ...] = ()) -> TLSScan:
    versions: dict[str, bool | None] = {"SSLv2": False, "SSLv3": False, "TLS 1.0": legacy,
                                        "TLS 1.1": False, "TLS 1.2": True, "TLS 1.3": tls13}
    suites = {"TLS 1.2": GOOD_12 + extra_12}
    if legacy:
        suites["TLS 1.0"] = ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",)
    if tls13:
        suites["TLS 1.3"] = GOOD_13
    return TLSScan(versions=versions, suites=suites,
                   server_order={v: True for v in suites}, groups=("x25519",),
                   ecdhe_groups=("x25519", "secp256r1"), dh_bits=None, secure_renegotiation=True,
                   connections=12, seconds=0.5)


def obs(service: str, port: int, state: PortState = PortState.OPEN,
        **kw: object) -> PortObservation:
    endpoint = Endpoint(HOST, ADDRESS, port, SERVICES[service], requested=False)
    defaults: dict[str, object] = {"connections": 1, "seconds": 0.25}
    if state is PortState.OPEN:
        defaults["greeting_ok"] = True
    defaults.update(kw)
    return PortObservation(endpoint, state, **defaults)  # type: ignore[arg-type]


def sample_observations() -> tuple[PortObservation, ...]:
    """A deployment with a bit of everything (used by every golden file)."""
    return (
        obs("submission", 587,
            greeting=("220 mail.example.test ESMTP",),
            capabilities_before=("PIPELINING", "STARTTLS"),
            capabilities_reply=("250-mail.example.test", "250-PIPELINING", "250 STARTTLS"),
            starttls_offered=True, starttls_reply=("220 2.0.0 Ready",), starttls_accepted=True,
            tls=session(), capabilities_after=("PIPELINING", "AUTH PLAIN LOGIN"),
            capabilities_after_reply=("250-mail.example.test", "250-PIPELINING",
                                      "250 AUTH PLAIN LOGIN"),
            tls_scan=tls_scan(),
            transcript=(TranscriptLine(Direction.SERVER, "220 mail.example.test ESMTP", False,
                                       0.01),
                        TranscriptLine(Direction.CLIENT, "EHLO mailtls.invalid", False, 0.02))),
        obs("submissions", 465, tls=session("TLSv1.2", leaf=cert(days=10, fingerprint="cd" * 32),
                                            cipher="ECDHE-ECDSA-AES256-GCM-SHA384"),
            capabilities_after=("AUTH PLAIN",), capabilities_after_reply=("250 AUTH PLAIN",),
            tls_scan=tls_scan(legacy=True, tls13=False)),
        # A hostile banner as the probe records it (decode_line escapes control characters),
        # with XML/markup-ish text around; HOSTILE_BANNER has the raw form for the escaping tests.
        obs("imap", 143, greeting=(decode_line(HOSTILE_BANNER.encode()),),
            capabilities_before=("IMAP4rev1", "LOGINDISABLED"),
            capabilities_reply=(decode_line(HOSTILE_CAPABILITY.encode()), "A1 OK done"),
            starttls_offered=False),
        obs("imaps", 993, PortState.REFUSED, error="connection refused",
            error_kind=StopKind.REFUSED, connections=1, seconds=0.001),
        obs("pop3s", 995, PortState.NOT_TESTED, error="the scan deadline (60 s) passed",
            error_kind=StopKind.DEADLINE, connections=0, seconds=0.0),
    )


def sample_report() -> Report:
    observations = sample_observations()
    findings = judge_host(HOST, observations, Judgement(now=NOW, warn_days=30))
    host = with_checks(HostReport(HOST, (ADDRESS,), None, observations, tuple(findings)))
    error = "gone.example.test: name does not resolve (NXDOMAIN)"
    gone = with_checks(HostReport("gone.example.test", (), error, (),
                                  tuple(judge_host("gone.example.test", (), Judgement(now=NOW),
                                                   resolve_error=error))))
    options: dict[str, object] = {"services": [], "timeout": 60.0, "warn_days": 30,
                                  "trust_store": "system", "addresses": []}
    return Report(started_at=NOW, seconds=1.5, hosts=(host, gone), options=options)


EXPECTATIONS = """\
version = 1
min_tls_version = "TLSv1.2"
cert_min_days = 14
max_severity = "warn"
ignore = ["port.refused"]
forbid = ["cert.expired"]

[hosts."mail.example.test"]
open = ["submission", 465, "imap"]
closed = ["imaps", "pop3s"]
starttls_required = ["submission", "imap"]
min_tls_version = "TLSv1.2"
cert_min_days = 14
accept = ["tls.version.no_tls13"]
forbid = ["cert.expired"]
"""


def older_report() -> Report:
    """The same deployment a month earlier: imap offered STARTTLS, 465 had another
    certificate and no TLS 1.0, 993 was open."""
    import dataclasses

    now = NOW - dt.timedelta(days=30)
    observations = list(sample_observations())
    observations[1] = dataclasses.replace(
        observations[1], tls=session("TLSv1.2", leaf=cert(days=40, fingerprint="ef" * 32),
                                     cipher="ECDHE-ECDSA-AES256-GCM-SHA384"),
        tls_scan=tls_scan(tls13=True))
    observations[2] = dataclasses.replace(
        observations[2], starttls_offered=True, starttls_accepted=True, tls=session(),
        capabilities_before=("IMAP4rev1", "LOGINDISABLED", "STARTTLS"),
        capabilities_after=("IMAP4rev1", "AUTH=PLAIN"))
    observations[3] = dataclasses.replace(observations[3], state=PortState.OPEN, error=None,
                                          error_kind=None, greeting_ok=True, tls=session())
    findings = judge_host(HOST, observations, Judgement(now=now, warn_days=30))
    host = with_checks(HostReport(HOST, (ADDRESS,), None, tuple(observations), tuple(findings)))
    return Report(started_at=now, seconds=1.2, hosts=(host,), options={"warn_days": 30})


def full_report() -> Report:
    """The sample report with --expect and --baseline results, as the CLI would make it."""
    import dataclasses
    import tomllib

    from mailtls.regression.diff import diff_reports
    from mailtls.regression.expect import evaluate, parse
    from mailtls.render.jsonout import report_dict

    report = sample_report()
    results = evaluate(parse(tomllib.loads(EXPECTATIONS), "mailtls.toml"), report)
    changes = diff_reports(report_dict(older_report(), 0), report_dict(report, 0))
    options = {**report.options, "expect": "mailtls.toml", "baseline": "baseline.json"}
    return dataclasses.replace(report, expectations=results, changes=changes, options=options)
