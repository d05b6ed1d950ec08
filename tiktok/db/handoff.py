"""Handing posts to the workers (PostgreSQL mode): defer a post's job, and read which workers are alive.

With DATABASE_URL, posts are made by ``python -m tiktok worker`` processes only (issue 22): the app's machine may
not hold a post's file, and the app holds no account lock, so it never runs a posting run itself. It hands a post
over by deferring the very job the workers' dispatcher defers (:data:`POST_TASK` with ``key=<post key>``, under
:func:`queueing_lock`): Procrastinate keeps at most one job waiting under a queueing lock, so a post handed over by
the app and found by the dispatcher still gets one job. :func:`live_workers` reads Procrastinate's own worker table,
so the Posts page can say when no worker would take it.

Procrastinate is imported inside the functions (the embedded SQLite default never loads it), and its jobs go through
this process's pool (:func:`tiktok.db.connection.pool_for`): handing over opens no connection of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from tiktok.db.connection import describe, pool_for, transaction
from tiktok.errors import DatabaseError, DatabaseUnavailable

POST_TASK = "tiktok:post_entry"  # the posting task in the workers' "tiktok" namespace (tiktok.jobs.tasks registers it)
START_WORKER = "python -m tiktok worker"
NO_WORKER = f"No worker is running: posts wait until one starts: {START_WORKER}"


def queueing_lock(key: str) -> str:
    """The queueing lock of a post's job to run now, ``post:<key>``: the app's hand-over and the dispatcher
    (tiktok.jobs.dispatch, which adds ``@<time>`` for a job deferred to a time) both use it."""
    return f"post:{key}"


def defer_posts(url: str, keys: Iterable[str]) -> list[str]:
    """Defer a posting job, to run now, for each post key; returns the keys that got a new job (one whose job is
    already waiting gets no second). DatabaseUnavailable or DatabaseError (naming the database, never its password)
    when the database cannot take them."""
    import procrastinate
    from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

    made = []
    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
    try:
        with app.open(pool_for(url)):  # a pool set from outside stays open when the app closes
            for key in keys:
                try:
                    app.configure_task(POST_TASK, queueing_lock=queueing_lock(key)).defer(key=key)
                    made.append(key)
                except AlreadyEnqueued:
                    pass
    except ConnectorException as exc:
        raise _database_error(url, exc) from None
    return made


def live_workers(url: str, stalled_s: float) -> int:
    """How many workers sent a heartbeat within ``stalled_s`` seconds, by the database's clock.

    Procrastinate 3 registers each running worker as a row of ``procrastinate_workers`` and renews its
    ``last_heartbeat`` every ``update_heartbeat_interval`` (WORKER_HEARTBEAT_S); a worker that stops removes its row,
    a killed or frozen one stops renewing it. A row older than ``stalled_s`` (WORKER_STALLED_S, after which the
    workers themselves take a silent worker for gone) is no worker."""
    with transaction(url) as conn:
        return int(conn.execute("SELECT count(*) FROM procrastinate_workers "
                                "WHERE last_heartbeat > now() - make_interval(secs => %s)",
                                (float(stalled_s),)).fetchone()[0])


def _database_error(url: str, exc: Exception) -> DatabaseError:
    import psycopg

    cause = exc.__cause__
    first = (str(cause or exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(cause, psycopg.OperationalError):
        return DatabaseUnavailable(f"{describe(url)} went away ({first})")
    if isinstance(cause, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction)):
        return DatabaseError(f"{describe(url)} has no job tables yet: run python -m tiktok db migrate")
    return DatabaseError(f"{describe(url)} refused the job ({first})")
