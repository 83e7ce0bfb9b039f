"""The sans-I/O dialogues against what real servers said: Postfix 3.7 and Dovecot 2.3 of the
interop suite, recorded in fixtures/transcripts/ (tests/interop/record_transcripts.py).

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
from mailtls.proto.capabilities import cleartext_login_offers, login_offers
from mailtls.proto.imap import IMAPDialogue, IMAPTagged, IMAPUntagged, capabilities_from
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


def test_every_recording_is_read() -> None:
    """A new recording needs a test here (and a line in fixtures/README.md)."""
    recorded = {p.name for p in TRANSCRIPTS.glob("*.txt")}
    assert recorded == {
        "postfix-3.7-smtp.txt", "postfix-3.7-submission.txt", "postfix-3.7-submissions.txt",
        "dovecot-2.3-imap.txt", "dovecot-2.3-imaps.txt", "dovecot-2.3-pop3.txt",
        "dovecot-2.3-pop3s.txt",
    }
    readme = (TRANSCRIPTS.parent / "README.md").read_text()
    assert all(f"transcripts/{name}" in readme for name in recorded)
