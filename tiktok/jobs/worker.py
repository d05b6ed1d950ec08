"""``python -m tiktok worker`` (run jobs until stopped) and ``python -m tiktok queue`` (list entries and jobs)."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timezone

from tiktok.config import Settings
from tiktok.errors import ConfigError
from tiktok.exitcodes import ExitStatus

log = logging.getLogger(__name__)


def require_schema(settings: Settings) -> None:
    from tiktok.db.connection import describe
    from tiktok.db.migrations import LATEST, schema_version

    url = settings.store.database_url
    if not url:
        raise ConfigError("DATABASE_URL is not set: workers keep their jobs, the queue and the tokens in PostgreSQL "
                          "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    version = schema_version(url)
    if version != LATEST:
        raise ConfigError(f"{describe(url)} has schema version {version}, this tool needs {LATEST}: "
                          "run python -m tiktok db migrate first")
    from tiktok.store import postgres, schema

    store_version = postgres.store_version(url)
    if store_version != schema.LATEST:
        raise ConfigError(f"{describe(url)} has post store version {store_version}, this tool needs "
                          f"{schema.LATEST}: run python -m tiktok db migrate first")


def run_worker(settings: Settings, concurrency: int) -> int:
    """Run jobs until SIGINT or SIGTERM: Procrastinate stops taking jobs and lets the running ones end, then exit 0.

    When the database goes away, Procrastinate stops its worker; this loop waits (1 s, doubling to a minute) and
    starts it again once the database answers, so a database restart does not need every worker restarted by hand.
    """
    import asyncio

    from tiktok.jobs.tasks import build_app, job_context

    require_schema(settings)  # the WORKER_* settings were checked with the others, before the database is asked
    app = build_app(settings)
    schedule = settings.worker
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.warning("worker %s: %d job(s) at once on %s%s", name, concurrency, settings.environment,
                " (EMULATED: nothing reaches TikTok)" if settings.tiktok.emulated else "")
    options = dict(concurrency=concurrency, name=name, update_heartbeat_interval=schedule.heartbeat_s,
                   stalled_worker_timeout=schedule.stalled_s, fetch_job_polling_interval=1.0,
                   delete_jobs="successful", install_signal_handlers=False,
                   additional_context=job_context(settings))  # each job's settings (tiktok.jobs.tasks.settings_of)
    asyncio.run(supervise(app, options))
    return ExitStatus.OK


async def supervise(app, options: dict, *, backoff_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
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
                worker = asyncio.create_task(app.run_worker_async(**options))
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


def list_queue(settings: Settings, say=print) -> int:
    """Every post a run still looks at, with its state, then the jobs waiting, running or failed."""
    import time

    from tiktok.db.connection import describe, transaction
    from tiktok.store.base import open_store

    require_schema(settings)
    store = open_store(settings)
    try:
        posts = store.open_posts(now=time.time())
        live = store.live_claims(posts)
        say(f"{describe(settings.store.database_url)}: {store.count()} post(s), {len(posts)} still to do or to follow")
        for post in posts:
            record = post.record
            state = post.state if record else ("scheduled " + post.post_at if post.post_at else "waiting")
            if post.id in live:
                state += " (being posted by a worker now)"
            link = f" post id {record.post_ids[0]}" if record and record.post_ids else ""
            say(f"  {post.label}  {post.key}  {post.user_id}  {state}{link}")
    finally:
        store.close()
    with transaction(settings.store.database_url) as conn:
        jobs = conn.execute("SELECT id, task_name, args, status, scheduled_at, attempts FROM procrastinate_jobs "
                            "WHERE status IN ('todo', 'doing', 'failed') ORDER BY id").fetchall()
    say(f"jobs: {len(jobs)} waiting, running or failed")
    for job_id, task, args, status, scheduled_at, attempts in jobs:
        when = f" at {scheduled_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}Z" if scheduled_at and \
            scheduled_at > datetime.now(timezone.utc) else ""
        say(f"  job {job_id}  {task.split(':')[-1]}({', '.join(f'{v}' for v in args.values())})  {status}{when}"
            + (f"  attempts {attempts}" if attempts else ""))
    return ExitStatus.OK
