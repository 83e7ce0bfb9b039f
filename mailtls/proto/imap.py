"""Sans-I/O IMAP client dialogue (RFC 3501 / 9051 response framing, RFC 2595 STARTTLS).

``IMAPDialogue.receive_data`` turns received bytes into untagged, tagged and continuation
events; ``send_command`` returns a tag and the bytes to send. Errors follow
``mailtls.proto._dialogue``: events completed before a violation are returned first, the
``ProtocolError`` comes with the next call, and after it the dialogue refuses further input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto._dialogue import Dialogue, excerpt
from mailtls.proto.lines import decode_line

__all__ = [
    "IMAPContinuation",
    "IMAPDialogue",
    "IMAPEvent",
    "IMAPGreeting",
    "IMAPTagged",
    "IMAPUntagged",
    "capabilities_from",
    "parse_greeting",
]


@dataclass(frozen=True)
class IMAPUntagged:
    """A "* ..." response; ``text`` is what follows "* "."""

    text: str
    raw: str


@dataclass(frozen=True)
class IMAPTagged:
    """A "<tag> OK|NO|BAD ..." response; ``status`` is upper-case, ``text`` follows it."""

    tag: str
    status: str
    text: str
    raw: str


@dataclass(frozen=True)
class IMAPContinuation:
    """A "+ ..." (or bare "+") continuation request; ``text`` follows "+ "."""

    text: str
    raw: str


IMAPEvent = IMAPUntagged | IMAPTagged | IMAPContinuation

# tag = 1*<ASTRING-CHAR except "+">: CHAR except CTL, SP, ( ) { % * " \ and +  ("]" is allowed).
_TAG_CHARS = frozenset(range(0x21, 0x7F)) - frozenset(b'(){%*"\\+')
_STATUSES = (b"OK", b"NO", b"BAD")
_HEAD = 64  # octets of a line start checked before the line is complete
_MAX_LITERAL_DIGITS = 15


def _is_tag(tag: bytes) -> bool:
    return bool(tag) and all(b in _TAG_CHARS for b in tag)


def _is_tag_str(tag: str) -> bool:
    return bool(tag) and all(ord(c) in _TAG_CHARS for c in tag)


def _prefix_ok(head: bytes) -> bool:
    """False if no response line can start with ``head`` (the start of a line, before its LF)."""
    if not head:
        return True
    first = head[0]
    if first == 0x2A:  # "*"
        return len(head) == 1 or head[1] == 0x20
    if first == 0x2B:  # "+"
        if len(head) == 1 or head[1] == 0x20:
            return True
        return head[1] == 0x0D and len(head) == 2
    tag, sp, rest = head.partition(b" ")
    if not all(b in _TAG_CHARS for b in tag):
        return False
    if not sp:
        return True
    if not tag:
        return False
    word, sp, _ = rest.partition(b" ")
    word = word.upper()
    if sp:
        return word in _STATUSES
    if word.endswith(b"\r"):  # only valid as the end of "TAG STATUS\r\n"
        return word[:-1] in _STATUSES
    return any(s.startswith(word) for s in _STATUSES)


def _literal_size(line: bytes, max_literal: int) -> int | None:
    """N if ``line`` ends in "{N}" or "{N+}", else None; ``ReplyTooLong`` if N > max_literal."""
    if not line.endswith(b"}"):
        return None
    start = line.rfind(b"{")
    if start < 0:
        return None
    digits = line[start + 1 : -1]
    if digits.endswith(b"+"):
        digits = digits[:-1]
    if not digits or not digits.isdigit():
        return None
    significant = digits.lstrip(b"0") or b"0"  # int() refuses > 4300 digits, zeros included
    if len(significant) > _MAX_LITERAL_DIGITS or int(significant) > max_literal:
        raise ReplyTooLong(
            f"IMAP literal of {_number_excerpt(digits)} octets exceeds {max_literal}: "
            f"{excerpt(line[-100:])}"
        )
    return int(significant)


def _number_excerpt(digits: bytes) -> str:
    text = digits.decode("ascii")
    return text if len(text) <= 20 else text[:20] + "…"


def _check_text(what: str, value: str) -> None:
    if any(c in value for c in ("\r", "\n", "\0")):
        raise LocalProtocolError(f"{what} contains CR, LF or NUL: {value!r:.80}")


class IMAPDialogue(Dialogue[IMAPEvent]):
    """Client side of an IMAP session: bytes in, IMAP events out.

    Every line must be "* ...", "+"/"+ ...", or "<tag> OK|NO|BAD[ ...]" (status case-insensitive),
    else ``ProtocolError``. A line (other than "+ ...") ending in "{N}" or "{N+}" is followed by N
    literal octets and then the rest of the response; the event's text holds the whole response
    with the literal inline (the CRLF after "{N}" dropped), decoded with ``decode_line``.
    Limits: ``LineTooLong`` for a line over ``max_line`` octets; ``ReplyTooLong`` for a literal
    over ``max_literal`` octets or a whole response (lines plus literals) over
    ``max_line + max_literal`` octets, or for more than ``max_untagged`` untagged responses in a
    row (no tagged or continuation response between them: an endless stream of "* ..." lines,
    which would otherwise never end the wait for a tagged reply).
    """

    def __init__(
        self, *, max_line: int = 65536, max_literal: int = 1 << 20, tag_prefix: str = "A",
        max_untagged: int = 1000,
    ) -> None:
        if max_literal < 0:
            raise LocalProtocolError(f"max_literal must be >= 0, not {max_literal}")
        if max_untagged < 1:
            raise LocalProtocolError(f"max_untagged must be at least 1, not {max_untagged}")
        if not _is_tag_str(tag_prefix):
            raise LocalProtocolError(f"tag_prefix is not a valid tag: {tag_prefix!r:.80}")
        super().__init__(max_line=max_line)
        self._max_literal = max_literal
        self._max_response = max_line + max_literal
        self._tag_prefix = tag_prefix
        self._counter = 0
        self._outstanding: list[str] = []
        self._segments: list[bytes] = []  # lines (no terminator) and literals of this response
        self._size = 0
        self._literal: int | None = None  # octets of a literal still to read
        self._max_untagged = max_untagged
        self._untagged_run = 0  # untagged responses since the last tagged/continuation one

    @property
    def outstanding_tags(self) -> tuple[str, ...]:
        """Tags sent by ``send_command`` whose tagged response has not arrived yet."""
        return tuple(self._outstanding)

    def send_command(self, command: str, *args: str, tag: str | None = None) -> tuple[str, bytes]:
        """(tag, bytes of the command line), e.g. ``("A1", b"A1 CAPABILITY\\r\\n")``.

        ``args`` must already be atoms or quoted strings; they are joined with single spaces.
        Without ``tag``, tags are ``<tag_prefix>1``, ``<tag_prefix>2``, ...
        """
        if tag is None:
            self._counter += 1
            tag = f"{self._tag_prefix}{self._counter}"
        elif not _is_tag_str(tag):
            raise LocalProtocolError(f"not a valid IMAP tag: {tag!r:.80}")
        _check_text("IMAP command", command)
        if not command or command.startswith(" ") or command.endswith(" "):
            raise LocalProtocolError(f"bad IMAP command: {command!r:.80}")
        for arg in args:
            _check_text("IMAP argument", arg)
            if not arg:
                raise LocalProtocolError('empty IMAP argument (send "" for an empty string)')
        line = " ".join((tag, command, *args))
        try:
            data = line.encode("utf-8") + b"\r\n"
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"IMAP command not encodable: {line!r:.80}") from exc
        self._outstanding.append(tag)
        return tag, data

    def _reset_partial(self) -> None:
        self._segments = []
        self._size = 0
        self._literal = None

    def _parse(self, events: list[IMAPEvent]) -> None:
        while True:
            if self._literal is not None:
                literal = self._buf.read_exact(self._literal)
                if literal is None:
                    return
                self._partial += literal
                self._segments.append(literal)
                self._literal = None
                continue
            first = not self._segments
            line = self._take_line(_prefix_ok if first else None, _HEAD,
                                   "not an IMAP response line")
            if line is None:
                return
            if first:
                _classify(line)  # full check of the line's start
            self._size += len(line)
            if self._size > self._max_response:
                raise ReplyTooLong(
                    f"IMAP response longer than {self._max_response} octets: {excerpt(line)}"
                )
            self._segments.append(line)
            if not self._segments[0].startswith(b"+"):
                n = _literal_size(line, self._max_literal)
                if n is not None:
                    if self._size + n > self._max_response:
                        raise ReplyTooLong(
                            f"IMAP response longer than {self._max_response} octets: "
                            f"{excerpt(line)}"
                        )
                    self._size += n
                    self._literal = n
                    continue
            event = self._build(b"".join(self._segments))
            if isinstance(event, IMAPUntagged):
                self._untagged_run += 1
                if self._untagged_run > self._max_untagged:
                    raise ReplyTooLong(
                        f"more than {self._max_untagged} untagged IMAP responses without a "
                        f"tagged one: {excerpt(b''.join(self._segments)[:100])}"
                    )
            else:
                self._untagged_run = 0
            events.append(event)
            self._reset_partial()
            self._event_done()

    def _build(self, full: bytes) -> IMAPEvent:
        raw = decode_line(full)
        kind = _classify(full)
        if kind is None:
            return IMAPUntagged(decode_line(full[2:]), raw)
        if kind == b"+":
            return IMAPContinuation(decode_line(full[2:]), raw)
        tag, status = kind.split(b" ")
        tag_s = tag.decode("ascii")
        if tag_s in self._outstanding:
            self._outstanding.remove(tag_s)
        text = full[len(tag) + 1 + len(status) + 1 :]
        return IMAPTagged(tag_s, status.upper().decode("ascii"), decode_line(text), raw)


def _classify(line: bytes) -> bytes | None:
    """None for untagged, b"+" for a continuation, b"TAG STATUS" for tagged; else raise."""
    if line.startswith(b"* "):
        return None
    if line == b"+" or line.startswith(b"+ "):
        return b"+"
    tag, sp, rest = line.partition(b" ")
    status = rest.partition(b" ")[0]
    if sp and _is_tag(tag) and status.upper() in _STATUSES:
        return tag + b" " + status
    raise ProtocolError(f"not an IMAP response line: {excerpt(line)}")


@dataclass(frozen=True)
class IMAPGreeting:
    """The server greeting."""

    status: str  # "OK" | "PREAUTH" | "BYE"
    capabilities: frozenset[str] | None  # from a [CAPABILITY ...] response code, upper-cased
    text: str  # everything after the status word, response code included


_GREETING_STATUSES = frozenset({"OK", "PREAUTH", "BYE"})


def parse_greeting(event: IMAPEvent) -> IMAPGreeting:
    """Interpret the first event; ``ProtocolError`` unless it is an untagged OK/PREAUTH/BYE."""
    if not isinstance(event, IMAPUntagged):
        raise ProtocolError(f"IMAP greeting is not an untagged response: {_quote(event.raw)}")
    word, _, rest = event.text.partition(" ")
    status = word.upper()
    if status not in _GREETING_STATUSES:
        raise ProtocolError(f"IMAP greeting is not OK, PREAUTH or BYE: {_quote(event.raw)}")
    return IMAPGreeting(status, _capability_code(rest), rest)


def capabilities_from(events: Sequence[IMAPEvent]) -> frozenset[str] | None:
    """Capabilities announced in ``events``, upper-cased; None if none announces any.

    Sources: an untagged "CAPABILITY ..." response, and a "[CAPABILITY ...]" response code in an
    untagged OK/PREAUTH or a tagged OK. When several are present the last one wins (capabilities
    may change, e.g. after STARTTLS or login).
    """
    found: frozenset[str] | None = None
    for event in events:
        caps: frozenset[str] | None = None
        if isinstance(event, IMAPUntagged):
            word, _, rest = event.text.partition(" ")
            word = word.upper()
            if word == "CAPABILITY":
                caps = frozenset(a.upper() for a in rest.split(" ") if a)
            elif word in ("OK", "PREAUTH"):
                caps = _capability_code(rest)
        elif isinstance(event, IMAPTagged) and event.status == "OK":
            caps = _capability_code(event.text)
        if caps is not None:
            found = caps
    return found


def _capability_code(text: str) -> frozenset[str] | None:
    """Atoms of a leading "[CAPABILITY ...]" response code, upper-cased; None if absent/broken."""
    if not text[:12].upper().startswith("[CAPABILITY") or text[11:12] not in (" ", "]"):
        return None
    end = text.find("]")
    if end < 0:
        return None
    return frozenset(a.upper() for a in text[11:end].split(" ") if a)


def _quote(text: str) -> str:
    return excerpt(text.encode("utf-8", "replace"))
