"""Capabilities before and after TLS, and [ALERT] in a plaintext IMAP greeting."""

from __future__ import annotations

from typing import Any

import pytest

from mailtls.testing import TestPKI, start_imap
from tests.security.security_helpers import PROTOCOLS, SERVICE, STARTERS


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_login_only_after_tls_is_the_good_pattern(proto: str, pki: TestPKI, secure: Any) -> None:
    with STARTERS[proto](pki) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("capability_change")
    assert probe["verdict"] == "passed" and probe["detail"] == "login_after_tls_only"
    assert probe["connections"] == 0  # read from the basic probe
    assert any(line.startswith("only after TLS: ") for line in probe["evidence"])
    assert run.code == 0


@pytest.mark.parametrize(
    ("proto", "options"),
    [("smtp", {"auth_before_tls": True}), ("imap", {"logindisabled": False}),
     ("pop3", {"user_before_tls": True})],
)
def test_login_before_tls(proto: str, options: dict[str, Any], pki: TestPKI,
                          secure: Any) -> None:
    with STARTERS[proto](pki, **options) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("capability_change")
    assert probe["verdict"] == "failed" and probe["detail"] == "login_before_tls"
    # reported by the existing capability check, not twice
    assert len(run.findings(f"{proto}.auth.plaintext_offered")) == 1


def test_capabilities_not_testable_without_tls(pki: TestPKI, secure: Any) -> None:
    with start_imap(pki, starttls=False) as server:
        run = secure(f"imap={server.port}")
    assert run.probe("capability_change")["verdict"] == "not_testable"


def test_alert_in_plaintext_greeting(pki: TestPKI, secure: Any, mailtls: Any) -> None:
    with start_imap(pki, alert_greeting="Maintenance tonight, 02:00 UTC") as server:
        run = secure(f"imap={server.port}")
        quick = mailtls(f"imap={server.port}")  # a fact of the basic probe: also with --quick
    finding = run.finding("imap.alert_in_plaintext")
    assert finding["severity"] == "info"
    assert finding["evidence"] == ["* OK [ALERT] Maintenance tonight, 02:00 UTC"]
    assert "imap.alert_in_plaintext" in quick.ids
    assert run.code == 0


def test_no_alert_in_ordinary_greeting(pki: TestPKI, secure: Any) -> None:
    with start_imap(pki, greeting="says [ALERT] but only as text") as server:
        run = secure(f"imap={server.port}")
    assert "imap.alert_in_plaintext" not in run.ids
