"""The app's background runner: one round at a time in one thread, kicked by "Post now", Retry and a tick.

Without DATABASE_URL (one machine, the embedded store) a round is ``run_queue``, the same run as cron's
``upload_to_tiktok.py``: it imports MANIFEST_FILE when there is one, then posts what is due in the store. Two
processes (the app and cron) are kept apart by the store's per-post claims, not by anything here.

With DATABASE_URL the app never runs a posting run itself (issue 22): a post's file may live on another machine, and
only the workers take the account lock. A round then imports the manifest and hands the posts that came due to the
workers (:func:`hand_over_due`); "Post now" and Retry hand their post over at once (:func:`start_post`). Handing over
is deferring the post's job, as the workers' dispatcher does (:mod:`tiktok.db.handoff`): the app sends nothing to
TikTok's posting endpoints.

One app never runs two rounds at once: a kick while a round is going returns False and makes that round go once more
when it ends, so no kick is lost (the second round sees what the kick was for).

``QUEUE_TICK_S`` kicks every so many seconds, so scheduled entries post with no cron line: 0 (off) in tests' config,
30 for ``python app.py`` (which builds the app from the environment), or whatever the environment says (checked
with the other settings when the app starts: :func:`tiktok.config.parse_tick`).

A manifest (or an earlier version's results file beside it) that cannot be read is the manifest's problem, not the
store's: the round then goes on with what the store holds without importing it (so nothing composed in the app waits
for a file someone broke), and :attr:`QueueRunner.import_problem` says why for the Posts page.

The log says what changed, not what stayed (issue 24: an idle queue logged every entry every 30 s): the rounds share
one :class:`tiktok.posting.runner.Said`, so a post is logged when something happened to it, a manifest's problem
when it first appears, and a round's closing line only when the round logged anything else or the line changed. An
idle queue of any size logs nothing between its first round and its next change.

Alerts (issue 24: NOTIFY_URLS, WEBHOOK_URLS): the app has one :class:`tiktok.alerts.deliver.Alerts`, built from the
settings and the app's post store (:class:`AppAlerts`), told after every round of either kind, whether the round
worked or broke, so what a round recorded (a failure, a publication, a public link) and what only a look can notice
(an account to relink, a post stuck) goes out within a tick. Its ticks run in a thread of their own, so a slow or
hanging channel never holds up the next posting round. The cron run, --watch and the workers tell their own; the
store's delivery claims (:mod:`tiktok.store.events`) send each event once per channel whoever tells it. An alert that
cannot go never breaks a round: it is a logged line and a later retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask

from tiktok.config import Settings
from tiktok.errors import ResultsFileError

if TYPE_CHECKING:
    from tiktok.posting.runner import Said

log = logging.getLogger(__name__)

EXTENSION = "tiktok_queue_runner"
ALERTS_EXTENSION = "tiktok_alerts"
APP_TICK_S = 30.0  # python app.py: scheduled posts go out within half a minute of their time


class QueueRunner:
    """Runs ``run`` in a daemon thread, never two at once; ``kick`` while running queues exactly one more round."""

    def __init__(self, run: Callable[[], Any], *, name: str = "queue-runner") -> None:
        self.run = run
        self.name = name  # its thread's name
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.rounds = 0  # finished runs, for tests and the log
        self.import_problem = ""  # why the last run could not import the manifest ("" when it could)

    def kick(self) -> bool:
        """Start a run now (True), or, when one is going, have it run once more after it ends (False)."""
        with self._lock:
            if self._running:
                self._again = True
                return False
            self._running = True
            self._thread = threading.Thread(target=self._rounds, name=self.name, daemon=True)
            self._thread.start()
            return True

    @property
    def running(self) -> bool:
        with self._lock:
            return self._running

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the current thread (rounds included) to end; True when nothing is running afterwards."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def _rounds(self) -> None:
        while True:
            self._one_round()
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def _one_round(self) -> None:
        try:
            line = self.run()
            if line is not None:  # None: the round has nothing new to say
                log.info("%s", line)
        except Exception:  # a run that breaks must not kill the thread silently or stop later kicks
            log.exception("posting run failed")
        finally:
            self.rounds += 1

    def start_tick(self, seconds: float, *, wait: Callable[[float], bool] | None = None) -> threading.Thread | None:
        """Kick every ``seconds`` until :meth:`stop`; nothing when ``seconds`` is 0 or less. ``wait(seconds)`` is
        the pause between kicks, True to end the tick (default: :meth:`stop`'s event; tests drive their own clock)."""
        if seconds <= 0:
            return None
        pause = wait or self._stop.wait

        def tick() -> None:
            while not pause(seconds):
                self.kick()
        thread = threading.Thread(target=tick, name="queue-tick", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def install(app: Flask, settings: Settings, test_config: Mapping[str, Any] | None) -> QueueRunner:
    """Attach the runner (and start the tick when ``QUEUE_TICK_S`` asks for one)."""
    app.config["MANIFEST_PATH"] = settings.posting.manifest_path
    clock = app.config["CLOCK"]
    world = app.config.get("WORLD_CLOCK", clock)  # the schedule's now: emulated, the emulator's (tiktok.clock)
    one_round = _hand_over_round if settings.store.database_url else _posting_round
    if not settings.store.database_url:  # the runner and the composer's creator_info share one limiter
        from functools import partial
        from tiktok.web.creators import posting_limiter
        one_round = partial(_posting_round, limiter=posting_limiter(app))

    from tiktok.posting.runner import Said
    said = Said()  # what earlier rounds logged: a round logs what changed
    alerts = app.extensions[ALERTS_EXTENSION] = AppAlerts(app, settings)
    alerts.start()

    def run() -> str | None:
        try:
            return posting_round()
        finally:
            alerts.tick()

    def posting_round() -> str | None:
        from tiktok.posting.manifest import ManifestError
        from tiktok.web.media import clean_media
        from tiktok.web.post_store import store_of
        from tiktok.web.published import sweep_published

        clean_media(app, settings, clock)  # the media library's cleanup, at most once an hour; never raises
        sweep_published(app, settings, clock)  # publications a killed run left, after a day; never raises
        manifest = Path(app.config["MANIFEST_PATH"])
        try:
            line = one_round(store_of(app), settings, manifest if manifest.exists() else None, world, said=said)
        except (ManifestError, ResultsFileError) as exc:
            problem = f"{exc}. Nothing in it was imported; the posts already in the store are posted as usual."
            if problem != runner.import_problem:  # said once, not every round while the file stays broken
                log.warning("%s; going on with what the store holds without importing it", exc)
            runner.import_problem = problem
            line = one_round(store_of(app), settings, None, world, said=said)
        else:
            runner.import_problem = ""
        return line if said.closing(line) else None

    runner = QueueRunner(run)
    app.extensions[EXTENSION] = runner
    default_tick = 0.0 if test_config else APP_TICK_S
    tick = settings.app.queue_tick_s
    seconds = tick if tick is not None else default_tick
    app.config["QUEUE_TICK_S"] = seconds
    runner.start_tick(seconds)
    return runner


class AppAlerts:
    """The app's alerts: one :class:`~tiktok.alerts.deliver.Alerts` per process, built from the settings, the app's
    post store and its token store, or nothing when no channel is set. Built at start-up in a thread of its own (so
    the channels are known to the store before anything is recorded: a channel first seen starts at the newest event;
    and a database that is down does not hold the app up), else at the next round; told by the runner after every
    round (rounds never overlap). Never raises: a failure is a logged line, and building is tried again."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.alerts = None
        self._built = False
        self._lock = threading.Lock()
        self._said = ""  # the last reason building failed: said once, not every round
        self._thread = QueueRunner(self._tick_now, name="alerts")  # one tick at a time, apart from the rounds

    def start(self) -> threading.Thread | None:
        """Build in the background now, when a channel is set."""
        if not self.settings.alerts.enabled:
            self._built = True
            return None
        thread = threading.Thread(target=self._get, name="alerts-start", daemon=True)
        thread.start()
        return thread

    def _get(self):
        with self._lock:
            if not self._built:
                try:
                    from tiktok.alerts.deliver import Alerts
                    from tiktok.web.post_store import store_of

                    store = store_of(self.app)
                    services = self.app.extensions["tiktok_services"]
                    self.alerts = Alerts.from_settings(self.settings, store, services.store, clock=store.clock)
                    self._built = True
                except Exception as exc:  # noqa: BLE001 - alerts never stop the app or a round
                    if str(exc) != self._said:
                        log.warning("alerts could not start (tried again after each round): %s", exc)
                    self._said = str(exc)
            return self.alerts

    def tick(self) -> None:
        """Have the alerts' own thread notice, plan, claim and send what is due (a tick asked for while one is
        going makes it go once more): a slow or hanging channel never holds up the next posting round. Never
        raises."""
        if not self.settings.alerts.enabled:
            return
        self._thread.kick()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the alerts' thread to finish what it was asked (tests, and a stopping app); True when idle."""
        return self._thread.join(timeout)

    def _tick_now(self) -> None:
        alerts = self._get()
        if alerts is None:
            return
        try:
            alerts.tick()
        except Exception:  # tick() never raises by contract; the thread must go on if it did
            log.exception("alerts: the tick failed")


def _posting_round(store, settings: Settings, manifest: Path | None, clock: Callable[[], float],
                   limiter=None, said: Said | None = None) -> str:
    """One machine: import ``manifest``, then post what is due (the CLI's one code path), within ``limiter``."""
    from tiktok.posting.runner import Hooks, RunOptions, run_queue, summary

    options = RunOptions(grace_s=settings.posting.post_grace_s)
    hooks = Hooks(say=lambda text: log.info("%s", text), limiter=limiter, said=said)
    return "posting run: " + summary(run_queue(store, settings, options, manifest=manifest, clock=clock,
                                                hooks=hooks))


def _hand_over_round(store, settings: Settings, manifest: Path | None, clock: Callable[[], float],
                     said: Said | None = None) -> str:
    """DATABASE_URL: import ``manifest``, then hand the posts that came due to the workers; nothing is posted here."""
    from tiktok.posting.importer import import_manifest, manifest_media
    from tiktok.posting.runner import import_changes, import_notes

    if manifest is not None:
        imported = import_manifest(store, manifest, allow_loopback=settings.emulated, tokens_key=settings.tokens_key,
                                   media=manifest_media(settings), verified=settings.media.verified_prefixes)
        notes = import_notes(imported)
        say = (lambda text: log.info("%s", text))
        say = say if said is None else said.counting(say)
        for line in [*(notes if said is None else said.notes(notes)), *import_changes(imported)]:
            say(line)
    keys = hand_over_due(store, settings, clock())
    return f"handed {len(keys)} due post(s) to the workers" if keys else "no post came due for the workers"


def due_keys(store, settings: Settings, now: float) -> list[str]:
    """The posts a person or the clock made due that no run holds: not started and due (or scheduled and now due),
    or a failure a person asked to retry. The rest of what workers do (resuming an upload a stopped worker left,
    retrying a failure by itself, looking for a public post id) is their dispatcher's, which knows their jobs."""
    from tiktok.posting.runner import RunOptions, plan_posts, work_for

    posts = store.open_posts(now=now, scheduled=False)
    work, _ = plan_posts([work_for(post, settings) for post in posts], now=now,
                         options=RunOptions(grace_s=settings.posting.post_grace_s))
    fresh = [item.post for item in work if item.post.record is None or item.post.record.retry_requested]
    live = store.live_claims(fresh) if fresh else set()
    return [post.key for post in fresh if post.id not in live]


def hand_over_due(store, settings: Settings, now: float) -> list[str]:
    """Defer the job of every post :func:`due_keys` names (one waiting at most per post); the keys that got one."""
    from tiktok.db.handoff import defer_posts

    url = settings.store.database_url
    keys = due_keys(store, settings, now) if url else []
    return defer_posts(url, keys) if url and keys else []


def start_post(app: Flask, key: str) -> str:
    """Have the post ``key`` made as soon as possible ("Post now", Retry); what happens next, as the end of a
    sentence. One machine: kick the runner. DATABASE_URL: hand it to the workers, and say so if none is running."""
    settings = app.extensions["tiktok_services"].settings
    url = settings.store.database_url
    if not url:
        return "the runner has started" if kick(app) else "the run going on now takes it next"
    from tiktok.db.handoff import START_WORKER, defer_posts, live_workers
    from tiktok.errors import DatabaseError

    try:
        defer_posts(url, [key])
        alive = live_workers(url, settings.worker.stalled_s)
    except DatabaseError as exc:
        log.warning("post %s was not handed to the workers: %s", key, exc)
        return f"it could not be handed to the workers now ({str(exc).rstrip('.')}); their dispatcher takes it " \
               "once the database answers"
    if not alive:
        return f"it is handed to the workers, but no worker is running: it waits until one starts ({START_WORKER})"
    return "it is handed to the workers, and a running worker takes it within seconds"


def workers_missing(app: Flask) -> bool:
    """DATABASE_URL: True when no worker has sent a heartbeat lately (nobody takes the posts handed over); False
    without DATABASE_URL, or when the database cannot say (the page reports that problem on its own)."""
    settings = app.extensions["tiktok_services"].settings
    url = settings.store.database_url
    if not url:
        return False
    from tiktok.db.handoff import live_workers
    from tiktok.errors import DatabaseError

    try:
        return live_workers(url, settings.worker.stalled_s) == 0
    except DatabaseError as exc:
        log.warning("cannot tell whether a worker is running: %s", exc)
        return False


def runner_of(app: Flask) -> QueueRunner:
    return app.extensions[EXTENSION]


def alerts_of(app: Flask) -> "AppAlerts":
    return app.extensions[ALERTS_EXTENSION]


def kick(app: Flask) -> bool:
    """Start a posting run in the background (True), or queue one more round of the run going on (False)."""
    return runner_of(app).kick()


def start_tick(app: Flask, seconds: float) -> threading.Thread | None:
    return runner_of(app).start_tick(seconds)
