"""The pieces the dialogues share (``mailtls.proto._dialogue``): ``BlockDialogue`` (status lines,
some with a dot-terminated block, a FIFO of what each command expects) as POP3 and NNTP use it,
and ``command_line`` as SMTP, POP3, NNTP and FTP use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mailtls.errors import LocalProtocolError, ReplyTooLong
from mailtls.proto.ftp import FTPDialogue
from mailtls.proto.nntp import NNTPDialogue
from mailtls.proto.pop3 import POP3Dialogue, POP3MultiLine
from mailtls.proto.smtp import SMTPDialogue
from tests.proto.proto_helpers import assert_chunking_invariant


@dataclass(frozen=True)
class Speech:
    """How one protocol says "yes, a block follows", "yes" and "no", and reads an event."""

    make: Callable[..., Any]
    block_ok: bytes
    ok: bytes
    no: bytes
    ask_block: Callable[[Any], bytes]
    ask: Callable[[Any], bytes]
    lines: Callable[[Any], tuple[str, ...] | None]  # None: no block
    raw: Callable[[Any], tuple[str, ...]]  # the block as received, without the status line


POP3 = Speech(
    POP3Dialogue, b"+OK list", b"+OK", b"-ERR no",
    lambda d: d.send_command("CAPA", multiline=True),
    lambda d: d.send_command("NOOP"),
    lambda e: e.lines if isinstance(e, POP3MultiLine) else None,
    lambda e: e.raw,
)
NNTP = Speech(
    NNTPDialogue, b"101 list", b"200 ok", b"500 no",
    lambda d: d.send_command("CAPABILITIES", multiline=frozenset({101})),
    lambda d: d.send_command("DATE"),
    lambda e: e.lines if len(e.raw) > 1 else None,
    lambda e: e.raw[1:],
)
SPEECHES = pytest.mark.parametrize("sp", [POP3, NNTP], ids=["pop3", "nntp"])


@SPEECHES
def test_pipelined_blocks_dot_unstuffed_in_order(sp: Speech) -> None:
    def make() -> Any:
        d = sp.make()
        sp.ask_block(d)
        sp.ask(d)
        sp.ask_block(d)  # refused: no block follows a refusal
        sp.ask_block(d)
        return d

    data = (sp.ok + b" hello\r\n" + sp.block_ok + b"\r\nA\r\n..B\r\n.\r\n" + sp.ok + b"\r\n"
            + sp.no + b"\r\n" + sp.block_ok + b"\r\n..\r\n.\r\n")
    events, error, pending = assert_chunking_invariant(make, data)
    assert error is None and pending == b""
    assert [sp.lines(e) for e in events] == [None, ("A", ".B"), None, None, (".",)]
    assert sp.raw(events[1]) == ("A", "..B")
    d = make()
    d.receive_data(data)
    assert d.outstanding == 0


@SPEECHES
@pytest.mark.parametrize("extra", [0, 1])
def test_block_limit_is_exact(sp: Speech, extra: int) -> None:
    def make() -> Any:
        d = sp.make(max_lines=3)
        sp.ask_block(d)
        return d

    data = sp.ok + b"\r\n" + sp.block_ok + b"\r\n" + b"x\r\n" * (3 + extra) + b".\r\n"
    events, error, _ = assert_chunking_invariant(make, data)
    if extra:
        assert error is ReplyTooLong and len(events) == 1
    else:
        assert error is None and sp.lines(events[1]) == ("x", "x", "x")


@SPEECHES
def test_discard_pending_inside_a_block_starts_afresh(sp: Speech) -> None:
    d = sp.make(expect_greeting=False)
    sp.ask_block(d)
    assert d.receive_data(sp.block_ok + b"\r\nhalf\r\n") == []
    assert d.discard_pending() == sp.block_ok + b"\r\nhalf\r\n"
    sp.ask(d)
    [event] = d.receive_data(sp.ok + b"\r\n")
    assert sp.lines(event) is None and d.outstanding == 0


@SPEECHES
def test_a_refused_verb_or_argument_queues_nothing(sp: Speech) -> None:
    d = sp.make()
    with pytest.raises(LocalProtocolError):
        d.send_command("NO OP")
    with pytest.raises(LocalProtocolError):
        d.send_command("X", "a\r\nQUIT")
    assert d.outstanding == 1  # the greeting only


@pytest.mark.parametrize(
    ("make", "verb", "sent", "empty"),
    [(SMTPDialogue, "ehlo", b"ehlo x\r\n", False), (POP3Dialogue, "capa", b"capa x\r\n", False),
     (NNTPDialogue, "date", b"DATE x\r\n", False), (FTPDialogue, "user", b"USER x\r\n", True)],
    ids=["smtp", "pop3", "nntp", "ftp"],
)
def test_command_line(make: Callable[[], Any], verb: str, sent: bytes, empty: bool) -> None:
    send = make().send_command
    assert send(verb, "x") == sent
    assert send(verb) == sent[: len(verb)] + b"\r\n"
    for argument in ("a\rb", "a\nb", "a\0b", "\udcff"):
        with pytest.raises(LocalProtocolError):
            send(verb, argument)
    for bad_verb in ("", "E HLO", "HELO\r\n", "ÉHLO"):
        with pytest.raises(LocalProtocolError):
            send(bad_verb)
    if empty:
        assert send(verb, "") == sent[: len(verb)] + b" \r\n"
    else:
        with pytest.raises(LocalProtocolError):
            send(verb, "")
