"""Baselines: what changed between two reports (``mailtls diff OLD NEW``, ``check --baseline``).

Both sides are canonical JSON reports (schema ``mailtls/1``; a JSON Lines file of them, one
host per line, is merged). Pure functions over those dicts, except :func:`load_report`.

Kinds of change (stable; ``regression`` marks the ones where the deployment got worse):

==========================  ==============================================================
kind                        regression when
==========================  ==============================================================
finding.new                 its severity is warn, unknown or fail
finding.resolved            never
finding.severity            the severity went up
port.closed                 always (a port that was open is refused, filtered, unreachable)
port.opened                 never
port.state                  never (other changes of state, e.g. refused -> filtered)
tls.lost / tls.gained       tls.lost always (the port is open but no longer gets to TLS)
tls.negotiated              the negotiated version went down
tls.cipher                  never (another negotiated cipher)
tls.version.gained          the version is below TLS 1.2 (needs ``tls_scan`` on both sides)
tls.version.lost            the version is TLS 1.2 or newer
tls.suites.gained           a gained suite is weak (NULL, anonymous, EXPORT, RC4, DES, 3DES..)
tls.suites.lost             never
capability.gained / .lost   STARTTLS/STLS lost before TLS
cert.changed                the new certificate expires before the old one
host.added / host.removed   never
host.unresolved             always; host.resolved never
endpoint.added / .removed   never
==========================  ==============================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailtls.errors import UsageError
from mailtls.model import Change, ChangeKind, Severity
from mailtls.model.exitcodes import FAILURES, OK, UNKNOWN, WARNINGS, FailOn, worst_code
from mailtls.tls import suites as ciphersuites
from mailtls.tls.versions import TLSVersion

__all__ = [
    "DIFF_SCHEMA",
    "baseline_exit_code",
    "change_dict",
    "diff_dict",
    "diff_exit_code",
    "diff_reports",
    "load_report",
]

DIFF_SCHEMA = "mailtls-diff/1"
REPORT_SCHEMA = "mailtls/1"
_SEVERITY = {s.label: s for s in Severity}
_STARTTLS_WORDS = ("STARTTLS", "STLS")

Doc = Mapping[str, Any]

K = ChangeKind  # the kinds of change, short


# --- reading -----------------------------------------------------------------------------------


def load_report(path: str) -> dict[str, Any]:
    """A ``mailtls/1`` report from a JSON file, or a JSON Lines file of them (hosts merged)."""
    try:
        if path == "-":
            import sys

            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return parse_report(text, path)


def parse_report(text: str, source: str = "<report>") -> dict[str, Any]:
    docs: list[Any]
    try:
        docs = [json.loads(text)]
    except (json.JSONDecodeError, RecursionError):
        try:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: [[[[...
            raise UsageError(f"{source}: neither JSON nor JSON Lines: {exc}") from None
    if not docs:
        raise UsageError(f"{source}: empty")
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("schema") != REPORT_SCHEMA:
            found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise UsageError(f"{source}: not a mailtls report (schema {found!r}, "
                             f"expected {REPORT_SCHEMA!r}; write one with --format json)")
        if not isinstance(doc.get("hosts", []), list):
            raise UsageError(f"{source}: not a mailtls report (hosts is not a list)")
    merged: dict[str, Any] = dict(docs[0])
    if len(docs) > 1:
        merged["hosts"] = [h for d in docs for h in d.get("hosts", [])]
        merged["started_at"] = min(str(d.get("started_at", "")) for d in docs)
    return merged


# --- comparing ---------------------------------------------------------------------------------


def diff_reports(old: Doc, new: Doc) -> tuple[Change, ...]:
    """Every difference between two ``mailtls/1`` reports, host by host, endpoint by endpoint."""
    old_hosts = {h["name"]: h for h in old.get("hosts", [])}
    new_hosts = {h["name"]: h for h in new.get("hosts", [])}
    out: list[Change] = []
    for name in list(dict.fromkeys([*new_hosts, *old_hosts])):
        before, after = old_hosts.get(name), new_hosts.get(name)
        if after is None:
            out.append(Change(K.HOST_REMOVED, name, None, f"{name} is not in the new report",
                              False))
            continue
        if before is None:
            out.append(Change(K.HOST_ADDED, name, None, f"{name} is new in this report", False))
            out.extend(_findings(name, {}, after))
            continue
        out.extend(_host(name, before, after))
    return tuple(out)


def _host(name: str, before: Doc, after: Doc) -> list[Change]:
    out: list[Change] = []
    if before.get("resolve_error") is None and after.get("resolve_error") is not None:
        out.append(Change(K.HOST_UNRESOLVED, name, None,
                          f"{name} no longer resolves: {after['resolve_error']}", True,
                          ", ".join(before.get("addresses", [])), after["resolve_error"]))
    elif before.get("resolve_error") is not None and after.get("resolve_error") is None:
        out.append(Change(K.HOST_RESOLVED, name, None, f"{name} resolves again", False,
                          before["resolve_error"], ", ".join(after.get("addresses", []))))
    old_eps = {e["endpoint"]: e for e in before.get("endpoints", [])}
    new_eps = {e["endpoint"]: e for e in after.get("endpoints", [])}
    for key in list(dict.fromkeys([*new_eps, *old_eps])):
        a, b = old_eps.get(key), new_eps.get(key)
        if b is None:
            assert a is not None
            out.append(Change(K.ENDPOINT_REMOVED, name, key,
                              f"{_label(a)} is not in the new scan", False))
        elif a is None:
            out.append(Change(K.ENDPOINT_ADDED, name, key, f"{_label(b)} is new in this scan",
                              False))
        else:
            out.extend(_endpoint(name, key, a, b))
    out.extend(_findings(name, before, after))
    return out


def _label(ep: Doc) -> str:
    return f"port {ep.get('port')} ({ep.get('service')})"


def _endpoint(host: str, key: str, a: Doc, b: Doc) -> list[Change]:
    out: list[Change] = []
    label = _label(b)

    def change(kind: ChangeKind, summary: str, regression: bool, old: str | None = None,
               new: str | None = None) -> None:
        out.append(Change(kind, host, key, summary, regression, old, new))

    sa, sb = a.get("state"), b.get("state")
    if sa != sb:
        if sa == "open" and sb in ("refused", "filtered", "unreachable"):
            change(K.PORT_CLOSED, f"{label} was open, now {sb}", True, sa, sb)
        elif sb == "open":
            change(K.PORT_OPENED, f"{label} was {sa}, now open", False, sa, sb)
        else:
            change(K.PORT_STATE, f"{label} was {sa}, now {sb}", False, sa, sb)
    if sb != "open" or sa != "open":
        return out

    ta, tb = a.get("tls"), b.get("tls")
    if ta and not tb:
        change(K.TLS_LOST, f"{label} no longer gets to TLS"
               + (f": {b['tls_error']}" if b.get("tls_error") else ""), True,
               ta.get("version"), b.get("tls_error") or "no TLS")
    elif tb and not ta:
        change(K.TLS_GAINED, f"{label} now gets to TLS ({tb.get('version')})", False,
               a.get("tls_error") or "no TLS", tb.get("version"))
    elif ta and tb:
        va, vb = _version(ta.get("version")), _version(tb.get("version"))
        if va != vb:
            change(K.TLS_NEGOTIATED, f"{label} negotiates {vb.label}, was {va.label}", vb < va,
                   ta.get("version"), tb.get("version"))
        if ta.get("cipher") != tb.get("cipher"):
            change(K.TLS_CIPHER, f"{label} negotiates {tb.get('cipher')}, was {ta.get('cipher')}",
                   False, ta.get("cipher"), tb.get("cipher"))
        out.extend(_certificate(host, key, label, ta, tb))

    out.extend(_tls_scan(host, key, label, a.get("tls_scan"), b.get("tls_scan")))
    for phase, field_name in (("before TLS", "capabilities_before_tls"),
                              ("after TLS", "capabilities_after_tls")):
        out.extend(_capabilities(host, key, label, phase, a.get(field_name), b.get(field_name)))
    return out


def _certificate(host: str, key: str, label: str, ta: Doc, tb: Doc) -> list[Change]:
    ca, cb = (ta.get("chain") or [None])[0], (tb.get("chain") or [None])[0]
    if not ca or not cb or ca.get("sha256_fingerprint") == cb.get("sha256_fingerprint"):
        return []

    def line(c: Doc) -> str:
        return (f"sha256 {c.get('sha256_fingerprint')}, issuer {c.get('issuer')}, "
                f"not after {c.get('not_after')}")

    earlier = str(cb.get("not_after", "")) < str(ca.get("not_after", ""))
    summary = f"{label} presents a new certificate (issuer {cb.get('issuer')}, expires " \
              f"{str(cb.get('not_after', ''))[:10]}"
    summary += ", earlier than the old one)" if earlier else ")"
    return [Change(K.CERT_CHANGED, host, key, summary, earlier, line(ca), line(cb))]


def _tls_scan(host: str, key: str, label: str, sa: Doc | None, sb: Doc | None) -> list[Change]:
    if not sa or not sb:
        return []
    out: list[Change] = []
    va, vb = sa.get("versions", {}), sb.get("versions", {})
    for name in list(dict.fromkeys([*va, *vb])):
        before, after = va.get(name), vb.get(name)
        version = _version(name)
        if after is True and before is not True:
            weak = version < TLSVersion.TLS1_2
            out.append(Change(K.TLS_VERSION_GAINED, host, key, f"{label} now accepts {name}",
                              weak, _accepted(before), "accepted"))
        elif before is True and after is False:
            strong = version >= TLSVersion.TLS1_2
            out.append(Change(K.TLS_VERSION_LOST, host, key, f"{label} no longer accepts {name}",
                              strong, "accepted", "refused"))
    suites_a, suites_b = sa.get("suites", {}), sb.get("suites", {})
    for name in list(dict.fromkeys([*suites_a, *suites_b])):
        if va.get(name) is not True or vb.get(name) is not True:
            continue  # the version itself changed, or was not testable: reported above
        old_set, new_set = set(suites_a.get(name, [])), set(suites_b.get(name, []))
        gained = [s for s in suites_b.get(name, []) if s not in old_set]
        lost = [s for s in suites_a.get(name, []) if s not in new_set]
        if gained:
            weak_suites = [f"{s} ({', '.join(_weak(s))})" for s in gained if _weak(s)]
            out.append(Change(K.TLS_SUITES_GAINED, host, key,
                              f"{label} accepts {len(gained)} more {name} suite(s)"
                              + (f", weak: {'; '.join(weak_suites)}" if weak_suites else ""),
                              bool(weak_suites), None, ", ".join(gained)))
        if lost:
            out.append(Change(K.TLS_SUITES_LOST, host, key,
                              f"{label} no longer accepts {len(lost)} {name} suite(s)",
                              False, ", ".join(lost), None))
    return out


def _accepted(value: object) -> str:
    return "refused" if value is False else "untested" if value is None else "accepted"


def _weak(name: str) -> tuple[str, ...]:
    suite = ciphersuites.by_iana_name(name)
    return () if suite is None else suite.weak_reasons()


def _capabilities(host: str, key: str, label: str, phase: str, a: Sequence[str] | None,
                  b: Sequence[str] | None) -> list[Change]:
    if a is None or b is None:
        return []
    norm_a = {" ".join(c.upper().split()): c for c in a}
    norm_b = {" ".join(c.upper().split()): c for c in b}
    gained = [norm_b[c] for c in norm_b if c not in norm_a]
    lost = [norm_a[c] for c in norm_a if c not in norm_b]
    out = []
    if gained:
        out.append(Change(K.CAPABILITY_GAINED, host, key,
                          f"{label} now advertises {', '.join(gained)} {phase}", False,
                          None, "; ".join(gained)))
    if lost:
        starttls_lost: bool = phase == "before TLS" and any(
            c.split()[0].upper() in _STARTTLS_WORDS for c in lost if c.split())
        out.append(Change(K.CAPABILITY_LOST, host, key,
                          f"{label} no longer advertises {', '.join(lost)} {phase}",
                          starttls_lost, "; ".join(lost), None))
    return out


def _findings(host: str, before: Doc, after: Doc) -> list[Change]:
    def index(h: Doc) -> dict[tuple[str | None, str], Doc]:
        out: dict[tuple[str | None, str], Doc] = {}
        for f in h.get("findings", []):
            out.setdefault((f.get("endpoint"), f["id"]), f)
        return out

    old, new = index(before), index(after)
    out: list[Change] = []
    for (endpoint, finding_id), f in new.items():
        severity = _SEVERITY.get(f.get("severity", ""), Severity.INFO)
        prev = old.get((endpoint, finding_id))
        if prev is None:
            out.append(Change(K.FINDING_NEW, host, endpoint,
                              f"new {severity.label} {finding_id}: {f.get('summary', '')}",
                              severity >= Severity.WARN, None, severity.label,
                              finding_id, severity))
            continue
        was = _SEVERITY.get(prev.get("severity", ""), Severity.INFO)
        if was != severity:
            out.append(Change(K.FINDING_SEVERITY, host, endpoint,
                              f"{finding_id} is now {severity.label}, was {was.label}",
                              severity > was, was.label, severity.label, finding_id, severity))
    for (endpoint, finding_id), f in old.items():
        if (endpoint, finding_id) not in new:
            severity = _SEVERITY.get(f.get("severity", ""), Severity.INFO)
            out.append(Change(K.FINDING_RESOLVED, host, endpoint,
                              f"resolved {severity.label} {finding_id}: {f.get('summary', '')}",
                              False, severity.label, None, finding_id, severity))
    return out


def _version(text: object) -> TLSVersion:
    try:
        return TLSVersion.parse(str(text))
    except ValueError:
        return TLSVersion.NONE


# --- verdicts ----------------------------------------------------------------------------------


def diff_exit_code(changes: Iterable[Change]) -> int:
    """``mailtls diff``: 0 no change, 1 changes without regression, 2 regressions."""
    changes = tuple(changes)
    if any(c.regression for c in changes):
        return FAILURES
    return WARNINGS if changes else OK


def baseline_exit_code(changes: Iterable[Change], fail_on: FailOn = FailOn.WARN) -> int:
    """``check --baseline``: findings already in the baseline are known and do not count; a new
    (or worse) finding counts by its severity as usual; any other regression is a failure."""
    if fail_on is FailOn.NEVER:
        return OK
    code = OK
    for c in changes:
        if c.kind in (K.FINDING_NEW, K.FINDING_SEVERITY) and c.severity is not None:
            if c.kind is K.FINDING_SEVERITY and not c.regression:
                continue
            if c.severity is Severity.FAIL:
                code = worst_code(code, FAILURES)
            elif c.severity is Severity.UNKNOWN:
                code = worst_code(code, UNKNOWN)
            elif c.severity is Severity.WARN and fail_on is FailOn.WARN:
                code = worst_code(code, WARNINGS)
        elif c.regression:
            code = worst_code(code, FAILURES)
    return code


# --- output ------------------------------------------------------------------------------------


def change_dict(c: Change) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "host": c.host,
        "endpoint": c.endpoint,
        "summary": c.summary,
        "regression": c.regression,
        "old": c.old,
        "new": c.new,
        "finding_id": c.finding_id,
        "severity": c.severity.label if c.severity is not None else None,
    }


def _side(doc: Doc, source: str) -> dict[str, Any]:
    return {"source": source, "started_at": doc.get("started_at"),
            "hosts": [h.get("name") for h in doc.get("hosts", [])]}


def diff_dict(old: Doc, new: Doc, changes: Sequence[Change], exit_code: int, *,
              old_source: str, new_source: str) -> dict[str, Any]:
    return {
        "schema": DIFF_SCHEMA,
        "old": _side(old, old_source),
        "new": _side(new, new_source),
        "summary": {
            "changes": len(changes),
            "regressions": sum(c.regression for c in changes),
            "exit_code": exit_code,
        },
        "changes": [change_dict(c) for c in changes],
    }


def change_line(c: Change) -> str:
    where = f" {c.endpoint}" if c.endpoint else ""
    mark = "REGRESSION" if c.regression else "change"
    return f"{mark:10} {c.kind:20} {c.host}{where}: {c.summary}"


def render_diff_text(old: Doc, new: Doc, changes: Sequence[Change], exit_code: int, *,
                     old_source: str, new_source: str) -> str:
    lines = [f"mailtls diff {old_source} ({old.get('started_at')}) -> {new_source} "
             f"({new.get('started_at')})"]
    for c in changes:
        lines.append(change_line(c))
        if c.old is not None or c.new is not None:
            lines.append(f"{'':10}   was: {c.old if c.old is not None else '-'}")
            lines.append(f"{'':10}   now: {c.new if c.new is not None else '-'}")
    if not changes:
        lines.append("no changes")
    regressions = sum(c.regression for c in changes)
    lines.append(f"{len(changes)} change(s), {regressions} regression(s) · exit {exit_code}")
    return "\n".join(lines) + "\n"
