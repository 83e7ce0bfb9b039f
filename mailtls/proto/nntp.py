"""Sans-I/O NNTP client dialogue (RFC 3977 §3.2 responses, §5.2 CAPABILITIES, RFC 4642
STARTTLS, RFC 4643 AUTHINFO).

An NNTP response is a status line "NNN text"; some responses to some commands carry a
multi-line data block ended by "." (RFC 3977 §3.1.1). Which ones cannot be seen in the bytes,
so, as with POP3, every ``send_command`` says which status codes of its answer come with a
block, and the dialogue keeps a FIFO of them (pipelining parses right). The first status line
is the greeting. Errors follow ``mailtls.proto._dialogue``.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto._dialogue import Dialogue, excerpt
from mailtls.proto.lines import decode_line

__all__ = ["NNTPDialogue", "NNTPResponse", "parse_capabilities"]

_DIGITS = frozenset(b"0123456789")
_VERB = re.compile(r"[A-Za-z]+")
_WORDS = re.compile(r"[ \t]+")
CAPABILITIES_CODES = frozenset({101})


@dataclass(frozen=True)
class NNTPResponse:
    """A status line and, for a multi-line response, its block (dot-unstuffed in ``lines``,
    as received in ``raw``, both without the terminating "."). ``unsolicited``: nothing
    expected it."""

    code: int
    text: str
    raw: tuple[str, ...]  # the status line, then the block lines as received
    lines: tuple[str, ...] = ()
    unsolicited: bool = False


def _prefix_ok(head: bytes) -> bool:
    if any(b not in _DIGITS for b in head[:3]):
        return False
    if len(head) < 4:
        return True
    return head[3] == 0x20 or (head[3] == 0x0D and len(head) == 4)


class NNTPDialogue(Dialogue[NNTPResponse]):
    """Client side of an NNTP session: bytes in, ``NNTPResponse`` events out.

    ``ProtocolError`` for a status line that is not "NNN" or "NNN text"; ``LineTooLong`` for a
    line over ``max_line`` octets (RFC 3977 allows 512 in commands, servers send longer);
    ``ReplyTooLong`` for a block over ``max_lines`` lines.
    """

    def __init__(
        self, *, max_line: int = 8192, max_lines: int = 4096, expect_greeting: bool = True
    ) -> None:
        """``expect_greeting=False`` for the session after STARTTLS (RFC 4642 §2.2.2: no new
        greeting)."""
        if max_lines < 0:
            raise LocalProtocolError(f"max_lines must be >= 0, not {max_lines}")
        super().__init__(max_line=max_line)
        self._max_lines = max_lines
        self._expect: deque[frozenset[int]] = deque([frozenset()] if expect_greeting else [])
        self._status: tuple[int, str, str] | None = None  # while reading a block
        self._lines: list[str] = []
        self._raw: list[str] = []

    @property
    def outstanding(self) -> int:
        return len(self._expect)

    def send_command(
        self, verb: str, argument: str | None = None, *, multiline: frozenset[int] = frozenset()
    ) -> bytes:
        """The bytes of one command line; ``multiline``: the codes whose answer has a block."""
        if not _VERB.fullmatch(verb):
            raise LocalProtocolError(f"NNTP verb must be ASCII letters: {verb!r:.80}")
        data = verb.upper().encode("ascii")
        if argument is not None:
            if any(c in argument for c in ("\r", "\n", "\0")) or argument == "":
                raise LocalProtocolError(f"bad NNTP argument: {argument!r:.80}")
            try:
                data += b" " + argument.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"NNTP argument not encodable: {argument!r:.80}") from exc
        self._expect.append(multiline)
        return data + b"\r\n"

    def _reset_partial(self) -> None:
        self._status = None
        self._lines = []
        self._raw = []

    def _parse(self, events: list[NNTPResponse]) -> None:
        while True:
            if self._status is None and not _prefix_ok(self._head(4)):
                raise ProtocolError(f"not an NNTP status line: {excerpt(self._offending())}")
            taken = self._take_line()
            if taken is None:
                return
            line, _ = taken
            if self._status is not None:
                code, text, status_raw = self._status
                if line == b".":
                    events.append(NNTPResponse(code, text, (status_raw, *self._raw),
                                               tuple(self._lines)))
                    self._reset_partial()
                    self._event_done()
                    continue
                if len(self._lines) >= self._max_lines:
                    raise ReplyTooLong(
                        f"NNTP multi-line response longer than {self._max_lines} lines: "
                        f"{excerpt(line)}"
                    )
                self._lines.append(decode_line(line[1:] if line.startswith(b".") else line))
                self._raw.append(decode_line(line))
                continue
            if len(line) < 3 or not _prefix_ok(line[:4]) or line[3:4] == b"\r":
                raise ProtocolError(f"not an NNTP status line: {excerpt(line)}")
            code = int(line[:3])
            unsolicited = not self._expect
            block_codes = self._expect.popleft() if self._expect else frozenset()
            if code in block_codes:
                self._status = (code, decode_line(line[4:]), decode_line(line))
                continue
            events.append(NNTPResponse(code, decode_line(line[4:]), (decode_line(line),),
                                       unsolicited=unsolicited))
            self._event_done()


def parse_capabilities(response: NNTPResponse) -> tuple[str, ...]:
    """A 101 CAPABILITIES block as "LABEL arg ..." lines (label upper-cased, RFC 3977 §5.2.2:
    labels are case-insensitive); blank lines skipped."""
    out: list[str] = []
    for line in response.lines:
        words = [w for w in _WORDS.split(line) if w]
        if words:
            out.append(" ".join((words[0].upper(), *words[1:])))
    return tuple(out)
