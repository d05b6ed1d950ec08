"""The app's background runner: ``run_queue`` (the same run as cron's ``upload_to_tiktok.py``: it imports MANIFEST_FILE
when there is one, then posts what is due in the store) in one thread.

"Post now" and Retry call :func:`kick`; the page then follows the records the run writes. One app never runs two
at once: a kick while a run is going returns False and makes that run go round once more when it ends, so no kick
is lost (the second round sees what the kick was for). Two processes (the app and cron) are kept apart by the
store's per-post claims, not by anything here.

``QUEUE_TICK_S`` kicks every so many seconds, so scheduled entries post with no cron line: 0 (off) in tests' config,
30 for ``python app.py`` (which builds the app from the environment), or whatever the environment says (checked
with the other settings when the app starts: :func:`tiktok.config.parse_tick`).

A manifest (or an earlier version's results file beside it) that cannot be read is the manifest's problem, not the
store's: the run then posts what the store holds without importing it (so nothing composed in the app waits for a
file someone broke), and :attr:`QueueRunner.import_problem` says why for the Posts page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from flask import Flask

from tiktok.config import Settings
from tiktok.errors import ResultsFileError

log = logging.getLogger(__name__)

EXTENSION = "tiktok_queue_runner"
APP_TICK_S = 30.0  # python app.py: scheduled posts go out within half a minute of their time


class QueueRunner:
    """Runs ``run`` in a daemon thread, never two at once; ``kick`` while running queues exactly one more round."""

    def __init__(self, run: Callable[[], Any]) -> None:
        self.run = run
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
            self._thread = threading.Thread(target=self._rounds, name="queue-runner", daemon=True)
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
            report = self.run()
            from tiktok.posting.runner import summary
            log.info("posting run: %s", summary(report))
        except Exception:  # a run that breaks must not kill the thread silently or stop later kicks
            log.exception("posting run failed")
        finally:
            self.rounds += 1

    def start_tick(self, seconds: float) -> threading.Thread | None:
        """Kick every ``seconds`` until :meth:`stop`; nothing when ``seconds`` is 0 or less."""
        if seconds <= 0:
            return None

        def tick() -> None:
            while not self._stop.wait(seconds):
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

    def run() -> Any:
        from tiktok.posting.manifest import ManifestError
        from tiktok.posting.runner import Hooks, RunOptions, run_queue  # the CLI's one code path
        from tiktok.web.post_store import store_of

        manifest = Path(app.config["MANIFEST_PATH"])
        options, hooks = RunOptions(grace_s=settings.posting.post_grace_s), Hooks(say=log.info)
        try:
            report = run_queue(store_of(app), settings, options, manifest=manifest if manifest.exists() else None,
                               clock=clock, hooks=hooks)
        except (ManifestError, ResultsFileError) as exc:
            runner.import_problem = f"{exc}. Nothing in it was imported; the posts already in the store are posted " \
                                    "as usual."
            log.warning("%s; posting what the store holds without importing it", exc)
            return run_queue(store_of(app), settings, options, manifest=None, clock=clock, hooks=hooks)
        runner.import_problem = ""
        return report

    runner = QueueRunner(run)
    app.extensions[EXTENSION] = runner
    default_tick = 0.0 if test_config else APP_TICK_S
    tick = settings.app.queue_tick_s
    seconds = tick if tick is not None else default_tick
    app.config["QUEUE_TICK_S"] = seconds
    runner.start_tick(seconds)
    return runner


def runner_of(app: Flask) -> QueueRunner:
    return app.extensions[EXTENSION]


def kick(app: Flask) -> bool:
    """Start a posting run in the background (True), or queue one more round of the run going on (False)."""
    return runner_of(app).kick()


def start_tick(app: Flask, seconds: float) -> threading.Thread | None:
    return runner_of(app).start_tick(seconds)
