"""Hand-built TLS/SSL ClientHellos and an incremental parser for the server's first flight.

Pure (sans-I/O): :func:`client_hello` and :func:`sslv2_client_hello` return bytes to send, and
:class:`HelloParser` is fed whatever the server sent back. No key exchange is ever completed, so
this speaks every protocol version and cipher suite, including those the local OpenSSL cannot
(SSLv2, SSLv3, RC4, DES, 3DES, EXPORT, NULL, TLS 1.3 CCM suites and groups).

Malformed server bytes raise :class:`mailtls.errors.ProtocolError` with an excerpt; arguments
that make no sense raise ``ValueError``.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from mailtls.errors import ProtocolError
from mailtls.tls import suites as ciphersuites
from mailtls.tls.versions import TLSVersion

__all__ = [
    "ALERT_NAMES",
    "COMPRESSION_DEFLATE",
    "DEFAULT_GROUPS",
    "DEFAULT_SIGALGS",
    "DEFAULT_TLS12_GROUPS",
    "GROUP_NAMES",
    "HRR_RANDOM",
    "KEY_SHARE_GROUPS",
    "AlertResult",
    "HelloParser",
    "ServerHelloResult",
    "client_hello",
    "group_name",
    "sslv2_client_hello",
]


# --- wire constants -------------------------------------------------------------------------
CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA = 20, 21, 22, 23
HS_HELLO_REQUEST, HS_CLIENT_HELLO, HS_SERVER_HELLO = 0, 1, 2
HS_CERTIFICATE, HS_SERVER_KEY_EXCHANGE, HS_SERVER_HELLO_DONE = 11, 12, 14
HS_CERTIFICATE_STATUS = 22

#: TLS compression method DEFLATE (RFC 3749); null is 0.
COMPRESSION_DEFLATE = 1

EXT_SERVER_NAME = 0x0000
EXT_STATUS_REQUEST = 0x0005
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_PADDING = 0x0015
EXT_EXTENDED_MASTER_SECRET = 0x0017
EXT_SUPPORTED_VERSIONS = 0x002B
EXT_PSK_KEY_EXCHANGE_MODES = 0x002D
EXT_KEY_SHARE = 0x0033
EXT_RENEGOTIATION_INFO = 0xFF01

HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
MAX_RECORD = (1 << 14) + 2048  # TLSCiphertext limit (TLS <= 1.2); TLS 1.3 allows less

GROUP_NAMES: dict[int, str] = {
    0x0013: "secp192r1",
    0x0015: "secp224r1",
    0x0016: "secp256k1",
    0x0017: "secp256r1",
    0x0018: "secp384r1",
    0x0019: "secp521r1",
    0x001A: "brainpoolP256r1",
    0x001B: "brainpoolP384r1",
    0x001C: "brainpoolP512r1",
    0x001D: "x25519",
    0x001E: "x448",
    0x001F: "brainpoolP256r1tls13",
    0x0020: "brainpoolP384r1tls13",
    0x0021: "brainpoolP512r1tls13",
    0x0100: "ffdhe2048",
    0x0101: "ffdhe3072",
    0x0102: "ffdhe4096",
    0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
}

#: Groups offered in TLS 1.3 hellos (EC and finite-field).
DEFAULT_GROUPS: tuple[int, ...] = (
    0x001D, 0x0017, 0x001E, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
)  # fmt: skip
#: Curves offered in TLS <= 1.2 hellos. No FFDHE groups there: an RFC 7919 server that shares
#: none of them would refuse DHE suites instead of using its own parameters.
DEFAULT_TLS12_GROUPS: tuple[int, ...] = (
    0x001D, 0x0017, 0x001E, 0x0018, 0x0019, 0x001A, 0x001B, 0x001C, 0x0016, 0x0015, 0x0013,
)  # fmt: skip
DEFAULT_SIGALGS: tuple[int, ...] = (
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
    0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202, 0x0402, 0x0502,
    0x0602,
)  # fmt: skip
#: Groups for which :func:`client_hello` can generate a real key share.
KEY_SHARE_GROUPS: tuple[int, ...] = (0x001D, 0x001E, 0x0017, 0x0018, 0x0019)

ALERT_NAMES: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
    21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
    40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
    50: "decode_error", 51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
    110: "unsupported_extension", 111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
    121: "ech_required",
}  # fmt: skip
_SSL2_ERRORS = {1: "ssl2_no_cipher", 2: "ssl2_no_certificate", 4: "ssl2_bad_certificate",
                6: "ssl2_unsupported_certificate_type"}  # fmt: skip


def group_name(group: int) -> str:
    return GROUP_NAMES.get(group, f"0x{group:04X}")


# --- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerHelloResult:
    """What the server's first flight revealed.

    ``version``: negotiated version (from supported_versions when present; ``TLSVersion.SSL2``
    for an SSLv2 SERVER-HELLO). ``cipher``: selected suite (for SSLv2 the first of
    ``sslv2_cipher_kinds``, the kinds the server accepts). ``hello_retry``: this was a TLS 1.3
    HelloRetryRequest.
    ``selected_group``: key_share group (ServerHello or HRR). ``extensions``: extension types in the
    server's order. ``certificate_ders``: the Certificate message (TLS <= 1.2 and SSLv2 only).
    ``server_key_exchange_dh_bits`` / ``_curve``: the DHE prime size / ECDHE named curve from
    ServerKeyExchange. ``complete``: the flight was seen up to ServerHelloDone (TLS <= 1.2) - or
    just the hello was asked for, or it is TLS 1.3 / HRR / SSLv2. ``compression``: the method the
    ServerHello chose (0 = null). ``ocsp_response``: the OCSP response of a CertificateStatus
    message (RFC 6066 §8, stapling; TLS <= 1.2), None when there was none.
    """

    version: int
    cipher: int
    compression: int
    hello_retry: bool
    selected_group: int | None
    extensions: tuple[int, ...]
    secure_renegotiation: bool
    session_id: bytes
    certificate_ders: tuple[bytes, ...] = ()
    server_key_exchange_dh_bits: int | None = None
    server_key_exchange_curve: int | None = None
    sslv2_cipher_kinds: tuple[int, ...] = ()
    legacy_version: int = 0
    random: bytes = b""
    complete: bool = True
    ocsp_response: bytes | None = None

    @property
    def tls13(self) -> bool:
        return self.version == TLSVersion.TLS1_3 or 0x7F00 <= self.version <= 0x7FFF

    @property
    def status_request(self) -> bool:
        """The ServerHello acknowledged status_request: a CertificateStatus should follow."""
        return EXT_STATUS_REQUEST in self.extensions

    @property
    def cipher_name(self) -> str:
        if self.version == TLSVersion.SSL2:
            return ciphersuites.ssl2_name(self.cipher)
        return ciphersuites.suite_name(self.cipher)


@dataclass(frozen=True)
class AlertResult:
    """The server refused with an alert (or an SSLv2 ERROR message)."""

    level: int
    description: int
    name: str


HelloResult = ServerHelloResult | AlertResult


# --- ClientHello ------------------------------------------------------------------------------
def _u8(n: int) -> bytes:
    return bytes((n,))


def _u16(n: int) -> bytes:
    return struct.pack("!H", n)


def _v8(b: bytes) -> bytes:
    return _u8(len(b)) + b


def _v16(b: bytes) -> bytes:
    return _u16(len(b)) + b


def _ext(ext_type: int, body: bytes) -> bytes:
    return _u16(ext_type) + _v16(body)


def _u16s(values: Sequence[int]) -> bytes:
    for v in values:
        if not 0 <= v <= 0xFFFF:
            raise ValueError(f"not a 16-bit value: {v!r}")
    return b"".join(_u16(v) for v in values)


def _sni_name(server_name: str | None) -> bytes | None:
    """The host name for SNI, or None when there is none to send (absent, IP literal, invalid)."""
    if not server_name:
        return None
    name = server_name.strip().rstrip(".")
    if not name:
        return None
    try:
        ipaddress.ip_address(name.strip("[]"))
        return None
    except ValueError:
        pass
    try:
        encoded = name.encode("idna")
    except UnicodeError:
        try:
            encoded = name.encode("ascii")
        except UnicodeError:
            return None
    encoded = encoded.lower()
    return encoded if 0 < len(encoded) <= 255 else None


def _key_share(group: int) -> bytes:
    if group == 0x001D:
        return (
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    if group == 0x001E:
        return (
            x448.X448PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    curves: dict[int, ec.EllipticCurve] = {
        0x0017: ec.SECP256R1(),
        0x0018: ec.SECP384R1(),
        0x0019: ec.SECP521R1(),
    }
    if group not in curves:
        raise ValueError(f"cannot generate a key share for group {group_name(group)}")
    return (
        ec.generate_private_key(curves[group])
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def _records(content_type: int, record_version: int, payload: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(payload), 1 << 14):
        chunk = payload[i : i + (1 << 14)]
        out += struct.pack("!BHH", content_type, record_version, len(chunk)) + chunk
    return bytes(out)


def client_hello(  # noqa: C901 (a split is still to do: issue 15)
    version: TLSVersion,
    suites: Sequence[int],
    *,
    server_name: str | None,
    groups: Sequence[int] | None = None,
    key_share_groups: Sequence[int] = (),
    signature_algorithms: Sequence[int] = DEFAULT_SIGALGS,
    compression_methods: Sequence[int] = (0,),
    status_request: bool = False,
    random: bytes | None = None,
) -> bytes:
    """TLS record(s) carrying a ClientHello whose highest version is exactly ``version``.

    SSLv3: no extensions, the renegotiation SCSV (0x00FF) is appended to ``suites``.
    TLS 1.0-1.2: SNI (DNS names only), supported_groups (``groups``, default
    :data:`DEFAULT_TLS12_GROUPS`), ec_point_formats, extended_master_secret, renegotiation_info,
    and signature_algorithms from TLS 1.2 on.
    TLS 1.3: legacy_version 0x0303, supported_versions = [0x0304] only, supported_groups (default
    :data:`DEFAULT_GROUPS`), signature_algorithms, psk_key_exchange_modes and key_share with real
    public keys for ``key_share_groups`` (empty = force a HelloRetryRequest naming the group the
    server wants).
    ``compression_methods``: in preference order, null (0) must be among them (TLS 1.3 servers
    refuse anything but null alone). ``status_request`` (TLS 1.0 and up): ask for OCSP stapling
    (RFC 6066 §8: status_type ocsp, no responder ids, no request extensions).
    A hello of 256-511 bytes is padded (RFC 7685) to 512 to dodge the F5 hang.
    """
    version = TLSVersion(version)
    if version == TLSVersion.NONE:
        raise ValueError("not a protocol version: 0")
    if version == TLSVersion.SSL2:
        raise ValueError("use sslv2_client_hello() for SSLv2")
    if not suites:
        raise ValueError("no cipher suites to offer")
    suite_list = list(suites)
    renegotiation_scsv = ciphersuites.TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    if version == TLSVersion.SSL3 and renegotiation_scsv not in suite_list:
        suite_list.append(renegotiation_scsv)
    if len(suite_list) > 0x7FFF:
        raise ValueError("too many cipher suites")
    if random is None:
        random = os.urandom(32)
    if len(random) != 32:
        raise ValueError("random must be 32 bytes")
    if not compression_methods or 0 not in compression_methods:
        raise ValueError("compression_methods must include null (0)")
    if len(compression_methods) > 255 or not all(0 <= m <= 255 for m in compression_methods):
        raise ValueError("compression methods are 8-bit values, at most 255 of them")
    if status_request and version < TLSVersion.TLS1_0:
        raise ValueError("status_request is an extension: TLS 1.0 and up")

    exts: list[bytes] = []
    if version >= TLSVersion.TLS1_0:
        if groups is None:
            groups = DEFAULT_GROUPS if version == TLSVersion.TLS1_3 else DEFAULT_TLS12_GROUPS
        if key_share_groups and version != TLSVersion.TLS1_3:
            raise ValueError("key shares exist only in TLS 1.3")
        missing = [g for g in key_share_groups if g not in groups]
        if missing:
            raise ValueError(f"key share groups not in supported_groups: {missing}")
        host = _sni_name(server_name)
        if host is not None:
            exts.append(_ext(EXT_SERVER_NAME, _v16(b"\x00" + _v16(host))))
        if status_request:
            exts.append(_ext(EXT_STATUS_REQUEST, b"\x01" + _v16(b"") + _v16(b"")))
        if groups:
            exts.append(_ext(EXT_SUPPORTED_GROUPS, _v16(_u16s(groups))))
        if version < TLSVersion.TLS1_3:
            exts.append(_ext(EXT_EC_POINT_FORMATS, _v8(b"\x00")))
        if version >= TLSVersion.TLS1_2 and signature_algorithms:
            exts.append(_ext(EXT_SIGNATURE_ALGORITHMS, _v16(_u16s(signature_algorithms))))
        if version < TLSVersion.TLS1_3:
            exts.append(_ext(EXT_EXTENDED_MASTER_SECRET, b""))
            exts.append(_ext(EXT_RENEGOTIATION_INFO, b"\x00"))
        else:
            exts.append(_ext(EXT_SUPPORTED_VERSIONS, _v8(_u16(TLSVersion.TLS1_3))))
            exts.append(_ext(EXT_PSK_KEY_EXCHANGE_MODES, _v8(b"\x01")))  # psk_dhe_ke
            shares = b"".join(_u16(g) + _v16(_key_share(g)) for g in key_share_groups)
            exts.append(_ext(EXT_KEY_SHARE, _v16(shares)))

    legacy_version = min(version, TLSVersion.TLS1_2)
    body = (
        _u16(legacy_version)
        + random
        + _v8(os.urandom(32))
        + _v16(_u16s(suite_list))
        + _v8(bytes(compression_methods))
    )
    if exts:
        ext_bytes = b"".join(exts)
        length = 4 + len(body) + 2 + len(ext_bytes)
        if 256 <= length < 512:
            ext_bytes += _ext(EXT_PADDING, bytes(max(0, 512 - length - 4)))
        body += _v16(ext_bytes)
    handshake = _u8(HS_CLIENT_HELLO) + len(body).to_bytes(3, "big") + body
    record_version = TLSVersion.SSL3 if version == TLSVersion.SSL3 else TLSVersion.TLS1_0
    return _records(CT_HANDSHAKE, record_version, handshake)


def sslv2_client_hello(cipher_kinds: Sequence[int]) -> bytes:
    """An SSLv2 CLIENT-HELLO (2-byte record header) offering ``cipher_kinds`` (3-byte codes)."""
    if not cipher_kinds:
        raise ValueError("no cipher kinds to offer")
    for kind in cipher_kinds:
        if not 0 <= kind <= 0xFFFFFF:
            raise ValueError(f"not a 24-bit cipher kind: {kind!r}")
    specs = b"".join(kind.to_bytes(3, "big") for kind in cipher_kinds)
    challenge = os.urandom(16)
    body = (
        _u8(1)  # MSG-CLIENT-HELLO
        + _u16(0x0002)
        + _u16(len(specs))
        + _u16(0)  # session id length
        + _u16(len(challenge))
        + specs
        + challenge
    )
    if len(body) > 0x7FFF:
        raise ValueError("too many cipher kinds")
    return _u16(0x8000 | len(body)) + body


# --- parser -----------------------------------------------------------------------------------
def _excerpt(data: bytes | bytearray, limit: int = 48) -> str:
    return repr(bytes(data[:limit])) + ("..." if len(data) > limit else "")


class _Reader:
    """Bounds-checked reads from one message; every overrun is a ProtocolError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"truncated {self.what}: {_excerpt(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "big")

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


@dataclass
class _Hello:
    version: int
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher: int
    compression: int
    extensions: tuple[int, ...]
    selected_group: int | None
    secure_renegotiation: bool

    @property
    def hello_retry(self) -> bool:
        return self.random == HRR_RANDOM

    @property
    def tls13(self) -> bool:
        return self.version == TLSVersion.TLS1_3 or 0x7F00 <= self.version <= 0x7FFF


def _parse_server_hello(msg: bytes) -> _Hello:
    r = _Reader(msg, "ServerHello")
    legacy_version = r.u16()
    if legacy_version >> 8 != 3:
        raise ProtocolError(f"ServerHello with version 0x{legacy_version:04X}: {_excerpt(msg)}")
    random = r.take(32)
    sid_len = r.u8()
    if sid_len > 32:
        raise ProtocolError(f"ServerHello session id of {sid_len} bytes")
    session_id = r.take(sid_len)
    cipher = r.u16()
    compression = r.u8()
    types: list[int] = []
    version = legacy_version
    group: int | None = None
    reneg = False
    if r.remaining:
        ext_len = r.u16()
        if ext_len != r.remaining:
            raise ProtocolError(f"ServerHello extensions length mismatch: {_excerpt(msg)}")
        while r.remaining:
            ext_type = r.u16()
            data = r.take(r.u16())
            types.append(ext_type)
            if ext_type == EXT_SUPPORTED_VERSIONS:
                if len(data) != 2:
                    raise ProtocolError("malformed supported_versions in ServerHello")
                version = int.from_bytes(data, "big")
            elif ext_type == EXT_KEY_SHARE:
                if len(data) < 2:
                    raise ProtocolError("malformed key_share in ServerHello")
                group = int.from_bytes(data[:2], "big")
            elif ext_type == EXT_RENEGOTIATION_INFO:
                reneg = True
    return _Hello(
        version=version,
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher=cipher,
        compression=compression,
        extensions=tuple(types),
        selected_group=group,
        secure_renegotiation=reneg,
    )


def _parse_certificates(msg: bytes) -> tuple[bytes, ...]:
    r = _Reader(msg, "Certificate message")
    total = r.u24()
    if total != r.remaining:
        raise ProtocolError("Certificate message length mismatch")
    certs: list[bytes] = []
    while r.remaining:
        certs.append(r.take(r.u24()))
    return tuple(certs)


def _parse_certificate_status(msg: bytes) -> bytes | None:
    """The OCSP response of a CertificateStatus message (RFC 6066 §8); None for another type."""
    r = _Reader(msg, "CertificateStatus")
    status_type = r.u8()
    if status_type != 1:  # only ocsp(1) is defined for status_request
        return None
    response = r.take(r.u24())
    if r.remaining:
        raise ProtocolError("CertificateStatus length mismatch")
    return response


def _parse_server_key_exchange(msg: bytes, cipher: int) -> tuple[int | None, int | None]:
    """(DH prime bits, ECDHE named curve) from a ServerKeyExchange."""
    kx = ciphersuites.describe(cipher).kx
    r = _Reader(msg, "ServerKeyExchange")
    if kx in ("DHE_PSK", "ECDHE_PSK"):
        r.take(r.u16())  # psk_identity_hint
    if kx == "unknown":  # guess: ECParameters start with curve_type 3 (named_curve)
        kx = "ECDHE" if len(msg) >= 3 and msg[0] == 3 else "DHE"
    if kx in ("DHE", "DHE_PSK"):
        prime = r.take(r.u16())
        return int.from_bytes(prime, "big").bit_length(), None
    if kx in ("ECDHE", "ECDHE_PSK"):
        curve_type = r.u8()
        if curve_type == 3:
            return None, r.u16()
        return None, None
    return None, None


class HelloParser:
    """Incremental parser for the server's answer to one ClientHello.

    Feed bytes with :meth:`receive_data` until it returns a result; :meth:`receive_eof` when the
    connection closed. With ``want_flight`` (default) a TLS <= 1.2 result is returned at
    ServerHelloDone (so Certificate, CertificateStatus and ServerKeyExchange are included);
    TLS 1.3, a HelloRetryRequest, an alert and SSLv2 return at once. Handshake messages may be
    split across records and records across reads. At most ``max_bytes`` are looked at: past
    that a result from what was seen is returned, or ProtocolError when there is no ServerHello
    yet.
    Warning-level alerts other than close_notify (e.g. unrecognized_name) are skipped.
    """

    def __init__(self, *, max_bytes: int = 1 << 17, want_flight: bool = True) -> None:
        if max_bytes < 64:
            raise ValueError("max_bytes too small")
        self.max_bytes = max_bytes
        self.want_flight = want_flight
        self._buf = bytearray()
        self._hs = bytearray()
        self._alert = bytearray()
        self._seen = 0
        self._records = 0
        self._hello: _Hello | None = None
        self._certs: tuple[bytes, ...] = ()
        self._dh_bits: int | None = None
        self._curve: int | None = None
        self._ocsp: bytes | None = None
        self._result: HelloResult | None = None

    @property
    def buffered(self) -> int:
        """Bytes held internally (for memory-bound checks)."""
        return len(self._buf) + len(self._hs) + len(self._alert)

    @property
    def bytes_seen(self) -> int:
        return self._seen

    @property
    def result(self) -> HelloResult | None:
        return self._result

    def receive_data(self, data: bytes) -> HelloResult | None:
        if self._result is not None:
            return self._result
        room = self.max_bytes - self._seen
        over = len(data) > room
        chunk = data[:room] if over else data
        self._seen += len(chunk)
        self._buf += chunk
        self._process()
        if self._result is None and over:
            if self._hello is not None:
                return self._finish(complete=False)
            raise ProtocolError(
                f"no ServerHello within {self.max_bytes} bytes: {_excerpt(self._buf)}"
            )
        return self._result

    def receive_eof(self) -> HelloResult | None:
        """The peer closed. A partial result if a ServerHello was seen, else None (no answer)."""
        if self._result is not None:
            return self._result
        if self._hello is not None:
            return self._finish(complete=False)
        return None

    # -- internals --
    def _finish(self, *, complete: bool) -> HelloResult:
        h = self._hello
        assert h is not None
        self._result = ServerHelloResult(
            version=h.version,
            cipher=h.cipher,
            compression=h.compression,
            hello_retry=h.hello_retry,
            selected_group=h.selected_group,
            extensions=h.extensions,
            secure_renegotiation=h.secure_renegotiation,
            session_id=h.session_id,
            certificate_ders=self._certs,
            server_key_exchange_dh_bits=self._dh_bits,
            server_key_exchange_curve=self._curve,
            legacy_version=h.legacy_version,
            random=h.random,
            complete=complete,
            ocsp_response=self._ocsp,
        )
        self._buf.clear()
        self._hs.clear()
        return self._result

    def _garbage(self, why: str) -> ProtocolError:
        return ProtocolError(f"not a TLS answer ({why}): {_excerpt(self._buf)}")

    def _process(self) -> None:
        buf = self._buf
        while self._result is None and buf:
            if self._records == 0 and buf[0] & 0x80:
                self._process_sslv2()
                return
            if buf[0] not in (CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA):
                raise self._garbage(f"record type {buf[0]}")
            if len(buf) >= 2 and buf[1] != 3:
                raise self._garbage(f"record version major {buf[1]}")
            if len(buf) >= 3 and buf[2] > 4:
                raise self._garbage(f"record version 3.{buf[2]}")
            if len(buf) < 5:
                return
            length = int.from_bytes(buf[3:5], "big")
            if length > MAX_RECORD:
                raise self._garbage(f"record of {length} bytes")
            if len(buf) < 5 + length:
                return
            ctype = buf[0]
            payload = bytes(buf[5 : 5 + length])
            del buf[: 5 + length]
            self._records += 1
            self._record(ctype, payload)

    def _record(self, ctype: int, payload: bytes) -> None:
        if ctype == CT_HANDSHAKE:
            if not payload:
                raise ProtocolError("empty handshake record")
            self._hs += payload
            self._handshake_messages()
        elif ctype == CT_ALERT:
            self._alert += payload
            while len(self._alert) >= 2 and self._result is None:
                level, desc = self._alert[0], self._alert[1]
                del self._alert[:2]
                if level not in (1, 2):
                    raise ProtocolError(f"alert with level {level}")
                if level == 1 and desc != 0:
                    continue  # warning (e.g. unrecognized_name): the handshake goes on
                if self._hello is not None:
                    self._finish(complete=False)
                else:
                    self._result = AlertResult(level, desc, ALERT_NAMES.get(desc, f"alert_{desc}"))
        else:  # ChangeCipherSpec / application data: the plaintext part of the flight is over
            if self._hello is None:
                kind = "ChangeCipherSpec" if ctype == CT_CHANGE_CIPHER_SPEC else "application data"
                raise ProtocolError(f"{kind} record before ServerHello")
            self._finish(complete=not self.want_flight or self._hello.tls13)

    def _handshake_messages(self) -> None:
        hs = self._hs
        while self._result is None and len(hs) >= 4:
            mtype = hs[0]
            length = int.from_bytes(hs[1:4], "big")
            if length > self.max_bytes:
                raise ProtocolError(f"handshake message type {mtype} of {length} bytes")
            if len(hs) < 4 + length:
                return
            msg = bytes(hs[4 : 4 + length])
            del hs[: 4 + length]
            self._message(mtype, msg)

    def _message(self, mtype: int, msg: bytes) -> None:
        if self._hello is None:
            if mtype == HS_HELLO_REQUEST and not msg:
                return
            if mtype != HS_SERVER_HELLO:
                raise ProtocolError(f"expected ServerHello, got handshake type {mtype}")
            hello = _parse_server_hello(msg)
            self._hello = hello
            if hello.tls13 or hello.hello_retry or not self.want_flight:
                self._finish(complete=True)
            return
        if mtype == HS_SERVER_HELLO:
            raise ProtocolError("second ServerHello in one flight")
        if mtype == HS_CERTIFICATE:
            self._certs = _parse_certificates(msg)
        elif mtype == HS_CERTIFICATE_STATUS:
            self._ocsp = _parse_certificate_status(msg)
        elif mtype == HS_SERVER_KEY_EXCHANGE:
            self._dh_bits, self._curve = _parse_server_key_exchange(msg, self._hello.cipher)
        elif mtype == HS_SERVER_HELLO_DONE:
            self._finish(complete=True)

    def _process_sslv2(self) -> None:
        buf = self._buf
        if len(buf) < 2:
            return
        length = ((buf[0] & 0x7F) << 8) | buf[1]
        if length < 1:
            raise self._garbage("empty SSLv2 record")
        if len(buf) >= 3 and buf[2] not in (0, 4):
            raise self._garbage(f"SSLv2 message type {buf[2]}")
        if len(buf) < 2 + length:
            return
        body = bytes(buf[2 : 2 + length])
        r = _Reader(body, "SSLv2 message")
        if r.u8() == 0:  # ERROR
            code = r.u16()
            self._result = AlertResult(2, code, _SSL2_ERRORS.get(code, f"ssl2_error_{code}"))
            return
        r.u8()  # session id hit
        cert_type = r.u8()
        version = r.u16()
        if version != 0x0002:
            raise self._garbage(f"SSLv2 SERVER-HELLO version 0x{version:04X}")
        cert_len, specs_len, conn_id_len = r.u16(), r.u16(), r.u16()
        if specs_len % 3 or r.remaining != cert_len + specs_len + conn_id_len:
            raise self._garbage("SSLv2 SERVER-HELLO lengths")
        cert = r.take(cert_len)
        specs = r.take(specs_len)
        kinds = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, specs_len, 3))
        self._result = ServerHelloResult(
            version=TLSVersion.SSL2,
            cipher=kinds[0] if kinds else 0,
            compression=0,
            hello_retry=False,
            selected_group=None,
            extensions=(),
            secure_renegotiation=False,
            session_id=b"",
            certificate_ders=(cert,) if cert and cert_type == 1 else (),
            sslv2_cipher_kinds=kinds,
            legacy_version=0x0002,
        )
        self._buf.clear()
