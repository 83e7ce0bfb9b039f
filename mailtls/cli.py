"""Command line: arguments -> scan -> render -> exit code. No logic of its own.

argparse rather than typer: the exit-code contract needs usage errors to exit 3 (click/typer
exit 2, which means "failures" here and CRITICAL to Nagios), and argparse costs no dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mailtls import __version__
from mailtls.checks.profiles import DEFAULT_PROFILE, PROFILES
from mailtls.errors import MailTLSError, UsageError
from mailtls.exitcodes import UNKNOWN, FailOn, exit_code
from mailtls.model import SERVICES, Report
from mailtls.net.stream import Timeouts

EXIT_CODES_HELP = """\
exit codes:
  0  no finding at or above the --fail-on level
  1  warnings (only with --fail-on warn, the default)
  2  failures
  3  could not test what was asked (unresolved name, port not reachable when named with
     --only/--service, nothing answered), usage error, or internal error
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(UNKNOWN, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 3600: {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be 1..1000: {text}")
    return value


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) for people, json for programs (schema mailtls/1)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the full transcript of every conversation",
    )
    p.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR=1)")
    p.add_argument(
        "--fail-on",
        choices=[f.value for f in FailOn],
        default=FailOn.WARN.value,
        help="lowest severity that makes the exit code non-zero (default: warn)",
    )


def _add_scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAMES",
        help="check only these services at their standard ports, comma-separated: "
        + ", ".join(f"{s.name} ({s.default_port})" for s in SERVICES.values()),
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
    p.add_argument(
        "--ca-file", metavar="PEM", help="trust these CA certificates instead of the system store"
    )
    p.add_argument(
        "--warn-days",
        type=_count,
        default=30,
        metavar="DAYS",
        help="warn when a certificate expires within DAYS (default 30)",
    )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=60.0,
        metavar="S",
        help="overall deadline of the scan in seconds (default 60)",
    )
    p.add_argument(
        "--connect-timeout",
        type=_positive,
        default=5.0,
        metavar="S",
        help="TCP connect timeout (default 5)",
    )
    p.add_argument(
        "--read-timeout",
        type=_positive,
        default=10.0,
        metavar="S",
        help="how long to wait for each server reply (default 10)",
    )
    p.add_argument(
        "--handshake-timeout",
        type=_positive,
        default=10.0,
        metavar="S",
        help="TLS handshake timeout (default 10)",
    )
    p.add_argument(
        "--max-connections",
        type=_count,
        default=5,
        metavar="N",
        help="connections at once per address (default 5)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="one connection per port: skip the version/cipher enumeration and the "
        "STARTTLS security probes",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help="yardstick for TLS versions and cipher suites (default: mail = BCP 195 / RFC 8996 "
        "/ RFC 8314); also mozilla-intermediate, mozilla-modern (Mozilla guidelines 6.0), "
        "ncsc (NCSC-NL 2025)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mailtls",
        description="How secure is a mail server's transport? Checks SMTP (25, 587, 465), "
        "IMAP (143, 993) and POP3 (110, 995): STARTTLS and implicit TLS, TLS version, "
        "certificate, plaintext login — with the server's own words as evidence.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailtls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="check every mail port of one or more hosts",
        description="Probe the mail ports of HOST (every A/AAAA address) and report per port.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("hosts", nargs="+", metavar="HOST", help="mail server host name or IP")
    _add_scan_options(check)
    _add_output_options(check)

    demo = sub.add_parser(
        "demo",
        help="start built-in loopback mail servers and check them (no network needed)",
        description="Starts two sets of loopback servers — one well configured, one with typical "
        "flaws — on 127.0.0.1 and checks them, so you can see a full report anywhere.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_output_options(demo)

    sub.add_parser("rules", help="list every finding id with its severity and reference")
    return parser


def _timeouts(args: argparse.Namespace) -> Timeouts:
    return Timeouts(
        connect=args.connect_timeout, read=args.read_timeout, handshake=args.handshake_timeout
    )


def _emit(report: Report, args: argparse.Namespace) -> int:
    from mailtls.render.jsonout import render_json
    from mailtls.render.terminal import make_console, render_terminal

    code = exit_code(report, FailOn(args.fail_on))
    if args.format == "json":
        sys.stdout.write(render_json(report, code) + "\n")
    else:
        console = make_console(color=False if args.no_color else None)
        render_terminal(report, console, verbose=args.verbose, exit_code=code)
    return code


def _check(args: argparse.Namespace) -> int:
    from mailtls.scan import ScanRequest, check_host_name, parse_plan, scan

    hosts = tuple(dict.fromkeys(check_host_name(h) for h in args.hosts))
    addresses = tuple(dict.fromkeys(check_host_name(a) for a in args.address))
    if args.ca_file and not os.path.isfile(args.ca_file):
        raise UsageError(f"--ca-file: no such file: {args.ca_file}")
    request = ScanRequest(
        hosts=hosts,
        plan=parse_plan(args.only, args.service),
        addresses=addresses,
        timeouts=_timeouts(args),
        deadline=args.timeout,
        max_connections=args.max_connections,
        ca_file=args.ca_file,
        warn_days=args.warn_days,
        quick=args.quick,
        profile=args.profile,
    )
    return _emit(asyncio.run(scan(request)), args)


def _demo(args: argparse.Namespace) -> int:
    from mailtls.demo import run_demo

    return _emit(run_demo(), args)


def _rules() -> int:
    from mailtls.checks.rules import RULES

    for rule in RULES.values():
        print(f"{rule.id:38} {rule.severity.label:8} {rule.reference}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "rules":
            return _rules()
        parser.print_help()
        return UNKNOWN
    except UsageError as exc:
        print(f"mailtls: error: {exc}", file=sys.stderr)
        return UNKNOWN
    except MailTLSError as exc:
        print(f"mailtls: {exc}", file=sys.stderr)
        return UNKNOWN
    except KeyboardInterrupt:
        print("mailtls: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("MAILTLS_DEBUG"):
            raise
        print(
            f"mailtls: internal error: {type(exc).__name__}: {exc} "
            "(set MAILTLS_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return UNKNOWN
