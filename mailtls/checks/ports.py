"""Judge the other secure ports of a mail host (LDAP, FTP, NNTP, HTTP). Pure.

The session, TLS, enumeration and certificate checks are the mail ports' own (``judge.py``
runs them, ``tlsparams.py``); what differs is how TLS starts and the protocol's own defects:

=================  ================================================================
port               findings of its own
=================  ================================================================
ldap, ftp, nntp    ``<p>.starttls.not_offered`` / ``.refused``, plaintext after the
                   go-ahead, TLS on the plaintext port, ``nntp.starttls.advertised_after
                   _tls``, ``nntp.auth.plaintext_offered`` (AUTHINFO USER before TLS);
                   the probes: ``<p>.starttls.command_injection`` (ftp, nntp),
                   ``<p>.auth.plaintext_accepted``, ``ftp.data.unprotected``
ldaps, ftps, ...   plaintext on the implicit port, the handshake failing
http (80)          ``http.redirect.missing`` (no redirect to https://),
                   ``http.hsts.on_plaintext``
https (443)        ``http.hsts.missing`` / ``.invalid`` / ``.short_max_age``
=================  ================================================================
"""

from __future__ import annotations

import re

from mailtls.checks import rules as R
from mailtls.checks.common import port_label, where
from mailtls.checks.security import _unanswered
from mailtls.model import (
    Finding,
    PortObservation,
    ProbeVerdict,
    Protocol,
    Severity,
    StopKind,
    TLSMode,
)

# RFC 6797 §11.2 leaves the value to the operator; 180 days is the floor the common guides
# (and browsers' preload lists, at a year) agree is long enough to span the gaps between visits.
HSTS_MIN_SECONDS = 180 * 86400
_DIRECTIVE = re.compile(
    r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;\s]*))?\s*'
)


def judge_other_port(obs: PortObservation) -> list[Finding]:
    """The findings of one open LDAP/FTP/NNTP/HTTP port that are its own (``judge.judge_port``
    adds the session, TLS, enumeration and certificate ones)."""
    out: list[Finding] = []
    out.extend(_upgrade(obs))
    out.extend(_login_offered(obs))
    out.extend(_probes(obs))
    if obs.endpoint.service.protocol is Protocol.HTTP:
        out.extend(_http(obs))
    return out


def _transcript_tail(obs: PortObservation, n: int = 4) -> list[str]:
    return [f"{t.direction.value}: {t.text}" for t in obs.transcript[-n:]]


def silent_first_request(obs: PortObservation) -> list[Finding]:
    """Where the client speaks first (LDAP, HTTP) a server that stays silent did not withhold
    a greeting, it left the first request unanswered (instead of ``session.no_greeting``)."""
    if obs.error_kind is StopKind.GREETING_TIMEOUT and obs.endpoint.service.protocol in (
        Protocol.LDAP, Protocol.HTTP
    ):
        first = "the root DSE search" if obs.endpoint.service.protocol is Protocol.LDAP \
            else "HEAD /"
        return [R.SESSION_BROKEN.finding(
            f"{port_label(obs)} accepted the connection but did not answer {first}: "
            f"{obs.error}", evidence=_transcript_tail(obs), **where(obs))]
    return []


def _word(obs: PortObservation) -> str:
    return {Protocol.LDAP: "StartTLS", Protocol.FTP: "AUTH TLS"}.get(
        obs.endpoint.service.protocol, "STARTTLS")


def _upgrade(obs: PortObservation) -> list[Finding]:
    """How TLS starts: implicit from the first byte, or the protocol's own upgrade."""
    service = obs.endpoint.service
    proto = service.protocol.value
    label, wo = port_label(obs), where(obs)
    word = _word(obs)
    if service.tls_mode is TLSMode.IMPLICIT:
        if obs.plaintext_on_implicit:
            return [R.PLAINTEXT_ON_IMPLICIT_PORT.finding(
                f"{label} speaks plaintext instead of starting TLS",
                evidence=obs.plaintext_on_implicit, **wo)]
        if obs.tls_error:
            return [R.TLS_HANDSHAKE_FAILED.finding(
                f"{label}: {obs.tls_error}", evidence=_transcript_tail(obs), **wo)]
        return []
    if service.tls_mode is TLSMode.NONE:
        return []
    if obs.tls_on_starttls_port:
        return [R.TLS_ON_STARTTLS_PORT.finding(
            f"{label} sent no greeting but completed a TLS handshake: it serves implicit TLS "
            f"where clients expect plaintext and {word}", evidence=_transcript_tail(obs), **wo)]
    if obs.capabilities_before is None and obs.starttls_offered is None:
        return []  # the session ended before: reported by _session
    out: list[Finding] = []
    if not obs.starttls_offered:
        return [R.STARTTLS_NOT_OFFERED[proto].finding(
            f"{label} does not offer {word}: the session stays in plaintext",
            evidence=obs.capabilities_reply or obs.greeting, **wo)]
    if obs.starttls_accepted is False:
        return [R.STARTTLS_REFUSED[proto].finding(
            f"{label} advertises {word} but refuses it: {' '.join(obs.starttls_reply)}",
            evidence=obs.starttls_reply, **wo)]
    if obs.data_after_go_ahead:
        out.append(R.STARTTLS_DATA_AFTER_GO_AHEAD.finding(
            f"{label} sent {len(obs.data_after_go_ahead)} plaintext byte(s) after its {word} "
            "go-ahead", evidence=[*obs.starttls_reply, repr(obs.data_after_go_ahead[:200])],
            **wo))
    if obs.starttls_accepted and obs.tls is None and obs.tls_error:
        out.append(R.TLS_HANDSHAKE_FAILED.finding(
            f"{label} accepted {word} but the handshake failed: {obs.tls_error}",
            evidence=[*obs.starttls_reply, obs.tls_error], **wo))
    if (
        service.protocol is Protocol.NNTP
        and obs.tls is not None
        and obs.capabilities_after is not None
        and any(c.split()[:1] == ["STARTTLS"] for c in obs.capabilities_after)
    ):
        out.append(R.STARTTLS_AFTER_TLS["nntp"].finding(
            f"{label} still advertises STARTTLS after the TLS handshake",
            evidence=obs.capabilities_after_reply, **wo))
    return out


def _login_offered(obs: PortObservation) -> list[Finding]:
    """NNTP: AUTHINFO USER listed before STARTTLS (FTP and LDAP do not advertise logins)."""
    caps = obs.capabilities_before
    if obs.endpoint.service.protocol is not Protocol.NNTP or caps is None:
        return []
    offers = [c for c in caps if c.split()[:1] == ["AUTHINFO"] and "USER" in c.upper().split()]
    if not offers:
        return []
    return [R.PLAINTEXT_AUTH["nntp"].finding(
        f"{port_label(obs)} offers {offers[0]} before STARTTLS",
        evidence=obs.capabilities_reply, **where(obs))]


def _probes(obs: PortObservation) -> list[Finding]:
    out: list[Finding] = []
    proto = obs.endpoint.service.protocol.value
    label, wo = port_label(obs), where(obs)
    by_name = {p.name: p for p in obs.security}
    word = _word(obs)
    injection = by_name.get("command_injection")
    if injection is not None and injection.verdict is ProbeVerdict.FAILED:
        out.append(R.COMMAND_INJECTION[proto].finding(
            f"{label} runs commands sent in plaintext together with {word} inside the TLS "
            f"session: {injection.reason}", evidence=injection.evidence, **wo))
    elif (injection is not None and injection.detail == "plaintext_answer"
          and not obs.data_after_go_ahead):
        out.append(R.STARTTLS_DATA_AFTER_GO_AHEAD.finding(
            f"{label} answered a command pipelined after {word} in plaintext, after its "
            "go-ahead", evidence=injection.evidence, severity=Severity.WARN, **wo))
    logins = [by_name[n] for n in ("plaintext_login", "plaintext_bind")
              if n in by_name and by_name[n].verdict is ProbeVerdict.FAILED]
    if logins:
        out.append(R.PLAINTEXT_ACCEPTED[proto].finding(
            f"{label} processes logins without TLS: " + "; ".join(p.reason for p in logins),
            evidence=[e for p in logins for e in p.evidence], **wo))
    data = by_name.get("data_protection")
    if data is not None and data.verdict is ProbeVerdict.FAILED:
        out.append(R.FTP_DATA_UNPROTECTED.finding(f"{label}: {data.reason}",
                                                  evidence=data.evidence, **wo))
    for probe in obs.security:
        out.extend(_unanswered(obs, probe))
    return out


# --- HTTP: the redirect on 80, HSTS on 443 (RFC 6797) ----------------------------------------


def _fields(lines: tuple[str, ...] | None, name: str) -> list[str]:
    prefix = f"{name}:"
    return [c[len(prefix):].strip() for c in lines or () if c.lower().startswith(prefix)]


def _status(lines: tuple[str, ...] | None) -> int | None:
    if not lines:
        return None
    parts = lines[0].split()
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith("HTTP/") and \
        parts[1].isdigit() else None


def parse_hsts(value: str) -> tuple[int | None, dict[str, str], str | None]:
    """(max-age, directives, problem) of one Strict-Transport-Security value (RFC 6797 §6.1):
    directive names are case-insensitive, none may repeat, max-age is required."""
    directives: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        match = _DIRECTIVE.fullmatch(part)
        if match is None:
            return None, directives, f"unparsable directive {part.strip()!r:.60}"
        name = match.group(1).lower()
        if name in directives:
            return None, directives, f"directive {name} given twice"
        directives[name] = (match.group(2) or "").strip('"')
    raw_age = directives.get("max-age")
    if raw_age is None:
        return None, directives, "no max-age directive"
    if not raw_age.isdigit() or len(raw_age) > 12:
        return None, directives, f"max-age is not a number of seconds: {raw_age!r:.40}"
    return int(raw_age), directives, None


def _http(obs: PortObservation) -> list[Finding]:
    label, wo = port_label(obs), where(obs)
    out: list[Finding] = []
    if obs.endpoint.service.tls_mode is TLSMode.NONE:
        head = obs.capabilities_before
        if head is None:
            return []
        status = _status(head)
        locations = _fields(head, "location")
        target = locations[0] if locations else ""
        if not (status in (301, 302, 303, 307, 308) and target.lower().startswith("https://")):
            got = f"{status} to {target}" if target else f"{status} without a redirect"
            out.append(R.HTTP_NO_HTTPS_REDIRECT.finding(
                f"{label} answers HEAD / with {got}, not with a redirect to https://",
                evidence=obs.capabilities_reply, **wo))
        if _fields(head, "strict-transport-security"):
            out.append(R.HTTP_HSTS_ON_PLAINTEXT.finding(
                f"{label} sends Strict-Transport-Security over plaintext, where browsers "
                "ignore it", evidence=obs.capabilities_reply, **wo))
        return out
    head = obs.capabilities_after
    if obs.tls is None or head is None:
        return out
    values = _fields(head, "strict-transport-security")
    if not values:
        return [R.HTTP_HSTS_MISSING.finding(
            f"{label} sends no Strict-Transport-Security field",
            evidence=obs.capabilities_after_reply, **wo)]
    max_age, _directives, problem = parse_hsts(values[0])
    evidence = [f"Strict-Transport-Security: {v}" for v in values]
    if problem is not None:
        return [R.HTTP_HSTS_INVALID.finding(f"{label}: Strict-Transport-Security {problem}",
                                            evidence=evidence, **wo)]
    assert max_age is not None
    if max_age < HSTS_MIN_SECONDS:
        out.append(R.HTTP_HSTS_SHORT.finding(
            f"{label}: Strict-Transport-Security max-age={max_age} is "
            f"{max_age / 86400:.0f} day(s)" + (" (0 removes the policy)" if max_age == 0 else ""),
            evidence=evidence, **wo))
    return out
