"""Beyond one machine: many targets on Celery workers (Redis broker), results in a database.

- ``task``: the one function that scans one target with a run's options into one ``mailtls/1``
  report; the embedded path (``check --targets --db``) and the workers both call it.
- ``db``: the results database (SQLAlchemy Core; SQLite or PostgreSQL), its schema and
  migrations, idempotent writes keyed by (run, target).
- ``limiter``: the per-address connection limit and rate-limit cool-down shared in Redis by
  every worker.
- ``app``: the Celery application and its task (late acks, bounded retries).
- ``urls``: broker and database URLs from the command line or the environment, redacted.
- ``cli``: ``mailtls worker``, ``mailtls fleet submit|status|report|diff``, ``check --db``.

Nothing here is imported unless one of those commands runs: Celery, redis and SQLAlchemy are
the optional extra ``mailtls[fleet]``.
"""
