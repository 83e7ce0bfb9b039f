"""The receive budget of one connection: how many bytes and lines it may receive, and until when.

Every ``Stream`` (``mailtls.net.stream.open_stream``) owns one ``ReceiveBudget`` and charges every
chunk of application data it reads to it, before and inside TLS; every wait on the connection
(connect, read, send, TLS handshake, close) is cut to the budget's deadline. So no probe can read
without end, whatever its own loop does: an endless stream of short lines, one endless line or a
slow drip ends at the first of the three limits. The dialogues keep their own per-line and
per-reply limits on top (``mailtls.proto``); this is the floor under all of them.

Nothing here does I/O; the clock is read only through ``time.monotonic``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mailtls.errors import ReceiveLimitExceeded

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_LINES", "ReceiveBudget"]

# A mail session's answers before and after STARTTLS, or a TLS server's first flight, are a few
# KiB; a certificate chain stays well under 100 KiB. These bounds are generous for any honest
# server and keep a hostile one to a few MiB of memory and CPU per connection.
DEFAULT_MAX_BYTES = 2 << 20
DEFAULT_MAX_LINES = 10_000


@dataclass
class ReceiveBudget:
    """Bytes, lines (LF octets) and a deadline (``time.monotonic()``) for one connection."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_lines: int = DEFAULT_MAX_LINES
    deadline: float | None = None
    received: int = 0
    lines: int = 0

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be <= 0), or None without a deadline."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def clamp(self, timeout: float) -> tuple[float, bool]:
        """(the wait allowed for a step whose own limit is ``timeout``, whether the deadline
        and not ``timeout`` decided it)."""
        left = self.remaining()
        if left is not None and left < timeout:
            return max(left, 0.0), True
        return timeout, False

    def charge(self, data: bytes) -> None:
        """Count received bytes; ``ReceiveLimitExceeded`` once a limit is passed."""
        self.received += len(data)
        self.lines += data.count(b"\n")
        if self.received > self.max_bytes:
            raise ReceiveLimitExceeded(
                f"the server sent more than {self.max_bytes} bytes on one connection "
                f"({self.lines} lines): an endless stream"
            )
        if self.lines > self.max_lines:
            raise ReceiveLimitExceeded(
                f"the server sent more than {self.max_lines} lines on one connection: "
                "an endless stream"
            )
