"""The outputs of ``mailtls serve``: a terminal table, JSON (schema ``mailtls-serve/1``, see
``mailtls/schema/serve-1.json``) and JUnit XML (a test case per serve case).

No output carries the throwaway password or anything the client sent as a credential: the
records hold only hashes and masked transcript lines, and the client's output tail is scrubbed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from mailtls import __version__

from .record import ConnectionRecord
from .runner import CaseResult, ServeResult

SCHEMA = "mailtls-serve/1"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Control characters as visible escapes (a client's bytes may be anything)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _connection(c: ConnectionRecord) -> dict[str, Any]:
    return {
        "index": c.index,
        "peer": c.peer,
        "started": c.started,
        "tls": {"version": c.tls_version, "error": c.tls_error, "attempted": c.tls_attempted},
        "starttls_requested": c.starttls_requested,
        "commands": [{"verb": clean(v), "tls": t} for v, t in c.commands],
        "credentials": [
            {"mechanism": cr.mechanism, "tls": cr.tls, "hash_prefix": cr.hash_prefix,
             "matches_test_password": cr.matches}
            for cr in c.credentials
        ],
        "authenticated": c.authenticated,
        "message_started_plaintext": c.message_started_plaintext,
        "message_accepted": c.message_accepted,
        "injection_acted": c.injection_acted,
        "completed": c.completed,
        "closed_by": c.closed_by or None,
        "transcript": [
            {"at": t.at, "dir": t.direction, "tls": t.tls, "text": clean(t.text)}
            for t in c.transcript
        ],
        "transcript_lines_dropped": c.dropped_lines,
    }


def _case(r: CaseResult) -> dict[str, Any]:
    c = r.case
    client = None
    if r.client is not None:
        client = {"command": r.client.command, "exit_code": r.client.exit_code,
                  "timed_out": r.client.timed_out, "output_tail": clean(r.client.output_tail),
                  "alert_shown": r.client.alert_shown}
    return {
        "id": c.id,
        "protocol": c.protocol,
        "mode": c.mode,
        "title": c.title,
        "reference": c.reference,
        "secure_behaviour": c.secure,
        "host": r.host,
        "port": r.port,
        "verdict": r.judgement.verdict,
        "reason": r.judgement.reason,
        "behaviours": list(r.judgement.behaviours),
        "seconds": r.seconds,
        "client": client,
        "connections": [_connection(conn) for conn in r.connections],
    }


def to_dict(result: ServeResult, exit_code: int) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tool": {"name": "mailtls", "version": __version__},
        "started": result.started.isoformat(),
        "finished": result.finished.isoformat(),
        "listen": result.listen,
        "drive": result.drive,
        "run": result.run,
        "run_implicit": result.run_implicit,
        "user": result.user,
        "summary": {v: result.count(v) for v in ("safe", "vulnerable", "inconclusive")},
        "exit_code": exit_code,
        "cases": [_case(r) for r in result.results],
    }


def render_json(result: ServeResult, exit_code: int) -> str:
    return json.dumps(to_dict(result, exit_code), indent=2, ensure_ascii=False)


def transcript_text(r: CaseResult) -> str:
    lines: list[str] = []
    for c in r.connections:
        lines.append(f"connection {c.index} from {c.peer} at {c.started:.2f}s")
        for t in c.transcript:
            lines.append(f"  {t.at:7.3f} {t.direction} {'TLS' if t.tls else '   '} "
                         f"{clean(t.text)}")
    if r.client is not None:
        state = "timed out" if r.client.timed_out else f"exit {r.client.exit_code}"
        lines.append(f"client: {state}")
        lines += [f"  | {clean(x)}" for x in r.client.output_tail.splitlines()]
    return "\n".join(lines)


def render_junit(result: ServeResult) -> str:
    root = ET.Element("testsuites", {"name": "mailtls serve"})
    for protocol in dict.fromkeys(r.case.protocol for r in result.results):
        mine = [r for r in result.results if r.case.protocol == protocol]
        suite = ET.SubElement(root, "testsuite", {
            "name": f"mailtls serve {protocol}",
            "tests": str(len(mine)),
            "failures": str(sum(r.judgement.verdict == "vulnerable" for r in mine)),
            "errors": str(sum(r.judgement.verdict == "inconclusive" for r in mine)),
            "skipped": "0",
            "time": f"{sum(r.seconds for r in mine):.3f}",
            "timestamp": result.started.isoformat(timespec="seconds"),
        })
        for r in mine:
            case = ET.SubElement(suite, "testcase", {
                "classname": f"mailtls.serve.{protocol}", "name": r.case.id,
                "time": f"{r.seconds:.3f}"})
            text = clean(f"{r.case.title}. A secure client {r.case.secure}. "
                         f"({r.case.reference})\n{r.judgement.reason}\n{transcript_text(r)}")
            if r.judgement.verdict == "vulnerable":
                el = ET.SubElement(case, "failure", {"type": "vulnerable",
                                                     "message": clean(r.judgement.reason)})
                el.text = text
            elif r.judgement.verdict == "inconclusive":
                el = ET.SubElement(case, "error", {"type": "inconclusive",
                                                   "message": clean(r.judgement.reason)})
                el.text = text
            else:
                ET.SubElement(case, "system-out").text = text
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


_STYLE = {"safe": "green", "vulnerable": "bold red", "inconclusive": "yellow"}


def render_terminal(result: ServeResult, *, verbose: bool, color: bool | None) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = StringIO()
    console = Console(file=out, width=110, no_color=color is False,
                      force_terminal=bool(color), highlight=False)
    table = Table(title=f"mailtls serve: {len(result.results)} cases", show_lines=False)
    table.add_column("case", no_wrap=True)
    table.add_column("port")
    table.add_column("verdict", no_wrap=True)
    table.add_column("what the client did")
    for r in result.results:
        v = r.judgement.verdict
        table.add_row(r.case.id, str(r.port), f"[{_STYLE[v]}]{v}[/]",
                      escape(r.judgement.reason))
    console.print(table)
    for r in result.results:
        if verbose or r.judgement.verdict != "safe":
            console.print(f"\n[bold]{r.case.id}[/] ({escape(r.case.reference)}): "
                          f"{escape(r.case.title)}")
            console.print(escape(transcript_text(r)), soft_wrap=True)
    counts = ", ".join(f"{result.count(v)} {v}" for v in ("safe", "vulnerable", "inconclusive"))
    console.print(f"\n{counts}")
    return out.getvalue()
