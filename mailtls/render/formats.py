"""Every output format by name, rendered to a string, and several of them written to files from
one scan (``--output FORMAT=FILE``, ``-o FILE``) or from a saved JSON report (``mailtls show``).

One scan, several outputs: the report is rendered as often as asked, never scanned again.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from dataclasses import dataclass

from mailtls.errors import UsageError
from mailtls.exitcodes import FailOn, exit_code
from mailtls.model import Report

__all__ = ["FILE_FORMATS", "FORMATS", "Output", "parse_outputs", "render", "write_output"]

# what --format accepts (text to the terminal) and what --output FORMAT=FILE accepts
FORMATS = ("text", "json", "jsonl", "junit", "nagios", "prometheus", "html", "csv")
FILE_FORMATS = FORMATS


@dataclass(frozen=True)
class Output:
    format: str
    path: str  # "-": standard output


def parse_outputs(values: list[str] | None) -> tuple[Output, ...]:
    """``--output FORMAT=FILE`` (repeatable), checked before the scan: a typo or a directory
    that does not exist must not cost a whole scan."""
    outputs = []
    for value in values or ():
        fmt, sep, path = value.partition("=")
        fmt = fmt.strip().lower()
        if not sep or not path:
            raise UsageError(f"--output {value}: expected FORMAT=FILE, e.g. html=report.html")
        if fmt not in FILE_FORMATS:
            raise UsageError(f"--output {value}: unknown format {fmt!r} "
                             f"(one of {', '.join(FILE_FORMATS)})")
        outputs.append(Output(fmt, path))
    for o in outputs:
        check_writable(o.path, f"--output {o.format}={o.path}")
    paths = [o.path for o in outputs if o.path != "-"]
    if len(paths) != len(set(paths)):
        raise UsageError("--output: two formats name the same file")
    return tuple(outputs)


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


def render(report: Report, code: int, fmt: str, *, fail_on: FailOn = FailOn.WARN,
           verbose: bool = False, interrupted: bool = False, width: int = 120) -> str:
    """``report`` in ``fmt`` (pure). Text rendered for a file has no colour."""
    if fmt == "json":
        from mailtls.render.jsonout import render_json

        return render_json(report, code) + "\n"
    if fmt == "jsonl":
        from mailtls.cli_regression import split_by_host
        from mailtls.render.jsonout import report_dict

        parts = split_by_host(report)
        return "".join(json.dumps(report_dict(one, exit_code(one, fail_on) if len(parts) > 1
                                              else code), ensure_ascii=False) + "\n"
                       for one in parts)
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
