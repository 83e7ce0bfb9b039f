"""The fleet: the embedded path (`check --targets --db`) against 2 Celery workers, and a worker
SIGKILLed mid-run.

    python benchmarks/fleet.py                    # 10,000 targets (--targets N to change)

Runs in a network namespace of its own (re-executes itself under `unshare -n` as root), where a
test SMTP server (a child process, plain SMTP without STARTTLS: every target costs one
connection and a `--quick` check) answers on every loopback address; each target is an address
of 127.10.0.0/16 of its own. A PRIVATE redis-server and PostgreSQL cluster (temp dirs, loopback
ports) hold the queue and the results for both paths. Prints a table and writes
benchmarks/results/fleet.json.

Measured per path: seconds from the run's creation to its last stored report (the database's
clock, so process start-up and imports do not count; for the workers the submit's enqueueing
does), targets/s, CPU seconds per target (user + system of the mailtls processes from /proc,
start-up subtracted), peak RSS per process; the queue's overhead is the workers' CPU per target
over the embedded path's (the embedded path is one process on one core, so CPU per target is
the inverse of its throughput per core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PORT = 2525
WORKER_THREADS = 2  # messages at once per worker; x chunk = targets in flight
CHECK = ["--service", f"submission={PORT}", "--quick", "--timeout", "30",
         "--connect-timeout", "5", "--read-timeout", "10"]


def _address(i: int) -> str:
    return f"127.10.{i // 250}.{i % 250 + 1}"


def _serve() -> None:
    """The test server: answers SMTP on every address, counts connections per address."""
    counts: dict[str, int] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")[0]
        counts[local] = counts.get(local, 0) + 1
        try:
            writer.write(b"220 bench.example.test ESMTP\r\n")
            await writer.drain()
            while line := await reader.readline():
                word = line.split(b" ", 1)[0].strip().upper()
                if word == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                if word in (b"EHLO", b"HELO"):
                    writer.write(b"250-bench.example.test\r\n250 PIPELINING\r\n")
                else:
                    writer.write(b"502 no\r\n")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handler, "0.0.0.0", PORT, backlog=4096)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, lambda: _dump(counts))
        async with server:
            await stop.wait()
        _dump(counts)

    asyncio.run(main())


def _dump(counts: dict[str, int]) -> None:
    path = os.environ["BENCH_COUNTS"]
    with open(path + ".tmp", "w") as f:
        json.dump(counts, f)
    os.replace(path + ".tmp", path)


@dataclass
class Usage:
    seconds: float
    cpu: float
    max_rss_mb: float


def _wait(proc: subprocess.Popen[bytes]) -> Usage:
    _pid, _status, ru = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return Usage(0.0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024)


def _cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a running process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_span(db_url: str, run_id: str | None = None) -> tuple[str, float]:
    """A run's id and its seconds from creation to its last stored report (the database's
    clock: process start-up and imports are not counted)."""
    from mailtls.fleet.db import Database

    db = Database(db_url)
    try:
        if run_id is None:
            run_id = str(db.query("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1")[0]["id"])
        row = db.query("SELECT MIN(r.created_at) AS a, MAX(p.finished_at) AS b FROM runs r "
                       "JOIN reports p ON p.run_id = r.id WHERE r.id = :run", run=run_id)[0]
        return run_id, (row["b"] - row["a"]).total_seconds()
    finally:
        db.dispose()


def _first_run(db_url: str, known: set[str]) -> str:
    from mailtls.fleet.db import Database

    db = Database(db_url)
    try:
        while True:
            ids = {str(r["id"]) for r in db.query("SELECT id FROM runs")} - known
            if ids:
                return ids.pop()
            time.sleep(0.02)
    finally:
        db.dispose()


def _mailtls(*args: str, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "mailtls", *args], cwd=ROOT, **kw)


def _wait_done(db_url: str, run_id: str, total: int, timeout: float,
               on_progress: Any = None) -> float:
    from mailtls.fleet.db import Database

    db = Database(db_url)
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = db.status(run_id)
            if on_progress is not None:
                on_progress(st.done + st.failed)
            if st.finished:
                return time.monotonic()
            time.sleep(0.1)
        raise SystemExit(f"run {run_id} did not finish in {timeout:g} s: {db.status(run_id)}")
    finally:
        db.dispose()


def _start_workers(n: int, db_url: str, env: dict[str, str], concurrency: int,
                   visibility: float, logdir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = open(logdir / f"worker{i}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        procs.append(_mailtls("worker", "--concurrency", str(WORKER_THREADS),
                              "--visibility-timeout", str(visibility), "--loglevel", "WARNING",
                              env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True))
    time.sleep(3.0)  # the workers connect and start consuming
    return procs


def _submit(targets: Path, env: dict[str, str], extra: list[str]) -> str:
    out = subprocess.run([sys.executable, "-m", "mailtls", "fleet", "submit", str(targets),
                          *CHECK, *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from mailtls.fleet.instances import PrivatePostgres, PrivateRedis

    results: dict[str, Any] = {"targets": args.targets, "concurrency": args.concurrency,
                               "cores": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="mailtls-bench-fleet-"))
    counts_path = tmp / "counts.json"
    targets = tmp / "targets.txt"
    targets.write_text("".join(_address(i) + "\n" for i in range(args.targets)))
    server = subprocess.Popen([sys.executable, __file__, "--serve"],
                              env={**os.environ, "BENCH_COUNTS": str(counts_path)})
    time.sleep(1.0)
    with PrivateRedis() as redis_server, PrivatePostgres() as pg:
        db_url = pg.url(pg.create_database("bench"))
        env = {**os.environ, "MAILTLS_DB": db_url, "MAILTLS_BROKER": redis_server.url(0)}
        try:
            # --- embedded ----------------------------------------------------------------
            proc = _mailtls("check", "--targets", str(targets), "--db", "--format", "jsonl",
                            "--max-hosts", str(args.concurrency), *CHECK, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _first_run(db_url, set())
            startup_cpu = _cpu(proc.pid)  # imports, reading the targets, creating the run
            usage = _wait(proc)
            _run, seconds = _run_span(db_url)
            results["embedded"] = _row(seconds, usage.cpu - startup_cpu, [usage.max_rss_mb],
                                       args.targets)

            # --- 2 workers: the same targets in flight per process -------------------------
            chunk = ["--chunk", str(max(1, args.concurrency // WORKER_THREADS))]
            workers = _start_workers(2, db_url, env, args.concurrency, 60.0, tmp)
            idle_cpu = sum(_cpu(w.pid) for w in workers)
            started = time.monotonic()
            run_id = _submit(targets, env, chunk)
            submitted = time.monotonic() - started
            _wait_done(db_url, run_id, args.targets, timeout=3600)
            busy_cpu = sum(_cpu(w.pid) for w in workers) - idle_cpu
            _run, seconds = _run_span(db_url, run_id)
            usages = []
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
                usages.append(_wait(w))
            results["workers"] = _row(seconds, busy_cpu, [u.max_rss_mb for u in usages],
                                      args.targets)
            results["workers"]["submit_seconds"] = round(submitted, 2)
            emb = results["embedded"]["cpu_ms_per_target"]
            results["queue_overhead_cpu"] = round(
                results["workers"]["cpu_ms_per_target"] / emb - 1, 3)
            results["throughput_per_core_ratio"] = round(
                emb / results["workers"]["cpu_ms_per_target"], 3)

            # --- 2 workers, one SIGKILLed mid-run ----------------------------------------
            server.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            before = json.loads(counts_path.read_text())
            workers = _start_workers(2, db_url, env, args.concurrency, args.visibility, tmp)
            started = time.monotonic()
            run_id = _submit(targets, env, chunk)
            killed = {"done": False}

            def kill_at_30_percent(done: int) -> None:
                if not killed["done"] and done >= args.targets * 0.3:
                    os.killpg(workers[0].pid, signal.SIGKILL)
                    killed["done"] = True
                    killed["at"] = done  # type: ignore[assignment]

            _wait_done(db_url, run_id, args.targets, timeout=3600,
                       on_progress=kill_at_30_percent)
            elapsed = time.monotonic() - started
            for w in workers:
                if w.poll() is None:
                    os.killpg(w.pid, signal.SIGTERM)
                w.wait()
            server.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            after = json.loads(counts_path.read_text())
            scans = {a: after.get(a, 0) - before.get(a, 0) for a in after}
            from mailtls.fleet.db import Database

            db = Database(db_url)
            rows = db.query("SELECT target, COUNT(*) AS n FROM reports WHERE run_id = :run "
                            "GROUP BY target", run=run_id)
            st = db.status(run_id)
            db.dispose()
            results["sigkill"] = {
                "killed_at_done": killed.get("at"),
                "seconds": round(elapsed, 2),
                "final_results": len(rows),
                "targets_with_one_result": sum(1 for r in rows if r["n"] == 1),
                "done": st.done, "failed": st.failed, "pending": st.pending,
                "scanned_twice": sum(1 for n in scans.values() if n > 1),
                "visibility_timeout": args.visibility,
            }
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def _row(seconds: float, cpu: float, rss: list[float], n: int) -> dict[str, Any]:
    return {"seconds": round(seconds, 2), "targets_per_s": round(n / seconds, 1),
            "cpu_seconds": round(cpu, 2), "cpu_ms_per_target": round(cpu * 1000 / n, 2),
            "peak_rss_mb": [round(r, 1) for r in rss]}


def _table(r: dict[str, Any]) -> str:
    e, w, k = r["embedded"], r["workers"], r["sigkill"]
    lines = [
        f"fleet benchmark: {r['targets']} targets, {r['cores']} cores, concurrency "
        f"{r['concurrency']} per process",
        "",
        "| path | wall s | targets/s | CPU ms/target | peak RSS MB per process |",
        "|---|---:|---:|---:|---|",
        f"| embedded (check --targets --db, 1 process) | {e['seconds']} | {e['targets_per_s']} "
        f"| {e['cpu_ms_per_target']} | {', '.join(map(str, e['peak_rss_mb']))} |",
        f"| 2 Celery workers (2 threads x chunk {r['concurrency'] // WORKER_THREADS}) | "
        f"{w['seconds']} | {w['targets_per_s']} | "
        f"{w['cpu_ms_per_target']} | {', '.join(map(str, w['peak_rss_mb']))} |",
        "",
        f"queue overhead (CPU per target, workers vs embedded): {r['queue_overhead_cpu']:+.1%}",
        f"throughput per CPU second, workers / embedded: {r['throughput_per_core_ratio']:.2f}",
        f"submit ({r['targets']} targets, chunks of {r['concurrency'] // WORKER_THREADS}, "
        f"process start-up included): {w['submit_seconds']} s",
        "",
        f"SIGKILL of 1 of 2 workers at {k['killed_at_done']} done: {k['final_results']} final "
        f"results, {k['targets_with_one_result']} targets with exactly one, done {k['done']}, "
        f"failed {k['failed']}, pending {k['pending']}; {k['scanned_twice']} scanned twice "
        f"(in hand when killed); {k['seconds']} s with visibility timeout "
        f"{k['visibility_timeout']:g} s",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=10,
                        help="targets in flight per process: --max-hosts of the embedded "
                        "path; 2 threads x --chunk N/2 of each worker")
    parser.add_argument("--visibility", type=float, default=15.0,
                        help="visibility timeout of the SIGKILL run (s)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve()
        return
    if not args.in_netns:
        if os.geteuid() != 0:
            raise SystemExit("run as root: the benchmark makes a network namespace of its own")
        argv = [sys.executable, __file__, "--in-netns", *sys.argv[1:]]
        inner = "ip link set lo up && exec " + " ".join(f"'{a}'" for a in argv)
        raise SystemExit(subprocess.call(["unshare", "-n", "--", "sh", "-c", inner]))
    results = bench(args)
    print(_table(results))
    out = ROOT / "benchmarks/results/fleet.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
