"""The Celery application of the fleet: one queue, one task: scan a chunk of targets of a run.

A message carries a run id and a chunk of target names (``fleet submit --chunk``, default 10);
the worker scans them at once in one event loop, each with ``mailtls.fleet.task.scan_target``
(as the embedded path does) and each stored as soon as it finishes. A message per target would
cost Celery's per-message work (a few ms of CPU) for every target, several times the scan of a
quick target; a chunk shares it.

Nothing lost:

- **Late acks.** A message is acknowledged only after the target's result is in the database
  (``acks_late``). A worker killed with SIGKILL never acknowledges what it held; Redis keeps
  those messages in its "unacked" set and any live worker puts them back on the queue once the
  visibility timeout has passed (``--visibility-timeout``: longer than the longest scan, as a
  message still being worked on is also put back after it). ``reject_on_worker_lost`` does the
  same at once when only a pool process dies (``prefork``; the default ``threads`` pool lives
  in the worker process itself).
- **Idempotent writes** keyed by (run, target) (``mailtls.fleet.db``): a target scanned twice
  has one result; a delivery of a target that already has its result does nothing.
- **Bounded attempts.** Each delivery counts an attempt in the database before it scans. A
  chunk delivered again after its worker was lost is split into one message per target, so a
  target that kills its worker uses up only its own attempts. A target whose scan raises is
  retried (1 s, 2 s, 4 s, ... later) until ``max_attempts``; a target that was delivered more
  often than that without a result (it kept killing its worker) is not scanned again: both end
  as could-not-test with the reason.
- **Prefetch 1.** A worker reserves only what it works on, so a dead worker strands few
  messages and a slow target does not hold others back.
"""

from __future__ import annotations

import asyncio
import os
import platform
import threading
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery, Task

from mailtls.fleet.db import DONE, FAILED, PENDING, Database
from mailtls.fleet.limiter import RedisConnectionBudget
from mailtls.fleet.task import could_not_test, per_address, rate_limited_addresses, scan_target
from mailtls.fleet.writer import ResultWriter

__all__ = ["QUEUE", "TASK_NAME", "app", "configure", "enqueue", "serve"]

QUEUE = "mailtls"
TASK_NAME = "mailtls.fleet.scan_target"
DEFAULT_VISIBILITY_TIMEOUT = 900.0
DEFAULT_CHUNK = 10  # targets per message: scanned at once, each stored on its own

app = Celery("mailtls", set_as_current=False)


def configure(broker: str, *, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> Celery:
    app.conf.update(
        broker_url=broker,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # look for messages of dead workers about every visibility_timeout / 4
            "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 4)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=False,  # an unexpected error: back on the queue later
        task_ignore_result=True,  # results go to the database, not to a Celery backend
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


@dataclass
class WorkerState:
    """What a worker process shares among its tasks (set by ``serve``)."""

    db: Database
    redis: redis.Redis
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_options(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            cached = self.options.get(run_id)
        if cached is None:
            cached = self.db.run_options(run_id)
            with self.lock:
                self.options[run_id] = cached
        return cached


_state: WorkerState | None = None


@app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
    name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def scan_task(self: Task[Any, Any], run_id: str, names: list[str]) -> dict[str, int]:
    """Scan a chunk of targets of ``run_id`` at once, each with ``scan_target`` and each stored
    as it finishes; acknowledged when all are stored."""
    assert _state is not None, "the fleet task runs only in `mailtls worker`"
    state = _state
    seen = state.db.attempts(run_id, names)
    pending = [n for n in names if seen.get(n, (None, 0))[0] == PENDING]
    if len(pending) > 1 and any(seen[n][1] for n in pending):
        # A chunk delivered again: its worker was lost. From now on each target travels
        # alone, so a target that kills its worker uses up only its own attempts.
        enqueue(run_id, pending, chunk=1)
        return {"split": len(pending)}
    if not pending:
        return {"already final": len(names)}  # a second delivery: nothing to do
    options = state.run_options(run_id)
    max_attempts = int(options.get("max_attempts", 3))
    attempts = state.db.begin_attempts(run_id, pending)
    limits = RedisConnectionBudget(state.redis, limit=per_address(options))
    counts = asyncio.run(_scan_chunk(state, run_id, pending, attempts, options, max_attempts,
                                     limits))
    if counts.get("retry"):
        worst = max(attempts[n] for n in pending)
        raise self.retry(countdown=2 ** (worst - 1))  # the targets without a result
    return counts


async def _scan_chunk(state: WorkerState, run_id: str, names: list[str],
                      attempts: dict[str, int], options: dict[str, Any], max_attempts: int,
                      limits: RedisConnectionBudget) -> dict[str, int]:
    counts = {"done": 0, FAILED: 0, "retry": 0}
    writer = ResultWriter(state.db, run_id)

    async def store(name: str, doc: dict[str, Any], final: str, reason: str | None) -> None:
        writer.add(name, doc, state=final, reason=reason)
        counts[final if final == FAILED else "done"] += 1

    async def one(name: str) -> None:
        tried = attempts[name]
        if tried > max_attempts:
            reason = (f"{tried - 1} deliveries ended without a result (the worker was lost "
                      "each time)")
            await store(name, could_not_test(options, name, reason, attempts=tried - 1),
                        FAILED, reason)
            return
        try:
            doc = await scan_target(options, name, address_limits=limits)
        except Exception as exc:  # a bug or a bad run: retried, then could-not-test
            reason = f"{type(exc).__name__}: {exc}"[:500]
            if tried < max_attempts:
                counts["retry"] += 1
                return
            await store(name, could_not_test(options, name, reason, attempts=tried), FAILED,
                        reason)
            return
        for address in rate_limited_addresses(doc):
            limits.cool_down(address)
        await store(name, doc, DONE, None)

    try:
        await asyncio.gather(*(one(n) for n in names))
    finally:
        await writer.drain()  # acknowledged only once everything is stored
    return counts


def redis_client(broker: str) -> redis.Redis:
    return redis.Redis.from_url(broker, socket_connect_timeout=5, socket_timeout=30)


def enqueue(run_id: str, names: list[str], *, chunk: int = DEFAULT_CHUNK) -> int:
    """Put the targets on the queue, ``chunk`` per message (the app must be configured); the
    number of messages."""
    messages = 0
    with app.producer_or_acquire() as producer:
        for start in range(0, len(names), chunk):
            scan_task.apply_async((run_id, names[start:start + chunk]), queue=QUEUE,
                                  producer=producer, retry=True,
                                  retry_policy={"max_retries": 3})
            messages += 1
    return messages


def serve(db: Database, broker: str, *, concurrency: int, visibility_timeout: float,
          loglevel: str = "INFO") -> None:
    """Run a worker in this process until it is stopped (SIGTERM: warm shutdown)."""
    global _state
    configure(broker, visibility_timeout=visibility_timeout)
    _state = WorkerState(db=db, redis=redis_client(broker))
    name = f"mailtls-{os.getpid()}@{platform.node()}"
    app.worker_main([
        "worker", "--pool=threads", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
        "-Q", QUEUE, "-n", name, "--without-gossip", "--without-mingle",
    ])
