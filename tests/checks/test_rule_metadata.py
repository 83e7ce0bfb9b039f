"""Each rule states its scope and stage (checks/rules.py). They used to be inferred from id
prefixes; this test keeps that inference, frozen, as the reference the stated values must
equal, so moving the metadata onto the rules changed no JUnit/Prometheus output."""

from __future__ import annotations

import pytest

from mailtls.checks import rules as R
from mailtls.model import ALL_SERVICES, Severity

# --- the former inference, verbatim (only the probe ids spelled out) -------------------------
_ENDPOINT_SCOPES = ("port", "session", "tls", "cert", "starttls", "service", "smtp", "imap", "pop3",
                    "ldap", "ftp", "nntp", "http")
_PROTOCOL_SCOPES = ("smtp", "imap", "pop3", "ldap", "ftp", "nntp", "http")
_STARTTLS_ONLY = ("tls.implicit_on_starttls_port", "imap.preauth")
_STARTTLS_ONLY_SUFFIXES = (".starttls.not_offered", ".starttls.refused", ".auth.plaintext_offered",
                           ".starttls.command_injection", ".auth.plaintext_accepted",
                           ".starttls.state_kept", ".alert_in_plaintext")
_IMPLICIT_ONLY = ("tls.plaintext_on_implicit_port", "service.no_implicit_tls")
_SERVICE_ONLY: dict[str, tuple[str, ...]] = {
    "smtp.auth.not_offered": ("submission", "submissions"),
    "smtp.port25.blocked_from_here": ("smtp",),
    "smtp.port25.filtered_at_server": ("smtp",),
    "smtp.port25.intercepted": ("smtp",),
    "smtp.port25.masked": ("smtp",),
    "smtp.starttls.not_enforced": ("submission",),
    "smtp.starttls.required_on_mx": ("smtp",),
    "smtp.open_relay": ("smtp",),
    "ftp.data.unprotected": ("ftp",),
    "http.redirect.missing": ("http",),
    "http.hsts.on_plaintext": ("http",),
    "http.hsts.missing": ("https",),
    "http.hsts.invalid": ("https",),
    "http.hsts.short_max_age": ("https",),
}
_REACHABILITY_IDS = (
    "port.refused", "port.filtered", "port.unreachable", "port.not_tested",
    "smtp.port25.blocked_from_here", "smtp.port25.filtered_at_server",
)
_ENUMERATION_PREFIXES = (
    "tls.version.ssl_accepted", "tls.version.legacy_accepted", "tls.version.no_tls12",
    "tls.scan.", "tls.cipher", "tls.dh.", "tls.renegotiation.", "tls.profile.",
    "tls.compression", "tls.fallback_scsv.", "tls.ocsp.", "cert.must_staple.",
)
_TLS_SESSION_PREFIXES = ("cert.", "tls.version.")
_SECURITY_PROBE_IDS = (
    "smtp.starttls.command_injection", "imap.starttls.command_injection",
    "pop3.starttls.command_injection", "ftp.starttls.command_injection",
    "nntp.starttls.command_injection", "smtp.auth.plaintext_accepted",
    "imap.auth.plaintext_accepted", "pop3.auth.plaintext_accepted",
    "ftp.auth.plaintext_accepted", "nntp.auth.plaintext_accepted",
    "ldap.auth.plaintext_accepted", "smtp.starttls.not_enforced", "smtp.starttls.state_kept",
    "smtp.starttls.required_on_mx", "smtp.open_relay", "starttls.probe_inconclusive",
    "ftp.data.unprotected",
)


def inferred_stage(rule_id: str) -> str:
    if rule_id in _REACHABILITY_IDS:
        return "reach"
    if rule_id.startswith(_ENUMERATION_PREFIXES) or rule_id in _SECURITY_PROBE_IDS:
        return "enumeration"
    if rule_id.startswith(_TLS_SESSION_PREFIXES):
        return "tls"
    return "session"


def inferred_applies(rule_id: str, service: str, protocol: str, tls_mode: str) -> bool:
    first = rule_id.split(".", 1)[0]
    if first not in _ENDPOINT_SCOPES:
        return False
    if first in _PROTOCOL_SCOPES and first != protocol:
        return False
    if rule_id in _SERVICE_ONLY:
        return service in _SERVICE_ONLY[rule_id]
    starttls_only = rule_id in _STARTTLS_ONLY or rule_id.startswith("starttls.") or (
        first in _PROTOCOL_SCOPES and rule_id.endswith(_STARTTLS_ONLY_SUFFIXES)
    )
    if starttls_only:
        return tls_mode == "starttls"
    if rule_id in _IMPLICIT_ONLY:
        return tls_mode == "implicit"
    return True


# --- the stated values equal it --------------------------------------------------------------


@pytest.mark.parametrize("rule_id", list(R.RULES))
def test_stated_stage_and_scope_equal_the_former_inference(rule_id: str) -> None:
    assert R.rule_stage(rule_id) == R.RULES[rule_id].stage == inferred_stage(rule_id)
    for s in ALL_SERVICES.values():
        args = (s.name, s.protocol.value, s.tls_mode.value)
        assert R.rule_applies(rule_id, *args) == inferred_applies(rule_id, *args), (rule_id, args)
    assert (R.RULES[rule_id] in R.host_rules()) == rule_id.startswith("host.")


def test_applicable_rules_per_service_are_unchanged() -> None:
    for s in ALL_SERVICES.values():
        args = (s.name, s.protocol.value, s.tls_mode.value)
        assert [r.id for r in R.applicable_rules(*args)] == [
            i for i in R.RULES if inferred_applies(i, *args)]


def test_every_rule_states_its_metadata() -> None:
    """``_rule`` refuses a rule without scope= and stage= (no silent default)."""
    with pytest.raises(AssertionError, match="scope= and stage="):
        R._rule("x.test", Severity.INFO, "t", "", "")
    assert "x.test" not in R.RULES
