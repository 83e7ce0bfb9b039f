"""Fixtures of the fleet tests: a PRIVATE redis-server and PostgreSQL cluster (own temp dir,
own loopback port; never the system's), loopback SMTP servers that count connections, and
`mailtls worker` processes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("celery")
pytest.importorskip("sqlalchemy")

from mailtls.fleet.instances import PrivatePostgres, PrivateRedis
from mailtls.testing import RunningServer
from tests.fleet.fleet_helpers import REDIS_PASSWORD, Counter, Worker, counting_smtp, mailtls_cmd


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedis]:
    with PrivateRedis(password=REDIS_PASSWORD) as r:
        yield r


@pytest.fixture
def broker(redis_server: PrivateRedis, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The broker URL (with its password) in $MAILTLS_BROKER, on an empty Redis database."""
    import redis

    url = redis_server.url(1)
    client = redis.Redis.from_url(url)
    client.flushdb()
    monkeypatch.setenv("MAILTLS_BROKER", url)
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        yield pg


_pg_count = 0


@pytest.fixture
def pg_url(postgres: PrivatePostgres) -> str:
    """A fresh database of the private cluster (URL with the password)."""
    global _pg_count
    _pg_count += 1
    return postgres.url(postgres.create_database(f"fleet{os.getpid()}_{_pg_count}"))


@pytest.fixture
def counting_server() -> Iterator[tuple[Counter, RunningServer]]:
    counter = Counter()
    server = counting_smtp(counter)
    try:
        yield counter, server
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start `mailtls worker` processes (each in its own process group); all stopped at the
    end."""
    started: list[Worker] = []

    def start(db: str, *, concurrency: int = 4, visibility_timeout: float = 4.0,
              env: dict[str, str] | None = None) -> Worker:
        log = tmp_path / f"worker{len(started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                mailtls_cmd("worker", "--db", db, "--concurrency", str(concurrency),
                            "--visibility-timeout", str(visibility_timeout)),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **(env or {})})
        worker = Worker(proc, log)
        started.append(worker)
        deadline = time.monotonic() + 30
        while "ready." not in worker.text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{worker.text()}")
            time.sleep(0.1)
        return worker

    yield start
    for w in started:
        w.stop()


