"""The terminal sections for ``--expect`` (expectations met/broken) and ``--baseline``
(changes since the baseline). Server text goes through ``Text``, never markup."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mailtls.model import Outcome, Report

__all__ = ["render_regression_sections"]

_OUTCOME_STYLE = {Outcome.MET: "green", Outcome.BROKEN: "bold red", Outcome.UNKNOWN: "magenta"}


def render_regression_sections(report: Report, console: Console, *, verbose: bool = False) -> None:
    if report.expectations:
        source = report.options.get("expect")
        console.print(Text("expectations" + (f" ({source})" if source else ""),
                           style="bold underline"))
        for r in report.expectations:
            line = Text()
            line.append(f"{r.outcome.value.upper():8}", style=_OUTCOME_STYLE[r.outcome])
            line.append(f" {r.id:22}", style="bold")
            line.append(f" {r.host} {r.subject}: {r.observed}")
            if r.outcome is not Outcome.MET:
                line.append(f" (expected {r.expected})", style="dim")
            console.print(line)
            if r.outcome is not Outcome.MET or verbose:
                for ev in r.evidence[:8]:
                    console.print(Text(f"          | {ev}", style="dim"))
        met = sum(1 for r in report.expectations if r.outcome is Outcome.MET)
        console.print(Text(f"{met} of {len(report.expectations)} expectation(s) met",
                           style="bold"))
        console.print()
    if report.changes is not None:
        source = report.options.get("baseline")
        console.print(Text("changes since the baseline" + (f" ({source})" if source else ""),
                           style="bold underline"))
        if not report.changes:
            console.print(Text("no changes", style="green"))
        for c in report.changes:
            line = Text()
            line.append("REGRESSION" if c.regression else "change    ",
                        style="bold red" if c.regression else "cyan")
            line.append(f" {c.kind:20}", style="bold")
            line.append(f" {c.host}" + (f" {c.endpoint}" if c.endpoint else "") + f": {c.summary}")
            console.print(line)
        regressions = sum(1 for c in report.changes if c.regression)
        console.print(Text(f"{len(report.changes)} change(s), {regressions} regression(s)",
                           style="bold"))
        console.print()
