"""Judge the enumerated TLS parameters (``PortObservation.tls_scan``) and the certificate's
keys and signatures. Pure: observations in, findings out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mailtls.checks import rules as R
from mailtls.checks.common import port_label, where
from mailtls.checks.profiles import PROFILES, Profile
from mailtls.model import CertificateInfo, Finding, PortObservation, Severity

if TYPE_CHECKING:
    from mailtls.tls.suites import CipherSuite

_SSL = ("SSLv2", "SSLv3")
_LEGACY_TLS = ("TLS 1.0", "TLS 1.1")
_TLS_ORDER = ("SSLv3", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
# A fallback to these is a downgrade worth guarding; TLS 1.3 -> 1.2 has its own sentinel.
_FALLBACK = ("SSLv3", "TLS 1.0", "TLS 1.1")
_WEAK_SIGNATURE = ("md5", "sha1", "md2")


def accepted_suites(obs: PortObservation) -> dict[str, list[CipherSuite]]:
    """version -> the accepted suites as table entries (unknown codes are skipped)."""
    out: dict[str, list[CipherSuite]] = {}
    if obs.tls_scan is None:
        return out
    # the suite table only with an enumeration to judge: a --quick check never builds it
    from mailtls.tls import suites as ciphersuites

    for version, names in obs.tls_scan.suites.items():
        if version == "SSLv2":
            continue  # SSLv2 cipher kinds are not TLS suites; the version alone is damning
        found = [s for n in names if (s := ciphersuites.by_iana_name(n)) is not None]
        if found:
            out[version] = found
    return out


def _suite_list(by_version: dict[str, list[CipherSuite]], pick: Iterable[CipherSuite]) -> list[str]:
    picked = {s.code for s in pick}
    lines = []
    for version, suites in by_version.items():
        names = [s.iana_name for s in suites if s.code in picked]
        if names:
            lines.append(f"{version}: {', '.join(names)}")
    return lines


def judge_tls_scan(obs: PortObservation, profile: Profile | None = None) -> list[Finding]:
    scan = obs.tls_scan
    if scan is None:
        return []
    profile = profile or PROFILES["mail"]
    at = where(obs)
    label = port_label(obs)
    out: list[Finding] = []
    accepted = [v for v, ok in scan.versions.items() if ok]
    evidence_versions = [f"{v}: {'accepted' if ok else 'refused' if ok is False else 'untested'}"
                         for v, ok in scan.versions.items()]

    ssl = [v for v in accepted if v in _SSL]
    if ssl:
        out.append(R.TLS_SSL_ACCEPTED.finding(
            f"{label} accepts {' and '.join(ssl)}", evidence=evidence_versions, **at))
    legacy = [v for v in accepted if v in _LEGACY_TLS]
    if legacy:
        out.append(R.TLS_LEGACY_ACCEPTED.finding(
            f"{label} accepts {' and '.join(legacy)}", evidence=evidence_versions, **at))
    # "Does not accept" needs a refusal seen; an untested version (None) proves nothing.
    if accepted and scan.versions.get("TLS 1.2") is False:
        sev = Severity.WARN if "TLS 1.3" in accepted else Severity.FAIL
        out.append(R.TLS_NO_TLS12.finding(
            f"{label} does not accept TLS 1.2", evidence=evidence_versions, severity=sev, **at))
    if accepted and scan.versions.get("TLS 1.3") is False:
        out.append(R.TLS_NO_TLS13.finding(
            f"{label} does not accept TLS 1.3", evidence=evidence_versions, **at))
    unknown = [v for v, ok in scan.versions.items() if ok is None and v != "SSLv2"]
    # Only a complete scan supports a verdict about what is absent (no forward secrecy at all).
    complete = not unknown and not [e for e in scan.errors if not e.startswith("SSLv2")]
    if unknown or scan.errors:
        limited = [e for e in scan.errors if e.startswith("rate limited")]
        out.append(R.TLS_SCAN_INCOMPLETE.finding(
            f"{label}: the version/suite scan is incomplete"
            + (f" ({', '.join(unknown)} not testable)" if unknown else "")
            + ("; the server rate limited it (not a TLS failure): retry later or with --slow"
               if limited else ""),
            evidence=[*limited, *(e for e in scan.errors if e not in limited)][:8], **at))

    by_version = accepted_suites(obs)
    every = [s for suites in by_version.values() for s in suites]
    broken = [s for s in every if s.is_null or s.is_anonymous or s.is_export or s.is_rc4
              or s.is_des]
    if broken:
        kinds = sorted({k for s in broken for k in _broken_kinds(s)})
        out.append(R.TLS_CIPHER_BROKEN.finding(
            f"{label} accepts {', '.join(kinds)} cipher suites",
            evidence=_suite_list(by_version, broken), **at))
    sweet32 = [s for s in every if s.is_3des or (s.is_64bit_block and s not in broken)]
    if sweet32:
        out.append(R.TLS_CIPHER_64BIT.finding(
            f"{label} accepts 64-bit block ciphers (3DES and the like: SWEET32)",
            evidence=_suite_list(by_version, sweet32), **at))
    static = [s for s in every if not s.forward_secret and s not in broken and not s.tls13]
    if static:
        out.append(R.TLS_CIPHER_NO_FS.finding(
            f"{label} accepts {len(static)} suite(s) without forward secrecy",
            evidence=_suite_list(by_version, static), **at))
    if complete and every and not any(s.forward_secret and s not in broken for s in every):
        out.append(R.TLS_NO_FS_AT_ALL.finding(
            f"{label} offers no forward-secret cipher suite",
            evidence=_suite_list(by_version, every), **at))
    if scan.dh_bits is not None and scan.dh_bits < 2048:
        out.append(R.TLS_DH_WEAK.finding(
            f"{label} uses a {scan.dh_bits}-bit DH group for DHE",
            evidence=[f"smallest DHE prime: {scan.dh_bits} bits"], **at))
    old_versions = [v for v in accepted if v in (*_SSL[1:], *_LEGACY_TLS, "TLS 1.2")]
    if old_versions and scan.secure_renegotiation is False:
        out.append(R.TLS_RENEGOTIATION_INSECURE.finding(
            f"{label} does not support secure renegotiation (RFC 5746)",
            evidence=[f"no renegotiation_info in the ServerHello ({', '.join(old_versions)})"],
            **at))
    client_order = [v for v, order in scan.server_order.items() if order is False]
    weak_offered = bool(broken or sweet32 or static)
    if client_order and weak_offered:
        out.append(R.TLS_CLIENT_ORDER.finding(
            f"{label} lets the client choose the suite ({', '.join(client_order)}) while it "
            "accepts weak ones", evidence=[f"{v}: client order" for v in client_order], **at))
    out.extend(_extra_probes(obs))

    if profile.name != "mail":
        out.extend(_profile_findings(obs, profile, accepted, by_version))
    return out


def _extra_probes(obs: PortObservation) -> list[Finding]:
    """Compression, TLS_FALLBACK_SCSV and OCSP stapling (the hellos after the enumeration)."""
    scan = obs.tls_scan
    assert scan is not None
    at = where(obs)
    label = port_label(obs)
    out: list[Finding] = []
    tls = [v for v in _TLS_ORDER if scan.versions.get(v)]
    legacy_hello = next((v for v in ("TLS 1.2", "TLS 1.1", "TLS 1.0") if v in tls), "TLS 1.2")
    if scan.compression:
        out.append(R.TLS_COMPRESSION.finding(
            f"{label} compresses TLS records when the client offers DEFLATE",
            evidence=[f"{legacy_hello} ClientHello offering DEFLATE and null: the ServerHello "
                      "chose DEFLATE"], **at))
    below = [v for v in tls[:-1] if v in _FALLBACK]
    if scan.fallback_scsv is False and below:
        out.append(R.TLS_FALLBACK_SCSV_MISSING.finding(
            f"{label} accepts a fallback to {below[-1]} (it supports {tls[-1]}) although the "
            "client signals TLS_FALLBACK_SCSV",
            evidence=[f"{below[-1]} ClientHello with TLS_FALLBACK_SCSV: ServerHello, not an "
                      "inappropriate_fallback alert", f"accepted: {', '.join(tls)}"], **at))
    leaf = obs.tls.chain[0] if obs.tls is not None and obs.tls.chain else None
    if scan.ocsp_stapling is False and leaf is not None:
        asked = f"{legacy_hello} ClientHello with status_request: no CertificateStatus"
        if leaf.must_staple:
            # An MX is reached by senders that do not authenticate it by default (RFC 7672).
            relaxed = Severity.WARN if obs.endpoint.service.name == "smtp" else None
            out.append(R.CERT_MUST_STAPLE.finding(
                f"{label}: the certificate demands OCSP stapling (must-staple), the server does "
                "not staple", evidence=[asked, f"TLS Feature status_request in {leaf.subject}"],
                severity=relaxed, **at))
        elif leaf.ocsp_urls:  # without a responder there is nothing to staple
            out.append(R.TLS_OCSP_NOT_STAPLED.finding(
                f"{label} does not staple an OCSP response",
                evidence=[asked, f"OCSP responder: {', '.join(leaf.ocsp_urls)}"], **at))
    return out


def _broken_kinds(s: CipherSuite) -> list[str]:
    kinds = []
    if s.is_null:
        kinds.append("NULL")
    if s.is_anonymous:
        kinds.append("anonymous")
    if s.is_export:
        kinds.append("EXPORT")
    if s.is_rc4:
        kinds.append("RC4")
    if s.is_des:
        kinds.append("DES")
    return kinds


def _profile_findings(obs: PortObservation, profile: Profile, accepted: list[str],
                      by_version: dict[str, list[CipherSuite]]) -> list[Finding]:
    at = where(obs)
    label = port_label(obs)
    out: list[Finding] = []
    extra_versions = [v for v in accepted if v not in profile.versions]
    if extra_versions:
        out.append(R.PROFILE_VERSION.finding(
            f"{label}: {', '.join(extra_versions)} not allowed by {profile.title}",
            evidence=[f"allowed: {', '.join(sorted(profile.versions))}"],
            severity=profile.version_severity, **at, requirement=profile.label))
    verdicts: dict[Severity, list[str]] = {}
    for version, suites in by_version.items():
        if version not in profile.versions:
            continue  # already reported as a version
        for suite in suites:
            verdict = profile.judge_suite(suite)
            if verdict is not None:
                verdicts.setdefault(verdict[0], []).append(
                    f"{version}: {suite.iana_name} ({verdict[1]})")
    for severity, lines in sorted(verdicts.items(), reverse=True):
        out.append(R.PROFILE_CIPHER.finding(
            f"{label}: {len(lines)} suite(s) outside {profile.title}",
            evidence=lines, severity=severity, **at, requirement=profile.label))
    if obs.tls_scan and obs.tls_scan.dh_bits and obs.tls_scan.dh_bits < profile.dh_min_bits:
        out.append(R.PROFILE_DH.finding(
            f"{label}: {obs.tls_scan.dh_bits}-bit DH below {profile.dh_min_bits} bits "
            f"({profile.title})", evidence=[f"DHE prime {obs.tls_scan.dh_bits} bits"],
            severity=Severity.WARN, **at, requirement=profile.label))
    return out


def judge_certificate_crypto(obs: PortObservation) -> list[Finding]:
    """Key sizes and signature hashes of every certificate the server sent (RFC 9325 §4.4,
    RFC 9155; the root's self-signature, if sent, is not relied on), and the shape of the chain
    (a root sent along, certificates out of issuing order)."""
    if obs.tls is None:
        return []
    at = where(obs)
    label = port_label(obs)
    out: list[Finding] = _chain_shape(obs)
    for position, cert in enumerate(obs.tls.chain):
        role = "leaf" if position == 0 else f"certificate {position + 1} of the chain"
        weak = _weak_key(cert)
        if weak:
            out.append(R.CERT_KEY_WEAK.finding(
                f"{label}: {role} has {weak}", evidence=[cert.subject], **at))
        if cert.self_signed and position > 0:
            continue  # a root's self-signature is not relied on
        algorithm = cert.signature_algorithm.lower()
        if any(h in algorithm for h in _WEAK_SIGNATURE):
            out.append(R.CERT_SIGNATURE_WEAK.finding(
                f"{label}: {role} is signed with {cert.signature_algorithm}",
                evidence=[cert.subject], **at))
    return out


def _weak_key(cert: CertificateInfo) -> str | None:
    if cert.key_type in ("RSA", "DSA") and cert.key_bits < 2048:
        return f"a {cert.key_bits}-bit {cert.key_type} key"
    if cert.key_type == "EC" and cert.key_bits < 224:
        return f"a {cert.key_bits}-bit EC key"
    return None


def _chain_shape(obs: PortObservation) -> list[Finding]:
    """RFC 5246 §7.4.2 / RFC 8446 §4.4.2: the leaf first, each next certificate certifying the
    one before it; the self-signed root may be left out (and should be: clients have it)."""
    assert obs.tls is not None
    chain = obs.tls.chain
    if len(chain) < 2:
        return []
    at = where(obs)
    label = port_label(obs)
    out: list[Finding] = []
    roots = [(i, c) for i, c in enumerate(chain) if i > 0 and c.self_signed]
    if roots:
        out.append(R.CERT_CHAIN_ROOT_SENT.finding(
            f"{label}: the chain includes the root certificate "
            f"({', '.join(f'certificate {i + 1}' for i, _ in roots)} of {len(chain)})",
            evidence=[f"{i + 1}: {c.subject} (self-signed)" for i, c in roots], **at))
    breaks = [
        i for i in range(len(chain) - 1)
        if not chain[i].self_issued and chain[i].issuer != chain[i + 1].subject
    ]
    # The last certificate may stop short of the root; a self-issued one ends the path, so
    # anything after it is out of place too.
    after_end = [i for i in range(len(chain) - 1) if chain[i].self_issued]
    if breaks or after_end:
        out.append(R.CERT_CHAIN_ORDER.finding(
            f"{label}: the certificate chain is not in issuing order",
            evidence=[f"{i + 1}: subject {c.subject}; issuer {c.issuer}"
                      for i, c in enumerate(chain)][:8], **at))
    return out
