"""Port 25 as seen from this network (outbound port 25 blocking, OP25B:
draft-akagiri-op25b-dynamicip): egress blocks told apart from servers
with control hosts, and signs that something on the path answers instead of the server.
Pure: observations in, findings out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailtls.checks import rules as R
from mailtls.checks.common import where
from mailtls.model import Finding, PortObservation, PortState, Protocol, Severity

_MASKED_KEYWORD = re.compile(r"X{4,}[A-Z]?")
_BLOCKED_STATES = (PortState.FILTERED, PortState.UNREACHABLE)


def _is_port25(obs: PortObservation) -> bool:
    return obs.endpoint.port == 25 and obs.endpoint.service.protocol is Protocol.SMTP


def _banner_text(line: str) -> str:
    """The text of a reply line after its code and separator ("220-x" / "220 x")."""
    return line[4:] if len(line) > 3 and line[:3].isdigit() else line


def masked_smtp(obs: PortObservation) -> list[str]:
    """Evidence that an SMTP-inspecting middlebox rewrote the dialogue on port 25: a banner of
    asterisks, EHLO keywords replaced by XXXX (Cisco ASA ESMTP inspection). Empty if none."""
    if not _is_port25(obs):
        return []
    evidence: list[str] = []
    if obs.greeting:
        text = _banner_text(obs.greeting[0])
        visible = text.replace(" ", "")
        if "****" in text and visible.count("*") * 2 >= len(visible):
            evidence.append(f"banner masked: {obs.greeting[0]}")
    masked = [
        cap for cap in obs.capabilities_before or ()
        if cap.split() and _MASKED_KEYWORD.fullmatch(cap.split()[0].upper())
    ]
    if masked:
        evidence.append(f"EHLO keywords masked: {', '.join(masked[:6])}")
        if not obs.starttls_offered:
            evidence.append("STARTTLS missing from the EHLO reply while other keywords are masked")
    return evidence


def controls_summary(controls: Sequence[PortObservation]) -> tuple[str | None, list[str]]:
    """"reached" when some control answered on 25, "blocked" when every one timed out or was
    unreachable; None when there are none or they do not tell (refused)."""
    if not controls:
        return None, []
    evidence = [f"control {c.endpoint.host} {c.endpoint.key}: {c.state.value}" for c in controls]
    if any(c.state is PortState.OPEN for c in controls):
        return "reached", evidence
    if all(c.state in _BLOCKED_STATES for c in controls):
        return "blocked", evidence
    return None, evidence


def filtered_port25(
    obs: PortObservation, others_open: Sequence[PortObservation],
    controls: Sequence[PortObservation], missing: Severity | None,
) -> list[Finding] | None:
    """The verdict on a port 25 that timed out, or None to leave it to the usual rules."""
    here = where(obs)
    verdict, control_evidence = controls_summary(controls)
    evidence = [obs.error or obs.state.value, *(f"{s.endpoint.key} open" for s in others_open),
                *control_evidence]
    if verdict == "blocked":
        return [R.PORT25_BLOCKED.finding(
            "port 25 timed out here and on every --port25-control host: port 25 appears "
            "blocked from this network, so this server's port 25 could not be tested",
            evidence=evidence, severity=Severity.UNKNOWN, **here)]
    if verdict == "reached":
        return [R.PORT25_FILTERED_AT_SERVER.finding(
            "port 25 timed out although a --port25-control host answers on 25 from here: the "
            "drop is at the server or its network, not on this side",
            evidence=evidence,
            severity=Severity.FAIL if obs.endpoint.requested else Severity.INFO, **here)]
    if others_open:
        return [R.PORT25_BLOCKED.finding(
            f"port 25 timed out while "
            f"{', '.join(str(s.endpoint.port) for s in others_open)} of the same address "
            "answer: port 25 is probably blocked from this network, not at the server",
            evidence=evidence, severity=missing, **here)]
    return None


def _banner_name(obs: PortObservation) -> str | None:
    if not obs.greeting:
        return None
    words = _banner_text(obs.greeting[0]).split()
    return words[0].lower().rstrip(".") if words else None


def interception(observations: Sequence[PortObservation]) -> list[Finding]:
    """Port 25 open, but its banner name or certificate differs from every other port of the
    same address (a transparent proxy answering on 25), or the dialogue is masked."""
    out: list[Finding] = []
    for obs in observations:
        if not _is_port25(obs) or obs.state is not PortState.OPEN:
            continue
        here = where(obs)
        masked = masked_smtp(obs)
        if masked:
            out.append(R.PORT25_MASKED.finding(
                "port 25 is rewritten on the way: "
                + "; ".join(masked) + " — an SMTP-inspecting firewall answers for the server",
                evidence=[*obs.greeting[:1], *obs.capabilities_reply[:8]], **here))
        others = [
            o for o in observations
            if o.endpoint.address == obs.endpoint.address and o.endpoint.port != 25
            and o.state is PortState.OPEN
        ]
        signs: list[str] = []
        evidence: list[str] = []
        mine = _banner_name(obs)
        smtp_names = {
            n for o in others if o.endpoint.service.protocol is Protocol.SMTP
            for n in [_banner_name(o)] if n
        }
        if mine and smtp_names and mine not in smtp_names:
            signs.append(f"its banner names {mine}, the other SMTP ports "
                         f"{', '.join(sorted(smtp_names))}")
            evidence.append(f"{obs.endpoint.key}: {obs.greeting[0]}")
            evidence.extend(f"{o.endpoint.key}: {o.greeting[0]}" for o in others
                            if o.endpoint.service.protocol is Protocol.SMTP and o.greeting)
        leaf = obs.tls.chain[0] if obs.tls and obs.tls.chain else None
        other_leaves = [o.tls.chain[0] for o in others if o.tls and o.tls.chain]
        if leaf and other_leaves and all(
            leaf.sha256_fingerprint != c.sha256_fingerprint and leaf.issuer != c.issuer
            for c in other_leaves
        ):
            signs.append("its certificate and issuer differ from those of every other port")
            evidence.append(f"{obs.endpoint.key}: {leaf.subject}, issuer {leaf.issuer}")
            evidence.extend(
                f"{o.endpoint.key}: {o.tls.chain[0].subject}, issuer {o.tls.chain[0].issuer}"
                for o in others if o.tls and o.tls.chain
            )
        if signs:
            # one difference can be a deliberate setup (a filter in front of 25); both are a
            # stronger sign of something else answering
            out.append(R.PORT25_INTERCEPTED.finding(
                "port 25 of this address answers unlike its other ports: " + "; ".join(signs),
                evidence=evidence, severity=None if len(signs) > 1 else Severity.INFO, **here))
    return out
