"""Celery workers against a PRIVATE Redis: submit, status, results identical to the embedded
path, a worker SIGKILLed mid-scan losing nothing, bounded attempts, the per-address limit held
across two workers (counted by the server), resume, secrets kept out of argv and logs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailtls.fleet.db import Database
from mailtls.testing import RunningServer
from tests.fleet.fleet_helpers import (
    REDIS_PASSWORD,
    Counter,
    Worker,
    mailtls_cmd,
    scan_args,
    targets_file,
    wait_finished,
)


def submit(db: str, targets: Path, *extra: str) -> str:
    proc = subprocess.run(mailtls_cmd("fleet", "submit", str(targets), "--db", db, *extra),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert REDIS_PASSWORD not in proc.stdout + proc.stderr
    return proc.stdout.strip()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(mailtls_cmd(*args), capture_output=True, text=True, timeout=60)


def _normal(doc: dict[str, Any]) -> dict[str, Any]:
    """What may differ between two scans of the same server: times."""
    doc = json.loads(json.dumps(doc))
    doc.pop("started_at"), doc.pop("seconds")
    for host in doc["hosts"]:
        for ep in host["endpoints"]:
            ep.pop("seconds")
            for line in ep.get("transcript", []):
                line.pop("at")
    return doc


def test_two_workers_same_reports_as_embedded_and_limit_across_workers(
        broker: str, workers: Callable[..., Worker],
        counting_server: tuple[Counter, RunningServer], tmp_path: Path) -> None:
    counter, server = counting_server
    counter.hold = 0.1
    db = str(tmp_path / "c.db")
    a, b = workers(db, concurrency=3), workers(db, concurrency=3)
    n = 40
    targets = targets_file(tmp_path, n)
    started = time.monotonic()
    run_id = submit(db, targets, "--chunk", "4",
                    *scan_args(server.port, "--max-connections", "3"))
    wait_finished(db, run_id)
    elapsed = time.monotonic() - started
    # 24 targets in flight in the two workers, but at most 3 connections at once to the one
    # address
    assert counter.total == n
    assert 2 <= counter.peak <= 3, counter
    assert elapsed > n * counter.hold / 3 * 0.9
    both = [w for w in (a, b) if "succeeded" in w.text()]
    assert len(both) == 2, "both workers took targets"

    status = cli("fleet", "status", run_id, "--db", db, "--format", "json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["done"] == n

    fleet = cli("fleet", "report", run_id, "--db", db, "--format", "jsonl")
    embedded = cli("check", "--targets", str(targets), "--format", "jsonl",
                   *scan_args(server.port, "--max-connections", "3"))
    assert fleet.returncode == embedded.returncode == 2
    by_name = {json.loads(x)["hosts"][0]["name"]: _normal(json.loads(x))
               for x in embedded.stdout.splitlines()}
    stored = [_normal(json.loads(x)) for x in fleet.stdout.splitlines()]
    assert len(stored) == n
    for doc in stored:
        assert doc == by_name[doc["hosts"][0]["name"]]
    for w in (a, b):
        assert REDIS_PASSWORD not in w.text()


def test_worker_sigkilled_mid_scan_loses_nothing(
        broker: str, workers: Callable[..., Worker],
        counting_server: tuple[Counter, RunningServer], tmp_path: Path) -> None:
    counter, server = counting_server
    counter.hold = 0.4  # every scan takes a while: the kill lands mid-scan
    db = str(tmp_path / "k.db")
    victim = workers(db, concurrency=4, visibility_timeout=3)
    n = 24
    run_id = submit(db, targets_file(tmp_path, n), *scan_args(server.port))
    deadline = time.monotonic() + 30
    while counter.total < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counter.open > 0, "the worker is mid-scan"
    victim.kill()
    st = Database(db).status(run_id)
    assert st.pending > 0, "targets were in hand or queued when it died"
    workers(db, concurrency=4, visibility_timeout=3)  # the survivor takes over
    wait_finished(db, run_id, timeout=90)
    st = Database(db).status(run_id)
    assert (st.done, st.failed) == (n, 0)
    fleet = cli("fleet", "report", run_id, "--db", db, "--format", "jsonl")
    names = [json.loads(x)["hosts"][0]["name"] for x in fleet.stdout.splitlines()]
    assert names == [f"h{i:03}.example.test" for i in range(n)]  # each exactly once


def test_failing_target_recorded_as_could_not_test(
        broker: str, workers: Callable[..., Worker], tmp_path: Path) -> None:
    """A run whose options make every scan raise: retried up to --max-attempts, then
    could-not-test with the reason."""
    db_path = str(tmp_path / "f.db")
    db = Database(db_path)
    options = {"version": 1, "domain_mode": False, "fail_on": "warn",
               "plan": [["no-such-service", 25, True]], "addresses": ["127.0.0.1"],
               "timeouts": [1, 1, 1], "deadline": 5, "max_connections": 1, "slow": False,
               "ca_file": None, "warn_days": 30, "quick": True, "profile": "mail",
               "relay_test": False, "detect_domains": False, "resolver": None,
               "dns_timeout": 1, "mta_sts_port": 443, "max_attempts": 2}
    db.create_run("broken", kind="celery", source="-", options=options,
                  names=["a.example.test", "b.example.test"])
    workers(db_path, concurrency=2)
    resumed = cli("fleet", "submit", "--resume", "broken", "--db", db_path)
    assert resumed.returncode == 0, resumed.stderr
    wait_finished(db_path, "broken", timeout=60)
    st = db.status("broken")
    assert (st.done, st.failed) == (0, 2)
    report = cli("fleet", "report", "broken", "--db", db_path, "--format", "jsonl")
    assert report.returncode == 3
    for line in report.stdout.splitlines():
        doc = json.loads(line)
        (finding,) = doc["hosts"][0]["findings"]
        assert finding["id"] == "mailtls.internal_error"
        assert "gave up after 2 attempt(s)" in finding["summary"]
        assert "KeyError" in finding["evidence"][0]
        assert doc["summary"]["exit_code"] == 3


def test_resubmitting_a_run_resumes_it(
        broker: str, workers: Callable[..., Worker],
        counting_server: tuple[Counter, RunningServer], tmp_path: Path) -> None:
    """A run queued while no worker runs, its queue then lost (Redis flushed): --resume queues
    the unfinished targets again and the run completes; finished targets are not scanned
    again."""
    import redis

    counter, server = counting_server
    db = str(tmp_path / "r.db")
    n = 6
    run_id = submit(db, targets_file(tmp_path, n), *scan_args(server.port))
    redis.Redis.from_url(broker).flushdb()  # the queue is gone
    # two targets got their result meanwhile (say, from an earlier worker)
    database = Database(db)
    for name in ("h000.example.test", "h001.example.test"):
        database.begin_attempt(run_id, name)
        cli_doc = cli("check", name, "--format", "json", *scan_args(server.port))
        database.store(run_id, name, json.loads(cli_doc.stdout))
    before = counter.total
    resumed = cli("fleet", "submit", "--resume", run_id, "--db", db)
    assert resumed.returncode == 0 and resumed.stdout.strip() == run_id
    assert "4 unfinished target(s) queued again" in resumed.stderr
    workers(db, concurrency=3)
    wait_finished(db, run_id)
    assert counter.total - before == n - 2


def test_bad_broker_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILTLS_BROKER", "redis://:sekret-pw@127.0.0.1:1/0")
    for args in (["worker", "--db", str(tmp_path / "w.db")],
                 ["fleet", "submit", os.devnull, "--db", str(tmp_path / "w.db")]):
        proc = cli(*args)
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert ("sekret-pw" not in proc.stderr and "cannot use it" in proc.stderr) \
            or "no host names" in proc.stderr
    monkeypatch.setenv("MAILTLS_BROKER", "amqp://127.0.0.1/")
    proc = cli("worker", "--db", str(tmp_path / "w.db"))
    assert proc.returncode == 3 and "not a Redis URL" in proc.stderr


def test_wrong_broker_password_is_one_line_without_it(redis_server: object, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtls.fleet.instances import PrivateRedis

    assert isinstance(redis_server, PrivateRedis)
    url = f"redis://:wrong-pw-123@{redis_server.host}:{redis_server.port}/0"
    monkeypatch.setenv("MAILTLS_BROKER", url)
    proc = cli("worker", "--db", str(tmp_path / "w.db"))
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr
    assert "wrong-pw-123" not in proc.stderr and ":***@" in proc.stderr


async def test_redis_limiter_leases_cool_down_and_expiry(broker: str) -> None:
    """The shared budget on its own: at most `limit` connections to an address at once over
    two budgets (two workers), a cool-down every holder waits out, and the lease of a holder
    that died (no renewal, no release) expiring by itself."""
    import asyncio

    import redis

    from mailtls.fleet.limiter import RedisConnectionBudget

    client = redis.Redis.from_url(broker)
    workers = [RedisConnectionBudget(client, limit=2, lease_seconds=0.6) for _ in range(2)]
    held = peak = 0

    async def hold(budget: RedisConnectionBudget, address: str = "127.0.0.9") -> None:
        nonlocal held, peak
        slot = budget.for_address(address)
        await slot.acquire()
        try:
            held += 1
            peak = max(peak, held)
            await asyncio.sleep(0.05)
            held -= 1
        finally:
            slot.release()

    await asyncio.gather(*(hold(workers[i % 2]) for i in range(8)))
    assert peak == 2

    workers[0].cool_down("127.0.0.9", 0.4)
    started = time.monotonic()
    await hold(workers[1])
    assert time.monotonic() - started >= 0.35

    # a holder that dies: its renewal stops and it never releases
    dead = RedisConnectionBudget(client, limit=1, lease_seconds=0.6)
    slot = dead.for_address("127.0.0.8")
    await slot.acquire()
    for _token, renewal in slot._held:  # type: ignore[attr-defined]
        renewal.cancel()
    started = time.monotonic()
    await hold(RedisConnectionBudget(client, limit=1, lease_seconds=0.6), "127.0.0.8")
    waited = time.monotonic() - started
    assert 0.4 < waited < 2.0, waited
    client.close()
