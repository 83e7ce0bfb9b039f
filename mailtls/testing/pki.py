"""A throw-away test PKI for the loopback test servers and the built-in demo.

One :class:`TestPKI` holds one trustme root CA and one intermediate CA, minted in memory at run
time. ``server_context(kind)`` gives a server-side :class:`ssl.SSLContext` presenting a leaf of the
requested :data:`CertKind`; contexts and leaves are cached per kind, so making many servers is
cheap. Clients trust the root via :attr:`TestPKI.ca_pem`, :meth:`TestPKI.ca_file` or
:meth:`TestPKI.client_context` - never the system store.

Expected OpenSSL verdicts for a verifying client (``CERT_REQUIRED`` + ``check_hostname``) that
trusts only this root and connects as ``mail.example.test``:

=====================  ============================================================
kind                   verdict
=====================  ============================================================
good                   ok
expiring_soon          ok (expires in 5 days)
with_intermediate      ok (leaf + intermediate sent)
rsa                    ok (RSA-2048 leaf; all other leaves are ECDSA P-256)
expired                10 certificate has expired
not_yet_valid          9 certificate is not yet valid
wrong_name             62 hostname mismatch (issued for other.example.test only)
self_signed            18 self-signed certificate
missing_intermediate   20 unable to get local issuer certificate (leaf only)
=====================  ============================================================
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, get_args

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CERT_KINDS", "DEFAULT_NAMES", "WRONG_NAME", "CertKind", "TestPKI"]

CertKind = Literal[
    "good",
    "expired",
    "not_yet_valid",
    "expiring_soon",
    "wrong_name",
    "self_signed",
    "missing_intermediate",
    "with_intermediate",
    "rsa",
]
CERT_KINDS: tuple[CertKind, ...] = get_args(CertKind)

DEFAULT_NAMES: tuple[str, ...] = ("mail.example.test", "localhost", "127.0.0.1", "::1")
WRONG_NAME = "other.example.test"
_ORG = "mailtls test PKI"


@dataclass(frozen=True)
class _Leaf:
    chain_pem: bytes  # what the server sends: leaf first
    key_pem: bytes


def _is_below_tls12(version: ssl.TLSVersion | None) -> bool:
    if version is None or version is ssl.TLSVersion.MAXIMUM_SUPPORTED:
        return False
    return version is ssl.TLSVersion.MINIMUM_SUPPORTED or version < ssl.TLSVersion.TLSv1_2


def _load_chain(ctx: ssl.SSLContext, leaf: _Leaf) -> None:
    # load_cert_chain() only takes files; they live only as long as this call.
    with tempfile.TemporaryDirectory(prefix="mailtls-leaf-") as tmp:
        cert_path = os.path.join(tmp, "chain.pem")
        key_path = os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(leaf.chain_pem)
        with open(key_path, "wb") as f:
            f.write(leaf.key_pem)
        ctx.load_cert_chain(cert_path, key_path)


def _self_signed(names: Sequence[str], now: dt.datetime) -> _Leaf:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        ]
    )
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Leaf(
        chain_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _remove_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class TestPKI:
    """One root CA (+ one intermediate CA) and leaves of every :data:`CertKind` on demand.

    Thread-safe. ``close()`` (or leaving the ``with`` block) removes the CA file written by
    :meth:`ca_file`; contexts already made keep working (their keys are loaded in memory).
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, names: Sequence[str] = DEFAULT_NAMES) -> None:
        if not names:
            raise ValueError("TestPKI needs at least one name")
        self.names: tuple[str, ...] = tuple(names)
        self._ca = trustme.CA(organization_name=_ORG)
        self._intermediate = self._ca.create_child_ca()
        self._lock = threading.RLock()
        self._leaves: dict[CertKind, _Leaf] = {}
        self._contexts: dict[
            tuple[CertKind, ssl.TLSVersion | None, ssl.TLSVersion | None, str | None],
            ssl.SSLContext,
        ] = {}
        self._client_contexts: dict[bool, ssl.SSLContext] = {}
        self._tmpdir: str | None = None
        self._finalizer: weakref.finalize[[str], TestPKI] | None = None

    # -- the root -------------------------------------------------------------------------------

    @property
    def ca_pem(self) -> bytes:
        """The root CA certificate, PEM."""
        data: bytes = self._ca.cert_pem.bytes()
        return data

    def ca_file(self) -> str:
        """Path of the root CA PEM in a private temp dir (written once, removed by close())."""
        with self._lock:
            if self._tmpdir is None:
                self._tmpdir = tempfile.mkdtemp(prefix="mailtls-pki-")
                self._finalizer = weakref.finalize(self, _remove_dir, self._tmpdir)
            path = os.path.join(self._tmpdir, "ca.pem")
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(self.ca_pem)
            return path

    def client_context(self, *, check_hostname: bool = True) -> ssl.SSLContext:
        """A verifying client context that trusts only this PKI's root (cached; do not mutate)."""
        with self._lock:
            ctx = self._client_contexts.get(check_hostname)
            if ctx is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = check_hostname
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
                self._client_contexts[check_hostname] = ctx
            return ctx

    # -- leaves and server contexts -------------------------------------------------------------

    def leaf_chain_pem(self, kind: CertKind = "good") -> bytes:
        """The PEM chain a server of this kind sends (leaf first)."""
        return self._leaf(kind).chain_pem

    def _leaf(self, kind: CertKind) -> _Leaf:
        with self._lock:
            leaf = self._leaves.get(kind)
            if leaf is None:
                leaf = self._make_leaf(kind)
                self._leaves[kind] = leaf
            return leaf

    def _issue(
        self,
        ca: trustme.CA,
        *names: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key_type: trustme.KeyType = trustme.KeyType.ECDSA,
    ) -> _Leaf:
        cert = ca.issue_cert(
            *names,
            common_name=names[0],
            organization_name=_ORG,
            not_before=not_before,
            not_after=not_after,
            key_type=key_type,
        )
        return _Leaf(
            chain_pem=b"".join(blob.bytes() for blob in cert.cert_chain_pems),
            key_pem=cert.private_key_pem.bytes(),
        )

    def _make_leaf(self, kind: CertKind) -> _Leaf:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        day = dt.timedelta(days=1)
        names = self.names
        if kind == "good":
            return self._issue(self._ca, *names)
        if kind == "expired":
            return self._issue(self._ca, *names, not_before=now - 30 * day, not_after=now - day)
        if kind == "not_yet_valid":
            return self._issue(self._ca, *names, not_before=now + day, not_after=now + 30 * day)
        if kind == "expiring_soon":
            return self._issue(self._ca, *names, not_before=now - 30 * day, not_after=now + 5 * day)
        if kind == "wrong_name":
            return self._issue(self._ca, WRONG_NAME)
        if kind == "self_signed":
            return _self_signed(names, now)
        if kind == "with_intermediate":
            return self._issue(self._intermediate, *names)
        if kind == "missing_intermediate":
            full = self._leaf("with_intermediate")  # the same leaf, served without its issuer
            first = full.chain_pem.split(b"-----END CERTIFICATE-----", 1)[0]
            return _Leaf(chain_pem=first + b"-----END CERTIFICATE-----\n", key_pem=full.key_pem)
        if kind == "rsa":
            return self._issue(self._ca, *names, key_type=trustme.KeyType.RSA)
        raise ValueError(f"unknown certificate kind {kind!r}; expected one of {CERT_KINDS}")

    def server_context(
        self,
        kind: CertKind = "good",
        *,
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
    ) -> ssl.SSLContext:
        """A server context presenting a leaf of ``kind`` (cached per arguments; do not mutate).

        TLS versions below 1.2 need ``@SECLEVEL=0`` on OpenSSL 3: when either bound is below
        TLS 1.2 and ``ciphers`` is not given, the cipher string becomes ``ALL:@SECLEVEL=0``.
        A ``maximum_version`` below TLS 1.2 without ``minimum_version`` implies TLS 1.0 as the
        minimum (Python's server default minimum is TLS 1.2).
        """
        if kind not in CERT_KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}; expected one of {CERT_KINDS}")
        legacy = _is_below_tls12(minimum_version) or _is_below_tls12(maximum_version)
        if ciphers is None and legacy:
            ciphers = "ALL:@SECLEVEL=0"
        if minimum_version is None and _is_below_tls12(maximum_version):
            # Python's server default minimum is TLS 1.2: a legacy-only server needs a lower one
            minimum_version = ssl.TLSVersion.TLSv1
        key = (kind, minimum_version, maximum_version, ciphers)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                if ciphers is not None:
                    ctx.set_ciphers(ciphers)
                if minimum_version is not None:
                    ctx.minimum_version = minimum_version
                if maximum_version is not None:
                    ctx.maximum_version = maximum_version
                _load_chain(ctx, self._leaf(kind))
                self._contexts[key] = ctx
            return ctx

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the temp files (idempotent). The CA and cached contexts stay usable."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._finalizer = None
            self._tmpdir = None

    def __enter__(self) -> TestPKI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
