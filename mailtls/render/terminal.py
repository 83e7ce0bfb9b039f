"""A report for people: a table per host, findings with evidence, transcripts with -v.

Server text is always passed to rich as ``Text`` (never markup), so a hostile banner can neither
inject markup nor terminal escapes (``decode_line`` already escaped control characters).
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mailtls import __version__
from mailtls.model import (
    Finding,
    HostReport,
    PortObservation,
    PortState,
    Report,
    Severity,
    TLSMode,
)
from mailtls.pki.x509 import days_left, match_name

_SEVERITY_STYLE = {
    Severity.FAIL: "bold red",
    Severity.UNKNOWN: "bold magenta",
    Severity.WARN: "yellow",
    Severity.INFO: "cyan",
}
_STATE_STYLE = {
    PortState.OPEN: "green",
    PortState.REFUSED: "dim",
    PortState.FILTERED: "yellow",
    PortState.UNREACHABLE: "yellow",
    PortState.NOT_TESTED: "magenta",
}


def make_console(file: IO[str] | None = None, *, color: bool | None = None) -> Console:
    """Styles only on a terminal (rich decides; FORCE_COLOR forces, TERM=dumb disables).
    ``color=False`` (--no-color, NO_COLOR) turns off every escape sequence, bold included, so
    the text can be piped into anything.

    Piped output gets 120 columns (rich's 80 would fold every table); COLUMNS still wins.
    """
    plain = color is False or bool(os.environ.get("NO_COLOR"))
    if plain:
        console = Console(file=file, highlight=False, soft_wrap=False, color_system=None)
    else:
        console = Console(file=file, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    return console


def _tls_cell(o: PortObservation) -> Text:
    if o.tls is None:
        if o.state is not PortState.OPEN:
            return Text("-", style="dim")
        if o.endpoint.service.tls_mode is TLSMode.STARTTLS and o.starttls_offered is False:
            return Text("no STARTTLS", style="red")
        if o.tls_error:
            return Text("handshake failed", style="red")
        return Text("none", style="red")
    how = "implicit" if o.endpoint.service.tls_mode is TLSMode.IMPLICIT else "STARTTLS"
    if o.tls_on_starttls_port:
        how = "at once"
    version = o.tls.version.replace("TLSv", "TLS ")
    style = "green" if o.tls.version in ("TLSv1.2", "TLSv1.3") else "red"
    return Text(f"{how}, {version}", style=style)


def _cert_cell(o: PortObservation, report: Report) -> Text:
    if o.tls is None or not o.tls.chain:
        return Text("-", style="dim")
    leaf = o.tls.chain[0]
    left = days_left(leaf, report.started_at)
    trusted = o.tls.verification.trusted
    name_ok = match_name(leaf, o.endpoint.host).matched
    words = ["trusted" if trusted else "untrusted"]
    if not name_ok:
        words.append("wrong name")
    words.append(f"{left:.0f} d left" if left >= 0 else "expired")
    style = "green" if trusted and name_ok and left >= 0 else "red"
    return Text(", ".join(words), style=style)


def _state_cell(o: PortObservation) -> Text:
    text = o.state.value
    if o.state is PortState.OPEN and o.error_kind:
        text = f"open ({o.error_kind.replace('_', ' ')})"
    return Text(text, style=_STATE_STYLE.get(o.state, ""))


def _host_table(host: HostReport, report: Report) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in ("endpoint", "service", "state", "TLS", "cipher", "certificate"):
        table.add_column(column, no_wrap=column in ("endpoint", "service"))
    for o in host.observations:
        table.add_row(
            Text(o.endpoint.key),
            Text(o.endpoint.service.name),
            _state_cell(o),
            _tls_cell(o),
            Text(o.tls.cipher if o.tls else "-", style="" if o.tls else "dim"),
            _cert_cell(o, report),
        )
    return table


def _finding(console: Console, f: Finding) -> None:
    line = Text()
    line.append(f"{f.severity.label.upper():7}", style=_SEVERITY_STYLE[f.severity])
    line.append(f" {f.id}", style="bold")
    if f.endpoint:
        line.append(f"  {f.endpoint}", style="dim")
    console.print(line)
    console.print(Text(f"        {f.summary}"))
    for ev in f.evidence[:8]:
        console.print(Text(f"          | {ev}", style="dim"))
    if len(f.evidence) > 8:
        console.print(Text(f"          | ... {len(f.evidence) - 8} more line(s)", style="dim"))
    ref = f"        {f.reference}" if f.reference else "       "
    console.print(Text(f"{ref}  fix: {f.remediation}", style="italic dim"))


def _connections(o: PortObservation) -> str:
    """"42 connection(s) (38 for the TLS enumeration in 0.41 s, 2 for security probes)"."""
    parts = []
    if o.tls_scan is not None:
        parts.append(f"{o.tls_scan.connections} for the TLS enumeration in "
                     f"{o.tls_scan.seconds:.2f} s")
    security = sum(p.connections for p in o.security)
    if security:
        parts.append(f"{security} for security probes")
    return f"{o.connections} connection(s)" + (f" ({', '.join(parts)})" if parts else "")


def _transcript(console: Console, o: PortObservation) -> None:
    console.print(
        Text(
            f"  transcript {o.endpoint.key} ({o.endpoint.service.name}), "
            f"{_connections(o)}, {o.seconds:.2f} s",
            style="bold",
        )
    )
    for t in o.transcript:
        marker = {"C": "C:", "S": "S:", "*": "--"}[t.direction.value]
        lock = "🔒" if t.tls else "  "
        console.print(Text(f"    {t.at:7.3f} {lock} {marker} {t.text}"))
    # A security probe that found something (or could not tell) shows its own conversation.
    for p in o.security:
        if p.verdict.value not in ("failed", "inconclusive"):
            continue
        console.print(Text(f"    security probe {p.name}: {p.verdict.value}, "
                           f"{p.connections} connection(s)", style="bold"))
        for t in p.transcript:
            marker = {"C": "C:", "S": "S:", "*": "--"}[t.direction.value]
            lock = "🔒" if t.tls else "  "
            console.print(Text(f"      {t.at:7.3f} {lock} {marker} {t.text}"))


def render_terminal(report: Report, console: Console, *, verbose: bool, exit_code: int) -> None:
    from mailtls.render.domainterm import render_controls, render_domain

    for domain in report.domains:
        render_domain(console, domain, _finding)
    render_controls(console, report.port25_controls)
    for host in report.hosts:
        title = Text(f"mailtls {__version__} · {host.name}", style="bold")
        if host.addresses:
            title.append(f" ({', '.join(host.addresses)})")
        if host.roles:
            title.append(f" — {'; '.join(host.roles)}", style="dim")
        console.print(title)
        if host.resolve_error:
            console.print(Text(f"  cannot resolve: {host.resolve_error}", style="red"))
        else:
            console.print(_host_table(host, report))
        if verbose:
            for o in host.observations:
                _transcript(console, o)
        ordered = sorted(host.findings, key=lambda f: (-int(f.severity), f.endpoint or "", f.id))
        if ordered:
            console.print(Text("findings", style="bold underline"))
            for f in ordered:
                _finding(console, f)
        else:
            console.print(Text("no findings", style="green"))
        console.print()
    if report.client is not None:
        from mailtls.render.clientterm import render_client

        render_client(console, report.client, _finding)
    if report.expectations or report.changes is not None:
        from mailtls.render.regression import render_regression_sections

        render_regression_sections(report, console, verbose=verbose)
    counts = {s: 0 for s in Severity}
    for f in report.findings:
        counts[f.severity] += 1
    summary = ", ".join(f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True))
    console.print(
        Text(
            f"{summary} · {report.connections} connection(s) in {report.seconds:.2f} s · "
            f"exit {exit_code}",
            style="bold",
        )
    )
