"""No probe verdict contradicts the findings, on every variant the test servers offer.

Every boolean option of the SMTP, IMAP and POP3 test servers flipped from its default (one
server each, plus the defaults; SMTP both as submission and as the MX on port 25 with
--relay-test), all checked in one deep run per protocol. For each port and each STARTTLS probe:
``failed`` <=> the probe's finding is reported for that port; ``inconclusive`` <=> a
``starttls.probe_inconclusive`` names it. A JSON that says ``failed`` where the report finds
nothing (Dovecot's bare ``SASL`` before STLS was one) is a contradiction the user sees.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from typing import Any

import pytest

from mailtls.testing import TestPKI
from mailtls.testing.servers import IMAPOptions, POP3Options, ServerOptions, SMTPOptions
from tests.security.security_helpers import STARTERS
from tests.verdicts import contradictions

OPTIONS = {"smtp": SMTPOptions, "imap": IMAPOptions, "pop3": POP3Options}
NOT_STARTTLS = {"implicit_tls"}  # a variant without STARTTLS has no STARTTLS probes to judge

def variants(proto: str) -> list[dict[str, bool]]:
    """The defaults, then each boolean option flipped on its own."""
    out: list[dict[str, bool]] = [{}]
    for f in dataclasses.fields(OPTIONS[proto]):
        if f.type in (bool, "bool") and f.name not in NOT_STARTTLS:
            out.append({f.name: not f.default})
    return out


def test_every_variant_is_covered() -> None:
    names = {name for proto in OPTIONS for v in variants(proto) for name in v}
    common = {f.name for f in dataclasses.fields(ServerOptions) if f.type in (bool, "bool")}
    assert common - NOT_STARTTLS <= names
    assert {"bare_sasl_before_tls", "user_before_tls", "logindisabled", "auth_before_tls",
            "open_relay", "keep_state_across_tls", "inject_vulnerable"} <= names
    assert sum(len(variants(p)) for p in OPTIONS) >= 25


SERVICE = {"smtp": "submission", "imap": "imap", "pop3": "pop3"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_no_verdict_contradicts_the_findings(proto: str, pki: TestPKI, secure: Any) -> None:
    label_of: dict[int, str] = {}
    services: list[str] = []
    with ExitStack() as stack:
        for options in variants(proto):
            server = stack.enter_context(STARTERS[proto](pki, **options))
            label_of[server.port] = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"
            services.append(f"{SERVICE[proto]}={server.port}")
            if proto == "smtp":  # the same server as the MX too (other probes run there)
                services.append(f"smtp={server.port}")
        run = secure(*services, extra=("--relay-test", "--max-connections", "12",
                                       "--timeout", "240"))
    assert len(run.run.endpoints) == len(services)
    problems: list[str] = []
    for endpoint in run.run.endpoints:
        where = f"{endpoint['service']}:{endpoint['port']} ({label_of[endpoint['port']]})"
        problems += contradictions(where, proto, endpoint, [
            f for f in run.run.findings if f.get("endpoint") == endpoint["endpoint"]])
    assert problems == []
