"""The command line's options of a scan: the argparse flags (their defaults read from
``mailtls.model.options``, written nowhere else) and the one place that turns parsed arguments
into a :class:`~mailtls.model.options.ScanOptions`.

A new scan option: a field in ``ScanOptions``, a flag in one of the ``add_*_options`` below, a
line in :func:`scan_options` (or :func:`client_options`). Commands without a flag get its
default from ``ABSENT`` (set on the top-level parser), so no handler needs ``getattr``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from mailtls.checks.profiles import PROFILES
from mailtls.errors import UsageError
from mailtls.model import ALL_SERVICES, SERVICE_GROUPS
from mailtls.model.credentials import INSECURE_FLAG, PASSWORD_ENV, LoginCredentials, Secret
from mailtls.model.exitcodes import FailOn
from mailtls.model.options import (
    CLIENT_DEFAULTS,
    DEFAULT_DEADLINE,
    DEFAULTS,
    SLOW_DEADLINE,
    ScanOptions,
    Timeouts,
)

# What a command that lacks a flag reads for it (argparse keeps a subcommand's own values over
# these): the login of `mailtls domain`, --domain/--host outside `check`, the regression flags
# outside `check`/`domain`, the output flags of `init`.
ABSENT: dict[str, object] = {
    "hosts": [],
    "user": None,
    "insecure_login": False,
    "domain": False,
    "host_mode": False,
    "targets": None,
    "expect": None,
    "baseline": None,
    "max_hosts": None,
    "fail_on": FailOn.WARN.value,
    "no_color": False,
    "verbose": False,
    "family": DEFAULTS.family,
    "ehlo": DEFAULTS.ehlo,
}


def positive(text: str) -> float:
    """argparse type: seconds, > 0 and <= 3600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 3600: {text}")
    return value


def count(text: str) -> int:
    """argparse type: a whole number 1..1000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be 1..1000: {text}")
    return value


def add_scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAMES",
        help="check only these services at their standard ports, comma-separated: "
        + ", ".join(f"{s.name} ({s.default_port})" for s in ALL_SERVICES.values()),
    )
    p.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="GROUPS",
        help="check these groups of services too, comma-separated: "
        + "; ".join(f"{g} ({', '.join(m)})" for g, m in SERVICE_GROUPS.items()
                    if g not in ("mail", "all"))
        + "; or service names (e.g. --also web,ldap adds 80, 443, 389, 636 to the mail ports)",
    )
    p.add_argument(
        "--services",
        action="append",
        default=[],
        metavar="GROUPS",
        help="check exactly these groups of services: mail (the default seven), web, ldap, "
        "ftp, news, or all (mail and the other secure ports of a mail host)",
    )
    p.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="check service NAME on PORT (repeatable), e.g. submission=2587",
    )
    p.add_argument(
        "--address",
        action="append",
        default=[],
        metavar="IP",
        help="connect to this address instead of resolving HOST (repeatable); the "
        "host name is still used for SNI and the certificate check",
    )
    from mailtls.cli.targets import ehlo_name

    p.add_argument(
        "--ehlo",
        type=ehlo_name,
        default=DEFAULTS.ehlo,
        metavar="NAME",
        help="the name the SMTP sessions say EHLO with (default %(default)s); for servers "
        "that refuse a name that does not resolve to the address you test from",
    )
    family = p.add_mutually_exclusive_group()
    family.add_argument("-4", dest="family", action="store_const", const=4,
                        help="only the IPv4 addresses of each host")
    family.add_argument("-6", dest="family", action="store_const", const=6,
                        help="only the IPv6 addresses of each host")
    p.add_argument(
        "--ca-file", metavar="PEM", help="trust these CA certificates instead of the system store"
    )
    p.add_argument(
        "--warn-days",
        type=count,
        default=DEFAULTS.warn_days,
        metavar="DAYS",
        help="warn when a certificate expires within DAYS (default %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=positive,
        default=None,
        metavar="S",
        help=f"overall deadline in seconds, start-up included (default {DEFAULT_DEADLINE:g}; "
        f"{SLOW_DEADLINE:g} with --slow); every port's basic probe gets a share of it before "
        "the deeper probes run",
    )
    p.add_argument(
        "--connect-timeout",
        type=positive,
        default=DEFAULTS.timeouts.connect,
        metavar="S",
        help="TCP connect timeout (default %(default)g)",
    )
    p.add_argument(
        "--read-timeout",
        type=positive,
        default=DEFAULTS.timeouts.read,
        metavar="S",
        help="how long to wait for each server reply (default %(default)g)",
    )
    p.add_argument(
        "--handshake-timeout",
        type=positive,
        default=DEFAULTS.timeouts.handshake,
        metavar="S",
        help="TLS handshake timeout (default %(default)g)",
    )
    p.add_argument(
        "--max-connections",
        type=count,
        default=DEFAULTS.max_connections,
        metavar="N",
        help="connections at once per address (default %(default)s)",
    )
    p.add_argument(
        "--slow",
        action="store_true",
        help="for servers that rate-limit: one connection at a time per address and a pause "
        "between the TLS enumeration's connections (the default --timeout becomes 600)",
    )
    p.add_argument(
        "--quick",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.quick,
        help="one connection per port: skip the version/cipher enumeration and the "
        "STARTTLS security probes (off by default: check is the full test; --no-quick is "
        "accepted everywhere, as in mailtls client, whose default is --quick)",
    )
    p.add_argument(
        "--relay-test",
        action="store_true",
        help="also test port 25 for open relaying: MAIL FROM/RCPT TO combinations to addresses "
        "in the reserved .invalid domain, RSET between them, never DATA (only test servers you "
        "are allowed to test)",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=DEFAULTS.profile,
        metavar="PROFILE",
        help="yardstick for TLS versions and cipher suites (default: mail = BCP 195 / RFC 8996 "
        "/ RFC 8314); also mozilla-intermediate, mozilla-modern (Mozilla guidelines 6.0), "
        "ncsc (NCSC-NL 2025)",
    )


def add_login_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--user",
        metavar="NAME",
        help="also log in as NAME on every port (not 25) and log out at once; the password "
        f"comes from ${PASSWORD_ENV} or a prompt, never from the command line. Sent only "
        "inside TLS with a verified certificate (trusted chain and matching name)",
    )
    p.add_argument(
        INSECURE_FLAG,
        dest="insecure_login",
        action="store_true",
        help="DANGEROUS: with --user, send the password even when the certificate is "
        "untrusted or names another host (still never before TLS)",
    )


def add_domain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resolver",
        metavar="IP[:PORT]",
        help="ask this DNS resolver (all DNS of the run; its AD bit is trusted for DNSSEC, so "
        "name one you trust, ideally validating and on this machine); default: the system's",
    )
    p.add_argument(
        "--dns-timeout",
        type=positive,
        default=DEFAULTS.dns_timeout,
        metavar="S",
        help="how long to wait for each DNS answer (default %(default)g)",
    )
    p.add_argument(
        "--port25-control",
        action="append",
        default=[],
        metavar="HOST",
        help="also try port 25 of HOST (repeatable; none unless given): when port 25 of the "
        "servers times out, tells a block on this network from one at the server",
    )
    # Tests point the MTA-STS policy fetch at a loopback port; the name stays the real one.
    p.add_argument("--mta-sts-port", type=int, default=DEFAULTS.mta_sts_port,
                   help=argparse.SUPPRESS)


def login_credentials(args: argparse.Namespace) -> LoginCredentials | None:
    """--user NAME: the password from $MAILTLS_PASSWORD or a prompt (never argv)."""
    user = args.user
    if user is None:
        if args.insecure_login:
            raise UsageError(f"{INSECURE_FLAG} needs --user")
        return None
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError(
                f"--user needs a password: set {PASSWORD_ENV}, or run on a terminal to be asked"
            )
        import getpass

        password = getpass.getpass(f"password for {user}: ")
    return LoginCredentials(user, Secret(password), allow_unverified=args.insecure_login)


def timeouts(args: argparse.Namespace) -> Timeouts:
    return Timeouts(
        connect=args.connect_timeout, read=args.read_timeout, handshake=args.handshake_timeout
    )


def _checked_ca_file(ca_file: str | None) -> str | None:
    if ca_file:
        from mailtls.net.truststore import check_ca_file

        check_ca_file(ca_file)  # exists and holds a PEM certificate OpenSSL can load
    return ca_file


def _checked_resolver(resolver: str | None) -> str | None:
    if resolver:
        from mailtls.net.dns import parse_resolver

        parse_resolver(resolver)
    return resolver


def scan_options(args: argparse.Namespace, *, ca_file: str | None) -> ScanOptions:
    """``check``, ``domain`` and ``init``: the options of the scan. ``ca_file``: --ca-file, or
    the one the --expect file names."""
    if not 1 <= args.mta_sts_port <= 65535:
        raise UsageError(f"port out of range 1-65535: {args.mta_sts_port}")
    checked_ca_file, resolver = _checked_ca_file(ca_file), _checked_resolver(args.resolver)
    return ScanOptions(  # the password prompt (login_credentials) after every usage check
        timeouts=timeouts(args),
        timeout=args.timeout,
        max_connections=args.max_connections,
        slow=args.slow,
        ca_file=checked_ca_file,
        warn_days=args.warn_days,
        quick=args.quick,
        profile=args.profile,
        relay_test=args.relay_test,
        login=login_credentials(args),
        resolver=resolver,
        dns_timeout=args.dns_timeout,
        mta_sts_port=args.mta_sts_port,
        family=args.family,
        ehlo=args.ehlo,
    )


def client_options(args: argparse.Namespace) -> ScanOptions:
    """``client``: the options of its scans (no --slow, --relay-test or domain checks)."""
    if not 1 <= args.https_port <= 65535:
        raise UsageError(f"--https-port out of range 1-65535: {args.https_port}")
    ca_file, resolver = _checked_ca_file(args.ca_file), _checked_resolver(args.resolver)
    return dataclasses.replace(
        CLIENT_DEFAULTS,
        timeouts=timeouts(args),
        timeout=args.timeout,
        max_connections=args.max_connections,
        ca_file=ca_file,
        warn_days=args.warn_days,
        quick=args.quick,
        profile=args.profile,
        login=login_credentials(args),
        resolver=resolver,
        https_port=args.https_port,
    )
