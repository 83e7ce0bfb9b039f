"""When this process started, on the ``time.monotonic()`` clock.

A user's ``--timeout 20`` is about the command, not about the part after Python has started
and imported mailtls (half a second on a busy machine): the CLI anchors the scan's deadline
at the process start. Linux says when that was (``/proc/self/stat``, measured on the boot
clock); elsewhere the import of this module is the best estimate.
"""

from __future__ import annotations

import contextlib
import os
import time

__all__ = ["command_started", "process_started"]

# Longer than any start-up: a process that entered main() later runs more than one command
# (the tests, the Python API), and each command's time starts when it is called.
STARTUP_SECONDS = 3.0

_IMPORTED = time.monotonic()


def process_started() -> float:
    """``time.monotonic()`` at the start of this process (never later than now)."""
    age = None
    with contextlib.suppress(OSError, ValueError, IndexError, AttributeError):
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # Fields after "(comm)" start with field 3; starttime is field 22, in clock ticks.
        start_ticks = int(stat.rsplit(b")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    now = time.monotonic()
    if age is None or not 0 <= age < now - _IMPORTED + 60:
        return _IMPORTED
    return now - age


def command_started(entered: float) -> float:
    """Where a command's deadline counts from, for a command entered at ``entered``
    (``time.monotonic()``): the process start if that was only start-up ago, else ``entered``."""
    started = process_started()
    return started if 0 <= entered - started < STARTUP_SECONDS else entered
