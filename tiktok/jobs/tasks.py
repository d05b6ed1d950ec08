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

The schedule and thresholds come from the environment (WORKER_* in .env.example) when the worker starts, each
checked then (:meth:`WorkerConfig.from_environment`): a cron expression croniter cannot read, or that never comes
round, is a ConfigError naming the setting, not a worker that never posts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from tiktok.config import Settings, read_environment
from tiktok.errors import ConfigError

log = logging.getLogger(__name__)

# Cron expressions as croniter reads them (Procrastinate's parser): five fields, minute hour day month weekday, and
# an optional sixth, LAST, for seconds.
DEFAULTS = {
    "WORKER_DISPATCH_CRON": "* * * * * */10",  # every 10 s: new and due entries start within 10 s
    "WORKER_REFRESH_CRON": "*/10 * * * *",     # every 10 minutes ...
    "WORKER_REFRESH_WITHIN": "90m",            # ... whatever expires within 90 minutes
    "WORKER_REPORT_CRON": "50 23 * * *",       # the daily report at 23:50 UTC
    "WORKER_STALLED_S": "30",                  # a worker silent this long is gone: its jobs are retried
    "WORKER_HEARTBEAT_S": "10",                # how often a worker says it is alive
}
CRON_FORM = ("five fields (minute hour day month weekday) and an optional sixth, last, for seconds, such as "
             "'*/10 * * * *' (every 10 minutes) or '* * * * * */10' (every 10 seconds)")
SECONDS_RANGE = (0.1, 86400.0)  # WORKER_STALLED_S and WORKER_HEARTBEAT_S
REFRESH_WITHIN_MAX_S = 365 * 86400.0  # refresh tokens live a year at most (reference 2.3)
MAX_PASSES = 5  # runs over one account's entries in one job, while new work keeps coming due


@dataclass(frozen=True)
class WorkerConfig:
    dispatch_cron: str
    refresh_cron: str
    refresh_within_s: float
    report_cron: str
    stalled_s: float
    heartbeat_s: float

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> "WorkerConfig":
        """The WORKER_* settings of ``env`` (default: .env and the environment), each checked; ConfigError naming
        the first bad one and the form it takes."""
        values = env if env is not None else read_environment()
        source = {**DEFAULTS, **{k: v.strip() for k, v in values.items() if k in DEFAULTS and v and v.strip()}}
        config = cls(dispatch_cron=_cron(source, "WORKER_DISPATCH_CRON"),
                     refresh_cron=_cron(source, "WORKER_REFRESH_CRON"),
                     refresh_within_s=_within(source, "WORKER_REFRESH_WITHIN"),
                     report_cron=_cron(source, "WORKER_REPORT_CRON"),
                     stalled_s=_seconds(source, "WORKER_STALLED_S"), heartbeat_s=_seconds(source, "WORKER_HEARTBEAT_S"))
        if config.stalled_s <= config.heartbeat_s:
            raise ConfigError(f"WORKER_STALLED_S={config.stalled_s:g} must be more than WORKER_HEARTBEAT_S="
                              f"{config.heartbeat_s:g}: a worker is taken for gone only after missing a heartbeat "
                              "(the defaults are 30 and 10)")
        return config


def _cron(source: dict[str, str], name: str) -> str:
    """The cron expression of ``name`` if croniter reads it and it comes round at least once."""
    import croniter  # installed with Procrastinate, whose periodic tasks read the expression with it

    expression = source[name]
    try:
        croniter.croniter(expression, time.time()).get_next(float)
    except (croniter.CroniterError, ValueError, KeyError, TypeError):  # KeyError: croniter's own, on some garbage
        raise ConfigError(f"{name}={expression!r} is not a cron schedule: use {CRON_FORM}") from None
    return expression


def _seconds(source: dict[str, str], name: str) -> float:
    low, high = SECONDS_RANGE
    raw = source[name]
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # nan and inf too
        raise ConfigError(f"{name}={raw!r} is not a number of seconds from {low:g} to {high:g} "
                          f"(default {DEFAULTS[name]})")
    return value


def _within(source: dict[str, str], name: str) -> float:
    from tiktok.options import parse_duration

    raw = source[name]
    try:
        value = parse_duration(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= REFRESH_WITHIN_MAX_S:
        raise ConfigError(f"{name}={raw!r} is not a duration from 1s to 365d such as 90m, 2h or 1d "
                          f"(default {DEFAULTS[name]})")
    return value


_context: dict[str, object] = {}


def settings() -> Settings:
    return _context["settings"]  # type: ignore[return-value]


def build_app(app_settings: Settings, config: WorkerConfig):
    """The Procrastinate app with this tool's tasks, for ``app_settings.database_url``."""
    import procrastinate

    if not app_settings.database_url:
        raise ConfigError("workers need DATABASE_URL (postgresql://...): the jobs live in PostgreSQL")
    _context["settings"], _context["config"] = app_settings, config
    bp = procrastinate.Blueprint()
    post = bp.task(name="post_entry")(post_entry)
    _context["post_task"] = post

    async def dispatch(timestamp: int) -> str:
        return await _dispatch(post, app)

    bp.periodic(cron=config.dispatch_cron)(bp.task(name="dispatch", queueing_lock="dispatch")(dispatch))
    bp.periodic(cron=config.refresh_cron)(bp.task(name="refresh_tokens", queueing_lock="refresh")(refresh_tokens))
    bp.periodic(cron=config.report_cron)(bp.task(name="daily_report", queueing_lock="report")(daily_report))
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=app_settings.database_url))
    app.add_tasks_from(bp, namespace="tiktok")
    return app


# -- the tasks ---------------------------------------------------------------------------------------------------

def post_entry(key: str) -> str:
    from tiktok.db.connection import connect
    from tiktok.posting.runner import Hooks, RunOptions, plan_posts, run_queue, summary, work_for
    from tiktok.store.base import ENDED, open_store

    app_settings = settings()
    store = open_store(app_settings)
    try:
        post = store.find(key)
        if post is None or post.state in ENDED:
            return f"post {key} is no longer in the queue"
        lock = connect(app_settings.database_url, autocommit=True)  # the account lock lives as long as this session
        try:
            if not lock.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                (f"tiktok-account:{post.user_id}",)).fetchone()[0]:
                return f"account {post.user_id} is being posted by another worker, which takes this post too"
            tried: set[int] = set()
            lines = []
            for _ in range(MAX_PASSES):
                options = RunOptions(jobs=1, user_id=post.user_id, grace_s=app_settings.post_grace_s)
                items = [work_for(p, app_settings) for p in store.open_posts(now=time.time(), user_id=post.user_id)]
                work, _ = plan_posts(items, now=time.time(), options=options)
                todo = {item.post.id for item in work} - tried
                if not todo:
                    break
                tried |= todo
                report = run_queue(store, app_settings, RunOptions(jobs=1, user_id=post.user_id,
                                                                   grace_s=app_settings.post_grace_s,
                                                                   only_ids=frozenset(todo)),
                                   hooks=Hooks(say=log.info))
                lines.append(summary(report))
        finally:
            lock.close()
    finally:
        store.close()
    return "; ".join(lines) or "nothing to do"


async def _dispatch(post, app) -> str:
    deferred = await asyncio.to_thread(_deferrals)
    import procrastinate

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
    config: WorkerConfig = _context["config"]  # type: ignore[assignment]
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=config.stalled_s)
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except procrastinate.exceptions.UniqueViolation:  # a successor waits under the same queueing lock
            await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=False)
    return f"{made} job(s) deferred, {len(stalled)} stalled job(s) retried"


def _deferrals():
    from tiktok.jobs.dispatch import plan_deferrals
    from tiktok.posting.runner import work_for
    from tiktok.store.base import open_store

    app_settings = settings()
    store = open_store(app_settings)
    try:
        now = time.time()
        posts = store.open_posts(now=now)
        items = [work_for(post, app_settings) for post in posts]
        return plan_deferrals(items, store.live_claims(posts), now=now, grace_s=app_settings.post_grace_s)
    finally:
        store.close()


def refresh_tokens(timestamp: int) -> str:
    from tiktok.auth.refresh import refresh_accounts
    from tiktok.exitcodes import outcome_label
    from tiktok.services import build_services

    config: WorkerConfig = _context["config"]  # type: ignore[assignment]
    services = build_services(settings())
    outcomes = refresh_accounts(services.store, services.oauth, within=config.refresh_within_s,
                                emulated=services.settings.emulated)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome_label(outcome.status)] = counts.get(outcome_label(outcome.status), 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "no accounts"


def daily_report(timestamp: int) -> str:
    from tiktok.report.cli import main as report_main

    return f"report exit status {report_main([])}"
