"""POP3Dialogue and parse_capa."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailtls.errors import LineTooLong, LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto.pop3 import POP3Dialogue, POP3MultiLine, POP3Status, parse_capa
from tests.proto.proto_helpers import assert_chunking_invariant, run

DOVECOT = (
    b"+OK Dovecot (Debian) ready.\r\n"
    b"+OK\r\n"
    b"CAPA\r\n"
    b"TOP\r\n"
    b"UIDL\r\n"
    b"RESP-CODES\r\n"
    b"PIPELINING\r\n"
    b"AUTH-RESP-CODE\r\n"
    b"STLS\r\n"
    b"USER\r\n"
    b"SASL PLAIN LOGIN\r\n"
    b".\r\n"
    b"+OK Begin TLS negotiation now.\r\n"
)

GMAIL = (
    b"+OK Gpop ready for requests from 192.0.2.7 a1mb123456abc\r\n"
    b"+OK Capability list follows\r\n"
    b"USER\r\n"
    b"RESP-CODES\r\n"
    b"EXPIRE 0\r\n"
    b"LOGIN-DELAY 300\r\n"
    b"TOP\r\n"
    b"UIDL\r\n"
    b"X-GOOGLE-RICO\r\n"
    b"SASL PLAIN XOAUTH2 OAUTHBEARER\r\n"
    b".\r\n"
)


def dovecot_client() -> POP3Dialogue:
    dialogue = POP3Dialogue()
    assert dialogue.send_command("CAPA", multiline=True) == b"CAPA\r\n"
    assert dialogue.send_command("STLS") == b"STLS\r\n"
    return dialogue


def test_dovecot_transcript() -> None:
    events, error, pending = assert_chunking_invariant(dovecot_client, DOVECOT)
    assert error is None and pending == b""
    greeting, capa, stls = events
    assert greeting == POP3Status(True, "Dovecot (Debian) ready.", "+OK Dovecot (Debian) ready.")
    assert isinstance(capa, POP3MultiLine)
    assert capa.status == POP3Status(True, "", "+OK")
    assert capa.lines[0] == "CAPA" and capa.lines[-1] == "SASL PLAIN LOGIN"
    assert parse_capa(capa) == {
        "CAPA": (),
        "TOP": (),
        "UIDL": (),
        "RESP-CODES": (),
        "PIPELINING": (),
        "AUTH-RESP-CODE": (),
        "STLS": (),
        "USER": (),
        "SASL": ("PLAIN", "LOGIN"),
    }
    assert stls == POP3Status(True, "Begin TLS negotiation now.", "+OK Begin TLS negotiation now.")


def test_gmail_transcript() -> None:
    def make() -> POP3Dialogue:
        dialogue = POP3Dialogue()
        dialogue.send_command("CAPA", multiline=True)
        return dialogue

    events, error, _ = assert_chunking_invariant(make, GMAIL)
    assert error is None
    capa = events[1]
    assert isinstance(capa, POP3MultiLine)
    caps = parse_capa(capa)
    assert "STLS" not in caps
    assert caps["SASL"] == ("PLAIN", "XOAUTH2", "OAUTHBEARER")
    assert caps["LOGIN-DELAY"] == ("300",)


def test_pipelined_commands_parse_in_order() -> None:
    def make() -> POP3Dialogue:
        dialogue = POP3Dialogue()
        dialogue.send_command("CAPA", multiline=True)
        dialogue.send_command("LIST", multiline=True)
        dialogue.send_command("UIDL", "1", multiline=False)
        dialogue.send_command("TOP", "1 0", multiline=True)
        return dialogue

    data = (
        b"+OK hi\r\n"
        b"-ERR no CAPA here\r\n"  # -ERR to a multi-line command is a single line
        b"+OK 2 messages\r\n1 120\n2 200\r\n.\r\n"
        b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"
        b"+OK top\r\nSubject: x\r\n..leading dot\r\n..\r\n\r\n.x\r\n.\r\n"
    )
    events, error, _ = assert_chunking_invariant(make, data)
    assert error is None
    assert events == [
        POP3Status(True, "hi", "+OK hi"),
        POP3Status(False, "no CAPA here", "-ERR no CAPA here"),
        POP3MultiLine(
            POP3Status(True, "2 messages", "+OK 2 messages"), ("1 120", "2 200"), ("1 120", "2 200")
        ),
        POP3Status(True, "1 whqtswO00WBw418f9t5JxYwZ", "+OK 1 whqtswO00WBw418f9t5JxYwZ"),
        POP3MultiLine(
            POP3Status(True, "top", "+OK top"),
            ("Subject: x", ".leading dot", ".", "", "x"),
            ("Subject: x", "..leading dot", "..", "", ".x"),
        ),
    ]


def test_unsolicited_status_after_stls() -> None:
    def make() -> POP3Dialogue:
        dialogue = POP3Dialogue()
        dialogue.send_command("STLS")
        return dialogue

    data = b"+OK ready\r\n+OK Begin TLS\r\n+OK injected\r\n-ERR also\r\n"
    events, error, _ = assert_chunking_invariant(make, data)
    assert error is None
    assert events == [
        POP3Status(True, "ready", "+OK ready"),
        POP3Status(True, "Begin TLS", "+OK Begin TLS"),
        POP3Status(True, "injected", "+OK injected", unsolicited=True),
        POP3Status(False, "also", "-ERR also", unsolicited=True),
    ]


def test_greeting_forms() -> None:
    data = b"+OK\r\n"
    [greeting] = POP3Dialogue().receive_data(data)
    assert greeting == POP3Status(True, "", "+OK")
    [greeting] = POP3Dialogue().receive_data(b"-ERR [SYS/TEMP] busy\n")
    assert greeting == POP3Status(False, "[SYS/TEMP] busy", "-ERR [SYS/TEMP] busy")
    [greeting] = POP3Dialogue().receive_data(b"+ok lower <1896.697170952@dbc.mtview.ca.us>\r\n")
    assert isinstance(greeting, POP3Status)
    assert greeting.ok and greeting.text == "lower <1896.697170952@dbc.mtview.ca.us>"
    dialogue = POP3Dialogue()
    assert dialogue.outstanding == 1
    dialogue.receive_data(b"+OK\r\n")
    assert dialogue.outstanding == 0


def test_pending_and_discard_after_stls() -> None:
    dialogue = POP3Dialogue()
    dialogue.receive_data(b"+OK hi\r\n")
    dialogue.send_command("STLS")
    [ok] = dialogue.receive_data(b"+OK Begin TLS\r\n+OK inj")
    assert isinstance(ok, POP3Status) and ok.text == "Begin TLS"
    assert dialogue.pending() == b"+OK inj"
    assert dialogue.discard_pending() == b"+OK inj"
    assert dialogue.pending() == b""


def test_pending_in_body_is_raw_and_discard_resets() -> None:
    dialogue = POP3Dialogue()
    dialogue.send_command("CAPA", multiline=True)
    assert dialogue.receive_data(b"+OK hi\r\n+OK\r\nTOP\n..x\r\nUI") == [
        POP3Status(True, "hi", "+OK hi")
    ]
    assert dialogue.pending() == b"+OK\r\nTOP\n..x\r\nUI"
    assert dialogue.discard_pending() == b"+OK\r\nTOP\n..x\r\nUI"
    # after discarding, the body is forgotten: the next line must be a status again
    assert dialogue.receive_data(b"+OK later\r\n") == [
        POP3Status(True, "later", "+OK later", unsolicited=True)
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"220 mx.example ESMTP\r\n",
        b"* OK IMAP ready\r\n",
        b"+OKAY\r\n",
        b"-ERROR\r\n",
        b"+O\r\n",
        b"OK\r\n",
        b" +OK\r\n",
        b"+OK\r\r\n",
        b"+OK\rX\r\n",
        b"\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"\x15\x03\x03\x00\x02\x02\x28",
        b"+ challenge\r\n",
    ],
)
def test_garbage_greeting(data: bytes) -> None:
    events, error, _ = assert_chunking_invariant(POP3Dialogue, data)
    assert events == [] and error is ProtocolError


def test_garbage_after_greeting_is_deferred() -> None:
    dialogue = POP3Dialogue()
    [greeting] = dialogue.receive_data(b"+OK hi\r\n\x16\x03\x01")
    assert isinstance(greeting, POP3Status) and greeting.ok
    with pytest.raises(ProtocolError, match=r"\\x16\\x03\\x01"):
        dialogue.receive_data(b"")
    with pytest.raises(ProtocolError, match="already failed"):
        dialogue.receive_data(b"+OK\r\n")


def test_body_line_count_limit() -> None:
    def make(limit: int) -> Callable[[], POP3Dialogue]:
        def factory() -> POP3Dialogue:
            dialogue = POP3Dialogue(max_lines=limit)
            dialogue.send_command("LIST", multiline=True)
            return dialogue

        return factory

    body = b"+OK\r\n+OK\r\n1 1\r\n2 2\r\n3 3\r\n.\r\n"
    assert run(make(3), [body])[1] is None
    events, error, _ = assert_chunking_invariant(make(2), body)
    assert error is ReplyTooLong and events == [POP3Status(True, "", "+OK")]


def test_endless_body_is_bounded() -> None:
    dialogue = POP3Dialogue()
    dialogue.send_command("UIDL", multiline=True)
    dialogue.receive_data(b"+OK\r\n+OK\r\n")
    with pytest.raises(ReplyTooLong):
        for _ in range(100_000):
            dialogue.receive_data(b"1 abc\r\n")
    assert len(dialogue.pending()) <= 5 + 4097 * 7


def test_long_lines() -> None:
    # lenient beyond RFC 2449's 512 octets, up to max_line
    line = b"+OK " + b"x" * 2000 + b"\r\n"
    [status] = POP3Dialogue().receive_data(line)
    assert isinstance(status, POP3Status) and len(status.text) == 2000
    assert run(lambda: POP3Dialogue(max_line=1000), [line])[1] is LineTooLong
    dialogue = POP3Dialogue()
    with pytest.raises(LineTooLong):
        dialogue.receive_data(b"+OK " + b"y" * (1 << 20))


@pytest.mark.parametrize(
    ("verb", "argument", "expected"),
    [
        ("CAPA", None, b"CAPA\r\n"),
        ("USER", "alice", b"USER alice\r\n"),
        ("TOP", "1 0", b"TOP 1 0\r\n"),
        ("stls", None, b"stls\r\n"),
    ],
)
def test_send_command(verb: str, argument: str | None, expected: bytes) -> None:
    assert POP3Dialogue().send_command(verb, argument) == expected


@pytest.mark.parametrize(
    ("verb", "argument"),
    [
        ("USER", "alice\r\nPASS secret"),
        ("USER", "a\n"),
        ("USER", "a\r"),
        ("USER", "a\x00"),
        ("US ER", None),
        ("STLS\r\n", None),
        ("", None),
        ("USER", ""),
        ("USER", "\udcff"),
    ],
)
def test_send_command_rejects(verb: str, argument: str | None) -> None:
    dialogue = POP3Dialogue()
    with pytest.raises(LocalProtocolError):
        dialogue.send_command(verb, argument)
    assert dialogue.outstanding == 1  # nothing queued


def test_parse_capa_edge_cases() -> None:
    event = POP3MultiLine(
        POP3Status(True, "", "+OK"),
        ("sasl PLAIN", "", "SASL LOGIN PLAIN", "  IMPLEMENTATION\tShlemazle-Plotz-v302 "),
        (),
    )
    assert parse_capa(event) == {
        "SASL": ("PLAIN", "LOGIN"),
        "IMPLEMENTATION": ("Shlemazle-Plotz-v302",),
    }


def test_bad_limits() -> None:
    with pytest.raises(LocalProtocolError):
        POP3Dialogue(max_lines=-1)


def test_no_greeting_expected_after_stls() -> None:
    from mailtls.proto.pop3 import POP3Dialogue, POP3MultiLine

    d = POP3Dialogue(expect_greeting=False)
    assert d.outstanding == 0
    d.send_command("CAPA", multiline=True)
    (event,) = d.receive_data(b"+OK\r\nUSER\r\n.\r\n")
    assert isinstance(event, POP3MultiLine) and event.lines == ("USER",)
