"""Judge the login test (``--user``) of a port. Pure: reads ``PortObservation.login``."""

from __future__ import annotations

from mailtls.checks import rules as R
from mailtls.checks.common import port_label, where
from mailtls.model import Finding, LoginOutcome, PortObservation

_RULES = {
    LoginOutcome.SUCCEEDED: R.LOGIN_SUCCEEDED,
    LoginOutcome.FAILED: R.LOGIN_FAILED,
    LoginOutcome.REFUSED_UNVERIFIED: R.LOGIN_REFUSED_UNVERIFIED,
    LoginOutcome.NO_TLS: R.LOGIN_NO_TLS,
    LoginOutcome.UNSUPPORTED: R.LOGIN_UNSUPPORTED,
    LoginOutcome.ERROR: R.LOGIN_ERROR,
}


def judge_login(obs: PortObservation) -> list[Finding]:
    attempt = obs.login
    if attempt is None:
        return []
    evidence = [f"user {attempt.username!r}"]
    if attempt.mechanism:
        evidence.append(f"mechanism {attempt.mechanism}")
    if attempt.tls_version:
        certificate = "verified" if attempt.verified else "NOT verified"
        evidence.append(f"inside {attempt.tls_version}, certificate {certificate}")
    evidence.extend(f"S: {line}" for line in attempt.reply)
    label = port_label(obs)
    out = [
        _RULES[attempt.outcome].finding(
            f"{label}: login as {attempt.username!r}: {attempt.reason}",
            evidence=evidence,
            **where(obs),
        )
    ]
    if attempt.sent and not attempt.verified:
        out.append(
            R.LOGIN_UNVERIFIED_OVERRIDE.finding(
                f"{label}: the password for {attempt.username!r} was sent although the "
                "certificate was not verified (override given)",
                evidence=evidence,
                **where(obs),
            )
        )
    return out
