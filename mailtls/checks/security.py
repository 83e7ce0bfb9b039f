"""Judge the STARTTLS security probes (``PortObservation.security``) and the plaintext [ALERT]
into findings. Pure: the probes recorded the facts, this decides what they mean.

=====================  ================================================================
probe verdict          finding
=====================  ================================================================
command_injection      failed: ``<proto>.starttls.command_injection`` (fail); passed with
                       a plaintext answer: ``starttls.data_after_go_ahead`` (warn), unless
                       the basic probe already reported plaintext after the go-ahead
starttls_enforced      failed: ``smtp.starttls.not_enforced`` (warn)
starttls_not_required  failed: ``smtp.starttls.required_on_mx`` (info)
plaintext_login/_auth  failed (either): ``<proto>.auth.plaintext_accepted`` (fail)
state_reset            failed: ``smtp.starttls.state_kept`` (fail)
open_relay             failed: ``smtp.open_relay`` (fail)
capability_change      nothing: a login offered before TLS is ``<proto>.auth.plaintext_offered``
any                    inconclusive: ``starttls.probe_inconclusive`` (info; unknown for
                       open_relay, which the user asked for, also when not testable)
=====================  ================================================================
"""

from __future__ import annotations

import re

from mailtls.checks import rules as R
from mailtls.checks.common import port_label, where
from mailtls.model import (
    Finding,
    PortObservation,
    PortState,
    ProbeVerdict,
    Protocol,
    SecurityProbe,
    Severity,
    TLSMode,
)

_ALERT = re.compile(r"^\*\s+(OK|NO|BAD|PREAUTH|BYE)\s+\[ALERT\]", re.IGNORECASE)
_OPT_IN = ("open_relay",)  # probes the user asked for: an unanswered question is "unknown"


def judge_security(obs: PortObservation) -> list[Finding]:
    if obs.state is not PortState.OPEN or obs.endpoint.service.tls_mode is not TLSMode.STARTTLS:
        return []
    out = _alert(obs)
    by_name = {p.name: p for p in obs.security}
    proto = obs.endpoint.service.protocol.value
    label = port_label(obs)
    wo = where(obs)
    word = "STLS" if obs.endpoint.service.protocol is Protocol.POP3 else "STARTTLS"

    injection = by_name.get("command_injection")
    if injection is not None and injection.verdict is ProbeVerdict.FAILED:
        out.append(R.COMMAND_INJECTION[proto].finding(
            f"{label} runs commands sent in plaintext together with {word} inside the TLS "
            f"session: {injection.reason}", evidence=injection.evidence, **wo))
    elif (
        injection is not None
        and injection.detail == "plaintext_answer"
        and not obs.data_after_go_ahead
    ):
        out.append(R.STARTTLS_DATA_AFTER_GO_AHEAD.finding(
            f"{label} answered a command pipelined after {word} in plaintext, after its "
            "go-ahead (not inside TLS, but a client could take the answer for TLS data)",
            evidence=injection.evidence, severity=Severity.WARN, **wo))

    enforced = by_name.get("starttls_enforced")
    if enforced is not None and enforced.verdict is ProbeVerdict.FAILED:
        out.append(R.SMTP_NOT_ENFORCED.finding(
            f"{label} accepts a mail transaction before STARTTLS: {enforced.reason}",
            evidence=enforced.evidence, **wo))

    mx = by_name.get("starttls_not_required")
    if mx is not None and mx.verdict is ProbeVerdict.FAILED:
        out.append(R.SMTP_REQUIRED_ON_MX.finding(
            f"{label} requires STARTTLS before it accepts mail: {mx.reason}",
            evidence=mx.evidence, **wo))

    logins = [by_name[n] for n in ("plaintext_login", "plaintext_auth")
              if n in by_name and by_name[n].verdict is ProbeVerdict.FAILED]
    if logins:
        out.append(R.PLAINTEXT_ACCEPTED[proto].finding(
            f"{label} processes logins before {word}: " + "; ".join(p.reason for p in logins),
            evidence=[e for p in logins for e in p.evidence], **wo))

    state = by_name.get("state_reset")
    if state is not None and state.verdict is ProbeVerdict.FAILED:
        out.append(R.SMTP_STATE_KEPT.finding(
            f"{label} keeps the plaintext mail transaction across STARTTLS: {state.reason}",
            evidence=state.evidence, **wo))

    relay = by_name.get("open_relay")
    if relay is not None and relay.verdict is ProbeVerdict.FAILED:
        out.append(R.SMTP_OPEN_RELAY.finding(f"{label} is an open relay: {relay.reason}",
                                             evidence=relay.evidence, **wo))

    for probe in obs.security:
        out.extend(_unanswered(obs, probe))
    return out


def _unanswered(obs: PortObservation, probe: SecurityProbe) -> list[Finding]:
    asked = probe.name in _OPT_IN
    if probe.verdict is ProbeVerdict.INCONCLUSIVE or (
        asked and probe.verdict is ProbeVerdict.NOT_TESTABLE
    ):
        how = "inconclusive" if probe.verdict is ProbeVerdict.INCONCLUSIVE else "not testable"
        return [R.PROBE_INCONCLUSIVE.finding(
            f"{port_label(obs)}: the {probe.name} probe was {how}: {probe.reason}",
            evidence=probe.evidence or [probe.reason],
            severity=Severity.UNKNOWN if asked else None, **where(obs))]
    return []


def _alert(obs: PortObservation) -> list[Finding]:
    if obs.endpoint.service.protocol is not Protocol.IMAP:
        return []
    plaintext = (*obs.greeting, *obs.capabilities_reply, *obs.starttls_reply)
    alerts = [line for line in plaintext if _ALERT.match(line)]
    if not alerts:
        return []
    return [R.IMAP_ALERT_IN_PLAINTEXT.finding(
        f"{port_label(obs)} sends an [ALERT] before TLS, which clients show to users as coming "
        "from the server", evidence=alerts, **where(obs))]
