"""The results database: runs, their targets, each target's report and its findings as rows.

SQLAlchemy Core, one schema for SQLite (a file name or ``sqlite:///PATH``) and PostgreSQL
(``postgresql://...``, driven by psycopg 3).

Migrations: a table ``mailtls_schema`` holds the schema version; ``MIGRATIONS[n]`` takes the
database from version n to n+1 and runs in the transaction that records it (PostgreSQL: under
an advisory lock, so workers starting together migrate once). Alembic would bring a second
configuration (``alembic.ini``, an ``env.py``, a script directory) for a handful of tables
that mailtls itself creates and only ever grows; a numbered list of Core functions keeps the
schema in one file with the code that writes it. Every migration only adds (tables, columns,
indexes), so an older mailtls keeps reading a newer database.

Writes are idempotent, keyed by (run, target): the first final result of a target is kept, in
one transaction with the target's move from pending to final (a worker killed after its commit
but before its ack leaves a message that finds the target final and does nothing).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mailtls.errors import MailTLSError
from mailtls.fleet.urls import redact, scrub

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "SCHEMA_VERSION",
    "Database",
    "DatabaseError",
    "DuplicateWrite",
    "RunStatus",
    "metadata",
]

PENDING, DONE, FAILED = "pending", "done", "failed"

metadata = sa.MetaData()

schema_table = sa.Table(
    "mailtls_schema", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("kind", sa.String(16), nullable=False),  # "celery" or "embedded"
    sa.Column("source", sa.Text, nullable=False),  # the targets file
    sa.Column("options", sa.Text, nullable=False),  # JSON: mailtls.fleet.task.options_of
    sa.Column("total", sa.Integer, nullable=False),
)

targets = sa.Table(
    "targets", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # pending, done, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("reason", sa.Text),  # why it could not be tested (state failed)
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_targets_state", "run_id", "state"),
)

reports = sa.Table(
    "reports", metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("target", sa.String(255), primary_key=True),
    sa.Column("exit_code", sa.Integer, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("document", sa.Text, nullable=False),  # the mailtls/1 JSON report of the target
    sa.ForeignKeyConstraint(["run_id", "target"], ["targets.run_id", "targets.name"]),
)

findings = sa.Table(
    "findings", metadata,
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),  # the host (or mail domain) it is about
    sa.Column("endpoint", sa.String(300)),  # host[address]:port, or NULL for the host
    sa.Column("service", sa.String(32)),
    sa.Column("finding_id", sa.String(100), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Index("ix_findings_run_target", "run_id", "target"),
    sa.Index("ix_findings_id", "finding_id", "run_id"),
)

tls_versions = sa.Table(
    "tls_versions", metadata,
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("endpoint", sa.String(300), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("service", sa.String(32), nullable=False),
    sa.Column("version", sa.String(16), nullable=False),  # "TLS 1.0", ... (tls_scan labels)
    sa.Column("accepted", sa.Boolean),  # NULL: could not be tested
    sa.Index("ix_tls_versions_run_target", "run_id", "target"),
    sa.Index("ix_tls_versions_version", "version", "run_id"),
)

certificates = sa.Table(
    "certificates", metadata,
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("endpoint", sa.String(300), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("service", sa.String(32), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("not_after", sa.DateTime, nullable=False),  # UTC
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("trusted", sa.Boolean),
    sa.Index("ix_certificates_run_target", "run_id", "target"),
    sa.Index("ix_certificates_not_after", "not_after", "run_id"),
)

def _create_v1(conn: Connection) -> None:
    for table in (runs, targets, reports, findings, tls_versions, certificates):
        table.create(conn, checkfirst=True)


#: MIGRATIONS[n] takes the schema from version n to n + 1 (version 0: an empty database).
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_create_v1,)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseError(MailTLSError):
    """The results database cannot be reached or used (one line, password redacted)."""


class DuplicateWrite(DatabaseError):
    """Another writer stored the same (run, target) at the same moment."""


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    kind: str
    source: str
    created_at: dt.datetime
    total: int
    done: int
    failed: int
    running: int  # pending targets a worker has started (attempts > 0)

    @property
    def pending(self) -> int:
        return self.total - self.done - self.failed

    @property
    def finished(self) -> bool:
        return self.pending == 0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive_utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def engine_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _one_line(exc: BaseException, url: str) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split()) or type(inner).__name__
    return scrub(text, url)[:300]


class Database:
    """One results database. Thread-safe (SQLAlchemy's pool); one per process."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        if "://" not in url:  # a file name: SQLite
            url = "sqlite:///" + os.path.abspath(os.path.expanduser(url))
        self.url = url
        self.shown = redact(url)
        try:
            kwargs: dict[str, Any]
            if url.startswith("sqlite"):
                kwargs = {"connect_args": {"timeout": 60}}
            else:  # no pre-ping (a round trip per use): a connection that broke fails its
                # task, whose message is delivered again
                kwargs = {"pool_recycle": 1800, "connect_args": {"connect_timeout": 10}}
            self.engine: Engine = sa.create_engine(engine_url(url), **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError, ImportError) as exc:
            raise DatabaseError(f"--db: not a usable database URL: {self.shown} "
                                f"({_one_line(exc, url)})") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        elif self.engine.dialect.name != "postgresql":
            raise DatabaseError(f"--db: only SQLite and PostgreSQL are supported, not "
                                f"{self.engine.dialect.name} ({self.shown})")
        if migrate:
            self.migrate()

    def _begin(self) -> Any:
        return self.engine.begin()

    def guard(self) -> _Guard:
        return _Guard(self)

    # --- schema -------------------------------------------------------------------------------

    def version(self) -> int:
        with self.guard(), self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("mailtls_schema"):
                return 0
            return int(conn.execute(sa.select(sa.func.max(schema_table.c.version)))
                       .scalar() or 0)

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; the version it was at."""
        with self.guard(), self._begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7384221)"))
            schema_table.create(conn, checkfirst=True)
            current = int(conn.execute(sa.select(sa.func.max(schema_table.c.version)))
                          .scalar() or 0)
            if current > SCHEMA_VERSION:
                raise DatabaseError(f"the database {self.shown} has schema version {current}; "
                                    f"this mailtls knows {SCHEMA_VERSION}: upgrade mailtls")
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](conn)
                conn.execute(schema_table.insert().values(version=version + 1,
                                                          applied_at=_utcnow()))
            return current

    # --- runs ---------------------------------------------------------------------------------

    def create_run(self, run_id: str, *, kind: str, source: str, options: dict[str, Any],
                   names: Sequence[str]) -> None:
        now = _utcnow()
        with self.guard(), self._begin() as conn:
            conn.execute(runs.insert().values(id=run_id, created_at=now, kind=kind,
                                              source=source, options=json.dumps(options),
                                              total=len(names)))
            rows = [{"run_id": run_id, "name": n, "position": i, "state": PENDING,
                     "attempts": 0, "reason": None, "updated_at": now}
                    for i, n in enumerate(names)]
            for start in range(0, len(rows), 1000):
                conn.execute(targets.insert(), rows[start:start + 1000])

    def run_options(self, run_id: str) -> dict[str, Any]:
        with self.guard(), self.engine.connect() as conn:
            text = conn.execute(sa.select(runs.c.options).where(runs.c.id == run_id)).scalar()
        if text is None:
            raise DatabaseError(f"no run {run_id!r} in {self.shown}")
        options: dict[str, Any] = json.loads(text)
        return options

    def status(self, run_id: str) -> RunStatus:
        with self.guard(), self.engine.connect() as conn:
            run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if run is None:
                raise DatabaseError(f"no run {run_id!r} in {self.shown}")
            counts = {PENDING: 0, DONE: 0, FAILED: 0}
            for state, count in conn.execute(
                    sa.select(targets.c.state, sa.func.count())
                    .where(targets.c.run_id == run_id).group_by(targets.c.state)):
                counts[state] = int(count)
            running = conn.execute(
                sa.select(sa.func.count()).where(targets.c.run_id == run_id,
                                                 targets.c.state == PENDING,
                                                 targets.c.attempts > 0)).scalar()
        return RunStatus(run_id, run.kind, run.source, run.created_at, int(run.total),
                         counts[DONE], counts[FAILED], int(running or 0))

    def unfinished(self, run_id: str) -> list[str]:
        """The targets of ``run_id`` without a final result, in the order given."""
        with self.guard(), self.engine.connect() as conn:
            return list(conn.execute(
                sa.select(targets.c.name).where(targets.c.run_id == run_id,
                                                targets.c.state == PENDING)
                .order_by(targets.c.position)).scalars())

    def target_names(self, run_id: str) -> list[str]:
        with self.guard(), self.engine.connect() as conn:
            return list(conn.execute(
                sa.select(targets.c.name).where(targets.c.run_id == run_id)
                .order_by(targets.c.position)).scalars())

    # --- one target ---------------------------------------------------------------------------

    def attempts(self, run_id: str, names: Sequence[str]) -> dict[str, tuple[str, int]]:
        """(state, attempts) of each of ``names``."""
        with self.guard(), self.engine.connect() as conn:
            rows = conn.execute(sa.select(targets.c.name, targets.c.state, targets.c.attempts)
                                .where(targets.c.run_id == run_id,
                                       targets.c.name.in_(list(names))))
            return {r.name: (str(r.state), int(r.attempts)) for r in rows}

    def begin_attempts(self, run_id: str, names: Sequence[str]) -> dict[str, int]:
        """Count an attempt at each pending one of ``names``: their attempts so far."""
        with self.guard(), self._begin() as conn:
            conn.execute(targets.update()
                         .where(targets.c.run_id == run_id, targets.c.name.in_(list(names)),
                                targets.c.state == PENDING)
                         .values(attempts=targets.c.attempts + 1, updated_at=_utcnow()))
            rows = conn.execute(sa.select(targets.c.name, targets.c.attempts)
                                .where(targets.c.run_id == run_id,
                                       targets.c.name.in_(list(names))))
            return {r.name: int(r.attempts) for r in rows}

    def begin_attempt(self, run_id: str, target: str) -> tuple[str, int]:
        """Count an attempt at ``target`` unless it has its final result: (state, attempts)."""
        with self.guard(), self._begin() as conn:
            conn.execute(targets.update()
                         .where(targets.c.run_id == run_id, targets.c.name == target,
                                targets.c.state == PENDING)
                         .values(attempts=targets.c.attempts + 1, updated_at=_utcnow()))
            row = conn.execute(sa.select(targets.c.state, targets.c.attempts)
                               .where(targets.c.run_id == run_id,
                                      targets.c.name == target)).first()
        if row is None:
            raise DatabaseError(f"no target {target!r} in run {run_id!r} of {self.shown}")
        return str(row.state), int(row.attempts)

    def store(self, run_id: str, target: str, document: dict[str, Any], *,
              state: str = DONE, reason: str | None = None) -> bool:
        """The final result of ``target``, unless it has one already (then False)."""
        return bool(self.store_many(run_id, [(target, document, state, reason)]))

    def store_many(self, run_id: str,
                   results: Sequence[tuple[str, dict[str, Any], str, str | None]]) -> list[str]:
        """Final results (target, document, state, reason) in one transaction; the targets
        stored (those that had none yet).

        Idempotent: the transaction first moves its targets from pending to final (one UPDATE
        ... RETURNING); a concurrent writer of the same (run, target) waits on that row and
        then finds it final, so a target has exactly one result whichever delivery finished
        first. A batch costs the same few round trips as one result."""
        if not results:
            return []
        by_name = {name: (doc, state, reason) for name, doc, state, reason in results}
        now = _utcnow()
        try:
            with self.guard(), self._begin() as conn:
                claimed: list[str] = []
                for final in (DONE, FAILED):
                    names = [n for n, (_d, st, _r) in by_name.items() if st == final]
                    if names:
                        claimed += conn.execute(
                            targets.update()
                            .where(targets.c.run_id == run_id, targets.c.name.in_(names),
                                   targets.c.state == PENDING)
                            .values(state=final, updated_at=now)
                            .returning(targets.c.name)).scalars().all()
                reasons = [{"n": n, "r": by_name[n][2]} for n in claimed if by_name[n][2]]
                if reasons:
                    conn.execute(targets.update()
                                 .where(targets.c.run_id == run_id,
                                        targets.c.name == sa.bindparam("n"))
                                 .values(reason=sa.bindparam("r")), reasons)
                report_rows: list[dict[str, Any]] = []
                rows: dict[sa.Table, list[dict[str, Any]]] = {
                    findings: [], tls_versions: [], certificates: []}
                for name in claimed:
                    doc = by_name[name][0]
                    summary = doc.get("summary", {})
                    report_rows.append({
                        "run_id": run_id, "target": name,
                        "exit_code": int(summary.get("exit_code", 3)),
                        "finished_at": now, "seconds": float(doc.get("seconds", 0.0)),
                        "document": json.dumps(doc, ensure_ascii=False),
                    })
                    for table, table_rows in _rows(run_id, name, doc).items():
                        rows[table] += table_rows
                if report_rows:
                    conn.execute(reports.insert(), report_rows)
                for table, table_rows in rows.items():
                    if table_rows:
                        conn.execute(table.insert(), table_rows)
        except DuplicateWrite:
            return []  # a duplicate delivery wrote the same targets at the same moment
        return claimed

    def documents(self, run_id: str) -> Iterator[dict[str, Any]]:
        """The stored reports of ``run_id``, in the order the targets were given."""
        self.status(run_id)  # an unknown run is an error, not an empty report
        with self.guard(), self.engine.connect() as conn:
            result = conn.execute(
                sa.select(reports.c.document)
                .select_from(reports.join(targets, sa.and_(
                    targets.c.run_id == reports.c.run_id, targets.c.name == reports.c.target)))
                .where(reports.c.run_id == run_id).order_by(targets.c.position)
                .execution_options(yield_per=500))
            for text in result.scalars():
                doc: dict[str, Any] = json.loads(text)
                yield doc

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run one of the documented example queries (``mailtls.fleet.queries``)."""
        with self.guard(), self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]

    def dispose(self) -> None:
        self.engine.dispose()


class _Guard:
    """Turns SQLAlchemy's errors into one redacted line (``DatabaseError``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc is None or not isinstance(exc, sa.exc.SQLAlchemyError):
            return
        if isinstance(exc, sa.exc.IntegrityError):
            raise DuplicateWrite(f"database {self.db.shown}: duplicate: "
                                f"{_one_line(exc, self.db.url)}") from None
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            raise DatabaseError(f"database {self.db.shown}: cannot use it: "
                                f"{_one_line(exc, self.db.url)}") from None
        raise DatabaseError(f"database {self.db.shown}: {type(exc).__name__}: "
                            f"{_one_line(exc, self.db.url)}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: workers on this machine write while `fleet status` reads; foreign keys as in PG.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _rows(run_id: str, target: str, doc: dict[str, Any]) -> dict[sa.Table, list[dict[str, Any]]]:
    """The queryable rows of one report: findings, accepted TLS versions, leaf certificates."""
    out: dict[sa.Table, list[dict[str, Any]]] = {findings: [], tls_versions: [], certificates: []}
    key = {"run_id": run_id, "target": target}
    for host in doc.get("hosts", []):
        name = str(host.get("name", target))
        for f in host.get("findings", []):
            out[findings].append(_finding(key, name, f))
        for ep in host.get("endpoints", []):
            where = {**key, "host": name, "endpoint": ep["endpoint"], "address": ep["address"],
                     "port": ep["port"], "service": ep["service"]}
            scan = ep.get("tls_scan") or {}
            for version, accepted in (scan.get("versions") or {}).items():
                out[tls_versions].append({**where, "version": version, "accepted": accepted})
            tls = ep.get("tls") or {}
            chain = tls.get("chain") or []
            if chain:
                leaf = chain[0]
                out[certificates].append({
                    **where, "subject": leaf["subject"], "issuer": leaf["issuer"],
                    "not_after": _naive_utc(leaf["not_after"]),
                    "sha256": leaf["sha256_fingerprint"],
                    "trusted": (tls.get("verification") or {}).get("trusted"),
                })
    for domain in doc.get("domains", []):
        name = str(domain.get("name", target))
        for f in domain.get("findings", []):
            out[findings].append(_finding(key, name, f))
    return out


def _finding(key: dict[str, Any], host: str, f: dict[str, Any]) -> dict[str, Any]:
    return {**key, "host": host, "endpoint": f.get("endpoint"), "service": f.get("service"),
            "finding_id": f["id"], "severity": f["severity"], "summary": f["summary"]}


def open_database(url: str) -> Database:
    return Database(url)


def stored_targets(db: Database, run_id: str, names: Iterable[str]) -> set[str]:
    """Which of ``names`` already have a final result in ``run_id``."""
    wanted = set(names)
    with db.guard(), db.engine.connect() as conn:
        done = conn.execute(sa.select(targets.c.name).where(targets.c.run_id == run_id,
                                                            targets.c.state != PENDING))
        return wanted & set(done.scalars())
