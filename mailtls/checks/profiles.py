"""Named yardsticks for TLS parameters (``--profile``).

Each profile answers one question per accepted version and suite: allowed, or not and how bad.
The baseline findings of ``tlsparams`` (broken ciphers, SSL, weak DH, ...) apply under every
profile; a profile adds its own allow-lists on top, and every finding it makes names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailtls.model import Severity
from mailtls.model.options import DEFAULT_PROFILE as DEFAULT_PROFILE  # re-exported

if TYPE_CHECKING:  # the table is built only when suites are judged (mailtls.checks.tlsparams)
    from mailtls.tls.suites import CipherSuite

# Mozilla Server Side TLS 6.0 (2026-04); DHE suites left Intermediate in 5.8.
_MOZILLA_INTERMEDIATE_TLS12 = frozenset({
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
})
_MOZILLA_TLS13 = frozenset({
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
})

Verdict = tuple[Severity, str] | None  # None: allowed


@dataclass(frozen=True)
class Profile:
    name: str  # as given to --profile
    title: str  # "Mozilla intermediate (guidelines 6.0)"
    reference: str
    versions: frozenset[str]  # allowed protocol versions ("TLS 1.2", ...)
    version_severity: Severity  # for an accepted version outside the set
    judge_suite: Callable[[CipherSuite], Verdict]
    dh_min_bits: int = 2048

    @property
    def label(self) -> str:
        return f"profile {self.name}"


def _baseline_suite(suite: CipherSuite) -> Verdict:
    # Everything BCP 195 forbids outright is a baseline finding already; nothing extra here.
    return None


def _mozilla_intermediate_suite(suite: CipherSuite) -> Verdict:
    allowed = _MOZILLA_TLS13 if suite.tls13 else _MOZILLA_INTERMEDIATE_TLS12
    if suite.iana_name in allowed:
        return None
    return Severity.WARN, "not in Mozilla's intermediate list"


def _mozilla_modern_suite(suite: CipherSuite) -> Verdict:
    if suite.tls13 and suite.iana_name in _MOZILLA_TLS13:
        return None
    return Severity.WARN, "Mozilla modern allows TLS 1.3 suites only"


def _ncsc_suite(suite: CipherSuite) -> Verdict:
    """NCSC-NL TLS guidelines (2025) as internet.nl applies them: good / sufficient /
    phase out / insufficient; phase out warns, insufficient fails."""
    name = suite.iana_name
    if suite.tls13:
        if name in ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                    "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256"):
            return None
        return Severity.FAIL, "insufficient (NCSC): TLS 1.3 suite outside the list"
    if suite.kx == "ECDHE" and suite.auth in ("ECDSA", "RSA"):
        if suite.is_aead and "CCM_8" not in name:
            return None  # sufficient
        if name.endswith(("_SHA256", "_SHA384")) or "CAMELLIA" in name or "ARIA" in name:
            return Severity.WARN, "phase out (NCSC)"
    if suite.kx == "DHE" and suite.auth == "RSA" and (
        (suite.is_aead and "CCM_8" not in name)
        or name.endswith(("_SHA256", "_SHA384"))
        or "CAMELLIA" in name
        or "ARIA" in name
    ):
        return Severity.WARN, "phase out (NCSC)"
    return Severity.FAIL, "insufficient (NCSC)"


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "mail", "mail baseline (BCP 195 / RFC 9325, RFC 8996, RFC 8314)",
            "RFC 9325 §4; RFC 8996; RFC 8314 §4.1",
            frozenset({"TLS 1.2", "TLS 1.3"}), Severity.FAIL, _baseline_suite,
        ),
        Profile(
            "mozilla-intermediate", "Mozilla intermediate (guidelines 6.0)",
            "Mozilla Server Side TLS 6.0, intermediate",
            frozenset({"TLS 1.2", "TLS 1.3"}), Severity.FAIL, _mozilla_intermediate_suite,
        ),
        Profile(
            "mozilla-modern", "Mozilla modern (guidelines 6.0)",
            "Mozilla Server Side TLS 6.0, modern",
            frozenset({"TLS 1.3"}), Severity.WARN, _mozilla_modern_suite,
        ),
        Profile(
            "ncsc", "NCSC-NL TLS guidelines 2025 (as internet.nl applies them)",
            "NCSC-NL IT Security Guidelines for TLS (2025)",
            frozenset({"TLS 1.2", "TLS 1.3"}), Severity.FAIL, _ncsc_suite, dh_min_bits=3072,
        ),
    )
}
