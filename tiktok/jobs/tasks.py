"""The jobs a worker runs, and the Procrastinate app that holds them (:func:`build_app`).

- ``post_entry(key)``: post one post of the store (the job's argument is its key). It first takes the post's
  *account* lock (a session advisory lock, so it dies with a killed worker). With it, it runs the ordinary posting
  run (:func:`run_queue`) over that account's posts, again until none is left to do (a post may come due, or be
  added, meanwhile), so one account's posts go in queue order whichever of their jobs runs first, and different
  accounts' posts go in parallel on every worker. When another worker holds the account, the job ends at once: that
  worker takes this post too (it looks again before it lets go), and the dispatcher's next round is the safety net.
  The post's claim, its record and the shared limiter in the database do the rest: never two inits, never over
  TikTok's per-token limits.
- ``dispatch``, periodic (every few seconds): defers the jobs the queue needs (:mod:`.dispatch`) and retries jobs
  whose worker stopped sending heartbeats (killed, or its machine died); a stalled posting job whose post already
  has a new job waiting is marked failed instead (its successor resumes the post).
- ``refresh_tokens``, periodic (every 10 minutes): refreshes the accounts whose access token expires within 90
  minutes; each refresh locks its account's row, so workers never present a spent refresh token.
- ``daily_report``, periodic (23:50 UTC): the stats report, as ``python -m tiktok report`` would write it.

Every task takes Procrastinate's job context (``pass_context``): the settings the worker started with are in its
``additional_context`` (:func:`settings_of`), and the app (for the posting task the dispatcher defers) is the
context's own; nothing is kept in module globals. The schedule and thresholds are the settings' ``worker`` section
(WORKER_* in .env.example), checked with every other setting when the worker starts (:mod:`tiktok.config`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from tiktok.config import Settings
from tiktok.errors import ConfigError

log = logging.getLogger(__name__)

MAX_PASSES = 5  # runs over one account's entries in one job, while new work keeps coming due
SETTINGS = "settings"  # the key of the settings in the job context's additional_context
POST_TASK = "tiktok:post_entry"  # the posting task's name in the app (blueprint namespace "tiktok")


def settings_of(context) -> Settings:
    """The settings a job runs with: the worker's, handed to each job in its context."""
    return context.additional_context[SETTINGS]


def job_context(settings: Settings) -> dict[str, object]:
    """What the worker hands every job besides Procrastinate's own context (``run_worker_async``'s
    ``additional_context``)."""
    return {SETTINGS: settings}


def build_app(app_settings: Settings):
    """The Procrastinate app with this tool's tasks, for ``app_settings.store.database_url``; the schedule is
    ``app_settings.worker``'s."""
    import procrastinate

    if not app_settings.store.database_url:
        raise ConfigError("workers need DATABASE_URL (postgresql://...): the jobs live in PostgreSQL")
    schedule = app_settings.worker
    bp = procrastinate.Blueprint()
    bp.task(name="post_entry", pass_context=True)(post_entry)
    bp.periodic(cron=schedule.dispatch_cron)(
        bp.task(name="dispatch", queueing_lock="dispatch", pass_context=True)(dispatch))
    bp.periodic(cron=schedule.refresh_cron)(
        bp.task(name="refresh_tokens", queueing_lock="refresh", pass_context=True)(refresh_tokens))
    bp.periodic(cron=schedule.report_cron)(
        bp.task(name="daily_report", queueing_lock="report", pass_context=True)(daily_report))
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=app_settings.store.database_url))
    app.add_tasks_from(bp, namespace="tiktok")
    return app


# -- the tasks ---------------------------------------------------------------------------------------------------

def post_entry(context, key: str) -> str:
    from tiktok.db.connection import connect
    from tiktok.posting.runner import Hooks, RunOptions, plan_posts, run_queue, summary, work_for
    from tiktok.store.base import ENDED, open_store

    app_settings = settings_of(context)
    store = open_store(app_settings)
    try:
        post = store.find(key)
        if post is None or post.state in ENDED:
            return f"post {key} is no longer in the queue"
        # the account lock lives as long as this session
        lock = connect(app_settings.store.database_url, autocommit=True)
        try:
            if not lock.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                (f"tiktok-account:{post.user_id}",)).fetchone()[0]:
                return f"account {post.user_id} is being posted by another worker, which takes this post too"
            tried: set[int] = set()
            lines = []
            for _ in range(MAX_PASSES):
                options = RunOptions(jobs=1, user_id=post.user_id, grace_s=app_settings.posting.post_grace_s)
                items = [work_for(p, app_settings) for p in store.open_posts(now=time.time(), user_id=post.user_id)]
                work, _ = plan_posts(items, now=time.time(), options=options)
                todo = {item.post.id for item in work} - tried
                if not todo:
                    break
                tried |= todo
                report = run_queue(store, app_settings, RunOptions(jobs=1, user_id=post.user_id,
                                                                   grace_s=app_settings.posting.post_grace_s,
                                                                   only_ids=frozenset(todo)),
                                   hooks=Hooks(say=log.info))
                lines.append(summary(report))
        finally:
            lock.close()
    finally:
        store.close()
    return "; ".join(lines) or "nothing to do"


async def dispatch(context, timestamp: int) -> str:
    """Defer the posting jobs the queue needs; retry the jobs of workers that stopped sending heartbeats."""
    import procrastinate

    app_settings = settings_of(context)
    app = context.app
    post = app.tasks[POST_TASK]
    deferred = await asyncio.to_thread(_deferrals, app_settings)

    made = 0
    for deferral in deferred:
        options = {"queueing_lock": deferral.queueing_lock}
        if deferral.at is not None:
            options["schedule_at"] = deferral.at
        try:
            await post.configure(**options).defer_async(key=deferral.key)
            made += 1
        except procrastinate.exceptions.AlreadyEnqueued:
            pass
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=app_settings.worker.stalled_s)
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except procrastinate.exceptions.UniqueViolation:  # a successor waits under the same queueing lock
            await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=False)
    return f"{made} job(s) deferred, {len(stalled)} stalled job(s) retried"


def _deferrals(app_settings: Settings):
    from tiktok.jobs.dispatch import plan_deferrals
    from tiktok.posting.runner import work_for
    from tiktok.store.base import open_store

    store = open_store(app_settings)
    try:
        now = time.time()
        posts = store.open_posts(now=now)
        items = [work_for(post, app_settings) for post in posts]
        return plan_deferrals(items, store.live_claims(posts), now=now, grace_s=app_settings.posting.post_grace_s)
    finally:
        store.close()


def refresh_tokens(context, timestamp: int) -> str:
    from tiktok.auth.refresh import refresh_accounts
    from tiktok.exitcodes import outcome_label
    from tiktok.services import build_services

    services = build_services(settings_of(context))
    outcomes = refresh_accounts(services.store, services.oauth, within=services.settings.worker.refresh_within_s,
                                emulated=services.settings.tiktok.emulated)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome_label(outcome.status)] = counts.get(outcome_label(outcome.status), 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "no accounts"


def daily_report(context, timestamp: int) -> str:
    """The day's stats report, as ``python -m tiktok report`` writes it (REPORTS_DIR, REPORTS_S3_URI)."""
    from tiktok.report.run import write_report
    from tiktok.services import build_services

    return f"report exit status {write_report(build_services(settings_of(context)), say=log.info)}"
