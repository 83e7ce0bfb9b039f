"""Sans-I/O SMTP client dialogue (RFC 5321 replies, RFC 3207 STARTTLS, EHLO keywords).

``SMTPDialogue.receive_data`` turns received bytes into ``SMTPReply`` events;
``send_command`` returns the bytes to send. Errors follow ``mailtls.proto._dialogue``: events
completed before a violation are returned first, the ``ProtocolError`` comes with the next call,
and after it the dialogue refuses further input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.model.frozen import frozen_map
from mailtls.proto._dialogue import Dialogue, command_line, excerpt
from mailtls.proto.lines import decode_line

__all__ = ["EhloInfo", "SMTPDialogue", "SMTPReply", "parse_ehlo"]

_DIGITS = frozenset(b"0123456789")
_WORDS = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class SMTPReply:
    """One complete (possibly multi-line) reply."""

    code: int
    lines: tuple[str, ...]  # the text after "NNN-"/"NNN " of each line ("" if none)
    raw: tuple[str, ...]  # each line as received (decode_line, no terminator), for evidence

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400


def _prefix_ok(head: bytes) -> bool:
    """False if no reply line can start with ``head`` (the start of a line, before its LF)."""
    if any(b not in _DIGITS for b in head[:3]):
        return False
    if len(head) < 4:
        return True
    sep = head[3]
    if sep in b" -":
        return True
    # "250\r" is fine only as the end of the line "250\r\n"; a CR followed by more is not.
    return sep == 0x0D and len(head) == 4


class SMTPDialogue(Dialogue[SMTPReply]):
    """Client side of an SMTP session: bytes in, ``SMTPReply`` events out.

    A reply line is three ASCII digits, then " " (last line), "-" (more lines follow) or the end
    of the line (last line). Raises ``ProtocolError`` for any other line or for a multi-line reply
    whose lines carry different codes, ``LineTooLong`` for a line over ``max_line`` octets and
    ``ReplyTooLong`` for a reply of more than ``max_reply_lines`` lines (at most that many lines
    are ever kept).
    """

    def __init__(self, *, max_line: int = 8192, max_reply_lines: int = 512) -> None:
        if max_reply_lines < 1:
            raise LocalProtocolError(f"max_reply_lines must be at least 1, not {max_reply_lines}")
        super().__init__(max_line=max_line)
        self._max_reply_lines = max_reply_lines
        self._code: int | None = None
        self._lines: list[str] = []
        self._raw: list[str] = []

    def send_command(self, verb: str, argument: str | None = None) -> bytes:
        """The bytes of one command line, e.g. ``b"EHLO name\\r\\n"``."""
        return command_line("SMTP", verb, argument)

    def _reset_partial(self) -> None:
        self._code = None
        self._lines = []
        self._raw = []

    def _parse(self, events: list[SMTPReply]) -> None:
        while True:
            line = self._take_line(_prefix_ok, 5, "not an SMTP reply line")
            if line is None:
                return
            if len(line) < 3 or not _prefix_ok(line[:4]) or line[3:4] == b"\r":
                raise ProtocolError(f"not an SMTP reply line: {excerpt(line)}")
            code = int(line[:3])
            last = line[3:4] != b"-"
            if len(self._lines) >= self._max_reply_lines:
                raise ReplyTooLong(
                    f"SMTP reply longer than {self._max_reply_lines} lines: {excerpt(line)}"
                )
            if self._code is not None and code != self._code:
                raise ProtocolError(
                    f"SMTP reply code changed from {self._code} to {code} within a multi-line "
                    f"reply: {excerpt(line)}"
                )
            self._code = code
            self._lines.append(decode_line(line[4:]))
            self._raw.append(decode_line(line))
            if last:
                events.append(SMTPReply(code, tuple(self._lines), tuple(self._raw)))
                self._reset_partial()
                self._event_done()


@dataclass(frozen=True)
class EhloInfo:
    """What a 250 reply to EHLO announces."""

    domain: str  # first word of the first line
    keywords: Mapping[str, tuple[str, ...]]  # KEYWORD (upper-case) -> params (original case)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", frozen_map(self.keywords))

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    def params(self, keyword: str) -> tuple[str, ...]:
        return self.keywords.get(keyword.upper(), ())


def parse_ehlo(reply: SMTPReply) -> EhloInfo:
    """Parse a 250 EHLO reply; ``LocalProtocolError`` for any other code.

    Each line after the first is ``KEYWORD [param ...]``; the old form ``AUTH=PLAIN LOGIN`` (any
    ``KEYWORD=param``) merges into the same keyword. Repeated keywords merge their params,
    duplicates dropped, first-seen order kept. Blank lines are skipped.
    """
    if reply.code != 250:
        raise LocalProtocolError(f"parse_ehlo needs a 250 reply, got {reply.code}")
    first = _split(reply.lines[0]) if reply.lines else []
    domain = first[0] if first else ""
    merged: dict[str, list[str]] = {}
    for line in reply.lines[1:]:
        words = _split(line)
        if not words:
            continue
        keyword, params = words[0], words[1:]
        if "=" in keyword:
            keyword, _, value = keyword.partition("=")
            params = ([value] if value else []) + params
        if not keyword:
            continue
        known = merged.setdefault(keyword.upper(), [])
        known.extend(p for p in dict.fromkeys(params) if p not in known)
    return EhloInfo(domain, {k: tuple(v) for k, v in merged.items()})


def _split(text: str) -> list[str]:
    return [w for w in _WORDS.split(text) if w]
