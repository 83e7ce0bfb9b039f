"""Outputs: every format by name, ``-o FILE``, ``--output FORMAT=FILE`` (one scan, several
formats) and ``mailtls show REPORT.json`` (any format from a saved report, no scan).

One scan, several outputs: the report is rendered as often as asked, never scanned again. The
formats themselves are rendered by ``mailtls.render``; this module only names them, checks the
files before a scan, and writes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailtls.cli.helpformat import HelpFormatter
from mailtls.errors import UsageError
from mailtls.model import Report
from mailtls.model.exitcodes import UNKNOWN, FailOn, exit_code

__all__ = [
    "FORMATS",
    "FORMATS_HELP",
    "Output",
    "add_output_file_options",
    "add_show_command",
    "emit",
    "parse_outputs",
    "prepare_outputs",
    "render",
    "run_show",
    "split_by_host",
    "write_output",
    "write_outputs",
]

# what --format and --output FORMAT=FILE accept
FORMATS = ("text", "json", "jsonl", "junit", "nagios", "prometheus", "html", "csv")
FORMATS_HELP = ("text (default) for people; json for programs (schema mailtls/1); jsonl: one "
                "JSON report per host, written as each finishes; junit for CI; nagios: plugin "
                "status line and perfdata; prometheus: text exposition for node_exporter's "
                "textfile collector; html: one self-contained page; csv: one row per finding")

SHOW_HELP = """\
exit code: the one saved in the report (what the scan exited with), or 3 when the file is not
a mailtls report. The report is rendered as saved: verdicts, grades and every format are derived
again from its findings and observations; nothing is scanned.
"""


@dataclass(frozen=True)
class Output:
    format: str
    path: str  # "-": standard output


# --- rendering ---------------------------------------------------------------------------------


def split_by_host(report: Report) -> list[Report]:
    """One report per host (and per mail domain), for JSON Lines."""
    if len(report.hosts) + len(report.domains) <= 1:
        return [report]
    parts = [dataclasses.replace(
        report, hosts=(h,), domains=(), port25_controls=(),
        expectations=tuple(e for e in report.expectations if e.host == h.name),
        changes=None if report.changes is None else tuple(
            c for c in report.changes if c.host == h.name)) for h in report.hosts]
    parts += [dataclasses.replace(report, hosts=(), domains=(d,), port25_controls=(),
                                  expectations=(), changes=None) for d in report.domains]
    return parts


def render(report: Report, code: int, fmt: str, *, fail_on: FailOn = FailOn.WARN,
           verbose: bool = False, interrupted: bool = False, width: int = 120) -> str:
    """``report`` in ``fmt`` (pure). Text rendered for a file has no colour."""
    if fmt == "json":
        from mailtls.render.jsonout import render_json

        return render_json(report, code) + "\n"
    if fmt == "jsonl":
        from mailtls.render.jsonout import report_dict

        return "".join(
            json.dumps(report_dict(one, exit_code(one, fail_on) if len(report.hosts) > 1
                                   else code), ensure_ascii=False) + "\n"
            for one in split_by_host(report))
    if fmt == "junit":
        from mailtls.render.junit import render_junit

        return render_junit(report, code, fail_on=fail_on)
    if fmt == "nagios":
        from mailtls.render.nagios import render_nagios

        return render_nagios(report, code, interrupted=interrupted)
    if fmt == "prometheus":
        from mailtls.render.prometheus import render_prometheus

        return render_prometheus(report, code)
    if fmt == "html":
        from mailtls.render.html import render_html

        return render_html(report, code)
    if fmt == "csv":
        from mailtls.render.csv import render_csv

        return render_csv(report, code)
    if fmt == "text":
        from mailtls.render.terminal import make_console, render_terminal

        buf = io.StringIO()
        console = make_console(buf, color=False)
        console.width = width
        render_terminal(report, console, verbose=verbose, exit_code=code)
        return buf.getvalue()
    raise UsageError(f"unknown format {fmt!r}")


def write_output(path: str, text: str) -> None:
    """Write one output; a file is replaced whole (written next to it, then renamed)."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    tmp = f"{path}.mailtls-tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


# --- options -----------------------------------------------------------------------------------


def add_output_file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output-file",
        metavar="FILE",
        help="write the --format output to FILE instead of standard output",
    )
    p.add_argument(
        "--output",
        dest="outputs",
        action="append",
        default=[],
        metavar="FORMAT=FILE",
        help="also write FORMAT to FILE from the same scan (repeatable), e.g. --output "
        "json=report.json --output html=report.html; formats: " + ", ".join(FORMATS),
    )


def check_writable(path: str, what: str) -> None:
    if path == "-":
        return
    if os.path.isdir(path):
        raise UsageError(f"{what}: is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{what}: no such directory: {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{what}: not writable")


def parse_outputs(values: list[str] | None) -> tuple[Output, ...]:
    """``--output FORMAT=FILE`` (repeatable), checked before the scan: a typo or a directory
    that does not exist must not cost a whole scan."""
    outputs = []
    for value in values or ():
        fmt, sep, path = value.partition("=")
        fmt = fmt.strip().lower()
        if not sep or not path:
            raise UsageError(f"--output {value}: expected FORMAT=FILE, e.g. html=report.html")
        if fmt not in FORMATS:
            raise UsageError(f"--output {value}: unknown format {fmt!r} "
                             f"(one of {', '.join(FORMATS)})")
        outputs.append(Output(fmt, path))
    for o in outputs:
        check_writable(o.path, f"--output {o.format}={o.path}")
    paths = [o.path for o in outputs if o.path != "-"]
    if len(paths) != len(set(paths)):
        raise UsageError("--output: two formats name the same file")
    return tuple(outputs)


def prepare_outputs(args: argparse.Namespace) -> None:
    """Check the output options before any scanning (a typo must not cost a scan)."""
    args.outputs = parse_outputs(args.outputs)
    if args.output_file:
        check_writable(args.output_file, f"-o {args.output_file}")
        if any(o.path == args.output_file for o in args.outputs):
            raise UsageError(f"-o {args.output_file} is also named by --output")


def _fail_on(args: argparse.Namespace) -> FailOn:
    return FailOn(args.fail_on)


def write_outputs(report: Report, code: int, args: argparse.Namespace, *,
                  interrupted: bool = False) -> None:
    """Every ``--output FORMAT=FILE`` of the run, from the one report."""
    outputs: tuple[Output, ...] = tuple(args.outputs or ())
    for o in outputs:
        write_output(o.path, render(report, code, o.format, fail_on=_fail_on(args),
                                    verbose=args.verbose, interrupted=interrupted))


def emit(report: Report, code: int, args: argparse.Namespace, *,
         interrupted: bool = False) -> int:
    """Write every ``--output FORMAT=FILE``, then ``report`` in ``args.format`` on stdout (or to
    ``-o FILE``); the exit code (Nagios: 3 if interrupted)."""
    fmt = args.format
    if fmt == "nagios" and interrupted:
        code = UNKNOWN
    write_outputs(report, code, args, interrupted=interrupted)
    target = args.output_file
    if fmt != "text" or target:
        write_output(target or "-", render(report, code, fmt, fail_on=_fail_on(args),
                                           verbose=args.verbose, interrupted=interrupted))
    else:
        from mailtls.render.terminal import make_console, render_terminal

        console = make_console(color=False if args.no_color else None)
        render_terminal(report, console, verbose=args.verbose, exit_code=code)
    sys.stdout.flush()
    return code


# --- mailtls show ------------------------------------------------------------------------------


def add_show_command(sub: Any, *, output: Callable[[argparse.ArgumentParser], None]) -> None:
    show = sub.add_parser(
        "show",
        help="render a saved JSON report in any format (text, html, csv, junit, ...)",
        description="Render a report saved with --format json (or --output json=FILE, or JSON "
        "Lines) in any format, without scanning again: mailtls show report.json --format "
        "html -o report.html.",
        epilog=SHOW_HELP,
        formatter_class=HelpFormatter,
    )
    show.add_argument("report", metavar="REPORT.json", help="the saved report ('-': stdin)")
    output(show)


def run_show(args: argparse.Namespace) -> int:
    from mailtls.render.load import load_saved_report

    report, code = load_saved_report(args.report)
    return emit(report, code, args)
