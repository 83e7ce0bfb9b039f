"""The command line of the fleet: ``mailtls worker``, ``mailtls fleet submit|status|report|diff``
and ``check --targets FILE --db URL`` (the embedded path, writing to the results database).

Like ``mailtls.cli``, no logic of its own: runs and results live in ``mailtls.fleet.db``, the
scan of one target in ``mailtls.fleet.task``, the queue in ``mailtls.fleet.app``. Celery, redis
and SQLAlchemy are imported only when one of these commands runs (extra ``mailtls[fleet]``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mailtls.errors import MailTLSError, UsageError
from mailtls.fleet.urls import BROKER_ENV, DB_ENV, FROM_ENV
from mailtls.model.exitcodes import OK, UNKNOWN, WARNINGS, FailOn, worst_code

if TYPE_CHECKING:
    from mailtls.fleet.db import Database
    from mailtls.model import Report

__all__ = ["add_db_option", "add_fleet_commands", "run_fleet_command", "run_with_db",
           "wants_db"]


URL_HELP = (f"URLs with a password only from the environment: ${BROKER_ENV}, ${DB_ENV} (a "
            "command line is visible to every user of the machine; mailtls refuses a password "
            "there and never prints one)")

STATUS_EXIT_HELP = """\
exit codes: 0 every target has its final result, 1 targets still pending, 3 usage error, unknown
run, or the database cannot be reached
"""


def _need_fleet() -> None:
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"the fleet needs the extra mailtls[fleet] ({exc.name} is missing): "
                         "pip install 'mailtls[fleet]'") from None


def _db_argument(p: argparse.ArgumentParser, *, required_text: str) -> None:
    p.add_argument("--db", metavar="URL",
                   help=f"results database: a file name or sqlite:///PATH (SQLite), or "
                   f"postgresql://USER@HOST/DB; {required_text} (default: ${DB_ENV})")


def _broker_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL",
                   help=f"Redis broker, redis://HOST:PORT/DB (default: ${BROKER_ENV}); it also "
                   "holds the per-address connection limits shared by all workers")


def add_db_option(p: argparse.ArgumentParser) -> None:
    """``check --db URL``: with --targets, write every target's report to the database."""
    p.add_argument("--db", metavar="URL", nargs="?", const=FROM_ENV,
                   help="with --targets: also store every target's report in this results "
                   "database (a file name for SQLite, or postgresql://...) as a new run, whose "
                   f"id is printed on stderr; --db alone: the URL in ${DB_ENV} (where a URL "
                   "with a password belongs); see `mailtls fleet --help`")


Renderer = Callable[..., str]  # mailtls.cli.output.render(report, code, fmt, fail_on=...)


def add_fleet_commands(sub: Any, *, scan_options: Callable[[argparse.ArgumentParser], None],
                       domain_options: Callable[[argparse.ArgumentParser], None],
                       formats: Sequence[str]) -> None:
    worker = sub.add_parser(
        "worker", help="run a Celery worker that scans the targets of fleet runs",
        description="A Celery worker: takes targets of `mailtls fleet submit` runs from the "
        "Redis queue, scans each (the same scan as `mailtls check`) and writes its report to "
        "the results database. Run one per core, on as many machines as you like; they share "
        "Redis and the database. SIGTERM (Ctrl-C): finish the targets in hand, then stop. "
        + URL_HELP,
    )
    _broker_argument(worker)
    _db_argument(worker, required_text="the same database as `fleet submit`")
    worker.add_argument("--concurrency", type=_concurrency, default=2, metavar="N",
                        help="messages worked on at once (threads; default 2); each message "
                        "is a chunk of targets (fleet submit --chunk) scanned at once, so up "
                        "to N x chunk targets are in flight")
    worker.add_argument("--visibility-timeout", type=_seconds, default=900.0, metavar="S",
                        help="a target taken by a worker that died is scanned again after S "
                        "seconds (default 900); must be longer than the longest scan "
                        "(--timeout, 600 with --slow)")
    worker.add_argument("--loglevel", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        default="INFO", help="Celery's log level (default INFO)")

    fleet = sub.add_parser(
        "fleet", help="scan many targets on Celery workers; runs and reports in a database",
        description="Runs of many targets on `mailtls worker`s: submit a targets file, follow "
        "its status, read its reports, compare two runs. " + URL_HELP,
    )
    fleet_sub = fleet.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND",
                                     parser_class=sub._parser_class)
    submit = fleet_sub.add_parser(
        "submit", help="queue every target of FILE as a new run; prints the run id",
        description="Create a run in the database with the targets of FILE (one per line, as "
        "--targets) and the check options given here, and queue one message per target. "
        "`--resume RUN` queues again the targets of RUN without a final result (after a "
        "lost worker or a flushed queue).",
        epilog="exit codes: 0 queued, 3 usage error or broker/database unreachable",
    )
    submit.add_argument("targets", nargs="?", metavar="FILE",
                        help="host names (or domains with --domain), one per line; '-': stdin")
    submit.add_argument("--resume", metavar="RUN", help="queue the unfinished targets of RUN")
    submit.add_argument("--chunk", type=_chunk, default=10, metavar="N",
                        help="targets per message (default 10): a worker scans a message's "
                        "targets at once, each stored as it finishes; a chunk delivered again "
                        "after a lost worker is split into single targets")
    submit.add_argument("--max-attempts", type=_attempts, default=3, metavar="N",
                        help="deliveries of a target before it is recorded as could-not-test "
                        "(default 3)")
    _broker_argument(submit)
    _db_argument(submit, required_text="the workers' database")
    scan_options(submit)
    domain_options(submit)
    kind = submit.add_mutually_exclusive_group()
    kind.add_argument("--domain", action="store_true",
                      help="treat every NAME as a mail domain")
    kind.add_argument("--host", dest="host_mode", action="store_true",
                      help="treat every NAME as a host, even one with MX records")
    submit.add_argument("--fail-on", choices=[f.value for f in FailOn], default="warn",
                        help="lowest severity that makes a target's exit code non-zero")

    status = fleet_sub.add_parser(
        "status", help="done / pending / failed counts of a run",
        description="How far RUN is: targets done, failed (could not be tested after all "
        "attempts), pending (of which running: taken by a worker).",
        epilog=STATUS_EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    status.add_argument("run", metavar="RUN")
    _db_argument(status, required_text="required")
    status.add_argument("--format", choices=("text", "json"), default="text")

    report = fleet_sub.add_parser(
        "report", help="the reports of a run, in any format of check",
        description="The stored reports of RUN in the order of its targets file: jsonl (the "
        "stored mailtls/1 report of each target, as `check --format jsonl` printed it), json "
        "(one report with every host, as `check --targets --format json`), every other format "
        "of check rendered from that report, or summary (one line per target).",
        epilog="exit codes: the worst exit code of the targets (as `check`), 3 if targets are "
        "still pending or the run is unknown")
    report.add_argument("run", metavar="RUN")
    _db_argument(report, required_text="required")
    report.add_argument("--format", choices=(*formats, "summary"), default="jsonl")

    diff = fleet_sub.add_parser(
        "diff", help="what changed between two runs, per target (as `mailtls diff`)",
        description="Compare the reports of RUN_A and RUN_B like `mailtls diff` compares two "
        "JSON reports: new and resolved findings, ports, TLS versions and suites, "
        "certificates.",
        epilog="exit codes: 0 no change, 1 changes, 2 regressions, 3 usage error")
    diff.add_argument("old", metavar="RUN_A")
    diff.add_argument("new", metavar="RUN_B")
    _db_argument(diff, required_text="required")
    diff.add_argument("--format", choices=("text", "json"), default="text")


def _bounded(text: str, low: float, high: float, kind: type[int] | type[float]) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {low:g}..{high:g}: {text}")
    return value


def _concurrency(text: str) -> int:
    return int(_bounded(text, 1, 500, int))


def _chunk(text: str) -> int:
    return int(_bounded(text, 1, 100, int))


def _attempts(text: str) -> int:
    return int(_bounded(text, 1, 20, int))


def _seconds(text: str) -> float:
    return float(_bounded(text, 1, 86400, float))


# --- dispatch ----------------------------------------------------------------------------------


def wants_db(args: argparse.Namespace) -> bool:
    """``fleet submit`` and ``check --db`` go through ``run_with_db``."""
    return args.command == "fleet" or bool(args.db)


_opened: list[Database] = []


def run_fleet_command(args: argparse.Namespace, check: Callable[[argparse.Namespace], int],
                      *, render: Renderer) -> int:
    """``worker`` and ``fleet ...``; ``check`` is ``mailtls.cli.app._check`` (submit builds the
    scan request exactly as ``check`` does, then comes back to ``run_with_db``); ``render``
    renders a report in one of check's formats (``fleet report``)."""
    _need_fleet()
    try:
        return _fleet_command(args, check, render)
    finally:
        _close_all()


def _close_all() -> None:
    while _opened:
        _opened.pop().dispose()


def _fleet_command(args: argparse.Namespace, check: Callable[[argparse.Namespace], int],
                   render: Renderer) -> int:
    if args.command == "worker":
        return _worker(args)
    sub = args.fleet_command  # None: `mailtls fleet` alone
    if sub == "submit":
        from mailtls.fleet.urls import broker_url, database_url

        broker_url(args.broker)  # a bad or secret-bearing URL: one line before any work
        database_url(args.db)
        if args.resume:
            if args.targets:
                raise UsageError("give FILE or --resume RUN, not both")
            return _resume(args)
        if not args.targets:
            raise UsageError("fleet submit needs FILE (or --resume RUN)")
        args.hosts = []
        return check(args)
    if sub == "status":
        return _status(args)
    if sub == "report":
        return _report(args, render)
    if sub == "diff":
        return _diff(args)
    raise UsageError("fleet needs a subcommand: submit, status, report or diff")


def _open_db(args: argparse.Namespace) -> Database:
    from mailtls.fleet.db import Database
    from mailtls.fleet.urls import database_url

    url = database_url(args.db)
    assert url is not None
    db = Database(url)
    _opened.append(db)
    return db


def _ping_broker(broker: str) -> None:
    import redis

    from mailtls.fleet.urls import redact, scrub

    try:
        redis.Redis.from_url(broker, socket_connect_timeout=5, socket_timeout=5).ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        text = scrub(" ".join(str(exc).split()), broker)[:300]
        raise MailTLSError(f"broker {redact(broker)}: cannot use it: {text}") from None


def _new_run_id() -> str:
    import uuid  # here: every `mailtls check` imports this module for --db (start-up time)

    return time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + uuid.uuid4().hex[:8]


# --- worker ------------------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> int:
    from mailtls.fleet.app import serve
    from mailtls.fleet.urls import broker_url

    broker = broker_url(args.broker)
    db = _open_db(args)
    _ping_broker(broker)
    serve(db, broker, concurrency=args.concurrency, visibility_timeout=args.visibility_timeout,
          loglevel=args.loglevel)
    return OK


# --- submit ------------------------------------------------------------------------------------


def run_with_db(request: Any, args: argparse.Namespace, prepared: Any, *,
                output: Callable[[Report], int]) -> int:
    """After ``mailtls.cli.app._check`` built the request: ``fleet submit`` queues it, ``check
    --db`` runs it here, stores it and prints it with ``output`` (check's own rendering; the
    exit code)."""
    from mailtls.fleet.task import options_of

    if prepared.expectations is not None or prepared.baseline is not None:
        raise UsageError("--expect and --baseline cannot be used with --db (compare stored "
                         "runs with `mailtls fleet diff`)")
    domain_mode = args.command == "domain" or args.domain
    options = options_of(request, fail_on=args.fail_on,
                         domain_mode=domain_mode)
    names = list(request.domains if domain_mode else request.hosts)
    if args.command == "fleet":
        options["max_attempts"] = args.max_attempts
        return _submit(args, options, names)
    _need_fleet()
    if not args.targets:
        raise UsageError("--db needs --targets FILE (a run of many targets)")
    try:
        return _embedded(request, args, options, names, output)
    finally:
        _close_all()


def _submit(args: argparse.Namespace, options: dict[str, Any], names: list[str]) -> int:
    from mailtls.fleet.app import configure, enqueue
    from mailtls.fleet.urls import broker_url

    broker = broker_url(args.broker)
    db = _open_db(args)
    _ping_broker(broker)
    run_id = _new_run_id()
    db.create_run(run_id, kind="celery", source=args.targets, options=options, names=names)
    configure(broker)
    messages = enqueue(run_id, names, chunk=args.chunk)
    print(run_id)
    print(f"mailtls: run {run_id}: {len(names)} target(s) queued in {messages} message(s); "
          f"follow it with `mailtls fleet status {run_id}`", file=sys.stderr)
    return OK


def _resume(args: argparse.Namespace) -> int:
    from mailtls.fleet.app import configure, enqueue
    from mailtls.fleet.urls import broker_url

    broker = broker_url(args.broker)
    db = _open_db(args)
    db.status(args.resume)  # an unknown run: one clear line
    _ping_broker(broker)
    names = db.unfinished(args.resume)
    configure(broker)
    enqueue(args.resume, names, chunk=args.chunk)
    print(args.resume)
    print(f"mailtls: run {args.resume}: {len(names)} unfinished target(s) queued again",
          file=sys.stderr)
    return OK


# --- the embedded path ---------------------------------------------------------------------------


def _embedded(request: Any, args: argparse.Namespace, options: dict[str, Any],
              names: list[str], output: Callable[[Report], int]) -> int:
    """``check --targets FILE --db URL``: every target through ``scan_target`` in this process
    (``--max-hosts`` at a time, the per-address limit shared), each report stored as it
    finishes; then the usual output of ``check``."""
    from mailtls.fleet.task import per_address, scan_target_report
    from mailtls.fleet.writer import ResultWriter
    from mailtls.net.budget import ConnectionBudget
    from mailtls.scan.batch import DEFAULT_MAX_HOSTS, merge_reports

    db = _open_db(args)
    run_id = _new_run_id()
    db.create_run(run_id, kind="embedded", source=args.targets, options=options, names=names)
    print(f"mailtls: run {run_id} in {db.shown}", file=sys.stderr)
    jsonl = args.format == "jsonl"
    slots = asyncio.Semaphore(args.max_hosts or DEFAULT_MAX_HOSTS)
    limits = ConnectionBudget(per_address(options))
    finished: dict[int, Report] = {}
    codes: list[int] = []

    # One thread writes to the database, in batches, so the event loop keeps scanning.
    from concurrent.futures import ThreadPoolExecutor

    writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailtls-db")

    async def main() -> None:
        writer = ResultWriter(db, run_id, writer_thread)

        async def one(index: int, name: str) -> None:
            async with slots:
                report, doc = await scan_target_report(options, name, address_limits=limits)
            writer.add(name, doc)
            finished[index] = report
            codes.append(doc["summary"]["exit_code"])
            if jsonl:
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
                sys.stdout.flush()

        try:
            await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
        finally:
            await writer.drain()  # what finished is stored, even after an error

    started_at = request.clock()
    started = time.monotonic()
    try:
        asyncio.run(main())
    finally:
        writer_thread.shutdown()
    if jsonl:
        return worst_code(*codes) if codes else UNKNOWN
    ordered = [finished[i] for i in sorted(finished)]
    merged = merge_reports(ordered, started_at=started_at,
                           seconds=round(time.monotonic() - started, 3))
    return output(merged)


# --- status, report, diff ----------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    st = _open_db(args).status(args.run)
    share = (st.done + st.failed) / st.total if st.total else 1.0
    if args.format == "json":
        print(json.dumps({"run": st.run_id, "kind": st.kind, "source": st.source,
                          "created_at": st.created_at.isoformat() + "Z", "total": st.total,
                          "done": st.done, "failed": st.failed, "pending": st.pending,
                          "running": st.running, "progress": round(share, 4),
                          "finished": st.finished}))
    else:
        print(f"run {st.run_id} ({st.kind}, {st.source}, created "
              f"{st.created_at:%Y-%m-%d %H:%M:%S} UTC)")
        print(f"  {st.done + st.failed} of {st.total} targets final ({share:.1%}): "
              f"{st.done} done, {st.failed} failed (could not test), {st.pending} pending "
              f"({st.running} running)")
    return OK if st.finished else WARNINGS


def merged_document(docs: Iterable[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """One ``mailtls/1`` report of a run: every target's hosts and domains, counts summed."""
    docs = list(docs)
    counts = {s: 0 for s in ("fail", "unknown", "warn", "info")}
    connections = 0
    codes: list[int] = []
    hosts: list[Any] = []
    domains: list[Any] = []
    for doc in docs:
        for key, value in doc["summary"]["findings"].items():
            counts[key] = counts.get(key, 0) + int(value)
        connections += int(doc["summary"]["connections"])
        codes.append(int(doc["summary"]["exit_code"]))
        hosts += doc.get("hosts", [])
        domains += doc.get("domains", [])
    first = docs[0] if docs else None
    out: dict[str, Any] = {
        "schema": "mailtls/1",
        "tool": first["tool"] if first else _tool(),
        "started_at": min((d["started_at"] for d in docs), default=_now_iso()),
        "seconds": round(sum(float(d["seconds"]) for d in docs), 3),
        "options": {**(first["options"] if first else {}), "run": run_id,
                    "targets": len(docs)},
        "summary": {"findings": counts, "connections": connections,
                    "exit_code": worst_code(*codes) if codes else UNKNOWN},
        "hosts": hosts,
    }
    if domains:
        out["domains"] = domains
    return out


def _tool() -> dict[str, str]:
    from mailtls import __version__

    return {"name": "mailtls", "version": __version__}


def _now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat()


def _report(args: argparse.Namespace, render: Renderer) -> int:
    db = _open_db(args)
    st = db.status(args.run)
    docs: Iterator[dict[str, Any]] = db.documents(args.run)
    codes: list[int] = []
    if args.format in ("jsonl", "summary"):
        for doc in docs:
            codes.append(int(doc["summary"]["exit_code"]))
            if args.format == "jsonl":
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(_text_line(doc) + "\n")
    else:
        merged = merged_document(docs, args.run)
        codes.append(merged["summary"]["exit_code"])
        if args.format == "json":
            sys.stdout.write(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
        else:
            from mailtls.render.load import report_from_dict

            report, code = report_from_dict(merged, source=f"run {args.run}")
            fail_on = FailOn(db.run_options(args.run).get("fail_on", "warn"))
            sys.stdout.write(render(report, code, args.format, fail_on=fail_on))
    sys.stdout.flush()
    if not st.finished:
        print(f"mailtls: run {args.run}: {st.pending} of {st.total} target(s) still pending",
              file=sys.stderr)
        return UNKNOWN
    return worst_code(*codes) if codes else OK


def _text_line(doc: dict[str, Any]) -> str:
    names = [h["name"] for h in doc.get("hosts", [])] + [d["name"] for d in
                                                         doc.get("domains", [])]
    counts = doc["summary"]["findings"]
    worst = [f["id"] for h in doc.get("hosts", []) for f in h.get("findings", [])
             if f["severity"] in ("fail", "unknown")]
    shown = ", ".join(dict.fromkeys(worst)) if worst else "-"
    return (f"{', '.join(names) or '?':40} exit {doc['summary']['exit_code']}  "
            f"fail {counts['fail']} unknown {counts['unknown']} warn {counts['warn']}  "
            f"{shown[:120]}")


def _diff(args: argparse.Namespace) -> int:
    from mailtls.regression.diff import diff_dict, diff_exit_code, diff_reports, render_diff_text

    db = _open_db(args)
    old = merged_document(db.documents(args.old), args.old)
    new = merged_document(db.documents(args.new), args.new)
    changes = diff_reports(old, new)
    code = diff_exit_code(changes)
    a, b = f"run {args.old}", f"run {args.new}"
    if args.format == "json":
        doc = diff_dict(old, new, changes, code, old_source=a, new_source=b)
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_diff_text(old, new, changes, code, old_source=a, new_source=b))
    return code
