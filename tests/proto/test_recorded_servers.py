"""The sans-I/O dialogues against what real servers said, recorded in fixtures/transcripts/:
Postfix 3.7 and Dovecot 2.3 of the interop suite (tests/interop/record_transcripts.py); Exim
4.96, OpenSMTPD 6.8, Courier (courier-mta 1.0, Courier-IMAP 5.0) and Cyrus 3.6 from Debian 12's
packages (scripts/record-servers).

Each TLS-separated part of a recording is replayed: the client's commands go through the
dialogue (so it awaits their answers), then the server's bytes are fed whole, split at every
byte and one byte at a time; every chunking must give the same events, and the capabilities
parsed from them are what the profile configures (STARTTLS/STLS offered before TLS, login only
after it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailtls.model import Protocol
from mailtls.proto.capabilities import cleartext_login_offers, keywords, login_offers
from mailtls.proto.imap import (
    IMAPDialogue,
    IMAPTagged,
    IMAPUntagged,
    capabilities_from,
    parse_greeting,
)
from mailtls.proto.pop3 import POP3Dialogue, POP3MultiLine, POP3Status, parse_capa
from mailtls.proto.smtp import SMTPDialogue, SMTPReply, parse_ehlo
from tests.proto.proto_helpers import AnyDialogue, assert_chunking_invariant

TRANSCRIPTS = Path(__file__).parents[2] / "fixtures" / "transcripts"
TLS_MARK = "-- TLS --"


@dataclass
class Part:
    """One plaintext or TLS stretch of a session: client lines and the server's bytes."""

    commands: list[str] = field(default_factory=list)
    server: bytes = b""


def parts(name: str) -> list[Part]:
    out = [Part()]
    for line in (TRANSCRIPTS / name).read_text().splitlines():
        if line.startswith("#"):
            continue
        if line == TLS_MARK:
            out.append(Part())
        elif line.startswith("C: "):
            out[-1].commands.append(line[3:])
        elif line.startswith("S: "):
            out[-1].server += line[3:].encode() + b"\r\n"
        else:
            raise AssertionError(f"{name}: unexpected line {line!r}")
    return [p for p in out if p.commands or p.server]


def replay(make: Callable[[], AnyDialogue], part: Part) -> list[Any]:
    events, error, pending = assert_chunking_invariant(make, part.server)
    assert error is None, part.server
    assert pending == b""
    return events


# --- SMTP: Postfix -------------------------------------------------------------------------------


def smtp_replies(part: Part) -> list[SMTPReply]:
    return replay(SMTPDialogue, part)  # SMTP replies need no awaited-command state


def ehlo_keywords(reply: SMTPReply) -> list[str]:
    info = parse_ehlo(reply)
    return [" ".join((k, *v)) for k, v in info.keywords.items()]


@pytest.mark.parametrize("service", ["smtp", "submission"])
def test_postfix_starttls_ports(service: str) -> None:
    before, after = parts(f"postfix-3.7-{service}.txt")
    greeting, ehlo, starttls = smtp_replies(before)
    assert greeting.code == 220 and greeting.lines[-1].startswith("mail.example.test ESMTP")
    caps = ehlo_keywords(ehlo)
    assert "STARTTLS" in caps
    assert cleartext_login_offers(Protocol.SMTP, caps) == []  # AUTH only after TLS
    assert starttls.code == 220
    ehlo_tls, quit_reply = smtp_replies(after)
    caps_tls = ehlo_keywords(ehlo_tls)
    assert "STARTTLS" not in caps_tls  # RFC 3207 §4.2: not offered again
    assert login_offers(Protocol.SMTP, caps_tls) == (
        ["AUTH PLAIN LOGIN"] if service == "submission" else []
    )
    assert quit_reply.code == 221


def test_postscreen_greeting_is_one_multiline_reply() -> None:
    greeting = smtp_replies(parts("postfix-3.7-smtp.txt")[0])[0]
    assert greeting.code == 220 and len(greeting.lines) == 2


def test_postfix_implicit_tls() -> None:
    (session,) = parts("postfix-3.7-submissions.txt")
    greeting, ehlo, quit_reply = smtp_replies(session)
    assert greeting.code == 220 and quit_reply.code == 221
    caps = ehlo_keywords(ehlo)
    assert "STARTTLS" not in caps
    assert login_offers(Protocol.SMTP, caps) == ["AUTH PLAIN LOGIN"]


# --- IMAP: Dovecot -------------------------------------------------------------------------------


def imap_dialogue(part: Part, tag_prefix: str) -> Callable[[], IMAPDialogue]:
    def make() -> IMAPDialogue:
        dialogue = IMAPDialogue(tag_prefix=tag_prefix)
        for command in part.commands:
            tag, _ = dialogue.send_command(command.split(" ", 1)[1])
            assert command.startswith(tag + " ")
        return dialogue

    return make


def test_dovecot_imap_starttls() -> None:
    before, after = parts("dovecot-2.3-imap.txt")
    events = replay(imap_dialogue(before, "A"), before)
    assert isinstance(events[0], IMAPUntagged) and events[0].text.startswith("OK [CAPABILITY")
    caps = capabilities_from(events[:3])  # greeting, CAPABILITY, its tagged OK
    assert caps is not None and {"STARTTLS", "LOGINDISABLED", "IMAP4REV1"} <= caps
    assert cleartext_login_offers(Protocol.IMAP, caps) == []
    assert isinstance(events[-1], IMAPTagged) and events[-1].status == "OK"  # STARTTLS
    tls_events = replay(imap_dialogue(after, "B"), after)
    tls_caps = capabilities_from(tls_events[:2])
    assert tls_caps is not None and "STARTTLS" not in tls_caps
    assert login_offers(Protocol.IMAP, tls_caps) == ["LOGIN", "AUTH=LOGIN", "AUTH=PLAIN"]
    assert [type(e) for e in tls_events[2:]] == [IMAPUntagged, IMAPTagged]  # BYE, OK


def test_dovecot_imaps() -> None:
    (session,) = parts("dovecot-2.3-imaps.txt")
    events = replay(imap_dialogue(session, "A"), session)
    caps = capabilities_from(events[:3])
    assert caps is not None and "STARTTLS" not in caps and "LOGINDISABLED" not in caps
    assert login_offers(Protocol.IMAP, caps) == ["LOGIN", "AUTH=LOGIN", "AUTH=PLAIN"]


# --- POP3: Dovecot -------------------------------------------------------------------------------


def pop3_dialogue(part: Part, *, greeting: bool) -> Callable[[], POP3Dialogue]:
    def make() -> POP3Dialogue:
        dialogue = POP3Dialogue(expect_greeting=greeting)
        for command in part.commands:
            dialogue.send_command(command, multiline=command == "CAPA")
        return dialogue

    return make


def capa_lines(event: object) -> list[str]:
    assert isinstance(event, POP3MultiLine) and event.status.ok
    return [" ".join((k, *v)) for k, v in parse_capa(event).items()]


def test_dovecot_pop3_stls() -> None:
    before, after = parts("dovecot-2.3-pop3.txt")
    greeting, capa, stls = replay(pop3_dialogue(before, greeting=True), before)
    assert isinstance(greeting, POP3Status) and greeting.ok
    caps = capa_lines(capa)
    assert "STLS" in caps and "USER" not in caps
    assert cleartext_login_offers(Protocol.POP3, caps) == []  # bare SASL names no mechanism
    assert isinstance(stls, POP3Status) and stls.ok
    capa_tls, quit_status = replay(pop3_dialogue(after, greeting=False), after)
    tls_caps = capa_lines(capa_tls)
    assert "STLS" not in tls_caps
    assert login_offers(Protocol.POP3, tls_caps) == ["USER", "SASL PLAIN LOGIN"]
    assert isinstance(quit_status, POP3Status) and quit_status.ok


def test_dovecot_pop3s() -> None:
    (session,) = parts("dovecot-2.3-pop3s.txt")
    greeting, capa, quit_status = replay(pop3_dialogue(session, greeting=True), session)
    assert isinstance(greeting, POP3Status) and greeting.ok
    assert login_offers(Protocol.POP3, capa_lines(capa)) == ["USER", "SASL PLAIN LOGIN"]
    assert isinstance(quit_status, POP3Status) and quit_status.ok


# --- Exim, OpenSMTPD, Courier, Cyrus (scripts/record-servers) ------------------------------------
# Each session also tries a made-up login (AUTH PLAIN, LOGIN, USER/PASS) before STARTTLS and
# after it: what mailtls's plaintext-login probes ask.

PLAIN_AUTH = "AUTH PLAIN AG5vYm9keS1yZWNvcmRlcgBub3QtYS1wYXNzd29yZA=="  # made-up, see the script


def codes(replies: list[SMTPReply]) -> list[int]:
    return [r.code for r in replies]


def test_exim_starttls() -> None:
    before, after = parts("exim-4.96-smtp.txt")
    assert before.commands == ["EHLO recorder.test", PLAIN_AUTH, "STARTTLS"]
    greeting, ehlo, auth, starttls = smtp_replies(before)
    assert greeting.code == 220 and greeting.text.startswith("mail.example.test ESMTP Exim 4.96 ")
    info = parse_ehlo(ehlo)
    assert info.domain == "mail.example.test"  # "Hello recorder.test [127.0.0.1]" is not a keyword
    assert ehlo_keywords(ehlo) == [
        "SIZE 52428800", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS",
        "SMTPUTF8", "HELP",
    ]
    assert cleartext_login_offers(Protocol.SMTP, ehlo_keywords(ehlo)) == []
    assert (auth.code, auth.text) == (503, "AUTH command used when not advertised")
    assert (starttls.code, starttls.text) == (220, "TLS go ahead")
    ehlo_tls, auth_tls, quit_reply = smtp_replies(after)
    caps_tls = ehlo_keywords(ehlo_tls)
    assert "STARTTLS" not in caps_tls
    assert login_offers(Protocol.SMTP, caps_tls) == ["AUTH PLAIN"]
    assert codes([auth_tls, quit_reply]) == [535, 221]


def test_exim_tls_on_connect() -> None:
    (session,) = parts("exim-4.96-smtps.txt")
    greeting, ehlo, auth, quit_reply = smtp_replies(session)
    assert greeting.code == 220 and "Exim 4.96" in greeting.text
    caps = ehlo_keywords(ehlo)
    assert "STARTTLS" not in caps and login_offers(Protocol.SMTP, caps) == ["AUTH PLAIN"]
    assert codes([auth, quit_reply]) == [535, 221]


@pytest.mark.parametrize("service", ["smtp", "submission"])
def test_opensmtpd_plaintext_part(service: str) -> None:
    """Debian 12's OpenSMTPD 6.8.0p2 fails every server handshake under OpenSSL 3 (the
    recording's header says how): only the plaintext part exists, ending at the go-ahead."""
    name = f"opensmtpd-6.8-{service}.txt"
    (before,) = parts(name)
    assert "# The TLS handshake failed here" in (TRANSCRIPTS / name).read_text()
    greeting, ehlo, auth, starttls = smtp_replies(before)
    assert (greeting.code, greeting.text) == (220, "mail.example.test ESMTP OpenSMTPD")
    assert ehlo.lines[0] == "mail.example.test Hello recorder.test [127.0.0.1], pleased to meet you"
    assert ehlo_keywords(ehlo) == [
        "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 36700160", "DSN", "STARTTLS", "HELP",
    ]
    assert (auth.code, auth.text) == (503, "5.5.1 Invalid command: Command not supported")
    assert (starttls.code, starttls.text) == (220, "2.0.0 Ready to start TLS")


COURIER_EHLO = ["XVERP Courier", "XEXDATA", "XSECURITY NONE,STARTTLS", "PIPELINING", "8BITMIME",
                "SMTPUTF8", "SIZE", "DSN"]


def test_courier_esmtpd_starttls() -> None:
    before, after = parts("courier-1.0-smtp.txt")
    greeting, ehlo, starttls = smtp_replies(before)
    assert (greeting.code, greeting.text) == (220, "mail.example.test ESMTP")
    assert ehlo_keywords(ehlo) == ["STARTTLS", *COURIER_EHLO]
    assert (starttls.code, starttls.text) == (220, "Ok")
    ehlo_tls, auth, quit_reply = smtp_replies(after)
    # "XSECURITY=NONE,STARTTLS" is still there under TLS: its value names STARTTLS, but only the
    # keyword STARTTLS offers it (RFC 3207 §4.2)
    assert ehlo_keywords(ehlo_tls) == COURIER_EHLO
    assert not parse_ehlo(ehlo_tls).has("STARTTLS")
    assert login_offers(Protocol.SMTP, ehlo_keywords(ehlo_tls)) == []  # ESMTPAUTH_TLS is empty
    assert (auth.code, auth.text) == (535, "Authentication rejected")
    assert quit_reply.code == 221


def test_courier_esmtpd_refuses_starttls_after_auth() -> None:
    """courieresmtpd withdraws STARTTLS once the client sent AUTH (also MAIL, RSET, VRFY,
    EXPN), even a refused AUTH: a probe that asks both on one connection sees 540."""
    (session,) = parts("courier-1.0-smtp-auth-first.txt")
    assert session.commands == ["EHLO recorder.test", PLAIN_AUTH, "STARTTLS", "QUIT"]
    greeting, ehlo, auth, starttls, quit_reply = smtp_replies(session)
    assert greeting.code == 220 and "STARTTLS" in ehlo_keywords(ehlo)
    assert (auth.code, starttls.code, starttls.text) == (535, 540, "TLS not available.")
    assert quit_reply.code == 221


def imap_session(name: str) -> list[list[Any]]:
    return [replay(imap_dialogue(part, prefix), part)
            for part, prefix in zip(parts(name), "AB", strict=False)]


def tagged(events: list[Any]) -> list[tuple[str, str, str]]:
    return [(e.tag, e.status, e.text) for e in events if isinstance(e, IMAPTagged)]


def test_courier_imap() -> None:
    before, after = imap_session("courier-5.0-imap.txt")
    greeting = parse_greeting(before[0])
    assert greeting.text.endswith("Courier-IMAP ready. Copyright 1998-2019 Double Precision, Inc.  "
                                  "See COPYING for distribution information.")
    caps = capabilities_from(before[:3])
    assert caps == greeting.capabilities
    assert caps is not None and "STARTTLS" in caps and "LOGINDISABLED" not in caps
    assert cleartext_login_offers(Protocol.IMAP, caps) == ["LOGIN"]  # LOGIN is not disabled
    assert tagged(before) == [
        ("A1", "OK", "CAPABILITY completed"), ("A2", "NO", "Login failed."),
        ("A3", "OK", "Begin SSL/TLS negotiation now."),
    ]
    tls_caps = capabilities_from(after[:2])
    assert tls_caps is not None and "STARTTLS" not in tls_caps
    assert login_offers(Protocol.IMAP, tls_caps) == ["LOGIN", "AUTH=PLAIN"]
    assert tagged(after)[1:] == [("B2", "NO", "Login failed."), ("B3", "OK", "LOGOUT completed")]


def test_cyrus_imap() -> None:
    before, after = imap_session("cyrus-3.6-imap.txt")
    greeting = parse_greeting(before[0])
    assert greeting.text.endswith("] mail.example.test Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u4 "
                                  "server ready")
    # the greeting's code lists the pre-login set; CAPABILITY answers with far more
    assert greeting.capabilities is not None and "QRESYNC" not in greeting.capabilities
    caps = capabilities_from(before[:3])
    assert caps is not None and {"QRESYNC", "STARTTLS", "AUTH=PLAIN"} <= caps
    assert greeting.capabilities < caps
    assert cleartext_login_offers(Protocol.IMAP, caps) == ["LOGIN", "AUTH=LOGIN", "AUTH=PLAIN"]
    assert tagged(before)[1:] == [
        ("A2", "NO", "Login failed: authentication failure"),
        ("A3", "OK", "Begin TLS negotiation now"),
    ]
    tls_caps = capabilities_from(after[:2])
    assert tls_caps is not None and "STARTTLS" not in tls_caps
    plus = {f"AUTH=SCRAM-SHA-{n}-PLUS" for n in ("1", "224", "256", "384", "512")}
    assert tls_caps - caps == plus  # channel binding needs the TLS session
    assert tagged(after)[1:] == [
        ("B2", "NO", "Login failed: authentication failure"), ("B3", "OK", "Completed"),
    ]


def pop3_session_dialogue(part: Part, *, greeting: bool) -> Callable[[], POP3Dialogue]:
    def make() -> POP3Dialogue:
        dialogue = POP3Dialogue(expect_greeting=greeting)
        for command in part.commands:
            verb, _, argument = command.partition(" ")
            dialogue.send_command(verb, argument or None, multiline=verb == "CAPA")
        return dialogue

    return make


def pop3_session(name: str) -> tuple[list[Any], list[Any]]:
    before, after = parts(name)
    return (replay(pop3_session_dialogue(before, greeting=True), before),
            replay(pop3_session_dialogue(after, greeting=False), after))


def statuses(events: list[Any]) -> list[tuple[bool, str]]:
    return [(e.ok, e.text) for e in events if isinstance(e, POP3Status)]


def test_courier_pop3() -> None:
    before, after = pop3_session("courier-5.0-pop3.txt")
    caps = capa_lines(before[1])
    assert caps == ["STLS", "TOP", "USER", "LOGIN-DELAY 10", "PIPELINING", "UIDL", "UTF8 USER",
                    "IMPLEMENTATION Courier Mail Server"]
    assert cleartext_login_offers(Protocol.POP3, caps) == ["USER"]  # USER before STLS
    assert statuses(before) == [
        (True, "Hello there."), (True, "Password required."), (False, "Login failed."),
        (True, "Begin SSL/TLS negotiation now."),
    ]
    tls_caps = capa_lines(after[0])
    assert "STLS" not in tls_caps and login_offers(Protocol.POP3, tls_caps) == ["USER"]
    assert statuses(after) == [
        (True, "Password required."), (False, "Login failed."), (True, "Better luck next time."),
    ]


def test_cyrus_pop3() -> None:
    before, after = pop3_session("cyrus-3.6-pop3.txt")
    greeting = before[0]
    assert isinstance(greeting, POP3Status) and greeting.ok
    assert greeting.text.startswith("mail.example.test Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u4 ")
    assert greeting.text.endswith("@mail.example.test>")  # the APOP timestamp (RFC 1939 §7)
    caps = capa_lines(before[1])
    assert caps[:2] == ["SASL SCRAM-SHA-512 SCRAM-SHA-384 SCRAM-SHA-256 SCRAM-SHA-224 SCRAM-SHA-1 "
                        "DIGEST-MD5 CRAM-MD5 NTLM PLAIN LOGIN", "STLS"]
    assert cleartext_login_offers(Protocol.POP3, caps) == ["USER", "SASL LOGIN PLAIN"]
    assert statuses(before)[1:] == [
        (True, "Name is a valid mailbox"), (False, "[AUTH] Invalid login"),
        (True, "Begin TLS negotiation now"),
    ]
    tls_caps = capa_lines(after[0])
    assert "STLS" not in tls_caps
    assert "SCRAM-SHA-256-PLUS" in keywords(tls_caps)["SASL"]  # channel binding only under TLS
    assert statuses(after) == [
        (True, "Name is a valid mailbox"), (False, "[AUTH] Invalid login"), (True, ""),
    ]


def test_every_recording_is_read() -> None:
    """A new recording needs a test here (and a line in fixtures/README.md)."""
    recorded = {p.name for p in TRANSCRIPTS.glob("*.txt")}
    assert recorded == {
        "postfix-3.7-smtp.txt", "postfix-3.7-submission.txt", "postfix-3.7-submissions.txt",
        "dovecot-2.3-imap.txt", "dovecot-2.3-imaps.txt", "dovecot-2.3-pop3.txt",
        "dovecot-2.3-pop3s.txt",
        "exim-4.96-smtp.txt", "exim-4.96-smtps.txt",
        "opensmtpd-6.8-smtp.txt", "opensmtpd-6.8-submission.txt",
        "courier-1.0-smtp.txt", "courier-1.0-smtp-auth-first.txt", "courier-5.0-imap.txt",
        "courier-5.0-pop3.txt",
        "cyrus-3.6-imap.txt", "cyrus-3.6-pop3.txt",
    }
    readme = (TRANSCRIPTS.parent / "README.md").read_text()
    assert all(f"transcripts/{name}" in readme for name in recorded)
