"""Many hosts at once: a target list, a global limit on hosts in flight, results as they come.

``scan_batch`` scans each host on its own (its own ``--timeout`` deadline) with at most
``max_hosts`` hosts at a time, while the per-address connection limit (``--max-connections``)
is shared by all of them. ``on_host`` is called with each host's report as soon as it finishes
(``--format jsonl`` writes and flushes it there). When ``stop`` is set (Ctrl-C), hosts in flight
are cancelled, hosts not started are skipped, and the hosts that finished are returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from mailtls.errors import UsageError
from mailtls.model import Report
from mailtls.net.budget import ConnectionBudget
from mailtls.scan.host import ScanRequest, check_host_name, scan

__all__ = ["BatchResult", "merge_reports", "progress", "read_targets", "scan_batch"]

DEFAULT_MAX_HOSTS = 10


def read_targets(lines: Iterable[str], source: str) -> list[str]:
    """Host names, one per line; blank lines and ``#`` comments (whole-line or after the name)
    are skipped. A line that is not a host name is a usage error naming the line."""
    hosts: list[str] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            hosts.append(check_host_name(text))
        except UsageError as exc:
            raise UsageError(f"{source}:{number}: {exc}") from None
    return hosts


def load_targets(path: str, stdin: IO[str] | None = None) -> list[str]:
    """``--targets FILE`` (``-``: standard input)."""
    if path == "-":
        return read_targets((stdin or sys.stdin).readlines(), "<stdin>")
    try:
        with open(path, encoding="utf-8") as f:
            return read_targets(f.readlines(), path)
    except FileNotFoundError:
        raise UsageError(f"--targets: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--targets: cannot read {path}: {exc}") from None


@dataclass(frozen=True)
class BatchResult:
    report: Report  # the hosts that finished, in the order they were given
    interrupted: bool
    unfinished: tuple[str, ...]  # given but not finished (interrupted, or mailtls failed)
    host_reports: tuple[Report, ...]  # one per finished host, in the order they were given


def merge_reports(reports: Iterable[Report], *, started_at: dt.datetime | None = None,
                  seconds: float | None = None) -> Report:
    """One report of several (their hosts and domains in order; the first one's options)."""
    reports = list(reports)
    if not reports:
        raise ValueError("nothing to merge")
    first = reports[0]
    return dataclasses.replace(
        first,
        started_at=started_at if started_at is not None else first.started_at,
        seconds=seconds if seconds is not None else max(r.seconds for r in reports),
        hosts=tuple(h for r in reports for h in r.hosts),
        domains=tuple(d for r in reports for d in r.domains),
        port25_controls=tuple(o for r in reports for o in r.port25_controls),
    )


async def scan_batch(
    request: ScanRequest,
    *,
    max_hosts: int = DEFAULT_MAX_HOSTS,
    on_host: Callable[[Report], None] | None = None,
    stop: asyncio.Event | None = None,
) -> BatchResult:
    started_at = request.clock()
    started = time.monotonic()
    limits = ConnectionBudget(1 if request.options.slow else request.options.max_connections)
    slots = asyncio.Semaphore(max_hosts)
    stop = stop or asyncio.Event()
    finished: dict[int, Report] = {}
    failed: list[str] = []

    items: list[tuple[str, ScanRequest]] = [
        (host, dataclasses.replace(request, hosts=(host,), domains=(), port25_controls=()))
        for host in request.hosts
    ]
    for domain in request.domains:  # a mail domain is one item of its own
        items.append((domain, dataclasses.replace(request, hosts=(), domains=(domain,),
                                                  port25_controls=())))

    async def one(index: int, name: str, item: ScanRequest) -> None:
        async with slots:
            if stop.is_set():
                return
            try:
                report = await scan(item, address_limits=limits)
            except Exception as exc:  # a bug in mailtls: keep the other hosts going
                failed.append(name)
                print(f"mailtls: {name}: internal error: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
                return
        finished[index] = report
        if on_host is not None:
            on_host(report)

    tasks = [asyncio.create_task(one(i, name, item)) for i, (name, item) in enumerate(items)]
    stopper: asyncio.Task[Any] = asyncio.create_task(stop.wait())
    pending: set[asyncio.Task[Any]] = set(tasks)
    try:
        while pending and not stop.is_set():
            _done, still = await asyncio.wait(pending | {stopper},
                                              return_when=asyncio.FIRST_COMPLETED)
            pending = {t for t in still if t is not stopper}
    finally:
        stopper.cancel()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
    interrupted = stop.is_set() and len(finished) < len(items)
    ordered = [finished[i] for i in sorted(finished)]
    unfinished = tuple(name for i, (name, _) in enumerate(items) if i not in finished)
    seconds = round(time.monotonic() - started, 3)
    if ordered:
        merged = merge_reports(ordered, started_at=started_at, seconds=seconds)
    else:
        merged = Report(started_at=started_at, seconds=seconds, hosts=())
    options = dict(merged.options)
    options["max_hosts"] = max_hosts
    if interrupted:
        options["interrupted"] = True
    if unfinished:
        options["not_finished"] = list(unfinished)
    merged = dataclasses.replace(merged, options=options)
    return BatchResult(merged, interrupted, unfinished, tuple(ordered))


@contextmanager
def progress(total: int, *, enabled: bool) -> Iterator[Callable[[Report], None]]:
    """A rich progress bar on stderr (only when ``enabled``: stderr is a terminal); yields the
    function to call as each host finishes."""
    if not enabled:
        yield lambda _report: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("[bold]mailtls"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("hosts"), TimeElapsedColumn(), TextColumn("{task.description}"),
                   console=console, transient=True,
                   redirect_stdout=False, redirect_stderr=False)  # stdout is the report's
    with bar:
        task = bar.add_task("", total=total)

        def advance(report: Report) -> None:
            names = ", ".join(h.name for h in report.hosts) or ", ".join(
                d.name for d in report.domains)
            bar.update(task, advance=1, description=names[:40])

        yield advance
