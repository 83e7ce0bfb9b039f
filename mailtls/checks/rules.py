"""The catalogue of finding ids: one ``Rule`` per id, with its reference and remedy.

Ids are a contract with users' CI and monitoring: never rename one; add a new one instead.
``mailtls rules`` prints this table.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from mailtls.model import Finding, Protocol, Severity, TLSMode


class Stage(enum.StrEnum):
    """What a rule needs to have been judged at all on an endpoint (else it is skipped)."""

    REACHABILITY = "reach"  # always judged
    SESSION = "session"  # the port is open
    TLS_SESSION = "tls"  # a TLS session was established
    # the version/suite scan and the STARTTLS security probes ran, i.e. not --quick (open relay
    # only with --relay-test)
    TLS_ENUMERATION = "enumeration"


class ScopeKind(enum.StrEnum):
    """Where a rule is judged: per endpoint (a port of a host), once per host, or about something
    that is not an endpoint (a mail domain, a client configuration, a login, a round trip, the
    run itself)."""

    ENDPOINT = "endpoint"
    HOST = "host"
    DOMAIN = "domain"
    CLIENT = "client"
    LOGIN = "login"
    ROUNDTRIP = "roundtrip"
    RUN = "run"


REACHABILITY, SESSION, TLS_SESSION, TLS_ENUMERATION = Stage
ENDPOINT, HOST, DOMAIN, CLIENT, LOGIN, ROUNDTRIP, RUN = ScopeKind
STARTTLS_ONLY, IMPLICIT_ONLY = TLSMode.STARTTLS, TLSMode.IMPLICIT


@dataclass(frozen=True)
class Scope:
    """Which endpoints a rule is judged on (JUnit's passing test cases, Prometheus' check
    status): its kind, and for endpoint rules the protocol, TLS mode or services it is about."""

    kind: ScopeKind
    protocol: Protocol | None = None  # only endpoints of this protocol
    tls_mode: TLSMode | None = None  # only STARTTLS_ONLY or IMPLICIT_ONLY ports
    services: tuple[str, ...] = ()  # only these services (then tls_mode is not consulted)

    def applies(self, service: str, protocol: str, tls_mode: str) -> bool:
        if self.kind is not ScopeKind.ENDPOINT:
            return False
        if self.protocol is not None and self.protocol != protocol:
            return False
        if self.services:
            return service in self.services
        return self.tls_mode is None or self.tls_mode == tls_mode


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity  # the usual severity; a check may lower or raise it with a reason
    title: str
    reference: str
    remediation: str
    requirement: str | None = None
    scope: Scope = Scope(RUN)  # every rule of the catalogue states its own (see _rule)
    stage: Stage = Stage.SESSION

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
    assert "scope" in kwargs and "stage" in kwargs, f"{args[0]}: state scope= and stage="
    rule = Rule(*args, **kwargs)  # type: ignore[arg-type]
    assert rule.id not in RULES, rule.id
    RULES[rule.id] = rule
    return rule


# --- reachability ----------------------------------------------------------------------------
HOST_UNRESOLVED = _rule(
    "host.unresolved", Severity.UNKNOWN, "Host name does not resolve",
    "RFC 5321 §5.1", "Check the spelling, or publish A/AAAA records for the name.",
    scope=Scope(HOST), stage=SESSION,
)
HOST_NOTHING_OPEN = _rule(
    "host.no_open_port", Severity.UNKNOWN, "No mail port answered",
    "RFC 8314 §4", "Check that the mail services run and that a firewall lets this network in.",
    scope=Scope(HOST), stage=SESSION,
)
PORT_REFUSED = _rule(
    "port.refused", Severity.INFO, "Port refused the connection",
    "RFC 8314 §3", "Nothing listens there. If the service should be offered, start it or open "
    "the firewall.",
    scope=Scope(ENDPOINT), stage=REACHABILITY,
)
PORT_FILTERED = _rule(
    "port.filtered", Severity.INFO, "Port filtered (connect timed out)",
    "RFC 8314 §3", "Packets are dropped on the way: a firewall at the server, or one on this "
    "network. Test from another network to tell them apart.",
    scope=Scope(ENDPOINT), stage=REACHABILITY,
)
PORT25_BLOCKED = _rule(
    "smtp.port25.blocked_from_here", Severity.INFO, "Port 25 appears blocked from this network",
    "RFC 5068 §3; draft-akagiri-op25b", "Residential ISPs and most clouds drop outbound port 25. "
    "This does not affect mail clients (they submit on 587/465). To test the MX, run mailtls "
    "from a host with unrestricted port 25 (a VPS or CI runner).",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("smtp",)), stage=REACHABILITY,
)
PORT_UNREACHABLE = _rule(
    "port.unreachable", Severity.INFO, "Address unreachable",
    "RFC 1122 §3.2.2.1", "No route to the address, or a local firewall forbids the connection.",
    scope=Scope(ENDPOINT), stage=REACHABILITY,
)
PORT_NOT_TESTED = _rule(
    "port.not_tested", Severity.UNKNOWN,
    "Not tested: the scan deadline passed or the scan was interrupted first",
    "", "Raise --timeout, or check fewer ports at once; or let the scan finish.",
    scope=Scope(ENDPOINT), stage=REACHABILITY,
)

# --- the session -----------------------------------------------------------------------------
SESSION_NO_GREETING = _rule(
    "session.no_greeting", Severity.FAIL, "Server accepts connections but never speaks",
    "RFC 5321 §4.3.1; RFC 9051 §7.1; RFC 1939 §4", "The service hangs before its greeting: check "
    "the daemon, its process limits, or a tarpit in front of it.",
    scope=Scope(ENDPOINT), stage=SESSION,
)
SESSION_REJECTED = _rule(
    "session.rejected", Severity.UNKNOWN, "Server refused the session in its greeting",
    "RFC 5321 §3.1; RFC 9051 §7.1.5", "A 421/554, * BYE or -ERR greeting: often rate limiting or "
    "too many connections. Retry later or with --slow; if it persists, check the server's limits.",
    scope=Scope(ENDPOINT), stage=SESSION,
)
SESSION_PROTOCOL_ERROR = _rule(
    "session.protocol_error", Severity.FAIL, "Server sent something the protocol does not allow",
    "RFC 5321 §4.2; RFC 9051 §9; RFC 1939 §3", "Check that the right service listens on this port.",
    scope=Scope(ENDPOINT), stage=SESSION,
)
SESSION_BROKEN = _rule(
    "session.broken", Severity.FAIL, "Session ended unexpectedly",
    "RFC 5321 §4.1.1.10", "The server closed the connection or stopped answering mid-dialogue.",
    scope=Scope(ENDPOINT), stage=SESSION,
)

INTERNAL_ERROR = _rule(
    "mailtls.internal_error", Severity.UNKNOWN, "mailtls failed while testing this port",
    "", "A bug in mailtls, not the server's doing: please report it with the -v transcript "
    "(MAILTLS_DEBUG=1 shows the traceback).",
    scope=Scope(RUN), stage=SESSION,
)

# --- STARTTLS ----------------------------------------------------------------------------------
STARTTLS_NOT_OFFERED = {
    p: _rule(
        f"{p}.starttls.not_offered", Severity.FAIL, "STARTTLS not offered",
        ref, "Configure a certificate and enable STARTTLS; until then everything, passwords "
        "included, crosses the network in plaintext.", "MUST" if p != "smtp" else "SHOULD",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=SESSION,
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
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=SESSION,
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
        scope=Scope(ENDPOINT, protocol=Protocol(p)), stage=SESSION,
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
    scope=Scope(ENDPOINT, tls_mode=STARTTLS_ONLY), stage=SESSION,
)
TLS_ON_STARTTLS_PORT = _rule(
    "tls.implicit_on_starttls_port", Severity.FAIL, "STARTTLS port starts TLS at once",
    "RFC 8314 §3; RFC 3207 §2", "This port expects a TLS handshake first, so clients configured "
    "for STARTTLS fail. Serve implicit TLS on 465/993/995 and plaintext+STARTTLS here.",
    scope=Scope(ENDPOINT, tls_mode=STARTTLS_ONLY), stage=SESSION,
)
PLAINTEXT_ON_IMPLICIT_PORT = _rule(
    "tls.plaintext_on_implicit_port", Severity.FAIL, "Implicit-TLS port speaks plaintext",
    "RFC 8314 §3", "Port 465/993/995 must begin with a TLS handshake. Enable TLS on the listener "
    "(e.g. Postfix smtpd_tls_wrappermode=yes, Dovecot 'ssl = yes' on the inet_listener).", "MUST",
    scope=Scope(ENDPOINT, tls_mode=IMPLICIT_ONLY), stage=SESSION,
)
TLS_HANDSHAKE_FAILED = _rule(
    "tls.handshake_failed", Severity.FAIL, "TLS handshake failed",
    "RFC 8314 §4; RFC 3207 §4", "Check the server's certificate, key and TLS settings; the "
    "server's error is in the evidence.",
    scope=Scope(ENDPOINT), stage=SESSION,
)
IMAP_PREAUTH = _rule(
    "imap.preauth", Severity.FAIL, "IMAP PREAUTH greeting on a plaintext port",
    "RFC 9051 §7.1.4; RFC 2595 §3", "A PREAUTH greeting skips authentication and makes STARTTLS "
    "impossible: the whole session is in plaintext. Never pre-authenticate on port 143.",
    "SHOULD NOT",
    scope=Scope(ENDPOINT, protocol=Protocol.IMAP, tls_mode=STARTTLS_ONLY), stage=SESSION,
)

# --- TLS parameters --------------------------------------------------------------------------
TLS_LEGACY_VERSION = _rule(
    "tls.version.legacy", Severity.FAIL, "TLS below 1.2 negotiated",
    "RFC 8996 §2-3; RFC 8997; RFC 8314 §4.1", "Allow TLS 1.2 and 1.3 only (e.g. Postfix "
    "smtpd_tls_protocols = >=TLSv1.2, Dovecot ssl_min_protocol = TLSv1.2).", "MUST NOT",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
TLS_NO_TLS13 = _rule(
    "tls.version.no_tls13", Severity.INFO, "TLS 1.3 not supported",
    "RFC 9325 §3.1; RFC 9051 §11.1", "Enable TLS 1.3 (OpenSSL 1.1.1 or newer).", "SHOULD",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)

# --- TLS parameters found by enumeration (not with --quick) ---------------------------------------
TLS_SSL_ACCEPTED = _rule(
    "tls.version.ssl_accepted", Severity.FAIL, "SSLv2 or SSLv3 accepted",
    "RFC 6176; RFC 7568; RFC 9325 §3.1", "Disable SSLv2 and SSLv3 entirely.", "MUST NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_LEGACY_ACCEPTED = _rule(
    "tls.version.legacy_accepted", Severity.FAIL, "TLS 1.0 or 1.1 accepted",
    "RFC 8996 §2-3; RFC 8997; RFC 9325 §3.1", "Allow TLS 1.2 and 1.3 only (e.g. Postfix "
    "smtpd_tls_protocols = >=TLSv1.2, Dovecot ssl_min_protocol = TLSv1.2).", "MUST NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_NO_TLS12 = _rule(
    "tls.version.no_tls12", Severity.FAIL, "TLS 1.2 not accepted",
    "RFC 9325 §3.1; RFC 8314 §4.1", "Enable TLS 1.2: many mail servers and clients do not "
    "speak TLS 1.3 yet.", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_SCAN_INCOMPLETE = _rule(
    "tls.scan.incomplete", Severity.INFO, "Version and suite scan incomplete",
    "", "The server stopped answering during enumeration (rate limiting?); retry with --slow.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_CIPHER_BROKEN = _rule(
    "tls.cipher.broken", Severity.FAIL, "Broken cipher suites accepted",
    "RFC 9325 §4.1; RFC 7465", "Remove NULL, anonymous, EXPORT, RC4 and DES suites (e.g. "
    "Postfix tls_medium_cipherlist / smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, RC4, "
    "DES).", "MUST NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_CIPHER_64BIT = _rule(
    "tls.cipher.sweet32", Severity.WARN, "64-bit block ciphers accepted (3DES)",
    "RFC 9325 §4.1; CVE-2016-2183", "Remove 3DES and other 64-bit block ciphers.", "SHOULD NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_CIPHER_NO_FS = _rule(
    "tls.cipher.no_forward_secrecy", Severity.WARN, "Suites without forward secrecy accepted",
    "RFC 9325 §4.1", "Prefer ECDHE suites and drop static-RSA key exchange.", "SHOULD NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_NO_FS_AT_ALL = _rule(
    "tls.cipher.forward_secrecy_missing", Severity.FAIL, "No forward-secret suite at all",
    "RFC 9325 §4.1", "Enable ECDHE suites (TLS 1.2) or TLS 1.3.", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_DH_WEAK = _rule(
    "tls.dh.weak", Severity.FAIL, "DH group below 2048 bits (Logjam class)",
    "RFC 9325 §4.1; RFC 7919", "Use a 2048-bit or larger DH group (or ffdhe2048+), or drop DHE.",
    "MUST NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_RENEGOTIATION_INSECURE = _rule(
    "tls.renegotiation.insecure", Severity.FAIL, "No secure renegotiation (RFC 5746)",
    "RFC 5746; RFC 9325 §3.5", "Update the TLS library; every maintained one supports RFC 5746.",
    "MUST",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_CLIENT_ORDER = _rule(
    "tls.cipher_order.client", Severity.INFO, "Client picks the suite while weak ones are accepted",
    "RFC 9325 §4.2", "Enforce the server's order (e.g. Postfix tls_preempt_cipherlist = yes) or "
    "drop the weak suites.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_COMPRESSION = _rule(
    "tls.compression", Severity.FAIL, "TLS-level compression accepted (CRIME)",
    "RFC 9325 §3.3; RFC 7457 §2.6", "Disable TLS compression (OpenSSL 1.1.0 and later do by "
    "default; e.g. Postfix tls_ssl_options = NO_COMPRESSION, Dovecot ssl_options = "
    "no_compression).", "SHOULD NOT",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_FALLBACK_SCSV_MISSING = _rule(
    "tls.fallback_scsv.missing", Severity.WARN, "Version fallback not refused (TLS_FALLBACK_SCSV)",
    "RFC 7507 §3; RFC 8996", "Disable SSLv3, TLS 1.0 and 1.1 (RFC 8996): with nothing below TLS "
    "1.2 there is no fallback to guard. Else update the TLS library: every maintained one "
    "refuses a fallback hello with inappropriate_fallback.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
TLS_OCSP_NOT_STAPLED = _rule(
    "tls.ocsp.not_stapled", Severity.INFO, "No OCSP response stapled",
    "RFC 6066 §8; Mozilla Server Side TLS", "Staple OCSP responses where the server software "
    "can (e.g. Exim tls_ocsp_file); clients then need not ask the CA. Postfix and Dovecot "
    "cannot staple, hence informational.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
PROFILE_VERSION = _rule(
    "tls.profile.version", Severity.FAIL, "Protocol version outside the chosen profile",
    "--profile", "Restrict the protocol versions to the profile's.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
PROFILE_CIPHER = _rule(
    "tls.profile.cipher", Severity.WARN, "Cipher suites outside the chosen profile",
    "--profile", "Restrict the suites to the profile's list.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
PROFILE_DH = _rule(
    "tls.profile.dh", Severity.WARN, "DH group smaller than the chosen profile asks",
    "--profile", "Use a larger DH group, or drop DHE suites.",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)
CERT_KEY_WEAK = _rule(
    "cert.key.weak", Severity.FAIL, "Weak certificate key",
    "RFC 9325 §4.4; CA/B Baseline Requirements §6.1.5", "Issue a certificate with an RSA key of "
    "2048 bits or more, or an ECDSA P-256/P-384 key.", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_SIGNATURE_WEAK = _rule(
    "cert.signature.weak", Severity.FAIL, "Certificate signed with SHA-1 or MD5",
    "RFC 9155; RFC 9325 §4.4", "Reissue the certificate (and intermediate) with SHA-256 or better.",
    "MUST NOT",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_CHAIN_ROOT_SENT = _rule(
    "cert.chain.root_sent", Severity.INFO, "Server sends the root certificate in its chain",
    "RFC 8446 §4.4.2; RFC 5246 §7.4.2", "Leave the self-signed root out of the configured chain: "
    "clients must already have it, so it only costs bytes in every handshake.", "MAY",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_CHAIN_ORDER = _rule(
    "cert.chain.order", Severity.WARN, "Certificate chain not in issuing order",
    "RFC 5246 §7.4.2; RFC 8446 §4.4.2", "Send the leaf first, then each certificate followed by "
    "the one that issued it (e.g. Postfix smtpd_tls_chain_files: key, leaf, intermediates in "
    "order); remove certificates that belong to no path. TLS 1.2 clients may reject a chain out "
    "of order.", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_CHAIN_INCOMPLETE = _rule(
    "cert.chain.incomplete", Severity.FAIL, "Certificate chain incomplete: the leaf's issuer is "
    "not sent", "RFC 8446 §4.4.2; RFC 5246 §7.4.2", "Send the intermediate CA certificate(s) "
    "after the leaf: clients have only the roots (Postfix smtpd_tls_chain_files or a "
    "fullchain.pem in smtpd_tls_cert_file; Dovecot ssl_cert = <fullchain.pem).", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_MUST_STAPLE = _rule(
    "cert.must_staple.not_stapled", Severity.FAIL, "Must-staple certificate without a staple",
    "RFC 7633 §4.2.3", "The certificate demands a stapled OCSP response (TLS Feature "
    "status_request): clients that honour it refuse the connection. Staple OCSP responses, or "
    "reissue the certificate without must-staple (e.g. certbot without --must-staple).",
    scope=Scope(ENDPOINT), stage=TLS_ENUMERATION,
)

# --- certificate -----------------------------------------------------------------------------
CERT_UNTRUSTED = _rule(
    "cert.untrusted", Severity.FAIL, "Certificate chain not trusted",
    "RFC 8314 §4.4; RFC 7817 §3; RFC 5280 §6", "Use a certificate from a public CA and send the "
    "full chain (leaf and intermediates).", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_SELF_SIGNED = _rule(
    "cert.self_signed", Severity.FAIL, "Self-signed certificate",
    "RFC 8314 §4.4; RFC 7817 §3", "Replace it with a certificate from a public CA (e.g. ACME / "
    "Let's Encrypt).",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_EXPIRED = _rule(
    "cert.expired", Severity.FAIL, "Certificate expired",
    "RFC 5280 §4.1.2.5; RFC 8314 §4.4", "Renew the certificate and reload the server.", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_NOT_YET_VALID = _rule(
    "cert.not_yet_valid", Severity.FAIL, "Certificate not yet valid",
    "RFC 5280 §4.1.2.5", "Check the server clock and the certificate's notBefore date.", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_EXPIRING = _rule(
    "cert.expiring_soon", Severity.WARN, "Certificate expires soon",
    "RFC 8314 §4.4", "Renew now; check that automatic renewal also reloads the mail daemons.",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_NAME_MISMATCH = _rule(
    "cert.name_mismatch", Severity.FAIL, "Certificate does not match the host name",
    "RFC 7817 §3; RFC 9525 §6.3", "Issue a certificate whose subjectAltName covers the name "
    "clients use (a DNS-ID; wildcards only as the whole left-most label).", "MUST",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_CN_ONLY = _rule(
    "cert.name_cn_only", Severity.WARN, "Name matched only by the legacy subject CN",
    "RFC 9525 §6.3; RFC 6125 §6.4.4", "Put the host name in subjectAltName: current clients "
    "ignore the subject CN.",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)
CERT_NAME_NOT_CHECKED = _rule(
    "cert.name_not_checked", Severity.INFO, "No host name to check the certificate against",
    "RFC 7817 §3", "Give the host name (not an address), or --address to connect elsewhere.",
    scope=Scope(ENDPOINT), stage=TLS_SESSION,
)

# --- cleartext login -------------------------------------------------------------------------
PLAINTEXT_AUTH = {
    p: _rule(
        f"{p}.auth.plaintext_offered", Severity.WARN, "Login offered before TLS",
        ref, fix, "SHOULD NOT",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=SESSION,
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
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("submission", "submissions")),
    stage=SESSION,
)

# --- the service as a whole --------------------------------------------------------------------
NO_IMPLICIT_TLS = _rule(
    "service.no_implicit_tls", Severity.WARN, "No implicit-TLS alternative offered",
    "RFC 8314 §3.3, §4", "Offer the implicit-TLS port too (465 for submission, 993 for IMAP, "
    "995 for POP3): it leaves no plaintext step to attack.", "SHOULD",
    scope=Scope(ENDPOINT, tls_mode=IMPLICIT_ONLY), stage=SESSION,
)


# --- port 25 from this network (outbound port 25 blocking: draft-akagiri-op25b-dynamicip) -------
PORT25_FILTERED_AT_SERVER = _rule(
    "smtp.port25.filtered_at_server", Severity.FAIL,
    "Port 25 filtered at or near the server (control hosts answer on 25)",
    "RFC 5321 §5; RFC 5068 §3", "This network reaches port 25 elsewhere (the --port25-control "
    "hosts answer), so the drop is at the server or its provider: open port 25 in the server's "
    "firewall / security group, or ask the hosting provider to lift its port-25 block.",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("smtp",)), stage=REACHABILITY,
)
PORT25_INTERCEPTED = _rule(
    "smtp.port25.intercepted", Severity.WARN,
    "Port 25 answers unlike the other ports of the same address (interception?)",
    "RFC 5068 §3; RFC 3207 §4.1", "A transparent proxy of this network (an ISP's or a "
    "firewall's SMTP relay) may be answering instead of the server: compare from another network. "
    "If the server really runs a different MTA or certificate on port 25, this is harmless.",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("smtp",)), stage=SESSION,
)
PORT25_MASKED = _rule(
    "smtp.port25.masked", Severity.UNKNOWN,
    "SMTP on port 25 masked by a middlebox (banner or EHLO replaced by ****/XXXX)",
    "RFC 3207 §4; RFC 5321 §4.1.1.1", "An SMTP-inspecting firewall on the path (e.g. Cisco ASA "
    "ESMTP inspection) rewrites the dialogue and can strip STARTTLS, so port 25 cannot be judged "
    "from here. Disable the inspection (ASA: 'no inspect esmtp') or test from another network.",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("smtp",)), stage=SESSION,
)

# --- mail domains: DNS and MX (RFC 5321 §5.1, RFC 7505) ------------------------------------------
DOMAIN_NXDOMAIN = _rule(
    "dns.domain.nxdomain", Severity.UNKNOWN, "Mail domain does not exist (NXDOMAIN)",
    "RFC 5321 §5.1; RFC 1035 §4.1.1", "Check the spelling; a domain that should receive mail "
    "needs to exist in DNS.",
    scope=Scope(DOMAIN), stage=SESSION,
)
DNS_LOOKUP_FAILED = _rule(
    "dns.lookup_failed", Severity.UNKNOWN, "DNS query failed (SERVFAIL, REFUSED or timeout)",
    "RFC 1035 §4.1.1; RFC 4035 §5.5", "The question could not be answered, so what depends on it "
    "was not tested; senders treat it as a temporary failure and queue. Check the zone's name "
    "servers and its DNSSEC signatures (a bogus signature gives SERVFAIL), or try --resolver.",
    scope=Scope(DOMAIN), stage=SESSION,
)
MX_NONE = _rule(
    "dns.mx.none", Severity.WARN, "No MX records: mail goes to the domain's own address",
    "RFC 5321 §5.1", "Publish MX records naming the mail hosts; if the domain takes no mail, "
    "publish a null MX ('MX 0 .', RFC 7505) instead.",
    scope=Scope(DOMAIN), stage=SESSION,
)
MX_NULL = _rule(
    "dns.mx.null", Severity.INFO, "Null MX: the domain accepts no mail",
    "RFC 7505 §3", "Nothing to do if the domain takes no mail; otherwise replace the null MX with "
    "MX records naming the mail hosts.",
    scope=Scope(DOMAIN), stage=SESSION,
)
MX_NULL_MIXED = _rule(
    "dns.mx.null_mixed", Severity.FAIL, "Null MX published together with other MX records",
    "RFC 7505 §3", "Remove either the null MX ('MX 0 .') or the other MX records: a domain that "
    "advertises a null MX must not advertise any other MX.", "MUST NOT",
    scope=Scope(DOMAIN), stage=SESSION,
)
MX_TARGET_UNRESOLVED = _rule(
    "dns.mx.target_unresolved", Severity.FAIL, "MX host has no address",
    "RFC 5321 §5.1", "Publish A/AAAA records for the MX host, or fix the MX record to name a host "
    "that exists.",
    scope=Scope(DOMAIN), stage=SESSION,
)
MX_TARGET_CNAME = _rule(
    "dns.mx.target_cname", Severity.WARN, "MX host name is an alias (CNAME)",
    "RFC 2181 §10.3; RFC 5321 §5.1", "Point the MX record at the canonical host name; an MX "
    "target must not be an alias (and DANE/MTA-STS name checks follow the MX name).", "MUST NOT",
    scope=Scope(DOMAIN), stage=SESSION,
)
DOMAIN_OWN_NOT_TESTED = _rule(
    "domain.own_address_not_tested", Severity.INFO,
    "Checked as a mail domain: the name's own address was not tested",
    "RFC 5321 §5.1", "The name has MX records, so its MX hosts were tested. To check the mail "
    "ports of the name's own address, run 'mailtls check --host NAME'.",
    scope=Scope(DOMAIN), stage=SESSION,
)

# --- SRV for mail clients (RFC 6186, RFC 8314 §5.1) ----------------------------------------------
SRV_NONE = _rule(
    "srv.none", Severity.INFO, "No SRV records for mail clients",
    "RFC 6186 §3; RFC 8314 §5.1", "Publish _submissions._tcp, _imaps._tcp (and _pop3s._tcp) SRV "
    "records so clients can find the servers; '0 0 0 .' says a service is not offered.",
    scope=Scope(DOMAIN), stage=SESSION,
)
SRV_NOT_OFFERED = _rule(
    "srv.not_offered", Severity.INFO, "SRV record says the service is not offered (target '.')",
    "RFC 6186 §3; RFC 2782", "Nothing to do if the service is indeed not offered.",
    scope=Scope(DOMAIN), stage=SESSION,
)
SRV_TARGET_UNRESOLVED = _rule(
    "srv.target_unresolved", Severity.FAIL, "SRV target has no address",
    "RFC 2782; RFC 6186 §3", "Publish A/AAAA records for the target, or fix the SRV record.",
    scope=Scope(DOMAIN), stage=SESSION,
)
SRV_PLAINTEXT = _rule(
    "srv.plaintext", Severity.FAIL, "SRV record steers clients to a port without working TLS",
    "RFC 8314 §5.1; RFC 6186 §3", "Point the record at a port that offers TLS in the mode its "
    "label says (STARTTLS for _submission/_imap/_pop3, implicit TLS for the 's' labels), or "
    "make the service offer it.",
    scope=Scope(DOMAIN), stage=SESSION,
)
SRV_CERT_NAME = _rule(
    "srv.cert_name_mismatch", Severity.FAIL,
    "Certificate of an SRV target does not cover the names clients check",
    "RFC 7817 §3; RFC 6186 §6; RFC 8314 §5.1", "Without DNSSEC a client must check the "
    "certificate against the mail domain, not the SRV target: include the domain (or an SRV-ID) "
    "in the certificate, sign the zone with DNSSEC, or point the SRV record at a host in the "
    "domain whose certificate names it.",
    scope=Scope(DOMAIN), stage=SESSION,
)

# --- MTA-STS (RFC 8461) ------------------------------------------------------------------------
STS_NONE = _rule(
    "mta_sts.none", Severity.INFO, "No MTA-STS policy",
    "RFC 8461 §3.1", "Publish an MTA-STS policy (TXT _mta-sts and "
    "https://mta-sts.<domain>/.well-known/mta-sts.txt) so senders require TLS to your MX hosts.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_RECORD_INVALID = _rule(
    "mta_sts.record_invalid", Severity.FAIL, "MTA-STS TXT record invalid or duplicated",
    "RFC 8461 §3.1", "Publish exactly one TXT record at _mta-sts.<domain> of the form "
    "'v=STSv1; id=<1-32 letters and digits>;'. Senders ignore the policy otherwise.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_POLICY_UNAVAILABLE = _rule(
    "mta_sts.policy_unavailable", Severity.FAIL, "MTA-STS policy cannot be fetched",
    "RFC 8461 §3.3", "Serve the policy with status 200 at "
    "https://mta-sts.<domain>/.well-known/mta-sts.txt; senders that find no policy fall back to "
    "whatever they cached, then to opportunistic TLS.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_POLICY_REDIRECT = _rule(
    "mta_sts.policy_redirect", Severity.FAIL, "MTA-STS policy URL redirects",
    "RFC 8461 §3.3", "Serve the policy directly with status 200: senders must not follow "
    "redirects, so a redirected policy does not exist for them.", "MUST NOT",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_POLICY_CERT = _rule(
    "mta_sts.policy_cert_invalid", Severity.FAIL,
    "MTA-STS policy host certificate not valid",
    "RFC 8461 §3.3", "The policy host needs a certificate from a public CA, not expired, whose "
    "subjectAltName covers mta-sts.<domain>.", "MUST",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_POLICY_CONTENT_TYPE = _rule(
    "mta_sts.policy_content_type", Severity.WARN, "MTA-STS policy not served as text/plain",
    "RFC 8461 §3.2", "Serve the policy file with 'Content-Type: text/plain'; senders should "
    "reject other media types.", "SHOULD",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_POLICY_TOO_LARGE = _rule(
    "mta_sts.policy_too_large", Severity.FAIL, "MTA-STS policy larger than 64 KiB",
    "RFC 8461 §3.3", "Keep the policy small; senders may refuse bodies over 64 KiB.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_POLICY_INVALID = _rule(
    "mta_sts.policy_invalid", Severity.FAIL, "MTA-STS policy syntax invalid",
    "RFC 8461 §3.2", "Fix the policy: 'version: STSv1', 'mode: enforce|testing|none', "
    "'max_age: <seconds, at most 31557600>' and one 'mx:' line per MX host or pattern.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_NOT_ENFORCED = _rule(
    "mta_sts.not_enforced", Severity.INFO, "MTA-STS policy not enforced (mode testing or none)",
    "RFC 8461 §5", "Once TLS reports (TLS-RPT) show no failures, switch to 'mode: enforce'.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_MAX_AGE_SHORT = _rule(
    "mta_sts.max_age_short", Severity.WARN, "MTA-STS max_age shorter than one day",
    "RFC 8461 §3.2", "Use a max_age of weeks (e.g. 604800 or more): a short one leaves senders "
    "without a cached policy, which is what an attacker needs.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_MX_NOT_LISTED = _rule(
    "mta_sts.mx_not_listed", Severity.FAIL, "MX host not matched by the MTA-STS policy",
    "RFC 8461 §4.1", "Add an 'mx:' line for the MX host (or a '*.domain' pattern covering exactly "
    "one label); senders enforcing the policy will not deliver to it.",
    scope=Scope(DOMAIN), stage=SESSION,
)
STS_MX_TLS = _rule(
    "mta_sts.mx_tls_invalid", Severity.FAIL, "MX host fails the MTA-STS TLS requirements",
    "RFC 8461 §4.2, §3.2", "Every MX must offer STARTTLS with TLS 1.2 or newer and a "
    "certificate from a public CA, not expired, whose subjectAltName covers the MX host name.",
    scope=Scope(DOMAIN), stage=SESSION,
)

# --- TLS-RPT (RFC 8460) ------------------------------------------------------------------------
TLSRPT_NONE = _rule(
    "tls_rpt.none", Severity.INFO, "No TLS-RPT record",
    "RFC 8460 §3", "Publish 'v=TLSRPTv1; rua=mailto:tls-reports@<domain>' at _smtp._tls.<domain>: "
    "senders then report TLS failures (MTA-STS and DANE are meant to be used with it).",
    scope=Scope(DOMAIN), stage=SESSION,
)
TLSRPT_INVALID = _rule(
    "tls_rpt.invalid", Severity.FAIL, "TLS-RPT record invalid or duplicated",
    "RFC 8460 §3", "Publish exactly one record 'v=TLSRPTv1; rua=<mailto: or https: URI>[,...]' "
    "at _smtp._tls.<domain>.",
    scope=Scope(DOMAIN), stage=SESSION,
)

# --- DANE for SMTP (RFC 7672, RFC 6698, RFC 7671) ---------------------------------------------
DANE_NONE = _rule(
    "dane.none", Severity.INFO, "No TLSA records for the MX hosts (no DANE)",
    "RFC 7672 §2.2", "With a DNSSEC-signed zone, publish '_25._tcp.<mx> TLSA 3 1 1 <sha256 of the "
    "key>' (and a second record for the next key) so DANE senders authenticate your MX.",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_NOT_AUTHENTICATED = _rule(
    "dane.not_authenticated", Severity.WARN,
    "TLSA records not DNSSEC-validated: DANE does not apply",
    "RFC 7672 §2.2; RFC 6698 §4.1", "Sign the zone of the MX host with DNSSEC (TLSA records are "
    "ignored without it), or check with a validating resolver you trust (--resolver).",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_LOOKUP_FAILED = _rule(
    "dane.tlsa.lookup_failed", Severity.FAIL, "TLSA lookup failed (SERVFAIL or timeout)",
    "RFC 7672 §2.2", "DANE senders defer mail to an MX whose TLSA lookup fails: fix the zone's "
    "name servers or DNSSEC signatures (some name servers fail on TLSA queries).",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_UNUSABLE = _rule(
    "dane.unusable_record", Severity.WARN, "TLSA record unusable for SMTP",
    "RFC 7672 §3.1.3; RFC 6698 §2.1", "Publish DANE-EE(3) or DANE-TA(2) records only, preferably "
    "'3 1 1' (SHA-256 of the server's public key) and '2 1 1' (of the issuing CA's).",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_NO_MATCH = _rule(
    "dane.no_match", Severity.FAIL, "Certificate presented matches no TLSA record",
    "RFC 7672 §3; RFC 6698 §2.1", "Publish a TLSA record for the certificate the server presents "
    "now (e.g. '3 1 1' of its public key), or serve the certificate the records describe; for "
    "DANE-TA(2) the server must send the CA certificate in its chain.",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_NO_STARTTLS = _rule(
    "dane.starttls_missing", Severity.FAIL, "TLSA published but the MX offers no working STARTTLS",
    "RFC 7672 §2.2", "With TLSA records, senders require STARTTLS and will not deliver in "
    "plaintext: make STARTTLS work or remove the TLSA records.",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_TA_NAME = _rule(
    "dane.ta_name_mismatch", Severity.FAIL,
    "DANE-TA matched, but the certificate's name or dates fail",
    "RFC 7672 §3.2.2, §3.2.3", "With DANE-TA(2) the server certificate must name the MX host (or "
    "the domain) and be within its validity dates: reissue it, or use DANE-EE(3).",
    scope=Scope(DOMAIN), stage=SESSION,
)
DANE_SINGLE_RECORD = _rule(
    "dane.rollover.single_record", Severity.INFO, "Only one TLSA record: nothing for the next key",
    "RFC 7671 §8.1; RFC 7672 §3.1", "Publish the next key's record (or a '2 1 1' of the issuing "
    "CA) next to the current one, so a certificate renewal does not break DANE delivery.",
    scope=Scope(DOMAIN), stage=SESSION,
)


# --- the login test (--user; mailtls.probes.login) -----------------------------------------------
LOGIN_SUCCEEDED = _rule(
    "auth.login.succeeded", Severity.INFO, "Login with the given credentials succeeded",
    "RFC 4954 §4; RFC 9051 §6.2; RFC 1939 §7; RFC 5034",
    "Nothing to do: the account can log in here over verified TLS.",
    scope=Scope(LOGIN), stage=SESSION,
)
LOGIN_FAILED = _rule(
    "auth.login.failed", Severity.FAIL, "The server refused the credentials",
    "RFC 4954 §6; RFC 9051 §6.2.3; RFC 1939 §7",
    "Check the user name form the server expects (full address or local part), the password, "
    "and whether the account may use this protocol; the server's answer is in the evidence.",
    scope=Scope(LOGIN), stage=SESSION,
)
LOGIN_REFUSED_UNVERIFIED = _rule(
    "auth.login.refused_unverified", Severity.UNKNOWN,
    "Login not attempted: the certificate could not be verified",
    "RFC 8314 §5.1, §5.2", "mailtls sends a password only over TLS with a trusted certificate "
    "that names the server. Fix the certificate (see the cert.* findings); "
    "--insecure-send-password-to-unverified-server overrides this, at the risk of handing the "
    "password to whoever answered.", "MUST NOT",
    scope=Scope(LOGIN), stage=SESSION,
)
LOGIN_NO_TLS = _rule(
    "auth.login.no_tls", Severity.UNKNOWN, "Login not attempted: no TLS session on this port",
    "RFC 8314 §5.1, §5.2", "mailtls never sends a password before TLS. Offer STARTTLS or "
    "implicit TLS here (see the other findings of this port).", "MUST NOT",
    scope=Scope(LOGIN), stage=SESSION,
)
LOGIN_UNSUPPORTED = _rule(
    "auth.login.unsupported", Severity.UNKNOWN,
    "Login not attempted: no password mechanism mailtls can use was offered under TLS",
    "RFC 4954 §3; RFC 9051 §6.2; RFC 2449 §6.3", "mailtls logs in with SASL PLAIN, SMTP "
    "AUTH LOGIN, IMAP LOGIN or POP3 USER/PASS inside TLS. If the server offers none of them "
    "under TLS, clients that use passwords cannot log in either.",
    scope=Scope(LOGIN), stage=SESSION,
)
LOGIN_ERROR = _rule(
    "auth.login.error", Severity.UNKNOWN, "The login test broke off before the server answered",
    "RFC 4954 §4; RFC 9051 §6.2; RFC 1939 §7", "The connection failed, timed out or the server "
    "answered outside the protocol during the login; the evidence shows where. Retry; if it "
    "persists, check the server's authentication backend.",
    scope=Scope(LOGIN), stage=SESSION,
)
LOGIN_UNVERIFIED_OVERRIDE = _rule(
    "auth.login.unverified_override", Severity.WARN,
    "The password was sent to a server whose certificate was not verified",
    "RFC 8314 §5.1, §5.2", "Sent only because --insecure-send-password-to-unverified-server was "
    "given. If anyone could have intercepted this connection, change the password.",
    scope=Scope(LOGIN), stage=SESSION,
)


# --- STARTTLS security probes (not with --quick; see mailtls/probes/security.py) ----------------
COMMAND_INJECTION = {
    p: _rule(
        f"{p}.starttls.command_injection", Severity.FAIL,
        "Commands pipelined after STARTTLS run inside TLS (CVE-2011-0411 class)",
        ref, "Update the server: after the STARTTLS go-ahead it must discard every byte it has "
        "buffered (or treat it as the TLS handshake). An attacker on the path can otherwise inject "
        "commands that run in the victim's TLS session, e.g. to steal credentials.", "MUST",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=TLS_ENUMERATION,
    )
    for p, ref in (
        ("smtp", "RFC 3207 §4.2; CVE-2011-0411"),
        ("imap", "RFC 9051 §6.2.1; CVE-2011-0411"),
        ("pop3", "RFC 2595 §4; RFC 9051 §6.2.1 (by analogy); CVE-2011-0411"),
    )
}
SMTP_NOT_ENFORCED = _rule(
    "smtp.starttls.not_enforced", Severity.WARN, "Submission accepts mail before STARTTLS",
    "RFC 3207 §4; RFC 6409 §4.3; RFC 8314 §3.3", "Require TLS on the submission port before any "
    "mail transaction (Postfix submission: -o smtpd_tls_security_level=encrypt; answers 530 5.7.0 "
    "Must issue a STARTTLS command first).",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("submission",)), stage=TLS_ENUMERATION,
)
PLAINTEXT_ACCEPTED = {
    p: _rule(
        f"{p}.auth.plaintext_accepted", Severity.FAIL, "Login processed before TLS",
        ref, fix, "SHOULD NOT",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=TLS_ENUMERATION,
    )
    for p, ref, fix in (
        ("smtp", "RFC 4954 §4; RFC 3207 §4.1; RFC 8314 §4.1",
         "Refuse AUTH before STARTTLS (538 5.7.11) and do not advertise it there (Postfix "
         "smtpd_tls_auth_only = yes)."),
        ("imap", "RFC 9051 §6.2.3; RFC 2595 §3.2; RFC 8314 §4.1",
         "Advertise LOGINDISABLED and refuse LOGIN/AUTHENTICATE before STARTTLS with "
         "NO [PRIVACYREQUIRED] (Dovecot auth_allow_cleartext = no / disable_plaintext_auth = "
         "yes)."),
        ("pop3", "RFC 2595 §2.3, §4; RFC 8314 §4.1",
         "Refuse USER/PASS and AUTH before STLS (Dovecot auth_allow_cleartext = no / "
         "disable_plaintext_auth = yes)."),
    )
}
SMTP_STATE_KEPT = _rule(
    "smtp.starttls.state_kept", Severity.FAIL, "Mail transaction survives STARTTLS",
    "RFC 3207 §4.2; RFC 5321 §4.1.4", "Update the server: after the TLS handshake it must reset "
    "the session to the state after its greeting and forget everything the client said before "
    "(an attacker could otherwise start a transaction in plaintext that the victim completes "
    "inside TLS).", "MUST",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, tls_mode=STARTTLS_ONLY), stage=TLS_ENUMERATION,
)
SMTP_REQUIRED_ON_MX = _rule(
    "smtp.starttls.required_on_mx", Severity.INFO, "MX requires STARTTLS before accepting mail",
    "RFC 3207 §4", "Senders that cannot do TLS cannot deliver here. RFC 3207 says a publicly "
    "referenced server MUST NOT require STARTTLS; if that is deliberate, publish MTA-STS or DANE "
    "so senders know, and expect some legitimate mail to bounce.", "MUST NOT",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("smtp",)), stage=TLS_ENUMERATION,
)
IMAP_ALERT_IN_PLAINTEXT = _rule(
    "imap.alert_in_plaintext", Severity.INFO, "[ALERT] sent before TLS",
    "RFC 9051 §7.1; RFC 2595 §9", "Clients must show [ALERT] text to the user, and anyone on the "
    "path can forge a plaintext one (the USENIX 2021 'NO STARTTLS' UI-spoofing cases). Send "
    "alerts only inside TLS, so that users learn to trust only those.",
    scope=Scope(ENDPOINT, protocol=Protocol.IMAP, tls_mode=STARTTLS_ONLY), stage=SESSION,
)
SMTP_OPEN_RELAY = _rule(
    "smtp.open_relay", Severity.FAIL, "Open relay",
    "RFC 5321 §3.6.1, §7.1; RFC 2505 §2 (BCP 30)", "Accept mail for your own domains only, and "
    "relay for other domains only for authenticated or trusted clients (Postfix "
    "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
    "reject_unauth_destination).",
    scope=Scope(ENDPOINT, protocol=Protocol.SMTP, services=("smtp",)), stage=TLS_ENUMERATION,
)
PROBE_INCONCLUSIVE = _rule(
    "starttls.probe_inconclusive", Severity.INFO, "A security probe could not reach a verdict",
    "RFC 3207 §4; RFC 2595 §3-4; RFC 9051 §6.2", "Read the probe's transcript (-v, or `security` "
    "in the JSON report). Rate limits, greylisting and slow servers are the usual causes: retry "
    "with a longer --read-timeout.",
    scope=Scope(ENDPOINT, tls_mode=STARTTLS_ONLY), stage=TLS_ENUMERATION,
)


# --- mail client configurations (mailtls client; checks/client.py) ----------------------------
CLIENT_PLAINTEXT = _rule(
    "client.plaintext", Severity.FAIL, "Client configured without TLS (and the server offers none)",
    "RFC 8314 §5.2, §4.1", "Both sides need fixing: the server must offer TLS (see its "
    "findings), then the client must be set to SSL/TLS (or STARTTLS).", "MUST",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_PLAINTEXT_TLS_AVAILABLE = _rule(
    "client.plaintext.tls_available", Severity.FAIL,
    "Client configured without TLS although the server offers it",
    "RFC 8314 §5.2", "Set connection security to SSL/TLS (or STARTTLS) as in the recommended "
    "table: the server supports it, and every password now crosses the network in plaintext.",
    "MUST",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_STARTTLS_NOT_REQUIRED = _rule(
    "client.starttls.not_required", Severity.FAIL,
    "Client uses STARTTLS only when offered (downgradable to plaintext)",
    "RFC 8314 §5.2; RFC 3207 §6; draft-ietf-mailmaint-autoconfig", "Thunderbird's legacy "
    "'STARTTLS, if available' (socketType/try_ssl 1): whoever can strip the STARTTLS "
    "capability gets the password. Set STARTTLS (required) or SSL/TLS.", "MUST",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_SSL_ON_STARTTLS_PORT = _rule(
    "client.ssl_on_starttls_port", Severity.FAIL,
    "Client configured for SSL/TLS on a port that speaks plaintext first (STARTTLS)",
    "RFC 8314 §3; RFC 6409 §3.1", "The client starts a TLS handshake where the server sends a "
    "plaintext greeting: the connection fails. Use STARTTLS on this port, or SSL/TLS on the "
    "implicit-TLS port (465, 993, 995).",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_STARTTLS_ON_IMPLICIT_PORT = _rule(
    "client.starttls_on_implicit_port", Severity.FAIL,
    "Client configured for STARTTLS on an implicit-TLS port",
    "RFC 8314 §3", "The client waits for a plaintext greeting where the server waits for a TLS "
    "handshake: the connection hangs and fails. Use SSL/TLS on this port (465, 993, 995).",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_SETTING_BROKEN = _rule(
    "client.setting.broken", Severity.FAIL, "The configured server does not work as configured",
    "RFC 8314 §5", "The client cannot connect this way (the reason is in the evidence). Use "
    "the recommended setting, or fix the server.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_SETTING_INSECURE = _rule(
    "client.setting.insecure", Severity.FAIL,
    "The configured server works, but not securely for this client",
    "RFC 8314 §5.2; RFC 7817 §3", "A client must not treat this as confidential: the "
    "certificate is not trusted or does not name the configured host, or TLS is below 1.2. "
    "Fix the certificate/TLS on the server, or configure the host name the certificate names.",
    "MUST NOT",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_AUTH_NOT_OFFERED = _rule(
    "client.auth.not_offered", Severity.FAIL,
    "The configured authentication method is not offered by the server under TLS",
    "draft-ietf-mailmaint-autoconfig §authentication; RFC 4954 §3; RFC 9051 §6.2",
    "Configure a method the server offers (see the evidence), or enable it on the server.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_AUTH_NONE = _rule(
    "client.auth.none", Severity.WARN, "Outgoing server configured without authentication",
    "RFC 6409 §4.1", "Submission servers require authentication; without it the client can "
    "send only where the server trusts its network. Configure password (or OAuth) login.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_BETTER_AVAILABLE = _rule(
    "client.better_available", Severity.INFO,
    "Implicit TLS works where STARTTLS is configured",
    "RFC 8314 §3.3, §5.1", "Both are secure when TLS is required; implicit TLS (465/993/995) "
    "cannot be stripped or stalled before the handshake and is what RFC 8314 prefers.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_PASSWORD_STORED = _rule(
    "client.profile.password_stored", Severity.WARN,
    "The configuration profile carries a password",
    "Apple Device Management: com.apple.mail.managed (IncomingPassword, OutgoingPassword)",
    "Apple: use these keys only in encrypted profiles. Anyone who gets the file has the "
    "password: remove it and let the user type it, or encrypt the profile to the device.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_OUTGOING_PORT_UNSET = _rule(
    "client.profile.outgoing_port_unset", Severity.INFO,
    "Outgoing port not set: the device tries 25, 587 and 465 in that order",
    "Apple Device Management: OutgoingMailServerPortNumber", "Set the port (465 with SSL, or "
    "587) so every device uses the same, submission port.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_AUTOCONFIG_UNTRUSTED = _rule(
    "client.autoconfig.untrusted", Severity.FAIL,
    "Autoconfig served over HTTPS with a certificate clients reject",
    "draft-ietf-mailmaint-autoconfig §security; RFC 9525", "Clients skip this configuration "
    "(or fall back to plain HTTP, which anyone on the path can forge). Serve it with a "
    "trusted certificate that names the autoconfig host.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_AUTOCONFIG_INVALID = _rule(
    "client.autoconfig.invalid", Severity.FAIL, "Autoconfig answer is not a usable configuration",
    "draft-ietf-mailmaint-autoconfig §file format", "Clients ignore an invalid file. Serve "
    "well-formed config-v1.1.xml with <clientConfig><emailProvider> and at least one server.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_AUTOCONFIG_DOMAIN = _rule(
    "client.autoconfig.domain_missing", Severity.WARN,
    "Autoconfig does not list the e-mail domain",
    "draft-ietf-mailmaint-autoconfig §file format", "Add <domain>DOMAIN</domain> to "
    "<emailProvider>; some clients check it.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_DISCOVERY_NOTHING = _rule(
    "client.discovery.nothing_found", Severity.UNKNOWN,
    "No client configuration found by any discovery method",
    "draft-ietf-mailmaint-autoconfig; RFC 6186; RFC 8314 §5.1", "Publish "
    "https://autoconfig.DOMAIN/mail/config-v1.1.xml and SRV records (_submissions._tcp, "
    "_imaps._tcp), or give the server names with --config.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_DISCOVERY_DISAGREE = _rule(
    "client.discovery.disagree", Severity.WARN,
    "Discovery methods name different servers",
    "RFC 6186; draft-ietf-mailmaint-autoconfig", "Users of different clients end up on "
    "different servers. Make autoconfig and SRV records agree.",
    scope=Scope(CLIENT), stage=SESSION,
)
CLIENT_PICK_INSECURE = _rule(
    "client.pick.insecure", Severity.FAIL, "A mail client following discovery ends up insecure",
    "RFC 8314 §5.1, §5.2", "What this client would set up sends passwords without verified "
    "TLS. Fix the published configuration (autoconfig, SRV) so it names secure settings.",
    scope=Scope(CLIENT), stage=SESSION,
)


# --- the other secure ports of a mail host (issue 17; checks/ports.py) ---------------------------
# LDAP 389 StartTLS, FTP 21 AUTH TLS, NNTP 119 STARTTLS: the same STARTTLS rules per protocol.
STARTTLS_NOT_OFFERED.update({
    p: _rule(
        f"{p}.starttls.not_offered", Severity.FAIL, f"{word} not offered",
        ref, f"Configure a certificate and enable {word}; until then everything, passwords "
        "included, crosses the network in plaintext.", "SHOULD",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=SESSION,
    )
    for p, word, ref in (
        ("ldap", "StartTLS", "RFC 4511 §4.14; RFC 4513 §3"),
        ("ftp", "AUTH TLS", "RFC 4217 §4, §6"),
        ("nntp", "STARTTLS", "RFC 4642 §2; RFC 8143 §3"),
    )
})
STARTTLS_REFUSED.update({
    p: _rule(
        f"{p}.starttls.refused", Severity.FAIL, f"{word} advertised but refused",
        ref, f"Fix the TLS configuration (certificate, key); do not advertise {word} when it "
        "cannot work.",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=SESSION,
    )
    for p, word, ref in (
        ("ldap", "StartTLS", "RFC 4511 §4.14.2; RFC 4513 §3.1"),
        ("ftp", "AUTH TLS", "RFC 4217 §4.1"),
        ("nntp", "STARTTLS", "RFC 4642 §2.2.1"),
    )
})
STARTTLS_AFTER_TLS["nntp"] = _rule(
    "nntp.starttls.advertised_after_tls", Severity.WARN, "STARTTLS still advertised under TLS",
    "RFC 4642 §2.2.2", "After the TLS handshake the server must not list STARTTLS in "
    "CAPABILITIES any more (a sign of a confused TLS layer or a proxy).", "MUST NOT",
    scope=Scope(ENDPOINT, protocol=Protocol.NNTP), stage=SESSION,
)
COMMAND_INJECTION.update({
    p: _rule(
        f"{p}.starttls.command_injection", Severity.FAIL,
        f"Commands pipelined after {word} run inside TLS",
        ref, f"Update the server: after its {word} go-ahead it must discard every byte it has "
        "buffered. An attacker on the path can otherwise inject commands that run in the "
        "victim's TLS session.", "MUST",
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=TLS_ENUMERATION,
    )
    for p, word, ref in (
        ("ftp", "AUTH TLS", "RFC 4217 §4; CVE-2011-1575 (Pure-FTPd)"),
        ("nntp", "STARTTLS", "RFC 4642 §2.2.2; CVE-2012-3523 (INN)"),
    )
})
PLAINTEXT_ACCEPTED.update({
    p: _rule(
        f"{p}.auth.plaintext_accepted", Severity.FAIL, title, ref, fix, requirement,
        scope=Scope(ENDPOINT, protocol=Protocol(p), tls_mode=STARTTLS_ONLY), stage=TLS_ENUMERATION,
    )
    for p, title, ref, fix, requirement in (
        ("ftp", "Login processed before AUTH TLS", "RFC 4217 §4, §15.1; RFC 2577 §5",
         "Require AUTH TLS before USER/PASS (vsftpd force_local_logins_ssl=YES; ProFTPD "
         "TLSRequired on; answers 530/534).", "SHOULD"),
        ("nntp", "Login processed before STARTTLS", "RFC 4643 §2.3.1, §6; RFC 4642 §1",
         "Refuse AUTHINFO USER/PASS until STARTTLS (483 encryption required) and do not "
         "advertise AUTHINFO USER before it (INN readers.conf: require_ssl).", "SHOULD NOT"),
        ("ldap", "Simple bind (password) processed without TLS",
         "RFC 4513 §5.1.3, §6.3.2; RFC 4511 Appendix A.2 (confidentialityRequired)",
         "Refuse simple binds on unprotected connections with confidentialityRequired (13) "
         "(OpenLDAP olcSecurity: simple_bind=128, or tls=1 to require StartTLS for everything).",
         "SHOULD"),
    )
})
PLAINTEXT_AUTH["nntp"] = _rule(
    "nntp.auth.plaintext_offered", Severity.WARN, "AUTHINFO USER offered before STARTTLS",
    "RFC 4643 §2.3.1; RFC 4642 §1", "List AUTHINFO USER in CAPABILITIES only after STARTTLS "
    "(INN: readers.conf require_ssl; nnrpd advertises it only then).", "SHOULD NOT",
    scope=Scope(ENDPOINT, protocol=Protocol.NNTP, tls_mode=STARTTLS_ONLY), stage=SESSION,
)
FTP_DATA_UNPROTECTED = _rule(
    "ftp.data.unprotected", Severity.FAIL, "FTP refuses PROT P: data connections in plaintext",
    "RFC 4217 §8-9", "Allow PBSZ 0 / PROT P (vsftpd ssl_enable=YES with force_local_data_ssl); "
    "otherwise listings and files cross the network unencrypted beside the TLS control "
    "connection.",
    scope=Scope(ENDPOINT, protocol=Protocol.FTP, services=("ftp",)), stage=TLS_ENUMERATION,
)
HTTP_NO_HTTPS_REDIRECT = _rule(
    "http.redirect.missing", Severity.WARN, "Port 80 does not redirect to HTTPS",
    "RFC 6797 §7.2", "Answer every plaintext HTTP request with a 301/308 redirect to the same "
    "URL under https:// (nginx: return 301 https://$host$request_uri;), so webmail and "
    "autoconfig users land on TLS.", "SHOULD",
    scope=Scope(ENDPOINT, protocol=Protocol.HTTP, services=("http",)), stage=SESSION,
)
HTTP_HSTS_ON_PLAINTEXT = _rule(
    "http.hsts.on_plaintext", Severity.INFO, "Strict-Transport-Security sent over plaintext HTTP",
    "RFC 6797 §7.2, §8.1", "Browsers ignore the field over plaintext; send it only on the HTTPS "
    "responses.", "MUST NOT",
    scope=Scope(ENDPOINT, protocol=Protocol.HTTP, services=("http",)), stage=SESSION,
)
HTTP_HSTS_MISSING = _rule(
    "http.hsts.missing", Severity.WARN, "HTTPS sends no Strict-Transport-Security",
    "RFC 6797 §7.1, §6.1", "Send Strict-Transport-Security: max-age=31536000 on the HTTPS "
    "responses (nginx: add_header Strict-Transport-Security \"max-age=31536000\" always;), so "
    "browsers never try plaintext HTTP again for this host.",
    scope=Scope(ENDPOINT, protocol=Protocol.HTTP, services=("https",)), stage=SESSION,
)
HTTP_HSTS_INVALID = _rule(
    "http.hsts.invalid", Severity.WARN, "Strict-Transport-Security field is invalid",
    "RFC 6797 §6.1, §8.1", "The field needs exactly one max-age=<seconds> directive and no "
    "directive twice; a browser ignores a field that breaks these rules.", "MUST",
    scope=Scope(ENDPOINT, protocol=Protocol.HTTP, services=("https",)), stage=SESSION,
)
HTTP_HSTS_SHORT = _rule(
    "http.hsts.short_max_age", Severity.WARN, "Strict-Transport-Security max-age is short",
    "RFC 6797 §11.2", "Use a max-age of at least 180 days (a year, 31536000, is usual); a short "
    "one lapses between visits and leaves the first plaintext request open again. "
    "max-age=0 removes the policy.",
    scope=Scope(ENDPOINT, protocol=Protocol.HTTP, services=("https",)), stage=SESSION,
)


def rule_stage(rule_id: str) -> Stage:
    """What has to have happened for ``rule_id`` to be judged on an endpoint (``Rule.stage``)."""
    return RULES[rule_id].stage


def rule_applies(rule_id: str, service: str, protocol: str, tls_mode: str) -> bool:
    """Is ``rule_id`` one of the checks judged on an endpoint of this service/protocol/mode?"""
    return RULES[rule_id].scope.applies(service, protocol, tls_mode)


def applicable_rules(service: str, protocol: str, tls_mode: str) -> tuple[Rule, ...]:
    """The catalogue's checks that are judged on an endpoint of this kind, in catalogue order."""
    return tuple(r for r in RULES.values() if r.scope.applies(service, protocol, tls_mode))


def host_rules() -> tuple[Rule, ...]:
    """The checks judged once per host (``host.*``)."""
    return tuple(r for r in RULES.values() if r.scope.kind is ScopeKind.HOST)


# --- the round trip (mailtls client --round-trip; checks/roundtrip.py) ------------------------
ROUNDTRIP_DELIVERED = _rule(
    "roundtrip.delivered", Severity.INFO, "The test message was delivered",
    "RFC 6409 §3; RFC 5321 §4.4", "Nothing to do; the evidence has the delivery time and the "
    "TLS of every hop.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
ROUNDTRIP_NOT_DELIVERED = _rule(
    "roundtrip.not_delivered", Severity.FAIL,
    "The test message did not arrive within the round-trip timeout",
    "RFC 5321 §4.5.4.1; RFC 3464", "Look for the message in the server's queue and logs (the "
    "tag is in the evidence): a deferred, bounced or filtered message, or a slow queue.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
ROUNDTRIP_SUBMISSION_FAILED = _rule(
    "roundtrip.submission_failed", Severity.FAIL,
    "The test message could not be submitted securely",
    "RFC 6409 §4; RFC 8314 §3.3, §4.1", "Every submission setting was tried with a verified "
    "certificate, TLS 1.2+ and AUTH; the evidence says why each failed.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
ROUNDTRIP_RETRIEVAL_FAILED = _rule(
    "roundtrip.retrieval_failed", Severity.UNKNOWN,
    "The mailbox could not be read securely, so delivery could not be checked",
    "RFC 9051 §6.2; RFC 1939 §7; RFC 8314 §4.1", "Check the IMAP/POP3 settings and the "
    "credentials; the evidence says why each attempt failed.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
ROUNDTRIP_NO_SECURE_SETTING = _rule(
    "roundtrip.no_secure_setting", Severity.UNKNOWN,
    "No secure, working setting to send or read the test message with",
    "RFC 8314 §4.1, §5.2", "Fix the findings of the client settings first: the round trip "
    "uses only settings with verified TLS.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
ROUNDTRIP_HOP_WITHOUT_TLS = _rule(
    "roundtrip.hop_without_tls", Severity.WARN,
    "A hop of the test message crossed the network without TLS",
    "RFC 3207 §4; RFC 3848 §1; RFC 8461 §1", "The Received header in the evidence shows a "
    "plaintext SMTP hop between servers: enable STARTTLS (and MTA-STS or DANE) on that path.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
ROUNDTRIP_NOT_DELETED = _rule(
    "roundtrip.not_deleted", Severity.WARN, "The test message could not be deleted",
    "RFC 9051 §6.4.3; RFC 1939 §5", "Delete the message with the tag in the evidence by hand.",
    scope=Scope(ROUNDTRIP), stage=SESSION,
)
