"""Sans-I/O FTP control-connection dialogue (RFC 959 §4.2 replies, RFC 2389 FEAT, RFC 4217
AUTH TLS / PBSZ / PROT).

An FTP reply is one line "NNN text", or several: the first "NNN-text", any lines in between
(which need not carry a code), and the last "NNN text" with the same code (RFC 959 §4.2). The
greeting is an ordinary reply. Errors follow ``mailtls.proto._dialogue``: events completed
before a violation are returned first, the ``ProtocolError`` comes with the next call, and after
it the dialogue refuses further input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto._dialogue import Dialogue, command_line, excerpt
from mailtls.proto.lines import decode_line

__all__ = ["FTPDialogue", "FTPReply", "parse_feat"]

_DIGITS = frozenset(b"0123456789")
_VERB = re.compile(r"[A-Za-z]{3,4}")


@dataclass(frozen=True)
class FTPReply:
    """One complete reply: its code, the text of each line, and each line as received."""

    code: int
    lines: tuple[str, ...]  # "NNN-"/"NNN " stripped from the first and last line
    raw: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _prefix_ok(head: bytes) -> bool:
    """False if no reply's first line can start with ``head`` (before its LF)."""
    if any(b not in _DIGITS for b in head[:3]):
        return False
    if len(head) < 4:
        return True
    if head[3] in b" -":
        return True
    return head[3] == 0x0D and len(head) == 4  # "220\r\n"


class FTPDialogue(Dialogue[FTPReply]):
    """Client side of an FTP control connection: bytes in, ``FTPReply`` events out.

    ``ProtocolError`` for a first line that is not "NNN", "NNN text" or "NNN-text";
    ``LineTooLong`` for a line over ``max_line`` octets; ``ReplyTooLong`` for a reply of more
    than ``max_reply_lines`` lines (at most that many are ever kept).
    """

    def __init__(self, *, max_line: int = 8192, max_reply_lines: int = 512) -> None:
        if max_reply_lines < 1:
            raise LocalProtocolError(f"max_reply_lines must be at least 1, not {max_reply_lines}")
        super().__init__(max_line=max_line)
        self._max_reply_lines = max_reply_lines
        self._code: bytes | None = None  # the code of the multi-line reply being read
        self._lines: list[str] = []
        self._raw: list[str] = []

    def send_command(self, verb: str, argument: str | None = None) -> bytes:
        """The bytes of one command line (RFC 959 §5.3: "VERB[ SP argument] CRLF")."""
        return command_line("FTP", verb, argument, verb_pattern=_VERB, upper=True, empty_ok=True)

    def _reset_partial(self) -> None:
        self._code = None
        self._lines = []
        self._raw = []

    def _parse(self, events: list[FTPReply]) -> None:
        while True:
            line = self._take_line(_prefix_ok if self._code is None else None, 4,
                                   "not an FTP reply line")
            if line is None:
                return
            if self._code is None:
                if len(line) < 3 or any(b not in _DIGITS for b in line[:3]) or (
                    len(line) > 3 and line[3] not in b" -"
                ):
                    raise ProtocolError(f"not an FTP reply line: {excerpt(line)}")
                text = decode_line(line[4:])
                if line[3:4] == b"-":
                    self._code = line[:3]
                    self._lines, self._raw = [text], [decode_line(line)]
                    continue
                events.append(FTPReply(int(line[:3]), (text,), (decode_line(line),)))
                self._event_done()
                continue
            if len(self._raw) >= self._max_reply_lines:
                raise ReplyTooLong(
                    f"FTP reply longer than {self._max_reply_lines} lines: {excerpt(line)}"
                )
            self._raw.append(decode_line(line))
            if line[:3] == self._code and (len(line) == 3 or line[3] == 0x20):
                self._lines.append(decode_line(line[4:]))
                events.append(FTPReply(int(self._code), tuple(self._lines), tuple(self._raw)))
                self._reset_partial()
                self._event_done()
                continue
            self._lines.append(decode_line(line))


def parse_feat(reply: FTPReply) -> tuple[str, ...]:
    """The features of a 211 FEAT reply (RFC 2389 §3.2), one per line, as sent (stripped).

    The first and last lines are the reply's frame ("Features:", "End"), not features."""
    if reply.code != 211 or len(reply.lines) < 2:
        return ()
    return tuple(f.strip() for f in reply.lines[1:-1] if f.strip())
