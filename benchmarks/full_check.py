"""Wall time and connections of a full `mailtls check` of the seven mail ports, quick and deep.

Starts seven loopback servers from mailtls.testing in a child process (SMTP, submission and IMAP
and POP3 with STARTTLS; submissions, IMAPS and POP3S with implicit TLS), then runs
`python -m mailtls check` against all seven at once, N times with --quick (one connection per
port) and N times without (the TLS enumeration and the STARTTLS security probes too). Reports
the median wall time of the process, the scan's own time and the connections it opened.
Prints a table; writes benchmarks/results/full_check.json.

    python benchmarks/full_check.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mailtls.testing import TestPKI, start_imap, start_pop3, start_smtp

RESULTS = Path(__file__).parent / "results"
SERVICES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")


def serve(bind: str) -> int:
    """Child process: the seven servers; prints {service: port} and the CA; serves until EOF."""
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    with TestPKI() as pki:
        servers = {
            "smtp": start_smtp(pki, host=bind),
            "submission": start_smtp(pki, host=bind),
            "submissions": start_smtp(pki, host=bind, implicit_tls=True),
            "imap": start_imap(pki, host=bind),
            "imaps": start_imap(pki, host=bind, implicit_tls=True),
            "pop3": start_pop3(pki, host=bind),
            "pop3s": start_pop3(pki, host=bind, implicit_tls=True),
        }
        ports = {name: s.port for name, s in servers.items()}
        print(json.dumps({"ca_file": pki.ca_file(), "ports": ports}), flush=True)
        sys.stdin.read()
        for server in servers.values():
            server.stop()
    return 0


def check(bind: str, ca_file: str, ports: dict[str, int], *, quick: bool) -> dict[str, Any]:
    argv = [sys.executable, "-m", "mailtls", "check", "localhost", "--address", bind,
            "--ca-file", ca_file, "--format", "json"]
    for name in SERVICES:
        argv += ["--service", f"{name}={ports[name]}"]
    if quick:
        argv.append("--quick")
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - started
    report = json.loads(proc.stdout)
    endpoints = report["hosts"][0]["endpoints"]
    return {
        "wall": wall,
        "scan": report["seconds"],
        "connections": report["summary"]["connections"],
        "per_port": {e["service"]: e["connections"] for e in endpoints},
        "enumeration": {e["service"]: (e["tls_scan"] or {}).get("connections")
                        for e in endpoints},
        "exit_code": proc.returncode,
        "findings": sorted({f["id"] for h in report["hosts"] for f in h["findings"]}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bind", default="127.0.0.78", help="loopback address of the servers")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.bind.startswith("127."):
        parser.error("--bind must be a 127.0.0.0/8 address")
    if args.serve:
        return serve(args.bind)

    child = subprocess.Popen([sys.executable, __file__, "--serve", "--bind", args.bind],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        info = json.loads(child.stdout.readline())
        modes: dict[str, list[dict[str, Any]]] = {"quick": [], "deep": []}
        for _ in range(args.runs):
            for mode in modes:
                modes[mode].append(check(args.bind, info["ca_file"], info["ports"],
                                         quick=mode == "quick"))
    finally:
        child.stdin.close()
        child.wait(10)

    summary = {}
    print(f"{'mode':6} {'runs':>4} {'wall s (median)':>16} {'scan s':>7} {'connections':>11}  "
          "per port")
    for mode, runs in modes.items():
        s = {
            "runs": len(runs),
            "wall_median": round(statistics.median(r["wall"] for r in runs), 3),
            "wall_min": round(min(r["wall"] for r in runs), 3),
            "wall_max": round(max(r["wall"] for r in runs), 3),
            "scan_median": round(statistics.median(r["scan"] for r in runs), 3),
            "connections_median": statistics.median(r["connections"] for r in runs),
            "per_port": runs[-1]["per_port"],
            "enumeration_connections": runs[-1]["enumeration"],
            "findings": runs[-1]["findings"],
        }
        summary[mode] = s
        per_port = " ".join(f"{k}={v}" for k, v in s["per_port"].items())
        print(f"{mode:6} {s['runs']:>4} {s['wall_median']:>16} {s['scan_median']:>7} "
              f"{s['connections_median']:>11}  {per_port}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "full_check.json"
    out.write_text(json.dumps({"bind": args.bind, "summary": summary, "runs": modes},
                              indent=2) + "\n")
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
