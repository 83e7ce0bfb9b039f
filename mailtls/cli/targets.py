"""``HOST:PORT`` and ``[IPv6]:PORT`` targets, as testssl.sh and sslyze take them: the service is
the one of a standard port (25 smtp, 587 submission, 465 submissions, 143 imap, 993 imaps,
110 pop3, 995 pop3s; 443 https, 389 ldap, ... of the other services), or the one
``--starttls smtp|imap|pop3`` / ``--implicit smtp|imap|pop3`` names. A target becomes a host
name plus a ``--service NAME=PORT``."""

from __future__ import annotations

import argparse
import ipaddress
import re

from mailtls.errors import UsageError
from mailtls.model import ALL_SERVICES
from mailtls.model.ports import MAX_PORT, is_port

__all__ = ["add_target_options", "apply_targets", "ehlo_name", "service_for", "split_target"]

PROTOCOLS = ("smtp", "imap", "pop3")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EHLO = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?|\[(?:IPv6:[0-9A-Fa-f:.]+|[0-9.]+)\]")
_BRACKETED = re.compile(r"\[([^\[\]]+)\](?::([^:]*))?")
_BY_PORT = {s.default_port: s.name for s in ALL_SERVICES.values()}
_STARTTLS = {"smtp": "submission", "imap": "imap", "pop3": "pop3"}
_IMPLICIT = {"smtp": "submissions", "imap": "imaps", "pop3": "pop3s"}


def add_target_options(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--starttls",
        choices=PROTOCOLS,
        metavar="PROTO",
        help="HOST:PORT speaks PROTO (smtp, imap or pop3) and upgrades with STARTTLS "
        "(smtp: submission, or smtp on port 25); needed for a port that is not a standard "
        "mail port",
    )
    mode.add_argument(
        "--implicit",
        choices=PROTOCOLS,
        metavar="PROTO",
        help="HOST:PORT speaks PROTO (smtp, imap or pop3) inside TLS from the first byte "
        "(submissions, imaps, pop3s)",
    )


def split_target(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (host, port or None). A bare IPv6
    address (several colons) has no port."""
    raw = text.strip()
    match = _BRACKETED.fullmatch(raw)
    if match:
        host, port_text = match.group(1), match.group(2)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"{text}: brackets hold an IPv6 address, e.g. [::1]:25") from None
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    else:
        return raw, None
    if port_text is None:
        return host, None
    # isascii: str.isdigit also accepts digits int() refuses, such as "²"
    if not (port_text.isascii() and port_text.isdigit()) or not is_port(int(port_text)):
        raise UsageError(f"{text}: port must be 1-{MAX_PORT}")
    if not host:
        raise UsageError(f"{text}: no host before the port")
    return host, int(port_text)


def service_for(port: int, starttls: str | None, implicit: str | None, target: str) -> str:
    if starttls:
        return "smtp" if starttls == "smtp" and port == 25 else _STARTTLS[starttls]
    if implicit:
        return _IMPLICIT[implicit]
    if port in _BY_PORT:
        return _BY_PORT[port]
    raise UsageError(f"{target}: port {port} is not a standard mail port; say what it speaks "
                     "with --starttls smtp|imap|pop3 or --implicit smtp|imap|pop3")


def apply_targets(args: argparse.Namespace) -> None:
    """Turn ``HOST:PORT`` targets into host names and ``--service`` entries (in place)."""
    starttls, implicit = args.starttls, args.implicit
    hosts: list[str] = []
    ports: set[int] = set()
    for target in args.hosts:
        host, port = split_target(target)
        hosts.append(host)
        if port is not None:
            ports.add(port)
            entry = f"{service_for(port, starttls, implicit, target)}={port}"
            if entry not in args.service:
                args.service.append(entry)
    if len(ports) > 1 and len(hosts) > 1:
        raise UsageError("HOST:PORT targets with different ports in one run: every host would "
                         "be checked on every port; run them one by one")
    if (starttls or implicit) and not ports:
        flag = "--starttls" if starttls else "--implicit"
        raise UsageError(f"{flag} needs a HOST:PORT target (e.g. 127.0.0.1:2525); for the "
                         "standard ports use --only or --service")
    args.hosts = hosts


def ehlo_name(text: str) -> str:
    """``--ehlo NAME``: a domain or an address literal as RFC 5321 §4.1.3 writes it
    ([192.0.2.1], [IPv6:2001:db8::1]); nothing else reaches the wire (no spaces, no CR/LF)."""
    if len(text) > 255 or not _EHLO.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"not a domain or address literal: {text!r} (e.g. mx.example.com or [192.0.2.1])")
    return text
