"""Command line: arguments -> scan -> render -> exit code. No logic of its own.

argparse rather than typer: the exit-code contract needs usage errors to exit 3 (click/typer
exit 2, which means "failures" here and CRITICAL to Nagios), and argparse costs no dependency.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from mailtls import __version__
from mailtls.checks.profiles import PROFILES
from mailtls.cli.helpformat import HelpFormatter
from mailtls.cli.options import (
    ABSENT,
    add_domain_options,
    add_login_options,
    add_scan_options,
    scan_options,
)
from mailtls.cli.runclock import command_started
from mailtls.errors import MailTLSError, UsageError
from mailtls.model import Report
from mailtls.model.exitcodes import UNKNOWN, FailOn, exit_code
from mailtls.model.options import DEFAULTS

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


# Commands that read nothing of the parser but their own options: a run of one of them builds
# only its own subparser (main, build_parser(command)); the ~190 options of every command cost
# ~10 ms of start-up, a quarter of a --quick check's own work. `completion` reads the whole
# parser, and so do `mailtls --help` and a mistyped command: those build everything.
ALONE = frozenset({"check", "init", "diff", "domain", "worker", "fleet", "demo", "client",
                   "serve", "show", "rules"})


def command_of(argv: Sequence[str]) -> str | None:
    """The command a run of ``argv`` is, if it is one of ``ALONE`` (the first word: the top
    level has no options but --help and --version)."""
    return argv[0] if argv and argv[0] in ALONE else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``command`` (one of ``ALONE``) only the top level and
    that command's subparser, which parses that command's arguments exactly as the whole one."""

    def wanted(*names: str) -> bool:
        return command is None or command in names

    parser = _Parser(
        prog="mailtls",
        description="How secure is a mail server's transport? Checks SMTP (25, 587, 465), "
        "IMAP (143, 993) and POP3 (110, 995): STARTTLS and implicit TLS, TLS version, "
        "certificate, plaintext login — with the server's own words as evidence.",
        epilog=EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailtls {__version__}")
    parser.set_defaults(**ABSENT)  # what a command without the flag reads (cli/options.py)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if wanted("check"):
        _add_check_command(sub)
    if wanted("init", "diff"):
        from mailtls.cli.regression import add_subcommands

        def _init_options(p: argparse.ArgumentParser) -> None:
            add_login_options(p)
            add_domain_options(p)

        add_subcommands(sub, scan_options=add_scan_options, extra_options=_init_options)
    if wanted("domain"):
        _add_domain_command(sub)
    if wanted("worker", "fleet"):
        from mailtls.cli.output import FORMATS
        from mailtls.fleet.cli import add_fleet_commands

        add_fleet_commands(sub, scan_options=add_scan_options,
                           domain_options=add_domain_options, formats=FORMATS)
    if wanted("demo"):
        _add_demo_command(sub)
    if wanted("client"):
        from mailtls.cli.client import add_client_command

        add_client_command(sub, output=_add_output_options, login=add_login_options,
                           exit_codes_help=EXIT_CODES_HELP)
    if wanted("serve"):
        from mailtls.cli.serve import add_serve_command

        add_serve_command(sub)
    if wanted("show"):
        from mailtls.cli.output import add_show_command

        add_show_command(sub, output=_add_output_options)
    if wanted("completion"):
        from mailtls.cli.completion import add_completion_command

        add_completion_command(sub)
    if wanted("rules"):
        _add_rules_command(sub)
    return parser


def _add_check_command(sub: Any) -> None:
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
    add_scan_options(check)
    from mailtls.cli.targets import add_target_options

    add_target_options(check)
    add_login_options(check)
    add_domain_options(check)
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
    from mailtls.cli.regression import add_check_options

    add_check_options(check)
    from mailtls.fleet.cli import add_db_option

    add_db_option(check)


def _add_domain_command(sub: Any) -> None:
    from mailtls.cli.regression import add_check_options
    from mailtls.fleet.cli import add_db_option

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
    add_scan_options(domain)
    add_domain_options(domain)
    _add_output_options(domain)
    add_check_options(domain)  # --targets, --max-hosts, --expect, --baseline: as for check
    add_db_option(domain)


def _add_demo_command(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="start built-in loopback mail servers and check them (no network needed)",
        description="Starts two sets of loopback servers — one well configured, one with typical "
        "flaws — on 127.0.0.1 and checks them, so you can see a full report anywhere.",
        epilog=DEMO_EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--quick", action=argparse.BooleanOptionalAction, default=DEFAULTS.quick,
                      help="as for check: one connection per port, no enumeration and no "
                      "STARTTLS security probes")
    demo.add_argument("--profile", choices=sorted(PROFILES), default=DEFAULTS.profile,
                      metavar="PROFILE", help="as for check: the yardstick for TLS versions and "
                      "cipher suites: " + ", ".join(sorted(PROFILES)))
    _add_output_options(demo)


def _add_rules_command(sub: Any) -> None:
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


def _emit(report: Report, args: argparse.Namespace, code: int | None = None) -> int:
    from mailtls.cli.output import emit

    if code is None:
        code = exit_code(report, FailOn(args.fail_on))
    return emit(report, code, args)


def _check(args: argparse.Namespace) -> int:
    from mailtls.cli.regression import prepare_check, run_check
    from mailtls.formats.arguments import check_address
    from mailtls.scan.host import ScanRequest, check_host_name, parse_plan

    # HOST, --targets or --expect's [scan]; --expect and --baseline read
    prepared = prepare_check(args)
    if args.command == "check":
        from mailtls.cli.targets import apply_targets

        # HOST:PORT -> HOST plus --service NAME=PORT, worked on a copy: args stay as parsed
        view = argparse.Namespace(**{**vars(args), "hosts": list(prepared.hosts),
                                     "service": list(prepared.services)})
        apply_targets(view)
        prepared = dataclasses.replace(prepared, hosts=tuple(view.hosts),
                                       services=tuple(view.service))

    hosts = tuple(dict.fromkeys(check_host_name(h) for h in prepared.hosts))
    addresses = tuple(dict.fromkeys(check_address(a) for a in prepared.addresses))
    domain_mode = args.command == "domain" or args.domain
    if domain_mode and addresses:
        raise UsageError("--address cannot be used with a mail domain: its hosts come from DNS")
    controls = tuple(dict.fromkeys(check_host_name(c) for c in args.port25_control))
    plan = parse_plan(prepared.only, prepared.services, args.also, args.services)
    request = ScanRequest(
        hosts=() if domain_mode else hosts,
        domains=hosts if domain_mode else (),
        detect_domains=not domain_mode and not args.host_mode
        and not addresses and not prepared.only and not prepared.services,
        port25_controls=controls,
        plan=plan,
        addresses=addresses,
        options=scan_options(args, ca_file=prepared.ca_file),
        started=command_started(args.entered),  # --timeout is the command's, start-up included
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
    if args.format == "text" and not args.output_file:
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
        words = sys.argv[1:] if argv is None else argv
        parser = build_parser(command_of(words))
        args = parser.parse_args(words)
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
    if args is not None and args.format == "nagios":  # None: interrupted while parsing
        try:
            sys.stdout.write(f"MAILTLS UNKNOWN - interrupted by {name} before any result\n")
            sys.stdout.flush()
        except (OutputError, OSError):
            pass
    finish_output()
    return UNKNOWN


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:  # noqa: C901 (a split is still to do: issue 15)
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
