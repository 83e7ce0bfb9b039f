"""The catalogue of finding ids: one ``Rule`` per id, with its reference and remedy.

Ids are a contract with users' CI and monitoring: never rename one; add a new one instead.
``mailtls rules`` prints this table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailtls.model import Finding, Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity  # the usual severity; a check may lower or raise it with a reason
    title: str
    reference: str
    remediation: str
    requirement: str | None = None

    def finding(
        self,
        summary: str,
        *,
        endpoint: str | None,
        service: str | None,
        evidence: Iterable[str] = (),
        severity: Severity | None = None,
        requirement: str | None = None,
    ) -> Finding:
        return Finding(
            id=self.id,
            severity=self.severity if severity is None else severity,
            summary=summary,
            endpoint=endpoint,
            service=service,
            evidence=tuple(evidence),
            reference=self.reference,
            remediation=self.remediation,
            requirement=self.requirement if requirement is None else requirement,
        )


RULES: dict[str, Rule] = {}


def _rule(*args: object, **kwargs: object) -> Rule:
    rule = Rule(*args, **kwargs)  # type: ignore[arg-type]
    assert rule.id not in RULES, rule.id
    RULES[rule.id] = rule
    return rule


# --- reachability ----------------------------------------------------------------------------
HOST_UNRESOLVED = _rule(
    "host.unresolved", Severity.UNKNOWN, "Host name does not resolve",
    "RFC 5321 §5.1", "Check the spelling, or publish A/AAAA records for the name.",
)
HOST_NOTHING_OPEN = _rule(
    "host.no_open_port", Severity.UNKNOWN, "No mail port answered",
    "RFC 8314 §4", "Check that the mail services run and that a firewall lets this network in.",
)
PORT_REFUSED = _rule(
    "port.refused", Severity.INFO, "Port refused the connection",
    "RFC 8314 §3", "Nothing listens there. If the service should be offered, start it or open "
    "the firewall.",
)
PORT_FILTERED = _rule(
    "port.filtered", Severity.INFO, "Port filtered (connect timed out)",
    "RFC 8314 §3", "Packets are dropped on the way: a firewall at the server, or one on this "
    "network. Test from another network to tell them apart.",
)
PORT25_BLOCKED = _rule(
    "smtp.port25.blocked_from_here", Severity.INFO, "Port 25 appears blocked from this network",
    "RFC 5068 §3; draft-akagiri-op25b", "Residential ISPs and most clouds drop outbound port 25. "
    "This does not affect mail clients (they submit on 587/465). To test the MX, run mailtls "
    "from a host with unrestricted port 25 (a VPS or CI runner).",
)
PORT_UNREACHABLE = _rule(
    "port.unreachable", Severity.INFO, "Address unreachable",
    "RFC 1122 §3.2.2.1", "No route to the address, or a local firewall forbids the connection.",
)
PORT_NOT_TESTED = _rule(
    "port.not_tested", Severity.UNKNOWN, "Not tested before the scan deadline",
    "", "Raise --timeout, or check fewer ports at once.",
)

# --- the session -----------------------------------------------------------------------------
SESSION_NO_GREETING = _rule(
    "session.no_greeting", Severity.FAIL, "Server accepts connections but never speaks",
    "RFC 5321 §4.3.1; RFC 9051 §7.1; RFC 1939 §4", "The service hangs before its greeting: check "
    "the daemon, its process limits, or a tarpit in front of it.",
)
SESSION_REJECTED = _rule(
    "session.rejected", Severity.UNKNOWN, "Server refused the session in its greeting",
    "RFC 5321 §3.1; RFC 9051 §7.1.5", "A 421/554, * BYE or -ERR greeting: often rate limiting or "
    "too many connections. Retry later or with --slow; if it persists, check the server's limits.",
)
SESSION_PROTOCOL_ERROR = _rule(
    "session.protocol_error", Severity.FAIL, "Server sent something the protocol does not allow",
    "RFC 5321 §4.2; RFC 9051 §9; RFC 1939 §3", "Check that the right service listens on this port.",
)
SESSION_BROKEN = _rule(
    "session.broken", Severity.FAIL, "Session ended unexpectedly",
    "RFC 5321 §4.1.1.10", "The server closed the connection or stopped answering mid-dialogue.",
)

# --- STARTTLS ----------------------------------------------------------------------------------
STARTTLS_NOT_OFFERED = {
    p: _rule(
        f"{p}.starttls.not_offered", Severity.FAIL, "STARTTLS not offered",
        ref, "Configure a certificate and enable STARTTLS; until then everything, passwords "
        "included, crosses the network in plaintext.", "MUST" if p != "smtp" else "SHOULD",
    )
    for p, ref in (
        ("smtp", "RFC 3207 §2; RFC 8314 §4"),
        ("imap", "RFC 9051 §11.2; RFC 2595 §3"),
        ("pop3", "RFC 2595 §4; RFC 8314 §4"),
    )
}
STARTTLS_REFUSED = {
    p: _rule(
        f"{p}.starttls.refused", Severity.FAIL, "STARTTLS advertised but refused",
        ref, "Fix the TLS configuration (certificate, key); do not advertise STARTTLS when it "
        "cannot work.", "SHOULD NOT advertise",
    )
    for p, ref in (
        ("smtp", "RFC 3207 §4; RFC 8314 §4"),
        ("imap", "RFC 9051 §6.2.1; RFC 8314 §4"),
        ("pop3", "RFC 2595 §4; RFC 8314 §4"),
    )
}
STARTTLS_AFTER_TLS = {
    p: _rule(
        f"{p}.starttls.advertised_after_tls", Severity.WARN, "STARTTLS still advertised under TLS",
        ref, "Stop advertising STARTTLS once TLS is active (a sign of a confused TLS layer or a "
        "proxy).", "MUST NOT" if p == "smtp" else "SHOULD NOT",
    )
    for p, ref in (
        ("smtp", "RFC 3207 §4.2"),
        ("imap", "RFC 9051 §6.2.1"),
        ("pop3", "RFC 2595 §4"),
    )
}
STARTTLS_DATA_AFTER_GO_AHEAD = _rule(
    "starttls.data_after_go_ahead", Severity.FAIL, "Plaintext data after the STARTTLS go-ahead",
    "RFC 3207 §4.2; RFC 9051 §6.2.1; CVE-2011-0411",
    "The server (or something in the path) sends bytes after its go-ahead that a client could "
    "mistake for protected data. Update the server; check for a proxy in the path.", "MUST NOT",
)
TLS_ON_STARTTLS_PORT = _rule(
    "tls.implicit_on_starttls_port", Severity.FAIL, "STARTTLS port starts TLS at once",
    "RFC 8314 §3; RFC 3207 §2", "This port expects a TLS handshake first, so clients configured "
    "for STARTTLS fail. Serve implicit TLS on 465/993/995 and plaintext+STARTTLS here.",
)
PLAINTEXT_ON_IMPLICIT_PORT = _rule(
    "tls.plaintext_on_implicit_port", Severity.FAIL, "Implicit-TLS port speaks plaintext",
    "RFC 8314 §3", "Port 465/993/995 must begin with a TLS handshake. Enable TLS on the listener "
    "(e.g. Postfix smtpd_tls_wrappermode=yes, Dovecot 'ssl = yes' on the inet_listener).", "MUST",
)
TLS_HANDSHAKE_FAILED = _rule(
    "tls.handshake_failed", Severity.FAIL, "TLS handshake failed",
    "RFC 8314 §4; RFC 3207 §4", "Check the server's certificate, key and TLS settings; the "
    "server's error is in the evidence.",
)
IMAP_PREAUTH = _rule(
    "imap.preauth", Severity.FAIL, "IMAP PREAUTH greeting on a plaintext port",
    "RFC 9051 §7.1.4; RFC 2595 §3", "A PREAUTH greeting skips authentication and makes STARTTLS "
    "impossible: the whole session is in plaintext. Never pre-authenticate on port 143.",
    "SHOULD NOT",
)

# --- TLS parameters --------------------------------------------------------------------------
TLS_LEGACY_VERSION = _rule(
    "tls.version.legacy", Severity.FAIL, "TLS below 1.2 negotiated",
    "RFC 8996 §2-3; RFC 8997; RFC 8314 §4.1", "Allow TLS 1.2 and 1.3 only (e.g. Postfix "
    "smtpd_tls_protocols = >=TLSv1.2, Dovecot ssl_min_protocol = TLSv1.2).", "MUST NOT",
)
TLS_NO_TLS13 = _rule(
    "tls.version.no_tls13", Severity.INFO, "TLS 1.3 not supported",
    "RFC 9325 §3.1; RFC 9051 §11.1", "Enable TLS 1.3 (OpenSSL 1.1.1 or newer).", "SHOULD",
)

# --- TLS parameters found by enumeration (not with --quick) ---------------------------------------
TLS_SSL_ACCEPTED = _rule(
    "tls.version.ssl_accepted", Severity.FAIL, "SSLv2 or SSLv3 accepted",
    "RFC 6176; RFC 7568; RFC 9325 §3.1", "Disable SSLv2 and SSLv3 entirely.", "MUST NOT",
)
TLS_LEGACY_ACCEPTED = _rule(
    "tls.version.legacy_accepted", Severity.FAIL, "TLS 1.0 or 1.1 accepted",
    "RFC 8996 §2-3; RFC 8997; RFC 9325 §3.1", "Allow TLS 1.2 and 1.3 only (e.g. Postfix "
    "smtpd_tls_protocols = >=TLSv1.2, Dovecot ssl_min_protocol = TLSv1.2).", "MUST NOT",
)
TLS_NO_TLS12 = _rule(
    "tls.version.no_tls12", Severity.FAIL, "TLS 1.2 not accepted",
    "RFC 9325 §3.1; RFC 8314 §4.1", "Enable TLS 1.2: many mail servers and clients do not "
    "speak TLS 1.3 yet.", "MUST",
)
TLS_SCAN_INCOMPLETE = _rule(
    "tls.scan.incomplete", Severity.INFO, "Version and suite scan incomplete",
    "", "The server stopped answering during enumeration (rate limiting?); retry with --slow.",
)
TLS_CIPHER_BROKEN = _rule(
    "tls.cipher.broken", Severity.FAIL, "Broken cipher suites accepted",
    "RFC 9325 §4.1; RFC 7465", "Remove NULL, anonymous, EXPORT, RC4 and DES suites (e.g. "
    "Postfix tls_medium_cipherlist / smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, RC4, "
    "DES).", "MUST NOT",
)
TLS_CIPHER_64BIT = _rule(
    "tls.cipher.sweet32", Severity.WARN, "64-bit block ciphers accepted (3DES)",
    "RFC 9325 §4.1; CVE-2016-2183", "Remove 3DES and other 64-bit block ciphers.", "SHOULD NOT",
)
TLS_CIPHER_NO_FS = _rule(
    "tls.cipher.no_forward_secrecy", Severity.WARN, "Suites without forward secrecy accepted",
    "RFC 9325 §4.1", "Prefer ECDHE suites and drop static-RSA key exchange.", "SHOULD NOT",
)
TLS_NO_FS_AT_ALL = _rule(
    "tls.cipher.forward_secrecy_missing", Severity.FAIL, "No forward-secret suite at all",
    "RFC 9325 §4.1", "Enable ECDHE suites (TLS 1.2) or TLS 1.3.", "MUST",
)
TLS_DH_WEAK = _rule(
    "tls.dh.weak", Severity.FAIL, "DH group below 2048 bits (Logjam class)",
    "RFC 9325 §4.1; RFC 7919", "Use a 2048-bit or larger DH group (or ffdhe2048+), or drop DHE.",
    "MUST NOT",
)
TLS_RENEGOTIATION_INSECURE = _rule(
    "tls.renegotiation.insecure", Severity.FAIL, "No secure renegotiation (RFC 5746)",
    "RFC 5746; RFC 9325 §3.5", "Update the TLS library; every maintained one supports RFC 5746.",
    "MUST",
)
TLS_CLIENT_ORDER = _rule(
    "tls.cipher_order.client", Severity.INFO, "Client picks the suite while weak ones are accepted",
    "RFC 9325 §4.2", "Enforce the server's order (e.g. Postfix tls_preempt_cipherlist = yes) or "
    "drop the weak suites.",
)
PROFILE_VERSION = _rule(
    "tls.profile.version", Severity.FAIL, "Protocol version outside the chosen profile",
    "--profile", "Restrict the protocol versions to the profile's.",
)
PROFILE_CIPHER = _rule(
    "tls.profile.cipher", Severity.WARN, "Cipher suites outside the chosen profile",
    "--profile", "Restrict the suites to the profile's list.",
)
PROFILE_DH = _rule(
    "tls.profile.dh", Severity.WARN, "DH group smaller than the chosen profile asks",
    "--profile", "Use a larger DH group, or drop DHE suites.",
)
CERT_KEY_WEAK = _rule(
    "cert.key.weak", Severity.FAIL, "Weak certificate key",
    "RFC 9325 §4.4; CA/B Baseline Requirements §6.1.5", "Issue a certificate with an RSA key of "
    "2048 bits or more, or an ECDSA P-256/P-384 key.", "MUST",
)
CERT_SIGNATURE_WEAK = _rule(
    "cert.signature.weak", Severity.FAIL, "Certificate signed with SHA-1 or MD5",
    "RFC 9155; RFC 9325 §4.4", "Reissue the certificate (and intermediate) with SHA-256 or better.",
    "MUST NOT",
)

# --- certificate -----------------------------------------------------------------------------
CERT_UNTRUSTED = _rule(
    "cert.untrusted", Severity.FAIL, "Certificate chain not trusted",
    "RFC 8314 §4.4; RFC 7817 §3; RFC 5280 §6", "Use a certificate from a public CA and send the "
    "full chain (leaf and intermediates).", "MUST",
)
CERT_SELF_SIGNED = _rule(
    "cert.self_signed", Severity.FAIL, "Self-signed certificate",
    "RFC 8314 §4.4; RFC 7817 §3", "Replace it with a certificate from a public CA (e.g. ACME / "
    "Let's Encrypt).",
)
CERT_EXPIRED = _rule(
    "cert.expired", Severity.FAIL, "Certificate expired",
    "RFC 5280 §4.1.2.5; RFC 8314 §4.4", "Renew the certificate and reload the server.", "MUST",
)
CERT_NOT_YET_VALID = _rule(
    "cert.not_yet_valid", Severity.FAIL, "Certificate not yet valid",
    "RFC 5280 §4.1.2.5", "Check the server clock and the certificate's notBefore date.", "MUST",
)
CERT_EXPIRING = _rule(
    "cert.expiring_soon", Severity.WARN, "Certificate expires soon",
    "RFC 8314 §4.4", "Renew now; check that automatic renewal also reloads the mail daemons.",
)
CERT_NAME_MISMATCH = _rule(
    "cert.name_mismatch", Severity.FAIL, "Certificate does not match the host name",
    "RFC 7817 §3; RFC 9525 §6.3", "Issue a certificate whose subjectAltName covers the name "
    "clients use (a DNS-ID; wildcards only as the whole left-most label).", "MUST",
)
CERT_CN_ONLY = _rule(
    "cert.name_cn_only", Severity.WARN, "Name matched only by the legacy subject CN",
    "RFC 9525 §6.3; RFC 6125 §6.4.4", "Put the host name in subjectAltName: current clients "
    "ignore the subject CN.",
)
CERT_NAME_NOT_CHECKED = _rule(
    "cert.name_not_checked", Severity.INFO, "No host name to check the certificate against",
    "RFC 7817 §3", "Give the host name (not an address), or --address to connect elsewhere.",
)

# --- cleartext login -------------------------------------------------------------------------
PLAINTEXT_AUTH = {
    p: _rule(
        f"{p}.auth.plaintext_offered", Severity.WARN, "Login offered before TLS",
        ref, fix, "SHOULD NOT",
    )
    for p, ref, fix in (
        ("smtp", "RFC 4954 §4; RFC 3207 §4.1",
         "Advertise AUTH only after STARTTLS (Postfix smtpd_tls_auth_only = yes)."),
        ("imap", "RFC 9051 §6.2.3; RFC 2595 §3.2",
         "Advertise LOGINDISABLED and no AUTH= before STARTTLS (Dovecot "
         "disable_plaintext_auth = yes / auth_allow_cleartext = no)."),
        ("pop3", "RFC 2595 §4; RFC 8314 §4.1",
         "Offer USER and SASL PLAIN/LOGIN only after STLS (Dovecot disable_plaintext_auth = "
         "yes / auth_allow_cleartext = no)."),
    )
}
SUBMISSION_NO_AUTH = _rule(
    "smtp.auth.not_offered", Severity.WARN, "Submission port offers no AUTH under TLS",
    "RFC 6409 §4.3; RFC 4954 §3", "Enable SASL authentication on the submission service, or "
    "users cannot send mail through it.",
)

# --- the service as a whole --------------------------------------------------------------------
NO_IMPLICIT_TLS = _rule(
    "service.no_implicit_tls", Severity.WARN, "No implicit-TLS alternative offered",
    "RFC 8314 §3.3, §4", "Offer the implicit-TLS port too (465 for submission, 993 for IMAP, "
    "995 for POP3): it leaves no plaintext step to attack.", "SHOULD",
)
