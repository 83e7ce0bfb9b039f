"""Property tests: any bytes, any chunking.

For every dialogue: only ProtocolError (or a subclass) ever escapes; the outcome (events, class of
the error, pending bytes) does not depend on how the bytes are chunked; and pending() stays
bounded by the dialogue's limits plus the size of the last chunk.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from hypothesis import given, settings, strategies as st

from mailtls.errors import LineTooLong, ProtocolError
from mailtls.proto.imap import IMAPDialogue
from mailtls.proto.lines import LineBuffer
from mailtls.proto.pop3 import POP3Dialogue
from mailtls.proto.smtp import SMTPDialogue
from tests.proto.proto_helpers import AnyDialogue, cut, run

# MAILTLS_FUZZ_EXAMPLES=5000 for a deeper run; the default keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("MAILTLS_FUZZ_EXAMPLES", "200")), deadline=None, database=None
)


GOOD_TERMINATORS = st.sampled_from([b"\r\n", b"\r\n", b"\n"])
ANY_TERMINATORS = st.sampled_from([b"\r\n", b"\n", b"\r\r\n", b"", b"\r"])


def payloads(
    fragments: list[bytes], good: st.SearchStrategy[bytes], bad: st.SearchStrategy[bytes]
) -> st.SearchStrategy[bytes]:
    """Mostly plausible lines (about one in ten broken), then maybe a garbage tail; or noise."""
    line = st.integers(0, 9).flatmap(lambda i: bad if i == 9 else good)
    tail = st.integers(0, 2).flatmap(
        lambda i: (
            st.just(b"")
            if i < 2
            else st.lists(
                st.one_of(st.sampled_from(fragments), st.binary(max_size=6)), max_size=8
            ).map(b"".join)
        )
    )
    structured = st.tuples(st.lists(line, max_size=15).map(b"".join), tail).map(b"".join)
    noise = st.binary(max_size=300)
    return st.integers(0, 3).flatmap(lambda i: noise if i == 3 else structured)


def line_of(*parts: st.SearchStrategy[bytes], good: bool = True) -> st.SearchStrategy[bytes]:
    return st.tuples(*parts, GOOD_TERMINATORS if good else ANY_TERMINATORS).map(b"".join)


def check(
    make: Callable[[], AnyDialogue],
    data: bytes,
    positions: list[int],
    bound: int,
    buffer_bound: int,
) -> None:
    """Outcome equals feeding ``data`` whole, and memory stays bounded after every call.

    pending() <= bound + the last chunk fed; the unparsed part of it (the line buffer, without
    the lines of a partly received multi-line reply) <= buffer_bound + the last chunk fed. A call
    that raises a deferred error feeds nothing, so there "the last chunk fed" is the one of the
    call that returned events and deferred the error.
    """
    chunks = cut(data, positions)
    assert run(make, chunks) == run(make, [data])
    dialogue = make()
    last = 0
    for chunk in [*chunks, b""]:
        deferred = bool(getattr(dialogue, "_deferred", None))
        last = last if deferred else len(chunk)
        try:
            dialogue.receive_data(chunk)
        except ProtocolError:
            break
        finally:
            assert len(dialogue.pending()) <= bound + last
            assert len(dialogue._buf) <= buffer_bound + last  # type: ignore[attr-defined]


def positions_for(data: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, len(data)), max_size=12)


# -- SMTP ------------------------------------------------------------------------------------------
SMTP_FRAGMENTS = [
    b"220",
    b"250",
    b"251",
    b"-",
    b" ",
    b"ok",
    b"\r\n",
    b"\n",
    b"\r",
    b"250-x\r\n",
    b"250 y\r\n",
    b"2",
    b"\x16\x03\x01",
    b"\xff",
    b"x" * 40,
]


SMTP_TEXT = st.sampled_from([b"", b"ok", b"AUTH PLAIN", b"\xff\x1b", b"x" * 15])
SMTP_GOOD = line_of(
    st.sampled_from([b"220", b"250", b"250", b"250", b"251"]),
    st.sampled_from([b" ", b"-", b"-", b"-", b""]),
    SMTP_TEXT,
)
SMTP_BAD = line_of(
    st.sampled_from([b"220", b"250", b"2x0", b"25", b"", b"\x16\x03"]),
    st.sampled_from([b" ", b"-", b"", b"x", b"\r"]),
    SMTP_TEXT,
    good=False,
)


def smtp_bound(max_line: int, max_reply_lines: int) -> int:
    return (max_reply_lines + 1) * (max_line + 1) + max_line


@FUZZ
@given(st.data(), payloads(SMTP_FRAGMENTS, SMTP_GOOD, SMTP_BAD))
def test_smtp_small_limits(draw: st.DataObject, data: bytes) -> None:
    positions = draw.draw(positions_for(data))
    check(
        lambda: SMTPDialogue(max_line=24, max_reply_lines=3), data, positions, smtp_bound(24, 3), 24
    )


@FUZZ
@given(st.data(), st.binary(max_size=2000))
def test_smtp_arbitrary_bytes(draw: st.DataObject, data: bytes) -> None:
    positions = draw.draw(positions_for(data))
    check(SMTPDialogue, data, positions, smtp_bound(8192, 512), 8192)


# -- IMAP ------------------------------------------------------------------------------------------
IMAP_FRAGMENTS = [
    b"* ",
    b"+ ",
    b"+",
    b"A1 OK",
    b"a2 no",
    b" BAD",
    b"{",
    b"}",
    b"{3}",
    b"{0}",
    b"{4+}",
    b"{99}",
    b"\r\n",
    b"\n",
    b"\r",
    b"OK",
    b"*",
    b"x",
    b"\x16",
    b"y" * 40,
    b"}\r\n",
    b"{2}\r\n",
    b"* OK [CAPABILITY A B] hi\r\n",
]


LITERAL_TAIL = st.tuples(
    st.sampled_from([b"{0}", b"{3}", b"{3+}", b"{7}", b"{9}", b"{99}"]),
    st.sampled_from([b"\r\n", b"\n"]),
    st.sampled_from([b"", b"abc", b"a\r\nb", b"\r\n* x\r\n", b"{3}\r\n"]),
).map(b"".join)
IMAP_TEXT = st.sampled_from([b"", b"x", b"[CAPABILITY A b]", b"CAPABILITY IMAP4rev1", b"\x1b"])
IMAP_GOOD = line_of(
    st.sampled_from([b"* ", b"* ", b"* ", b"+ ", b"+", b"A1 OK", b"A1 OK ", b"b.2 no ", b"t BAD "]),
    IMAP_TEXT,
    st.one_of(st.just(b""), LITERAL_TAIL),
)
IMAP_BAD = line_of(
    st.sampled_from([b"*", b"+x", b"A1 OKAY", b"x", b"", b"A(1 OK", b"\x16\x03"]),
    IMAP_TEXT,
    st.one_of(st.just(b""), LITERAL_TAIL),
    good=False,
)


def imap_bound(max_line: int, max_literal: int) -> int:
    return 4 * (max_line + max_literal) + 3 * max_line + 8


@FUZZ
@given(st.data(), payloads(IMAP_FRAGMENTS, IMAP_GOOD, IMAP_BAD))
def test_imap_small_limits(draw: st.DataObject, data: bytes) -> None:
    positions = draw.draw(positions_for(data))
    check(lambda: IMAPDialogue(max_line=24, max_literal=8), data, positions, imap_bound(24, 8), 24)


@FUZZ
@given(st.data(), st.binary(max_size=2000))
def test_imap_arbitrary_bytes(draw: st.DataObject, data: bytes) -> None:
    positions = draw.draw(positions_for(data))
    check(IMAPDialogue, data, positions, imap_bound(65536, 1 << 20), 1 << 20)


# -- POP3 ------------------------------------------------------------------------------------------
POP3_FRAGMENTS = [
    b"+OK",
    b"-ERR",
    b" ",
    b"\r\n",
    b"\n",
    b"\r",
    b".",
    b"..",
    b".\r\n",
    b"+OK x\r\n",
    b"line",
    b"\x16",
    b"+",
    b"-",
    b"z" * 40,
    b"+OK\r\n",
]


POP3_GOOD = line_of(
    st.sampled_from([b"+OK", b"+OK hi", b"-ERR no", b".", b".", b"..x", b"line", b"", b"+OK x"])
)
POP3_BAD = line_of(st.sampled_from([b"+OKx", b"-ER", b"OK", b"\x16\x03", b".", b"+OK"]), good=False)


def pop3_bound(max_line: int, max_lines: int) -> int:
    return (max_lines + 2) * (max_line + 1) + max_line


def pop3_factory(max_line: int, max_lines: int, flags: list[bool]) -> Callable[[], POP3Dialogue]:
    def make() -> POP3Dialogue:
        dialogue = POP3Dialogue(max_line=max_line, max_lines=max_lines)
        for multiline in flags:
            dialogue.send_command("CMD", multiline=multiline)
        return dialogue

    return make


@FUZZ
@given(
    st.data(), payloads(POP3_FRAGMENTS, POP3_GOOD, POP3_BAD), st.lists(st.booleans(), max_size=6)
)
def test_pop3_small_limits(draw: st.DataObject, data: bytes, flags: list[bool]) -> None:
    positions = draw.draw(positions_for(data))
    check(pop3_factory(24, 3, flags), data, positions, pop3_bound(24, 3), 24)


@FUZZ
@given(st.data(), st.binary(max_size=2000), st.lists(st.booleans(), max_size=6))
def test_pop3_arbitrary_bytes(draw: st.DataObject, data: bytes, flags: list[bool]) -> None:
    positions = draw.draw(positions_for(data))
    check(pop3_factory(8192, 4096, flags), data, positions, pop3_bound(8192, 4096), 8192)


# -- LineBuffer ------------------------------------------------------------------------------------
@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 32))
def test_linebuffer_bounded(chunks: list[bytes], max_line: int) -> None:
    """Unterminated data never exceeds max_line + the last chunk; lines match a plain split."""
    buf = LineBuffer(max_line)
    lines: list[bytes] = []
    failed = False
    for chunk in chunks:
        buf.feed(chunk)
        try:
            while (line := buf.next_line()) is not None:
                lines.append(line)
        except LineTooLong:
            failed = True
        assert len(buf.pending()) <= max_line + len(chunk)
        if failed:
            break
    if not failed:
        data = b"".join(chunks)
        *complete, rest = data.split(b"\n")
        assert lines == [c[:-1] if c.endswith(b"\r") else c for c in complete]
        assert buf.pending() == rest
