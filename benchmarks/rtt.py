"""Over a network, round trips are what users wait for: a full check of real Postfix + Dovecot
at 20 ms and 100 ms round-trip time, next to nmap and sslyze.

The interop suite's private Postfix + Dovecot (profile ``good``) is reached through
``delay_proxy.py`` (a relay adding the round-trip time in user space: this machine has no
sch_netem for ``tc ... netem``; see that file), inside a network namespace of this benchmark's
own. For every RTT (0 = the same relay without delay) each tool runs ``--runs`` times,
alternating; the table shows the median wall time and the round trips it cost beyond the
0 ms run: (wall(rtt) - wall(0)) / rtt. For mailtls also each port's seconds in round trips (its
critical path: the port's longest chain of dependent steps, connection set-ups included) and
connections.

    python benchmarks/rtt.py [--rtts 0,20,100] [--runs 2] [--no-sslyze]

Writes benchmarks/results/rtt.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _bench import (
    PORTS,
    Run,
    in_private_netns,
    median,
    run_mailtls,
    run_nmap,
    run_sslyze,
    sslyze_exe,
    write_results,
)

PROXY_ADDRESS = "127.0.0.40"


def start_proxy(target: str, rtt_ms: float) -> subprocess.Popen[str]:
    proxy = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("delay_proxy.py")), PROXY_ADDRESS, target,
         str(rtt_ms), *(str(p) for p in PORTS.values())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proxy.stdout is not None
    if proxy.stdout.readline().strip() != "ready":
        proxy.kill()
        raise RuntimeError("the delay proxy did not start")
    return proxy


def connections(proxy: subprocess.Popen[str]) -> dict[int, int]:
    """Connections the proxy relayed per port since the last call."""
    assert proxy.stdin is not None and proxy.stdout is not None
    proxy.stdin.write("\n")
    proxy.stdin.flush()
    return {int(k): v for k, v in json.loads(proxy.stdout.readline()).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtts", default="0,20,100", help="round-trip times in ms")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-sslyze", action="store_true")
    parser.add_argument("--profile", default="good")
    args = parser.parse_args()
    in_private_netns()
    from tests.interop.interop_servers import HOST, PROFILES, running

    rtts = [float(x) for x in args.rtts.split(",")]
    tools = ["mailtls", "nmap"] + ([] if args.no_sslyze or sslyze_exe() is None else ["sslyze"])
    results: dict[float, dict[str, list[Run]]] = {}
    with running([PROFILES[args.profile]]) as (pki, servers), \
            tempfile.TemporaryDirectory() as tmp:
        target, ca = servers[args.profile].address, str(pki.ca_file)
        runners: dict[str, Any] = {
            # a generous deadline: at 100 ms a STARTTLS connection alone costs ~5 round trips
            "mailtls": lambda: run_mailtls(HOST, PROXY_ADDRESS, ca, tmp, "--timeout", "600"),
            "nmap": lambda: run_nmap(PROXY_ADDRESS, tmp),
            "sslyze": lambda: run_sslyze(HOST, PROXY_ADDRESS, tmp),
        }
        for rtt in rtts:
            proxy = start_proxy(target, rtt)
            try:
                run_mailtls(HOST, PROXY_ADDRESS, ca, tmp, "--quick")  # warm-up (postscreen)
                connections(proxy)
                results[rtt] = {t: [] for t in tools}
                for round_ in range(args.runs):
                    order = tools if round_ % 2 == 0 else tools[::-1]
                    for tool in order:
                        run = runners[tool]()
                        run.connections = connections(proxy)
                        results[rtt][tool].append(run)
                        print(f"rtt {rtt:g} ms, {tool}: {run.seconds:.2f} s, "
                              f"{sum(run.connections.values())} connections"
                              + (f" ({run.error})" if run.error else ""), flush=True)
            finally:
                if proxy.stdin is not None:
                    proxy.stdin.close()
                try:
                    proxy.wait(10)
                except subprocess.TimeoutExpired:
                    proxy.kill()
    return report(rtts, tools, results)


def report(rtts: list[float], tools: list[str], results: dict[float, dict[str, list[Run]]]
           ) -> int:
    base = {t: median([r.seconds for r in results[rtts[0]][t]]) for t in tools}
    rows = []
    print()
    print(f"{'rtt ms':>6} {'tool':8} {'median s':>9} {'round trips':>12} {'connections':>12}")
    for rtt in rtts:
        for tool in tools:
            wall = median([r.seconds for r in results[rtt][tool]])
            trips = (wall - base[tool]) / (rtt / 1000) if rtt else None
            conns = results[rtt][tool][-1].connections
            rows.append({"rtt_ms": rtt, "tool": tool, "median_s": round(wall, 3),
                         "round_trips": round(trips, 1) if trips is not None else None,
                         "connections": sum(conns.values()), "connections_per_port": conns})
            print(f"{rtt:>6g} {tool:8} {wall:>9.2f} "
                  f"{(f'{trips:.0f}' if trips is not None else '-'):>12} "
                  f"{sum(conns.values()):>12}")
    per_port: dict[str, Any] = {}
    for rtt in rtts:
        if not rtt:
            continue
        ours = results[rtt]["mailtls"][-1].report
        if ours is None:
            continue
        print(f"\nmailtls at {rtt:g} ms, per port (last run): seconds, in round trips, "
              "connections")
        ports = []
        for e in ours["hosts"][0]["endpoints"]:
            trips = e["seconds"] / (rtt / 1000)
            ports.append({"port": e["port"], "seconds": e["seconds"],
                          "round_trips": round(trips, 1), "connections": e["connections"]})
            print(f"  {e['port']:>4} {e['seconds']:>7.2f} s {trips:>6.0f} RT "
                  f"{e['connections']:>4} connections")
        per_port[f"{rtt:g}"] = ports
    path = write_results("rtt", {"rows": rows, "per_port": per_port,
                                 "proxy": "user-space relay (no sch_netem here)",
                                 "pid": os.getpid()})
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
