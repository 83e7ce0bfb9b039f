"""LDAP, FTP, NNTP and HTTP(S) observations -> finding ids (checks/ports.py), no sockets. The
same verdicts against real servers are in tests/interop/test_interop_ports.py; the HSTS parser
has its own tests in tests/check/test_ports_checks.py."""

from __future__ import annotations

import pytest

from mailtls.checks.judge import Judgement, judge_host
from mailtls.model import (
    ALL_SERVICES,
    Endpoint,
    PortObservation,
    PortState,
    ProbeVerdict,
    SecurityProbe,
)
from tests.checks.builders import HOST, NOW, tls


def obs(service: str, **changes: object) -> PortObservation:
    """A clean open port of ``service``: its upgrade offered and accepted (if it has one), TLS
    1.3 with a trusted certificate for HOST."""
    s = ALL_SERVICES[service]
    upgrade = s.tls_mode.value == "starttls"
    fields: dict[str, object] = {
        "greeting_ok": True, "capabilities_before": ("VERSION 2",) if upgrade else None,
        "starttls_offered": True if upgrade else None,
        "starttls_accepted": True if upgrade else None,
        "tls": tls() if s.tls_mode.value != "none" else None,
    }
    fields.update(changes)
    return PortObservation(Endpoint(HOST, "127.0.0.1", s.default_port, s), PortState.OPEN,
                           **fields)  # type: ignore[arg-type]


def judged(o: PortObservation) -> set[str]:
    return {f.id for f in judge_host(HOST, [o], Judgement(now=NOW))}


def probe(name: str, verdict: ProbeVerdict = ProbeVerdict.FAILED) -> SecurityProbe:
    return SecurityProbe(name, verdict, f"{name} {verdict.value}", ("C: x",))


_HTTP_OK = ("HTTP/1.1 301 Moved", f"location: https://{HOST}/")
_HSTS = "strict-transport-security: max-age=31536000"


def https(*head: str) -> PortObservation:
    lines = ("HTTP/1.1 200 OK", *head)
    return obs("https", capabilities_after=lines, capabilities_after_reply=lines)


CASES: dict[str, tuple[PortObservation, set[str]]] = {
    **{f"clean {s}": (obs(s), set()) for s in ("ldap", "ldaps", "ftp", "ftps", "nntp",
                                               "nntps")},
    "clean http": (obs("http", capabilities_before=_HTTP_OK, capabilities_reply=_HTTP_OK),
                   set()),
    "clean https": (https(_HSTS), set()),
    **{f"{s} upgrade not offered": (obs(s, starttls_offered=False, starttls_accepted=None,
                                        tls=None), {f"{s}.starttls.not_offered"})
       for s in ("ldap", "ftp", "nntp")},
    **{f"{s} upgrade refused": (obs(s, starttls_accepted=False, starttls_reply=("no",),
                                    tls=None), {f"{s}.starttls.refused"})
       for s in ("ldap", "ftp", "nntp")},
    "nntp STARTTLS after TLS": (obs("nntp", capabilities_after=("VERSION 2", "STARTTLS")),
                                {"nntp.starttls.advertised_after_tls"}),
    "nntp AUTHINFO USER before TLS": (obs("nntp", capabilities_before=(
        "VERSION 2", "AUTHINFO USER", "STARTTLS")), {"nntp.auth.plaintext_offered"}),
    "ftp command injection": (obs("ftp", security=(probe("command_injection"),)),
                              {"ftp.starttls.command_injection"}),
    "nntp command injection": (obs("nntp", security=(probe("command_injection"),)),
                               {"nntp.starttls.command_injection"}),
    "ftp plaintext login": (obs("ftp", security=(probe("plaintext_login"),)),
                            {"ftp.auth.plaintext_accepted"}),
    "nntp plaintext login": (obs("nntp", security=(probe("plaintext_login"),)),
                             {"nntp.auth.plaintext_accepted"}),
    "ldap plaintext bind": (obs("ldap", security=(probe("plaintext_bind"),)),
                            {"ldap.auth.plaintext_accepted"}),
    "ftp data unprotected": (obs("ftp", security=(probe("data_protection"),)),
                             {"ftp.data.unprotected"}),
    "ftp probes passed": (obs("ftp", security=tuple(
        probe(n, ProbeVerdict.PASSED) for n in ("command_injection", "plaintext_login",
                                                "data_protection"))), set()),
    "http without redirect": (obs("http", capabilities_before=("HTTP/1.1 200 OK",),
                                  capabilities_reply=("HTTP/1.1 200 OK",)),
                              {"http.redirect.missing"}),
    "HSTS on plaintext": (obs("http", capabilities_before=(*_HTTP_OK, _HSTS),
                              capabilities_reply=(*_HTTP_OK, _HSTS)), {"http.hsts.on_plaintext"}),
    "no HSTS": (https(), {"http.hsts.missing"}),
    "HSTS invalid": (https("strict-transport-security: preload"), {"http.hsts.invalid"}),
    "HSTS short": (https("strict-transport-security: max-age=600"), {"http.hsts.short_max_age"}),
}


@pytest.mark.parametrize(("observation", "expected"), CASES.values(), ids=CASES.keys())
def test_other_port_checks(observation: PortObservation, expected: set[str]) -> None:
    assert judged(observation) == expected


def case_ids() -> set[str]:
    return {i for _o, expected in CASES.values() for i in expected}
