"""Test-only helpers for tests/tls: PKI, loopback TLS servers, an exchange, message builders.

Everything binds/connects to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import struct
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import trustme

from mailtls.errors import ConnectRefused, ReadTimeout
from mailtls.tls.enumeration import HelloExchange
from mailtls.tls.hello import AlertResult, HelloParser, ServerHelloResult
from mailtls.tls.versions import TLSVersion
from tests.threaded_server import (
    ThreadedServer as ThreadedServer,  # re-exported for tests/tls
    tlslite_api,
)

import_tlslite = tlslite_api  # tests/tls's name for it

HOST = "127.0.0.1"
SERVER_NAME = "mail.example.test"

# RFC 7919 ffdhe2048 (as printed by `openssl genpkey -genparam -algorithm DH -pkeyopt
# group:ffdhe2048`): OpenSSL 3 servers in Python need explicit DH parameters for DHE suites.
FFDHE2048_PEM = """-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


# --- PKI --------------------------------------------------------------------------------------
@functools.cache
def pki(key: str) -> tuple[trustme.CA, trustme.LeafCert]:
    """("rsa"|"ecdsa") -> (CA, leaf for SERVER_NAME and 127.0.0.1)."""
    key_type = trustme.KeyType.RSA if key == "rsa" else trustme.KeyType.ECDSA
    ca = trustme.CA(key_type=key_type)
    return ca, ca.issue_cert(SERVER_NAME, HOST, key_type=key_type)


def leaf_der(key: str) -> bytes:
    pem = pki(key)[1].cert_chain_pems[0].bytes().decode()
    return ssl.PEM_cert_to_DER_cert(pem)


@functools.cache
def _dh_file() -> str:
    path = Path(tempfile.mkdtemp(prefix="mailtls-dh-")) / "ffdhe2048.pem"
    path.write_text(FFDHE2048_PEM)
    return str(path)


def server_context(
    key: str = "rsa",
    *,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str | None = None,
    dh: bool = False,
    ecdh_curve: str | None = None,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki(key)[1].configure_cert(ctx)
    with warnings.catch_warnings():  # TLSVersion.TLSv1/TLSv1_1 are deprecated names
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if dh:
        ctx.load_dh_params(_dh_file())
    if ecdh_curve is not None:
        ctx.set_ecdh_curve(ecdh_curve)
    return ctx


def configured_suites(ctx: ssl.SSLContext, *, tls13: bool = False) -> set[int]:
    """Suite ids the context is configured for (TLS 1.3 ones, or the others)."""
    out = set()
    for c in ctx.get_ciphers():
        code = c["id"] & 0xFFFF
        if (c["protocol"] == "TLSv1.3") == tls13:
            out.add(code)
    return out


# --- servers ----------------------------------------------------------------------------------
def ssl_server(ctx: ssl.SSLContext) -> ThreadedServer:
    def handle(conn: socket.socket) -> None:
        ctx.wrap_socket(conn, server_side=True).close()

    return ThreadedServer(handle)


def tlslite_server(
    *, versions: tuple[tuple[int, int], tuple[int, int]], cipher_names: Sequence[str]
) -> ThreadedServer:
    """A tlslite-ng server (RSA cert) for SSLv3/TLS 1.0 with RC4/3DES, which OpenSSL 3 lacks."""
    api = import_tlslite()
    _, leaf = pki("rsa")
    chain = api.X509CertChain()
    chain.parsePemList(leaf.cert_chain_pems[0].bytes().decode())
    key = api.parsePEMKey(leaf.private_key_pem.bytes().decode(), private=True)
    settings = api.HandshakeSettings()
    settings.minVersion, settings.maxVersion = versions
    settings.cipherNames = list(cipher_names)

    def handle(conn: socket.socket) -> None:
        api.TLSConnection(conn).handshakeServer(certChain=chain, privateKey=key, settings=settings)

    return ThreadedServer(handle)


# --- client side ------------------------------------------------------------------------------
def tcp_exchange(port: int, *, read_timeout: float = 5.0) -> HelloExchange:
    """A HelloExchange over plain asyncio streams to 127.0.0.1:port."""

    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as exc:
            raise ConnectRefused(str(exc)) from exc
        try:
            try:
                writer.write(hello)
                await writer.drain()
            except ConnectionError:
                return
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), read_timeout)
                except TimeoutError as exc:
                    raise ReadTimeout("no data") from exc
                except ConnectionError:
                    return
                if not data:
                    return
                yield data
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return exchange


async def capture(port: int, hello: bytes, *, want_flight: bool = True) -> bytes:
    """The raw bytes the server answered with, up to where the parser had enough."""
    parser = HelloParser(want_flight=want_flight)
    raw = bytearray()
    chunks = tcp_exchange(port)(hello)
    try:
        async for data in chunks:
            raw += data
            if parser.receive_data(data) is not None:
                break
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return bytes(raw)


def parse_all(data: bytes, *, want_flight: bool = True) -> ServerHelloResult | AlertResult | None:
    parser = HelloParser(want_flight=want_flight)
    return parser.receive_data(data) or parser.receive_eof()


def parse_chunks(
    chunks: Sequence[bytes], *, want_flight: bool = True
) -> ServerHelloResult | AlertResult | None:
    parser = HelloParser(want_flight=want_flight)
    for chunk in chunks:
        result = parser.receive_data(chunk)
        if result is not None:
            return result
    return parser.receive_eof()


def splits(data: bytes) -> Iterator[list[bytes]]:
    """Whole; cut at every position; one byte at a time."""
    yield [data]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


# --- synthetic server messages ----------------------------------------------------------------
def record(ctype: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", ctype, version, len(payload)) + payload


def handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(body)) + body


def server_hello_body(
    *,
    version: int = 0x0303,
    cipher: int = 0xC02F,
    random: bytes = b"\x11" * 32,
    session_id: bytes = b"\x22" * 32,
    extensions: Sequence[bytes] | None = (),
    compression: int = 0,
) -> bytes:
    body = struct.pack("!H", version) + random + bytes([len(session_id)]) + session_id
    body += struct.pack("!HB", cipher, compression)
    if extensions is not None:
        exts = b"".join(extensions)
        body += struct.pack("!H", len(exts)) + exts
    return body


def certificate_body(ders: Sequence[bytes]) -> bytes:
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    return len(entries).to_bytes(3, "big") + entries


def sslv2_server_hello(kinds: Sequence[int], cert: bytes = b"CERT") -> bytes:
    specs = b"".join(k.to_bytes(3, "big") for k in kinds)
    conn_id = b"\x33" * 16
    body = bytes([4, 0, 1]) + struct.pack("!HHHH", 2, len(cert), len(specs), len(conn_id))
    body += cert + specs + conn_id
    return struct.pack("!H", 0x8000 | len(body)) + body


# --- recorded flights -------------------------------------------------------------------------
def _expect(**kw: object) -> dict[str, object]:
    return kw


async def record_flights(*, with_tlslite: bool = True) -> dict[str, dict[str, object]]:
    """Capture real server flights from loopback servers, each with what the server was
    configured to do (so the expectations do not come from the parser under test).

    Returns {name: {"hex": ..., "want_flight": bool, "expect": {...}}}.
    """
    from mailtls.tls.hello import client_hello

    out: dict[str, dict[str, object]] = {}

    async def take(
        name: str,
        srv: ThreadedServer,
        hello: bytes,
        expect: dict[str, object],
        *,
        want_flight: bool = True,
    ) -> None:
        with srv:
            raw = await capture(srv.port, hello, want_flight=want_flight)
        out[name] = {"hex": raw.hex(), "want_flight": want_flight, "expect": expect}

    rsa_leaf = hashlib_sha256(leaf_der("rsa"))
    ecdsa_leaf = hashlib_sha256(leaf_der("ecdsa"))
    await take(
        "openssl_tls12_dhe_rsa",
        ssl_server(server_context("rsa", ciphers="DHE-RSA-AES128-GCM-SHA256", dh=True)),
        client_hello(TLSVersion.TLS1_2, [0x009E, 0x0033], server_name=SERVER_NAME),
        _expect(version=0x0303, cipher=0x009E, dh_bits=2048, leaf_sha256=rsa_leaf, reneg=True),
    )
    await take(
        "openssl_tls12_ecdhe_ecdsa",
        ssl_server(
            server_context("ecdsa", ciphers="ECDHE-ECDSA-AES128-GCM-SHA256", ecdh_curve="secp384r1")
        ),
        client_hello(TLSVersion.TLS1_2, [0xC02B], server_name=SERVER_NAME),
        _expect(version=0x0303, cipher=0xC02B, curve=0x0018, leaf_sha256=ecdsa_leaf, reneg=True),
    )
    await take(
        "openssl_tls13_hrr",
        ssl_server(server_context("rsa")),
        client_hello(TLSVersion.TLS1_3, [0x1301], server_name=SERVER_NAME, groups=[0x0018]),
        _expect(version=0x0304, cipher=0x1301, group=0x0018, hrr=True),
    )
    await take(
        "openssl_tls13_server_hello",
        ssl_server(server_context("ecdsa")),
        client_hello(TLSVersion.TLS1_3, [0x1302], server_name=SERVER_NAME,
                     key_share_groups=[0x001D]),
        _expect(version=0x0304, cipher=0x1302, group=0x001D, hrr=False),
    )
    await take(
        "openssl_alert_protocol_version",
        ssl_server(server_context("rsa")),
        client_hello(TLSVersion.TLS1_0, [0x002F], server_name=SERVER_NAME),
        _expect(alert=70),
    )
    await take(
        "openssl_tls12_hello_only",
        ssl_server(server_context("rsa", ciphers="ECDHE-RSA-AES256-GCM-SHA384")),
        client_hello(TLSVersion.TLS1_2, [0xC030], server_name=SERVER_NAME),
        _expect(version=0x0303, cipher=0xC030, reneg=True),
        want_flight=False,
    )
    if with_tlslite:
        await take(
            "tlslite_sslv3_rc4",
            tlslite_server(versions=((3, 0), (3, 0)), cipher_names=["rc4"]),
            client_hello(TLSVersion.SSL3, [0x0005, 0x0004], server_name=SERVER_NAME),
            _expect(version=0x0300, cipher=0x0005, leaf_sha256=rsa_leaf, reneg=True),
        )
        await take(
            "tlslite_tls10_3des",
            tlslite_server(versions=((3, 1), (3, 1)), cipher_names=["3des"]),
            client_hello(TLSVersion.TLS1_0, [0x000A], server_name=SERVER_NAME),
            _expect(version=0x0301, cipher=0x000A, leaf_sha256=rsa_leaf, reneg=True),
        )
    return out


def hashlib_sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --- an independent ClientHello reader (to check what we send) ------------------------------
def read_client_hello(data: bytes) -> dict[str, Any]:
    payload = b""
    record_versions = set()
    pos = 0
    while pos < len(data):
        ctype, rver, length = struct.unpack("!BHH", data[pos : pos + 5])
        assert ctype == 22
        assert length <= 1 << 14
        record_versions.add(rver)
        payload += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
    assert pos == len(data)
    assert payload[0] == 1
    body = payload[4:]
    assert int.from_bytes(payload[1:4], "big") == len(body)
    p = 0
    legacy = int.from_bytes(body[p : p + 2], "big")
    p += 2 + 32
    p += 1 + body[p]
    n = int.from_bytes(body[p : p + 2], "big")
    suites = [int.from_bytes(body[p + 2 + i : p + 4 + i], "big") for i in range(0, n, 2)]
    p += 2 + n
    compression = list(body[p + 1 : p + 1 + body[p]])
    p += 1 + body[p]
    exts: dict[int, bytes] = {}
    if p < len(body):
        end = p + 2 + int.from_bytes(body[p : p + 2], "big")
        assert end == len(body)
        p += 2
        while p < end:
            t, ln = struct.unpack("!HH", body[p : p + 4])
            assert t not in exts
            exts[t] = body[p + 4 : p + 4 + ln]
            p += 4 + ln
        assert p == end
    return {
        "record_versions": record_versions,
        "handshake_len": len(payload),
        "legacy_version": legacy,
        "suites": suites,
        "compression": compression,
        "extensions": exts,
    }


def u16_list(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


# --- a simulated server (no network) for exact algorithm tests --------------------------------
class FakeServer:
    """Answers ClientHellos like a configurable TLS server would, with synthetic flights.

    ``suites``: {version: suites in the server's preference order}. ``server_order``: pick suites,
    groups and curves by the server's preference (else the client's). ``groups13``: TLS 1.3
    groups in preference order. ``curves``: ECDHE curves. ``max_suites``: hang up on hellos
    offering more suites (a quirk of some servers). ``sslv2``: cipher kinds for SSLv2, if any.
    ``compress``: choose DEFLATE when offered. ``staple``: an OCSP response to staple when
    status_request is asked for.
    ``fallback_scsv``: refuse a hello below the highest version carrying TLS_FALLBACK_SCSV.
    ``hellos``: every ClientHello received (parsed by :func:`read_client_hello`).
    """

    def __init__(
        self,
        suites: Mapping[int, Sequence[int]],
        *,
        server_order: bool = True,
        groups13: Sequence[int] = (0x001D, 0x0017),
        curves: Sequence[int] = (0x0017, 0x001D),
        dh_bits: int = 1024,
        max_suites: int | None = None,
        sslv2: Sequence[int] = (),
        unreachable: bool = False,
        compress: bool = False,
        staple: bytes | None = None,
        fallback_scsv: bool = False,
    ) -> None:
        self.suites = {v: list(s) for v, s in suites.items()}
        self.server_order = server_order
        self.groups13 = list(groups13)
        self.curves = list(curves)
        self.dh_bits = dh_bits
        self.max_suites = max_suites
        self.sslv2 = list(sslv2)
        self.unreachable = unreachable
        self.compress = compress
        self.staple = staple
        self.fallback_scsv = fallback_scsv
        self.hellos: list[dict[str, Any]] = []
        self.connections = 0
        self.largest_offer = 0

    @staticmethod
    def alert(desc: int) -> bytes:
        return record(21, bytes([2, desc]))

    async def answer(self, hello: bytes) -> bytes | None:  # noqa: C901 (a scripted fake server: one branch per behaviour)
        from mailtls.tls import suites as ciphersuites

        self.connections += 1
        if self.unreachable:
            return None
        if hello[0] & 0x80:  # SSLv2 CLIENT-HELLO
            n = int.from_bytes(hello[5:7], "big")
            offered = [int.from_bytes(hello[11 + i : 14 + i], "big") for i in range(0, n, 3)]
            kinds = [k for k in self.sslv2 if k in offered]
            return sslv2_server_hello(kinds) if kinds else b""
        ch = read_client_hello(hello)
        self.hellos.append(ch)
        offered, exts = ch["suites"], ch["extensions"]
        self.largest_offer = max(self.largest_offer, len(offered))
        if self.max_suites is not None and len(offered) > self.max_suites:
            return b""
        client_max = ch["legacy_version"]
        if 0x002B in exts:
            client_max = max(u16_list(exts[0x002B][1:]))
        versions = [v for v in sorted(self.suites, reverse=True) if v <= client_max]
        if not versions:
            return self.alert(70)
        version = versions[0]
        if self.fallback_scsv and 0x5600 in offered and version < max(self.suites):
            return self.alert(86)  # inappropriate_fallback
        mine = self.suites[version]
        order = mine if self.server_order else offered
        common = [s for s in order if s in offered and s in mine]
        if not common:
            return self.alert(40)
        cipher = common[0]
        if version == 0x0304:
            groups = u16_list(exts[0x000A][2:])
            ks = exts[0x0033][2:]
            shares = []
            while ks:
                shares.append(int.from_bytes(ks[:2], "big"))
                ks = ks[4 + int.from_bytes(ks[2:4], "big") :]
            usable = ([g for g in self.groups13 if g in groups] if self.server_order
                      else [g for g in groups if g in self.groups13])
            if not usable:
                return self.alert(40)
            group = usable[0]
            sv = ext(0x002B, b"\x03\x04")
            if group in shares:
                body = server_hello_body(
                    cipher=cipher, extensions=[sv, ext(0x0033, struct.pack("!HH", group, 1) + b"k")]
                )
            else:
                body = server_hello_body(
                    random=HRR_RANDOM_BYTES,
                    cipher=cipher,
                    extensions=[sv, ext(0x0033, struct.pack("!H", group))],
                )
            return record(22, handshake(2, body)) + record(23, b"encrypted")
        staple = self.staple if 0x0005 in exts else None
        hello_exts = [ext(0xFF01, b"\x00")] + ([ext(0x0005, b"")] if staple is not None else [])
        compression = 1 if self.compress and 1 in ch["compression"] else 0
        flight = handshake(2, server_hello_body(
            version=version, cipher=cipher, extensions=hello_exts, compression=compression))
        flight += handshake(11, certificate_body([b"\x30\x03der"]))
        if staple is not None:
            flight += handshake(22, b"\x01" + len(staple).to_bytes(3, "big") + staple)
        kx = ciphersuites.describe(cipher).kx
        if kx == "ECDHE":
            client_groups = u16_list(exts.get(0x000A, b"\x00\x00")[2:])
            usable = ([c for c in self.curves if c in client_groups] if self.server_order
                      else [c for c in client_groups if c in self.curves])
            if not usable:
                return self.alert(40)
            flight += handshake(12, b"\x03" + struct.pack("!H", usable[0]) + b"\x01\x04sig")
        elif kx == "DHE":
            prime = b"\xff" * (self.dh_bits // 8)
            flight += handshake(12, struct.pack("!H", len(prime)) + prime + b"\x00\x01\x02")
        flight += handshake(14, b"")
        return record(22, flight, version)


HRR_RANDOM_BYTES = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
