"""Judge observations into findings. Pure: no sockets, no clock (``now`` is a parameter)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from mailtls.checks import rules as R
from mailtls.checks.common import port_label, where
from mailtls.checks.login import judge_login
from mailtls.checks.port25 import filtered_port25, interception, masked_smtp
from mailtls.checks.ports import judge_other_port, silent_first_request
from mailtls.checks.profiles import DEFAULT_PROFILE, PROFILES
from mailtls.checks.security import judge_security
from mailtls.checks.tlsparams import judge_certificate_crypto, judge_tls_scan
from mailtls.model import (
    IMPLICIT_SIBLING,
    Finding,
    PortObservation,
    PortState,
    Protocol,
    Severity,
    StopKind,
    TLSMode,
)
from mailtls.model.options import DEFAULTS
from mailtls.pki.x509 import days_left, describe, match_name
from mailtls.proto.capabilities import (
    PLAINTEXT_SASL as _PLAINTEXT_SASL,
    cleartext_login_offers,
    keywords as _keywords,
)

# OpenSSL verify codes that are about time, judged from the certificate's own dates instead.
_TIME_CODES = {9, 10}
_SELF_SIGNED_CODES = {18, 19}
_ISSUER_NOT_FOUND = {2, 20}  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)


@dataclass(frozen=True)
class Judgement:
    now: dt.datetime
    warn_days: int = DEFAULTS.warn_days
    profile: str = DEFAULT_PROFILE  # the yardstick for enumerated TLS parameters (--profile)
    # --port25-control hosts probed on port 25: tell an egress block from a server (OP25B)
    port25_controls: tuple[PortObservation, ...] = ()


def judge_host(
    name: str,
    observations: Sequence[PortObservation],
    judgement: Judgement,
    resolve_error: str | None = None,
) -> list[Finding]:
    if resolve_error is not None:
        return [
            R.HOST_UNRESOLVED.finding(
                f"{name} does not resolve: {resolve_error}",
                endpoint=None, service=None, evidence=[resolve_error],
            )
        ]
    findings: list[Finding] = []
    for obs in observations:
        findings.extend(judge_port(obs, observations, judgement))
    findings.extend(_implicit_alternatives(observations))
    findings.extend(interception(observations))
    if observations and not any(o.state is PortState.OPEN for o in observations):
        findings.append(
            R.HOST_NOTHING_OPEN.finding(
                f"none of the {len(observations)} mail port(s) of {name} answered",
                endpoint=None, service=None,
                evidence=[f"{o.endpoint.key} {o.state.value}" for o in observations],
            )
        )
    return findings


def judge_port(
    obs: PortObservation, siblings: Sequence[PortObservation], judgement: Judgement
) -> list[Finding]:
    if obs.state is not PortState.OPEN:
        return _reachability(obs, siblings, judgement.port25_controls)
    # LDAP, FTP, NNTP, HTTP (checks/ports.py): their own session start, upgrade and probes
    other = obs.endpoint.service.protocol not in (Protocol.SMTP, Protocol.IMAP, Protocol.POP3)
    out: list[Finding] = []
    out.extend((silent_first_request(obs) or _session(obs)) if other else _session(obs))
    out.extend(judge_other_port(obs) if other else _starttls(obs))
    out.extend(_tls(obs))
    out.extend(judge_tls_scan(obs, PROFILES[judgement.profile]))
    out.extend(_certificate(obs, judgement))
    out.extend(judge_certificate_crypto(obs))
    if other:
        return out
    out.extend(_plaintext_login(obs))
    out.extend(judge_login(obs))
    out.extend(judge_security(obs))
    return out


# --- helpers ---------------------------------------------------------------------------------


_where = where
_label = port_label




def _transcript_tail(obs: PortObservation, n: int = 4) -> list[str]:
    return [f"{t.direction.value}: {t.text}" for t in obs.transcript[-n:]]


# --- reachability ----------------------------------------------------------------------------


def _reachability(
    obs: PortObservation,
    siblings: Sequence[PortObservation],
    controls: Sequence[PortObservation] = (),
) -> list[Finding]:
    # A port the user named must be testable; a port of the default plan may simply not exist.
    missing = Severity.UNKNOWN if obs.endpoint.requested else None
    evidence = [obs.error or obs.state.value]
    if obs.state is PortState.REFUSED:
        return [R.PORT_REFUSED.finding(f"{_label(obs)} refused the connection: nothing listens",
                                       evidence=evidence, severity=missing, **_where(obs))]
    if obs.state is PortState.NOT_TESTED:
        return [R.PORT_NOT_TESTED.finding(f"{_label(obs)} was not tested: {obs.error}",
                                          evidence=evidence, **_where(obs))]
    if obs.state is PortState.UNREACHABLE:
        return [R.PORT_UNREACHABLE.finding(f"{_label(obs)} is unreachable: {obs.error}",
                                           evidence=evidence, severity=missing, **_where(obs))]
    # Filtered. On 25, when the same address answers on other ports, the classic explanation is
    # an outbound block on the tester's network, not a broken server (OP25B).
    others = [
        s for s in siblings
        if s.endpoint.address == obs.endpoint.address and s.endpoint.port != obs.endpoint.port
        and s.state is PortState.OPEN
    ]
    if obs.endpoint.port == 25:
        verdict = filtered_port25(obs, others, controls, missing)
        if verdict is not None:
            return verdict
    return [R.PORT_FILTERED.finding(f"{_label(obs)} is filtered: the connection attempt timed out",
                                    evidence=evidence, severity=missing, **_where(obs))]


# --- session ---------------------------------------------------------------------------------


def _session(obs: PortObservation) -> list[Finding]:
    kind = obs.error_kind
    if kind is StopKind.GREETING_TIMEOUT and not obs.tls_on_starttls_port:
        return [R.SESSION_NO_GREETING.finding(
            f"{_label(obs)} accepted the connection but sent no greeting",
            evidence=[obs.error or ""], **_where(obs))]
    if kind is StopKind.GREETING_REJECTED:
        return [R.SESSION_REJECTED.finding(
            f"{_label(obs)} refused the session: {' '.join(obs.greeting)[:200]}",
            evidence=obs.greeting, **_where(obs))]
    if kind is StopKind.INTERNAL:
        return [R.INTERNAL_ERROR.finding(
            f"{_label(obs)}: {obs.error}", evidence=_transcript_tail(obs), **_where(obs))]
    if kind is StopKind.REJECTED:
        return [R.SESSION_REJECTED.finding(
            f"{_label(obs)}: {obs.error}", evidence=_transcript_tail(obs), **_where(obs))]
    if kind is StopKind.PROTOCOL:
        return [R.SESSION_PROTOCOL_ERROR.finding(
            f"{_label(obs)}: {obs.error}", evidence=_transcript_tail(obs), **_where(obs))]
    if kind in (StopKind.CLOSED, StopKind.READ_TIMEOUT, StopKind.NETWORK, StopKind.DEADLINE,
                StopKind.INTERRUPTED):
        rule = (R.PORT_NOT_TESTED if kind in (StopKind.DEADLINE, StopKind.INTERRUPTED)
                else R.SESSION_BROKEN)
        return [rule.finding(f"{_label(obs)}: {obs.error}", evidence=_transcript_tail(obs),
                             **_where(obs))]
    return []


# --- STARTTLS and implicit TLS ------------------------------------------------------------------


def _starttls(obs: PortObservation) -> list[Finding]:
    service = obs.endpoint.service
    proto = service.protocol.value
    word = "STLS" if service.protocol is Protocol.POP3 else "STARTTLS"
    out: list[Finding] = []
    if service.tls_mode is TLSMode.IMPLICIT:
        if obs.plaintext_on_implicit:
            out.append(R.PLAINTEXT_ON_IMPLICIT_PORT.finding(
                f"{_label(obs)} speaks plaintext instead of starting TLS",
                evidence=obs.plaintext_on_implicit, **_where(obs)))
        elif obs.tls_error:
            out.append(R.TLS_HANDSHAKE_FAILED.finding(
                f"{_label(obs)}: {obs.tls_error}", evidence=_transcript_tail(obs), **_where(obs)))
        if obs.tls and obs.capabilities_after and obs.starttls_offered:
            out.append(R.STARTTLS_AFTER_TLS[proto].finding(
                f"{_label(obs)} advertises {word} although the session is already TLS",
                evidence=obs.capabilities_after_reply, **_where(obs)))
        return out

    if obs.tls_on_starttls_port:
        return [R.TLS_ON_STARTTLS_PORT.finding(
            f"{_label(obs)} sent no greeting but completed a TLS handshake: it serves implicit "
            "TLS where clients expect plaintext and STARTTLS",
            evidence=_transcript_tail(obs), **_where(obs))]
    if obs.preauth:
        out.append(R.IMAP_PREAUTH.finding(
            f"{_label(obs)} greets with PREAUTH before any TLS", evidence=obs.greeting,
            **_where(obs)))
    if obs.capabilities_before is None and obs.starttls_offered is None:
        return out  # the session ended before the capabilities: reported by _session
    if not obs.starttls_offered:
        evidence = obs.capabilities_reply or obs.greeting
        if not obs.preauth:
            masked = masked_smtp(obs)  # a middlebox may have stripped it (OP25B)
            out.append(R.STARTTLS_NOT_OFFERED[proto].finding(
                f"{_label(obs)} does not offer {word}: the session stays in plaintext"
                + (" (or a middlebox on the path stripped it: the dialogue is masked)"
                   if masked else ""),
                evidence=[*evidence, *masked], severity=Severity.UNKNOWN if masked else None,
                **_where(obs)))
        return out
    if obs.starttls_accepted is False:
        out.append(R.STARTTLS_REFUSED[proto].finding(
            f"{_label(obs)} advertises {word} but refuses it: {' '.join(obs.starttls_reply)}",
            evidence=obs.starttls_reply, **_where(obs)))
        return out
    if obs.data_after_go_ahead:
        out.append(R.STARTTLS_DATA_AFTER_GO_AHEAD.finding(
            f"{_label(obs)} sent {len(obs.data_after_go_ahead)} plaintext byte(s) after its "
            f"{word} go-ahead",
            evidence=[*obs.starttls_reply, repr(obs.data_after_go_ahead[:200])], **_where(obs)))
    if obs.starttls_accepted and obs.tls is None and obs.tls_error:
        out.append(R.TLS_HANDSHAKE_FAILED.finding(
            f"{_label(obs)} accepted {word} but the handshake failed: {obs.tls_error}",
            evidence=[*obs.starttls_reply, obs.tls_error], **_where(obs)))
    if obs.tls and obs.capabilities_after is not None and any(
        k in ("STARTTLS", "STLS") for k in _keywords(obs.capabilities_after)
    ):
        out.append(R.STARTTLS_AFTER_TLS[proto].finding(
            f"{_label(obs)} still advertises {word} after the TLS handshake",
            evidence=obs.capabilities_after_reply, **_where(obs)))
    return out


# --- TLS parameters --------------------------------------------------------------------------


def _tls(obs: PortObservation) -> list[Finding]:
    tls = obs.tls
    if tls is None or obs.tls_scan is not None:
        return []  # the enumeration judges versions with more evidence than one handshake
    out: list[Finding] = []
    evidence = [f"negotiated {tls.version} {tls.cipher}"]
    if tls.version in ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1"):
        out.append(R.TLS_LEGACY_VERSION.finding(
            f"{_label(obs)} negotiated {tls.version} although the client offered up to TLS 1.3",
            evidence=evidence, **_where(obs)))
    elif tls.version == "TLSv1.2":
        out.append(R.TLS_NO_TLS13.finding(
            f"{_label(obs)} chose TLS 1.2 although the client offered TLS 1.3",
            evidence=evidence, **_where(obs)))
    return out


# --- certificate -----------------------------------------------------------------------------


def _certificate(obs: PortObservation, judgement: Judgement) -> list[Finding]:
    tls = obs.tls
    if tls is None or not tls.chain:
        return []
    leaf = tls.chain[0]
    where = _where(obs)
    # An MX is reached by opportunistic senders that do not authenticate the server by default
    # (RFC 7672 §1.3); trust and name matter there only under MTA-STS or DANE.
    relaxed = Severity.WARN if obs.endpoint.service.name == "smtp" else None
    out: list[Finding] = []
    ver = tls.verification
    cert_line = describe(leaf)
    if not ver.trusted and ver.code not in _TIME_CODES:
        reason = ver.message or "verification failed"
        hint = ""
        incomplete = _chain_incomplete(obs, relaxed)
        if incomplete:
            hint = " (the chain sent is incomplete: cert.chain.incomplete)"
            out.extend(incomplete)
        out.append(R.CERT_UNTRUSTED.finding(
            f"{_label(obs)}: certificate not trusted by {ver.trust_store} store: {reason}{hint}",
            evidence=[f"OpenSSL verify error {ver.code}: {reason}", cert_line,
                      f"chain sent: {len(tls.chain)} certificate(s)"],
            severity=relaxed, **where))
    if leaf.self_signed or (ver.code in _SELF_SIGNED_CODES and len(tls.chain) == 1):
        out.append(R.CERT_SELF_SIGNED.finding(
            f"{_label(obs)}: the certificate is self-signed", evidence=[cert_line],
            severity=relaxed, **where))
    left = days_left(leaf, judgement.now)
    validity = f"valid {leaf.not_before:%Y-%m-%d %H:%M} .. {leaf.not_after:%Y-%m-%d %H:%M} UTC"
    if leaf.not_before > judgement.now:
        out.append(R.CERT_NOT_YET_VALID.finding(
            f"{_label(obs)}: the certificate is not valid before {leaf.not_before:%Y-%m-%d}",
            evidence=[validity, cert_line], **where))
    elif left < 0:
        out.append(R.CERT_EXPIRED.finding(
            f"{_label(obs)}: the certificate expired {-left:.0f} day(s) ago "
            f"({leaf.not_after:%Y-%m-%d})", evidence=[validity, cert_line], **where))
    elif left < judgement.warn_days:
        out.append(R.CERT_EXPIRING.finding(
            f"{_label(obs)}: the certificate expires in {left:.0f} day(s) "
            f"({leaf.not_after:%Y-%m-%d})", evidence=[validity, cert_line], **where))
    out.extend(_name(obs, relaxed))
    return out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _name(obs: PortObservation, relaxed: Severity | None) -> list[Finding]:
    assert obs.tls is not None
    leaf = obs.tls.chain[0]
    host = obs.endpoint.host
    where = _where(obs)
    match = match_name(leaf, host)
    if match.matched and match.legacy_cn:
        return [R.CERT_CN_ONLY.finding(f"{_label(obs)}: {match.reason}",
                                       evidence=[describe(leaf)], **where)]
    if match.matched:
        return []
    if _is_ip(host) and not leaf.ip_addresses:
        return [R.CERT_NAME_NOT_CHECKED.finding(
            f"{_label(obs)}: checked by address {host}, so the certificate name was not checked",
            evidence=[describe(leaf)], **where)]
    return [R.CERT_NAME_MISMATCH.finding(f"{_label(obs)}: {match.reason}",
                                         evidence=[describe(leaf)], severity=relaxed, **where)]


def _chain_incomplete(obs: PortObservation, relaxed: Severity | None) -> list[Finding]:
    """OpenSSL found no issuer (error 2/20) and the leaf's issuer is not among the certificates
    sent: the server leaves out its intermediate (RFC 8446 §4.4.2 / RFC 5246 §7.4.2: the
    certificate_list carries the chain up to, not necessarily including, the root)."""
    assert obs.tls is not None
    chain, ver = obs.tls.chain, obs.tls.verification
    leaf = chain[0]
    if ver.code not in _ISSUER_NOT_FOUND or leaf.self_issued:
        return []
    if any(c.subject == leaf.issuer for c in chain[1:]):
        return []  # the issuer was sent: what is missing is further up (a trust anchor)
    key_id = leaf.authority_key_id or "not stated in the certificate"
    sent = "; ".join(f"{i + 1}: {c.subject}" for i, c in enumerate(chain[:4]))
    return [R.CERT_CHAIN_INCOMPLETE.finding(
        f"{_label(obs)}: the chain sent is incomplete: the leaf's issuer {leaf.issuer} "
        f"(authority key id {key_id}) is neither sent by the server nor a trust anchor of the "
        f"{ver.trust_store} store",
        evidence=[f"leaf: {leaf.subject}", f"missing issuer: {leaf.issuer}",
                  f"authority key id: {key_id}",
                  f"chain sent: {len(chain)} certificate(s): {sent}",
                  f"OpenSSL verify error {ver.code}: {ver.message or 'issuer not found'}"],
        severity=relaxed, **_where(obs))]


# --- cleartext login ---------------------------------------------------------------------------


def _plaintext_login(obs: PortObservation) -> list[Finding]:
    service = obs.endpoint.service
    caps = obs.capabilities_before
    out: list[Finding] = []
    where = _where(obs)
    # the definition is shared with the capability_change probe, whose verdict must agree
    if (service.tls_mode is TLSMode.STARTTLS and caps is not None
            and cleartext_login_offers(service.protocol, caps)):
        kw = _keywords(caps)
        evidence = obs.capabilities_reply
        if service.protocol is Protocol.SMTP and "AUTH" in kw:
            plain = sorted(set(kw["AUTH"]) & _PLAINTEXT_SASL)
            out.append(R.PLAINTEXT_AUTH["smtp"].finding(
                f"{_label(obs)} offers AUTH {' '.join(kw['AUTH'])} before STARTTLS"
                + (f": {'/'.join(plain)} would send the password in plaintext" if plain else ""),
                evidence=evidence, **where))
        elif service.protocol is Protocol.IMAP and not obs.preauth:
            auth = sorted(k.split("=", 1)[1] for k in kw if k.startswith("AUTH="))
            problems = []
            if "LOGINDISABLED" not in kw:
                problems.append("LOGIN is not disabled (no LOGINDISABLED)")
            if set(auth) & _PLAINTEXT_SASL:
                problems.append(f"AUTH={'/AUTH='.join(sorted(set(auth) & _PLAINTEXT_SASL))} "
                                "advertised")
            if problems:
                out.append(R.PLAINTEXT_AUTH["imap"].finding(
                    f"{_label(obs)} before STARTTLS: {'; '.join(problems)}",
                    evidence=evidence, **where))
        elif service.protocol is Protocol.POP3:
            problems = []
            if "USER" in kw:
                problems.append("USER/PASS")
            sasl = set(kw.get("SASL", ())) & _PLAINTEXT_SASL
            if sasl:
                problems.append(f"SASL {' '.join(sorted(sasl))}")
            if problems:
                out.append(R.PLAINTEXT_AUTH["pop3"].finding(
                    f"{_label(obs)} offers {' and '.join(problems)} before STLS",
                    evidence=evidence, **where))
    if (
        service.name in ("submission", "submissions")
        and obs.tls is not None
        and obs.capabilities_after is not None
        and "AUTH" not in _keywords(obs.capabilities_after)
    ):
        out.append(R.SUBMISSION_NO_AUTH.finding(
            f"{_label(obs)} offers no AUTH mechanism under TLS",
            evidence=obs.capabilities_after_reply, **where))
    return out


# --- across ports ----------------------------------------------------------------------------


def _implicit_alternatives(observations: Sequence[PortObservation]) -> list[Finding]:
    """RFC 8314: a STARTTLS service should have an implicit-TLS twin on the same address."""
    out: list[Finding] = []
    by_key = {(o.endpoint.address, o.endpoint.service.name): o for o in observations}
    for (address, name), obs in by_key.items():
        twin_name = IMPLICIT_SIBLING.get(name)
        if twin_name is None or obs.state is not PortState.OPEN or not obs.greeting_ok:
            continue
        twin = by_key.get((address, twin_name))
        if twin is None:
            continue  # not part of this scan: say nothing
        if twin.state is PortState.OPEN and twin.tls is not None:
            continue
        out.append(R.NO_IMPLICIT_TLS.finding(
            f"{name} answers on port {obs.endpoint.port} but {twin_name} on port "
            f"{twin.endpoint.port} offers no working implicit TLS "
            f"({twin.error or twin.state.value})",
            endpoint=twin.endpoint.key, service=twin_name,
            evidence=[f"{obs.endpoint.key} {obs.state.value}",
                      f"{twin.endpoint.key} {twin.state.value}"
                      + (f": {twin.error}" if twin.error else "")]))
    return out
