"""A whole check of a real mail host next to nmap and sslyze: paired, alternating runs.

The host is the interop suite's private Debian Postfix (25, 587, 465) + Dovecot (143, 993,
110, 995) of profile ``good`` (tests/interop/interop_servers.py), on its own loopback address
inside a network namespace of this benchmark's own. Each round runs, one after the other and
in alternating order,

    mailtls check HOST --address ADDR --ca-file CA --format json        (full: enumeration and
                                                                         STARTTLS security probes)
    nmap -Pn -n -p 25,587,465,143,993,110,995 --script ssl-enum-ciphers,ssl-cert ADDR
    sslyze --starttls auto --sslv2 ... --tlsv1_3 --elliptic_curves HOST:PORT{ADDR} x 7

and then the quick pair, ``mailtls check ... --quick`` next to ``nmap ... --script ssl-cert``.
The ratio of each round is taken within the round (the machine's load moves both), and the
median of the rounds' ratios is reported. Each tool's suites per port and version are compared
with mailtls's. Beside each tool's own CPU time, the CPU time the whole machine spent during its
run (/proc/stat: the servers' share included) and that divided by the cores: the wall time the
run would take with every core busy, a floor no schedule goes below.

    python benchmarks/peers.py [--runs 7] [--sslyze-runs 2] [--profile good]

Needs root, Postfix and Dovecot (scripts/install/interop.sh), nmap, and sslyze in its own venv
(it pins its own cryptography): python3 -m venv /tmp/sslyze-venv &&
/tmp/sslyze-venv/bin/pip install sslyze  (or $SSLYZE). Writes benchmarks/results/peers.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from _bench import (
    PORTS,
    Run,
    agreement,
    in_private_netns,
    median,
    run_mailtls,
    run_nmap,
    run_sslyze,
    sslyze_exe,
    tool_version,
    write_results,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds of mailtls vs nmap")
    parser.add_argument("--sslyze-runs", type=int, default=2, help="rounds that include sslyze")
    parser.add_argument("--profile", default="good", help="interop profile (default: good)")
    args = parser.parse_args()
    in_private_netns()
    from tests.interop.interop_servers import HOST, PROFILES, missing_programs, running

    missing = missing_programs()
    if missing:
        print(f"cannot run: missing {', '.join(missing)}", file=sys.stderr)
        return 3
    full: dict[str, list[Run]] = {"mailtls": [], "nmap": [], "sslyze": []}
    quick: dict[str, list[Run]] = {"mailtls": [], "nmap": []}
    full_ratios: list[float] = []
    quick_ratios: list[float] = []
    sslyze_ratios: list[float] = []
    with running([PROFILES[args.profile]]) as (pki, servers), \
            tempfile.TemporaryDirectory() as tmp:
        server = servers[args.profile]
        address, ca = server.address, str(pki.ca_file)

        def mailtls(*extra: str) -> Run:
            return run_mailtls(HOST, address, ca, tmp, *extra)

        # Warm-up (not counted): postscreen on port 25 keeps its first client waiting once.
        mailtls("--quick")
        run_nmap(address, tmp, "ssl-cert")
        for round_ in range(args.runs):
            with_sslyze = round_ < args.sslyze_runs and sslyze_exe() is not None
            steps: list[tuple[str, Callable[[], Run]]] = [
                ("mailtls", mailtls), ("nmap", lambda: run_nmap(address, tmp))]
            if with_sslyze:
                steps.append(("sslyze", lambda: run_sslyze(HOST, address, tmp)))
            if round_ % 2:
                steps.reverse()
            got = {name: step() for name, step in steps}
            for name, run in got.items():
                full[name].append(run)
            full_ratios.append(got["mailtls"].seconds / got["nmap"].seconds)
            if "sslyze" in got and got["sslyze"].seconds:
                sslyze_ratios.append(got["mailtls"].seconds / got["sslyze"].seconds)
            pair: list[tuple[str, Callable[[], Run]]] = [
                ("mailtls", lambda: mailtls("--quick")),
                ("nmap", lambda: run_nmap(address, tmp, "ssl-cert"))]
            if round_ % 2:
                pair.reverse()
            got_quick = {name: step() for name, step in pair}
            for name, run in got_quick.items():
                quick[name].append(run)
            quick_ratios.append(got_quick["mailtls"].seconds / got_quick["nmap"].seconds)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{n} {r.seconds:.2f} s" for n, r in got.items()) + "; quick: " + ", ".join(
                f"{n} {r.seconds:.2f} s" for n, r in got_quick.items()), flush=True)
    return report(args, full, quick, full_ratios, quick_ratios, sslyze_ratios)


def _median_or_none(values: list[float]) -> float | None:
    return round(median(values), 3) if values else None


def report(args: argparse.Namespace, full: dict[str, list[Run]], quick: dict[str, list[Run]],
           full_ratios: list[float], quick_ratios: list[float],
           sslyze_ratios: list[float]) -> int:
    ours = full["mailtls"][-1]
    assert ours.report is not None
    rows: list[dict[str, Any]] = []
    for mode, runs in (("full", full), ("quick", quick)):
        for tool, done in runs.items():
            if not done:
                continue
            rows.append({"mode": mode, "tool": tool, "runs": len(done),
                         "median_s": round(median([r.seconds for r in done]), 3),
                         "median_cpu_s": round(median([r.cpu for r in done]), 3),
                         "median_machine_cpu_s": _median_or_none(
                             [r.machine_cpu for r in done if r.machine_cpu is not None]),
                         "errors": sorted({r.error for r in done if r.error})})
    agree: dict[str, dict[str, Any]] = {}
    for tool in ("nmap", "sslyze"):
        if full[tool] and not full[tool][-1].error:
            same, compared, diffs = agreement(ours.found, full[tool][-1].found)
            agree[tool] = {"same_ports": same, "compared": compared, "differences": diffs}
    per_port = [{"port": e["port"], "seconds": e["seconds"], "connections": e["connections"],
                 "enumeration_s": (e.get("tls_scan") or {}).get("seconds")}
                for e in ours.report["hosts"][0]["endpoints"]]
    summary = {
        "full_ratio_vs_nmap": round(median(full_ratios), 3),
        "quick_ratio_vs_nmap": round(median(quick_ratios), 3),
        "full_ratio_vs_sslyze": round(median(sslyze_ratios), 3) if sslyze_ratios else None,
        "goal_full": "<= 0.5", "goal_quick": "<= 0.8",
        "connections": ours.report["summary"]["connections"],
        "findings": sorted(f["id"] for f in ours.report["hosts"][0]["findings"]),
    }
    versions = {"nmap": tool_version(["nmap", "--version"]),
                "sslyze": tool_version([sslyze_exe() or "sslyze", "--help"])[:40],
                "python": sys.version.split()[0]}
    print()
    print(f"profile {args.profile}: {len(PORTS)} ports, {args.runs} rounds (paired, alternating)")
    cores = os.cpu_count() or 1
    print(f"{'mode':6} {'tool':8} {'runs':>4} {'median s':>9} {'cpu s':>7} "
          f"{'machine cpu s':>14} {'floor s':>8}  errors")
    for row in rows:
        machine = row["median_machine_cpu_s"]
        shown = (f"{machine:>14.2f} {machine / cores:>8.2f}" if machine is not None
                 else f"{'-':>14} {'-':>8}")
        print(f"{row['mode']:6} {row['tool']:8} {row['runs']:>4} {row['median_s']:>9.2f} "
              f"{row['median_cpu_s']:>7.2f} {shown}  {'; '.join(row['errors'])[:60]}")
    print(f"(machine cpu s: what every process of the machine spent during the run, the servers'"
          f" included; floor s: that / {cores} cores, the wall time with every core busy)")
    print()
    print(f"full check / nmap ssl-enum-ciphers+ssl-cert (median of rounds): "
          f"{summary['full_ratio_vs_nmap']:.2f}  (goal <= 0.5)")
    print(f"--quick / nmap ssl-cert (median of rounds): {summary['quick_ratio_vs_nmap']:.2f}  "
          f"(goal <= 0.8)")
    if sslyze_ratios:
        print(f"full check / sslyze: {summary['full_ratio_vs_sslyze']:.2f}")
    for tool, a in agree.items():
        print(f"suites per version agree with {tool}: {a['same_ports']}/{a['compared']} ports"
              + (f"; {'; '.join(a['differences'])}" if a["differences"] else ""))
    print()
    print(f"{'port':>5} {'seconds':>8} {'conns':>6} {'enum s':>7}   (mailtls, last full run)")
    for p in per_port:
        print(f"{p['port']:>5} {p['seconds']:>8.3f} {p['connections']:>6} "
              f"{p['enumeration_s'] if p['enumeration_s'] is not None else '-':>7}")
    path = write_results("peers", {"rows": rows, "summary": summary, "agreement": agree,
                                   "per_port": per_port, "versions": versions,
                                   "full_ratios": full_ratios, "quick_ratios": quick_ratios})
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
