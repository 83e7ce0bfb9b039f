"""A self-contained HTML report (``--format html``, ``--output html=FILE``, ``mailtls show``).

One file, nothing fetched: the CSS is inline and allowed by its SHA-256 hash in a
Content-Security-Policy meta tag (``default-src 'none'``), there is no script at all, and the
expiry timeline is inline SVG. Every piece of server, DNS and file text is escaped
(``html.escape`` after control characters became visible escapes), so a hostile banner stays
text.

Layout: the headlines (verdict and grade per host and mail domain), the certificate expiry
timeline across hosts, then per host its ports, a port x check matrix, the certificate chains,
the findings with their fix, and the transcripts folded in ``<details>``.
Verdicts, grades and colours come from ``mailtls.render.summary``, as on the terminal.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable

from mailtls import __version__
from mailtls.model import (
    CertificateInfo,
    DomainReport,
    Finding,
    HostReport,
    PortObservation,
    PortState,
    Report,
    Severity,
    TLSMode,
    TranscriptLine,
)
from mailtls.pki.x509 import days_left, match_name
from mailtls.render.checks import FAILED, PASSED, clean, endpoint_checks
from mailtls.render.summary import (
    GRADE_RULE,
    GRADES as GRADE_ORDER,
    HTML_COLOURS,
    domain_headline,
    endpoint_findings,
    host_headline,
    port_grade,
    verdict,
)

__all__ = ["CHECK_FAMILIES", "render_html"]

# The matrix's columns: families of checks, by finding id (first match wins).
CHECK_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("connection", ("host.", "port.", "session.", "mailtls.", "tls.handshake_failed",
                    "tls.implicit_on_starttls_port", "tls.plaintext_on_implicit_port")),
    ("STARTTLS", ("starttls.", ".starttls.")),
    ("TLS versions", ("tls.version.",)),
    ("ciphers", ("tls.cipher", "tls.dh.", "tls.profile.", "tls.compression",
                 "tls.renegotiation", "tls.fallback_scsv", "tls.scan.")),
    ("certificate", ("cert.", "tls.ocsp.")),
    ("login", (".auth.", "auth.")),
    ("other", ("",)),
)

_CSS = """
:root{--fail:@fail;--unknown:@unknown;--warn:@warn;--info:@info;--pass:@pass;
--skip:#9e9e9e;--ink:#1d2330;--soft:#5b6475;--line:#d9dde5;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px}
h3{font-size:16px;margin:20px 0 6px}
.meta{color:var(--soft);margin:0 0 16px}
section.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin:16px 0}section.card>h2:first-child{margin-top:0}
.headline{display:flex;align-items:center;gap:14px;margin:6px 0}
.grade{display:inline-block;min-width:44px;text-align:center;font-weight:700;font-size:20px;
color:#fff;border-radius:6px;padding:4px 8px}
.badge{display:inline-block;font-weight:700;font-size:12px;color:#fff;border-radius:4px;
padding:1px 7px;text-transform:uppercase;letter-spacing:.03em}
.bg-fail{background:var(--fail)}.bg-unknown{background:var(--unknown)}
.bg-warn{background:var(--warn)}.bg-info{background:var(--info)}.bg-pass{background:var(--pass)}
.bg-skip,.bg-none{background:var(--skip)}
.fg-fail{color:var(--fail);font-weight:600}.fg-unknown{color:var(--unknown);font-weight:600}
.fg-warn{color:var(--warn);font-weight:600}.fg-info{color:var(--info)}.fg-pass{color:var(--pass)}
.fg-none{color:var(--soft)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}
table.matrix td{text-align:center;font-weight:600;font-size:13px}
table.matrix td.name{text-align:left;font-weight:400}
td.cell-fail{background:#fde4e4;color:var(--fail)}td.cell-unknown{background:#f6e3f7;
color:var(--unknown)}td.cell-warn{background:#fff3d6;color:#8a5a00}
td.cell-info{background:#e2f4f8;color:#0b6173}td.cell-pass{background:#e3f4e5;color:#1b6e21}
td.cell-skip,td.cell-none{color:var(--soft)}
.finding{border-left:5px solid var(--skip);padding:6px 12px;margin:10px 0;background:#fbfbfc}
.finding.sev-fail{border-color:var(--fail)}.finding.sev-unknown{border-color:var(--unknown)}
.finding.sev-warn{border-color:var(--warn)}.finding.sev-info{border-color:var(--info)}
.finding .id{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
.finding .where{color:var(--soft)}
.fix{margin:4px 0}.fix b{color:#1b6e21}.ref{color:var(--soft);font-size:13px}
pre{background:#f1f3f6;border:1px solid var(--line);border-radius:4px;padding:6px 8px;
margin:4px 0;font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;
overflow-wrap:anywhere}
details{margin:6px 0}summary{cursor:pointer;color:var(--soft)}
td.ep{white-space:nowrap}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
footer{color:var(--soft);font-size:13px;margin:32px 0}
"""


def _css() -> str:
    css = _CSS
    for name, colour in HTML_COLOURS.items():
        css = css.replace(f"@{name};", f"{colour};")
    return css


def _e(text: object) -> str:
    """Escaped text: control characters as visible escapes, then HTML-escaped."""
    return html.escape(clean(str(text)), quote=True)


def _pre(lines: Iterable[str]) -> str:
    return "<pre>" + "\n".join(_e(line) for line in lines) + "</pre>"


def _badge(v: str, text: str | None = None) -> str:
    return f'<span class="badge bg-{v}">{_e(text or v)}</span>'


def _grade_class(grade: str) -> str:
    return {"A+": "pass", "A": "pass", "B": "warn", "C": "warn", "?": "unknown",
            "F": "fail"}.get(grade, "none")


def _headline(subject: str, text: str, v: str, grade: str, anchor: str) -> str:
    return (f'<div class="headline"><span class="grade bg-{_grade_class(grade)}" '
            f'title="grade">{_e(grade)}</span><a href="#{anchor}" class="fg-{v}">'
            f"{_e(text)}</a></div>")


def _anchor(prefix: str, n: int) -> str:
    return f"{prefix}-{n}"


# --- hosts -------------------------------------------------------------------------------------


def _tls_text(o: PortObservation) -> str:
    if o.tls is None:
        if o.state is not PortState.OPEN:
            return "-"
        if o.endpoint.service.tls_mode is TLSMode.STARTTLS and o.starttls_offered is False:
            return "no STARTTLS"
        return "handshake failed" if o.tls_error else "none"
    how = "implicit" if o.endpoint.service.tls_mode is TLSMode.IMPLICIT else "STARTTLS"
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


def _ports(host: HostReport, report: Report) -> str:
    rows = []
    for o in host.observations:
        found = endpoint_findings(host, o)
        v = verdict(found)
        g = port_grade(host, o)
        rows.append(
            "<tr>"
            f'<td class="mono ep">{_e(o.endpoint.key)}</td><td>{_e(o.endpoint.service.name)}</td>'
            f"<td>{_e(o.state.value.replace('_', ' '))}</td><td>{_e(_tls_text(o))}</td>"
            f'<td class="mono">{_e(o.tls.cipher if o.tls else "-")}</td>'
            f"<td>{_e(_cert_text(o, report))}</td>"
            f"<td>{_badge(v, 'ok' if v in ('pass', 'info') else v)}</td>"
            f'<td><span class="badge bg-{_grade_class(g)}">{_e(g)}</span></td></tr>')
    return ("<table><thead><tr><th>endpoint</th><th>service</th><th>state</th><th>TLS</th>"
            "<th>cipher</th><th>certificate</th><th>verdict</th><th>grade</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _family(rule_id: str) -> str:
    for name, prefixes in CHECK_FAMILIES:
        if any(rule_id.startswith(p) if not p.startswith(".") else p in rule_id
               for p in prefixes):
            return name
    return "other"


def _matrix(host: HostReport) -> str:
    """Port x check family: the worst finding, pass when every check passed, skipped when none
    could run (closed port, no TLS, --quick)."""
    names = [name for name, _ in CHECK_FAMILIES]
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = []
    for o in host.observations:
        results = endpoint_checks(host, o)
        cells = []
        for name in names:
            mine = [r for r in results if _family(r.id) == name]
            failed = [r for r in mine if r.status == FAILED]
            passed = [r for r in mine if r.status == PASSED]
            if failed:
                worst = max(r.severity or Severity.INFO for r in failed)
                cls, text = worst.label, worst.label
            elif passed:
                cls, text = "pass", "pass"
            elif mine:
                cls, text = "skip", "skipped"
            else:
                cls, text = "none", "–"
            title = "; ".join(f"{r.id}: {r.severity.label if r.severity else ''}"
                              for r in failed) or (
                f"{len(passed)} passed, {len(mine) - len(passed)} skipped" if mine
                else "no check of this kind applies")
            cells.append(f'<td class="cell-{cls}" title="{_e(title)}">{_e(text)}</td>')
        rows.append(f'<tr><td class="name mono">{_e(o.endpoint.key)} '
                    f"{_e(o.endpoint.service.name)}</td>{''.join(cells)}</tr>")
    return (f'<table class="matrix"><thead><tr><th>port</th>{head}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _cert_rows(chain: tuple[CertificateInfo, ...], report: Report) -> str:
    rows = []
    for depth, c in enumerate(chain):
        left = days_left(c, report.started_at)
        rows.append(
            f"<tr><td>{depth}</td><td class='mono'>{_e(c.subject)}</td>"
            f"<td class='mono'>{_e(c.issuer)}</td>"
            f"<td>{c.not_before:%Y-%m-%d} .. {c.not_after:%Y-%m-%d} "
            f"({_e(f'{left:.0f} d left' if left >= 0 else 'expired')})</td>"
            f"<td>{_e(c.key_type)} {c.key_bits}<br>{_e(c.signature_algorithm)}</td>"
            f"<td class='mono'>{_e(' '.join(c.dns_names) or '-')}</td></tr>")
    return ("<table><thead><tr><th>#</th><th>subject</th><th>issuer</th><th>validity</th>"
            "<th>key</th><th>DNS names</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _chains(host: HostReport, report: Report) -> str:
    """Each distinct chain once, with the ports that presented it."""
    groups: dict[tuple[str, ...], list[PortObservation]] = {}
    for o in host.observations:
        if o.tls is not None and o.tls.chain:
            groups.setdefault(tuple(c.sha256_fingerprint for c in o.tls.chain), []).append(o)
    if not groups:
        return "<p class='fg-none'>no certificate seen</p>"
    out = []
    for obs in groups.values():
        tls = obs[0].tls
        assert tls is not None
        where = ", ".join(f"{o.endpoint.key} ({o.endpoint.service.name})" for o in obs)
        v = tls.verification
        trust = (f"trusted ({v.trust_store})" if v.trusted else
                 f"untrusted: {v.message or v.code}")
        out.append(f"<h4>{_e(where)}</h4><p>{_e(trust)}</p>{_cert_rows(tls.chain, report)}")
    return "".join(out)


def _finding(f: Finding) -> str:
    where = f' <span class="where mono">{_e(f.endpoint)}</span>' if f.endpoint else ""
    evidence = _pre(f.evidence) if f.evidence else ""
    ref = f'<div class="ref">{_e(f.reference)}</div>' if f.reference else ""
    return (f'<div class="finding sev-{f.severity.label}">{_badge(f.severity.label)} '
            f'<span class="id">{_e(f.id)}</span>{where}<div>{_e(f.summary)}</div>{evidence}'
            f'<div class="fix"><b>Fix:</b> {_e(f.remediation)}</div>{ref}</div>')


def _findings(findings: tuple[Finding, ...]) -> str:
    if not findings:
        return "<p class='fg-pass'>no findings</p>"
    ordered = sorted(findings, key=lambda f: (-int(f.severity), f.endpoint or "", f.id))
    return "".join(_finding(f) for f in ordered)


def _transcript_lines(lines: tuple[TranscriptLine, ...]) -> list[str]:
    marks = {"C": "C:", "S": "S:", "*": "--"}
    return [f"{t.at:7.3f} {'TLS' if t.tls else '   '} {marks[t.direction.value]} {t.text}"
            for t in lines]


def _transcripts(host: HostReport) -> str:
    out = []
    for o in host.observations:
        out.append(f"<details><summary>transcript {_e(o.endpoint.key)} "
                   f"({_e(o.endpoint.service.name)}): {len(o.transcript)} line(s), "
                   f"{o.connections} connection(s)</summary>"
                   f"{_pre(_transcript_lines(o.transcript))}</details>")
        for p in o.security:
            if p.transcript:
                out.append(f"<details><summary>security probe {_e(p.name)} on "
                           f"{_e(o.endpoint.key)}: {_e(p.verdict.value)}</summary>"
                           f"{_pre(_transcript_lines(p.transcript))}</details>")
    return "".join(out)


def _host(host: HostReport, report: Report, anchor: str) -> str:
    h = host_headline(host)
    parts = [f'<section class="card" id="{anchor}"><h2>{_e(host.name)}</h2>',
             _headline(host.name, h.text, h.verdict, h.grade, anchor)]
    about = ", ".join(host.addresses)
    if host.roles:
        about += " · " + "; ".join(host.roles)
    if about:
        parts.append(f'<p class="meta">{_e(about)}</p>')
    if host.resolve_error:
        parts.append(f"<p class='fg-unknown'>cannot resolve: {_e(host.resolve_error)}</p>")
    else:
        parts += ["<h3>ports</h3>", _ports(host, report), "<h3>checks per port</h3>",
                  _matrix(host), "<h3>certificate chains</h3>", _chains(host, report)]
    parts += ["<h3>findings</h3>", _findings(host.findings)]
    if host.observations:
        parts += ["<h3>transcripts</h3>", _transcripts(host)]
    parts.append("</section>")
    return "".join(parts)


# --- the timeline ------------------------------------------------------------------------------


def _timeline(report: Report) -> str:
    """Every distinct leaf certificate of every host on one axis of days from the scan."""
    entries: list[tuple[str, float, str]] = []
    for host in report.hosts:
        seen: dict[str, list[PortObservation]] = {}
        for o in host.observations:
            if o.tls is not None and o.tls.chain:
                seen.setdefault(o.tls.chain[0].sha256_fingerprint, []).append(o)
        for obs in seen.values():
            tls = obs[0].tls
            assert tls is not None
            cert_findings = [f for o in obs for f in endpoint_findings(host, o)
                             if f.id.startswith("cert.")]
            ports = (", ".join(str(o.endpoint.port) for o in obs) if len(obs) <= 3
                     else f"{len(obs)} ports")
            entries.append((f"{host.name} ({ports})", days_left(tls.chain[0], report.started_at),
                            verdict(cert_findings)))
    if not entries:
        return ""
    lo = max(-365.0, min(0.0, min(d for _, d, _ in entries)) - 10)
    hi = min(730.0, max(90.0, max(d for _, d, _ in entries)))
    left, width, row, right = 300, 840, 24, 130
    height = row * len(entries) + 34

    def x(days: float) -> float:
        days = min(max(days, lo), hi)
        return left + (days - lo) / (hi - lo) * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} '
             f'{height}" width="100%" aria-label="certificate expiry timeline">']
    zero = x(0)
    for i, (label, days, v) in enumerate(entries):
        y = 8 + i * row
        a, b = sorted((zero, x(days)))
        text = f"expired {-days:.0f} d ago" if days < 0 else f"{days:.0f} d"
        parts.append(
            f'<text x="4" y="{y + 14}">{_e(label[:42])}</text>'
            f'<rect x="{a:.1f}" y="{y + 3}" width="{max(b - a, 2):.1f}" height="14" rx="3" '
            f'fill="{HTML_COLOURS[v]}"/>'
            f'<text x="{max(a, b) + 6:.1f}" y="{y + 14}">{_e(text)}</text>')
    base = 8 + len(entries) * row
    parts.append(f'<line x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{base}" stroke="#1d2330" '
                 f'stroke-dasharray="3 3"/><text x="{zero - 4:.1f}" y="{base + 16}" '
                 f'text-anchor="end">scan {report.started_at:%Y-%m-%d}</text>')
    last = zero
    for mark in (30, 90, 365, 730):
        if lo < mark <= hi and x(mark) - last > 50:
            last = x(mark)
            parts.append(f'<line x1="{last:.1f}" y1="4" x2="{last:.1f}" y2="{base}" '
                         f'stroke="#d9dde5"/><text x="{last:.1f}" y="{base + 16}" '
                         f'text-anchor="middle">+{mark} d</text>')
    parts.append("</svg>")
    return ('<section class="card"><h2>certificate expiry</h2>' + "".join(parts)
            + "</section>")


# --- domains, client, regression ---------------------------------------------------------------


def _domain(d: DomainReport, anchor: str) -> str:
    from mailtls.checks.domain import lookup_line

    o = d.observation
    h = domain_headline(d)
    trust = "AD bit trusted" if o.resolver_trusted else "AD bit not trusted"
    facts = [("resolver", f"{o.resolver} ({trust})")]
    facts.append(("MX", lookup_line(o.mx)))
    facts += [("SRV", lookup_line(s.lookup)) for s in o.srv]
    if o.mta_sts_txt is not None:
        facts.append(("MTA-STS", lookup_line(o.mta_sts_txt)))
    if o.mta_sts_policy is not None:
        p = o.mta_sts_policy
        facts.append(("MTA-STS policy", f"{p.url}: " + (f"HTTP {p.status}" if p.status
                                                         else p.error or "no answer")))
    if o.tls_rpt_txt is not None:
        facts.append(("TLS-RPT", lookup_line(o.tls_rpt_txt)))
    facts += [("TLSA", lookup_line(lk)) for lk in o.tlsa]
    facts += [("DANE", f"{r.host} {r.endpoint}: {r.verdict}") for r in d.dane]
    if not o.tlsa and not d.dane:
        facts.append(("DANE", "not looked up (no MX host to test)"))
    rows = "".join(f"<tr><th>{_e(k)}</th><td class='mono'>{_e(v)}</td></tr>" for k, v in facts)
    return (f'<section class="card" id="{anchor}"><h2>mail domain {_e(d.name)}</h2>'
            f"{_headline(d.name, h.text, h.verdict, h.grade, anchor)}"
            f"<table>{rows}</table><h3>domain findings</h3>{_findings(d.findings)}</section>")


def _secure(secure: bool) -> str:
    return _badge("pass", "secure") if secure else _badge("fail", "insecure")


def _outcome(value: str) -> str:
    return _badge({"met": "pass", "broken": "fail"}.get(value, "unknown"), value)


def _change_badge(regression: bool) -> str:
    return _badge("fail", "regression") if regression else _badge("info", "change")


def _client(report: Report) -> str:
    c = report.client
    if c is None:
        return ""
    rows = "".join(
        f"<tr><td>{_e(r.setting.role)}</td><td class='mono'>{_e(r.setting.protocol.value)} "
        f"{_e(r.setting.host)}:{r.setting.port}</td><td>{_e(r.setting.socket.label)}</td>"
        f"<td>{_e(r.setting.source)}</td><td>{_secure(r.secure)}</td>"
        f"<td>{_e(r.verdict)}</td></tr>"
        for r in c.settings)
    return (f'<section class="card"><h2>mail client {_e(c.address or c.config_file or "")}</h2>'
            "<table><thead><tr><th>role</th><th>server</th><th>security</th><th>from</th>"
            f"<th>secure</th><th>verdict</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<h3>client findings</h3>{_findings(c.findings)}</section>")


def _regression(report: Report) -> str:
    out = []
    if report.expectations:
        rows = "".join(
            f"<tr><td>{_outcome(r.outcome.value)}</td><td>{_e(r.host)}</td><td>{_e(r.subject)}</td>"
            f"<td>{_e(r.expected)}</td><td>{_e(r.observed)}</td></tr>"
            for r in report.expectations)
        out.append('<section class="card"><h2>expectations</h2><table><thead><tr><th></th>'
                   "<th>host</th><th>subject</th><th>expected</th><th>observed</th></tr>"
                   f"</thead><tbody>{rows}</tbody></table></section>")
    if report.changes is not None:
        rows = "".join(
            f"<tr><td>{_change_badge(c.regression)}</td><td>{_e(c.host)}</td>"
            f"<td>{_e(c.summary)}</td></tr>"
            for c in report.changes) or "<tr><td colspan=3>no change</td></tr>"
        out.append('<section class="card"><h2>changes since the baseline</h2><table>'
                   f"<tbody>{rows}</tbody></table></section>")
    return "".join(out)


# --- the document ------------------------------------------------------------------------------


def render_html(report: Report, exit_code: int) -> str:
    """The report as one self-contained HTML document (pure: same report, same bytes)."""
    css = _css()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    csp = (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    summary = ", ".join(f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True))
    heads = []
    sections = []
    for n, d in enumerate(report.domains):
        h = domain_headline(d)
        heads.append(_headline(d.name, h.text, h.verdict, h.grade, _anchor("domain", n)))
        sections.append(_domain(d, _anchor("domain", n)))
    # worst first: the host that needs attention is the first one a reader sees
    ranked = sorted(enumerate(report.hosts),
                    key=lambda nh: (-GRADE_ORDER.index(host_headline(nh[1]).grade)
                                    if host_headline(nh[1]).grade in GRADE_ORDER else 0, nh[0]))
    for n, host in ranked:
        h = host_headline(host)
        heads.append(_headline(host.name, h.text, h.verdict, h.grade, _anchor("host", n)))
        sections.append(_host(host, report, _anchor("host", n)))
    names = ", ".join([d.name for d in report.domains] + [h.name for h in report.hosts])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>mailtls report: {_e(names or 'no hosts')}</title>"
        f"<style>{css}</style></head>\n<body><main>"
        f"<h1>mailtls report</h1><p class=\"meta\">mailtls {_e(__version__)} · "
        f"{report.started_at:%Y-%m-%d %H:%M:%S %Z} · {report.seconds:.1f} s · "
        f"{report.connections} connection(s) · {_e(summary)} · exit code {exit_code}</p>"
        f'<section class="card"><h2>summary</h2>{"".join(heads) or "<p>nothing checked</p>"}'
        "</section>"
        + _timeline(report) + "".join(sections) + _client(report) + _regression(report)
        + f"<footer><details><summary>how verdicts and grades are derived</summary>"
        f"{_pre(GRADE_RULE.splitlines())}</details>"
        "<p>Server replies, DNS records and certificates are shown as received, escaped."
        "</p></footer></main></body></html>\n"
    )
