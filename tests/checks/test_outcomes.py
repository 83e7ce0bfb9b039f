"""Observations and findings -> the outcome of every applicable check (checks/outcomes.py):
passed, failed or skipped with the reason. JUnit, Prometheus and the HTML matrix read these."""

from __future__ import annotations

import dataclasses

import pytest

from mailtls.checks import rules as R
from mailtls.checks.judge import Judgement, judge_host
from mailtls.checks.outcomes import host_outcomes, with_checks
from mailtls.model import (
    CheckOutcome,
    CheckResult,
    Finding,
    HostReport,
    PortObservation,
    PortState,
    Severity,
    TLSScan,
)
from tests.checks.builders import HOST, NOW, closed, port

PASSED, FAILED, SKIPPED = CheckOutcome.PASSED, CheckOutcome.FAILED, CheckOutcome.SKIPPED
_SCAN = TLSScan(versions={"TLS 1.2": True, "TLS 1.3": True},
                suites={"TLS 1.3": ("TLS_AES_128_GCM_SHA256",)},
                server_order={"TLS 1.3": True}, groups=("x25519",), ecdhe_groups=(),
                dh_bits=None, secure_renegotiation=True, connections=3, seconds=0.1,
                compression=False, fallback_scsv=True, ocsp_stapling=False)
_EXTRA = Finding("x.not_in_catalogue", Severity.WARN, "s", None, None, (), "RFC 1", "r")


def outcomes(*observations: PortObservation, resolve_error: str | None = None,
             extra: tuple[Finding, ...] = ()) -> dict[tuple[str | None, str], CheckResult]:
    findings = judge_host(HOST, observations, Judgement(now=NOW), resolve_error) + list(extra)
    checks = host_outcomes(observations, findings, resolve_error)
    by_key = {(c.endpoint, c.id): c for c in checks}
    assert len(by_key) == len(checks), "a check listed twice"
    return by_key


_SUB, _SUBS = "127.0.0.1:587", "127.0.0.1:465"
# name -> (observations, resolve error, extra findings,
#          {(endpoint, check id): (outcome, the skip reason)})
CASES: dict[str, tuple[tuple[PortObservation, ...], str | None, tuple[Finding, ...],
                       dict[tuple[str | None, str], tuple[CheckOutcome, str]]]] = {
    "open, enumerated, clean": ((port("submissions", tls_scan=_SCAN),), None, (), {
        (None, "host.unresolved"): (PASSED, ""),
        (None, "host.no_open_port"): (PASSED, ""),
        (_SUBS, "port.refused"): (PASSED, ""),
        (_SUBS, "cert.untrusted"): (PASSED, ""),
        (_SUBS, "tls.cipher.broken"): (PASSED, ""),
    }),
    "--quick: no enumeration": ((port("submission"),), None, (), {
        (_SUB, "cert.untrusted"): (PASSED, ""),
        (_SUB, "tls.cipher.broken"): (SKIPPED, "no version/suite enumeration (--quick)"),
        (_SUB, "smtp.starttls.command_injection"):
            (SKIPPED, "no version/suite enumeration (--quick)"),
    }),
    "refused port": ((closed("submission", PortState.REFUSED, error="refused"),), None, (), {
        (None, "host.no_open_port"): (FAILED, ""),
        (_SUB, "port.refused"): (FAILED, ""),
        (_SUB, "port.filtered"): (PASSED, ""),
        (_SUB, "smtp.starttls.not_offered"): (SKIPPED, "port refused"),
        (_SUB, "cert.untrusted"): (SKIPPED, "port refused"),
        (_SUB, "tls.cipher.broken"): (SKIPPED, "port refused"),
    }),
    "open, no TLS session": ((port("submission", starttls_offered=False, starttls_reply=(),
                                   starttls_accepted=None, tls=None,
                                   capabilities_after=None),), None, (), {
        (_SUB, "smtp.starttls.not_offered"): (FAILED, ""),
        (_SUB, "cert.untrusted"): (SKIPPED, "no TLS session"),
        (_SUB, "tls.cipher.broken"): (SKIPPED, "no TLS session"),
    }),
    "unresolved host": ((), "NXDOMAIN", (), {
        (None, "host.unresolved"): (FAILED, ""),
        (None, "host.no_open_port"): (SKIPPED, "the name did not resolve"),
    }),
    "a finding the catalogue does not know": ((), None, (_EXTRA,), {
        (None, "x.not_in_catalogue"): (FAILED, ""),
    }),
}


@pytest.mark.parametrize(("observations", "resolve_error", "extra", "expected"),
                         CASES.values(), ids=CASES.keys())
def test_outcomes(observations: tuple[PortObservation, ...], resolve_error: str | None,
                  extra: tuple[Finding, ...],
                  expected: dict[tuple[str | None, str], tuple[CheckOutcome, str]]) -> None:
    got = outcomes(*observations, resolve_error=resolve_error, extra=extra)
    for key, (outcome, reason) in expected.items():
        assert key in got, key
        assert (got[key].outcome, got[key].reason) == (outcome, reason), key


def test_every_finding_is_a_failed_check_and_nothing_else_failed() -> None:
    """An outcome is failed exactly when a finding of it is on the endpoint (or the host)."""
    observations = (port("submission", tls_scan=_SCAN), port("imap"),
                    closed("pop3s", PortState.FILTERED))
    findings = judge_host(HOST, observations, Judgement(now=NOW))
    checks = host_outcomes(observations, findings, None)
    keys = {o.endpoint.key for o in observations}
    failed = {(c.endpoint, c.id) for c in checks if c.outcome is FAILED}
    assert failed == {(f.endpoint if f.endpoint in keys else None, f.id) for f in findings}
    assert all(c.reason for c in checks if c.outcome is SKIPPED)
    assert not any(c.reason for c in checks if c.outcome is not SKIPPED)


def test_applicable_rules_in_catalogue_order_host_first() -> None:
    obs = port("imaps", tls_scan=_SCAN)
    checks = host_outcomes((obs,), [], None)
    assert [c.id for c in checks if c.endpoint is None] == [r.id for r in R.host_rules()]
    mine = [c.id for c in checks if c.endpoint == obs.endpoint.key]
    assert mine == [r.id for r in R.applicable_rules("imaps", "imap", "implicit")]
    assert {c.service for c in checks if c.endpoint} == {"imaps"}


def test_one_port_probed_twice_as_one_service_is_listed_once() -> None:
    obs = port("submission")
    once = host_outcomes((obs,), [], None)
    assert host_outcomes((obs, obs), [], None) == once


def test_with_checks_judges_a_host_report_made_by_hand() -> None:
    obs = closed("imaps", PortState.REFUSED, error="refused")
    findings = tuple(judge_host(HOST, (obs,), Judgement(now=NOW)))
    host = with_checks(HostReport(HOST, ("127.0.0.1",), None, (obs,), findings))
    assert host.checks == host_outcomes((obs,), findings, None)
    dropped = with_checks(dataclasses.replace(host, findings=()))  # a finding dropped later
    assert not any(c.outcome is FAILED for c in dropped.checks)
