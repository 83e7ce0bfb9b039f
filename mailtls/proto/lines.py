"""Line framing shared by the SMTP, IMAP and POP3 dialogues, and safe text for evidence.

``LineBuffer`` splits a byte stream into lines (CRLF or bare LF) with a hard length limit, so a
peer that never sends a line feed cannot make us buffer without end. ``printable`` and
``decode_line`` turn hostile bytes into text that is safe to put in messages, reports and
terminals.

Nothing here does I/O.
"""

from __future__ import annotations

from mailtls.errors import LineTooLong, LocalProtocolError
from mailtls.safetext import escape_unsafe

__all__ = ["LineBuffer", "decode_line", "printable"]

_LF = 0x0A
_CR = 0x0D
# Compact the buffer once this many consumed bytes sit at its front (amortised O(1) per byte).
_COMPACT_AT = 16384


class LineBuffer:
    """Accumulates received bytes and hands them out line by line or as exact octet counts.

    ``max_line`` is the largest number of octets allowed before a line's LF (a trailing CR
    counts). ``next_line`` raises ``LineTooLong`` for a longer line, whether it arrived complete
    or not, and as soon as more than ``max_line`` octets are buffered without a LF, so an
    unterminated line never costs more than ``max_line`` plus the last chunk fed. The check is
    made by ``next_line``/``next_raw_line``, which every dialogue calls after each ``feed``.
    ``read_exact`` (IMAP literals) is not subject to the line limit.
    """

    def __init__(self, max_line: int = 8192) -> None:
        if max_line < 1:
            raise LocalProtocolError(f"max_line must be at least 1, not {max_line}")
        self.max_line = max_line
        self._buf = bytearray()
        self._pos = 0  # start of the unconsumed bytes
        self._scan = 0  # no LF in _buf[_pos:_scan]: resume the LF search here

    def feed(self, data: bytes) -> None:
        """Append received bytes (b"" is allowed and does nothing)."""
        self._buf += data

    def next_raw_line(self) -> bytes | None:
        """The next line INCLUDING its terminator (LF or CRLF), or None if none is complete."""
        lf = self._buf.find(b"\n", self._scan)
        if lf < 0:
            self._scan = len(self._buf)
            if len(self._buf) - self._pos > self.max_line:
                raise LineTooLong(
                    f"more than {self.max_line} octets without a line feed: "
                    f'"{printable(bytes(self._buf[self._pos : self._pos + 100]))}"'
                )
            return None
        if lf - self._pos > self.max_line:
            raise LineTooLong(
                f"line longer than {self.max_line} octets: "
                f'"{printable(bytes(self._buf[self._pos : self._pos + 100]))}"'
            )
        line = bytes(self._buf[self._pos : lf + 1])
        self._consume_to(lf + 1)
        return line

    def next_line(self) -> bytes | None:
        """The next line WITHOUT its terminator (LF, and one CR before it), or None."""
        raw = self.next_raw_line()
        return None if raw is None else strip_terminator(raw)

    def read_exact(self, n: int) -> bytes | None:
        """Exactly ``n`` raw octets if that many are buffered (they are consumed), else None."""
        if n < 0:
            raise LocalProtocolError(f"read_exact needs a count >= 0, not {n}")
        if len(self._buf) - self._pos < n:
            return None
        data = bytes(self._buf[self._pos : self._pos + n])
        self._consume_to(self._pos + n)
        return data

    def peek_line_start(self, n: int) -> bytes:
        """Up to ``n`` unconsumed octets, cut before the first LF; consumes nothing."""
        head = bytes(self._buf[self._pos : self._pos + n])
        lf = head.find(b"\n")
        return head if lf < 0 else head[:lf]

    def pending(self) -> bytes:
        """The buffered, unconsumed bytes."""
        return bytes(self._buf[self._pos :])

    def discard(self) -> bytes:
        """Drop the buffered, unconsumed bytes and return them."""
        data = self.pending()
        self._buf = bytearray()
        self._pos = self._scan = 0
        return data

    def __len__(self) -> int:
        return len(self._buf) - self._pos

    def _consume_to(self, end: int) -> None:
        self._pos = end
        self._scan = max(self._scan, end)
        if self._pos >= _COMPACT_AT or self._pos == len(self._buf):
            del self._buf[: self._pos]
            self._scan -= self._pos
            self._pos = 0


def strip_terminator(raw: bytes) -> bytes:
    """``raw`` without a trailing LF and one CR right before it."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw


def printable(raw: bytes, limit: int = 80) -> str:
    """A safe one-line excerpt of ``raw`` for messages and evidence, at most ``limit`` chars.

    Decoded as UTF-8 (invalid bytes become U+FFFD); every character that is not printable
    (controls including TAB/CR/LF, format and separator characters) and the backslash are
    escaped as ``repr`` would; a longer result is cut and ends in "…".
    """
    limit = max(limit, 1)
    # A character takes at most 4 UTF-8 octets, so this slice decodes to > limit characters
    # whenever it is shorter than raw, and its first `limit` characters are those of raw.
    cut = 4 * limit + 4
    text = raw[:cut].decode("utf-8", "replace")
    pieces: list[str] = []
    size = 0
    for ch in text:
        piece = ch if ch.isprintable() and ch != "\\" else repr(ch)[1:-1]
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            break
    else:
        return "".join(pieces)
    out: list[str] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"




def decode_line(raw: bytes) -> str:
    """Decode one received line for evidence: UTF-8 with U+FFFD for invalid bytes.

    Control characters other than TAB (C0, DEL, C1), U+2028/U+2029 and the bidi control
    characters are replaced by ``\\xNN`` / ``\\uNNNN`` escapes, so a hostile banner cannot inject
    terminal escapes or fake line breaks. A backslash is kept as is (the text stays readable;
    use ``printable`` where an unambiguous form matters).
    """
    return escape_unsafe(raw.decode("utf-8", "replace"))
