"""Many hosts: --targets, JSON Lines as each host finishes, --max-hosts and --max-connections
holding across a batch of 120 loopback endpoints (measured by a counting server), a progress bar
only on a terminal, and Ctrl-C keeping what finished."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest

from mailtls.cli.app import main
from mailtls.errors import UsageError
from mailtls.scan.batch import read_targets
from mailtls.testing import RunningServer, TestPKI, start_raw
from tests.cli_runner import cli_output as run
from tests.mailtls_process import wait_until_started

SCHEMA_PATH = Path(__file__).parents[2] / "mailtls/schema/report-1.json"


def test_targets_file_syntax() -> None:
    lines = ["# mail hosts\n", "\n", "mx1.example.test\n", "  mx2.example.test  # backup\n",
             "[192.0.2.1]\n"]
    assert read_targets(lines, "t") == ["mx1.example.test", "mx2.example.test", "192.0.2.1"]
    with pytest.raises(UsageError, match="t:2: not a host name"):
        read_targets(["ok.example.test\n", "http://bad/\n"], "t")


def test_targets_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--targets", str(tmp_path / "none.txt"))
    assert code == 3 and "no such file" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    code, _, err = run(capsys, "check", "--targets", str(empty))
    assert code == 3 and "no host names" in err
    code, _, err = run(capsys, "check")
    assert code == 3 and "no host to check" in err
    with pytest.raises(SystemExit) as exc:  # argparse: exit 3 (usage), as everywhere
        main(["check", "x.example.test", "--max-hosts", "0"])
    assert exc.value.code == 3


# --- a server that counts the connections open at once ------------------------------------------


@dataclass
class Counter:
    open: int = 0
    peak: int = 0
    total: int = 0
    hold: float = 0.03
    server: RunningServer | None = field(default=None, repr=False)


@pytest.fixture
def counting_server() -> Iterator[Counter]:
    """A minimal SMTP server (no STARTTLS) that records how many connections it holds at once.

    A connection counts from accept until QUIT (or EOF), a span inside the client's own, so
    the peak seen here never exceeds the client's real concurrency.
    """
    counter = Counter()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counter.open += 1
        counter.total += 1
        counter.peak = max(counter.peak, counter.open)
        counted = True
        try:
            await asyncio.sleep(counter.hold)
            writer.write(b"220 counter.example.test ESMTP\r\n")
            await writer.drain()
            while line := await reader.readline():
                word = line.split(b" ", 1)[0].strip().upper()
                if word == b"QUIT":
                    counter.open -= 1
                    counted = False
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
                if word in (b"EHLO", b"HELO"):
                    writer.write(b"250-counter.example.test\r\n250 PIPELINING\r\n")
                else:
                    writer.write(b"502 no\r\n")
                await writer.drain()
        finally:
            if counted:
                counter.open -= 1

    with start_raw(handler, name="counting-smtp") as server:
        counter.server = server
        yield counter


def batch_targets(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "targets.txt"
    path.write_text("# the batch\n" + "".join(f"h{i:03}.example.test\n" for i in range(n)))
    return path


@pytest.mark.parametrize(("max_hosts", "max_connections", "limit"), [(4, 50, 4), (50, 3, 3)])
def test_batch_of_120_endpoints_with_bounded_concurrency(
        max_hosts: int, max_connections: int, limit: int, counting_server: Counter,
        pki: TestPKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert counting_server.server is not None
    n = 120
    started = time.monotonic()
    # --ca-file: a small trust store (loading the system's costs ~20 ms of CPU per probe)
    code, out, err = run(capsys, "check", "--targets", str(batch_targets(tmp_path, n)),
                         "--ca-file", pki.ca_file(), "--address", "127.0.0.1", "--service",
                         f"submission={counting_server.server.port}", "--quick",
                         "--format", "jsonl", "--max-hosts", str(max_hosts),
                         "--max-connections", str(max_connections), "--timeout", "30")
    elapsed = time.monotonic() - started
    # concurrency did happen: 120 connections held 30 ms each, at most `limit` at a time
    assert elapsed < n * counting_server.hold, elapsed
    lines = out.splitlines()
    assert len(lines) == n, err
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    names = []
    for line in lines:
        doc = json.loads(line)
        validator.validate(doc)
        (host,) = doc["hosts"]
        names.append(host["name"])
        assert host["endpoints"][0]["state"] == "open"
        assert doc["summary"]["exit_code"] == 2  # no STARTTLS: a failure
    assert sorted(names) == [f"h{i:03}.example.test" for i in range(n)]
    assert code == 2 and err == ""  # no progress bar: stderr is not a terminal
    assert counting_server.total == n
    assert 2 <= counting_server.peak <= limit, counting_server


def test_batch_into_one_report(counting_server: Counter, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """--targets with --format json: one report, hosts in the order given."""
    assert counting_server.server is not None
    code, out, _ = run(capsys, "check", "--targets", str(batch_targets(tmp_path, 12)),
                       "--address", "127.0.0.1", "--service",
                       f"submission={counting_server.server.port}", "--quick", "--format",
                       "json", "--max-hosts", "5")
    doc = json.loads(out)
    assert [h["name"] for h in doc["hosts"]] == [f"h{i:03}.example.test" for i in range(12)]
    assert doc["options"]["max_hosts"] == 5 and code == 2


def test_targets_from_stdin(counting_server: Counter, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert counting_server.server is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO("a.example.test\nb.example.test # two\n"))
    code, out, _ = run(capsys, "check", "--targets", "-", "--address", "127.0.0.1",
                       "--service", f"submission={counting_server.server.port}", "--quick",
                       "--format", "nagios")
    assert code == 2 and out.startswith("MAILTLS CRITICAL - a.example.test, b.example.test")


# --- subprocesses: a terminal for the progress bar, and Ctrl-C ----------------------------------


def _servers_on(addresses: list[str], port: int | None = None,
                hold: bool = False) -> list[RunningServer]:
    async def fast(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 fast.example.test ESMTP\r\n")
        await writer.drain()
        while line := await reader.readline():
            if line.upper().startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                return
            writer.write(b"250 fast.example.test\r\n")
            await writer.drain()

    async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never speaks

    servers: list[RunningServer] = []
    for address in addresses:
        server = start_raw(tarpit if hold else fast, host=address, port=port or 0)
        port = server.port
        servers.append(server)
    return servers


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailtls", "check", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR",
                                                            "COLUMNS")}
    env["TERM"] = "xterm"
    return env


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    servers = _servers_on(["127.0.0.1"])
    try:
        port = servers[0].port
        targets = tmp_path / "t.txt"
        targets.write_text("".join(f"p{i}.example.test\n" for i in range(6)))
        argv = _cmd("--targets", str(targets), "--address", "127.0.0.1", "--service",
                    f"submission={port}", "--quick", "--format", "jsonl", "--max-hosts", "2")
        piped = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=_env())
        assert piped.stderr == "" and len(piped.stdout.splitlines()) == 6

        main_fd, worker_fd = pty.openpty()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=worker_fd, env=_env())
        os.close(worker_fd)
        out, _ = proc.communicate(timeout=60)
        seen = b""
        while select.select([main_fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        os.close(main_fd)
    finally:
        for s in servers:
            s.stop()
    assert len(out.splitlines()) == 6 and proc.returncode == 2
    assert b"mailtls" in seen and b"hosts" in seen  # rich drew the bar on the terminal


@pytest.mark.parametrize(("fmt", "signum", "expected_code"), [
    ("jsonl", signal.SIGINT, 130), ("json", signal.SIGINT, 130), ("nagios", signal.SIGINT, 3),
    ("json", signal.SIGTERM, 143), ("nagios", signal.SIGTERM, 3),
])
def test_ctrl_c_keeps_what_finished(fmt: str, signum: int, expected_code: int,
                                    tmp_path: Path) -> None:
    fast = _servers_on(["127.0.0.1"])
    port = fast[0].port
    slow = _servers_on(["127.0.0.2", "127.0.0.3"], port=port, hold=True)
    try:
        targets = tmp_path / "t.txt"
        targets.write_text("127.0.0.1\n127.0.0.2\n127.0.0.3\n")
        proc = subprocess.Popen(
            _cmd("--targets", str(targets), "--service", f"submission={port}", "--quick",
                 "--format", fmt, "--max-hosts", "3", "--timeout", "60",
                 "--read-timeout", "60"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        assert proc.stdout is not None
        if fmt == "jsonl":
            first = proc.stdout.readline()  # flushed as soon as that host finished
            assert json.loads(first)["hosts"][0]["name"] == "127.0.0.1"
        else:
            # the fast host is done (it takes ~2.1 s on a loaded 2-core machine, so 2 s was a
            # coin toss), the tarpits hold on (--read-timeout 60)
            wait_until_started(proc.pid)  # a loaded machine may take seconds to start Python
            time.sleep(5.0)
        proc.send_signal(signum)
        started = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        for s in fast + slow:
            s.stop()
    assert proc.returncode == expected_code, err
    assert "interrupted: 1 of 3 host(s) finished" in err
    assert "127.0.0.2" in err and "Traceback" not in err
    if fmt == "json":
        doc = json.loads(out)
        assert [h["name"] for h in doc["hosts"]] == ["127.0.0.1"]
        assert doc["options"]["interrupted"] is True
        assert doc["options"]["not_finished"] == ["127.0.0.2", "127.0.0.3"]
    if fmt == "nagios":
        assert out.startswith("MAILTLS UNKNOWN - ") and "interrupted" in out.splitlines()[0]
    if fmt == "jsonl":
        assert out == ""  # the one finished host was written before the signal
