"""LineBuffer, printable and decode_line."""

from __future__ import annotations

import pytest

from mailtls.errors import LineTooLong, LocalProtocolError, ProtocolError
from mailtls.proto.lines import LineBuffer, decode_line, printable


def lines_of(buf: LineBuffer) -> list[bytes]:
    out = []
    while (line := buf.next_line()) is not None:
        out.append(line)
    return out


def test_crlf_and_bare_lf() -> None:
    buf = LineBuffer()
    buf.feed(b"one\r\ntwo\nthree\r\r\n\r\n\nfour")
    assert lines_of(buf) == [b"one", b"two", b"three\r", b"", b""]
    assert buf.pending() == b"four"
    buf.feed(b"\r")
    assert buf.next_line() is None
    buf.feed(b"\n")
    assert buf.next_line() == b"four"
    assert buf.next_line() is None
    assert buf.pending() == b""


def test_cr_alone_is_not_a_terminator() -> None:
    buf = LineBuffer()
    buf.feed(b"a\rb\r\n")
    assert buf.next_line() == b"a\rb"


def test_next_raw_line_keeps_terminator() -> None:
    buf = LineBuffer()
    buf.feed(b"x\r\ny\n")
    assert buf.next_raw_line() == b"x\r\n"
    assert buf.next_raw_line() == b"y\n"
    assert buf.next_raw_line() is None


def test_read_exact() -> None:
    buf = LineBuffer(max_line=4)
    buf.feed(b"abc")
    assert buf.read_exact(4) is None
    assert buf.read_exact(0) == b""
    buf.feed(b"defghij\r\nrest")
    # read_exact is not bound by max_line
    assert buf.read_exact(7) == b"abcdefg"
    assert buf.next_line() == b"hij"
    assert buf.pending() == b"rest"
    with pytest.raises(LocalProtocolError):
        buf.read_exact(-1)


def test_discard() -> None:
    buf = LineBuffer()
    buf.feed(b"a\r\nbc")
    assert buf.next_line() == b"a"
    assert buf.discard() == b"bc"
    assert buf.pending() == b""
    assert buf.next_line() is None
    buf.feed(b"d\n")
    assert buf.next_line() == b"d"


def test_max_line_exact_boundary() -> None:
    buf = LineBuffer(max_line=5)
    buf.feed(b"12345\n1234\r\n")  # 5 and 5 octets before the LF (CR counts)
    assert lines_of(buf) == [b"12345", b"1234"]
    buf.feed(b"12345")
    assert buf.next_line() is None  # exactly max_line unterminated: still fine
    buf.feed(b"6")
    with pytest.raises(LineTooLong):
        buf.next_line()


def test_complete_overlong_line_is_rejected_too() -> None:
    buf = LineBuffer(max_line=5)
    buf.feed(b"123456\r\n")
    with pytest.raises(LineTooLong) as info:
        buf.next_line()
    assert "123456" in str(info.value)


def test_one_megabyte_without_lf_is_bounded() -> None:
    buf = LineBuffer(max_line=8192)
    chunk = b"A" * 4096
    fed = 0
    with pytest.raises(LineTooLong) as info:
        while fed < 1 << 20:
            buf.feed(chunk)
            fed += len(chunk)
            assert buf.next_line() is None
    assert fed <= 8192 + len(chunk)
    assert len(buf.pending()) <= 8192 + len(chunk)
    assert isinstance(info.value, ProtocolError)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200


def test_one_megabyte_in_one_chunk() -> None:
    buf = LineBuffer()
    buf.feed(b"\x16" * (1 << 20))
    with pytest.raises(LineTooLong):
        buf.next_line()


def test_many_lines_linear() -> None:
    buf = LineBuffer()
    buf.feed(b"250-x\r\n" * 50_000)
    assert len(lines_of(buf)) == 50_000


def test_byte_at_a_time_long_line_is_fast() -> None:
    buf = LineBuffer(max_line=65536)
    for _ in range(65536):
        buf.feed(b"a")
        assert buf.next_line() is None
    buf.feed(b"\n")
    assert buf.next_line() == b"a" * 65536


def test_bad_max_line() -> None:
    with pytest.raises(LocalProtocolError):
        LineBuffer(max_line=0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"hello world", "hello world"),
        (b"tab\there", "tab\\there"),
        (b"\x1b[31mred", "\\x1b[31mred"),
        (b"cr\r\nlf", "cr\\r\\nlf"),
        (b"back\\slash", "back\\\\slash"),
        (b"\x16\x03\x01\x00", "\\x16\\x03\\x01\\x00"),
        (b"caf\xc3\xa9", "café"),
        (b"bad\xff", "bad\ufffd"),
        ("\u202eevil".encode(), "\\u202eevil"),
        (b"\xc2\x9b2J", "\\x9b2J"),
        (b"", ""),
    ],
)
def test_printable(raw: bytes, expected: str) -> None:
    assert printable(raw) == expected


def test_printable_truncates() -> None:
    text = printable(b"x" * 1000)
    assert text == "x" * 79 + "…"
    assert printable(b"x" * 80) == "x" * 80
    assert printable(b"x" * 81) == "x" * 79 + "…"
    escaped = printable(b"\x00" * 100, limit=10)
    assert escaped == "\\x00\\x00…"
    assert len(printable("é".encode() * 10_000, limit=20)) == 20
    assert printable(b"\x00" * (1 << 20)).endswith("…")


def test_printable_never_multiline() -> None:
    for raw in (bytes(range(256)), "\u2028\u2029\x85".encode()):
        text = printable(raw, limit=10_000)
        assert text.isprintable()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"220 mx.example ESMTP", "220 mx.example ESMTP"),
        (b"a\tb", "a\tb"),
        (b"\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        (b"cr\rin line", "cr\\x0din line"),
        (b"nul\x00", "nul\\x00"),
        (b"del\x7f", "del\\x7f"),
        (b"\xc2\x9b31m", "\\x9b31m"),
        ("x\u2028y".encode(), "x\\u2028y"),
        ("\u202ecod.exe".encode(), "\\u202ecod.exe"),
        (b"bad \xff\xfe", "bad \ufffd\ufffd"),
        (b"back\\slash", "back\\slash"),
        ("Grüße".encode(), "Grüße"),
    ],
)
def test_decode_line(raw: bytes, expected: str) -> None:
    assert decode_line(raw) == expected


def test_decode_line_leaves_no_controls() -> None:
    text = decode_line(bytes(range(256)) + "\u2028\u202a\u2066".encode())
    assert all(ch == "\t" or ch.isprintable() or ch == " " for ch in text)
