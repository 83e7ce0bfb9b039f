"""Loopback servers for the deep-TLS tests: a small PKI of our own (SHA-1, RSA-1024, chains in
any order), OpenSSL servers with any SSLContext over STARTTLS or implicit TLS, a server that
answers EXPORT/DES hellos itself (no TLS library serves those any more), tlslite-ng servers for
SSLv3/RC4/3DES, and a rate-limiting server. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import os
import socket
import ssl
import struct
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, padding, rsa
from cryptography.x509.oid import NameOID

from mailtls.testing import RunningServer, start_raw, upgrade_to_tls
from mailtls.testing import hostile as H
from mailtls.testing._runtime import push_front

HOST = "127.0.0.1"
NAME = "mail.example.test"
Protocol = Literal["smtp", "imap", "pop3"]

# RFC 2409 §6.2 (Oakley group 2): the classic 1024-bit MODP group of Logjam fame.
_OAKLEY_1024 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)
# RFC 7919 ffdhe2048.
_FFDHE2048 = int(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FBCC939DCE"
    "249B3EF97D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3"
    "B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797ABC0AB182"
    "B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4AE56EDE76372BB190B07A7C8EE0A6D70"
    "9E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC"
    "2EC22005C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
    16,
)

# --- a PKI of our own -------------------------------------------------------------------------
_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
Chain = Literal[
    "good", "sha1_leaf", "sha1_intermediate", "rsa1024", "root_sent", "out_of_order",
    "missing_intermediate",
]


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _resign_sha1(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """The same certificate, signed with sha1WithRSAEncryption (cryptography refuses to)."""
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_SHA256_RSA) == 1
    tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA)
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    der = _tlv(0x30, tbs + _SHA1_RSA + _tlv(0x03, b"\0" + signature))
    return x509.load_der_x509_certificate(der)


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    sha1: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(NAME), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
    cert = builder.sign(issuer_key, hashes.SHA256())
    return _resign_sha1(cert, issuer_key) if sha1 else cert


@dataclass(frozen=True)
class MiniPKI:
    """root -> intermediate -> leaves; ``ca_file`` trusts the root only."""

    ca_file: str
    chains: dict[str, tuple[bytes, bytes]]  # chain kind -> (chain PEM as sent, key PEM)

    def chain_pem(self, kind: Chain) -> bytes:
        return self.chains[kind][0]

    def key_pem(self, kind: Chain) -> bytes:
        return self.chains[kind][1]


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # tlslite-ng reads PKCS#1 and PKCS#8
        serialization.NoEncryption(),
    )


@functools.cache
def mini_pki() -> MiniPKI:
    root_key = rsa.generate_private_key(65537, 2048)
    inter_key = rsa.generate_private_key(65537, 2048)
    leaf_key = rsa.generate_private_key(65537, 2048)
    weak_key = rsa.generate_private_key(65537, 1024)
    root = _cert("tlsscan test root", root_key, None, root_key, ca=True)
    inter = _cert("tlsscan test intermediate", inter_key, root, root_key, ca=True)
    inter_sha1 = _cert("tlsscan test intermediate", inter_key, root, root_key, ca=True, sha1=True)
    leaf = _cert(NAME, leaf_key, inter, inter_key, ca=False)
    leaf_sha1 = _cert(NAME, leaf_key, inter, inter_key, ca=False, sha1=True)
    leaf_1024 = _cert(NAME, weak_key, inter, inter_key, ca=False)
    good = _key_pem(leaf_key)
    chains = {
        "good": (_pem(leaf, inter), good),
        "sha1_leaf": (_pem(leaf_sha1, inter), good),
        "sha1_intermediate": (_pem(leaf, inter_sha1), good),
        "rsa1024": (_pem(leaf_1024, inter), _key_pem(weak_key)),
        "root_sent": (_pem(leaf, inter, root), good),
        "out_of_order": (_pem(leaf, root, inter), good),
        "missing_intermediate": (_pem(leaf), good),
    }
    tmp = tempfile.mkdtemp(prefix="mailtls-tlsscan-pki-")
    ca_file = os.path.join(tmp, "root.pem")
    with open(ca_file, "wb") as f:
        f.write(_pem(root))
    return MiniPKI(ca_file=ca_file, chains=chains)


def _dh_file(prime: int) -> str:
    pem = dh.DHParameterNumbers(prime, 2).parameters().parameter_bytes(
        serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3
    )
    fd, path = tempfile.mkstemp(prefix="mailtls-dh-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path


@functools.cache
def dh_file(bits: Literal[1024, 2048]) -> str:
    return _dh_file(_OAKLEY_1024 if bits == 1024 else _FFDHE2048)


def server_context(
    chain: Chain = "good",
    *,
    ciphers: str | None = None,
    minimum: ssl.TLSVersion | None = None,
    maximum: ssl.TLSVersion | None = None,
    dh_bits: Literal[1024, 2048] | None = None,
    client_order: bool = False,
) -> ssl.SSLContext:
    """An OpenSSL server context at security level 0 (so 1024-bit keys and DH, SHA-1 and TLS
    1.0 are possible), presenting ``chain`` of :func:`mini_pki`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers(f"{ciphers or 'DEFAULT'}:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            ctx.minimum_version = minimum
        elif maximum is not None and maximum < ssl.TLSVersion.TLSv1_2:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        if maximum is not None:
            ctx.maximum_version = maximum
    if client_order:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    pki = mini_pki()
    with tempfile.TemporaryDirectory(prefix="mailtls-chain-") as tmp:
        cert_path = os.path.join(tmp, "chain.pem")
        key_path = os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(pki.chain_pem(chain))
        with open(key_path, "wb") as f:
            f.write(pki.key_pem(chain))
        ctx.load_cert_chain(cert_path, key_path)
    if dh_bits is not None:
        ctx.load_dh_params(dh_file(dh_bits))
    return ctx


# --- OpenSSL servers with a context of our own -------------------------------------------------
def _name(protocol: Protocol, implicit: bool) -> str:
    return f"tlsscan-{protocol}{'-implicit' if implicit else ''}"


@dataclass
class Concurrency:
    """Connections a group of servers has open at once (across all of them), and when each
    was accepted."""

    now: int = 0
    peak: int = 0
    accepted: list[float] = field(default_factory=list)

    @contextlib.contextmanager
    def connection(self) -> Iterator[None]:
        self.now += 1  # the servers share one event loop thread: no lock needed
        self.peak = max(self.peak, self.now)
        self.accepted.append(time.monotonic())
        try:
            yield
        finally:
            self.now -= 1


def openssl_server(
    ctx: ssl.SSLContext,
    protocol: Protocol = "smtp",
    *,
    implicit: bool = False,
    concurrency: Concurrency | None = None,
) -> RunningServer:
    """A minimal mail server (``hostile.script``) that starts TLS with ``ctx``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if implicit:
            await upgrade_to_tls(reader, writer, ctx)
            await H.send(writer, H.greeting(protocol, starttls=False))
            await H.script(reader, writer, protocol, tls=True)
            return
        await H.send(writer, H.greeting(protocol))
        go_ahead = await H.script(reader, writer, protocol)
        if go_ahead is None:
            return
        await H.send(writer, go_ahead)
        await upgrade_to_tls(reader, writer, ctx)
        await H.script(reader, writer, protocol, tls=True)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if concurrency is None:
            await serve(reader, writer)
            return
        with concurrency.connection():
            await serve(reader, writer)

    return start_raw(handler, name=_name(protocol, implicit))


# --- a server that also "accepts" suites no library serves -----------------------------------
def _client_hello_facts(data: bytes) -> tuple[int, list[int], set[int]]:
    """(legacy_version, offered suites, extension types) of a ClientHello record."""
    body = data[5 + 4 :]
    legacy = int.from_bytes(body[:2], "big")
    p = 2 + 32
    p += 1 + body[p]
    n = int.from_bytes(body[p : p + 2], "big")
    suites = [int.from_bytes(body[p + 2 + i : p + 4 + i], "big") for i in range(0, n, 2)]
    p += 2 + n
    p += 1 + body[p]
    exts: set[int] = set()
    if p + 2 <= len(body):
        end = p + 2 + int.from_bytes(body[p : p + 2], "big")
        p += 2
        while p + 4 <= end:
            exts.add(int.from_bytes(body[p : p + 2], "big"))
            p += 4 + int.from_bytes(body[p + 2 : p + 4], "big")
    return legacy, suites, exts


def _flight(version: int, cipher: int, leaf_der: bytes, *, reneg: bool) -> bytes:
    """ServerHello (with renegotiation_info if ``reneg``), Certificate, ServerHelloDone."""

    def hs(mtype: int, body: bytes) -> bytes:
        return bytes([mtype]) + len(body).to_bytes(3, "big") + body

    exts = struct.pack("!HH", 0xFF01, 1) + b"\0" if reneg else b""
    hello = (
        struct.pack("!H", version) + os.urandom(32) + b"\x20" + os.urandom(32)
        + struct.pack("!HB", cipher, 0) + struct.pack("!H", len(exts)) + exts
    )
    entry = len(leaf_der).to_bytes(3, "big") + leaf_der
    certs = len(entry).to_bytes(3, "big") + entry
    payload = hs(2, hello) + hs(11, certs) + hs(14, b"")
    return struct.pack("!BHH", 22, version, len(payload)) + payload


def extra_suites_server(
    ctx: ssl.SSLContext,
    extra: Sequence[int],
    protocol: Protocol = "smtp",
    *,
    implicit: bool = False,
    legacy_only_extra: bool = False,
    secure_renegotiation: bool = True,
) -> RunningServer:
    """Like :func:`openssl_server`, but a TLS 1.0-1.2 hello offering one of ``extra`` (in that
    preference) gets a ServerHello choosing it, from the server itself: the enumeration never
    completes a handshake, so for it this server accepts EXPORT or DES suites.

    ``legacy_only_extra``: every other TLS <= 1.2 hello (without supported_versions) gets a
    handshake_failure alert, so below TLS 1.3 only ``extra`` is "accepted" (the basic probe
    still gets OpenSSL's TLS 1.3). ``secure_renegotiation=False``: no renegotiation_info."""
    leaf_der = x509.load_pem_x509_certificate(mini_pki().chain_pem("good")).public_bytes(
        serialization.Encoding.DER
    )

    async def hello_or_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        data = await reader.readexactly(5)
        if data[0] != 22:  # an SSLv2 hello: hang up, as OpenSSL 3 does
            return False
        data += await reader.readexactly(int.from_bytes(data[3:5], "big"))
        if data[5] == 1:
            legacy, offered, exts = _client_hello_facts(data)
            pick = next((s for s in extra if s in offered), None)
            legacy_hello = 0x002B not in exts
            if pick is not None and 0x0301 <= legacy <= 0x0303 and legacy_hello:
                writer.write(_flight(legacy, pick, leaf_der, reneg=secure_renegotiation))
                await writer.drain()
                await reader.read(65536)  # until the client hangs up
                return False
            if legacy_only_extra and legacy_hello:
                alert = 70 if legacy < 0x0301 else 40  # protocol_version, handshake_failure
                writer.write(struct.pack("!BHHBB", 21, max(legacy, 0x0300), 2, 2, alert))
                await writer.drain()
                return False
        push_front(reader, data)
        await upgrade_to_tls(reader, writer, ctx)
        return True

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if implicit:
            if not await hello_or_tls(reader, writer):
                return
            await H.send(writer, H.greeting(protocol, starttls=False))
            await H.script(reader, writer, protocol, tls=True)
            return
        await H.send(writer, H.greeting(protocol))
        go_ahead = await H.script(reader, writer, protocol)
        if go_ahead is None:
            return
        await H.send(writer, go_ahead)
        if await hello_or_tls(reader, writer):
            await H.script(reader, writer, protocol, tls=True)

    return start_raw(handler, name="extra-suites-" + _name(protocol, implicit))


# --- rate limiting -----------------------------------------------------------------------------
_REFUSAL = {
    "smtp": "421 4.7.0 Too many connections, slow down",
    "imap": "* BYE Too many connections from your address",
    "pop3": "-ERR [SYS/TEMP] Too many connections",
}


def rate_limited_server(
    ctx: ssl.SSLContext,
    protocol: Protocol = "smtp",
    *,
    allowed: int,
    window: float,
) -> tuple[RunningServer, list[float], list[float]]:
    """At most ``allowed`` connections per sliding ``window`` seconds; the next ones get the
    protocol's "too many connections" greeting and are closed. Returns the server and the
    times of the accepted and the refused connections."""
    accepted: list[float] = []
    refused: list[float] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        now = time.monotonic()
        if sum(1 for t in accepted if now - t < window) >= allowed:
            refused.append(now)
            await H.send(writer, _REFUSAL[protocol])
            return
        accepted.append(now)
        await H.send(writer, H.greeting(protocol))
        go_ahead = await H.script(reader, writer, protocol)
        if go_ahead is None:
            return
        await H.send(writer, go_ahead)
        await upgrade_to_tls(reader, writer, ctx)
        await H.script(reader, writer, protocol, tls=True)

    return start_raw(handler, name=f"rate-limited-{protocol}"), accepted, refused


# --- tlslite-ng: SSLv3, RC4, 3DES --------------------------------------------------------------
def tlslite_api() -> Any:
    import pytest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("tlslite.api")


class TLSLiteServer:
    """A tlslite-ng mail server (RSA key exchange only: fast in pure Python), one thread per
    connection, STARTTLS (SMTP) or implicit TLS."""

    def __init__(
        self,
        *,
        versions: tuple[tuple[int, int], tuple[int, int]],
        cipher_names: Sequence[str],
        implicit: bool,
        mac_names: Sequence[str] = ("sha", "sha256", "md5"),
    ) -> None:
        api = tlslite_api()
        pki = mini_pki()
        self._chain = api.X509CertChain()
        self._chain.parsePemList(pki.chain_pem("good").decode())
        self._key = api.parsePEMKey(pki.key_pem("good").decode(), private=True)
        settings = api.HandshakeSettings()
        settings.minVersion, settings.maxVersion = versions
        settings.cipherNames = list(cipher_names)
        settings.macNames = list(mac_names)
        settings.keyExchangeNames = ["rsa"]
        self._settings = settings
        self._api = api
        self.implicit = implicit
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tlslite-accept")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(Exception), conn:
            conn.settimeout(5)
            if not self.implicit:
                io = _LineIO(conn.recv, conn.sendall)
                io.send(f"220 {NAME} ESMTP tlslite test server")
                while True:
                    line = io.line()
                    if line is None:
                        return
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        io.send(f"250-{NAME}", "250 STARTTLS")
                    elif verb == "STARTTLS":
                        io.send("220 2.0.0 Ready to start TLS")
                        break
                    elif verb == "QUIT":
                        io.send("221 2.0.0 Bye")
                        return
                    else:
                        io.send("502 5.5.2 Command not recognized")
            tls = self._api.TLSConnection(conn)
            tls.handshakeServer(
                certChain=self._chain, privateKey=self._key, settings=self._settings
            )
            io = _LineIO(tls.recv, tls.sendall)
            if self.implicit:
                io.send(f"220 {NAME} ESMTP tlslite test server")
            while (line := io.line()) is not None:
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    io.send(f"250-{NAME}", "250 AUTH PLAIN")
                elif verb == "QUIT":
                    io.send("221 2.0.0 Bye")
                    return
                else:
                    io.send("502 5.5.2 Command not recognized")

    def __enter__(self) -> TLSLiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


class _LineIO:
    def __init__(self, recv: Callable[[int], bytes], send: Callable[[bytes], object]) -> None:
        self._recv, self._send, self._buf = recv, send, b""

    def send(self, *lines: str) -> None:
        self._send("".join(f"{line}\r\n" for line in lines).encode())

    def line(self) -> str | None:
        while b"\n" not in self._buf:
            data = self._recv(4096)
            if not data:
                return None
            self._buf += data
        raw, self._buf = self._buf.split(b"\n", 1)
        return raw.rstrip(b"\r").decode("utf-8", "replace")
