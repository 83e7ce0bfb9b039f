"""Loopback servers for the deep-TLS tests: a small PKI of our own (SHA-1, RSA-1024, chains in
any order, an OCSP responder URL, must-staple, an OCSP response), OpenSSL servers with any
SSLContext over STARTTLS or implicit TLS, a server that answers EXPORT/DES hellos itself (no TLS
library serves those any more; it can also compress and staple), tlslite-ng servers for
SSLv3/RC4/3DES, ``openssl s_server`` (which staples, what Python's ssl cannot), and a
rate-limiting server. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import ipaddress
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from mailtls.testing import RunningServer, hostile as H, start_raw, upgrade_to_tls
from mailtls.testing._runtime import push_front
from tests.der_builder import resign_sha1, tlv
from tests.threaded_server import ThreadedServer, tlslite_api

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
Chain = Literal[
    "good", "sha1_leaf", "sha1_intermediate", "rsa1024", "root_sent", "out_of_order",
    "missing_intermediate", "ocsp", "must_staple",
]
OCSP_URL = "http://ocsp.example.test/"


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    sha1: bool = False,
    extensions: Sequence[x509.ExtensionType] = (),
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
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    return x509.load_der_x509_certificate(resign_sha1(cert, issuer_key)) if sha1 else cert


@dataclass(frozen=True)
class MiniPKI:
    """root -> intermediate -> leaves; ``ca_file`` trusts the root only. ``ocsp_responses``: a
    "good" OCSP response (DER, signed by the intermediate) for the leaf of a chain kind."""

    ca_file: str
    chains: dict[str, tuple[bytes, bytes]]  # chain kind -> (chain PEM as sent, key PEM)
    ocsp_responses: dict[str, bytes] = field(default_factory=dict)

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
    aia = x509.AuthorityInformationAccess([x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL))])
    leaf_ocsp = _cert(NAME, leaf_key, inter, inter_key, ca=False, extensions=[aia])
    leaf_must_staple = _cert(NAME, leaf_key, inter, inter_key, ca=False, extensions=[
        aia, x509.TLSFeature([x509.TLSFeatureType.status_request])])
    good = _key_pem(leaf_key)
    chains = {
        "good": (_pem(leaf, inter), good),
        "sha1_leaf": (_pem(leaf_sha1, inter), good),
        "sha1_intermediate": (_pem(leaf, inter_sha1), good),
        "rsa1024": (_pem(leaf_1024, inter), _key_pem(weak_key)),
        "root_sent": (_pem(leaf, inter, root), good),
        "out_of_order": (_pem(leaf, root, inter), good),
        "missing_intermediate": (_pem(leaf), good),
        "ocsp": (_pem(leaf_ocsp, inter), good),
        "must_staple": (_pem(leaf_must_staple, inter), good),
    }
    responses = {
        "ocsp": _ocsp_response(leaf_ocsp, inter, inter_key),
        "must_staple": _ocsp_response(leaf_must_staple, inter, inter_key),
    }
    tmp = tempfile.mkdtemp(prefix="mailtls-tlsscan-pki-")
    ca_file = os.path.join(tmp, "root.pem")
    with open(ca_file, "wb") as f:
        f.write(_pem(root))
    return MiniPKI(ca_file=ca_file, chains=chains, ocsp_responses=responses)


def _ocsp_response(
    leaf: x509.Certificate, issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf, issuer=issuer, algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now - dt.timedelta(hours=1),
            next_update=now + dt.timedelta(days=7), revocation_time=None, revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        .sign(issuer_key, hashes.SHA256())
    )
    return response.public_bytes(serialization.Encoding.DER)


def _dh_file(prime: int) -> str:
    # PKCS #3 DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }, written by hand:
    # cryptography 50 deprecated its finite-field DH API (it warns, and warnings are errors).
    def integer(value: int) -> bytes:
        return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))

    der = tlv(0x30, integer(prime) + integer(2))
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    pem = ("-----BEGIN DH PARAMETERS-----\n" + "\n".join(lines)
           + "\n-----END DH PARAMETERS-----\n").encode()
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


async def mail_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: Protocol, *,
    implicit: bool, start_tls: Callable[[], Awaitable[bool]],
) -> None:
    """The mail dialogue of these servers (``hostile.script``): greeting, commands, STARTTLS,
    the commands again inside TLS; with ``implicit`` TLS first. ``start_tls()`` does the
    handshake; False ends the connection."""
    if implicit:
        if not await start_tls():
            return
        await H.send(writer, H.greeting(protocol, starttls=False))
        await H.script(reader, writer, protocol, tls=True)
        return
    await H.send(writer, H.greeting(protocol))
    go_ahead = await H.script(reader, writer, protocol)
    if go_ahead is None:
        return
    await H.send(writer, go_ahead)
    if await start_tls():
        await H.script(reader, writer, protocol, tls=True)


def openssl_server(
    ctx: ssl.SSLContext,
    protocol: Protocol = "smtp",
    *,
    implicit: bool = False,
    concurrency: Concurrency | None = None,
) -> RunningServer:
    """A minimal mail server (``hostile.script``) that starts TLS with ``ctx``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def start_tls() -> bool:
            await upgrade_to_tls(reader, writer, ctx)
            return True

        await mail_session(reader, writer, protocol, implicit=implicit, start_tls=start_tls)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if concurrency is None:
            await serve(reader, writer)
            return
        with concurrency.connection():
            await serve(reader, writer)

    return start_raw(handler, name=_name(protocol, implicit))


# --- a server that also "accepts" suites no library serves -----------------------------------
@dataclass(frozen=True)
class _Hello:
    legacy: int
    suites: list[int]
    compression: list[int]
    extensions: set[int]


def _client_hello_facts(data: bytes) -> _Hello:
    """Version, offered suites, compression methods and extension types of a ClientHello."""
    body = data[5 + 4 :]
    legacy = int.from_bytes(body[:2], "big")
    p = 2 + 32
    p += 1 + body[p]
    n = int.from_bytes(body[p : p + 2], "big")
    suites = [int.from_bytes(body[p + 2 + i : p + 4 + i], "big") for i in range(0, n, 2)]
    p += 2 + n
    compression = list(body[p + 1 : p + 1 + body[p]])
    p += 1 + body[p]
    exts: set[int] = set()
    if p + 2 <= len(body):
        end = p + 2 + int.from_bytes(body[p : p + 2], "big")
        p += 2
        while p + 4 <= end:
            exts.add(int.from_bytes(body[p : p + 2], "big"))
            p += 4 + int.from_bytes(body[p + 2 : p + 4], "big")
    return _Hello(legacy, suites, compression, exts)


def _flight(
    version: int, cipher: int, leaf_der: bytes, *, reneg: bool, compression: int = 0
) -> bytes:
    """ServerHello (with renegotiation_info if ``reneg``, ``compression``), Certificate,
    ServerHelloDone."""

    def hs(mtype: int, body: bytes) -> bytes:
        return bytes([mtype]) + len(body).to_bytes(3, "big") + body

    exts = struct.pack("!HH", 0xFF01, 1) + b"\0" if reneg else b""
    hello = (
        struct.pack("!H", version) + os.urandom(32) + b"\x20" + os.urandom(32)
        + struct.pack("!HB", cipher, compression) + struct.pack("!H", len(exts)) + exts
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
    compress: bool = False,
) -> RunningServer:
    """Like :func:`openssl_server`, but a TLS 1.0-1.2 hello offering one of ``extra`` (in that
    preference) gets a ServerHello choosing it, from the server itself: the enumeration never
    completes a handshake, so for it this server accepts EXPORT or DES suites.

    ``legacy_only_extra``: every other TLS <= 1.2 hello (without supported_versions) gets a
    handshake_failure alert, so below TLS 1.3 only ``extra`` is "accepted" (the basic probe
    still gets OpenSSL's TLS 1.3). ``secure_renegotiation=False``: no renegotiation_info.
    ``compress``: choose DEFLATE when the hello offers it. The scripted answers ignore
    TLS_FALLBACK_SCSV (every TLS library here honours it)."""
    leaf_der = x509.load_pem_x509_certificate(mini_pki().chain_pem("good")).public_bytes(
        serialization.Encoding.DER
    )

    async def hello_or_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        data = await reader.readexactly(5)
        if data[0] != 22:  # an SSLv2 hello: hang up, as OpenSSL 3 does
            return False
        data += await reader.readexactly(int.from_bytes(data[3:5], "big"))
        if data[5] == 1:
            facts = _client_hello_facts(data)
            legacy = facts.legacy
            pick = next((s for s in extra if s in facts.suites), None)
            legacy_hello = 0x002B not in facts.extensions
            if pick is not None and 0x0301 <= legacy <= 0x0303 and legacy_hello:
                writer.write(_flight(
                    legacy, pick, leaf_der, reneg=secure_renegotiation,
                    compression=1 if compress and 1 in facts.compression else 0,
                ))
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
        await mail_session(reader, writer, protocol, implicit=implicit,
                           start_tls=lambda: hello_or_tls(reader, writer))

    return start_raw(handler, name="extra-suites-" + _name(protocol, implicit))


# --- openssl s_server: a real OpenSSL server that staples ---------------------------------------
class SServer:
    """``openssl s_server`` on 127.0.0.1 as an implicit-TLS SMTP server (submissions), presenting
    ``chain`` of :func:`mini_pki`; with ``staple`` it staples the chain's OCSP response
    (``-status_file``), which Python's ssl module cannot do.

    s_server prints what the client sends and sends what it reads from its stdin: a thread reads
    its output and answers. After a completed handshake ("CIPHER is ...") it writes the greeting;
    each line the client sends then gets an SMTP reply (EHLO/HELO 250, QUIT 221, NOOP/RSET 250,
    anything else 502). The enumeration's hellos never complete a handshake: no greeting."""

    def __init__(self, chain: Chain, *, staple: bool) -> None:
        import pytest

        exe = shutil.which("openssl")
        if exe is None:
            pytest.skip("the openssl command is not installed")
        pki = mini_pki()
        self._tmp = tempfile.TemporaryDirectory(prefix="mailtls-s_server-")
        certs = x509.load_pem_x509_certificates(pki.chain_pem(chain))
        files = {
            "leaf.pem": _pem(certs[0]),
            "chain.pem": _pem(*certs[1:]),
            "key.pem": pki.key_pem(chain),
            "ocsp.der": pki.ocsp_responses.get(chain, b""),
        }
        for name, data in files.items():
            with open(os.path.join(self._tmp.name, name), "wb") as f:
                f.write(data)
        with socket.socket() as probe:  # a free port (s_server cannot report the one it got)
            probe.bind((HOST, 0))
            self.port: int = probe.getsockname()[1]
        path = functools.partial(os.path.join, self._tmp.name)
        self._argv = [
            exe, "s_server", "-accept", f"{HOST}:{self.port}", "-cert", path("leaf.pem"),
            "-cert_chain", path("chain.pem"), "-key", path("key.pem"),
        ]
        if staple:
            self._argv += ["-status_file", path("ocsp.der")]
        self._ready = threading.Event()
        self.handshakes = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None and proc.stdin is not None
        in_session = False
        for raw in iter(proc.stdout.readline, b""):
            line = raw.rstrip(b"\r\n")
            reply = b""
            if line == b"ACCEPT":
                self._ready.set()
            elif line.startswith(b"CIPHER is "):
                in_session = True
                self.handshakes += 1
                reply = f"220 {NAME} ESMTP openssl s_server\r\n".encode()
            elif line in (b"ERROR", b"CONNECTION CLOSED", b"shutting down SSL", b"DONE"):
                in_session = False
            elif in_session and not line.startswith(b"Secure Renegotiation"):
                verb = line.split(b" ", 1)[0].upper()
                if verb in (b"EHLO", b"HELO"):
                    reply = f"250-{NAME}\r\n250 AUTH PLAIN\r\n".encode()
                elif verb == b"QUIT":
                    reply = b"221 2.0.0 Bye\r\n"
                elif verb in (b"NOOP", b"RSET"):
                    reply = b"250 2.0.0 OK\r\n"
                else:
                    reply = b"502 5.5.2 Command not recognized\r\n"
            if reply:
                with contextlib.suppress(OSError, ValueError):  # ValueError: closed at exit
                    proc.stdin.write(reply)
                    proc.stdin.flush()

    def __enter__(self) -> SServer:
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=0,
        )
        threading.Thread(target=self._pump, args=(self._proc,), daemon=True,
                         name="s_server-pump").start()
        if not self._ready.wait(10):
            self.__exit__()
            raise RuntimeError(f"openssl s_server did not start: {' '.join(self._argv)}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
            self._proc = None
        self._tmp.cleanup()


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

        async def start_tls() -> bool:
            await upgrade_to_tls(reader, writer, ctx)
            return True

        await mail_session(reader, writer, protocol, implicit=False, start_tls=start_tls)

    return start_raw(handler, name=f"rate-limited-{protocol}"), accepted, refused


# --- tlslite-ng: SSLv3, RC4, 3DES --------------------------------------------------------------
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
        self._server = ThreadedServer(self._serve, concurrent=True, backlog=64,
                                      name="tlslite-accept")
        self.port: int = self._server.port

    def _serve(self, conn: socket.socket) -> None:
        """One connection (ThreadedServer closes it and swallows its errors)."""
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
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)


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
