"""IMAPDialogue, parse_greeting and capabilities_from."""

from __future__ import annotations

import pytest

from mailtls.errors import LineTooLong, LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto.imap import (
    IMAPContinuation,
    IMAPDialogue,
    IMAPEvent,
    IMAPGreeting,
    IMAPTagged,
    IMAPUntagged,
    capabilities_from,
    parse_greeting,
)
from tests.proto.proto_helpers import assert_chunking_invariant, run

DOVECOT_CAPS = frozenset(
    {"IMAP4REV1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "STARTTLS"}
    | {"LOGINDISABLED"}
)
DOVECOT = (
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    b"LOGINDISABLED] Dovecot ready.\r\n"
    b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    b"LOGINDISABLED\r\n"
    b"A1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
    b"A2 OK Begin TLS negotiation now.\r\n"
)

GMAIL = (
    b"* OK Gimap ready for requests from 192.0.2.7 x1mb123456abc\r\n"
    b"* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 "
    b"XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER\r\n"
    b"A1 OK Thats all she wrote! x1mb123456abc\r\n"
    b"A2 BAD STARTTLS not supported\r\n"
)

LITERALS = (
    b'* ID ("name" {7}\r\nDovecot "vendor" {0}\r\n)\r\n'
    b"* 12 FETCH (BODY[HEADER] {30}\r\nSubject: hi\r\n* fake\r\nA9 OK x\r\n FLAGS (\\Seen))\r\n"
    b"* 13 FETCH (BODY[1] {4+}\r\n}{4}{2}\r\nab)\r\n"
    b"+ idling\r\n"
    b"+\r\n"
    b"a.b OK [READ-WRITE] done {literal-looking} text\r\n"
)


def test_dovecot_transcript() -> None:
    events, error, pending = assert_chunking_invariant(IMAPDialogue, DOVECOT)
    assert error is None and pending == b""
    greeting = parse_greeting(events[0])
    assert greeting == IMAPGreeting(
        "OK",
        DOVECOT_CAPS,
        "[CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
        "LOGINDISABLED] Dovecot ready.",
    )
    assert events[1] == IMAPUntagged(
        "CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
        "LOGINDISABLED",
        "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
        "LOGINDISABLED",
    )
    assert events[2] == IMAPTagged(
        "A1",
        "OK",
        "Pre-login capabilities listed, post-login capabilities have more.",
        "A1 OK Pre-login capabilities listed, post-login capabilities have more.",
    )
    assert events[3] == IMAPTagged(
        "A2", "OK", "Begin TLS negotiation now.", "A2 OK Begin TLS negotiation now."
    )
    assert capabilities_from(events) == DOVECOT_CAPS
    assert capabilities_from(events[:1]) == DOVECOT_CAPS


def test_gmail_transcript() -> None:
    events, error, _ = assert_chunking_invariant(IMAPDialogue, GMAIL)
    assert error is None
    greeting = parse_greeting(events[0])
    assert greeting.status == "OK" and greeting.capabilities is None
    assert greeting.text.startswith("Gimap ready")
    caps = capabilities_from(events)
    assert caps is not None
    assert {"IMAP4REV1", "X-GM-EXT-1", "AUTH=XOAUTH2"} <= caps and "STARTTLS" not in caps
    assert events[3] == IMAPTagged(
        "A2", "BAD", "STARTTLS not supported", "A2 BAD STARTTLS not supported"
    )
    assert capabilities_from(events[:1]) is None


def test_literals() -> None:
    events, error, pending = assert_chunking_invariant(IMAPDialogue, LITERALS)
    assert error is None and pending == b""
    assert events == [
        IMAPUntagged(
            'ID ("name" {7}Dovecot "vendor" {0})', '* ID ("name" {7}Dovecot "vendor" {0})'
        ),
        IMAPUntagged(
            "12 FETCH (BODY[HEADER] {30}Subject: hi\\x0d\\x0a* fake\\x0d\\x0aA9 OK x\\x0d\\x0a"
            " FLAGS (\\Seen))",
            "* 12 FETCH (BODY[HEADER] {30}Subject: hi\\x0d\\x0a* fake\\x0d\\x0aA9 OK x\\x0d\\x0a"
            " FLAGS (\\Seen))",
        ),
        IMAPUntagged("13 FETCH (BODY[1] {4+}}{4}{2}ab)", "* 13 FETCH (BODY[1] {4+}}{4}{2}ab)"),
        IMAPContinuation("idling", "+ idling"),
        IMAPContinuation("", "+"),
        IMAPTagged(
            "a.b",
            "OK",
            "[READ-WRITE] done {literal-looking} text",
            "a.b OK [READ-WRITE] done {literal-looking} text",
        ),
    ]


def test_pending_during_literal() -> None:
    dialogue = IMAPDialogue()
    assert dialogue.receive_data(b"* 1 FETCH (BODY[] {10}\r\n01234") == []
    assert dialogue.pending() == b"* 1 FETCH (BODY[] {10}\r\n01234"
    assert dialogue.receive_data(b"56789)\r\n* OK") == [
        IMAPUntagged("1 FETCH (BODY[] {10}0123456789)", "* 1 FETCH (BODY[] {10}0123456789)")
    ]
    assert dialogue.pending() == b"* OK"
    assert dialogue.discard_pending() == b"* OK"
    assert dialogue.receive_data(b"A1 NO x\r\n") == [IMAPTagged("A1", "NO", "x", "A1 NO x")]


def test_discard_pending_in_literal_resets() -> None:
    dialogue = IMAPDialogue()
    dialogue.receive_data(b"* 1 FETCH {100}\r\nabc")
    assert dialogue.discard_pending() == b"* 1 FETCH {100}\r\nabc"
    assert dialogue.receive_data(b"* OK fresh\r\n") == [IMAPUntagged("OK fresh", "* OK fresh")]


def test_continuation_is_not_a_literal() -> None:
    [event] = IMAPDialogue().receive_data(b"+ {5}\r\n")
    assert event == IMAPContinuation("{5}", "+ {5}")


def test_status_case_and_tag_forms() -> None:
    data = b"a1 ok lower\r\nX]Y Bad what\r\nt-1 No\r\nT2 OK \r\n"
    events, error, _ = assert_chunking_invariant(IMAPDialogue, data)
    assert error is None
    assert [(e.tag, e.status, e.text) for e in events if isinstance(e, IMAPTagged)] == [
        ("a1", "OK", "lower"),
        ("X]Y", "BAD", "what"),
        ("t-1", "NO", ""),
        ("T2", "OK", ""),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"220 mx.example ESMTP\r\n",
        b"+OK POP3 ready\r\n",
        b"*OK no space\r\n",
        b"*\r\n",
        b"+x\r\n",
        b"+\r\r\n",
        b"A1 OKAY\r\n",
        b"A1 BYE x\r\n",
        b"A1\r\n",
        b"A1 \r\n",
        b"A1  OK\r\n",
        b" A1 OK\r\n",
        b"A*1 OK x\r\n",
        b"+1 OK x\r\n",
        b"(A1) OK\r\n",
        b"A\x001 OK\r\n",
        b"\r\n",
        b"HTTP/1.1 400 Bad Request\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"\x15\x03\x03\x00\x02\x02\x28",
        b"A1 OK\rX\r\n",
    ],
)
def test_garbage(data: bytes) -> None:
    events, error, _ = assert_chunking_invariant(IMAPDialogue, data)
    assert events == [] and error is ProtocolError


def test_tls_record_fails_immediately() -> None:
    dialogue = IMAPDialogue()
    with pytest.raises(ProtocolError, match=r"\\x16\\x03"):
        dialogue.receive_data(b"\x16\x03")
    with pytest.raises(ProtocolError, match="already failed"):
        dialogue.receive_data(b"* OK\r\n")


def test_error_after_event_is_deferred() -> None:
    dialogue = IMAPDialogue()
    [event] = dialogue.receive_data(b"A1 OK Begin TLS\r\n\x16\x03\x01")
    assert event.raw == "A1 OK Begin TLS"
    assert dialogue.pending() == b"\x16\x03\x01"
    with pytest.raises(ProtocolError):
        dialogue.receive_data(b"")


def test_literal_too_big() -> None:
    data = b"* 1 FETCH (BODY[] {1048577}\r\n"
    events, error, _ = assert_chunking_invariant(IMAPDialogue, data)
    assert events == [] and error is ReplyTooLong
    # exactly max_literal is fine
    dialogue = IMAPDialogue(max_literal=4)
    assert dialogue.receive_data(b"* x {4}\r\nabcd\r\n") == [
        IMAPUntagged("x {4}abcd", "* x {4}abcd")
    ]
    assert run(lambda: IMAPDialogue(max_literal=3), [b"* x {4}\r\n"])[1] is ReplyTooLong


def test_absurd_literal_size_does_not_crash() -> None:
    data = b"* x {" + b"9" * 5000 + b"}\r\n"
    _, error, _ = run(IMAPDialogue, [data])
    assert error is ReplyTooLong
    _, error, _ = run(IMAPDialogue, [b"* x {" + b"0" * 5000 + b"1}\r\nz\r\n"])
    assert error is None


def test_endless_literal_chain_is_bounded() -> None:
    dialogue = IMAPDialogue(max_line=64, max_literal=64)
    dialogue.receive_data(b"* 1 FETCH (A {1}\r\n")
    with pytest.raises(ReplyTooLong):
        for _ in range(10_000):
            dialogue.receive_data(b"x {1}\r\n")
    assert len(dialogue.pending()) < 3 * (64 + 64)


def test_megabyte_line_without_lf() -> None:
    dialogue = IMAPDialogue()
    with pytest.raises(LineTooLong):
        dialogue.receive_data(b"* OK " + b"A" * (1 << 20))
    dialogue = IMAPDialogue()
    with pytest.raises(LineTooLong):
        for _ in range(64):
            dialogue.receive_data(b"* OK " + b"A" * 32768)
    assert len(dialogue.pending()) <= 65536 + 32773


def test_send_command_tags() -> None:
    dialogue = IMAPDialogue()
    assert dialogue.send_command("CAPABILITY") == ("A1", b"A1 CAPABILITY\r\n")
    assert dialogue.send_command("STARTTLS") == ("A2", b"A2 STARTTLS\r\n")
    assert dialogue.send_command("LOGIN", '"user"', '"pass word"', tag="x7") == (
        "x7",
        b'x7 LOGIN "user" "pass word"\r\n',
    )
    assert dialogue.send_command("NOOP") == ("A3", b"A3 NOOP\r\n")
    assert dialogue.outstanding_tags == ("A1", "A2", "x7", "A3")
    dialogue.receive_data(b"A2 OK x\r\nZZ OK unknown tag\r\n")
    assert list(dialogue.outstanding_tags) == ["A1", "x7", "A3"]
    other = IMAPDialogue(tag_prefix="mt")
    assert other.send_command("ID", "NIL") == ("mt1", b"mt1 ID NIL\r\n")


@pytest.mark.parametrize(
    ("command", "args", "tag"),
    [
        ("CAPABILITY\r\nA2 LOGOUT", (), None),
        ("LOGIN", ("a\r\n", "b"), None),
        ("LOGIN", ("a", "b\n"), None),
        ("LOGIN", ("a\x00",), None),
        ("NOOP", (), "A\r\n"),
        ("NOOP", (), "A B"),
        ("NOOP", (), "+A"),
        ("NOOP", (), "A*"),
        ("NOOP", (), ""),
        ("NOOP", (), "Ä"),
        ("", (), None),
        ("LOGIN", ("",), None),
        ("ID", ("\ud800",), None),
    ],
)
def test_send_command_rejects(command: str, args: tuple[str, ...], tag: str | None) -> None:
    with pytest.raises(LocalProtocolError):
        IMAPDialogue().send_command(command, *args, tag=tag)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(LocalProtocolError):
        IMAPDialogue(tag_prefix="a b")
    with pytest.raises(LocalProtocolError):
        IMAPDialogue(max_literal=-1)


@pytest.mark.parametrize(
    ("raw", "status", "caps", "text"),
    [
        (b"* OK hi\r\n", "OK", None, "hi"),
        (b"* ok\r\n", "OK", None, ""),
        (
            b"* PREAUTH [CAPABILITY imap4rev2 IDLE] logged in\r\n",
            "PREAUTH",
            {"IMAP4REV2", "IDLE"},
            None,
        ),
        (b"* BYE too many connections\r\n", "BYE", None, "too many connections"),
        (b"* OK [CAPABILITY] empty\r\n", "OK", set(), "[CAPABILITY] empty"),
        (b"* OK [CAPABILITY IMAP4rev1 broken\r\n", "OK", None, None),
        (b"* OK [CAPABILITYX A] no\r\n", "OK", None, None),
        (b"* OK [ALERT] [CAPABILITY A] not leading\r\n", "OK", None, None),
    ],
)
def test_parse_greeting(raw: bytes, status: str, caps: set[str] | None, text: str | None) -> None:
    [event] = IMAPDialogue().receive_data(raw)
    greeting = parse_greeting(event)
    assert greeting.status == status
    assert greeting.capabilities == (None if caps is None else frozenset(caps))
    if text is not None:
        assert greeting.text == text


@pytest.mark.parametrize(
    "raw",
    [
        b"* NO go away\r\n",
        b"* CAPABILITY IMAP4rev1\r\n",
        b"A1 OK hi\r\n",
        b"+ hi\r\n",
        b"* OKAY\r\n",
    ],
)
def test_parse_greeting_rejects(raw: bytes) -> None:
    [event] = IMAPDialogue().receive_data(raw)
    with pytest.raises(ProtocolError):
        parse_greeting(event)


def test_capabilities_from_sources() -> None:
    events: list[IMAPEvent] = [
        IMAPUntagged("OK [CAPABILITY IMAP4rev1 STARTTLS] hi", ""),
        IMAPUntagged("3 EXISTS", ""),
        IMAPTagged("A1", "OK", "[CAPABILITY IMAP4rev1 AUTH=PLAIN] logged in", ""),
    ]
    assert capabilities_from(events) == frozenset({"IMAP4REV1", "AUTH=PLAIN"})
    assert capabilities_from(events[:2]) == frozenset({"IMAP4REV1", "STARTTLS"})
    assert capabilities_from([IMAPUntagged("capability a b", "")]) == frozenset({"A", "B"})
    assert capabilities_from([IMAPUntagged("CAPABILITY", "")]) == frozenset()
    assert capabilities_from([IMAPTagged("A1", "NO", "[CAPABILITY A] no", "")]) is None
    assert capabilities_from([IMAPUntagged("CAPABILITYX A", "")]) is None
    assert capabilities_from([IMAPUntagged("BYE [CAPABILITY A]", "")]) is None
    assert capabilities_from([IMAPContinuation("[CAPABILITY A]", "")]) is None
    assert capabilities_from([]) is None


def test_endless_untagged_responses_end_as_reply_too_long() -> None:
    """An IMAP server that answers a command with "* ..." lines forever never sends the tagged
    reply; the dialogue stops it after max_untagged of them, at every chunking."""
    data = b"".join(b"* %d EXISTS\r\n" % i for i in range(6))
    events, error, _ = assert_chunking_invariant(lambda: IMAPDialogue(max_untagged=5), data)
    assert len(events) == 5 and error is ReplyTooLong


def test_a_tagged_or_continuation_response_restarts_the_untagged_count() -> None:
    data = (b"* 1 EXISTS\r\n* 2 EXISTS\r\nA1 OK done\r\n* 3 EXISTS\r\n* 4 EXISTS\r\n+ go\r\n"
            b"* 5 EXISTS\r\n* 6 EXISTS\r\n")
    events, error, _ = assert_chunking_invariant(lambda: IMAPDialogue(max_untagged=2), data)
    assert error is None and len(events) == 8
    with pytest.raises(LocalProtocolError):
        IMAPDialogue(max_untagged=0)
