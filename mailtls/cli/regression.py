"""The command-line side of regression testing: ``check --expect/--baseline/--targets``,
``--format junit|nagios|prometheus|jsonl``, ``mailtls init`` and ``mailtls diff``.

Kept apart from ``cli/app.py`` (argparse and the scan request); like it, no logic of its own:
expectations are judged in ``mailtls.regression.expect``, baselines in
``mailtls.regression.diff``, many hosts run in ``mailtls.scan.batch``, formats are rendered in
``mailtls.render``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# the formats and the writing of a report live in cli/output.py; re-exported for callers
from mailtls.cli.helpformat import HelpFormatter
from mailtls.cli.options import count
from mailtls.cli.output import FORMATS, emit, split_by_host
from mailtls.errors import UsageError
from mailtls.model import Report, StopKind
from mailtls.model.exitcodes import INTERRUPTED, OK, UNKNOWN, FailOn, exit_code, worst_code
from mailtls.scan import interrupt

if TYPE_CHECKING:
    from mailtls.scan.host import ScanRequest

__all__ = [
    "FORMATS",
    "Prepared",
    "add_check_options",
    "add_subcommands",
    "emit",
    "prepare_check",
    "run_check",
    "run_diff",
    "split_by_host",
]


REGRESSION_EXIT_HELP = """\
with --expect FILE the file decides: 0 every expectation met, 2 one is broken, 3 one could not
  be evaluated; with --baseline FILE findings already in the baseline do not count, new ones
  count by severity and any other regression (port closed, TLS version lost, ...) is 2.
--format nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors and Ctrl-C too).
Ctrl-C during --targets/--format jsonl: the finished hosts are reported, exit 130.
"""

DIFF_EXIT_HELP = """\
exit codes:
  0  no change
  1  changes, none of them a regression
  2  regressions (a new warn/unknown/fail finding, a port closed, TLS 1.2+ lost, a legacy
     version or weak suite gained, STARTTLS lost, a certificate that expires sooner, ...)
  3  usage error, or a file that is not a mailtls report
"""


def _add_targets(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--targets",
        metavar="FILE",
        help="read host names from FILE, one per line ('#' comments; '-' = standard input); "
        "scanned host by host, --max-hosts at a time",
    )


def add_check_options(p: argparse.ArgumentParser) -> None:
    """``check``: targets, concurrency across hosts, expectations and baseline."""
    p.epilog = (p.epilog or "") + REGRESSION_EXIT_HELP
    _add_targets(p)
    p.add_argument(
        "--max-hosts",
        type=count,
        metavar="N",
        help="hosts scanned at once with --targets / --format jsonl (default 10); the "
        "per-address --max-connections limit holds across all of them",
    )
    p.add_argument(
        "--expect",
        metavar="TOML",
        help="check the deployment against this expectations file (write one with "
        "`mailtls init`); each expectation is reported met or broken, and decides the exit code",
    )
    p.add_argument(
        "--baseline",
        metavar="JSON",
        help="compare with an earlier report (--format json or jsonl): show what changed; "
        "findings already in the baseline do not count toward the exit code",
    )


def add_subcommands(
    sub: Any,
    *,
    scan_options: Callable[[argparse.ArgumentParser], None],
    extra_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """``mailtls init`` and ``mailtls diff``."""
    init = sub.add_parser(
        "init",
        help="write an expectations file (mailtls.toml) from a live scan",
        description="Scan HOST like `mailtls check` and print an expectations file that the "
        "deployment meets as it is now: `mailtls init mail.example.com > mailtls.toml`, then "
        "`mailtls check --expect mailtls.toml` in CI. Review it: every finding of the scan is "
        "listed as accepted.",
        epilog="exit codes: 0 written, 3 usage error or no host resolved",
        formatter_class=HelpFormatter,
    )
    init.add_argument("hosts", nargs="*", metavar="HOST", help="mail server host name or IP")
    scan_options(init)
    if extra_options is not None:
        extra_options(init)
    _add_targets(init)

    diff = sub.add_parser(
        "diff",
        help="compare two JSON reports: new/resolved findings, ports, TLS, certificates",
        description="Compare two reports written with --format json (or jsonl): new and "
        "resolved findings, ports opened or closed, TLS versions and suites gained or lost "
        "(when both have tls_scan), capabilities, a new certificate.",
        epilog=DIFF_EXIT_HELP,
        formatter_class=HelpFormatter,
    )
    diff.add_argument("old", metavar="OLD.json", help="the earlier report ('-': stdin)")
    diff.add_argument("new", metavar="NEW.json", help="the later report")
    diff.add_argument("--format", choices=("text", "json"), default="text",
                      help="text (default) or json (schema mailtls-diff/1)")


# --- check / init ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """What to scan once --targets and the --expect file's [scan] table are read (the command
    line wins over the file), and the files read before any scanning."""

    hosts: tuple[str, ...]
    only: tuple[str, ...]
    services: tuple[str, ...]
    addresses: tuple[str, ...]
    ca_file: str | None
    expectations: Any = None  # mailtls.regression.expect.Expectations
    baseline: dict[str, Any] | None = None
    baseline_source: str | None = None


def prepare_check(args: argparse.Namespace) -> Prepared:
    """The hosts from HOST and --targets (and the --expect file's [scan] table when the command
    line names none); --expect and --baseline read before any scanning, so a bad file is a usage
    error at once. ``args`` is not changed."""
    hosts = list(args.hosts)
    only, services = tuple(args.only), tuple(args.service)
    addresses, ca_file = tuple(args.address), args.ca_file
    targets = args.targets
    if targets:
        from mailtls.scan.batch import load_targets  # only here: start-up time of every check

        hosts += load_targets(targets)
    expectations = None
    if args.expect:
        from mailtls.regression.expect import load

        expectations = load(args.expect)
        scan = expectations.scan
        if not hosts and not targets:
            hosts = list(scan.hosts)
        if not only and not services:
            only, services = tuple(scan.only), tuple(scan.services)
        if not addresses:
            addresses = tuple(scan.addresses)
        if not ca_file and scan.ca_file:
            base = os.path.dirname(os.path.abspath(args.expect))
            ca_file = os.path.join(base, os.path.expanduser(scan.ca_file))
    baseline = None
    if args.baseline:
        from mailtls.regression.diff import load_report

        baseline = load_report(args.baseline)
    if not hosts:
        if targets:
            raise UsageError(f"--targets {targets}: no host names in it")
        raise UsageError("no host to check: give HOST, --targets FILE, or --expect FILE with "
                         "[scan] hosts")
    return Prepared(tuple(hosts), only, services, addresses, ca_file, expectations, baseline,
                    args.baseline if baseline is not None else None)


def _batch_mode(args: argparse.Namespace) -> bool:
    return bool(args.targets) or args.format == "jsonl" or args.max_hosts is not None


def _fail_on(args: argparse.Namespace) -> FailOn:
    return FailOn(args.fail_on)


def finish(report: Report, prepared: Prepared, fail_on: FailOn, *,
           restrict_baseline: bool = False) -> tuple[Report, int]:
    """Judge the expectations and the baseline; the exit code of the result."""
    code = exit_code(report, fail_on)
    options = dict(report.options)
    codes: list[int] = []
    if prepared.expectations is not None:
        from mailtls.regression.expect import evaluate, expectations_exit_code

        results = evaluate(prepared.expectations, report)
        options["expect"] = prepared.expectations.source
        report = dataclasses.replace(report, expectations=results)
        codes.append(OK if fail_on is FailOn.NEVER else expectations_exit_code(results))
    if prepared.baseline is not None:
        from mailtls.regression.diff import baseline_exit_code, diff_reports
        from mailtls.render.jsonout import report_dict

        old = prepared.baseline
        if restrict_baseline:
            names = {h.name for h in report.hosts}
            old = {**old, "hosts": [h for h in old.get("hosts", []) if h.get("name") in names]}
        changes = diff_reports(old, report_dict(report, code))
        options["baseline"] = prepared.baseline_source
        report = dataclasses.replace(report, changes=changes)
        codes.append(baseline_exit_code(changes, fail_on))
    if codes:
        code = worst_code(*codes)
    return dataclasses.replace(report, options=options), code


def run_check(request: ScanRequest, args: argparse.Namespace, prepared: Prepared) -> int:
    """``check`` and ``init`` once the scan request is built."""
    from mailtls.scan.host import scan

    if args.command == "init":
        if args.targets:
            from mailtls.scan.batch import scan_batch

            report = interrupt.run(lambda stop: scan_batch(request, stop=stop)).report
        else:
            report = interrupt.run(lambda stop: scan(request, stop=stop))
        if report.options.get("interrupted"):
            interrupt.note(f"interrupted by {interrupt.received() or 'a signal'}: nothing written")
            return UNKNOWN
        return _write_init(report, args, prepared)
    fail_on = _fail_on(args)
    if not _batch_mode(args):
        from mailtls.render.progress import probe_progress

        with probe_progress(_progress_wanted(args), ", ".join(prepared.hosts)) as on_probe:
            scanned = interrupt.run(lambda stop: scan(request, on_probe=on_probe, stop=stop))
        report, code = finish(scanned, prepared, fail_on)
        cut_short = report_interruption(report)
        if cut_short:
            code = UNKNOWN  # the scan did not finish: what was asked is not known
        emit(report, code, args, interrupted=cut_short)
        return code
    return _run_batch(request, args, prepared, fail_on)


def report_interruption(report: Report) -> bool:
    """If the scan was interrupted, say on stderr what finished and what was cut short."""
    name = report.options.get("interrupted")
    if not name:
        return False
    observations = [o for host in report.hosts for o in host.observations]
    cut = [o.endpoint.key for o in observations if o.error_kind is StopKind.INTERRUPTED]
    done = len(observations) - len(cut)
    shown = ", ".join(cut[:10]) + (" ..." if len(cut) > 10 else "")
    interrupt.note(f"interrupted by {name} after {report.seconds:.1f} s: {done} of "
                   f"{len(observations)} port(s) finished"
                   + (f"; cut short: {shown}" if cut else ""))
    return True


def _progress_wanted(args: argparse.Namespace) -> bool:
    if args.quiet:
        return False
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def _run_batch(request: ScanRequest, args: argparse.Namespace, prepared: Prepared,
               fail_on: FailOn) -> int:
    from mailtls.render.jsonout import report_dict
    from mailtls.scan.batch import DEFAULT_MAX_HOSTS, progress, scan_batch

    jsonl = args.format == "jsonl"
    codes: list[int] = []
    # JSON Lines stream host by host: to -o FILE when given, else to standard output
    target = args.output_file
    sink = open(target, "w", encoding="utf-8") if jsonl and target else sys.stdout  # noqa: SIM115

    with progress(len(request.hosts) + len(request.domains),
                  enabled=_progress_wanted(args)) as advance:

        def on_host(host_report: Report) -> None:
            if jsonl:
                one, code = finish(host_report, prepared, fail_on, restrict_baseline=True)
                sink.write(json.dumps(report_dict(one, code), ensure_ascii=False) + "\n")
                sink.flush()
                codes.append(code)
            advance(host_report)

        async def main(stop: asyncio.Event) -> Any:
            # SIGINT/SIGTERM set stop (mailtls.scan.interrupt); a second one quits at once
            return await scan_batch(request, max_hosts=args.max_hosts or DEFAULT_MAX_HOSTS,
                                    on_host=on_host, stop=stop)

        try:
            result = interrupt.run(main)
        finally:
            if sink is not sys.stdout:
                sink.close()

    if jsonl:
        code = worst_code(*codes) if codes else UNKNOWN
        if args.outputs:
            from mailtls.cli.output import write_outputs

            whole, _ = finish(result.report, prepared, fail_on,
                              restrict_baseline=result.interrupted)
            write_outputs(whole, code, args, interrupted=result.interrupted)
    else:
        report, code = finish(result.report, prepared, fail_on,
                              restrict_baseline=result.interrupted)
        code = emit(report, code, args, interrupted=result.interrupted)
    if result.unfinished:
        done = len(result.host_reports)
        total = done + len(result.unfinished)
        shown = ", ".join(result.unfinished[:10]) + (" ..." if len(result.unfinished) > 10
                                                     else "")
        what = "interrupted" if result.interrupted else "not all hosts finished"
        print(f"mailtls: {what}: {done} of {total} host(s) finished; not finished: {shown}",
              file=sys.stderr)
    if result.interrupted:  # 130 for SIGINT, 143 for SIGTERM, as a shell reports a kill
        return UNKNOWN if args.format == "nagios" else (
            interrupt.exit_status_of(interrupt.received()) or INTERRUPTED)
    if result.unfinished:
        code = worst_code(code, UNKNOWN)
    return code


def _write_init(report: Report, args: argparse.Namespace, prepared: Prepared) -> int:
    from mailtls.regression.expect import ScanSpec, init_toml

    spec = ScanSpec(
        hosts=tuple(h.name for h in report.hosts),
        services=prepared.services,
        only=prepared.only,
        addresses=prepared.addresses,
        ca_file=prepared.ca_file,
    )
    silent = _nothing_answered(report)
    if silent:
        print(f"mailtls: {silent}: no expectations to write (check the name, --address, or "
              "a firewall between here and the server)", file=sys.stderr)
        return UNKNOWN
    sys.stdout.write(init_toml(report, spec, warn_days=args.warn_days))
    sys.stdout.flush()
    if report.hosts and all(h.resolve_error for h in report.hosts):
        print("mailtls: no host resolved; the file lists no ports", file=sys.stderr)
        return UNKNOWN
    return OK


def _nothing_answered(report: Report) -> str | None:
    """"no port answered on HOST (25 refused, 587 filtered)" when every port of every resolved
    host was closed: an expectation file with ``open = []`` would pin that as the good state."""
    from mailtls.model import PortState

    observations = [o for h in report.hosts for o in h.observations]
    if not observations or any(o.state is PortState.OPEN for o in observations):
        return None
    names = ", ".join(dict.fromkeys(h.name for h in report.hosts if h.observations))
    states = ", ".join(f"{o.endpoint.port} {o.state.value.replace('_', ' ')}"
                       for o in observations[:8])
    more = ", ..." if len(observations) > 8 else ""
    return f"no port answered on {names} ({states}{more})"


# --- diff --------------------------------------------------------------------------------------


def run_diff(args: argparse.Namespace) -> int:
    from mailtls.regression.diff import (
        diff_dict,
        diff_exit_code,
        diff_reports,
        load_report,
        render_diff_text,
    )

    if args.old == "-" and args.new == "-":
        raise UsageError("only one of OLD and NEW can be standard input")
    old, new = load_report(args.old), load_report(args.new)
    changes = diff_reports(old, new)
    code = diff_exit_code(changes)
    if args.format == "json":
        doc = diff_dict(old, new, changes, code, old_source=args.old, new_source=args.new)
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_diff_text(old, new, changes, code, old_source=args.old,
                                          new_source=args.new))
    return code
