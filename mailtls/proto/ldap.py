"""Sans-I/O LDAPv3 client dialogue: a minimal BER encoder/decoder for the few operations a
TLS probe needs (RFC 4511 §4.2 simple bind, §4.5 a base search of the root DSE, §4.14 the
StartTLS extended operation, §4.3 unbind; RFC 4513 §3).

LDAP has no lines: each message is one BER element ``LDAPMessage ::= SEQUENCE { messageID,
protocolOp, controls [0] OPTIONAL }`` with definite lengths only (RFC 4511 §5.1). The dialogue
reads a message's header as soon as its first octets arrive, so garbage (a TLS record, an HTTP
banner) and a length over ``max_message`` are refused at once, never buffered. Errors follow the
contract of ``mailtls.proto._dialogue``: the events completed before a violation first, the
``ProtocolError`` with the next call, a dead dialogue after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailtls.errors import LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto.lines import decode_line, printable

__all__ = [
    "NOTICE_OF_DISCONNECTION",
    "RESULT_NAMES",
    "STARTTLS_OID",
    "LDAPDialogue",
    "LDAPEntry",
    "LDAPEvent",
    "LDAPResult",
]

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"  # RFC 4511 §4.14.1
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"  # RFC 4511 §4.4.1
RESULT_NAMES = {
    0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
    7: "authMethodNotSupported", 8: "strongerAuthRequired", 13: "confidentialityRequired",
    32: "noSuchObject", 34: "invalidDNSyntax", 48: "inappropriateAuthentication",
    49: "invalidCredentials", 50: "insufficientAccessRights", 51: "busy", 52: "unavailable",
    53: "unwillingToPerform", 80: "other",
}  # fmt: skip

_SEQUENCE = 0x30
_SET = 0x31
_INTEGER = 0x02
_OCTETS = 0x04
_ENUMERATED = 0x0A
_BOOLEAN = 0x01
_OPS = {
    0x61: "bindResponse", 0x64: "searchResEntry", 0x65: "searchResDone",
    0x73: "searchResRef", 0x78: "extendedResponse",
}  # fmt: skip
_MAX_HEADER = 6  # tag, 0x84, four length octets


@dataclass(frozen=True)
class LDAPResult:
    """An LDAPResult (bind, search done, extended response): ``raw`` is a one-line summary
    for transcripts. ``message_id`` 0 is an unsolicited notification (RFC 4511 §4.4)."""

    message_id: int
    operation: str  # "bindResponse", "searchResDone", "extendedResponse"
    result_code: int
    matched_dn: str
    diagnostic: str
    response_name: str | None = None  # extendedResponse only
    raw: tuple[str, ...] = ()

    @property
    def result_name(self) -> str:
        return RESULT_NAMES.get(self.result_code, f"resultCode {self.result_code}")


@dataclass(frozen=True)
class LDAPEntry:
    """A SearchResultEntry (or, with ``reference``, a SearchResultReference)."""

    message_id: int
    dn: str
    attributes: tuple[tuple[str, tuple[str, ...]], ...]
    raw: tuple[str, ...] = ()
    reference: bool = False

    def values(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return tuple(v for n, vs in self.attributes if n.lower() == wanted for v in vs)


LDAPEvent = LDAPResult | LDAPEntry


# --- BER encoding (definite lengths, low tag numbers only: all LDAP needs) ---------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _integer(tag: int, value: int) -> bytes:
    return _tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def _octets(tag: int, text: str) -> bytes:
    return _tlv(tag, text.encode("utf-8"))


# --- BER decoding ------------------------------------------------------------------------------


class _Reader:
    """Reads TLVs inside one complete message; every failure is a ``ProtocolError``."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def more(self) -> bool:
        return self.pos < self.end

    def peek_tag(self) -> int | None:
        return self.data[self.pos] if self.pos < self.end else None

    def element(self, expected: int | None = None) -> tuple[int, int, int]:
        """(tag, content start, content end) of the next element; the reader moves past it."""
        if self.pos + 2 > self.end:
            raise ProtocolError("LDAP message truncated inside an element")
        tag = self.data[self.pos]
        if tag & 0x1F == 0x1F:
            raise ProtocolError(f"LDAP element with a high tag number (0x{tag:02x})")
        if expected is not None and tag != expected:
            raise ProtocolError(f"LDAP element 0x{tag:02x} where 0x{expected:02x} belongs")
        first = self.data[self.pos + 1]
        pos = self.pos + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise ProtocolError("LDAP element with an indefinite or oversized length")
            if pos + count > self.end:
                raise ProtocolError("LDAP message truncated inside a length")
            length = int.from_bytes(self.data[pos : pos + count], "big")
            pos += count
        if pos + length > self.end:
            raise ProtocolError("LDAP element longer than the message holding it")
        self.pos = pos + length
        return tag, pos, pos + length

    def integer(self, expected: int = _INTEGER) -> int:
        _tag, start, end = self.element(expected)
        if not 1 <= end - start <= 4:
            raise ProtocolError(f"LDAP integer of {end - start} octets")
        return int.from_bytes(self.data[start:end], "big", signed=True)

    def text(self, expected: int = _OCTETS) -> str:
        _tag, start, end = self.element(expected)
        return decode_line(self.data[start:end])

    def inner(self, expected: int | None = None) -> _Reader:
        _tag, start, end = self.element(expected)
        return _Reader(self.data, start, end)


def _summary(message_id: int, op: str, fields: list[str]) -> str:
    return printable(f"#{message_id} {op} {' '.join(fields)}".encode(), 300)


def _decode(message: bytes) -> LDAPEvent:
    outer = _Reader(message).inner(_SEQUENCE)
    message_id = outer.integer()
    if message_id < 0:
        raise ProtocolError(f"negative LDAP messageID {message_id}")
    tag = outer.peek_tag()
    if tag not in _OPS:
        raise ProtocolError(
            "not a response an LDAP client can get: protocolOp "
            + ("missing" if tag is None else f"0x{tag:02x}")
        )
    op = _OPS[tag]
    body = outer.inner(tag)
    if op == "searchResEntry":
        dn = body.text()
        attributes: list[tuple[str, tuple[str, ...]]] = []
        if body.more():
            seq = body.inner(_SEQUENCE)
            while seq.more():
                attr = seq.inner(_SEQUENCE)
                name = attr.text()
                values = attr.inner(_SET)
                vals: list[str] = []
                while values.more():
                    vals.append(values.text())
                attributes.append((name, tuple(vals)))
        shown = [f"dn={dn!r}"] + [f"{n}={'|'.join(v)}" for n, v in attributes]
        return LDAPEntry(message_id, dn, tuple(attributes), (_summary(message_id, op, shown),))
    if op == "searchResRef":
        urls: list[str] = []
        while body.more():
            urls.append(body.text())
        return LDAPEntry(message_id, "", (("ref", tuple(urls)),),
                         (_summary(message_id, op, urls),), reference=True)
    code = body.integer(_ENUMERATED)
    matched = body.text()
    diagnostic = body.text()
    response_name: str | None = None
    while body.more():
        tag_inner, start, end = body.element()
        if tag_inner == 0x8A:  # responseName [10]
            response_name = decode_line(message[start:end])
    result = LDAPResult(message_id, op, code, matched, diagnostic, response_name)
    fields = [f"{code} ({result.result_name})"]
    if matched:
        fields.append(f"matchedDN={matched!r}")
    if diagnostic:
        fields.append(f"{diagnostic!r}")
    if response_name:
        fields.append(f"responseName={response_name}")
    return LDAPResult(message_id, op, code, matched, diagnostic, response_name,
                      (_summary(message_id, op, fields),))


class LDAPDialogue:
    """Client side of an LDAP session: requests out, ``LDAPResult``/``LDAPEntry`` events in.

    ``ProtocolError`` for anything that is not a definite-length LDAPMessage holding a response
    a client can receive; ``ReplyTooLong`` for a message over ``max_message`` octets (seen from
    its header, before it is buffered); ``LocalProtocolError`` for a request mailtls cannot
    encode. Same contract as the line dialogues: ``pending``, ``discard_pending``, ``failed``.
    """

    def __init__(self, *, max_message: int = 65536) -> None:
        if max_message < 8:
            raise LocalProtocolError(f"max_message must be at least 8, not {max_message}")
        self.max_message = max_message
        self._buf = bytearray()
        self._next_id = 1
        self._deferred: ProtocolError | None = None
        self._failed: ProtocolError | None = None

    # -- requests ------------------------------------------------------------------------------
    def _message(self, op: bytes) -> bytes:
        message_id = self._next_id
        self._next_id += 1
        return _tlv(_SEQUENCE, _integer(_INTEGER, message_id) + op)

    @property
    def last_id(self) -> int:
        """The messageID of the last request built."""
        return self._next_id - 1

    def bind_simple(self, dn: str, password: str) -> bytes:
        """BindRequest, version 3, simple authentication (RFC 4511 §4.2)."""
        if len(dn) > 1024 or len(password) > 1024:
            raise LocalProtocolError("bind DN or password too long")
        return self._message(_tlv(0x60, _integer(_INTEGER, 3) + _octets(_OCTETS, dn)
                                  + _octets(0x80, password)))

    def start_tls(self) -> bytes:
        """ExtendedRequest with the StartTLS OID and no value (RFC 4511 §4.14.1)."""
        return self._message(_tlv(0x77, _octets(0x80, STARTTLS_OID)))

    def search_root_dse(self, attributes: tuple[str, ...]) -> bytes:
        """Base-object search of "" with filter (objectClass=*) for ``attributes`` (RFC 4512
        §5.1: the root DSE lists supportedExtension, supportedSASLMechanisms, ...)."""
        if any(not a.isascii() or not a.replace("-", "").isalnum() for a in attributes):
            raise LocalProtocolError(f"bad attribute description in {attributes!r:.80}")
        names = b"".join(_octets(_OCTETS, a) for a in attributes)
        body = (
            _octets(_OCTETS, "")
            + _integer(_ENUMERATED, 0)  # baseObject
            + _integer(_ENUMERATED, 0)  # neverDerefAliases
            + _integer(_INTEGER, 0)  # no size limit from us (the server's own applies)
            + _integer(_INTEGER, 10)  # seconds
            + _tlv(_BOOLEAN, b"\x00")  # typesOnly FALSE
            + _octets(0x87, "objectClass")  # present filter
            + _tlv(_SEQUENCE, names)
        )
        return self._message(_tlv(0x63, body))

    def unbind(self) -> bytes:
        return self._message(bytes([0x42, 0x00]))

    # -- responses -----------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[LDAPEvent]:
        if self._failed is not None:
            raise type(self._failed)(f"dialogue already failed: {self._failed}") from self._failed
        if self._deferred is not None:
            self._failed, self._deferred = self._deferred, None
            raise self._failed
        self._buf += data
        events: list[LDAPEvent] = []
        try:
            self._parse(events)
        except ProtocolError as exc:
            if not events:
                self._failed = exc
                raise
            self._deferred = exc
        return events

    def _header(self) -> int | None:
        """Total size of the message starting the buffer, once its header is complete."""
        buf = self._buf
        if not buf:
            return None
        if buf[0] != _SEQUENCE:
            raise ProtocolError(
                f'not an LDAP message (first octet 0x{buf[0]:02x}): "{printable(bytes(buf[:40]))}"'
            )
        if len(buf) < 2:
            return None
        first = buf[1]
        if first < 0x80:
            return 2 + first
        count = first & 0x7F
        if count == 0:
            raise ProtocolError("LDAP message with an indefinite length (RFC 4511 §5.1)")
        if count > 4:
            raise ReplyTooLong(f"LDAP message length of {count} octets")
        if len(buf) < 2 + count:
            return None
        total = 2 + count + int.from_bytes(buf[2 : 2 + count], "big")
        if total > self.max_message:
            raise ReplyTooLong(f"LDAP message of {total} octets (limit {self.max_message})")
        return total

    def _parse(self, events: list[LDAPEvent]) -> None:
        while True:
            total = self._header()
            if total is None:
                return
            if total > self.max_message:
                raise ReplyTooLong(f"LDAP message of {total} octets (limit {self.max_message})")
            if len(self._buf) < total:
                return
            message = bytes(self._buf[:total])
            events.append(_decode(message))
            del self._buf[:total]

    def pending(self) -> bytes:
        return bytes(self._buf)

    def discard_pending(self) -> bytes:
        data = bytes(self._buf)
        self._buf = bytearray()
        self._deferred = None
        return data

    @property
    def failed(self) -> ProtocolError | None:
        return self._failed
