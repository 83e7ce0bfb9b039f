"""Cost growth with the number of hosts: ``mailtls check --targets FILE`` over 1, 10, 100 and
1000 loopback hosts.

Every host is its own loopback address (127.1.x.y) with an IMAPS server (``mailtls.testing``,
implicit TLS on 993, all in one child process, as real servers are not in the scanner's
process), inside a network namespace of this benchmark's own. mailtls runs once per size:

    mailtls check --targets FILE --ca-file CA --only imaps --quick --format json

(``--quick``: the basic probe, one connection per port, so the numbers are mailtls's own cost
per host, not the servers'). Wall time and the peak resident memory of the mailtls process
(``wait4`` rusage) are printed per size and per host. Growth is linear or better when the
time and the memory per host do not rise with the number of hosts.

    python benchmarks/growth.py [--sizes 1,10,100,1000] [--deep-sizes 1,10]

``--deep-sizes``: sizes also run without ``--quick`` (the full enumeration, ~40 connections
per host). Writes benchmarks/results/growth.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import in_private_netns, write_results


def address(index: int) -> str:
    return f"127.1.{index // 250}.{index % 250 + 1}"


def serve(count: int) -> int:
    """Child process: ``count`` IMAPS servers; prints the CA file, serves until stdin ends."""
    from mailtls.testing import TestPKI, start_imap

    logging.getLogger("asyncio").setLevel(logging.ERROR)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with TestPKI() as pki:
        servers = [start_imap(pki, host=address(i), port=993, implicit_tls=True)
                   for i in range(count)]
        print(json.dumps({"ca_file": pki.ca_file()}), flush=True)
        sys.stdin.read()
        for server in servers:
            server.stop()
    return 0


def measure(targets: str, ca_file: str, *extra: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "mailtls", "check", "--targets", targets, "--ca-file", ca_file,
            "--only", "imaps", "--format", "json", "--timeout", "600", *extra]
    started = time.monotonic()
    with open(os.devnull, "wb") as devnull:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=devnull,
                                 cwd=tempfile.gettempdir())
        assert child.stdout is not None
        out = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    try:
        hosts = len(json.loads(out).get("hosts", []))
    except ValueError:
        hosts = 0
    return {"wall_s": round(wall, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "exit": os.waitstatus_to_exitcode(
                status), "hosts_reported": hosts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--deep-sizes", default="1,10")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    in_private_netns()
    sizes = [int(x) for x in args.sizes.split(",")]
    deep_sizes = [int(x) for x in args.deep_sizes.split(",") if x]
    rows = []
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(max(sizes + deep_sizes))],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        ca_file = json.loads(child.stdout.readline())["ca_file"]
        with tempfile.TemporaryDirectory() as tmp:
            for mode, wanted in (("quick", sizes), ("deep", deep_sizes)):
                for n in wanted:
                    targets = Path(tmp, f"targets-{n}.txt")
                    targets.write_text("".join(f"{address(i)}\n" for i in range(n)))
                    got = measure(str(targets), ca_file, *(("--quick",) if mode == "quick"
                                                           else ()))
                    row = {"mode": mode, "hosts": n, **got,
                           "ms_per_host": round(got["wall_s"] * 1000 / n, 2),
                           "kib_per_host": round(got["peak_rss_mib"] * 1024 / n, 1)}
                    rows.append(row)
                    print(f"{mode:5} {n:>5} hosts: {got['wall_s']:.2f} s, peak "
                          f"{got['peak_rss_mib']:.1f} MiB, exit {got['exit']}, "
                          f"{got['hosts_reported']} reported", flush=True)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
    print()
    print(f"{'mode':5} {'hosts':>6} {'wall s':>8} {'ms/host':>8} {'peak MiB':>9} "
          f"{'marginal KiB/host':>18} {'cpu s':>7}")
    for row in rows:
        same = [r for r in rows if r["mode"] == row["mode"]]
        first = same[0]
        marginal = ((row["peak_rss_mib"] - first["peak_rss_mib"]) * 1024
                    / (row["hosts"] - first["hosts"])) if row is not first else None
        row["marginal_kib_per_host"] = round(marginal, 1) if marginal is not None else None
        print(f"{row['mode']:5} {row['hosts']:>6} {row['wall_s']:>8.2f} {row['ms_per_host']:>8.1f} "
              f"{row['peak_rss_mib']:>9.1f} "
              f"{(f'{marginal:.1f}' if marginal is not None else '-'):>18} {row['cpu_s']:>7.2f}")
    path = write_results("growth", {"rows": rows})
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
