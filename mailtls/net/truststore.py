"""``--ca-file``: a trust store OpenSSL can load, checked before the first connection.

An empty or garbage file would otherwise make every port's handshake an internal error, and a
directory was reported as "no such file".
"""

from __future__ import annotations

import os
import re
import ssl

from mailtls.errors import UsageError

__all__ = ["check_ca_file"]

_MAX_CA_FILE = 50 * 1024 * 1024  # a system bundle is ~200 kB; more is not a trust store
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----")


def check_ca_file(path: str, option: str = "--ca-file") -> str:
    """The file must exist and hold at least one PEM certificate OpenSSL can load."""
    if not os.path.exists(path):
        raise UsageError(f"{option}: no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{option}: no PEM certificate in {path}: it is a directory")
    try:
        size = os.path.getsize(path)
        if size > _MAX_CA_FILE:
            raise UsageError(f"{option}: no PEM certificate in {path}: {size} bytes is not a "
                             "certificate bundle")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    if not _PEM_CERTIFICATE.search(data):
        what = "it is empty" if not data.strip() else "no -----BEGIN CERTIFICATE----- block"
        raise UsageError(f"{option}: no PEM certificate in {path}: {what}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or "not a valid PEM certificate"
        raise UsageError(f"{option}: no PEM certificate in {path}: OpenSSL cannot load it "
                         f"({str(reason).lower().replace('_', ' ')})") from None
    if not context.cert_store_stats().get("x509"):
        raise UsageError(f"{option}: no PEM certificate in {path}")
    return path
