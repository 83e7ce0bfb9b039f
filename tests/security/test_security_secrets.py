"""No real secret ever crosses the network in plaintext: every probe against every server
variant, with a real account given to mailtls (--user, $MAILTLS_PASSWORD) all along.

Every test server records each credential line it receives OUTSIDE TLS
(``RunningServer.plaintext_credentials``). Afterwards:

* the real password (and user name) is nowhere in those records, in any encoding;
* a server that did not invite a login before TLS (LOGINDISABLED, no USER, no AUTH) received
  nothing at all;
* a server that did received only made-up credentials ("mailtls-probe-...") or the "*" that
  cancels a SASL exchange.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pytest

from mailtls.model.credentials import PASSWORD_ENV
from mailtls.probes.security import DUMMY_PREFIX
from mailtls.testing import (
    PASSWORD,
    USERNAME,
    RunningServer,
    TestPKI,
    start_imap,
    start_pop3,
    start_smtp,
)

# (options, does the server invite a login before TLS?)
SMTP_VARIANTS: list[tuple[dict[str, Any], bool]] = [
    ({}, False),
    ({"auth_before_tls": True}, True),
    ({"auth_advertised_before_tls": True}, True),
    ({"require_starttls": True}, False),
    ({"auth_required": False}, False),
    ({"auth_required": False, "keep_state_across_tls": True}, False),
    ({"auth_required": False, "open_relay": True}, False),
    ({"auth_required": False, "greylist": True}, False),
    ({"inject_vulnerable": True}, False),
    ({"starttls": False}, False),
    ({"starttls_refused": True}, False),
    ({"starttls_advertised_after_tls": True}, False),
    ({"auth_before_tls": True, "inject_vulnerable": True, "keep_state_across_tls": True,
      "auth_required": False, "open_relay": True}, True),
]
IMAP_VARIANTS: list[tuple[dict[str, Any], bool]] = [
    ({}, False),
    ({"logindisabled": False}, True),
    ({"logindisabled": True, "hide_logindisabled": True}, True),
    ({"auth_plain_before_tls": True}, True),
    ({"preauth": True}, False),
    ({"alert_greeting": "maintenance"}, False),
    ({"inject_vulnerable": True}, False),
    ({"starttls": False}, False),
    ({"starttls_refused": True}, False),
    ({"logindisabled": False, "auth_plain_before_tls": True, "inject_vulnerable": True}, True),
]
POP3_VARIANTS: list[tuple[dict[str, Any], bool]] = [
    ({}, False),
    ({"user_before_tls": True}, True),
    ({"sasl_plain_before_tls": True}, True),
    ({"capa": False}, True),  # no CAPA: USER is tried, as a client would
    ({"inject_vulnerable": True}, False),
    ({"starttls": False}, False),
    ({"starttls_refused": True}, False),
    ({"user_before_tls": True, "sasl_plain_before_tls": True, "inject_vulnerable": True}, True),
]
Variants = list[tuple[dict[str, Any], bool]]
GROUPS: dict[str, tuple[Callable[..., RunningServer], tuple[str, ...], Variants]] = {
    "smtp": (start_smtp, ("smtp", "submission"), SMTP_VARIANTS),
    "imap": (start_imap, ("imap",), IMAP_VARIANTS),
    "pop3": (start_pop3, ("pop3",), POP3_VARIANTS),
}


def _forms(secret: str) -> list[str]:
    """The ways a secret could appear in a credential line."""
    plain = f"\0{USERNAME}\0{secret}"
    return [secret, base64.b64encode(secret.encode()).decode(),
            base64.b64encode(plain.encode()).decode()]


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_no_real_secret_in_plaintext(
    group: str, pki: TestPKI, secure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, services, variants = GROUPS[group]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # the real account is right there for the taking
    with ExitStack() as stack:
        servers = [(stack.enter_context(start(pki, **options)), options, invited)
                   for options, invited in variants]
        plan = [f"{service}={server.port}" for server, _, _ in servers for service in services]
        run = secure(*plan, extra=("--relay-test", "--user", USERNAME, "--max-connections", "8",
                                   "--timeout", "90"))
        received = [(list(server.plaintext_credentials), options, invited)
                    for server, options, invited in servers]

    # Every probe ran against every server (PREAUTH has no plaintext dialogue to probe).
    for endpoint in run.run.endpoints:
        assert endpoint["state"] == "open" and endpoint["error_kind"] != "deadline", endpoint
        if not endpoint["imap_preauth"]:
            assert len(endpoint["security"]) >= 4, endpoint["endpoint"]
    assert sum(1 for e in run.run.endpoints if e["security"]) >= len(variants) - 1

    for credentials, options, invited in received:
        for line in credentials:
            for form in _forms(PASSWORD):
                assert form not in line, (options, line)
            assert USERNAME not in line.split(), (options, line)
        if invited:
            assert all(DUMMY_PREFIX in line or line == "*" for line in credentials), \
                (options, credentials)
        else:
            assert credentials == [], (options, credentials)
    # ... and the probes did test the servers that invited it,
    assert any(credentials for credentials, _, invited in received if invited)
    # while the real password was in play: sent by the --user login test, inside TLS only.
    assert any(e["login"] and e["login"]["sent"] and e["login"]["tls_version"]
               for e in run.run.endpoints)
