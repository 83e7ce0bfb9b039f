"""Client settings and the servers' answers -> finding ids (checks/client.py), without sockets.
The same verdicts against real servers are in tests/client."""

from __future__ import annotations

import dataclasses

import pytest

from mailtls.checks.client import ClientFacts, judge_client
from mailtls.model import (
    DiscoveryStep,
    PortObservation,
    PortState,
    Protocol,
    Role,
    ServerSetting,
    SettingMethod,
    SocketType,
    StepOutcome,
)
from tests.checks.builders import HOST, closed, port, tls

replace = dataclasses.replace
Method, Step = SettingMethod, StepOutcome
IMAP, SMTP = Protocol.IMAP, Protocol.SMTP
SSL, STARTTLS, PLAIN, TRY = (SocketType.SSL, SocketType.STARTTLS, SocketType.PLAIN,
                             SocketType.TRY_STARTTLS)


def setting(protocol: Protocol = IMAP, port_number: int = 993, socket: SocketType = SSL, *,
            role: Role = Role.INCOMING, method: SettingMethod = Method.FILE, host: str = HOST,
            authentication: tuple[str, ...] = ()) -> ServerSetting:
    return ServerSetting(role, protocol, host, port_number, socket, f"{method} test", method,
                         authentication=authentication)


def judged(settings: tuple[ServerSetting, ...], observations: tuple[PortObservation, ...],
           **facts: object) -> set[str]:
    base = ClientFacts(settings, observations, {}, address="user@example.test",
                       domain="example.test", config_file="prefs.js")
    report = judge_client(replace(base, **facts))
    return {f.id for f in report.findings}


_IMAPS, _IMAP, _SUBMISSION = port("imaps"), port("imap"), port("submission")
_IMAP_PLAIN_ONLY = port("imap", starttls_offered=False, starttls_accepted=None, tls=None,
                        capabilities_after=None, capabilities_before=("IMAP4rev1",),
                        capabilities_reply=("IMAP4rev1",))
_DISCOVERY: dict[str, object] = {"config_file": None}
_AUTO = setting(method=Method.AUTOCONFIG)

# name -> (settings, observations, other facts, the exact ids expected)
CASES: dict[str, tuple[tuple[ServerSetting, ...], tuple[PortObservation, ...],
                       dict[str, object], set[str]]] = {
    "clean SSL/TLS": ((setting(),), (_IMAPS,), {}, set()),
    "clean STARTTLS, no implicit port tested": ((setting(port_number=143, socket=STARTTLS),),
                                                (_IMAP,), {}, set()),
    "plaintext, TLS available": ((setting(port_number=143, socket=PLAIN),), (_IMAP, _IMAPS),
                                 {}, {"client.plaintext.tls_available"}),
    "plaintext": ((setting(port_number=143, socket=PLAIN),), (_IMAP_PLAIN_ONLY,), {},
                  {"client.plaintext"}),
    "STARTTLS if available": ((setting(port_number=143, socket=TRY),), (_IMAP,), {},
                              {"client.starttls.not_required"}),
    "SSL on the STARTTLS port": ((setting(port_number=143),),
                                 (port("imaps", port_number=143, tls=None,
                                       plaintext_on_implicit=("* OK",), greeting=(),
                                       greeting_ok=None), port("imap")),
                                 {}, {"client.ssl_on_starttls_port"}),
    "STARTTLS on the implicit port": ((setting(port_number=993, socket=STARTTLS),),
                                      (port("imap", port_number=993, tls_on_starttls_port=True,
                                            greeting=(), greeting_ok=None, tls=None),),
                                      {}, {"client.starttls_on_implicit_port"}),
    "broken": ((setting(),), (closed("imaps", PortState.REFUSED, error="refused"),), {},
               {"client.setting.broken"}),
    "insecure": ((setting(),), (port("imaps", tls=tls(version="TLSv1")),), {},
                 {"client.setting.insecure"}),
    "STARTTLS, SSL/TLS better": ((setting(port_number=143, socket=STARTTLS),),
                                 (_IMAP, _IMAPS), {}, {"client.better_available"}),
    "password auth offered": ((setting(authentication=("password-cleartext",)),), (_IMAPS,),
                              {}, set()),
    "OAuth2 not offered": ((setting(authentication=("OAuth2",)),), (_IMAPS,), {},
                           {"client.auth.not_offered"}),
    "outgoing without auth": ((setting(SMTP, 587, STARTTLS, role=Role.OUTGOING,
                                       authentication=("none",)),), (_SUBMISSION,), {},
                              {"client.auth.none"}),
    "password stored": ((setting(),), (_IMAPS,),
                        {"stored_passwords": ("signons",)}, {"client.profile.password_stored"}),
    "outgoing port unset": ((setting(),), (_IMAPS,), {"unset_outgoing_port": True},
                            {"client.profile.outgoing_port_unset"}),
    # discovery
    "discovered, clean": ((setting(method=Method.AUTOCONFIG),), (_IMAPS,), _DISCOVERY, set()),
    "autoconfig untrusted": ((_AUTO,), (_IMAPS,), {**_DISCOVERY, "steps": (
        DiscoveryStep(Method.AUTOCONFIG, "http://autoconfig.example.test/", Step.UNTRUSTED,
                      "http"),)},
        {"client.autoconfig.untrusted"}),
    "autoconfig invalid": ((_AUTO,), (_IMAPS,), {**_DISCOVERY, "steps": (
        DiscoveryStep(Method.AUTOCONFIG, "https://autoconfig.example.test/", Step.INVALID,
                      "xml"),)},
        {"client.autoconfig.invalid"}),
    "autoconfig for another domain": ((setting(method=Method.AUTOCONFIG),), (_IMAPS,), {
        **_DISCOVERY, "steps": (DiscoveryStep(
            Method.AUTOCONFIG, "https://autoconfig.example.test/", Step.FOUND, "ok",
            domains=("other.test",)),)}, {"client.autoconfig.domain_missing"}),
    "nothing found": ((), (), _DISCOVERY, {"client.discovery.nothing_found"}),
    "autoconfig and SRV disagree": ((setting(method=Method.AUTOCONFIG),
                                     setting(method=Method.SRV, host="srv.example.test")),
                                    (_IMAPS,), _DISCOVERY,
                                    {"client.discovery.disagree", "client.setting.broken",
                                     "client.pick.insecure"}),
    "a client would pick plaintext": ((setting(port_number=143, socket=PLAIN,
                                               method=Method.AUTOCONFIG),),
                                      (_IMAP_PLAIN_ONLY,), _DISCOVERY,
                                      {"client.plaintext", "client.pick.insecure"}),
}


@pytest.mark.parametrize(("settings", "observations", "facts", "expected"), CASES.values(),
                         ids=CASES.keys())
def test_client_checks(settings: tuple[ServerSetting, ...],
                       observations: tuple[PortObservation, ...], facts: dict[str, object],
                       expected: set[str]) -> None:
    assert judged(settings, observations, **facts) == expected


def case_ids() -> set[str]:
    return {i for *_x, expected in CASES.values() for i in expected}
