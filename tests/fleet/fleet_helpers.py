"""Helpers of the fleet tests: a counting SMTP server, targets files, `mailtls worker`
processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mailtls.testing import RunningServer, start_raw

REDIS_PASSWORD = "redis-pw-Zq81x"


@dataclass
class Counter:
    open: int = 0
    peak: int = 0
    total: int = 0
    hold: float = 0.05
    by_name: dict[str, int] = field(default_factory=dict)


def counting_smtp(counter: Counter, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """An SMTP server without STARTTLS that holds each connection ``counter.hold`` seconds
    before its greeting and records how many it holds at once."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counter.open += 1
        counter.total += 1
        counter.peak = max(counter.peak, counter.open)
        try:
            await asyncio.sleep(counter.hold)
            writer.write(b"220 counter.example.test ESMTP\r\n")
            await writer.drain()
            while line := await reader.readline():
                word = line.split(b" ", 1)[0].strip().upper()
                if word == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
                if word in (b"EHLO", b"HELO"):
                    name = line.split(b" ", 1)[-1].strip().decode("ascii", "replace")
                    counter.by_name[name] = counter.by_name.get(name, 0) + 1
                    writer.write(b"250-counter.example.test\r\n250 PIPELINING\r\n")
                else:
                    writer.write(b"502 no\r\n")
                await writer.drain()
        finally:
            counter.open -= 1

    return start_raw(handler, name="counting-smtp", host=host, port=port)


def targets_file(tmp_path: Path, n: int, prefix: str = "h") -> Path:
    path = tmp_path / f"{prefix}-targets.txt"
    path.write_text("# fleet\n" + "".join(f"{prefix}{i:03}.example.test\n" for i in range(n)))
    return path


def scan_args(port: int, *extra: str) -> list[str]:
    """check options for the counting server: every name at 127.0.0.1, submission=PORT."""
    return ["--address", "127.0.0.1", "--service", f"submission={port}", "--quick",
            "--timeout", "20", "--connect-timeout", "3", "--read-timeout", "5", *extra]


def mailtls_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailtls", *args]


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_finished(db_url: str, run_id: str, timeout: float = 60.0) -> None:
    from mailtls.fleet.db import Database

    db = Database(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if db.status(run_id).finished:
                return
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} not finished: {db.status(run_id)}")
    finally:
        db.dispose()
