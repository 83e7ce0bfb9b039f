"""The command-line side of outputs: ``-o FILE``, ``--output FORMAT=FILE`` (one scan, several
formats) and ``mailtls show REPORT.json`` (any format from a saved report, no scan).

Like ``cli.py``, no logic of its own: formats are rendered by ``mailtls.render.formats``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mailtls.model import Report
from mailtls.render.formats import (
    FILE_FORMATS,
    Output,
    check_writable,
    parse_outputs,
    render,
    write_output,
)

__all__ = ["add_output_file_options", "add_show_command", "prepare_outputs", "run_show",
           "write_outputs"]

SHOW_HELP = """\
exit code: the one saved in the report (what the scan exited with), or 3 when the file is not
a mailtls report. The report is rendered as saved: verdicts, grades and every format are derived
again from its findings and observations; nothing is scanned.
"""


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
        "json=report.json --output html=report.html; formats: " + ", ".join(FILE_FORMATS),
    )


def prepare_outputs(args: argparse.Namespace) -> None:
    """Check the output options before any scanning (a typo must not cost a scan)."""
    if not hasattr(args, "outputs"):
        return
    args.outputs = parse_outputs(args.outputs)
    if args.output_file:
        check_writable(args.output_file, f"-o {args.output_file}")
        if any(o.path == args.output_file for o in args.outputs):
            raise_same = f"-o {args.output_file} is also named by --output"
            from mailtls.errors import UsageError

            raise UsageError(raise_same)


def write_outputs(report: Report, code: int, args: argparse.Namespace, *,
                  interrupted: bool = False) -> None:
    """Every ``--output FORMAT=FILE`` of the run, from the one report."""
    from mailtls.exitcodes import FailOn

    outputs: tuple[Output, ...] = tuple(getattr(args, "outputs", ()) or ())
    for o in outputs:
        text = render(report, code, o.format,
                      fail_on=FailOn(getattr(args, "fail_on", FailOn.WARN.value)),
                      verbose=getattr(args, "verbose", False), interrupted=interrupted)
        write_output(o.path, text)


def add_show_command(sub: Any, *, output: Callable[[argparse.ArgumentParser], None]) -> None:
    show = sub.add_parser(
        "show",
        help="render a saved JSON report in any format (text, html, csv, junit, ...)",
        description="Render a report saved with --format json (or --output json=FILE, or JSON "
        "Lines) in any format, without scanning again: mailtls show report.json --format "
        "html -o report.html.",
        epilog=SHOW_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("report", metavar="REPORT.json", help="the saved report ('-': stdin)")
    output(show)


def run_show(args: argparse.Namespace) -> int:
    from mailtls.cli_regression import emit
    from mailtls.render.load import load_saved_report

    report, code = load_saved_report(args.report)
    return emit(report, code, args)
