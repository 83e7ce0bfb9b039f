"""The same runs against a PRIVATE PostgreSQL cluster (initdb in a temp dir, its own loopback
port and socket directory): the embedded path, the example queries, a Celery worker, the
password only from $MAILTLS_DB and never printed."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mailtls.fleet.db import SCHEMA_VERSION, Database
from mailtls.fleet.instances import PrivatePostgres
from mailtls.testing import RunningServer, TestPKI, start_smtp
from tests.cli_runner import cli_output as run
from tests.fleet.fleet_helpers import (
    Counter,
    Worker,
    mailtls_cmd,
    scan_args,
    targets_file,
    wait_finished,
)
from tests.fleet.test_fleet_embedded import _run_id, check_queries


def test_embedded_run_and_queries_on_postgres(pg_url: str, pki: TestPKI, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    password = PrivatePostgres.password
    legacy = start_smtp(pki, implicit_tls=True, maximum_version=ssl.TLSVersion.TLSv1,
                        minimum_version=ssl.TLSVersion.TLSv1)
    expiring = start_smtp(pki, implicit_tls=True, cert="expiring_soon")
    ids = []
    try:
        for server in (legacy, expiring):
            targets = tmp_path / f"t{server.port}.txt"
            targets.write_text("mail.example.test\n")
            argv = ["check", "--targets", str(targets), "--address", "127.0.0.1", "--service",
                    f"submissions={server.port}", "--ca-file", pki.ca_file(), "--timeout",
                    "40", "--format", "json"]
            # without the password: refused by the server, one line
            code, out, err = run(capsys, *argv, "--db", pg_url.replace(f":{password}@", "@"))
            assert code == 3 and out == "" and err.count("\n") == 1, err
            assert "no password supplied" in err
            # bare --db: the URL (password included) from $MAILTLS_DB
            monkeypatch.setenv("MAILTLS_DB", pg_url)
            code, out, err = run(capsys, *argv, "--db")
            monkeypatch.delenv("MAILTLS_DB")
            assert code in (1, 2) and password not in out + err, err
            ids.append(_run_id(err))
    finally:
        legacy.stop()
        expiring.stop()
    db = Database(pg_url)
    assert db.version() == SCHEMA_VERSION
    check_queries(db, ids[0], ids[1], legacy.port, expiring.port)
    db.dispose()
    monkeypatch.setenv("MAILTLS_DB", pg_url)
    _code, out, err = run(capsys, "fleet", "status", ids[0])
    assert "1 of 1 targets final" in out and password not in out + err


def test_worker_on_postgres(pg_url: str, broker: str, workers: Callable[..., Worker],
                            counting_server: tuple[Counter, RunningServer], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, server = counting_server
    monkeypatch.setenv("MAILTLS_DB", pg_url)
    a = workers("", concurrency=4)
    b = workers("", concurrency=4)  # two workers migrating the same database at start
    n = 12
    proc = subprocess.run(mailtls_cmd("fleet", "submit", str(targets_file(tmp_path, n)),
                                      *scan_args(server.port)),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    wait_finished(pg_url, run_id)
    report = subprocess.run(mailtls_cmd("fleet", "report", run_id, "--format",
                                        "json"), capture_output=True, text=True, timeout=60)
    assert report.returncode == 2
    assert len(json.loads(report.stdout)["hosts"]) == n
    for w in (a, b):
        assert PrivatePostgres.password not in w.text()
