"""The ``mailtls client`` section of the terminal report: discovery, each setting's verdict,
what each client would pick, and the recommended settings as a table to copy into a client."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mailtls.model import (
    ClientReport,
    RoundTrip,
    ServerSetting,
    SettingResult,
    SocketType,
)
from mailtls.render.termparts import render_finding

_YES = Text("yes", style="green")
_NO = Text("NO", style="bold red")


def _yes_no(value: bool | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    return _YES if value else _NO


def _server(s: ServerSetting) -> Text:
    return Text(f"{s.protocol.value.upper()} {s.host}:{s.port}")


_AUTH_WORDS = {
    "password-cleartext": "Normal password",
    "password-encrypted": "Encrypted password",
    "oauth2": "OAuth2",
}


def _auth(s: ServerSetting) -> str:
    if not s.authentication:
        return "Normal password"
    first = s.authentication[0]
    return _AUTH_WORDS.get(first.lower(), first)


def render_client(console: Console, client: ClientReport) -> None:  # noqa: C901 (a split is still to do: issue 15)
    title = Text("mailtls client · ", style="bold")
    title.append(client.address or client.config_file or "", style="bold")
    if client.config_file:
        title.append(f" — {client.config_kind} file {client.config_file}", style="dim")
    console.print(title)
    if client.steps:
        table = Table(title="discovery (in the order clients look)", title_justify="left")
        for column in ("method", "looked at", "result", "detail"):
            table.add_column(column)
        for step in client.steps:
            style = {"found": "green", "untrusted": "red", "invalid": "red",
                     "error": "magenta"}.get(step.outcome, "dim")
            table.add_row(Text(step.method), Text(step.target), Text(step.outcome, style=style),
                          Text(step.detail))
        console.print(table)
    shown = [r for r in client.settings if r.setting.method != "guess" or r.works]
    if shown:
        table = Table(title="settings checked", title_justify="left")
        for column in ("role", "server", "security", "from", "works", "secure", "verdict"):
            table.add_column(column)
        if any(r.login for r in shown):
            table.add_column("login")
        for r in shown:
            row = [Text(r.setting.role), _server(r.setting), Text(r.setting.socket.label),
                   Text(r.setting.source), _yes_no(r.works), _yes_no(r.secure),
                   Text(r.verdict)]
            if any(x.login for x in shown):
                row.append(Text(r.login or "-"))
            table.add_row(*row)
        console.print(table)
    if client.picks:
        table = Table(title="what each client would set up", title_justify="left")
        for column in ("client", "role", "server", "security", "secure", "why"):
            table.add_column(column)
        for p in client.picks:
            if p.setting is None:
                table.add_row(Text(p.client), Text(p.role), Text("-"), Text("-"), _yes_no(None),
                              Text(p.note, style="dim"))
            else:
                table.add_row(Text(p.client), Text(p.role), _server(p.setting),
                              Text(p.setting.socket.label), _yes_no(p.secure), Text(p.note))
        console.print(table)
    _recommended(console, client.recommended)
    if client.round_trip is not None:
        _round_trip(console, client.round_trip)
    ordered = sorted(client.findings, key=lambda f: (-int(f.severity), f.endpoint or "", f.id))
    if ordered:
        console.print(Text("client findings", style="bold underline"))
        for f in ordered:
            render_finding(console, f)
    for note in client.notes:
        console.print(Text(f"note: {note}", style="dim"))
    console.print()


def _recommended(console: Console, recommended: tuple[SettingResult, ...]) -> None:
    if not recommended:
        console.print(Text("no secure setting works: nothing to recommend", style="bold red"))
        return
    table = Table(title="most secure configuration that works (copy into your client)",
                  title_justify="left")
    for column in ("", "server type", "server name", "port", "connection security",
                   "authentication", "user name"):
        table.add_column(column)
    for r in recommended:
        s = r.setting
        security = "SSL/TLS" if s.socket is SocketType.SSL else "STARTTLS"
        table.add_row(
            Text(s.role), Text(s.protocol.value.upper()), Text(s.host), Text(str(s.port)),
            Text(security), Text(_auth(s)), Text(s.username or "(your address)"),
        )
    console.print(table)


def _round_trip(console: Console, rt: RoundTrip) -> None:
    if rt.delivered:
        head = Text(f"round trip: delivered in {rt.delivery_seconds:.2f} s", style="bold green")
    elif rt.submitted:
        head = Text(f"round trip: NOT delivered within {rt.timeout:g} s", style="bold red")
    else:
        head = Text(f"round trip: not sent ({rt.error or 'no secure setting'})", style="bold red")
    console.print(head)
    if rt.submission:
        console.print(Text(f"  sent via {rt.submission} ({rt.submission_tls})"))
    if rt.retrieval:
        console.print(Text(f"  read via {rt.retrieval}"
                           + (f" ({rt.retrieval_tls})" if rt.retrieval_tls else "")))
    if rt.hops:
        table = Table(title="hops (Received headers, last hop first)", title_justify="left")
        for column in ("#", "by", "from", "with", "TLS"):
            table.add_column(column)
        for h in rt.hops:
            style = {"tls": "green", "none": "red", "local": "dim"}.get(h.tls, "yellow")
            tls = h.tls + (f" ({h.detail})" if h.detail else "")
            table.add_row(Text(str(h.index)), Text(h.by), Text(h.from_), Text(h.with_),
                          Text(tls, style=style))
        console.print(table)
    for value in rt.authentication_results:
        console.print(Text(f"  Authentication-Results: {value}"))
    console.print(Text(f"  tag {rt.tag}; test message "
                       + ("deleted" if rt.deleted else "NOT deleted"), style="dim"))
