"""Pure judgement of one case: what the client did (``ConnectionRecord``s and, with ``--run``,
its exit and output) -> safe / vulnerable / inconclusive, with the behaviours seen.

Behaviours (stable names, in the JSON output):

==========================  =================================================================
no_connection               the client never connected
refused                     the client stopped without sending anything secret (and without
                            finishing its job)
credentials_plaintext       credentials arrived outside TLS
credentials_tls             credentials arrived inside TLS
message_plaintext           SMTP: a mail transaction (MAIL FROM) was started outside TLS
plaintext_session_used      IMAP: mailbox commands on an unencrypted (PREAUTH) session
accepted_certificate        the client sent commands inside a TLS session it should have refused
acted_on_injection          the client acted on a response injected before the handshake
showed_alert                the client showed the plaintext [ALERT] text to its user
plaintext_on_implicit_port  the client talked plaintext on an implicit-TLS port
completed                   the client finished its job and logged out
==========================  =================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .cases import Case
from .record import ConnectionRecord

Verdict = Literal["safe", "vulnerable", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("safe", "vulnerable", "inconclusive")

#: IMAP commands that use no mailbox data: allowed on an unencrypted PREAUTH session.
_HARMLESS_IMAP = frozenset({"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "ID"})


@dataclass(frozen=True)
class ClientRun:
    """The client process of one case (``--run``); its output is kept only as a scrubbed tail."""

    command: str  # the template, placeholders not filled in (no password)
    exit_code: int | None  # None: killed at the timeout
    timed_out: bool
    output_tail: str  # last lines of stdout+stderr, the password scrubbed
    alert_shown: bool


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str
    behaviours: tuple[str, ...]


def behaviours(
    case: Case, connections: Sequence[ConnectionRecord], alert_shown: bool | None
) -> tuple[str, ...]:
    seen: list[str] = []

    def add(name: str) -> None:
        if name not in seen:
            seen.append(name)

    if not connections:
        add("no_connection")
    for c in connections:
        if any(not cred.tls for cred in c.credentials):
            add("credentials_plaintext")
        if any(cred.tls for cred in c.credentials):
            add("credentials_tls")
        if c.message_started_plaintext:
            add("message_plaintext")
        if case.preauth and any(v not in _HARMLESS_IMAP for v in c.plaintext_commands()):
            add("plaintext_session_used")
        if case.expect == "reject_certificate" and c.tls_version is not None and c.tls_commands():
            add("accepted_certificate")
        if c.injection_acted:
            add("acted_on_injection")
        if case.plaintext_on_implicit and c.plaintext_commands():
            add("plaintext_on_implicit_port")
    if alert_shown:
        add("showed_alert")
    if any(c.completed for c in connections):
        add("completed")
    bad = {"credentials_plaintext", "message_plaintext", "plaintext_session_used",
           "accepted_certificate", "acted_on_injection", "showed_alert",
           "plaintext_on_implicit_port"}
    if connections and not bad.intersection(seen) and "completed" not in seen:
        add("refused")
    return tuple(seen)


def judge(  # noqa: C901 (a split is still to do: issue 15)
    case: Case,
    connections: Sequence[ConnectionRecord],
    *,
    alert_shown: bool | None = None,
) -> Judgement:
    """The verdict of ``case``. ``alert_shown``: None when nobody could tell (interactive)."""
    seen = behaviours(case, connections, alert_shown)
    found = set(seen)

    def verdict(v: Verdict, reason: str) -> Judgement:
        return Judgement(v, reason, seen)

    if "no_connection" in found:
        return verdict("inconclusive", "the client never connected")
    leaks = []
    if "credentials_plaintext" in found:
        leaks.append("sent credentials in plaintext")
    if "message_plaintext" in found:
        leaks.append("started sending mail in plaintext")
    if "plaintext_session_used" in found:
        leaks.append("used the unencrypted PREAUTH session")
    if "plaintext_on_implicit_port" in found:
        leaks.append("talked plaintext on the implicit-TLS port")
    if "accepted_certificate" in found:
        leaks.append("accepted the TLS session and sent commands in it")
    if "acted_on_injection" in found:
        leaks.append("acted on a response injected before the TLS handshake")
    if "showed_alert" in found:
        leaks.append("showed the plaintext [ALERT] text to the user")
    if leaks:
        return verdict("vulnerable", "; ".join(leaks))

    expect = case.expect
    if expect == "complete":
        if "completed" in found:
            return verdict("safe", "completed normally, credentials only inside TLS")
        return verdict("inconclusive", "the client did not complete the clean session (is it "
                       "configured for this port and style, and does it trust the test CA?)")
    if expect == "discard_injection":
        if any(c.injection_acted is False for c in connections):
            return verdict("safe", "discarded the injected response")
        if any(c.starttls_requested for c in connections):
            return verdict("safe", "gave up after the injected response (no command inside "
                           "TLS)")
        return verdict("inconclusive", "the client never asked for STARTTLS, so injection "
                       "could not be tested")
    if expect == "reject_certificate":
        if any(c.tls_attempted or c.tls_error or c.tls_version for c in connections):
            return verdict("safe", "refused the TLS session and sent nothing in it")
        return verdict("inconclusive", "the client never started TLS")
    if expect == "ignore_alert" and alert_shown is None:
        return verdict("inconclusive", "whether the client showed the [ALERT] could not be "
                       "observed")
    if expect == "ignore_alert":
        return verdict("safe", "did not show the plaintext [ALERT]")
    if expect == "no_plaintext_on_implicit":
        return verdict("safe", "sent nothing in plaintext on the implicit-TLS port")
    if expect == "no_plaintext_session":
        return verdict("safe", "did not use the unencrypted session")
    # no_plaintext: a downgrade attempt
    if "completed" in found:
        return verdict("safe", "completed, credentials only inside TLS")
    return verdict("safe", "stopped without sending anything secret in plaintext")
