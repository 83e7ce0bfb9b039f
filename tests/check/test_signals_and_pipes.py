"""SIGINT and SIGTERM sent to a real ``mailtls`` process, and the user's pipes (a reader that
goes away, a full disk, a closed stdout): always one line on stderr, a report of what finished
when a scan ran, the documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mailtls.testing import RunningServer, TestPKI, hostile, start_imap, start_smtp
from tests.mailtls_process import wait_until_started

HOST = "mail.example.test"
# What asyncio, Python or a library print when something was left behind: never allowed.
LEFTOVERS = re.compile(r"Traceback|Task was destroyed|Task exception was never retrieved|"
                       r"Exception ignored|Error on reading|unclosed|coroutine .* was never")


@dataclass
class Target:
    argv: list[str]
    tarpit_port: int


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Two quick ports and a third that accepts and never speaks: a scan that only a signal
    (or the 60 s deadline) ends, with two ports finished early."""
    with TestPKI() as pki:
        servers: list[RunningServer] = [start_smtp(pki, name="sig-smtp"),
                                        start_imap(pki, name="sig-imap"), hostile.tarpit()]
        try:
            smtp, imap, tarpit = servers
            argv = [sys.executable, "-m", "mailtls", "check", HOST, "--address", "127.0.0.1",
                    "--service", f"submission={smtp.port}", "--service", f"imap={imap.port}",
                    "--service", f"smtp={tarpit.port}", "--ca-file", pki.ca_file(), "--quick",
                    "--timeout", "60", "--read-timeout", "60", "--no-color"]
            yield Target(argv, tarpit.port)
        finally:
            for server in servers:
                server.stop()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MAILTLS_DEBUG", None)
    return env


def _signal_after(argv: list[str], delay: float, signum: int) -> tuple[int, str, str]:
    """Start ``argv``, send ``signum`` ``delay`` seconds after mailtls took over its signals,
    and collect the outcome."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    wait_until_started(proc.pid)
    time.sleep(delay)
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 30 s after {signal.Signals(signum).name}: {err[-2000:]}")
    return proc.returncode, out, err


def _clean_stderr(err: str) -> None:
    assert not LEFTOVERS.search(err), err
    assert all(line.startswith("mailtls: ") for line in err.splitlines()), err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_keeps_finished_ports_and_says_what_was_cut_short(
    target: Target, signum: int
) -> None:
    name = signal.Signals(signum).name
    code, out, err = _signal_after([*target.argv, "--format", "json"], 4.0, signum)
    assert code == 3, err
    _clean_stderr(err)
    assert re.fullmatch(rf"mailtls: interrupted by {name} after \d+\.\d s: 2 of 3 port\(s\) "
                        rf"finished; cut short: 127\.0\.0\.1:{target.tarpit_port}\n", err), err
    report = json.loads(out)
    assert report["options"]["interrupted"] == name
    assert report["summary"]["exit_code"] == 3
    (host,) = report["hosts"]
    by_port = {e["port"]: e for e in host["endpoints"]}
    finished = [e for p, e in by_port.items() if p != target.tarpit_port]
    assert all(e["state"] == "open" and e["tls"] for e in finished)  # kept, whole
    cut = [f for f in host["findings"] if f["id"] == "port.not_tested"]
    assert len(cut) == 1 and f":{target.tarpit_port}" in cut[0]["endpoint"]
    assert f"interrupted ({name})" in cut[0]["summary"]


def test_nagios_single_host_interrupted_is_unknown(target: Target) -> None:
    code, out, err = _signal_after([*target.argv, "--format", "nagios"], 4.0, signal.SIGTERM)
    assert code == 3, err
    _clean_stderr(err)
    first = out.splitlines()[0]
    assert first.startswith("MAILTLS UNKNOWN - ") and "interrupted: partial results" in first


@pytest.mark.timeout(400)
def test_signals_at_random_moments(target: Target) -> None:
    """20 runs, each signalled at a random moment from the first line of mailtls.launch to
    mid-scan: the race between a signal and the handlers, the servers, the tasks never shows."""
    rng = random.Random(int(os.environ.get("MAILTLS_SIGNAL_SEED", "11")))
    formats = ["text", "json", "nagios"]
    for run in range(20):
        signum = (signal.SIGINT, signal.SIGTERM)[run % 2]
        fmt = formats[run % 3]
        delay = rng.uniform(0.0, 2.0)
        code, out, err = _signal_after([*target.argv, "--format", fmt], delay, signum)
        where = f"run {run}: {signal.Signals(signum).name} after {delay:.2f} s, {fmt}"
        assert code == 3, f"{where}: {err}"
        _clean_stderr(err)
        assert err.startswith(f"mailtls: interrupted by {signal.Signals(signum).name}"), where
        if fmt == "nagios":
            assert out.startswith("MAILTLS UNKNOWN - "), f"{where}: {out!r}"
        if fmt == "json" and out:
            assert json.loads(out)["options"]["interrupted"], where


@pytest.mark.timeout(300)
def test_ctrl_c_during_the_demo_leaves_no_asyncio_debris() -> None:
    """The demo starts 14 servers in a thread, scans, stops them: Ctrl-C anywhere in that."""
    rng = random.Random(3)
    argv = [sys.executable, "-m", "mailtls", "demo", "--no-color"]
    for run in range(4):
        delay = rng.uniform(0.2, 3.5)
        code, _out, err = _signal_after(argv, delay, signal.SIGINT)
        if code == 0:  # finished before the signal on a fast machine
            continue
        assert code == 3, f"run {run} after {delay:.2f} s: {err}"
        _clean_stderr(err)


# --- the user's pipes ---------------------------------------------------------------------------


def test_a_reader_that_went_away_ends_quietly() -> None:
    """``mailtls rules | head -1``: EPIPE is a normal end for a Unix tool (141, as if killed by
    SIGPIPE), with nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "mailtls", "rules"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=_env())
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_head_reads_the_first_line() -> None:
    shell = f"{sys.executable} -m mailtls rules | head -1; echo \"status ${{PIPESTATUS[0]}}\""
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60,
                          env=_env())
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[1] in ("status 0", "status 141"), proc.stdout
    assert proc.stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_disk_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "mailtls", "rules"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=_env())
    assert proc.returncode == 3
    assert proc.stderr == "mailtls: cannot write the output: No space left on device\n"


def test_a_closed_stdout_is_one_line() -> None:
    proc = subprocess.run(["bash", "-c", f"{sys.executable} -m mailtls rules >&-"],
                          capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 3
    assert proc.stderr == "mailtls: cannot write the output: standard output is closed\n"
