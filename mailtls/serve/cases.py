"""The catalogue of ``mailtls serve``: one hostile (or clean) server behaviour per case.

Every case has a stable id ``<protocol>.<name>`` (``smtp.starttls.stripped``), the port style a
client must be configured for (STARTTLS on a plaintext port, or implicit TLS), what the server
does, and what a secure client does. The ids are the contract of the JSON/JUnit output: never
renamed, only added.

The attacks are those of Poddebniak, Ising, Böck and Schinzel, "Why TLS is better without
STARTTLS" (USENIX Security 2021), and the rules they break: RFC 3207 §4 and §4.2 (SMTP),
RFC 2595 §3.1 and RFC 9051 §6.2.1 (IMAP), RFC 2595 §4 (POP3), RFC 8314 §3-§5 (implicit TLS and
client behaviour), RFC 6125 / RFC 9525 (certificate names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Protocol = Literal["smtp", "imap", "pop3"]
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
Mode = Literal["starttls", "implicit"]

#: What the server answers to STARTTLS / STLS.
StartTLSReply = Literal["ok", "refuse", "close", "inject"]

#: How a case is judged (see ``mailtls.serve.verdicts``).
Expect = Literal[
    "complete",  # control: the client must finish its job, credentials only inside TLS
    "no_plaintext",  # a downgrade: nothing secret (credentials, message, mailbox) in plaintext
    "discard_injection",  # the injected response must not be acted on
    "reject_certificate",  # nothing may be sent inside this TLS session
    "no_plaintext_session",  # IMAP PREAUTH: the unencrypted session must not be used
    "ignore_alert",  # the plaintext [ALERT] must not reach the user
    "no_plaintext_on_implicit",  # the client must not talk plaintext on an implicit-TLS port
]

#: The default ports of each protocol and style (what a client expects; ``serve`` listens on
#: other ports, these name the style in the help and in the output).
STANDARD_PORTS: dict[tuple[Protocol, Mode], int] = {
    ("smtp", "starttls"): 587,
    ("smtp", "implicit"): 465,
    ("imap", "starttls"): 143,
    ("imap", "implicit"): 993,
    ("pop3", "starttls"): 110,
    ("pop3", "implicit"): 995,
}


@dataclass(frozen=True)
class Case:
    """One test case: the server's behaviour in one session, and how the client is judged."""

    id: str
    protocol: Protocol
    mode: Mode
    title: str
    expect: Expect
    secure: str  # what a secure client does, one sentence
    reference: str  # the RFC section (or paper) the case is about
    starttls_offered: bool = True
    starttls_reply: StartTLSReply = "ok"
    cert: str = "good"  # a mailtls.testing CertKind
    tls10_only: bool = False
    auth_before_tls: bool = False  # AUTH / LOGIN offered in plaintext
    auth_after_tls: bool = True  # AUTH / LOGIN offered inside TLS
    preauth: bool = False  # IMAP only
    alert: bool = False  # IMAP only: [ALERT] in the plaintext greeting
    plaintext_on_implicit: bool = False  # implicit-TLS port that greets in plaintext

    @property
    def standard_port(self) -> int:
        return STANDARD_PORTS[(self.protocol, self.mode)]


_STARTTLS_WORD = {"smtp": "STARTTLS", "imap": "STARTTLS", "pop3": "STLS"}
_REFUSAL = {"smtp": "454", "imap": "NO", "pop3": "-ERR"}
_AUTH_WORD = {"smtp": "AUTH", "imap": "LOGIN/AUTHENTICATE", "pop3": "USER/PASS and AUTH"}
_STARTTLS_REF = {
    "smtp": "RFC 3207 §4",
    "imap": "RFC 9051 §6.2.1, RFC 2595 §3.1",
    "pop3": "RFC 2595 §4",
}


def _cases_for(p: Protocol) -> list[Case]:
    word = _STARTTLS_WORD[p]
    ref = _STARTTLS_REF[p]
    cases = [
        Case(f"{p}.control.starttls", p, "starttls",
             f"clean server, {word} and a valid certificate", "complete",
             "completes its job, credentials only inside TLS", ref),
        Case(f"{p}.control.implicit", p, "implicit",
             "clean server, implicit TLS and a valid certificate", "complete",
             "completes its job, credentials only inside TLS", "RFC 8314 §3.3"),
        Case(f"{p}.starttls.stripped", p, "starttls",
             f"{word} removed from the capabilities (a stripping attacker)", "no_plaintext",
             "stops without sending credentials or mail in plaintext",
             f"{ref}; RFC 8314 §4.1", starttls_offered=False, auth_before_tls=True),
        Case(f"{p}.starttls.refused", p, "starttls",
             f"{word} offered, but answered {_REFUSAL[p]}", "no_plaintext",
             "stops without sending credentials or mail in plaintext",
             f"{ref}; RFC 8314 §4.1", starttls_reply="refuse", auth_before_tls=True),
        Case(f"{p}.starttls.closed", p, "starttls",
             f"{word} answered with the go-ahead, then the connection closed", "no_plaintext",
             "reports the error; never retries in plaintext",
             f"{ref}; RFC 8314 §4.1", starttls_reply="close", auth_before_tls=True),
        Case(f"{p}.starttls.injection", p, "starttls",
             "a forged response right after the go-ahead, in the same packet", "discard_injection",
             "discards everything received before the handshake (CVE-2021-22947 class)",
             "RFC 3207 §4.2" if p == "smtp" else "RFC 2595 §3.1" if p == "imap"
             else "RFC 2595 §4",
             starttls_reply="inject"),
        Case(f"{p}.cert.untrusted", p, "starttls",
             "self-signed certificate (not from the test CA)", "reject_certificate",
             "aborts the handshake and sends nothing", "RFC 8314 §5.1; RFC 9525 §6",
             cert="self_signed"),
        Case(f"{p}.cert.expired", p, "starttls",
             "certificate from the test CA, expired yesterday", "reject_certificate",
             "aborts the handshake and sends nothing", "RFC 8314 §5.1; RFC 5280 §6.1.3",
             cert="expired"),
        Case(f"{p}.cert.wrong_name", p, "starttls",
             "certificate from the test CA for other.example.test only", "reject_certificate",
             "aborts the handshake and sends nothing", "RFC 9525 §6.3; RFC 8314 §5.1",
             cert="wrong_name"),
        Case(f"{p}.tls.tls10_only", p, "starttls",
             "the server speaks TLS 1.0 only", "reject_certificate",
             "refuses TLS 1.0 and sends nothing", "RFC 8996 §5; RFC 8314 §4.1",
             tls10_only=True),
        Case(f"{p}.implicit.plaintext", p, "implicit",
             "a plaintext greeting on the implicit-TLS port", "no_plaintext_on_implicit",
             "expects a TLS handshake and sends nothing in plaintext", "RFC 8314 §3.3",
             plaintext_on_implicit=True, auth_before_tls=True),
        Case(f"{p}.auth.before_tls_only", p, "starttls",
             f"{_AUTH_WORD[p]} offered before TLS only, not inside it", "no_plaintext",
             "uses STARTTLS and never authenticates in plaintext",
             "RFC 4954 §4" if p == "smtp" else "RFC 2595 §3.1" if p == "imap"
             else "RFC 2595 §4",
             auth_before_tls=True, auth_after_tls=False),
    ]
    if p == "imap":
        cases += [
            Case("imap.preauth.plaintext", p, "starttls",
                 "* PREAUTH greeting on the plaintext connection (STARTTLS impossible)",
                 "no_plaintext_session",
                 "closes the connection instead of using the unencrypted session",
                 "RFC 9051 §6.2.1; RFC 2595 §3.1 (CVE-2020-12398 class)", preauth=True),
            Case("imap.alert.before_tls", p, "starttls",
                 "* OK [ALERT] in the plaintext greeting", "ignore_alert",
                 "does not show text received before TLS to the user",
                 "RFC 9051 §7.1 (ALERT); RFC 2595 §3.1", alert=True),
        ]
    return cases


CASES: tuple[Case, ...] = tuple(c for p in PROTOCOLS for c in _cases_for(p))
CASES_BY_ID: dict[str, Case] = {c.id: c for c in CASES}

#: The marker inside the plaintext [ALERT]: a client that shows it printed attacker text.
ALERT_MARKER = "MAILTLS-ALERT-7Q"


def select_cases(protocols: tuple[Protocol, ...], patterns: tuple[str, ...] = ()) -> list[Case]:
    """The cases of ``protocols`` whose id matches any of ``patterns`` (fnmatch; all if empty).

    Raises ``ValueError`` naming a pattern that matches nothing.
    """
    from fnmatch import fnmatchcase

    chosen = [c for c in CASES if c.protocol in protocols]
    if not patterns:
        return chosen
    out: list[Case] = []
    for pattern in patterns:
        hits = [c for c in chosen if fnmatchcase(c.id, pattern) or c.id.endswith("." + pattern)]
        if not hits:
            raise ValueError(f"no case matches {pattern!r} (see 'mailtls serve --list')")
        out += [c for c in hits if c not in out]
    return [c for c in chosen if c in out]
