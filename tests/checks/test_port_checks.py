"""Observation -> finding ids, for the checks of one host's mail ports (checks/judge.py,
checks/security.py, checks/login.py). Pure and fast: model observations built in memory, a
fixed clock, no sockets. The same verdicts against real servers are the loopback tests'.

Each case asserts the EXACT set of ids its observations give, so a check that fires too often
fails the other cases (above all the clean ones) and a check that stops firing fails its own."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from mailtls.checks.judge import Judgement, judge_host
from mailtls.model import (
    LoginAttempt,
    LoginOutcome,
    PortObservation,
    PortState,
    ProbeVerdict,
    SecurityProbe,
    StopKind,
)
from tests.checks.builders import NOW, cert, closed, port, tls

replace = dataclasses.replace
DAY = dt.timedelta(days=1)


def judged(*observations: PortObservation, resolve_error: str | None = None) -> set[str]:
    return {f.id for f in judge_host("mail.example.test", observations, Judgement(now=NOW),
                                     resolve_error)}


def probe(name: str, verdict: ProbeVerdict = ProbeVerdict.FAILED,
          detail: str | None = None) -> SecurityProbe:
    return SecurityProbe(name, verdict, f"{name}: {verdict.value}", ("C: x", "S: y"),
                         detail=detail)


def login(outcome: LoginOutcome) -> LoginAttempt:
    return LoginAttempt(outcome, "user@example.test", outcome.value, "AUTH PLAIN")


# name -> (observations, the exact ids expected)
CASES: dict[str, tuple[tuple[PortObservation, ...], set[str]]] = {
    # clean observations: none of the ids
    "clean submission": ((port("submission"),), set()),
    "clean smtp": ((port("smtp"),), set()),
    "clean submissions": ((port("submissions"),), set()),
    "clean imap+imaps": ((port("imap"), port("imaps")), set()),
    "clean pop3+pop3s": ((port("pop3"), port("pop3s")), set()),
    "clean security probes": ((port("smtp", security=tuple(
        probe(n, ProbeVerdict.PASSED) for n in (
            "command_injection", "starttls_enforced", "starttls_not_required",
            "plaintext_auth", "state_reset", "open_relay"))),), set()),
    "clean login": ((port("imaps", login=login(LoginOutcome.SUCCEEDED)),),
                    {"auth.login.succeeded"}),
    # reachability
    "refused": ((closed("submission", PortState.REFUSED),),
                {"port.refused", "host.no_open_port"}),
    "filtered": ((closed("submission", PortState.FILTERED),),
                 {"port.filtered", "host.no_open_port"}),
    "unreachable": ((closed("imaps", PortState.UNREACHABLE),),
                    {"port.unreachable", "host.no_open_port"}),
    "not tested": ((closed("imaps", PortState.NOT_TESTED),),
                   {"port.not_tested", "host.no_open_port"}),
    "no implicit twin": ((port("imap"), closed("imaps", PortState.REFUSED)),
                         {"port.refused", "service.no_implicit_tls"}),
    # port 25 from this network (OP25B)
    "25 filtered while 587 answers": ((closed("smtp", PortState.FILTERED), port("submission")),
                                      {"smtp.port25.blocked_from_here"}),
    "25 open, banner and certificate unlike 587": ((
        port("smtp", greeting=("220 proxy.isp.test ESMTP",),
             tls=tls(cert(issuer="CN=Proxy CA", sha256_fingerprint="11" * 32))),
        port("submission")), {"smtp.port25.intercepted"}),
    "25 masked by a middlebox": ((port("smtp", greeting=("220 ****************",),
                                       capabilities_before=("mail.example.test", "XXXXXXXA"),
                                       starttls_offered=False, starttls_accepted=None,
                                       tls=None, capabilities_after=None),),
                                 {"smtp.port25.masked", "smtp.starttls.not_offered"}),
    # the session
    "no greeting": ((port("imap", error_kind=StopKind.GREETING_TIMEOUT, error="no greeting",
                          capabilities_before=None, starttls_offered=None, tls=None),),
                    {"session.no_greeting"}),
    "greeting rejected": ((port("smtp", error_kind=StopKind.GREETING_REJECTED, greeting=("554 no",),
                                greeting_ok=False, capabilities_before=None,
                                starttls_offered=None, tls=None),),
                          {"session.rejected"}),
    "protocol error": ((port("pop3", error_kind=StopKind.PROTOCOL, error="garbage",
                             capabilities_before=None, starttls_offered=None, tls=None),),
                       {"session.protocol_error"}),
    "broken": ((port("pop3", error_kind=StopKind.CLOSED, error="closed",
                     capabilities_before=None, starttls_offered=None, tls=None),),
               {"session.broken"}),
    "deadline": ((port("pop3", error_kind=StopKind.DEADLINE, error="deadline",
                       capabilities_before=None, starttls_offered=None, tls=None),),
                 {"port.not_tested"}),
    "internal": ((port("imap", error_kind=StopKind.INTERNAL, error="bug",
                       capabilities_before=None, starttls_offered=None, tls=None),),
                 {"mailtls.internal_error"}),
    # STARTTLS
    **{
        f"{svc} starttls not offered": (
            (port(svc, capabilities_before=caps, capabilities_reply=caps,
                  starttls_offered=False, starttls_accepted=None, tls=None,
                  capabilities_after=None),),
            {f"{proto}.starttls.not_offered"})
        for svc, proto, caps in (("submission", "smtp", ("mail.example.test", "8BITMIME")),
                                 ("imap", "imap", ("IMAP4rev1", "LOGINDISABLED")),
                                 ("pop3", "pop3", ("TOP",)))
    },
    **{
        f"{svc} starttls refused": (
            (port(svc, starttls_accepted=False, starttls_reply=("454 not now",), tls=None,
                  capabilities_after=None),),
            {f"{proto}.starttls.refused"})
        for svc, proto in (("submission", "smtp"), ("imap", "imap"), ("pop3", "pop3"))
    },
    **{
        f"{svc} starttls after tls": (
            (port(svc, capabilities_after=after, capabilities_after_reply=after),),
            {f"{proto}.starttls.advertised_after_tls"})
        for svc, proto, after in (
            ("submission", "smtp", ("mail.example.test", "STARTTLS", "AUTH PLAIN")),
            ("imap", "imap", ("IMAP4rev1", "STARTTLS")),
            ("pop3", "pop3", ("TOP", "STLS")))
    },
    "starttls on implicit port": ((port("imaps", starttls_offered=True,
                                        capabilities_after=("IMAP4rev1", "STARTTLS")),),
                                  {"imap.starttls.advertised_after_tls"}),
    "data after go-ahead": ((port("submission", data_after_go_ahead=b"250 junk\r\n"),),
                            {"starttls.data_after_go_ahead"}),
    "implicit on starttls port": ((port("submission", tls_on_starttls_port=True,
                                        greeting=(), greeting_ok=None),),
                                  {"tls.implicit_on_starttls_port"}),
    "plaintext on implicit port": ((port("imaps", plaintext_on_implicit=("* OK hi",),
                                         tls=None, capabilities_after=None),),
                                   {"tls.plaintext_on_implicit_port"}),
    "handshake failed (implicit)": ((port("pop3s", tls=None, tls_error="alert 40",
                                          capabilities_after=None),),
                                    {"tls.handshake_failed"}),
    "handshake failed (starttls)": ((port("imap", tls=None, tls_error="alert 40",
                                          capabilities_after=None),),
                                    {"tls.handshake_failed"}),
    "preauth": ((port("imap", preauth=True, greeting=("* PREAUTH hi",)),), {"imap.preauth"}),
    "alert in plaintext": ((port("imap", greeting=("* OK [ALERT] maintenance",)),),
                           {"imap.alert_in_plaintext"}),
    # TLS of the one handshake
    "TLS 1.2": ((port("imaps", tls=tls(version="TLSv1.2")),), {"tls.version.no_tls13"}),
    "TLS 1.0": ((port("imaps", tls=tls(version="TLSv1")),), {"tls.version.legacy"}),
    # the certificate
    "untrusted": ((port("imaps", tls=tls(trusted=False, code=21, message="no")),),
                  {"cert.untrusted"}),
    "self-signed": ((port("imaps", tls=tls(cert(self_signed=True, self_issued=True,
                                                 issuer="CN=mail.example.test"),
                                            trusted=False, code=18, message="self signed")),),
                    {"cert.untrusted", "cert.self_signed"}),
    "chain incomplete": ((port("imaps", tls=tls(trusted=False, code=20, message="issuer")),),
                         {"cert.untrusted", "cert.chain.incomplete"}),
    "issuer sent, root missing": ((port("imaps", tls=tls(
        cert(), cert(subject="CN=Test Intermediate CA", issuer="CN=Root", is_ca=True),
        trusted=False, code=20, message="issuer")),), {"cert.untrusted"}),
    "expired": ((port("imaps", tls=tls(cert(not_after=NOW - DAY), trusted=False, code=10)),),
                {"cert.expired"}),
    "not yet valid": ((port("imaps", tls=tls(cert(not_before=NOW + DAY), trusted=False,
                                             code=9)),), {"cert.not_yet_valid"}),
    "expiring soon": ((port("imaps", tls=tls(cert(not_after=NOW + 3 * DAY))),),
                      {"cert.expiring_soon"}),
    "name mismatch": ((port("imaps", tls=tls(cert(dns_names=("other.test",),
                                                  common_names=("other.test",)))),),
                      {"cert.name_mismatch"}),
    "name by CN only": ((port("imaps", tls=tls(cert(dns_names=()))),), {"cert.name_cn_only"}),
    "checked by address": ((port("imaps", host="127.0.0.1"),), {"cert.name_not_checked"}),
    # cleartext login before TLS
    "smtp AUTH before STARTTLS": ((port("submission", capabilities_before=(
        "mail.example.test", "STARTTLS", "AUTH PLAIN"),),), {"smtp.auth.plaintext_offered"}),
    "imap LOGIN before STARTTLS": ((port("imap", capabilities_before=(
        "IMAP4rev1", "STARTTLS"),),), {"imap.auth.plaintext_offered"}),
    "pop3 USER before STLS": ((port("pop3", capabilities_before=("USER", "STLS"),),),
                              {"pop3.auth.plaintext_offered"}),
    "submission without AUTH": ((port("submissions", capabilities_after=("x", "PIPELINING")),),
                                {"smtp.auth.not_offered"}),
    # the STARTTLS security probes
    **{
        f"{svc} command injection": ((port(svc, security=(probe("command_injection"),)),),
                                     {f"{proto}.starttls.command_injection"})
        for svc, proto in (("smtp", "smtp"), ("imap", "imap"), ("pop3", "pop3"))
    },
    "plaintext answer to injection": ((port("smtp", security=(probe(
        "command_injection", ProbeVerdict.PASSED, detail="plaintext_answer"),)),),
        {"starttls.data_after_go_ahead"}),
    "not enforced": ((port("submission", security=(probe("starttls_enforced"),)),),
                     {"smtp.starttls.not_enforced"}),
    "required on MX": ((port("smtp", security=(probe("starttls_not_required"),)),),
                       {"smtp.starttls.required_on_mx"}),
    **{
        f"{svc} plaintext login accepted": ((port(svc, security=(probe("plaintext_login"),)),),
                                            {f"{proto}.auth.plaintext_accepted"})
        for svc, proto in (("submission", "smtp"), ("imap", "imap"), ("pop3", "pop3"))
    },
    "state kept": ((port("smtp", security=(probe("state_reset"),)),),
                   {"smtp.starttls.state_kept"}),
    "open relay": ((port("smtp", security=(probe("open_relay"),)),), {"smtp.open_relay"}),
    "probe inconclusive": ((port("smtp", security=(probe(
        "state_reset", ProbeVerdict.INCONCLUSIVE),)),), {"starttls.probe_inconclusive"}),
    "opt-in probe not testable": ((port("smtp", security=(probe(
        "open_relay", ProbeVerdict.NOT_TESTABLE),)),), {"starttls.probe_inconclusive"}),
    "probes on an implicit port are not judged": ((port("imaps", security=(
        probe("command_injection"),)),), set()),
    # the login test (--user)
    **{
        f"login {outcome.value}": ((port("imaps", login=login(outcome)),),
                                   {f"auth.login.{outcome.value}"})
        for outcome in LoginOutcome
    },
    "password sent unverified": ((port("imaps", login=replace(
        login(LoginOutcome.SUCCEEDED), sent=True, verified=False, override=True)),),
        {"auth.login.succeeded", "auth.login.unverified_override"}),
}


@pytest.mark.parametrize(("observations", "expected"), CASES.values(), ids=CASES.keys())
def test_port_checks(observations: tuple[PortObservation, ...], expected: set[str]) -> None:
    assert judged(*observations) == expected


def test_unresolved_host() -> None:
    assert judged(resolve_error="NXDOMAIN") == {"host.unresolved"}


def _with_controls(*controls: PortObservation) -> set[str]:
    obs = closed("smtp", PortState.FILTERED)
    judgement = Judgement(now=NOW, port25_controls=controls)
    return {f.id for f in judge_host("mail.example.test", [obs], judgement)}


def test_port25_controls() -> None:
    """--port25-control: tell an egress block from a server that drops 25."""
    assert _with_controls(closed("smtp", PortState.FILTERED, address="127.0.0.9")) == {
        "smtp.port25.blocked_from_here", "host.no_open_port"}
    assert _with_controls(port("smtp", address="127.0.0.9")) == {
        "smtp.port25.filtered_at_server", "host.no_open_port"}
    assert _with_controls() == {"port.filtered", "host.no_open_port"}


def case_ids() -> set[str]:
    """Every id some case of this file expects (the catalogue test reads it)."""
    return {i for _obs, expected in CASES.values() for i in expected} | {
        "host.unresolved", "smtp.port25.filtered_at_server"}
