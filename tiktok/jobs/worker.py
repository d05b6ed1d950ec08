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
DEFAULT_CONCURRENCY = 4  # jobs at once in one worker (threads: posting waits on the network, not the CPU)


def require_schema(settings: Settings) -> None:
    from tiktok.db.connection import describe
    from tiktok.db.migrations import LATEST, schema_version

    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set: workers keep their jobs, the queue and the tokens in PostgreSQL "
                          "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    version = schema_version(settings.database_url)
    if version != LATEST:
        raise ConfigError(f"{describe(settings.database_url)} has schema version {version}, this tool needs {LATEST}: "
                          "run python -m tiktok db migrate first")


def run_worker(settings: Settings, concurrency: int) -> int:
    """Run jobs until SIGINT or SIGTERM (Procrastinate stops taking jobs and lets the running ones end)."""
    from tiktok.jobs.tasks import WorkerConfig, build_app

    require_schema(settings)
    config = WorkerConfig.from_environment()
    app = build_app(settings, config)
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.warning("worker %s: %d job(s) at once on %s%s", name, concurrency, settings.environment,
                " (EMULATED: nothing reaches TikTok)" if settings.emulated else "")
    app.run_worker(concurrency=concurrency, name=name, update_heartbeat_interval=config.heartbeat_s,
                   stalled_worker_timeout=config.stalled_s, fetch_job_polling_interval=1.0,
                   delete_jobs="successful")
    return ExitStatus.OK


def list_queue(settings: Settings, say=print) -> int:
    """Every queue entry with its state, then the jobs waiting, running or failed."""
    from tiktok.db.connection import describe, transaction
    from tiktok.posting.backend import open_queue
    from tiktok.posting.results import entry_key

    require_schema(settings)
    queue = open_queue(settings)
    manifest = queue.read()
    results = queue.results()
    records, claims = results.load(), results.claims()
    say(f"{describe(settings.database_url)}: {len(manifest.entries)} entr{'y' if len(manifest.entries) == 1 else 'ies'}")
    for entry in manifest.entries:
        key = entry_key(entry)
        record = records.get(key)
        state = record.state if record else ("scheduled " + entry.post_at if entry.post_at else "waiting")
        if key in claims:
            state += f" (being posted by {claims[key].describe()})"
        link = f" post id {record.post_ids[0]}" if record and record.post_ids else ""
        say(f"  {key}  {entry.user_id}  {state}{link}")
    for problem in manifest.problems:
        say(f"  invalid: {problem.message}")
    with transaction(settings.database_url) as conn:
        jobs = conn.execute("SELECT id, task_name, args, status, scheduled_at, attempts FROM procrastinate_jobs "
                            "WHERE status IN ('todo', 'doing', 'failed') ORDER BY id").fetchall()
    say(f"jobs: {len(jobs)} waiting, running or failed")
    for job_id, task, args, status, scheduled_at, attempts in jobs:
        when = f" at {scheduled_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}Z" if scheduled_at and \
            scheduled_at > datetime.now(timezone.utc) else ""
        say(f"  job {job_id}  {task.split(':')[-1]}({', '.join(f'{v}' for v in args.values())})  {status}{when}"
            + (f"  attempts {attempts}" if attempts else ""))
    return ExitStatus.OK
