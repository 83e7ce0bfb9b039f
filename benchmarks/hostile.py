"""Time to verdict and peak memory of `mailtls check` against each hostile server.

Each case runs `python -m mailtls check` in a subprocess (so its peak RSS is its own) against a
loopback server from mailtls.testing.hostile, with --read-timeout 3 --handshake-timeout 3
--timeout 20 --quick. Prints a table; writes benchmarks/results/hostile.json.

    python benchmarks/hostile.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailtls.testing import RunningServer, TestPKI, hostile, start_smtp

RESULTS = Path(__file__).parent / "results"


def cases(pki: TestPKI) -> list[tuple[str, str, Callable[[], RunningServer]]]:
    return [
        ("tarpit (never speaks)", "submission", hostile.tarpit),
        ("greeting at 1 byte/s", "submission", hostile.slow_greeting),
        ("endless multi-line reply", "submission", hostile.endless_multiline),
        ("1 MB line without CRLF", "submission", hostile.long_line),
        ("binary garbage greeting", "submission", hostile.garbage),
        ("TLS on a plaintext port", "submission", lambda: hostile.tls_on_plaintext_port(pki)),
        ("plaintext on a TLS port", "submissions", hostile.plaintext_on_tls_port),
        ("reset mid-handshake", "submission", hostile.reset_mid_handshake),
        ("close after STARTTLS go-ahead", "submission", hostile.close_after_go_ahead),
        ("421 too many connections", "submission", hostile.too_many_connections),
        ("silent after STARTTLS", "submission", hostile.silent_after_starttls),
        ("well-behaved (reference)", "submission", lambda: start_smtp(pki)),
    ]


# Runs mailtls's CLI in the child and reports the child's own peak RSS on the last stderr line.
_WRAPPER = (
    "import resource, sys; from mailtls.cli.app import main; code = main(sys.argv[1:]); "
    "print(f'maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr); "
    "raise SystemExit(code)"
)


def run_case(pki: TestPKI, service: str, port: int) -> dict[str, Any]:
    argv = [sys.executable, "-c", _WRAPPER, "check", "mail.example.test", "--address",
            "127.0.0.1", "--service", f"{service}={port}", "--ca-file", pki.ca_file(),
            "--read-timeout", "3", "--handshake-timeout", "3", "--timeout", "20", "--quick",
            "--format", "json"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    report = json.loads(proc.stdout)
    endpoint = report["hosts"][0]["endpoints"][0]
    maxrss_kb = int(proc.stderr.strip().splitlines()[-1].removeprefix("maxrss="))
    return {
        "seconds": round(elapsed, 2),
        "exit": proc.returncode,
        "verdict": sorted({f["id"] for f in report["hosts"][0]["findings"]}),
        "error_kind": endpoint["error_kind"],
        "traceback": "Traceback" in proc.stderr,
        "peak_rss_mb": round(maxrss_kb / 1024, 1),
    }


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    rows = []
    with TestPKI() as pki:
        for name, service, make in cases(pki):
            with make() as server:
                result = run_case(pki, service, server.port)
            rows.append({"case": name, **result})
            print(f"{name:32} {result['seconds']:6.2f} s  exit {result['exit']}  "
                  f"rss {result['peak_rss_mb']:5.1f} MB  {', '.join(result['verdict'])}")
    (RESULTS / "hostile.json").write_text(json.dumps(rows, indent=2) + "\n")
    bad = [r for r in rows if r["traceback"] or r["seconds"] > 25]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
