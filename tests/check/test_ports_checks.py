"""The judgement of the other ports (checks/ports.py) on recorded observations, the scan plan's
groups (--also/--services), and the rule catalogue's entries for them. The same verdicts are
reached against real servers in tests/interop/test_interop_ports.py."""

from __future__ import annotations

import datetime as dt

import pytest

from mailtls.checks import rules as R
from mailtls.checks.judge import Judgement, judge_port
from mailtls.checks.ports import HSTS_MIN_SECONDS, parse_hsts
from mailtls.errors import UsageError
from mailtls.model import (
    ALL_SERVICES,
    SERVICES,
    Endpoint,
    PortObservation,
    PortState,
    ProbeVerdict,
    SecurityProbe,
    Severity,
    StopKind,
)
from mailtls.scan.host import parse_plan

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


def obs(service: str, **kw: object) -> PortObservation:
    s = ALL_SERVICES[service]
    endpoint = Endpoint("mail.example.test", "127.0.0.1", s.default_port, s, True)
    return PortObservation(endpoint=endpoint, state=PortState.OPEN, **kw)  # type: ignore[arg-type]


def ids(o: PortObservation) -> set[str]:
    return {f.id for f in judge_port(o, [o], Judgement(now=NOW))}


# --- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "expected"), [
    (("HTTP/1.1 301 Moved Permanently", "location: https://mail.example.test/"), set()),
    (("HTTP/1.1 308 Permanent Redirect", "location: https://www.example.test/x"), set()),
    (("HTTP/1.1 301 Moved", "location: http://mail.example.test/"), {"http.redirect.missing"}),
    (("HTTP/1.1 200 OK",), {"http.redirect.missing"}),
    (("HTTP/1.1 404 Not Found",), {"http.redirect.missing"}),
    (("HTTP/1.1 301 Moved", "location: https://x/", "strict-transport-security: max-age=9"),
     {"http.hsts.on_plaintext"}),
])
def test_port_80(head: tuple[str, ...], expected: set[str]) -> None:
    assert ids(obs("http", capabilities_before=head, capabilities_reply=head)) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("max-age=31536000", (31536000, None)),
    ('max-age="31536000"; includeSubDomains; preload', (31536000, None)),
    ("MAX-AGE=0", (0, None)),
    ("includeSubDomains", (None, "no max-age directive")),
    ("max-age=1; max-age=2", (None, "directive max-age given twice")),
    ("max-age=abc", (None, "max-age is not a number of seconds: 'abc'")),
    ("max-age=1;;", (1, None)),
])
def test_parse_hsts(value: str, expected: tuple[int | None, str | None]) -> None:
    max_age, _directives, problem = parse_hsts(value)
    assert (max_age, problem) == expected


def _https(*fields: str) -> PortObservation:
    from mailtls.model import TLSSession, Verification

    tls = TLSSession("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, (), Verification(True, "system"),
                     0.01)
    head = ("HTTP/1.1 200 OK", *fields)
    return obs("https", tls=tls, capabilities_after=head, capabilities_after_reply=head)


def test_port_443_hsts() -> None:
    assert ids(_https("strict-transport-security: max-age=31536000")) == set()
    assert ids(_https()) == {"http.hsts.missing"}
    assert ids(_https("strict-transport-security: max-age=86400")) == {"http.hsts.short_max_age"}
    assert ids(_https(f"strict-transport-security: max-age={HSTS_MIN_SECONDS}")) == set()
    assert ids(_https("strict-transport-security: preload")) == {"http.hsts.invalid"}


# --- LDAP, FTP, NNTP ------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["ldap", "ftp", "nntp"])
def test_upgrade_not_offered_and_refused(service: str) -> None:
    assert ids(obs(service, greeting_ok=True, capabilities_before=("X",),
                   starttls_offered=False)) == {f"{service}.starttls.not_offered"}
    assert ids(obs(service, greeting_ok=True, capabilities_before=("X",), starttls_offered=True,
                   starttls_accepted=False, starttls_reply=("no",))) == {
        f"{service}.starttls.refused"}


def _probe(name: str, verdict: ProbeVerdict, detail: str | None = None) -> SecurityProbe:
    return SecurityProbe(name, verdict, f"{name} {verdict.value}", ("evidence",), detail=detail)


@pytest.mark.parametrize(("service", "probe", "finding"), [
    ("ftp", "command_injection", "ftp.starttls.command_injection"),
    ("nntp", "command_injection", "nntp.starttls.command_injection"),
    ("ftp", "plaintext_login", "ftp.auth.plaintext_accepted"),
    ("nntp", "plaintext_login", "nntp.auth.plaintext_accepted"),
    ("ldap", "plaintext_bind", "ldap.auth.plaintext_accepted"),
    ("ftp", "data_protection", "ftp.data.unprotected"),
])
def test_probe_failures_become_findings(service: str, probe: str, finding: str) -> None:
    base = {"greeting_ok": True, "capabilities_before": ("X",), "starttls_offered": True,
            "starttls_accepted": True}
    failed = obs(service, security=(_probe(probe, ProbeVerdict.FAILED),), **base)
    assert ids(failed) == {finding}
    assert R.RULES[finding].severity is Severity.FAIL
    passed = obs(service, security=(_probe(probe, ProbeVerdict.PASSED),), **base)
    assert ids(passed) == set()


@pytest.mark.parametrize("service", ["ldap", "https", "http"])
def test_silence_where_the_client_speaks_first(service: str) -> None:
    silent = obs(service, error="no reply from the server within 3 s",
                 error_kind=StopKind.GREETING_TIMEOUT)
    findings = judge_port(silent, [silent], Judgement(now=NOW))
    assert [f.id for f in findings] == ["session.broken"]
    assert "did not answer" in findings[0].summary


def test_nntp_authinfo_user_before_tls_and_starttls_after_it() -> None:
    before = ("VERSION 2", "AUTHINFO USER SASL", "STARTTLS")
    assert "nntp.auth.plaintext_offered" in ids(obs(
        "nntp", greeting_ok=True, capabilities_before=before, starttls_offered=True))
    assert "nntp.auth.plaintext_offered" not in ids(obs(
        "nntp", greeting_ok=True, capabilities_before=("VERSION 2", "AUTHINFO SASL", "STARTTLS"),
        starttls_offered=True))


# --- the plan --------------------------------------------------------------------------------


def names(plan: tuple[object, ...]) -> list[str]:
    return [p.service.name for p in plan]  # type: ignore[attr-defined]


def test_default_stays_the_seven_mail_ports() -> None:
    assert names(parse_plan([], [])) == list(SERVICES)


def test_only_names_the_other_ports_too() -> None:
    plan = parse_plan(["ldap,ldaps,ftp,ftps,nntp,nntps,http,https"], [])
    assert [(p.service.name, p.port, p.requested) for p in plan] == [
        ("ldap", 389, True), ("ldaps", 636, True), ("ftp", 21, True), ("ftps", 990, True),
        ("nntp", 119, True), ("nntps", 563, True), ("http", 80, True), ("https", 443, True)]
    assert [(p.service.name, p.port) for p in parse_plan([], ["ldaps=3636"])] == [
        ("ldaps", 3636)]


def test_also_adds_groups_to_the_default() -> None:
    plan = parse_plan([], [], ["web,ldap"])
    assert names(plan) == [*SERVICES, "http", "https", "ldap", "ldaps"]
    assert not any(p.requested for p in plan)  # a closed one is "not offered", not unknown
    assert names(parse_plan(["imaps"], [], ["news"])) == ["imaps", "nntp", "nntps"]


def test_services_chooses_groups() -> None:
    assert names(parse_plan([], [], groups=["web"])) == ["http", "https"]
    assert len(parse_plan([], [], groups=["all"])) == 15
    assert names(parse_plan([], [], groups=["mail"])) == list(SERVICES)


@pytest.mark.parametrize(("also", "groups"), [(["webb"], []), ([], ["ldap,nope"])])
def test_unknown_group(also: list[str], groups: list[str]) -> None:
    with pytest.raises(UsageError, match="unknown group or service"):
        parse_plan([], [], also, groups)


def test_rules_exist_with_references() -> None:
    for rule_id in ("ldap.starttls.not_offered", "ftp.starttls.refused",
                    "nntp.starttls.command_injection", "ldap.auth.plaintext_accepted",
                    "ftp.data.unprotected", "http.redirect.missing", "http.hsts.missing",
                    "http.hsts.short_max_age", "http.hsts.invalid", "http.hsts.on_plaintext",
                    "nntp.auth.plaintext_offered", "nntp.starttls.advertised_after_tls"):
        assert R.RULES[rule_id].reference.startswith("RFC "), rule_id
    assert R.rule_applies("http.hsts.missing", "https", "http", "implicit")
    assert not R.rule_applies("http.hsts.missing", "http", "http", "none")
    assert R.rule_applies("ftp.auth.plaintext_accepted", "ftp", "ftp", "starttls")
    assert not R.rule_applies("ftp.auth.plaintext_accepted", "ftps", "ftp", "implicit")
