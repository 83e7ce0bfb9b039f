"""Command line: arguments -> scan -> render -> exit code. No logic of its own.

argparse rather than typer: the exit-code contract needs usage errors to exit 3 (click/typer
exit 2, which means "failures" here and CRITICAL to Nagios), and argparse costs no dependency.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from mailtls import __version__
from mailtls.checks.profiles import DEFAULT_PROFILE, PROFILES
from mailtls.cli.helpformat import HelpFormatter
from mailtls.cli.runclock import command_started
from mailtls.errors import MailTLSError, UsageError
from mailtls.model import ALL_SERVICES, SERVICE_GROUPS, Report
from mailtls.model.exitcodes import UNKNOWN, FailOn, exit_code
from mailtls.net.stream import Timeouts

if TYPE_CHECKING:
    from mailtls.model.credentials import LoginCredentials

EXIT_CODES_HELP = """\
exit codes:
  0  no finding at or above the --fail-on level
  1  warnings (only with --fail-on warn, the default)
  2  failures
  3  could not test what was asked (unresolved name, port not reachable when named with
     --only/--service, nothing answered), usage error, or internal error
"""


DEMO_EXIT_CODES_HELP = """\
exit codes:
  0  the demo worked: the good deployment has no finding, the flawed one fails as designed
     (`mailtls check` of the flawed host alone would exit 2; --fail-on does not apply here)
  3  the demo did not come out as designed, could not run, or was interrupted
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
    from mailtls.cli.output import FORMATS, FORMATS_HELP

    p.add_argument("--format", choices=FORMATS, default="text", metavar="FORMAT",
                   help=FORMATS_HELP)
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the full transcript of every conversation",
    )
    p.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR=1)")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on standard error (there is none when it is not a terminal)",
    )
    p.add_argument(
        "--fail-on",
        choices=[f.value for f in FailOn],
        default=FailOn.WARN.value,
        help="lowest severity that makes the exit code non-zero (default: warn)",
    )
    from mailtls.cli.output import add_output_file_options

    add_output_file_options(p)


def _add_scan_options(p: argparse.ArgumentParser) -> None:
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
        metavar="NAME",
        help="the name the SMTP sessions say EHLO with (default mailtls.invalid); for servers "
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
        type=_count,
        default=30,
        metavar="DAYS",
        help="warn when a certificate expires within DAYS (default 30)",
    )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=None,
        metavar="S",
        help="overall deadline in seconds, start-up included (default 60; 600 with --slow); "
        "every port's basic probe gets a share of it before the deeper probes run",
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
        "--slow",
        action="store_true",
        help="for servers that rate-limit: one connection at a time per address and a pause "
        "between the TLS enumeration's connections (the default --timeout becomes 600)",
    )
    p.add_argument(
        "--quick",
        action=argparse.BooleanOptionalAction,
        default=False,
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
        metavar="PROFILE",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help="yardstick for TLS versions and cipher suites (default: mail = BCP 195 / RFC 8996 "
        "/ RFC 8314); also mozilla-intermediate, mozilla-modern (Mozilla guidelines 6.0), "
        "ncsc (NCSC-NL 2025)",
    )


def _add_login_options(p: argparse.ArgumentParser) -> None:
    from mailtls.model.credentials import INSECURE_FLAG, PASSWORD_ENV

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


DOMAIN_HELP = """\
a NAME is a mail domain (MX, SRV, MTA-STS, TLS-RPT, DANE) when:
  mailtls domain NAME, or mailtls check --domain NAME: always;
  mailtls check NAME: when NAME has MX records (a null MX included), unless --host, --address,
    --only or --service is given, NAME is an IP address, or NAME is a special-use name
    (.test, .invalid, .example, .localhost; RFC 6761) and no --resolver is given.
  Otherwise NAME is a host: its own mail ports are checked, as always.
a domain's MX hosts are tested on port 25 (--service smtp=PORT to change it) plus the services
  named with --only/--service; its SRV targets on the ports and services their records name.
"""


def _add_domain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resolver",
        metavar="IP[:PORT]",
        help="ask this DNS resolver (all DNS of the run; its AD bit is trusted for DNSSEC, so "
        "name one you trust, ideally validating and on this machine); default: the system's",
    )
    p.add_argument(
        "--dns-timeout",
        type=_positive,
        default=5.0,
        metavar="S",
        help="how long to wait for each DNS answer (default 5)",
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
    p.add_argument("--mta-sts-port", type=int, default=443, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mailtls",
        description="How secure is a mail server's transport? Checks SMTP (25, 587, 465), "
        "IMAP (143, 993) and POP3 (110, 995): STARTTLS and implicit TLS, TLS version, "
        "certificate, plaintext login — with the server's own words as evidence.",
        epilog=EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailtls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="check every mail port of one or more hosts",
        description="Probe the mail ports of HOST (every A/AAAA address) and report per port.",
        epilog=EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    check.add_argument(
        "hosts", nargs="*", metavar="HOST",
        help="mail server host name or IP, or HOST:PORT / [IPv6]:PORT for one port (its "
        "service from the standard port, or --starttls/--implicit); or --targets",
    )
    _add_scan_options(check)
    from mailtls.cli.targets import add_target_options

    add_target_options(check)
    _add_login_options(check)
    _add_domain_options(check)
    kind = check.add_mutually_exclusive_group()
    kind.add_argument(
        "--domain",
        action="store_true",
        help="treat every NAME as a mail domain (as 'mailtls domain' does)",
    )
    kind.add_argument(
        "--host",
        dest="host_mode",
        action="store_true",
        help="treat every NAME as a host, even one with MX records",
    )
    _add_output_options(check)
    from mailtls.cli.regression import add_check_options, add_subcommands

    add_check_options(check)
    from mailtls.fleet.cli import add_db_option, add_fleet_commands

    add_db_option(check)

    def _init_options(p: argparse.ArgumentParser) -> None:
        _add_login_options(p)
        _add_domain_options(p)

    add_subcommands(sub, scan_options=_add_scan_options, extra_options=_init_options)

    domain = sub.add_parser(
        "domain",
        help="check mail domains: MX hosts, SRV targets, MTA-STS, TLS-RPT and DANE",
        description="Find a domain's mail servers as senders (MX) and clients (SRV) do, check "
        "each on its ports, and check the domain's MTA-STS policy, TLS-RPT record and DANE "
        "TLSA records.",
        epilog=DOMAIN_HELP + "\n" + EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    domain.add_argument("hosts", nargs="*", metavar="DOMAIN",
                        help="mail domain, e.g. example.com (or --targets)")
    _add_scan_options(domain)
    _add_domain_options(domain)
    _add_output_options(domain)
    add_check_options(domain)  # --targets, --max-hosts, --expect, --baseline: as for check
    add_db_option(domain)
    from mailtls.cli.output import FORMATS

    add_fleet_commands(sub, scan_options=_add_scan_options, domain_options=_add_domain_options,
                       formats=FORMATS)

    demo = sub.add_parser(
        "demo",
        help="start built-in loopback mail servers and check them (no network needed)",
        description="Starts two sets of loopback servers — one well configured, one with typical "
        "flaws — on 127.0.0.1 and checks them, so you can see a full report anywhere.",
        epilog=DEMO_EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                      help="as for check: one connection per port, no enumeration and no "
                      "STARTTLS security probes")
    demo.add_argument("--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE,
                      metavar="PROFILE", help="as for check: the yardstick for TLS versions and "
                      "cipher suites: " + ", ".join(sorted(PROFILES)))
    _add_output_options(demo)

    from mailtls.cli.client import add_client_command

    add_client_command(sub, output=_add_output_options, login=_add_login_options,
                       exit_codes_help=EXIT_CODES_HELP)

    from mailtls.cli.serve import add_serve_command

    add_serve_command(sub)

    from mailtls.cli.output import add_show_command

    add_show_command(sub, output=_add_output_options)

    from mailtls.cli.completion import add_completion_command

    add_completion_command(sub)

    rules = sub.add_parser(
        "rules",
        formatter_class=HelpFormatter,
        help="list every finding id with its severity, reference and fix, and the grading rule",
        description="Without ID: every finding id, one line each, then how verdicts and grades "
        "are derived from the findings. With ID (or a prefix such as cert.): each rule "
        "explained with its fix.",
    )
    rules.add_argument("ids", nargs="*", metavar="ID", help="a finding id, or a prefix (cert.)")
    rules.add_argument("--format", choices=("text", "json"), default="text",
                       help="text (default) or json (schema mailtls-rules/1)")
    return parser


def _timeouts(args: argparse.Namespace) -> Timeouts:
    return Timeouts(
        connect=args.connect_timeout, read=args.read_timeout, handshake=args.handshake_timeout
    )


def _login(args: argparse.Namespace) -> LoginCredentials | None:
    """--user NAME: the password from $MAILTLS_PASSWORD or a prompt (never argv)."""
    from mailtls.model.credentials import INSECURE_FLAG, PASSWORD_ENV, LoginCredentials, Secret

    user = getattr(args, "user", None)
    if user is None:
        if getattr(args, "insecure_login", False):
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


def _emit(report: Report, args: argparse.Namespace, code: int | None = None) -> int:
    from mailtls.cli.output import emit

    if code is None:
        code = exit_code(report, FailOn(args.fail_on))
    return emit(report, code, args)


def _check(args: argparse.Namespace) -> int:
    from mailtls.cli.regression import prepare_check, run_check
    from mailtls.formats.arguments import check_address
    from mailtls.net.truststore import check_ca_file
    from mailtls.scan.host import ScanRequest, check_host_name, parse_plan

    prepared = prepare_check(args)  # HOST, --targets or --expect's [scan]; --baseline read
    if args.command == "check":
        from mailtls.cli.targets import apply_targets

        apply_targets(args)  # HOST:PORT -> HOST plus --service NAME=PORT

    hosts = tuple(dict.fromkeys(check_host_name(h) for h in args.hosts))
    addresses = tuple(dict.fromkeys(check_address(a) for a in args.address))
    if args.ca_file:
        check_ca_file(args.ca_file)
    domain_mode = args.command == "domain" or getattr(args, "domain", False)
    if domain_mode and addresses:
        raise UsageError("--address cannot be used with a mail domain: its hosts come from DNS")
    if args.resolver:
        from mailtls.net.dns import parse_resolver

        parse_resolver(args.resolver)
    if not 1 <= args.mta_sts_port <= 65535:
        raise UsageError(f"port out of range 1-65535: {args.mta_sts_port}")
    request = ScanRequest(
        hosts=() if domain_mode else hosts,
        domains=hosts if domain_mode else (),
        detect_domains=not domain_mode and not getattr(args, "host_mode", False)
        and not addresses and not args.only and not args.service,
        resolver=args.resolver,
        dns_timeout=args.dns_timeout,
        port25_controls=tuple(dict.fromkeys(check_host_name(c) for c in args.port25_control)),
        mta_sts_port=args.mta_sts_port,
        plan=parse_plan(args.only, args.service, args.also, args.services),
        addresses=addresses,
        timeouts=_timeouts(args),
        deadline=args.timeout if args.timeout is not None else (600.0 if args.slow else 60.0),
        started=command_started(args.entered),  # --timeout is the command's, start-up included
        max_connections=args.max_connections,
        slow=args.slow,
        ca_file=args.ca_file,
        warn_days=args.warn_days,
        quick=args.quick,
        relay_test=args.relay_test,
        profile=args.profile,
        login=_login(args),
        family=getattr(args, "family", None),
        **({"ehlo": args.ehlo} if getattr(args, "ehlo", None) else {}),
    )
    from mailtls.fleet.cli import run_with_db, wants_db

    if wants_db(args):  # fleet submit, check --db: runs in the results database
        from mailtls.cli.output import emit
        from mailtls.cli.regression import finish

        def output(report: Report) -> int:
            judged, code = finish(report, prepared, FailOn(args.fail_on))
            return emit(judged, code, args)

        return run_with_db(request, args, prepared, output=output)
    return run_check(request, args, prepared)


def _demo(args: argparse.Namespace) -> int:
    from mailtls.cli.demo import demo_exit_code, demo_outcome, run_demo
    from mailtls.cli.regression import report_interruption

    report = run_demo(quick=args.quick, profile=args.profile)
    code = demo_exit_code(report)  # 0: the demo worked (the flawed host fails by design)
    report_interruption(report)
    _emit(report, args, code)
    if args.format == "text" and not getattr(args, "output_file", None):
        print(demo_outcome(code, report))
    return code


def _rules(args: argparse.Namespace) -> int:
    from mailtls.render.rules import render_rules_json, render_rules_text, select_rules

    chosen = select_rules(args.ids)
    if args.format == "json":
        sys.stdout.write(render_rules_json(chosen))
    else:
        sys.stdout.write(render_rules_text(chosen, explain=bool(args.ids)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    entered = time.monotonic()
    from mailtls.cli.stdout import OutputError, finish_output
    from mailtls.scan.interrupt import Interrupted, raise_pending

    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.entered = entered  # where --timeout counts from (mailtls.cli.runclock.command_started)
        raise_pending()  # SIGINT/SIGTERM during start-up (mailtls.launch)
        code = _run(parser, args)
    except OutputError as exc:  # stdout: a reader gone (EPIPE), a full disk, ...
        return finish_output(exc) or UNKNOWN
    except SystemExit:  # --help, argparse errors: their output is flushed like any other
        failed = finish_output()
        if failed is not None:
            return failed
        raise
    except Interrupted as exc:  # a signal while no scan was running to stop gracefully
        return _interrupted(exc.signal_name, args)
    failed = finish_output()
    return code if failed is None else failed


def _interrupted(name: str, args: argparse.Namespace | None) -> int:
    """SIGINT/SIGTERM before the scan could start (or after it ended): no report, exit 3;
    with --format nagios still the status line monitoring expects."""
    from mailtls.cli.stdout import OutputError, finish_output

    print(f"mailtls: interrupted by {name}", file=sys.stderr)
    if args is not None and getattr(args, "format", None) == "nagios":
        try:
            sys.stdout.write(f"MAILTLS UNKNOWN - interrupted by {name} before any result\n")
            sys.stdout.flush()
        except (OutputError, OSError):
            pass
    finish_output()
    return UNKNOWN


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from mailtls.cli.stdout import OutputError
    from mailtls.scan.interrupt import Interrupted

    try:
        from mailtls.cli.output import prepare_outputs

        prepare_outputs(args)
        if args.command == "show":
            from mailtls.cli.output import run_show

            return run_show(args)
        if args.command in ("check", "domain", "init"):
            return _check(args)
        if args.command in ("worker", "fleet"):
            from mailtls.cli.output import render
            from mailtls.fleet.cli import run_fleet_command

            return run_fleet_command(args, _check, render=render)
        if args.command == "diff":
            from mailtls.cli.regression import run_diff

            return run_diff(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "client":
            from mailtls.cli.client import run_client_command

            return run_client_command(args, _emit)
        if args.command == "completion":
            from mailtls.cli.completion import completion_script

            sys.stdout.write(completion_script(parser, args.shell))
            return 0
        if args.command == "rules":
            return _rules(args)
        if args.command == "serve":
            from mailtls.cli.serve import run_serve_command

            return run_serve_command(args)
        parser.print_help()
        return UNKNOWN
    except (OutputError, Interrupted):
        raise
    except UsageError as exc:
        print(f"mailtls: error: {exc}", file=sys.stderr)
        return UNKNOWN
    except MailTLSError as exc:
        print(f"mailtls: {exc}", file=sys.stderr)
        return UNKNOWN
    except KeyboardInterrupt:  # in-process use without mailtls.launch's signal handlers
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
