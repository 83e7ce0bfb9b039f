"""The live progress line of one scan on standard error: "mailtls mail.example.com: 12/49 ports
probed · 8 s". Only on a terminal (and never with --quiet); it disappears when the scan ends,
so the report that follows is all that stays."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["probe_progress"]


class _Line:
    def __init__(self, what: str) -> None:
        self.what = what
        self.done = 0
        self.total = 0
        self.started = time.monotonic()

    def __rich__(self) -> Text:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        counted = f"{self.done}/{self.total} ports probed" if self.total else "resolving"
        return Text(f"mailtls {self.what}: {counted} · {elapsed:.0f} s", style="dim")


@contextmanager
def probe_progress(enabled: bool, what: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yields the ``on_probe(done, total)`` callback of ``mailtls.scan.scan``, or None."""
    if not enabled:
        yield None
        return
    # rich only now: without a terminal (--format json in a pipe, cron) the check never pays
    # for importing it (tests/test_startup.py)
    from rich.console import Console
    from rich.live import Live

    line = _Line(what if len(what) <= 40 else what[:39] + "…")
    console = Console(stderr=True)
    with Live(line, console=console, transient=True, refresh_per_second=4,
              redirect_stdout=False, redirect_stderr=False):

        def on_probe(done: int, total: int) -> None:
            line.done, line.total = done, total

        yield on_probe
