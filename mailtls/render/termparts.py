"""What the terminal's host, domain and client sections share: text that wraps with its indent
and the list of findings (worst first, grouped, evidence once per port).

Server text reaches rich only as ``Text`` (never markup), as everywhere in the terminal view.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mailtls.model import Finding, Severity
from mailtls.render.summary import STYLE

# Colours come from the findings (mailtls.render.summary.STYLE), never from a cell's own idea.
_SEVERITY_STYLE = {sev: STYLE[sev.label] for sev in Severity}

# Findings whose whole content the port table already shows: one line instead of one each.
_SHOWN_IN_TABLE = ("port.refused",)


def indented(console: Console, text: Text, indent: int) -> None:
    """Wrapped lines keep the indent (a long summary does not restart at column 0); no padding
    to the right, so piped text carries no trailing blanks."""
    width = max(20, console.width - indent)
    for line in text.wrap(console, width, overflow="fold"):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


def hanging(console: Console, text: Text, indent: int = 2) -> None:
    """The first line at column 0, wrapped lines indented."""
    lines = text.wrap(console, max(20, console.width - indent), overflow="fold")
    for n, line in enumerate(lines):
        line.rstrip()
        console.print((Text(" " * indent) if n else Text()) + line, soft_wrap=True)


def render_finding(console: Console, f: Finding) -> None:
    """One finding on its own (the client section lists its findings one by one)."""
    render_findings(console, (f,))


def _header(console: Console, f: Finding, count: int = 1, where: str | None = None) -> None:
    line = Text()
    line.append(f"{f.severity.label.upper():7}", style=_SEVERITY_STYLE[f.severity])
    line.append(f" {f.id}", style="bold")
    if count > 1:
        line.append(f" ×{count}")
    if where or f.endpoint:
        line.append(f"  {where or f.endpoint}", style="dim")
    console.print(line)


def _fix(console: Console, f: Finding) -> None:
    ref = f"{f.reference}  " if f.reference else ""
    indented(console, Text(f"{ref}fix: {f.remediation}", style="italic dim"), 8)


def _evidence(console: Console, f: Finding, seen: dict[str, str], limit: int = 8) -> None:
    """The server's words, each line once per endpoint: a line an earlier finding of the same
    port already showed is named, not repeated."""
    fresh = [ev for ev in f.evidence if ev not in seen]
    repeated = len(f.evidence) - len(fresh)
    for ev in fresh[:limit]:
        indented(console, Text(f"| {ev}", style="dim"), 10)
    if len(fresh) > limit:
        indented(console, Text(f"| ... {len(fresh) - limit} more line(s)", style="dim"), 10)
    if repeated:
        first = next(seen[ev] for ev in f.evidence if ev in seen)
        what = "same evidence" if not fresh else f"{repeated} more line(s)"
        indented(console, Text(f"| {what} as under {first} above", style="dim"), 10)
    for ev in f.evidence:
        seen.setdefault(ev, f.id)


def render_findings(console: Console, findings: tuple[Finding, ...] | list[Finding]) -> None:
    """Findings worst first, grouped: the same rule on the same endpoint (or on none, as a dead
    resolver's many failed lookups) prints its rule once with one bullet per finding; evidence
    already shown for a port is not repeated; ``port.refused`` lines, which only repeat the
    table, become one line."""
    ordered = sorted(findings, key=lambda f: (-int(f.severity), f.endpoint or "", f.id))
    shown = [f for f in ordered if f.id not in _SHOWN_IN_TABLE or f.severity > Severity.INFO]
    table_only = [f for f in ordered if f not in shown]
    seen: dict[str | None, dict[str, str]] = {}
    i = 0
    while i < len(shown):
        f = shown[i]
        j = i + 1
        while j < len(shown) and (shown[j].id, shown[j].severity, shown[j].endpoint) == (
                f.id, f.severity, f.endpoint):
            j += 1
        group = shown[i:j]
        evidence_seen = seen.setdefault(f.endpoint, {})
        _header(console, f, len(group))
        for g in group:
            bullet = "- " if len(group) > 1 else ""
            indented(console, Text(bullet + g.summary), 8)
            _evidence(console, g, evidence_seen, limit=8 if len(group) == 1 else 2)
        _fix(console, f)
        i = j
    if table_only:
        f = table_only[0]
        where = ", ".join(x.endpoint or "" for x in table_only)
        _header(console, f, len(table_only), where)
        indented(console, Text("nothing listens there (see the table); "
                                f"fix: {f.remediation}", style="dim"), 8)
