"""The machinery every dialogue shares: buffering, error state, pending bytes.

Error contract (the same for SMTP, IMAP and POP3):

* ``receive_data`` returns every event the data completed. If the data also contains a protocol
  violation, the events completed before it are returned first and the error is raised by the
  NEXT ``receive_data`` call (``receive_data(b"")`` raises it at once). So the events seen before
  an error never depend on how the bytes were split into chunks.
* Once a ``ProtocolError`` has been raised the dialogue is dead: every later ``receive_data``
  raises an error of the same class again and consumes nothing. ``pending()`` still returns the
  unconsumed bytes (lines of the unfinished event, the offending line, what followed it), for
  evidence; ``failed`` holds the error.
* ``discard_pending()`` drops every byte that is not part of a completed event. An error that
  was found in those bytes but not raised yet is dropped with them; an error already raised
  stays.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto.lines import LineBuffer, decode_line, printable, strip_terminator

EventT = TypeVar("EventT")
StatusT = TypeVar("StatusT")
ExpectT = TypeVar("ExpectT")

_LETTERS = re.compile(r"[A-Za-z]+")


def excerpt(raw: bytes) -> str:
    """Quoted printable excerpt of offending bytes for an error message."""
    return f'"{printable(raw)}"'


def command_line(protocol: str, verb: str, argument: str | None = None, *,
                 verb_pattern: re.Pattern[str] = _LETTERS, upper: bool = False,
                 empty_ok: bool = False) -> bytes:
    """The bytes of one "VERB[ SP argument] CRLF" command line (RFC 5321 §4.1.1, RFC 1939 §3,
    RFC 3977 §3.1, RFC 959 §5.3) of ``protocol`` (the name in the messages).

    ``LocalProtocolError`` (a bug of the caller, nothing is sent) for a verb that does not match
    ``verb_pattern``, or an argument with CR, LF or NUL (it would inject a command), empty
    (pass None for no argument; allowed with ``empty_ok``) or not encodable in UTF-8. ``upper``
    sends the verb upper-cased.
    """
    if not verb_pattern.fullmatch(verb):
        raise LocalProtocolError(f"not a {protocol} verb ({verb_pattern.pattern}): {verb!r:.80}")
    data = (verb.upper() if upper else verb).encode("ascii")
    if argument is None:
        return data + b"\r\n"
    if any(c in argument for c in ("\r", "\n", "\0")):
        raise LocalProtocolError(f"{protocol} argument contains CR, LF or NUL: {argument!r:.80}")
    if argument == "" and not empty_ok:
        raise LocalProtocolError(f"empty {protocol} argument (pass None for no argument)")
    try:
        return data + b" " + argument.encode("utf-8") + b"\r\n"
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"{protocol} argument not encodable: {argument!r:.80}") from exc


class Dialogue(Generic[EventT]):
    """Base of the protocol dialogues (not public API; see the module docstring)."""

    def __init__(self, *, max_line: int) -> None:
        self._buf = LineBuffer(max_line)
        # The raw bytes already taken from _buf for the event being assembled (partial lines of a
        # multi-line reply, IMAP literal parts). Part of pending().
        self._partial = bytearray()
        self._deferred: ProtocolError | None = None
        self._failed: ProtocolError | None = None

    # -- public ------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[EventT]:
        """Feed received bytes; return the events they completed, in order."""
        if self._failed is not None:
            raise type(self._failed)(f"dialogue already failed: {self._failed}") from self._failed
        if self._deferred is not None:
            self._failed, self._deferred = self._deferred, None
            raise self._failed
        self._buf.feed(data)
        events: list[EventT] = []
        try:
            self._parse(events)
        except ProtocolError as exc:
            if not events:
                self._failed = exc
                raise
            self._deferred = exc
        return events

    def pending(self) -> bytes:
        """Bytes received that are not part of a completed event, exactly as received."""
        return bytes(self._partial) + self._buf.pending()

    def discard_pending(self) -> bytes:
        """Drop and return ``pending()`` (e.g. right before a TLS handshake)."""
        data = self.pending()
        self._partial = bytearray()
        self._buf.discard()
        self._deferred = None
        self._reset_partial()
        return data

    @property
    def failed(self) -> ProtocolError | None:
        """The error that killed the dialogue, once raised; else None."""
        return self._failed

    # -- for subclasses ----------------------------------------------------------------------
    def _parse(self, events: list[EventT]) -> None:
        raise NotImplementedError

    def _reset_partial(self) -> None:
        """Forget the event being assembled (its bytes are gone)."""

    def _take_line(self, starts: Callable[[bytes], bool] | None = None, head: int = 0,
                   error: str = "") -> bytes | None:
        """The next complete line without its terminator (recorded in _partial), or None until
        one has arrived.

        With ``starts`` (for a line that begins an event): its first ``head`` octets are judged
        before the line is complete, so a line that cannot begin one raises
        ``ProtocolError(error + excerpt)`` at once and the same whatever the chunking.
        """
        if starts is not None and not starts(self._head(head)):
            raise ProtocolError(f"{error}: {excerpt(self._offending())}")
        raw = self._buf.next_raw_line()
        if raw is None:
            return None
        self._partial += raw
        return strip_terminator(raw)

    def _event_done(self) -> None:
        self._partial = bytearray()

    def _head(self, n: int) -> bytes:
        """Start of the next line (before any LF), at most n and at most max_line + 1 octets.

        Checking only a bounded head keeps byte-by-byte feeding linear, and never looking further
        than max_line + 1 octets makes the error class independent of chunking.
        """
        return self._buf.peek_line_start(min(n, self._buf.max_line + 1))

    def _offending(self, n: int = 100) -> bytes:
        return self._buf.peek_line_start(n) or self._buf.pending()[:n]


class BlockDialogue(Dialogue[EventT], Generic[EventT, StatusT, ExpectT]):
    """Status lines, some followed by a block of lines ended by "." (POP3: RFC 1939 §3, NNTP:
    RFC 3977 §3.1.1), with dot-stuffing undone in ``lines`` and kept in ``raw``.

    Which answers carry a block cannot be seen in the bytes, so every command queues what its
    answer expects (``_expect``, a FIFO: pipelining parses right), the greeting's first when one
    is due. A subclass names its status line (``_prefix_ok``, ``_parse_status``), says whether
    a status opens a block (``_opens_block``) and makes the events (``_event``).
    """

    _head_length = 4  # octets of a line's start that ``_prefix_ok`` needs to judge it
    _not_status = "not a status line"  # the start of the ProtocolError for any other line
    _block_name = "multi-line block"  # the start of the ReplyTooLong message

    def __init__(self, *, max_line: int, max_lines: int, greeting: ExpectT | None) -> None:
        """``greeting``: what the greeting expects, None when no greeting is due (a session
        resumed under TLS)."""
        if max_lines < 0:
            raise LocalProtocolError(f"max_lines must be >= 0, not {max_lines}")
        super().__init__(max_line=max_line)
        self._max_lines = max_lines
        self._expect: deque[ExpectT] = deque(() if greeting is None else (greeting,))
        self._status: StatusT | None = None  # set while its block is being read
        self._lines: list[str] = []
        self._raw: list[str] = []

    @property
    def outstanding(self) -> int:
        """How many answers (greeting included) have not arrived yet."""
        return len(self._expect)

    def _queue(self, expected: ExpectT, line: bytes) -> bytes:
        """``line`` (a command built by ``command_line``), its answer's expectation queued."""
        self._expect.append(expected)
        return line

    # -- for subclasses ----------------------------------------------------------------------
    @staticmethod
    def _prefix_ok(head: bytes) -> bool:
        """False if no status line can start with ``head`` (before its LF)."""
        raise NotImplementedError

    def _parse_status(self, line: bytes, *, unsolicited: bool) -> StatusT:
        """The status line ``line`` (without terminator), or ProtocolError."""
        raise NotImplementedError

    def _opens_block(self, status: StatusT, expected: ExpectT | None) -> bool:
        raise NotImplementedError

    def _event(self, status: StatusT, block: tuple[tuple[str, ...], tuple[str, ...]] | None
               ) -> EventT:
        """The event of ``status`` alone (``block`` None) or with its block (lines, raw)."""
        raise NotImplementedError

    # -- the shared parser -------------------------------------------------------------------
    def _reset_partial(self) -> None:
        self._status = None
        self._lines = []
        self._raw = []

    def _parse(self, events: list[EventT]) -> None:
        while True:
            line = self._take_line(self._prefix_ok if self._status is None else None,
                                   self._head_length, self._not_status)
            if line is None:
                return
            if self._status is not None:
                if line == b".":
                    events.append(self._event(self._status, (tuple(self._lines),
                                                              tuple(self._raw))))
                    self._reset_partial()
                    self._event_done()
                elif len(self._lines) >= self._max_lines:
                    raise ReplyTooLong(f"{self._block_name} longer than {self._max_lines} "
                                       f"lines: {excerpt(line)}")
                else:
                    self._lines.append(decode_line(line[1:] if line.startswith(b".") else line))
                    self._raw.append(decode_line(line))
                continue
            status = self._parse_status(line, unsolicited=not self._expect)
            expected = self._expect.popleft() if self._expect else None
            if self._opens_block(status, expected):
                self._status = status
                continue
            events.append(self._event(status, None))
            self._event_done()
