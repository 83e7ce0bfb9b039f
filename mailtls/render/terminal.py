"""A report for people: a table per host, findings with evidence, transcripts with -v.

Server text is always passed to rich as ``Text`` (never markup), so a hostile banner can neither
inject markup nor terminal escapes (``decode_line`` already escaped control characters).
"""

from __future__ import annotations

import os
import re
import sys
from typing import IO

from rich import box
from rich.console import Console
from rich.padding import Padding
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
from mailtls.render.summary import (
    GRADE_STYLE,
    STYLE,
    endpoint_findings,
    host_headline,
    port_grade,
    verdict,
)
from mailtls.render.termparts import hanging, render_findings

# Which findings colour which cell of the port table.
_TLS_IDS = ("tls.", "starttls.")
_CERT_IDS = ("cert.",)
_STATE_IDS = ("port.", "session.", "host.")


class _TrimmedLines:
    """A text stream that drops the blanks rich pads lines with (piped text stays clean)."""

    _TRAILING = re.compile(r"[ ]+((?:\x1b\[[0-9;]*m)*)\n")

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._pending = ""

    def write(self, text: str) -> int:
        text = self._pending + text
        head, sep, self._pending = text.rpartition("\n")
        if sep:
            self._out.write(self._TRAILING.sub(r"\1\n", head + sep))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._out.write(self._pending.rstrip(" "))
            self._pending = ""
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

    def fileno(self) -> int:
        return self._out.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._out, "encoding", "utf-8") or "utf-8"


def make_console(file: IO[str] | None = None, *, color: bool | None = None) -> Console:
    """Styles only on a terminal (rich decides; FORCE_COLOR forces, TERM=dumb disables).
    ``color=False`` (--no-color, NO_COLOR) turns off every escape sequence, bold included, so
    the text can be piped into anything.

    Piped output gets 120 columns (rich's 80 would fold every table); COLUMNS still wins.
    """
    plain = color is False or bool(os.environ.get("NO_COLOR"))
    file = _TrimmedLines(file if file is not None else sys.stdout)  # type: ignore[assignment]
    if plain:
        console = Console(file=file, highlight=False, soft_wrap=False, color_system=None)
    else:
        console = Console(file=file, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    return console


def _judged(findings: tuple[Finding, ...], prefixes: tuple[str, ...]) -> tuple[Finding, ...]:
    return tuple(f for f in findings
                 if f.id.startswith(prefixes) or any(f".{p}" in f.id for p in prefixes))


def _cell(text: str, findings: tuple[Finding, ...], prefixes: tuple[str, ...]) -> Text:
    """A table cell coloured by the findings about it (green when none, dim when empty)."""
    if text == "-":
        return Text(text, style="dim")
    return Text(text, style=STYLE[verdict(_judged(findings, prefixes))])


def _tls_text(o: PortObservation) -> str:
    if o.tls is None:
        if o.state is not PortState.OPEN:
            return "-"
        if o.endpoint.service.tls_mode is TLSMode.STARTTLS and o.starttls_offered is False:
            return "no STARTTLS"
        if o.tls_error:
            return "handshake failed"
        return "none"
    how = "implicit" if o.endpoint.service.tls_mode is TLSMode.IMPLICIT else "STARTTLS"
    if o.tls_on_starttls_port:
        how = "at once"
    return f"{how} {o.tls.version.replace('TLSv', 'TLS ')}"


def _cert_text(o: PortObservation, report: Report) -> str:
    if o.tls is None or not o.tls.chain:
        return "-"
    leaf = o.tls.chain[0]
    left = days_left(leaf, report.started_at)
    words = ["trusted" if o.tls.verification.trusted else "untrusted"]
    if not match_name(leaf, o.endpoint.host).matched:
        words.append("wrong name")
    words.append(f"{left:.0f} d left" if left >= 0 else "expired")
    return ", ".join(words)


def _state_text(o: PortObservation) -> str:
    text = o.state.value.replace("_", " ")
    if o.state is PortState.OPEN and o.error_kind:
        text = f"open ({o.error_kind.replace('_', ' ')})"
    return text


def _host_table(host: HostReport, report: Report, width: int) -> Table:
    """Laid out for 80 columns and up: no vertical rules, the address only when the host has
    several, the cipher only when there is room (it is in -v and the JSON anyway)."""
    one_address = len({o.endpoint.address for o in host.observations}) <= 1
    wide = width >= 110
    table = Table(show_header=True, header_style="bold", expand=False, box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("port" if one_address else "endpoint", no_wrap=True)
    table.add_column("service", no_wrap=True)
    table.add_column("state")
    table.add_column("TLS", min_width=16)
    if wide:
        table.add_column("cipher")
    table.add_column("certificate", min_width=13)
    table.add_column("verdict", no_wrap=True)
    for o in host.observations:
        found = endpoint_findings(host, o)
        v = verdict(found)
        g = port_grade(host, o)
        row = [
            Text(str(o.endpoint.port) if one_address else o.endpoint.key),
            Text(o.endpoint.service.name),
            _cell(_state_text(o), found, _STATE_IDS) if o.state is not PortState.OPEN
            else Text(_state_text(o), style=STYLE["pass"]),
            _cell(_tls_text(o), found, _TLS_IDS),
        ]
        if wide:
            row.append(_cell(o.tls.cipher if o.tls else "-", found, ("tls.cipher",)))
        row += [
            _cell(_cert_text(o, report), found, _CERT_IDS),
            Text(f"{v.upper() if v not in ('pass', 'info') else 'ok'} ({g})",
                 style=STYLE[v] if g != "-" else GRADE_STYLE[g]),
        ]
        table.add_row(*row)
    return table


def _offers(console: Console, o: PortObservation, report: Report) -> None:
    """What a port offers (-v): versions, suites per version, groups, the certificate chain."""
    if o.tls is None and o.tls_scan is None:
        return
    console.print(Text(f"  offers {o.endpoint.key} ({o.endpoint.service.name})", style="bold"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column()
    scan = o.tls_scan
    if scan is not None:
        accepted = [v for v, ok in scan.versions.items() if ok]
        refused = [v for v, ok in scan.versions.items() if ok is False]
        text = ", ".join(_v(v) for v in accepted) or "none"
        if refused:
            text += f" (refused: {', '.join(_v(v) for v in refused)})"
        grid.add_row("versions", Text(text))
        for version, suites in scan.suites.items():
            if suites:
                enforced = scan.server_order.get(version)
                order = ("" if enforced is None else
                         " (server order)" if enforced else " (client order)")
                grid.add_row(_v(version), Text(", ".join(suites) + order))
        groups = []
        if scan.groups:
            groups.append("TLS 1.3 " + ", ".join(scan.groups))
        if scan.ecdhe_groups:
            groups.append("ECDHE " + ", ".join(scan.ecdhe_groups))
        if scan.dh_bits:
            groups.append(f"DHE {scan.dh_bits} bits")
        if groups:
            grid.add_row("groups", Text("; ".join(groups)))
    elif o.tls is not None:
        grid.add_row("session", Text(f"{_v(o.tls.version)}, {o.tls.cipher} "
                                     "(versions and suites not enumerated: --quick)"))
    if o.tls is not None:
        for depth, c in enumerate(o.tls.chain):
            left = days_left(c, report.started_at)
            expiry = f"expires {c.not_after:%Y-%m-%d}" + (
                f" ({left:.0f} d)" if left >= 0 else " (expired)")
            label = "certificate" if depth == 0 else f"chain #{depth}"
            grid.add_row(label, Text(f"{c.subject}; issuer {c.issuer}; {expiry}; "
                                     f"{c.key_type} {c.key_bits}; {c.signature_algorithm}"))
        v = o.tls.verification
        grid.add_row("trust", Text(f"trusted ({v.trust_store})" if v.trusted else
                                   f"untrusted: {v.message or v.code}"))
    console.print(Padding(grid, (0, 0, 0, 4)))


def _v(version: str) -> str:
    return version.replace("TLSv", "TLS ")


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
        render_domain(console, domain)
    render_controls(console, report.port25_controls)
    for host in report.hosts:
        headline = host_headline(host)
        hanging(console, Text(headline.text, style=headline.style))
        about = Text(f"  mailtls {__version__}", style="dim")
        if host.addresses:
            about.append(f" · {', '.join(host.addresses)}", style="dim")
        if host.roles:
            about.append(f" · {'; '.join(host.roles)}", style="dim")
        console.print(about)
        if host.resolve_error:
            console.print(Text(f"  cannot resolve: {host.resolve_error}", style="red"))
        else:
            console.print(_host_table(host, report, console.width))
        if verbose:
            for o in host.observations:
                _offers(console, o, report)
            for o in host.observations:
                _transcript(console, o)
        if host.findings:
            console.print(Text("findings", style="bold underline"))
            render_findings(console, host.findings)
        else:
            console.print(Text("no findings", style="green"))
        console.print()
    if report.client is not None:
        from mailtls.render.clientterm import render_client

        render_client(console, report.client)
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
