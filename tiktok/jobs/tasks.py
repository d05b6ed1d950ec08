"""The jobs a worker runs, and the Procrastinate app that holds them (:func:`build_app`).

- ``post_entry(key)``: post one post of the store (the job's argument is its key). It first takes the post's
  *account* lock (a lease in a row, :mod:`tiktok.store.leases`: renewed while the job runs, taken over by another
  worker once it lapses when this one hangs or is cut off, and checked before every pass and every claim; a killed
  worker's is taken over at once on its own machine). With it, it runs the ordinary posting
  run (:func:`run_queue`) over that account's posts, again until none is left to do (a post may come due, or be
  added, meanwhile), so one account's posts go in queue order whichever of their jobs runs first, and different
  accounts' posts go in parallel on every worker. When another worker holds the account, the job ends at once: that
  worker takes this post too (it looks again before it lets go), and the dispatcher's next round is the safety net.
  The post's claim, its record and the shared limiter in the database do the rest: never two inits, never over
  TikTok's per-token limits.
- ``transcribe_video(video_key, video)``: transcribe one video for "Transcribe selected" on the Videos page (the app
  defers it, :mod:`tiktok.transcription.workers`, under a queueing lock and a lock per video), with the same
  :func:`~tiktok.transcription.run.transcribe_job` as ``transcribe.py``, into the worker's TRANSCRIPTS_DIR (the app
  reads the outcome there: the folder must be the app's, shared when they run on different machines). A video that
  ends failed fails its job (the reason is also in the folder, where the page shows it); a video transcribed clears
  its earlier failed jobs.
- ``dispatch``, periodic (every few seconds): defers the jobs the queue needs (:mod:`.dispatch`) and retries jobs
  whose worker stopped sending heartbeats (killed, or its machine died); a stalled posting job whose post already
  has a new job waiting is handed to that successor (deleted, as a finished job is: never left "failed").
- ``refresh_tokens``, periodic (every 10 minutes): refreshes the accounts whose access token expires within 90
  minutes; each refresh locks its account's row, so workers never present a spent refresh token. It also sweeps
  what interrupted work left in the media store for more than a day: media published for TikTok to pull, temp
  files, and local copies of S3 objects (:func:`tiktok.media.publishing.sweep_leftovers`).
- ``daily_report``, periodic (23:50 UTC): the stats report, written by the report's own function
  (:func:`tiktok.report.run.write_report`) with the worker's settings.
- ``deliver_alerts``, periodic (every minute, WORKER_ALERTS_CRON): the worker's alerts (:class:`WorkerAlerts`,
  :mod:`tiktok.alerts`) notice what the store cannot see by itself and send what is due; every posting job also
  sends them as it ends, so a failed post is told within seconds. Exactly once per event and channel whichever
  worker sends it: the store's delivery claims (:mod:`tiktok.store.events`) see to that.

A job ends failed when its work did (Procrastinate records a task that raises as failed; :class:`JobFailed` says
why): a posting job whose own post ended failed in a way that waits for a person or a file (a missing file, TikTok's
refusal, a relink), and a report that did not complete. (A post that another job of its account took along, while
its own job handed it over, shows its failure in its record: on its line in ``queue`` and on the Posts page; its own
job fails the next time it is tried.) No failed job outlives what it said: a post since done (or cancelled, or gone)
loses its failed jobs, a post that failed again keeps only its newest, and a periodic task that succeeds clears its
own earlier failures (:func:`forget_failed_jobs`), so every failed job in ``python -m tiktok queue`` is one a person
may need to look at.

Every task takes Procrastinate's job context (``pass_context``): the settings the worker started with are in its
``additional_context`` (:func:`settings_of`), and the app (for the posting task the dispatcher defers) is the
context's own; nothing is kept in module globals. The schedule and thresholds are the settings' ``worker`` section
(WORKER_* in .env.example), checked with every other setting when the worker starts (:mod:`tiktok.config`).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from tiktok.config import Settings
from tiktok.db.handoff import POST_TASK  # the posting task's name, shared with the app's hand-over
from tiktok.errors import ConfigError, JobFailed, TikTokError
from tiktok.exitcodes import BAD_INPUT, DONE, FAILED, RELINK, SKIPPED, ExitStatus, outcome_label

log = logging.getLogger(__name__)

MAX_PASSES = 5  # runs over one account's entries in one job, while new work keeps coming due
SETTINGS = "settings"  # the key of the settings in the job context's additional_context
ALERTS = "alerts"  # the key of the worker's alerts (WorkerAlerts) in the same
FAILING = frozenset({FAILED, BAD_INPUT, RELINK})  # a post's outcome that waits for a person: its job ends failed


def settings_of(context) -> Settings:
    """The settings a job runs with: the worker's, handed to each job in its context."""
    return context.additional_context[SETTINGS]


def job_context(settings: Settings) -> dict[str, object]:
    """What the worker hands every job besides Procrastinate's own context (``run_worker_async``'s
    ``additional_context``): the settings, and the worker's alerts, started now so that their channels are known to
    the store before this worker's first job records an event (a channel first seen starts at the newest event)."""
    alerts = WorkerAlerts(settings)
    alerts.start()
    return {SETTINGS: settings, ALERTS: alerts}


class WorkerAlerts:
    """One worker's alerts (:class:`tiktok.alerts.deliver.Alerts`): built once per process from its settings and a
    post store of its own (open while the worker runs), or nothing when no channel is set (NOTIFY_URLS,
    WEBHOOK_URLS). :meth:`tick` is called by ``deliver_alerts`` and by every posting job as it ends, from the worker's
    job threads: one tick runs at a time, and a tick asked for while one is going makes that one go round once more
    (the caller does not wait, and no event recorded meanwhile waits for the next minute). Neither building nor
    ticking ever raises into a job: a failure is a logged line, and building is tried again at the next tick (a
    database that was down when the worker started)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._alerts = None
        self._built = False
        self._build_lock = threading.Lock()
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._said = ""  # the last reason building failed: said once, not every tick

    def start(self) -> None:
        self._get()

    def _get(self):
        if not self.settings.alerts.enabled:  # no channel: no store opened, nothing to tell
            return None
        with self._build_lock:
            if not self._built:
                store = None
                try:
                    from tiktok.alerts.deliver import Alerts
                    from tiktok.store.base import open_store

                    store = open_store(self.settings)
                    self._alerts = Alerts.from_settings(self.settings, store, clock=store.clock)  # the database's
                    self._built = True
                except Exception as exc:  # noqa: BLE001 - alerts never stop a worker or fail a job
                    if str(exc) != self._said:
                        log.warning("alerts could not start (tried again at each tick): %s", exc)
                    self._said = str(exc)
                if self._alerts is None and store is not None:
                    store.close()
            return self._alerts

    def tick(self) -> bool:
        """Notice, plan, claim and send what is due (True), or have the tick going on go once more (False)."""
        with self._lock:
            if self._running:
                self._again = True
                return False
            self._running = True
        try:
            while True:
                alerts = self._get()
                if alerts is not None:
                    try:
                        alerts.tick()
                    except Exception:  # tick() never raises by contract; a job must not fail if it did
                        log.exception("alerts: the tick failed")
                with self._lock:
                    if not self._again:
                        self._running = False
                        return True
                    self._again = False
        except BaseException:
            with self._lock:
                self._running = False
            raise


def alerts_of(context) -> WorkerAlerts | None:
    """The worker's alerts (None for a task called outside a worker, as tests do)."""
    return context.additional_context.get(ALERTS)


def build_app(app_settings: Settings):
    """The Procrastinate app with this tool's tasks, for ``app_settings.store.database_url``; the schedule is
    ``app_settings.worker``'s."""
    import procrastinate

    if not app_settings.store.database_url:
        raise ConfigError("workers need DATABASE_URL (postgresql://...): the jobs live in PostgreSQL")
    schedule = app_settings.worker
    bp = procrastinate.Blueprint()
    bp.task(name="post_entry", pass_context=True)(post_entry)
    bp.task(name="transcribe_video", pass_context=True)(transcribe_video)  # locks set where it is deferred
    bp.periodic(cron=schedule.dispatch_cron)(
        bp.task(name="dispatch", queueing_lock="dispatch", pass_context=True)(dispatch))
    bp.periodic(cron=schedule.refresh_cron)(
        bp.task(name="refresh_tokens", queueing_lock="refresh", pass_context=True)(refresh_tokens))
    bp.periodic(cron=schedule.report_cron)(
        bp.task(name="daily_report", queueing_lock="report", pass_context=True)(daily_report))
    bp.periodic(cron=schedule.alerts_cron)(
        bp.task(name="deliver_alerts", queueing_lock="alerts", pass_context=True)(deliver_alerts))
    from tiktok.db.connection import queue_pool_options  # Procrastinate's share of DATABASE_POOL_SIZE

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        **queue_pool_options(app_settings.store.database_url)))
    app.add_tasks_from(bp, namespace="tiktok")
    return app


# -- the tasks ---------------------------------------------------------------------------------------------------

def post_entry(context, key: str) -> str:
    """Post ``key`` (and what else its account has due), then send the alerts its end made (:class:`WorkerAlerts`),
    whether the job succeeds or fails."""
    try:
        return _post_entry(context, key)
    finally:
        alerts = alerts_of(context)
        if alerts is not None:
            alerts.tick()


def _post_entry(context, key: str) -> str:
    from tiktok.errors import ClaimLost
    from tiktok.posting.runner import Hooks, RunOptions, plan_posts, run_queue, summary, work_for
    from tiktok.store.base import ENDED, open_store

    app_settings = settings_of(context)
    ended: dict = {}  # post id -> its Outcome in this job (the last pass that worked on it)
    store = open_store(app_settings)
    try:
        post = store.find(key)
        if post is None or post.state in ENDED:
            return f"post {key} is no longer in the queue"
        # the account's lease (tiktok.store.leases): renewed while this job runs, taken over if this worker hangs
        if store.take_account(post.user_id).holder is not None:
            return f"account {post.user_id} is being posted by another worker, which takes this post too"
        try:
            tried: set[int] = set()
            lines = []
            for _ in range(MAX_PASSES):
                try:
                    store.check_account(post.user_id)
                except ClaimLost as lost:  # another worker took the account over while this one hung
                    lines.append(str(lost))
                    break
                options = RunOptions(jobs=1, user_id=post.user_id, grace_s=app_settings.posting.post_grace_s)
                items = [work_for(p, app_settings) for p in store.open_posts(now=store.clock(), user_id=post.user_id)]
                work, _ = plan_posts(items, now=store.clock(), options=options)
                todo = {item.post.id for item in work} - tried
                if not todo:
                    break
                tried |= todo
                report = run_queue(store, app_settings, RunOptions(jobs=1, user_id=post.user_id,
                                                                   grace_s=app_settings.posting.post_grace_s,
                                                                   only_ids=frozenset(todo)),
                                   hooks=Hooks(say=log.info), clock=store.clock)
                lines.append(summary(report))
                ended.update((outcome.post_id, outcome) for outcome in report.outcomes)
        finally:
            store.release_account(post.user_id)
        return post_result(context, store, post, ended.get(post.id), "; ".join(lines) or "nothing to do")
    finally:
        store.close()


def post_result(context, store, post, outcome, said: str) -> str:
    """A posting job's result, ``said``, once its post was worked on. Its post done (posted, in the inbox): the
    post's failed jobs go. Its post failed in a way that waits for a person (:data:`FAILING`): the post's earlier
    failed jobs go and this one fails (:class:`JobFailed`, the reason in plain words, TikTok's code apart)."""
    from tiktok.posting.failures import failure_of, where_met
    from tiktok.store.records import DELIVERED

    url = settings_of(context).store.database_url
    if outcome is None:
        return said
    if outcome.state in DELIVERED:
        forget_failed_jobs(url, POST_TASK, keys=[post.key])
        return said
    if outcome.status not in FAILING:
        return said
    forget_failed_jobs(url, POST_TASK, keys=[post.key], before=context.job.id)
    record = (store.get(post.id) or post).record
    if record is None:
        raise JobFailed(f"post {post.id} failed: {outcome.detail}")
    failure, where = failure_of(record), where_met(record, pid=True)
    raise JobFailed(f"post {post.id} failed{' ' + where if where else ''}: {failure.reason}"
                    + (f" (details: {failure.details})" if failure.details else ""))


def transcribe_video(context, video_key: str, video: dict) -> str:
    """Transcribe one video (``video``: what the Videos page listed, tiktok.transcription.workers.job_args) into the
    worker's TRANSCRIPTS_DIR; its job fails when the video does (JobFailed, the reason as the folder records it)."""
    from contextlib import ExitStack

    from tiktok.transcription.jobs import assemblyai_target, format_outcome, trusted_hosts
    from tiktok.transcription.limits import DEFAULT_TIMEOUT_S
    from tiktok.transcription.run import JobSettings, transcribe_job
    from tiktok.transcription.store import TranscriptStore
    from tiktok.transcription.workers import TRANSCRIBE_TASK, job_of

    app_settings = settings_of(context)
    job = job_of(video)
    store = TranscriptStore(app_settings.transcription.transcripts_dir)
    try:
        with ExitStack() as stack:  # the AssemblyAI stand-in (emulator mode, no key) lives for this job
            target = assemblyai_target(app_settings, stack)
            outcome = transcribe_job(job, store, target, JobSettings(timeout_s=DEFAULT_TIMEOUT_S),
                                     trusted=trusted_hosts(app_settings))
    except TikTokError as exc:  # no AssemblyAI key, an unusable folder: said on the video's card too
        try:
            store.record_failure(job.record, str(exc), BAD_INPUT if isinstance(exc, ConfigError) else FAILED)
        except TikTokError:
            pass
        raise JobFailed(f"{job.label} was not transcribed: {exc}") from None
    line = format_outcome(outcome)
    log.info("%s", line)
    url = app_settings.store.database_url
    if outcome.status not in (DONE, SKIPPED):
        if url:
            forget_failed_jobs(url, TRANSCRIBE_TASK, keys=[video_key], before=context.job.id, arg="video_key")
        raise JobFailed(line)
    if url:
        forget_failed_jobs(url, TRANSCRIBE_TASK, keys=[video_key], arg="video_key")
    return line


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
        except procrastinate.exceptions.UniqueViolation:  # a successor waits under the same queueing lock: it
            # resumes the post, so this job is done with (deleted as a finished job is, never left "failed")
            await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.SUCCEEDED, delete_job=True)
    cleared = await asyncio.to_thread(forget_stale_failures, app_settings)
    await asyncio.to_thread(_forget_own_failures, context)
    return f"{made} job(s) deferred, {len(stalled)} stalled job(s) retried, {cleared} stale failed job(s) cleared"


def _deferrals(app_settings: Settings):
    from tiktok.jobs.dispatch import plan_deferrals
    from tiktok.posting.runner import work_for
    from tiktok.store.base import open_store

    store = open_store(app_settings)
    try:
        now = store.clock()  # the database's clock (tiktok.db.clock)
        posts = store.open_posts(now=now)
        items = [work_for(post, app_settings) for post in posts]
        return plan_deferrals(items, store.live_claims(posts), now=now, grace_s=app_settings.posting.post_grace_s)
    finally:
        store.close()


def refresh_tokens(context, timestamp: int) -> str:
    from tiktok.auth.refresh import refresh_accounts
    from tiktok.services import build_services

    services = build_services(settings_of(context))
    outcomes = refresh_accounts(services.store, services.oauth, within=services.settings.worker.refresh_within_s,
                                emulated=services.settings.tiktok.emulated)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome_label(outcome.status)] = counts.get(outcome_label(outcome.status), 0) + 1
    from tiktok.media.publishing import sweep_leftovers
    sweep_leftovers(services.settings)  # publications and the store's leftovers, after a day; never raises
    _forget_own_failures(context)
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "no accounts"


def deliver_alerts(context, timestamp: int) -> str:
    """The alerts' periodic round: what the store cannot see by itself (an account to relink, a refresh token running
    out, a post stuck, a silent worker) is noticed, and what is due is sent, retries included."""
    alerts = alerts_of(context)
    ran = alerts.tick() if alerts is not None else True
    _forget_own_failures(context)
    return "alerts told" if ran else "alerts: the tick going on goes once more"


def daily_report(context, timestamp: int) -> str:
    """The day's stats report, written by the report's own function with the worker's settings (REPORTS_DIR,
    REPORTS_S3_URI): each account's line goes to the worker's log; a report that did not complete for every account
    (or whose upload failed) fails the job with those lines."""
    from tiktok.report.run import write_report
    from tiktok.services import build_services

    lines: list[str] = []

    def say(line: str) -> None:
        log.info("%s", line)
        lines.append(line)

    status = write_report(build_services(settings_of(context)), say=say)
    if status != ExitStatus.OK:
        fine = (outcome_label(DONE), outcome_label(SKIPPED))
        troubles = [line for line in lines if not line.removeprefix("[emulator] ").startswith(fine)]
        raise JobFailed(f"the daily report did not complete (exit status {int(status)}): " + "; ".join(troubles[:5]))
    _forget_own_failures(context)
    return f"daily report written: {len(lines)} line(s) in the worker's log"


# -- failed jobs that no longer say anything true ----------------------------------------------------------------

def forget_failed_jobs(url: str, task: str, *, keys: list[str] | None = None, before: int | None = None,
                       ids: list[int] | None = None, arg: str = "key") -> int:
    """Delete ``task``'s failed jobs (those whose argument ``arg`` is one of ``keys`` only, older than job ``before``
    only, or just ``ids``); how many went. Procrastinate deletes a job's events with it (``ON DELETE CASCADE``)."""
    from tiktok.db.connection import transaction

    query = "DELETE FROM procrastinate_jobs WHERE task_name = %s AND status = 'failed'"
    values: list[object] = [task]
    if keys is not None:
        query += " AND args->>%s = ANY(%s)"
        values += [arg, list(keys)]
    if before is not None:
        query += " AND id < %s"
        values.append(before)
    if ids is not None:
        query += " AND id = ANY(%s)"
        values.append(list(ids))
    with transaction(url) as conn:
        return conn.execute(query, values).rowcount


def forget_stale_failures(app_settings: Settings) -> int:
    """The dispatcher's sweep: delete the failed posting jobs of posts since done, ended or gone (a CLI run or
    another job may have finished them), and all but the newest of a post still failing; how many went."""
    from tiktok.db.connection import transaction
    from tiktok.store.base import ENDED, open_store
    from tiktok.store.records import DELIVERED

    url = app_settings.store.database_url
    with transaction(url) as conn:
        rows = conn.execute("SELECT id, args->>'key' FROM procrastinate_jobs WHERE task_name = %s "
                            "AND status = 'failed' ORDER BY id", (POST_TASK,)).fetchall()
    stale: list[int] = []
    if rows:
        newest = {key: job_id for job_id, key in rows}  # ordered by id: the last one of a key is its newest
        store = open_store(app_settings)
        try:
            over = {key for key in newest if (post := store.find(key)) is None or post.state in DELIVERED | ENDED}
        finally:
            store.close()
        stale = [job_id for job_id, key in rows if key in over or job_id != newest[key]]
    return forget_failed_jobs(url, POST_TASK, ids=stale) if stale else 0


def _forget_own_failures(context) -> None:
    """A periodic task that succeeded: its own earlier failed jobs (a database outage, a report that failed)
    said something no longer true."""
    url = settings_of(context).store.database_url
    if url:  # a task called outside a worker (tests) has no jobs table
        forget_failed_jobs(url, context.job.task_name, before=context.job.id)
