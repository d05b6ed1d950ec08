"""``python -m tiktok worker`` (run jobs until stopped), ``python -m tiktok queue`` (counts, posts with each
failure's reason and where it was met, jobs) and ``python -m tiktok workers`` (the workers and their heartbeats)."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from datetime import datetime

from tiktok.config import Settings
from tiktok.db.workers import NAME_PREFIX, WorkerRow, read_workers  # noqa: F401 - WorkerRow: callers' name
from tiktok.errors import ConfigError, TikTokError
from tiktok.exitcodes import ExitStatus

log = logging.getLogger(__name__)

REGISTER_POLL_S = 0.05  # how often a starting worker looks whether Procrastinate has registered it yet
FAILED_SHOWN = 100  # failed posts listed by python -m tiktok queue (newest first; the Posts page lists them all)
DONE_PAGE = 500  # done posts read at a time to count today's
OPEN_KINDS = ("due now", "scheduled", "in progress", "to try again", "awaiting a public link", "missed")
JOB_STATUSES = ("todo", "doing", "failed", "succeeded", "cancelled", "aborting", "aborted")  # Procrastinate 3's


def schema_tracks(url: str) -> list:
    """The database's two schema tracks (:class:`tiktok.db.migrations.Track`): these migrations and the post
    store's, each current, behind, ahead (a newer version migrated it and this one works with it) or too new."""
    from tiktok.db.migrations import LATEST, SCHEMA, STORE, schema_version, track
    from tiktok.store import postgres, schema

    return [track(url, SCHEMA, schema_version(url), LATEST),
            track(url, STORE, postgres.store_version(url), schema.LATEST)]


def require_schema(settings: Settings) -> None:
    """ConfigError (exit 2) unless this tool works with the database's schema: current, or ahead of it with
    migrations that say this version still works (a rolling upgrade: tiktok.db.migrations); a warning when ahead."""
    from tiktok.db.connection import describe
    from tiktok.db.migrations import refusal

    url = settings.store.database_url
    if not url:
        raise ConfigError("DATABASE_URL is not set: workers keep their jobs, the queue and the tokens in PostgreSQL "
                          "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    for found in schema_tracks(url):
        problem = refusal(url, found.name, found.have, found.latest)
        if problem:
            raise ConfigError(problem)
        if found.state == "ahead":
            log.warning("%s: its %s is at version %d, ahead of this version of the tool (%d), which works with it; "
                        "update this machine when you can", describe(url),
                        "post store" if found.name == "store" else "schema", found.have, found.latest)


def run_worker(settings: Settings, concurrency: int) -> int:
    """Run jobs until SIGINT or SIGTERM: Procrastinate stops taking jobs and lets the running ones end, then exit 0.

    When the database goes away, Procrastinate stops its worker; this loop waits (1 s, doubling to a minute) and
    starts it again once the database answers, so a database restart does not need every worker restarted by hand.
    """
    import asyncio

    from tiktok.db.connection import size_pools
    from tiktok.jobs.tasks import build_app, job_context

    size_pools(settings.store)  # DATABASE_POOL_SIZE: every pool of this process is sized from it
    require_schema(settings)  # the WORKER_* settings were checked with the others, before the database is asked
    from tiktok.db.clock import database_clock
    database_clock(settings.store.database_url)()  # learn the database's clock now: warns when ours is off
    app = build_app(settings)
    schedule = settings.worker
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.warning("worker %s: %d job(s) at once on %s%s", name, concurrency, settings.environment,
                " (EMULATED: nothing reaches TikTok)" if settings.tiktok.emulated else "")
    options = dict(concurrency=concurrency, name=name, update_heartbeat_interval=schedule.heartbeat_s,
                   stalled_worker_timeout=schedule.stalled_s, fetch_job_polling_interval=1.0,
                   delete_jobs="successful", install_signal_handlers=False,
                   # no LISTEN: it holds a connection outside Procrastinate's pool; polling every second costs one
                   # short query a second and keeps the worker within DATABASE_POOL_SIZE
                   listen_notify=False,
                   additional_context=job_context(settings))  # each job's settings (tiktok.jobs.tasks.settings_of)
    asyncio.run(supervise(app, options, url=settings.store.database_url))
    return ExitStatus.OK


async def supervise(app, options: dict, *, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
                    url: str | None = None) -> None:
    """Run the worker until a signal; restart it after the database comes back."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    wait = backoff_s
    while not stop.is_set():
        try:
            async with app.open_async():
                worker = asyncio.create_task(run_named(app, options, url))
                stopper = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:  # a signal: let the running jobs end, then leave
                    worker.cancel()
                    try:
                        await worker
                    except asyncio.CancelledError:
                        pass
                    return
                stopper.cancel()
                worker.result()  # raises what stopped it, if anything
                log.warning("the worker stopped (the database went away?); starting it again in %.0f s", wait)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database: wait and try again
            log.warning("the database cannot be used (%s); trying again in %.0f s", str(exc).strip()[:200], wait)
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except asyncio.TimeoutError:
            pass
        wait = min(wait * 2, max_backoff_s)


async def run_named(app, options: dict, url: str | None) -> None:
    """``app.run_worker_async(**options)``, and once Procrastinate has registered the worker, its name (host:pid)
    saved under the id Procrastinate gave it (:func:`name_worker`), so ``python -m tiktok workers`` can say which
    machine and process each of Procrastinate's workers is. Cancelling this cancels the worker as before: it lets its
    running jobs end."""
    import asyncio

    from procrastinate.worker import Worker

    app.perform_import_paths()
    worker = Worker(app=app, **{**app.worker_defaults, **options})
    run = asyncio.ensure_future(worker.run())
    try:
        while worker.worker_id is None and not run.done():  # registering is one query at the worker's start
            await asyncio.wait({run}, timeout=REGISTER_POLL_S)
        if worker.worker_id is not None and url:
            try:
                await asyncio.to_thread(name_worker, url, worker.worker_id, options.get("name") or "")
            except TikTokError as exc:  # only the name is missing from the list: the worker goes on
                log.warning("could not save this worker's name (%s)", exc)
        await run
    except asyncio.CancelledError:
        if not run.done():
            run.cancel()
            try:
                await run
            except asyncio.CancelledError:
                pass
        raise


def name_worker(url: str, worker_id: int, name: str) -> None:
    """Save ``name`` for Procrastinate's worker ``worker_id`` (its ``procrastinate_workers`` row has only an id and
    a heartbeat): a row ``worker:<id>`` of the store's small named values (``tiktok_store_meta``). The names of
    workers Procrastinate no longer knows go at the same time, so the rows never outnumber the workers."""
    from tiktok.db.connection import transaction

    with transaction(url) as conn:
        conn.execute("DELETE FROM tiktok_store_meta m WHERE m.name LIKE %s AND NOT EXISTS "
                     "(SELECT 1 FROM procrastinate_workers w WHERE m.name = %s::text || w.id)",
                     (NAME_PREFIX + "%", NAME_PREFIX))
        conn.execute("INSERT INTO tiktok_store_meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                     "SET value = EXCLUDED.value", (f"{NAME_PREFIX}{worker_id}", json.dumps({"name": name})))


# -- python -m tiktok workers ----------------------------------------------------------------------------------------

def list_workers(settings: Settings, say=print) -> int:
    """``python -m tiktok workers``: each worker Procrastinate knows with its host:pid, its last heartbeat in the
    person's zone and whether it is alive or stale (silent longer than WORKER_STALLED_S)."""
    from tiktok.db.connection import describe
    from tiktok.db.handoff import NO_WORKER
    from tiktok.text import count, duration, moment

    url = _database_url(settings)
    stalled_s = settings.worker.stalled_s
    workers = read_workers(url)
    alive = [w for w in workers if w.alive(stalled_s)]
    say(f"{describe(url)}: {count(len(workers), 'worker')}, {len(alive)} alive, {len(workers) - len(alive)} stale "
        f"(silent for {duration(stalled_s)} or more, WORKER_STALLED_S)")
    if not alive:
        say(NO_WORKER)
    for w in workers:
        state = "alive" if w.alive(stalled_s) else "stale"
        line = (f"  worker {w.id}  {w.name or '(no name: not started by python -m tiktok worker)'}  {state}  "
                f"last heartbeat {moment(w.last_heartbeat, seconds=True)}, {duration(w.silent_s)} ago")
        if w.running:
            line += f"  running {count(w.running, 'job')}"
        if state == "stale":
            line += ": stopped, frozen or cut off; other workers retry its jobs"
        say(line)
    return ExitStatus.OK


# -- python -m tiktok queue -----------------------------------------------------------------------------------------

def list_queue(settings: Settings, say=print) -> int:
    """``python -m tiktok queue``: counts by state (posts open, due, failed, done today; jobs by status), every post
    a run still looks at and every failed one (each failure's reason in plain words, TikTok's code apart, and the
    machine and process that met it), then the jobs waiting, running or failed."""
    from tiktok.db.connection import describe, transaction
    from tiktok.db.handoff import live_workers
    from tiktok.store.base import open_store
    from tiktok.text import count, local_zone, moment

    require_schema(settings)
    url = _database_url(settings)
    grace_s = settings.posting.post_grace_s
    store = open_store(settings)
    try:
        now = store.clock()
        posts = store.open_posts(now=now)
        live = store.live_claims(posts)
        failed = store.board_page("failed", missed_before=now - grace_s, offset=0, limit=FAILED_SHOWN)
        totals = store.board_counts(missed_before=now - grace_s)
        midnight = datetime.fromtimestamp(now, local_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
        done_today = _done_since(store, midnight.timestamp(), missed_before=now - grace_s)
        total = store.count()
        with transaction(url) as conn:
            jobs = conn.execute("SELECT j.id, j.task_name, j.args, j.status, j.scheduled_at, j.attempts, m.value "
                                "FROM procrastinate_jobs j LEFT JOIN tiktok_store_meta m "
                                "ON m.name = %s::text || j.worker_id WHERE j.status IN ('todo', 'doing', 'failed') "
                                "ORDER BY j.id", (NAME_PREFIX,)).fetchall()
            by_status = dict(conn.execute("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status"))
        known = {post.key: post for post in (*posts, *failed)}
        for key in {job[2].get("key") for job in jobs if job[3] == "failed"} - set(known) - {None}:
            found = store.find(key)
            if found is not None:
                known[key] = found
    finally:
        store.close()

    kinds = Counter(_open_kind(post, now, grace_s, live) for post in posts)
    say(f"{describe(url)}: {count(total, 'post')}, {len(posts)} still to do or to follow")
    kinds_text = ", ".join(f"{kinds[kind]} {kind}" for kind in OPEN_KINDS if kinds[kind])
    say(f"posts: {len(posts)} open{f' ({kinds_text})' if kinds_text else ''}, {totals['failed']} failed, "
        f"{done_today} done today (since {moment(midnight.timestamp())})")
    open_ids = {post.id for post in posts}
    for post in [*posts, *(p for p in failed if p.id not in open_ids)]:
        say(f"  {post.label}  {post.key}  {post.user_id}  {_post_state(post, now, grace_s, live)}")
        details = _failure_details(post)
        if details:
            say(f"      details: {details}")
    if totals["failed"] > len(failed):
        say(f"  ... {totals['failed'] - len(failed)} more failed post(s): the Posts page lists them all")
    statuses = ", ".join(f"{by_status.get(s, 0)} {s}" for s in JOB_STATUSES
                         if s in ("todo", "doing", "failed") or by_status.get(s))
    say(f"jobs: {len(jobs)} waiting, running or failed (by status: {statuses}); "
        f"workers: {live_workers(url, settings.worker.stalled_s)} alive (python -m tiktok workers lists them)")
    for job_id, task, args, status, scheduled_at, attempts, worker in jobs:
        when = f" at {moment(scheduled_at.timestamp(), seconds=True)}" if scheduled_at and \
            scheduled_at.timestamp() > now else ""
        line = (f"  job {job_id}  {task.split(':')[-1]}({', '.join(f'{v}' for v in args.values())})  {status}{when}"
                + (f"  attempts {attempts}" if attempts else ""))
        if status == "doing" and worker:
            line += f"  on {json.loads(worker).get('name', '?')}"
        if status == "failed":
            line += ": " + (_job_failure(known.get(args["key"])) if "key" in args else
                            "its error is in the log of the worker that ran it")
        say(line)
    return ExitStatus.OK


def _database_url(settings: Settings) -> str:
    url = settings.store.database_url
    if not url:
        raise ConfigError("DATABASE_URL is not set: workers keep their jobs, the queue and the tokens in PostgreSQL "
                          "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    return url


def _done_since(store, since: float, *, missed_before: float) -> int:
    """Posts done (posted, in the inbox) whose last change is at or after ``since``: the Posts page's done group,
    newest first, read a page at a time until one is older (what it reads grows with the day, not the history)."""
    done, offset = 0, 0
    while True:
        page = store.board_page("done", missed_before=missed_before, offset=offset, limit=DONE_PAGE)
        recent = [post for post in page if post.updated_at >= since]
        done += len(recent)
        if len(recent) < len(page) or len(page) < DONE_PAGE:
            return done
        offset += DONE_PAGE


def _open_kind(post, now: float, grace_s: float, live: set[int]) -> str:
    """Which of :data:`OPEN_KINDS` an open post is."""
    from tiktok.posting.schedule import when
    from tiktok.store.records import DELIVERED, State

    record = post.record
    if post.id in live:
        return "in progress"
    if record is None:
        return {"scheduled": "scheduled", "due": "due now"}.get(when(post.due_at, now, grace_s), "missed")
    if record.retry_requested:
        return "due now"
    if record.state in DELIVERED:
        return "awaiting a public link"
    if record.in_flight or (record.state == State.PENDING_INIT and record.outcome is None):
        return "in progress"
    return "to try again"


def _post_state(post, now: float, grace_s: float, live: set[int]) -> str:
    """A post's state for its line: scheduled, waiting, or its record's state; a failure with its reason in plain
    words and where and when it was met."""
    from tiktok.posting.failures import failure_of, where_met
    from tiktok.posting.schedule import when
    from tiktok.store.records import State
    from tiktok.text import moment

    record = post.record
    if record is None:
        schedule = when(post.due_at, now, grace_s) if post.post_at else "due"
        state = {"scheduled": f"scheduled {post.post_at}", "due": "waiting"}.get(
            schedule, f"missed: due at {post.post_at}, beyond the grace period; give it a new time")
    elif _failing(record):
        how = "failed, retry requested" if record.retry_requested else \
            "failed, waits for a person (Retry on the Posts page)" if record.needs_person or record.needs_force \
            else "failed, tried again later"
        met = ", ".join(part for part in (where_met(record, pid=True), moment(record.updated_at, seconds=True))
                        if part)
        state = f"{how} ({met}): {failure_of(record).reason}"
    else:
        state = str(record.state)
        if record.state == State.POSTED and record.post_ids:
            state += f" post id {record.post_ids[0]}"
    if post.id in live:
        state += " (being posted by a worker now)"
    return state


def _failing(record) -> bool:
    from tiktok.store.records import State

    return record.state == State.FAILED or (record.state == State.PENDING_INIT and record.outcome is not None)


def _failure_details(post) -> str:
    from tiktok.posting.failures import failure_of

    return failure_of(post.record).details if post.record is not None and _failing(post.record) else ""


def _job_failure(post) -> str:
    """Why a failed posting job failed: its post's failure, where it was met; or what became of the post."""
    from tiktok.posting.failures import failure_of, where_met

    if post is None:
        return "its post is gone from the store"
    if post.record is None or not _failing(post.record):
        return (f"{post.label} is {post.state} now; the job's own error is in the log of the worker that ran it")
    where = where_met(post.record, pid=True)
    return f"{post.label} failed{' ' + where if where else ''}: {failure_of(post.record).reason}"
