"""Sans-I/O HTTP/1.1 client dialogue for one thing: the response head to a ``HEAD`` request
(RFC 9112 §4 status line, §5 fields; RFC 9110 §9.3.2 HEAD has no body).

Enough to read a redirect's ``Location`` on port 80 and the ``Strict-Transport-Security``
header on 443 (RFC 6797 §6.1); no bodies, no chunked coding, no keep-alive reuse. Interim 1xx
responses come out as events too. Errors follow ``mailtls.proto._dialogue``; in addition, any
byte that arrives when no response is awaited is a ``ProtocolError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto._dialogue import Dialogue, excerpt
from mailtls.proto.lines import decode_line

__all__ = ["HTTPDialogue", "HTTPResponse"]

_STATUS = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: (.*))?")
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PREFIX = b"HTTP/"
_WHITESPACE = b" \t"
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]+")
_PATH = re.compile(r"/[!-~]*")


@dataclass(frozen=True)
class HTTPResponse:
    """A response head: status, reason, fields (names lower-cased, obs-fold joined with a
    space, RFC 9112 §5.2), and every line as received."""

    version: str  # "1.1"
    status: int
    reason: str
    fields: tuple[tuple[str, str], ...]
    raw: tuple[str, ...]

    def field(self, name: str) -> str | None:
        """The first field of that name, or None."""
        wanted = name.lower()
        return next((v for n, v in self.fields if n == wanted), None)

    def all(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return tuple(v for n, v in self.fields if n == wanted)


class HTTPDialogue(Dialogue[HTTPResponse]):
    """Client side of one HTTP/1.1 exchange: ``request`` gives the bytes of a HEAD request,
    ``receive_data`` the response head.

    ``ProtocolError`` for a status line that is not "HTTP/d.d NNN[ reason]", a field line without
    a name and colon, or bytes nothing asked for; ``LineTooLong`` for a line over ``max_line``
    octets; ``ReplyTooLong`` for more than ``max_fields`` field lines.
    """

    def __init__(self, *, max_line: int = 8192, max_fields: int = 128) -> None:
        if max_fields < 1:
            raise LocalProtocolError(f"max_fields must be at least 1, not {max_fields}")
        super().__init__(max_line=max_line)
        self._max_fields = max_fields
        self._awaited = 0  # final responses still due
        self._status: tuple[str, int, str] | None = None
        self._fields: list[tuple[str, str]] = []
        self._raw: list[str] = []

    def request(self, host: str, path: str = "/", method: str = "HEAD") -> bytes:
        """The bytes of a request with ``Connection: close`` (one exchange per connection)."""
        if method not in ("HEAD", "GET") or not _HOST.fullmatch(host) or not _PATH.fullmatch(path):
            raise LocalProtocolError(f"bad HTTP request: {method} {host!r:.80} {path!r:.80}")
        self._awaited += 1
        return (
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mailtls\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n"
        ).encode("ascii")

    def _reset_partial(self) -> None:
        self._status = None
        self._fields = []
        self._raw = []

    def _parse(self, events: list[HTTPResponse]) -> None:
        while True:
            if self._status is None:
                head = self._head(len(_PREFIX))
                if head and (not self._awaited or not _PREFIX.startswith(head)):
                    raise ProtocolError(
                        "bytes nobody asked for after the response"
                        if not self._awaited
                        else f"not an HTTP status line: {excerpt(self._offending())}"
                    )
            line = self._take_line()
            if line is None:
                return
            if self._status is None:
                match = _STATUS.fullmatch(line)
                if match is None:
                    raise ProtocolError(f"not an HTTP status line: {excerpt(line)}")
                version = f"{match.group(1).decode()}.{match.group(2).decode()}"
                reason = decode_line(match.group(4) or b"")
                self._status = (version, int(match.group(3)), reason)
                self._raw = [decode_line(line)]
                continue
            if line == b"":
                version, status, reason = self._status
                events.append(HTTPResponse(version, status, reason, tuple(self._fields),
                                           tuple(self._raw)))
                if status >= 200:
                    self._awaited -= 1
                self._reset_partial()
                self._event_done()
                continue
            if len(self._raw) > self._max_fields:
                raise ReplyTooLong(f"more than {self._max_fields} HTTP field lines: "
                                   f"{excerpt(line)}")
            self._raw.append(decode_line(line))
            if line[:1] in (b" ", b"\t"):
                if not self._fields:
                    raise ProtocolError(f"continuation line before any field: {excerpt(line)}")
                last_name, last_value = self._fields[-1]
                more = decode_line(line.strip(_WHITESPACE))
                self._fields[-1] = (last_name, f"{last_value} {more}".strip())
                continue
            name, colon, value = line.partition(b":")
            if not colon or not _FIELD_NAME.fullmatch(name):
                raise ProtocolError(f"not an HTTP field line: {excerpt(line)}")
            self._fields.append(
                (name.decode("ascii").lower(), decode_line(value.strip(_WHITESPACE)))
            )
