"""The Videos page of a connected account: every video (all pages of ``video.list``), newest first, paged, with its
cover (through :mod:`tiktok.web.covers`), and "Transcribe selected" run in the background (issue 26, item 2).

The list comes from :func:`tiktok.transcription.videolist.list_videos` (the transcriber's own lister) and is kept
``LIST_FOR_S`` so paging does not list again; every listing also keeps each video's cover URL for /covers/. With the
embedded SQLite store, transcription runs in the app's process, one video at a time, in a
:class:`~tiktok.web.queue_runner.QueueRunner` of its own (:class:`Transcriber`), through the same
:func:`transcribe_job` as ``transcribe.py`` (captions first, else download and AssemblyAI; the stand-in in emulator
mode). With DATABASE_URL it runs on the workers (:class:`WorkerTranscriber`): one Procrastinate job per video,
queued once however often it is clicked (:mod:`tiktok.transcription.workers`), never in the app's process. The page
polls ``progress.json`` for each video's state: queued and running from this process (SQLite) or the job table
(PostgreSQL), done and failed from the transcripts folder; a failed one can be retried (failed videos are redone
without --force).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for

from tiktok.auth.access import call_with_token
from tiktok.auth.tokens import Account
from tiktok.config import Settings
from tiktok.errors import DatabaseError, RelinkNeeded, ScopeError, TikTokError
from tiktok.exitcodes import DONE, SKIPPED
from tiktok.text import moment
from tiktok.transcription.jobs import Job, assemblyai_target, trusted_hosts, video_job
from tiktok.transcription.limits import DEFAULT_TIMEOUT_S
from tiktok.transcription.run import JobSettings, transcribe_job
from tiktok.transcription.store import TranscriptStore
from tiktok.transcription.videolist import Video, list_videos
from tiktok.transcription.workers import defer_transcriptions, job_key, job_states
from tiktok.web.covers import covers
from tiktok.web.queue_runner import QueueRunner
from tiktok.web.views import check_csrf, services
from tiktok.words import relink, said

log = logging.getLogger(__name__)
bp = Blueprint("videos", __name__, url_prefix="/videos")

EXTENSION = "tiktok_videos"
PER_PAGE = 24  # a grid of 4 x 6 (2 x 12 on a phone)
LIST_FOR_S = 120.0  # a listing is reused this long: paging and polling do not call video.list again
MAX_SELECTED = 100  # one "Transcribe selected" takes at most this many videos


@dataclass(frozen=True)
class Progress:
    """Where one video's transcription is: queued, running, done or failed (with why)."""

    state: str
    detail: str = ""


class Transcriber:
    """Videos to transcribe, taken one at a time by a background thread; each video's progress."""

    def __init__(self, settings: Settings, store: TranscriptStore) -> None:
        self.settings = settings
        self.store = store
        self._queue: deque[Job] = deque()
        self._progress: dict[tuple[str, str], Progress] = {}
        self._lock = threading.Lock()
        self.runner = QueueRunner(self._drain, name="transcribe")

    def add(self, jobs: list[Job]) -> int:
        """Queue the jobs not already queued or running; how many were queued."""
        added = 0
        with self._lock:
            for job in jobs:
                key = (job.record.open_id, job.record.video_id)
                if self._progress.get(key, Progress("")).state in ("queued", "running"):
                    continue
                self._progress[key] = Progress("queued")
                self._queue.append(job)
                added += 1
        if added:
            self.runner.kick()
        return added

    def progress(self, open_id: str, video_id: str) -> Progress:
        """This run's progress, else what the transcripts folder holds, else Progress("")."""
        with self._lock:
            live = self._progress.get((open_id, video_id))
        if live is not None:
            return live
        record = self.store.get(open_id, video_id)
        if record is None:
            return Progress("")
        return Progress("done") if record.ok else Progress("failed", record.error or "")

    def states(self, open_id: str, video_ids: list[str]) -> dict[str, Progress]:
        return {video_id: self.progress(open_id, video_id) for video_id in video_ids}

    def _next(self) -> Job | None:
        with self._lock:
            if not self._queue:
                return None
            job = self._queue.popleft()
            self._progress[(job.record.open_id, job.record.video_id)] = Progress("running")
            return job

    def _finish(self, job: Job, progress: Progress) -> None:
        with self._lock:
            self._progress[(job.record.open_id, job.record.video_id)] = progress

    def _drain(self) -> str | None:
        """Run the queued jobs until none is left (the AssemblyAI stand-in, if any, lives for the round)."""
        done = 0
        with ExitStack() as stack:
            target = None
            while (job := self._next()) is not None:
                try:
                    target = target or assemblyai_target(self.settings, stack)
                    outcome = transcribe_job(job, self.store, target, JobSettings(timeout_s=DEFAULT_TIMEOUT_S),
                                             trusted=trusted_hosts(self.settings))
                except TikTokError as exc:  # no AssemblyAI key, an unusable folder: said on the video
                    self._finish(job, Progress("failed", str(exc)))
                    continue
                except Exception:  # noqa: BLE001 - the thread must go on to the next video
                    log.exception("transcribing %s failed", job.label)
                    self._finish(job, Progress("failed", "the app hit an error it did not expect; see its log"))
                    continue
                ok = outcome.status in (DONE, SKIPPED)
                self._finish(job, Progress("done") if ok else Progress("failed", outcome.detail))
                done += 1
        return f"transcribed {done} video(s) from the Videos page" if done else None


class WorkerTranscriber:
    """With DATABASE_URL: each video a job for the workers (tiktok.jobs.tasks.transcribe_video); its progress read
    from the job table while it waits or runs, then from the transcripts folder the workers write."""

    def __init__(self, url: str, store: TranscriptStore) -> None:
        self.url = url
        self.store = store

    def add(self, jobs: list[Job]) -> int:
        """Defer a job per video not already waiting or running; how many were deferred (DatabaseError when it
        cannot). A video's queueing lock keeps a second job from waiting; one running is skipped here."""
        keys = [job_key(j.record.open_id, j.record.video_id) for j in jobs]
        running = {key for key, state in job_states(self.url, keys).items() if state == "running"}
        return len(defer_transcriptions(self.url, [j for j, key in zip(jobs, keys) if key not in running]))

    def states(self, open_id: str, video_ids: list[str]) -> dict[str, Progress]:
        """One query for the jobs of every named video, then the folder for those with none waiting or running."""
        jobs = job_states(self.url, [job_key(open_id, v) for v in video_ids])
        answer = {}
        for video_id in video_ids:
            job = jobs.get(job_key(open_id, video_id), "")
            record = None if job in ("queued", "running") else self.store.get(open_id, video_id)
            if record is not None:
                answer[video_id] = Progress("done") if record.ok else Progress("failed", record.error or "")
            elif job == "failed":
                answer[video_id] = Progress("failed", "the worker hit an error it did not expect; see its log")
            else:
                answer[video_id] = Progress(job)
        return answer


class Listings:
    """Each account's video list, kept ``LIST_FOR_S`` seconds by the app's clock."""

    def __init__(self) -> None:
        self._lists: dict[str, tuple[float, list[Video]]] = {}
        self._lock = threading.Lock()

    def get(self, account: Account, now: float, *, fresh: bool = False) -> list[Video]:
        with self._lock:
            kept = self._lists.get(account.open_id)
        if kept is not None and not fresh and now - kept[0] < LIST_FOR_S:
            return kept[1]
        svc = services()
        videos = list_videos(svc.api, lambda fn: call_with_token(svc.store, svc.oauth, account.open_id, fn))
        videos = sorted(videos, key=lambda v: (v.create_time or 0, v.id), reverse=True)  # newest first
        covers().remember_all(account.open_id, [(video.id, video.cover_url) for video in videos])
        with self._lock:
            self._lists[account.open_id] = (now, videos)
        return videos


def register(app: Flask, settings: Settings) -> None:
    """Attach ``/videos/`` and its background transcriber (it writes to TRANSCRIPTS_DIR, as transcribe.py)."""
    transcripts = TranscriptStore(settings.transcription.transcripts_dir)
    url = settings.store.database_url
    app.extensions[EXTENSION] = {"listings": Listings(), "transcriber": WorkerTranscriber(url, transcripts) if url
                                 else Transcriber(settings, transcripts)}
    app.register_blueprint(bp)


def transcriber_of(app: Flask) -> Transcriber | WorkerTranscriber:
    return app.extensions[EXTENSION]["transcriber"]


def _account_or_404(open_id: str) -> Account:
    store = services().store
    account = store.get(open_id)
    if account is None and open_id.startswith("@"):
        account = next((a for a in store.load().values() if a.username == open_id[1:]), None)
    if account is None:
        abort(404)
    return account


def _listed(account: Account, *, fresh: bool = False) -> tuple[list[Video], str]:
    """The account's videos, or [] and why they cannot be listed now."""
    now = current_app.config["CLOCK"]()
    try:
        return current_app.extensions[EXTENSION]["listings"].get(account, now, fresh=fresh), ""
    except RelinkNeeded as exc:
        return [], f"{account.label} must be linked again: {relink(exc.reason)}."
    except ScopeError as exc:
        return [], f"{account.label} did not grant video.list: link it again and allow it ({said(exc).details})."
    except TikTokError as exc:
        return [], f"The videos of {account.label} could not be listed: {said(exc)}. Reload to try again."


@bp.get("/")
def index():
    """``/videos/?account=@name|open_id`` goes to that account's page; else the page of the only account, or a
    choice of accounts."""
    wanted = request.args.get("account", "").strip()
    accounts = sorted(services().store.load().values(), key=lambda a: a.label)
    if wanted:
        return redirect(url_for("videos.account", open_id=_account_or_404(wanted).open_id))
    if len(accounts) == 1:
        return redirect(url_for("videos.account", open_id=accounts[0].open_id))
    return render_template("videos.html", account=None, accounts=accounts)


@bp.get("/<open_id>/")
def account(open_id: str):
    account = _account_or_404(open_id)
    if account.open_id != open_id:
        return redirect(url_for("videos.account", open_id=account.open_id))
    videos, problem = _listed(account, fresh=request.args.get("refresh") == "1")
    pages = max(1, -(-len(videos) // PER_PAGE))
    page = request.args.get("page", "1")
    page = min(int(page), pages) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    shown = videos[(page - 1) * PER_PAGE:page * PER_PAGE]
    progress = _states(account.open_id, [v.id for v in shown])
    return render_template("videos.html", account=account, videos=shown, total=len(videos), page=page,
                           pages=pages, progress=progress, problem=problem, moment=moment)


@bp.post("/<open_id>/transcribe")
def transcribe(open_id: str):
    """Queue the ticked videos (``video_id`` form fields) of this account; JSON for the page's script."""
    check_csrf()
    account = _account_or_404(open_id)
    wanted = list(dict.fromkeys(request.form.getlist("video_id")))[:MAX_SELECTED]
    videos, problem = _listed(account)
    by_id = {v.id: v for v in videos}
    unknown = [v for v in wanted if v not in by_id]
    jobs = [video_job(account.open_id, account.username, by_id[v]) for v in wanted if v in by_id]
    try:
        queued = transcriber_of(current_app).add(jobs)
    except DatabaseError as exc:  # names the database, never its password
        queued, problem = 0, f"The videos could not be handed to the workers: {exc}"
    answer = {"queued": queued, "unknown": unknown, "problem": problem}
    if request.accept_mimetypes.best == "application/json" or request.headers.get("X-Requested-With"):
        return jsonify(answer), (200 if jobs or not wanted else 404)
    return redirect(url_for("videos.account", open_id=account.open_id))


@bp.get("/<open_id>/progress.json")
def progress(open_id: str):
    """Each named video's state (``?ids=1,2,3``): "" (not transcribed), queued, running, done or failed."""
    account = _account_or_404(open_id)
    ids = [i for i in request.args.get("ids", "").split(",") if i][:MAX_SELECTED]
    answer = {}
    for video_id, found in _states(account.open_id, ids).items():
        answer[video_id] = {"state": found.state, "detail": found.detail,
                            "url": url_for("transcripts.transcript", open_id=account.open_id, video_id=video_id)
                            if found.state == "done" else ""}
    return jsonify(answer)


def _states(open_id: str, video_ids: list[str]) -> dict[str, Progress]:
    """Each video's progress; unknown ("") for all when the database cannot be read just now."""
    try:
        return transcriber_of(current_app).states(open_id, video_ids)
    except DatabaseError as exc:
        log.warning("transcription progress not read: %s", exc)
        return {video_id: Progress("") for video_id in video_ids}
