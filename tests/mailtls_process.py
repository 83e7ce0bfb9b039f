"""A ``mailtls`` subprocess under test: has it started for real? Shared by the signal tests
(tests/check/test_signals_and_pipes.py, tests/regression/test_regression_batch.py)."""

from __future__ import annotations

import signal
import time


def taken_over(pid: int) -> bool:
    """Has mailtls.launch blocked or caught SIGTERM yet? Before that the interpreter is still
    starting, and a signal ends it the way it ends any program that has not started."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as child, open("/proc/self/cmdline", "rb") as me:
            if child.read() == me.read():
                # forked but not yet exec'd: the signal mask shown is still ours (pytest's),
                # which may well catch SIGTERM, so it would say "started" far too early
                return False
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:
        return True  # gone already, or no /proc: nothing to wait for
    bit = 1 << (signal.SIGTERM - 1)
    return any(int(fields.get(k, "0").strip(), 16) & bit for k in ("SigBlk", "SigCgt"))


def wait_until_started(pid: int, limit: float = 20.0) -> None:
    """Until mailtls owns its signals (a loaded machine can take seconds to start Python)."""
    give_up = time.monotonic() + limit
    while not taken_over(pid) and time.monotonic() < give_up:
        time.sleep(0.002)
