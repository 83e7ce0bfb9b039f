"""SMTPDialogue and parse_ehlo."""

from __future__ import annotations

import pytest

from mailtls.errors import LineTooLong, LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto.smtp import EhloInfo, SMTPDialogue, SMTPReply, parse_ehlo
from tests.proto.proto_helpers import assert_chunking_invariant, run

POSTFIX = (
    b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"
    b"250-mail.example.org\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 10240000\r\n"
    b"250-VRFY\r\n"
    b"250-ETRN\r\n"
    b"250-STARTTLS\r\n"
    b"250-AUTH PLAIN LOGIN\r\n"
    b"250-AUTH=PLAIN LOGIN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-8BITMIME\r\n"
    b"250-DSN\r\n"
    b"250-SMTPUTF8\r\n"
    b"250 CHUNKING\r\n"
    b"220 2.0.0 Ready to start TLS\r\n"
)

GMAIL = (
    b"220 smtp.gmail.com ESMTP a640c23a62f3a-abc123 - gsmtp\r\n"
    b"250-smtp.gmail.com at your service, [192.0.2.7]\r\n"
    b"250-SIZE 35882577\r\n"
    b"250-8BITMIME\r\n"
    b"250-STARTTLS\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-PIPELINING\r\n"
    b"250-CHUNKING\r\n"
    b"250 SMTPUTF8\r\n"
)

EXCHANGE = (
    b"220 EX01.corp.example Microsoft ESMTP MAIL Service ready at "
    b"Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    b"250-EX01.corp.example Hello [198.51.100.3]\r\n"
    b"250-SIZE 37748736\r\n"
    b"250-PIPELINING\r\n"
    b"250-DSN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-STARTTLS\r\n"
    b"250-X-ANONYMOUSTLS\r\n"
    b"250-AUTH NTLM\r\n"
    b"250-X-EXPS GSSAPI NTLM\r\n"
    b"250-8BITMIME\r\n"
    b"250-BINARYMIME\r\n"
    b"250-CHUNKING\r\n"
    b"250 XRDST\r\n"
)

REJECT = (
    b"554-mx.example.net\r\n"
    b"554-Your address is listed at bl.example.\r\n"
    b"554 Go away\r\n"
    b"221 2.0.0 Bye\r\n"
)


def test_postfix_transcript() -> None:
    events, error, pending = assert_chunking_invariant(SMTPDialogue, POSTFIX)
    assert error is None and pending == b""
    assert [r.code for r in events] == [220, 250, 220]
    greeting, ehlo, starttls = events
    assert greeting.lines == ("mail.example.org ESMTP Postfix (Debian/GNU)",)
    assert greeting.raw == ("220 mail.example.org ESMTP Postfix (Debian/GNU)",)
    assert greeting.is_positive
    assert len(ehlo.lines) == 13
    assert ehlo.raw[1] == "250-PIPELINING" and ehlo.raw[-1] == "250 CHUNKING"
    info = parse_ehlo(ehlo)
    assert info == EhloInfo(
        domain="mail.example.org",
        keywords={
            "PIPELINING": (),
            "SIZE": ("10240000",),
            "VRFY": (),
            "ETRN": (),
            "STARTTLS": (),
            "AUTH": ("PLAIN", "LOGIN"),
            "ENHANCEDSTATUSCODES": (),
            "8BITMIME": (),
            "DSN": (),
            "SMTPUTF8": (),
            "CHUNKING": (),
        },
    )
    assert info.has("starttls") and info.params("auth") == ("PLAIN", "LOGIN")
    assert starttls.text == "2.0.0 Ready to start TLS"


def test_gmail_transcript() -> None:
    events, error, _ = assert_chunking_invariant(SMTPDialogue, GMAIL)
    assert error is None
    info = parse_ehlo(events[1])
    assert info.domain == "smtp.gmail.com"
    assert "STARTTLS" in info.keywords and "AUTH" not in info.keywords
    assert info.keywords["SIZE"] == ("35882577",)


def test_exchange_transcript() -> None:
    events, error, _ = assert_chunking_invariant(SMTPDialogue, EXCHANGE)
    assert error is None
    info = parse_ehlo(events[1])
    assert info.domain == "EX01.corp.example"
    assert info.keywords["X-EXPS"] == ("GSSAPI", "NTLM")
    assert info.keywords["AUTH"] == ("NTLM",)
    assert info.keywords["XRDST"] == ()


def test_rejection_transcript() -> None:
    events, error, _ = assert_chunking_invariant(SMTPDialogue, REJECT)
    assert error is None
    assert events == [
        SMTPReply(
            554,
            ("mx.example.net", "Your address is listed at bl.example.", "Go away"),
            ("554-mx.example.net", "554-Your address is listed at bl.example.", "554 Go away"),
        ),
        SMTPReply(221, ("2.0.0 Bye",), ("221 2.0.0 Bye",)),
    ]
    assert not events[0].is_positive
    assert events[0].text == "mx.example.net Your address is listed at bl.example. Go away"


def test_bare_lf_and_bare_code() -> None:
    events, error, _ = assert_chunking_invariant(SMTPDialogue, b"220\n250-a\n250\n354 \r\n")
    assert error is None
    assert events == [
        SMTPReply(220, ("",), ("220",)),
        SMTPReply(250, ("a", ""), ("250-a", "250")),
        SMTPReply(354, ("",), ("354 ",)),
    ]


def test_hostile_text_is_escaped() -> None:
    [reply] = SMTPDialogue().receive_data(b"220 \x1b[2J\xff hi\x00\r\n")
    assert reply.lines == ("\\x1b[2J\ufffd hi\\x00",)
    assert reply.raw == ("220 \\x1b[2J\ufffd hi\\x00",)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"2200 four digits\r\n",
        b"22 short\r\n",
        b"22\r\n",
        b"\r\n",
        b" 220 leading space\r\n",
        b"220\tTAB\r\n",
        b"220\r\r\n",
        b"220\rX\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"\x15\x03\x03\x00\x02\x02\x28",
        b"\x00\x00\x00\x00",
        b"\xef\xbb\xbf220 BOM\r\n",
    ],
)
def test_garbage_greeting(data: bytes) -> None:
    events, error, _ = assert_chunking_invariant(SMTPDialogue, data)
    assert events == [] and error is ProtocolError


def test_tls_record_fails_without_waiting_for_a_line_feed() -> None:
    dialogue = SMTPDialogue()
    with pytest.raises(ProtocolError) as info:
        dialogue.receive_data(b"\x16\x03\x01")
    message = str(info.value)
    assert "\\x16\\x03\\x01" in message and "\n" not in message
    # the dialogue stays failed
    with pytest.raises(ProtocolError, match="already failed"):
        dialogue.receive_data(b"220 ok\r\n")
    assert dialogue.failed is not None
    assert dialogue.pending() == b"\x16\x03\x01"


def test_mixed_codes_in_multiline_reply() -> None:
    data = b"250-first\r\n251 second\r\n"
    events, error, _ = assert_chunking_invariant(SMTPDialogue, data)
    assert events == [] and error is ProtocolError
    dialogue = SMTPDialogue()
    with pytest.raises(ProtocolError, match="250 to 251") as info:
        dialogue.receive_data(data)
    assert "251 second" in str(info.value)
    assert dialogue.pending() == data  # the partial reply and the offending line, as received


def test_error_after_complete_reply_is_deferred() -> None:
    data = b"220 hello\r\n250-a\r\n\x16\x03\x01"
    events, error, _ = assert_chunking_invariant(SMTPDialogue, data)
    assert [r.code for r in events] == [220] and error is ProtocolError
    dialogue = SMTPDialogue()
    assert [r.code for r in dialogue.receive_data(data)] == [220]
    assert dialogue.failed is None
    assert dialogue.pending() == b"250-a\r\n\x16\x03\x01"
    with pytest.raises(ProtocolError):
        dialogue.receive_data(b"")
    with pytest.raises(ProtocolError):
        dialogue.receive_data(b"250 ok\r\n")


def test_discard_pending_drops_a_deferred_error() -> None:
    dialogue = SMTPDialogue()
    [reply] = dialogue.receive_data(b"220 go ahead\r\n\x16\x03\x01\x00")
    assert reply.code == 220
    assert dialogue.discard_pending() == b"\x16\x03\x01\x00"
    assert dialogue.pending() == b""
    assert dialogue.receive_data(b"250 fine\r\n") == [SMTPReply(250, ("fine",), ("250 fine",))]


def test_endless_reply() -> None:
    data = b"250-x\r\n" * 10_000
    dialogue = SMTPDialogue()
    with pytest.raises(ReplyTooLong):
        dialogue.receive_data(data)
    assert len(dialogue._lines) == 512  # never more than max_reply_lines kept
    # fed line by line: fails on line 513, holding only those lines
    dialogue = SMTPDialogue()
    fed = 0
    with pytest.raises(ReplyTooLong) as info:
        for _ in range(10_000):
            fed += 1
            dialogue.receive_data(b"250-x\r\n")
    assert fed == 513
    assert len(dialogue.pending()) == 513 * 7
    assert isinstance(info.value, ProtocolError)


def test_reply_of_exactly_max_lines_is_fine() -> None:
    data = b"250-x\r\n" * 3 + b"250 y\r\n"
    [reply] = SMTPDialogue(max_reply_lines=4).receive_data(data)
    assert len(reply.lines) == 4
    _, error, _ = run(lambda: SMTPDialogue(max_reply_lines=3), [data])
    assert error is ReplyTooLong


def test_megabyte_line_without_lf() -> None:
    dialogue = SMTPDialogue()
    chunk = b"220 " + b"A" * 65532
    with pytest.raises(LineTooLong):
        for _ in range(16):
            dialogue.receive_data(chunk)
            chunk = b"A" * 65536
    assert len(dialogue.pending()) <= 8192 + 65536
    dialogue = SMTPDialogue()
    with pytest.raises(LineTooLong):
        dialogue.receive_data(b"220 " + b"A" * (1 << 20))


def test_line_at_max_line() -> None:
    ok = b"220 " + b"a" * 4 + b"\r\n"  # 9 octets before the LF
    assert run(lambda: SMTPDialogue(max_line=9), [ok])[1] is None
    assert run(lambda: SMTPDialogue(max_line=8), [ok])[1] is LineTooLong


def test_pending_after_complete_reply() -> None:
    dialogue = SMTPDialogue()
    replies = dialogue.receive_data(b"220 go ahead\r\n250 inj")
    assert [r.code for r in replies] == [220]
    assert dialogue.pending() == b"250 inj"
    assert dialogue.discard_pending() == b"250 inj"
    assert dialogue.pending() == b""
    # a complete injected reply is simply a second event
    assert len(SMTPDialogue().receive_data(b"220 go ahead\r\n250 injected\r\n")) == 2


def test_pending_of_unfinished_multiline_reply_is_raw() -> None:
    dialogue = SMTPDialogue()
    assert dialogue.receive_data(b"250-a\n250-b\r\n250 c") == []
    assert dialogue.pending() == b"250-a\n250-b\r\n250 c"
    assert dialogue.discard_pending() == b"250-a\n250-b\r\n250 c"
    # the partial reply is forgotten with its bytes
    assert dialogue.receive_data(b"220 new\r\n") == [SMTPReply(220, ("new",), ("220 new",))]


@pytest.mark.parametrize(
    ("verb", "argument", "expected"),
    [
        ("EHLO", "scanner.example", b"EHLO scanner.example\r\n"),
        ("STARTTLS", None, b"STARTTLS\r\n"),
        ("quit", None, b"quit\r\n"),
        ("MAIL", "FROM:<a@b>", b"MAIL FROM:<a@b>\r\n"),
        ("EHLO", "bücher.example", "EHLO bücher.example\r\n".encode()),
    ],
)
def test_send_command(verb: str, argument: str | None, expected: bytes) -> None:
    assert SMTPDialogue().send_command(verb, argument) == expected


@pytest.mark.parametrize(
    ("verb", "argument"),
    [
        ("EHLO", "x\r\nMAIL FROM:<a@b>"),
        ("EHLO", "x\n"),
        ("EHLO", "x\r"),
        ("EHLO", "x\x00"),
        ("EH LO", None),
        ("EHLO\r\n", None),
        ("", None),
        ("ÉHLO", None),
        ("EHLO1", None),
        ("EHLO", ""),
        ("EHLO", "\ud800"),
    ],
)
def test_send_command_rejects(verb: str, argument: str | None) -> None:
    with pytest.raises(LocalProtocolError):
        SMTPDialogue().send_command(verb, argument)


def test_parse_ehlo_edge_cases() -> None:
    reply = SMTPReply(
        250,
        ("", "AUTH=LOGIN", "auth PLAIN LOGIN CRAM-MD5", "", "  size\t 100 ", "=odd", "X-Y=a=b c"),
        (),
    )
    info = parse_ehlo(reply)
    assert info.domain == ""
    assert info.keywords == {
        "AUTH": ("LOGIN", "PLAIN", "CRAM-MD5"),
        "SIZE": ("100",),
        "X-Y": ("a=b", "c"),
    }
    assert parse_ehlo(SMTPReply(250, ("mx hello",), ())).keywords == {}
    assert parse_ehlo(SMTPReply(250, (), ())) == EhloInfo("", {})
    with pytest.raises(LocalProtocolError):
        parse_ehlo(SMTPReply(502, ("unrecognized",), ()))


def test_bad_limits() -> None:
    with pytest.raises(LocalProtocolError):
        SMTPDialogue(max_reply_lines=0)
    with pytest.raises(LocalProtocolError):
        SMTPDialogue(max_line=0)
