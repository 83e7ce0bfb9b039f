"""Peak memory and wall time of `mailtls check` against every case of the hostile matrix.

Every protocol (SMTP, IMAP, POP3) x port kind (STARTTLS, implicit TLS) x phase (greeting,
capabilities, STARTTLS reply, capabilities inside TLS, every other command) x behaviour (endless
short lines, one endless line, 1 byte/s drip, silence, garbage, close, reset): 168 cases, each
one `mailtls check` of one loopback port (mailtls.testing.hostile.misbehaving) in a child
process of its own, so the peak RSS is that case's. The phases before "commands" run with
--quick; "commands" runs the deep probes and the login test (--user), whose replies it spoils.
Every case must stay under 100 MB and end within its deadline (+0.5 s, wall time of the child).

    python benchmarks/hostile_matrix.py [--deadline 5] [--parallel 1] [--only imap]

Prints a line per case and a summary; writes benchmarks/results/hostile_matrix.json; exits 1
if a case breaks a bound (or prints a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mailtls.testing import TestPKI, hostile
from mailtls.testing.matrix import PROTOCOLS, Case, cases, check_argv, run_measured

RESULTS = Path(__file__).parent / "results"
MAX_RSS_MB = 100.0
SLACK = 0.5


def run_case(pki: TestPKI, case: Case, port: int, deadline: float) -> dict[str, Any]:
    deep = case.phase == "commands"
    argv = check_argv(pki.ca_file(), [(case.service, port)], deadline=deadline, quick=not deep,
                      user="alice" if deep else None)
    out = run_measured(argv, limit=deadline + 30, password="made-up-password-1")
    try:
        endpoint = out.endpoint(port)
        findings = sorted(out.findings(port))
        report_seconds = out.report["seconds"]
    except (ValueError, KeyError, StopIteration):
        endpoint, findings, report_seconds = {}, ["(no report)"], None
    return {
        "case": case.name, "protocol": case.protocol, "implicit_tls": case.implicit,
        "phase": case.phase, "behaviour": case.behaviour,
        "seconds": out.seconds, "report_seconds": report_seconds,
        "main_seconds": out.main_seconds, "exit": out.code,
        "peak_rss_mb": out.peak_rss_mb, "error_kind": endpoint.get("error_kind"),
        "findings": findings, "traceback": "Traceback" in out.stderr,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deadline", type=float, default=5.0, help="--timeout of each check")
    parser.add_argument("--parallel", type=int, default=1, help="children at once")
    parser.add_argument("--only", choices=PROTOCOLS, action="append", help="protocols")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with TestPKI() as pki, contextlib.ExitStack() as stack:
        todo = []
        for case in cases(args.only or PROTOCOLS):
            server = stack.enter_context(hostile.misbehaving(
                pki, case.protocol, case.phase, case.behaviour, implicit_tls=case.implicit))
            todo.append((case, server.port))
        with ThreadPoolExecutor(max(1, args.parallel)) as pool:
            for row in pool.map(lambda item: run_case(pki, item[0], item[1], args.deadline),
                                todo):
                rows.append(row)
                # "commands": the basic probe succeeds, what the deep probes met may be a warning
                codes = (0, 1, 2, 3) if row["phase"] == "commands" else (2, 3)
                ok = (row["peak_rss_mb"] < MAX_RSS_MB and not row["traceback"]
                      and row["seconds"] <= args.deadline + SLACK and row["exit"] in codes)
                row["within_bounds"] = ok
                print(f"{'ok ' if ok else 'BAD'} {row['case']:44} {row['seconds']:5.2f} s  "
                      f"rss {row['peak_rss_mb']:5.1f} MB  exit {row['exit']}  "
                      f"{', '.join(row['findings'])}", flush=True)
    bad = [r for r in rows if not r["within_bounds"]]
    summary = {
        "cases": len(rows), "deadline": args.deadline, "parallel": args.parallel,
        "max_peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
        "max_main_seconds": max(r["main_seconds"] for r in rows),
        "max_seconds": max(r["seconds"] for r in rows),
        "max_report_seconds": max(r["report_seconds"] or 0 for r in rows),
        "out_of_bounds": [r["case"] for r in bad],
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    (RESULTS / "hostile_matrix.json").write_text(
        json.dumps({"summary": summary, "cases": rows}, indent=2) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
