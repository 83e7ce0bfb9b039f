"""Sans-I/O POP3 client dialogue (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS).

POP3 cannot tell a single-line from a multi-line response by looking at it, so the dialogue keeps
a FIFO of what each command sent by ``send_command`` expects (pipelining parses right). The first
status line is the greeting. Errors follow ``mailtls.proto._dialogue``: events completed before a
violation are returned first, the ``ProtocolError`` comes with the next call, and after it the
dialogue refuses further input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtls.errors import ProtocolError
from mailtls.proto._dialogue import BlockDialogue, command_line, excerpt
from mailtls.proto.lines import decode_line

__all__ = ["POP3Dialogue", "POP3Event", "POP3MultiLine", "POP3Status", "parse_capa"]

_WORDS = re.compile(r"[ \t]+")
_OK = b"+OK"
_ERR = b"-ERR"


@dataclass(frozen=True)
class POP3Status:
    """A status line. ``text`` follows "+OK "/"-ERR "; ``unsolicited`` if nothing expected it."""

    ok: bool
    text: str
    raw: str
    unsolicited: bool = False


@dataclass(frozen=True)
class POP3MultiLine:
    """A "+OK" answer with its body: ``lines`` dot-unstuffed, ``raw`` as received (both without
    the terminating ".")."""

    status: POP3Status
    lines: tuple[str, ...]
    raw: tuple[str, ...]


POP3Event = POP3Status | POP3MultiLine


def _prefix_ok(head: bytes) -> bool:
    """False if no status line can start with ``head`` (the start of a line, before its LF)."""
    upper = head.upper()
    for indicator in (_OK, _ERR):
        n = len(indicator)
        if indicator.startswith(upper[:n]) and (len(upper) <= n or upper[:n] == indicator):
            if len(head) <= n or head[n] == 0x20:
                return True
            return head[n] == 0x0D and len(head) == n + 1  # only as "+OK\r\n"
    return False


def _parse_status(line: bytes, *, unsolicited: bool) -> POP3Status:
    upper = line[:4].upper()
    for indicator, ok in ((_OK, True), (_ERR, False)):
        n = len(indicator)
        if upper[:n] == indicator and (len(line) == n or line[n] == 0x20):
            return POP3Status(ok, decode_line(line[n + 1 :]), decode_line(line), unsolicited)
    raise ProtocolError(f"not a POP3 status line (+OK/-ERR): {excerpt(line)}")


class POP3Dialogue(BlockDialogue[POP3Event, POP3Status, bool]):
    """Client side of a POP3 session: bytes in, ``POP3Status``/``POP3MultiLine`` events out.

    A status line is "+OK" or "-ERR" (case-insensitive), then a space and text or the end of the
    line; anything else where a status is expected is a ``ProtocolError``. The greeting comes
    out as an ordinary ``POP3Status``; status lines nothing waits for come out with
    ``unsolicited=True``. ``LineTooLong`` for a line over ``max_line`` octets, ``ReplyTooLong``
    for a body over ``max_lines`` lines. There is no support for SASL "+ " challenges.
    """

    _head_length = 5
    _not_status = "not a POP3 status line (+OK/-ERR)"
    _block_name = "POP3 multi-line answer"

    def __init__(
        self, *, max_line: int = 8192, max_lines: int = 4096, expect_greeting: bool = True
    ) -> None:
        """``expect_greeting=False`` for a session resumed under TLS after STLS (RFC 2595 §4:
        the server sends no new greeting)."""
        # per awaited answer: does a "+OK" carry a body?
        super().__init__(max_line=max_line, max_lines=max_lines,
                         greeting=False if expect_greeting else None)

    def send_command(
        self, verb: str, argument: str | None = None, *, multiline: bool = False
    ) -> bytes:
        """The bytes of one command line; queues the answer it expects.

        ``multiline=True``: a "+OK" answer carries a body ended by "." (CAPA, LIST, UIDL, ...).
        """
        return self._queue(multiline, command_line("POP3", verb, argument))

    _prefix_ok = staticmethod(_prefix_ok)

    def _parse_status(self, line: bytes, *, unsolicited: bool) -> POP3Status:
        return _parse_status(line, unsolicited=unsolicited)

    def _opens_block(self, status: POP3Status, expected: bool | None) -> bool:
        return bool(expected) and status.ok

    def _event(self, status: POP3Status,
               block: tuple[tuple[str, ...], tuple[str, ...]] | None) -> POP3Event:
        return status if block is None else POP3MultiLine(status, *block)


def parse_capa(event: POP3MultiLine) -> dict[str, tuple[str, ...]]:
    """CAPA body as TAG (upper-case) -> params (original case).

    Repeated tags merge their params, duplicates dropped, first-seen order kept. Blank lines are
    skipped.
    """
    merged: dict[str, list[str]] = {}
    for line in event.lines:
        words = [w for w in _WORDS.split(line) if w]
        if not words:
            continue
        known = merged.setdefault(words[0].upper(), [])
        known.extend(p for p in dict.fromkeys(words[1:]) if p not in known)
    return {k: tuple(v) for k, v in merged.items()}
