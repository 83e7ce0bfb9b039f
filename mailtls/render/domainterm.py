"""The terminal section of a mail domain: what DNS said, what was tested, the verdicts.

All DNS and HTTP text goes to rich as ``Text`` (never markup): records and policy bodies are
controlled by whoever runs the domain.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from mailtls import __version__
from mailtls.checks.domain import lookup_line
from mailtls.formats.mailpolicy import mx_hosts, parse_sts_policy, parse_sts_txt, parse_tlsrpt
from mailtls.model import DNSLookup, DomainObservation, DomainReport, PortObservation
from mailtls.render.termparts import hanging, render_findings


def _status(lk: DNSLookup | None) -> Text | None:
    if lk is None:
        return Text("not asked", style="dim")
    if lk.status.failed:
        return Text(f"lookup failed: {lk.status.value}", style="magenta")
    return None


Row = Callable[[str, Text], None]


def _section(d: DomainReport) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()

    def row(label: str, value: Text) -> None:
        grid.add_row(Text(label), value)

    _mx_rows(d, row)
    _srv_rows(d.observation, row)
    _mta_sts_rows(d.observation, row)
    _tlsrpt_rows(d.observation, row)
    _dane_rows(d, row)
    return grid


def _mx_rows(d: DomainReport, row: Row) -> None:
    o = d.observation
    by_name = {h.name: h for h in o.hosts}
    failed = _status(o.mx)
    if failed is not None:
        row("MX", failed)
    elif any(not r.exchange for r in o.mx_records):
        row("MX", Text("null MX (0 .): accepts no mail", style="cyan"))
    elif o.implicit_mx:
        own = ", ".join(o.own.addresses) if o.own and o.own.addresses else "no address either"
        row("MX", Text(f"none: the domain's own address ({own})", style="yellow"))
    first = True
    for name in mx_hosts(o.mx_records):
        pref = min(r.preference for r in o.mx_records if r.exchange == name)
        h = by_name.get(name)
        addresses = ", ".join(h.addresses) if h and h.addresses else "no address"
        tested = " (tested)" if name in d.hosts and h and h.addresses else ""
        row("MX" if first else "", Text(f"{pref:>3} {name}  {addresses}{tested}"))
        first = False
    if mx_hosts(o.mx_records) or o.implicit_mx:
        ports = ", ".join(str(p) for p in o.smtp_ports)
        row("", Text(f"MX hosts tested on port {ports}", style="dim"))


def _srv_rows(o: DomainObservation, row: Row) -> None:
    first = True
    for s in o.srv:
        failed = _status(s.lookup)
        label = "SRV" if first else ""
        if failed is not None:
            row(label, Text(f"{s.label}  ").append(failed))
        elif s.records:
            for r in s.records:
                text = (f"{s.label}  not offered (.)" if not r.target else
                        f"{s.label}  {r.priority} {r.weight} {r.port} {r.target}")
                row(label, Text(text + (" [DNSSEC]" if s.lookup.authenticated else "")))
                label = ""
        else:
            continue
        first = False
    if first:
        row("SRV", Text("none of the six mail SRV records", style="dim"))


def _mta_sts_rows(o: DomainObservation, row: Row) -> None:
    failed = _status(o.mta_sts_txt)
    if failed is not None:
        row("MTA-STS", failed)
    elif o.mta_sts_txt is not None:
        record = parse_sts_txt(o.mta_sts_txt.records)
        if not record.candidates:
            row("MTA-STS", Text("no policy (no v=STSv1 TXT record)", style="dim"))
        else:
            row("MTA-STS", Text(f"TXT {'; '.join(record.candidates)}"))
            p = o.mta_sts_policy
            if p is not None:
                if p.status is None:
                    row("", Text(f"policy: {p.error}", style="red"))
                else:
                    policy = parse_sts_policy(p.body)
                    ok = bool(p.verification and p.verification.trusted)
                    desc = (f"policy: HTTP {p.status}, {'trusted' if ok else 'untrusted'}, "
                            f"mode {policy.mode}, max_age {policy.max_age}, "
                            f"mx {', '.join(policy.mx) or '-'}")
                    good = policy.valid and p.status == 200 and ok
                    row("", Text(desc, style="green" if good else "red"))


def _tlsrpt_rows(o: DomainObservation, row: Row) -> None:
    failed = _status(o.tls_rpt_txt)
    if failed is not None:
        row("TLS-RPT", failed)
    elif o.tls_rpt_txt is not None:
        rpt = parse_tlsrpt(o.tls_rpt_txt.records)
        row("TLS-RPT", Text("; ".join(rpt.candidates) if rpt.candidates else "no record",
                            style="" if rpt.candidates else "dim"))


def _dane_rows(d: DomainReport, row: Row) -> None:
    o = d.observation
    first = True
    for lk in o.tlsa:
        if lk.status.value in ("nxdomain", "nodata"):
            continue
        row("DANE" if first else "", Text(lookup_line(lk)))
        first = False
    for res in d.dane:
        style = "green" if res.verdict == "match" else "red"
        depth = " (leaf)" if res.matched_depth == 0 else f" (chain #{res.matched_depth})"
        what = {"match": f"matches {(res.matched or '')[:24]}...{depth}",
                "no_match": "matches no TLSA record", "no_tls": "no TLS session",
                "no_usable_records": "no usable TLSA record"}[res.verdict]
        secure = "" if res.authenticated else " (not DNSSEC-validated)"
        row("DANE" if first else "",
            Text(f"{res.host} {res.endpoint}: {what}{secure}", style=style))
        first = False
    if first:
        # "no TLSA records" only when TLSA was asked for: with no MX host tested nothing was
        row("DANE", Text("no TLSA records" if o.tlsa else "not looked up (no MX host to test)",
                         style="dim"))


def render_domain(console: Console, d: DomainReport) -> None:
    from mailtls.render.summary import domain_headline

    o = d.observation
    headline = domain_headline(d)
    hanging(console, Text(headline.text, style=headline.style))
    title = Text(f"  mailtls {__version__}", style="dim")
    trust = "AD bit trusted" if o.resolver_trusted else "AD bit not trusted"
    title.append(f" · resolver {o.resolver}, {trust}", style="dim")
    console.print(title)
    why = ("requested" if o.detected == "requested" else
           "the name has MX records (use --host to check it as a host)")
    console.print(Text(f"  checked as a mail domain: {why}", style="dim"))
    console.print(Padding(_section(d), (0, 0, 0, 2)))
    if d.findings:
        console.print(Text("domain findings", style="bold underline"))
        render_findings(console, d.findings)
    else:
        console.print(Text("no domain findings", style="green"))
    console.print()


def render_controls(console: Console, controls: tuple[PortObservation, ...]) -> None:
    if not controls:
        return
    line = Text("port-25 controls: ", style="bold")
    line.append(", ".join(f"{c.endpoint.host} {c.endpoint.key} {c.state.value}"
                          for c in controls))
    console.print(line)
    console.print()


