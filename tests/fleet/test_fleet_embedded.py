"""The embedded path with a results database (SQLite, the fast path): `check --targets --db`,
`fleet status/report/diff`, the schema and its migrations, idempotent writes, the example
queries, URLs and secrets."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mailtls.fleet import queries
from mailtls.fleet.db import SCHEMA_VERSION, Database, DatabaseError
from mailtls.testing import RunningServer, TestPKI, start_smtp
from tests.cli_runner import cli_output as run
from tests.fleet.fleet_helpers import Counter, scan_args, targets_file

SCHEMA = json.loads((Path(__file__).parents[2] / "mailtls/schema/report-1.json").read_text())


def _run_id(err: str) -> str:
    line = next(x for x in err.splitlines() if x.startswith("mailtls: run "))
    return line.split()[2]


def _strip_timing(doc: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two scans of the same server (times, ports of
    the client side)."""
    text = json.dumps(doc, sort_keys=True)
    data: dict[str, Any] = json.loads(text)
    data.pop("started_at"), data.pop("seconds")
    for host in data["hosts"]:
        for ep in host["endpoints"]:
            ep.pop("seconds")
            for line in ep.get("transcript", []):
                line.pop("at")
    return data


def test_embedded_run_stored_and_reported(counting_server: tuple[Counter, RunningServer],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    counter, server = counting_server
    db = tmp_path / "results.db"
    targets = targets_file(tmp_path, 6)
    code, out, err = run(capsys, "check", "--targets", str(targets), "--db", str(db),
                         "--format", "jsonl", *scan_args(server.port))
    assert code == 2, err  # no STARTTLS: a failure
    run_id = _run_id(err)
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 6 and counter.total == 6

    code, out, err = run(capsys, "fleet", "status", run_id, "--db", str(db))
    assert code == 0, err
    assert "6 of 6 targets final (100.0%): 6 done, 0 failed" in out

    code, out, _ = run(capsys, "fleet", "report", run_id, "--db", str(db), "--format", "jsonl")
    stored = [json.loads(x) for x in out.splitlines()]
    assert code == 2
    # the order of the targets file, and the very reports check printed
    assert [d["hosts"][0]["name"] for d in stored] == [f"h{i:03}.example.test" for i in range(6)]
    by_name = {d["hosts"][0]["name"]: d for d in lines}
    assert stored == [by_name[d["hosts"][0]["name"]] for d in stored]
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for doc in stored:
        validator.validate(doc)

    code, out, _ = run(capsys, "fleet", "report", run_id, "--db", str(db), "--format", "json")
    merged = json.loads(out)
    validator.validate(merged)
    assert code == 2 and len(merged["hosts"]) == 6 and merged["options"]["run"] == run_id
    assert merged["summary"]["exit_code"] == 2

    code, out, _ = run(capsys, "fleet", "report", run_id, "--db", str(db), "--format",
                       "summary")
    assert len(out.splitlines()) == 6 and "smtp.starttls.not_offered" in out

    # every other format of check, rendered from the stored reports as check renders them
    for fmt in ("text", "csv", "junit", "nagios", "prometheus", "html"):
        code, out, err = run(capsys, "fleet", "report", run_id, "--db", str(db), "--format",
                             fmt)
        assert code == 2 and out and err == "", (fmt, err)
        assert "h005.example.test" in out, fmt
    code, out, _ = run(capsys, "fleet", "report", run_id, "--db", str(db), "--format", "csv")
    assert sum("smtp.starttls.not_offered" in line for line in out.splitlines()) == 6

    rows = Database(f"sqlite:///{db}").query(queries.FINDING, run=run_id,
                                             finding_id="smtp.starttls.not_offered")
    assert sorted(r["target"] for r in rows) == [f"h{i:03}.example.test" for i in range(6)]


def test_check_with_db_prints_what_check_prints(counting_server: tuple[Counter, RunningServer],
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """--db changes nothing of check's own output (here one JSON report of the batch)."""
    _, server = counting_server
    targets = targets_file(tmp_path, 3)
    argv = ["check", "--targets", str(targets), "--format", "json", *scan_args(server.port)]
    code_a, out_a, _ = run(capsys, *argv)
    code_b, out_b, err_b = run(capsys, *argv, "--db", str(tmp_path / "r.db"))
    a, b = json.loads(out_a), json.loads(out_b)
    assert code_a == code_b == 2
    assert [h["name"] for h in a["hosts"]] == [h["name"] for h in b["hosts"]]
    assert [h["findings"] for h in a["hosts"]] == [h["findings"] for h in b["hosts"]]
    assert "mailtls: run " in err_b


@pytest.fixture
def tls_servers(pki: TestPKI) -> Iterator[list[RunningServer]]:
    """A TLS 1.0 server with a good certificate, a modern one whose certificate expires in 5
    days."""
    legacy = start_smtp(pki, implicit_tls=True, maximum_version=ssl.TLSVersion.TLSv1,
                        minimum_version=ssl.TLSVersion.TLSv1)
    expiring = start_smtp(pki, implicit_tls=True, cert="expiring_soon")
    yield [legacy, expiring]
    legacy.stop()
    expiring.stop()


def test_example_queries_legacy_tls_and_expiring_certificates(
        tls_servers: list[RunningServer], pki: TestPKI, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    legacy, expiring = tls_servers
    db_path = tmp_path / "q.db"
    ids = []
    for server in (legacy, expiring):
        targets = tmp_path / f"t{server.port}.txt"
        targets.write_text("mail.example.test\n")
        _code, _, err = run(capsys, "check", "--targets", str(targets), "--db", str(db_path),
                           "--address", "127.0.0.1", "--service", f"submissions={server.port}",
                           "--ca-file", pki.ca_file(), "--timeout", "40", "--format", "json")
        ids.append(_run_id(err))
    db = Database(f"sqlite:///{db_path}")
    check_queries(db, ids[0], ids[1], legacy.port, expiring.port)


def check_queries(db: Database, legacy_run: str, expiring_run: str, legacy_port: int,
                  expiring_port: int) -> None:
    """The README's example queries answer what the two scans saw (SQLite and PostgreSQL)."""
    rows = db.query(queries.LEGACY_TLS_1_0, run=legacy_run)
    assert [(r["target"], r["endpoint"]) for r in rows] == [
        ("mail.example.test", f"127.0.0.1:{legacy_port}")]
    assert db.query(queries.LEGACY_TLS_1_0, run=expiring_run) == []
    cutoff = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=14)
    rows = db.query(queries.EXPIRING_CERTIFICATES, run=expiring_run, cutoff=cutoff)
    assert [(r["target"], r["endpoint"]) for r in rows] == [
        ("mail.example.test", f"127.0.0.1:{expiring_port}")]
    not_after = rows[0]["not_after"]  # SQLite gives the stored text, PostgreSQL a datetime
    if isinstance(not_after, str):
        not_after = dt.datetime.fromisoformat(not_after)
    left = not_after - dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert dt.timedelta(days=4) < left < dt.timedelta(days=6)
    assert db.query(queries.EXPIRING_CERTIFICATES, run=legacy_run, cutoff=cutoff) == []
    counts = {r["severity"]: r["targets"] for r in db.query(queries.SEVERITY_COUNTS,
                                                             run=legacy_run)}
    assert counts.get("fail") == 1  # TLS 1.0 only
    assert db.query(queries.LATEST_RUN)[0]["id"] in (legacy_run, expiring_run)


def test_fleet_diff_between_two_runs(tmp_path: Path, pki: TestPKI,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The same name, first a server with STARTTLS, then one without: a regression."""
    db = str(tmp_path / "d.db")
    targets = tmp_path / "t.txt"
    targets.write_text("mail.example.test\n")
    ids = []
    for starttls in (True, False):
        server = start_smtp(pki, starttls=starttls)
        try:
            code, _, err = run(capsys, "check", "--targets", str(targets), "--db", db,
                               "--address", "127.0.0.1", "--service",
                               f"submission={server.port}", "--ca-file", pki.ca_file(),
                               "--quick", "--format", "json")
            ids.append(_run_id(err))
        finally:
            server.stop()
    code, out, _ = run(capsys, "fleet", "diff", ids[0], ids[1], "--db", db)
    assert code == 2, out  # STARTTLS lost: a regression
    assert "starttls" in out.lower()
    code, out, _ = run(capsys, "fleet", "diff", ids[0], ids[0], "--db", db, "--format", "json")
    assert code == 0 and json.loads(out)["changes"] == []


# --- schema, migrations, idempotent writes --------------------------------------------------


def _doc(name: str, finding: str, code: int = 2) -> dict[str, Any]:
    return {"schema": "mailtls/1", "tool": {"name": "mailtls", "version": "x"},
            "started_at": "2030-01-01T00:00:00+00:00", "seconds": 1.0, "options": {},
            "summary": {"findings": {"fail": 1, "unknown": 0, "warn": 0, "info": 0},
                        "connections": 1, "exit_code": code},
            "hosts": [{"name": name, "addresses": [], "resolve_error": None, "endpoints": [],
                       "findings": [{"id": finding, "severity": "fail", "summary": "s",
                                     "endpoint": None, "service": None, "evidence": [],
                                     "reference": "", "requirement": None,
                                     "remediation": ""}]}]}


def test_schema_migrations_and_idempotent_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    db = Database(url)
    assert db.version() == SCHEMA_VERSION
    assert Database(url).migrate() == SCHEMA_VERSION  # a second open migrates nothing
    db.create_run("r1", kind="embedded", source="f", options={}, names=["a", "b"])
    assert db.begin_attempt("r1", "a") == ("pending", 1)
    assert db.store("r1", "a", _doc("a", "x.one"))
    assert not db.store("r1", "a", _doc("a", "x.two"))  # a second delivery: the first stays
    assert db.begin_attempt("r1", "a") == ("done", 1)  # final: no more attempts counted
    with sqlite3.connect(tmp_path / "m.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM reports").fetchone() == (1,)
        assert conn.execute("SELECT finding_id FROM findings").fetchall() == [("x.one",)]
        conn.execute("INSERT INTO mailtls_schema VALUES (99, '2030-01-01')")
    with pytest.raises(DatabaseError, match="schema version 99; this mailtls knows"):
        Database(url)
    st = db.status("r1")
    assert (st.total, st.done, st.pending) == (2, 1, 1)
    assert db.unfinished("r1") == ["b"]


# --- URLs and secrets ----------------------------------------------------------------------


def test_bad_database_urls_are_one_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    for url, expected in [("nosuch://x/y", "not a usable database URL"),
                          ("postgresql://nobody@127.0.0.1:1/x", "cannot use it"),
                          ("mysql://u@127.0.0.1/x", "")]:
        code, out, err = run(capsys, "fleet", "status", "r1", "--db", url)
        assert code == 3 and out == "", err
        assert err.count("\n") == 1 and err.startswith("mailtls: "), err
        assert expected in err
    code, _, err = run(capsys, "fleet", "status", "nosuch", "--db", str(tmp_path / "e.db"))
    assert code == 3 and "no run 'nosuch'" in err


def test_password_in_argv_refused_and_never_printed(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "fleet", "status", "r1", "--db",
                       "postgresql://u:hunter2@127.0.0.1:1/x")
    assert code == 3 and "put the URL in $MAILTLS_DB" in err and "hunter2" not in err
    monkeypatch.setenv("MAILTLS_DB", "postgresql://u:hunter2@127.0.0.1:1/x")
    code, _, err = run(capsys, "fleet", "status", "r1")
    assert code == 3 and "cannot use it" in err and "hunter2" not in err
    assert "u:***@127.0.0.1:1" in err
    monkeypatch.delenv("MAILTLS_DB")
    code, _, err = run(capsys, "fleet", "status", "r1")
    assert code == 3 and "give --db URL or set $MAILTLS_DB" in err
    code, _, err = run(capsys, "fleet", "submit", os.devnull, "--broker",
                       "redis://:hunter2@127.0.0.1:1/0", "--db", "x.db")
    assert code == 3 and "$MAILTLS_BROKER" in err and "hunter2" not in err


async def test_a_server_that_turns_connections_away_is_cooled_down() -> None:
    """A real 421 greeting: the report names the address, which the workers then cool down
    on (mailtls.fleet.limiter; the cool-down itself is tested with Redis)."""
    from mailtls.fleet.task import options_of, rate_limited_addresses, scan_target
    from mailtls.model.options import ScanOptions
    from mailtls.scan.host import ScanRequest, parse_plan
    from mailtls.testing.hostile import too_many_connections

    with too_many_connections("smtp") as server:
        request = ScanRequest(hosts=(), plan=parse_plan([], [f"submission={server.port}"]),
                              addresses=("127.0.0.1",),
                              options=ScanOptions(quick=True, timeout=10))
        options = options_of(request, fail_on="warn", domain_mode=False)
        doc = await scan_target(options, "mail.example.test")
    assert [f["id"] for f in doc["hosts"][0]["findings"]] == ["session.rejected"]
    assert rate_limited_addresses(doc) == {"127.0.0.1"}
