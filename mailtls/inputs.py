"""Command-line values checked before any I/O, each refusal one sentence saying why.

A bad value must not turn into DNS look-ups, seven "unreachable" ports with firewall advice,
or an internal error on every port: ``--address notanip`` is not an IP address, an empty or
garbage ``--ca-file`` holds no certificate, a 300-character host name breaks the DNS limits.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl

from mailtls.errors import UsageError

__all__ = ["check_address", "check_ca_file", "host_name_problem", "shown"]

_MAX_SHOWN = 60
_MAX_CA_FILE = 50 * 1024 * 1024  # a system bundle is ~200 kB; more is not a trust store
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----")


def shown(text: str) -> str:
    """``text`` quoted for a message, cut to a readable length."""
    if len(text) <= _MAX_SHOWN:
        return repr(text)
    return repr(text[:_MAX_SHOWN]) + f"... ({len(text)} characters)"


def check_address(text: str) -> str:
    """``--address``: an IPv4 or IPv6 literal (brackets allowed), never a name to look up."""
    bare = text.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    parts = bare.split(".")
    if all(p.isdigit() for p in parts):
        why = " (an IPv4 address is four numbers 0 to 255: 192.0.2.10)"
    elif ":" in bare:
        why = " (not a valid IPv6 address)"
    else:
        why = " (--address takes the server's IP address; its name is HOST)"
    raise UsageError(f"--address: not an IP address: {shown(text)}{why}")


def host_name_problem(name: str) -> str | None:
    """Why ``name`` (no IP literal) cannot be a DNS host name, or None (RFC 1035 §2.3.4:
    labels of at most 63 octets, at most 253 characters in text form)."""
    bare = name.rstrip(".")
    if len(bare) > 253:
        return f"the name is {len(bare)} characters long; DNS allows at most 253"
    for label in bare.split("."):
        if not label:
            return "it has an empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return (f"its label {label[:20]!r}... is {len(label)} characters long; "
                    "DNS allows at most 63")
    return None


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
