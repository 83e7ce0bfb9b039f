"""``mailtls client``: the command line of the mail-client verification (``mailtls.scan.client``).

Kept apart from ``mailtls.cli.app`` so that file only wires it in (``add_client_command`` and
``run_client_command``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from types import MappingProxyType

from mailtls.cli.helpformat import HelpFormatter
from mailtls.cli.options import client_options, count, positive
from mailtls.errors import UsageError
from mailtls.model import SERVICES, Report
from mailtls.model.options import CLIENT_DEFAULTS

CLIENT_HELP = """\
discovery order (as clients do it; Thunderbird's FindConfig.sys.mjs):
  1. https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=ADDRESS
  2. https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ADDRESS
  3. the most preferred MX host's domain and base domain: https://autoconfig.<that>/...
  4. RFC 6186/8314 SRV records (_submissions, _submission, _imaps, _imap, _pop3s, _pop3)
  5. only when 1-3 found nothing: Thunderbird's guesses imap./pop3./pop./mail./DOMAIN and
     smtp./mail./DOMAIN on the standard ports
Every server found (or named in --config) is checked on its port in the configured mode,
in the other mode on the same port, and on the protocol's standard ports; the report says what
each client would pick, whether that is secure, and the most secure setting that works.

--config reads an autoconfig XML file, a Thunderbird prefs.js or an Apple .mobileconfig.
"""


def add_client_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    *,
    output: Callable[[argparse.ArgumentParser], None],
    login: Callable[[argparse.ArgumentParser], None],
    exit_codes_help: str,
) -> None:
    from mailtls.checks.profiles import PROFILES

    p = sub.add_parser(
        "client",
        help="verify a mail client's configuration: discover it as clients do, or read it "
        "from a file, and check every server in it",
        description="Find the settings a mail client gets for ADDRESS (or read them from "
        "--config FILE), check each incoming and outgoing server, and say what each client "
        "would pick, whether that is secure, and the most secure configuration that works.",
        epilog=CLIENT_HELP + "\n" + exit_codes_help,
        formatter_class=HelpFormatter,
    )
    p.add_argument("address", nargs="?", metavar="ADDRESS",
                   help="the e-mail address, user@example.com (optional with --config: fills "
                   "in %%EMAILADDRESS%% and friends)")
    p.add_argument("--config", metavar="FILE",
                   help="verify this configuration instead of discovering one: autoconfig XML "
                   "(config-v1.1.xml), Thunderbird prefs.js or Apple .mobileconfig")
    p.add_argument("--resolver", metavar="IP[:PORT]",
                   help="ask this DNS resolver for everything (discovery and server names)")
    p.add_argument("--https-port", type=int, default=CLIENT_DEFAULTS.https_port, metavar="PORT",
                   help="port of the autoconfig web servers (default %(default)s)")
    p.add_argument("--address", dest="connect_address", action="append", default=[],
                   metavar="IP", help="connect every server name to this address instead of "
                   "resolving it (names still used for SNI and certificates)")
    p.add_argument("--service", action="append", default=[], metavar="NAME=PORT",
                   help="where to look for a standard service when guessing and when looking "
                   "for a better setting, e.g. imaps=10993 (repeatable)")
    p.add_argument("--ca-file", metavar="PEM",
                   help="trust these CA certificates instead of the system store")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction,
                   default=CLIENT_DEFAULTS.quick,
                   help="one connection per port (the default here, unlike check: a client "
                   "check probes every server on several ports and modes, and asks whether a "
                   "setting works, not which suites it offers); --no-quick also enumerates TLS "
                   "versions and cipher suites and runs the STARTTLS security probes")
    p.add_argument("--profile", choices=sorted(PROFILES), default=CLIENT_DEFAULTS.profile,
                   metavar="PROFILE", help="yardstick for TLS versions and cipher suites (with "
                   "--no-quick): " + ", ".join(sorted(PROFILES)))
    p.add_argument("--warn-days", type=count, default=CLIENT_DEFAULTS.warn_days, metavar="DAYS",
                   help="warn when a certificate expires within DAYS (default %(default)s)")
    p.add_argument("--timeout", type=positive, default=CLIENT_DEFAULTS.timeout, metavar="S",
                   help=f"overall deadline in seconds (default {CLIENT_DEFAULTS.deadline:g})")
    p.add_argument("--connect-timeout", type=positive, default=CLIENT_DEFAULTS.timeouts.connect,
                   metavar="S", help="TCP connect timeout (default %(default)g)")
    p.add_argument("--read-timeout", type=positive, default=CLIENT_DEFAULTS.timeouts.read,
                   metavar="S", help="how long to wait for each server reply (default %(default)g)")
    p.add_argument("--handshake-timeout", type=positive,
                   default=CLIENT_DEFAULTS.timeouts.handshake, metavar="S",
                   help="TLS handshake timeout (default %(default)g)")
    p.add_argument("--max-connections", type=count, default=CLIENT_DEFAULTS.max_connections,
                   metavar="N", help="connections at once per address (default %(default)s)")
    p.add_argument("--round-trip", action="store_true",
                   help="also send one tagged test message through the best secure submission "
                   "setting and find it over IMAP/POP3 (needs --user): delivery time, the TLS "
                   "of every hop, Authentication-Results; the message is deleted")
    p.add_argument("--round-trip-timeout", type=positive, default=60.0, metavar="S",
                   help="how long to wait for the test message to arrive (default 60)")
    login(p)
    output(p)


def run_client_command(args: argparse.Namespace, emit: Callable[[Report, argparse.Namespace],
                                                                 int]) -> int:
    from mailtls.scan.client import ClientRequest, check_address, run_client
    from mailtls.scan.host import check_host_name, parse_port

    if args.address is None and args.config is None:
        raise UsageError("give an e-mail address to discover, or --config FILE to verify")
    address = check_address(args.address) if args.address else None
    if args.config is not None and not os.path.isfile(args.config):
        raise UsageError(f"--config: no such file: {args.config}")
    ports: dict[str, int] = {}
    for item in args.service:
        name, sep, port = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in SERVICES:
            raise UsageError(f"--service wants NAME=PORT with NAME one of {', '.join(SERVICES)}")
        ports[name] = parse_port(port)
    addresses = tuple(dict.fromkeys(check_host_name(a) for a in args.connect_address))
    request = ClientRequest(
        address=address,
        config_path=args.config,
        addresses=addresses,
        ports=MappingProxyType(ports),
        options=client_options(args),  # checks --ca-file, --resolver, --https-port; then login
    )
    if args.round_trip and (request.options.login is None or address is None):
        raise UsageError("--round-trip needs an ADDRESS and --user (password from "
                         "MAILTLS_PASSWORD or the prompt)")
    if not args.round_trip:
        return emit(asyncio.run(run_client(request)), args)
    from mailtls.cli.roundtrip import with_round_trip

    return emit(asyncio.run(with_round_trip(run_client(request), request, args)), args)
