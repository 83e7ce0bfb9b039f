"""Command-line values checked before any I/O, each refusal one sentence saying why.

A bad value must not turn into DNS look-ups, or seven "unreachable" ports with firewall advice:
``--address notanip`` is not an IP address, a 300-character host name breaks the DNS limits.
(``--ca-file`` is checked by ``mailtls.net.truststore``: loading it is OpenSSL's business.)
"""

from __future__ import annotations

import ipaddress

from mailtls.errors import UsageError

__all__ = ["check_address", "host_name_problem", "shown"]

_MAX_SHOWN = 60


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
