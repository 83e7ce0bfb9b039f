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
from dataclasses import dataclass

from mailtls.errors import ProtocolError
from mailtls.proto._dialogue import BlockDialogue, command_line, excerpt
from mailtls.proto.lines import decode_line

__all__ = ["NNTPDialogue", "NNTPResponse", "parse_capabilities"]

_DIGITS = frozenset(b"0123456789")
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


class NNTPDialogue(BlockDialogue[NNTPResponse, NNTPResponse, frozenset[int]]):
    """Client side of an NNTP session: bytes in, ``NNTPResponse`` events out.

    ``ProtocolError`` for a status line that is not "NNN" or "NNN text"; ``LineTooLong`` for a
    line over ``max_line`` octets (RFC 3977 allows 512 in commands, servers send longer);
    ``ReplyTooLong`` for a block over ``max_lines`` lines.
    """

    _not_status = "not an NNTP status line"
    _block_name = "NNTP multi-line response"

    def __init__(
        self, *, max_line: int = 8192, max_lines: int = 4096, expect_greeting: bool = True
    ) -> None:
        """``expect_greeting=False`` for the session after STARTTLS (RFC 4642 §2.2.2: no new
        greeting)."""
        # per awaited answer: the status codes that come with a block
        super().__init__(max_line=max_line, max_lines=max_lines,
                         greeting=frozenset() if expect_greeting else None)

    def send_command(
        self, verb: str, argument: str | None = None, *, multiline: frozenset[int] = frozenset()
    ) -> bytes:
        """The bytes of one command line; ``multiline``: the codes whose answer has a block."""
        return self._queue(multiline, command_line("NNTP", verb, argument, upper=True))

    _prefix_ok = staticmethod(_prefix_ok)

    def _parse_status(self, line: bytes, *, unsolicited: bool) -> NNTPResponse:
        if len(line) < 3 or not _prefix_ok(line[:4]) or line[3:4] == b"\r":
            raise ProtocolError(f"not an NNTP status line: {excerpt(line)}")
        return NNTPResponse(int(line[:3]), decode_line(line[4:]), (decode_line(line),),
                            unsolicited=unsolicited)

    def _opens_block(self, status: NNTPResponse, expected: frozenset[int] | None) -> bool:
        return expected is not None and status.code in expected

    def _event(self, status: NNTPResponse,
               block: tuple[tuple[str, ...], tuple[str, ...]] | None) -> NNTPResponse:
        if block is None:
            return status
        lines, raw = block
        return NNTPResponse(status.code, status.text, (*status.raw, *raw), lines)


def parse_capabilities(response: NNTPResponse) -> tuple[str, ...]:
    """A 101 CAPABILITIES block as "LABEL arg ..." lines (label upper-cased, RFC 3977 §5.2.2:
    labels are case-insensitive); blank lines skipped."""
    out: list[str] = []
    for line in response.lines:
        words = [w for w in _WORDS.split(line) if w]
        if words:
            out.append(" ".join((words[0].upper(), *words[1:])))
    return tuple(out)
