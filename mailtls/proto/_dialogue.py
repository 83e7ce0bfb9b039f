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

from typing import Generic, TypeVar

from mailtls.errors import ProtocolError
from mailtls.proto.lines import LineBuffer, printable, strip_terminator

EventT = TypeVar("EventT")


def excerpt(raw: bytes) -> str:
    """Quoted printable excerpt of offending bytes for an error message."""
    return f'"{printable(raw)}"'


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

    def _take_line(self) -> tuple[bytes, bytes] | None:
        """(line without terminator, raw line) for the next complete line, recorded in _partial."""
        raw = self._buf.next_raw_line()
        if raw is None:
            return None
        self._partial += raw
        return strip_terminator(raw), raw

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
