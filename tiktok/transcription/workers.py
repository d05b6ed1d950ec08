"""Handing transcriptions to the workers (PostgreSQL mode, issue 26): one job per video, and its progress.

With DATABASE_URL, "Transcribe selected" on the Videos page defers one :data:`TRANSCRIBE_TASK` job per video
(:func:`defer_transcriptions`); ``python -m tiktok worker`` runs it (tiktok.jobs.tasks.transcribe_video) with the
same :func:`~tiktok.transcription.run.transcribe_job` as ``transcribe.py``. Each job carries its video (what the
listing said: no second ``video.list``) and has the queueing lock ``transcribe:<open_id>/<video_id>``, so a double
click, or two app processes, leave one job waiting per video; the same string is its ``lock``, so two jobs of one
video never run at once.

Where the page reads progress (:func:`job_states`): a video's job waiting (``todo``) is *queued*, one running
(``doing``) is *running*, read from Procrastinate's own ``procrastinate_jobs`` table; once no job waits or runs, the
transcripts folder says *done* or *failed* (and why), as the worker wrote it. So the workers must write to the
transcripts folder the app reads: one machine, or a shared TRANSCRIPTS_DIR (README). A job that failed without a
record (the worker hit an error it did not expect) still shows as failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tiktok.db.connection import describe, pool_for, transaction
from tiktok.errors import DatabaseUnavailable
from tiktok.transcription.jobs import Job
from tiktok.transcription.store import TranscriptRecord

TRANSCRIBE_TASK = "tiktok:transcribe_video"  # the task in the workers' "tiktok" namespace (tiktok.jobs.tasks)
STATES = {"todo": "queued", "doing": "running", "failed": "failed"}  # Procrastinate's job status -> the page's


def job_key(open_id: str, video_id: str) -> str:
    """The job's ``video_key`` argument: ``<open_id>/<video_id>`` (neither holds a slash). Not ``key``: that
    argument names a post (``python -m tiktok queue`` looks failed jobs' posts up by it)."""
    return f"{open_id}/{video_id}"


def queueing_lock(key: str) -> str:
    return f"transcribe:{key}"


def job_args(job: Job) -> dict[str, Any]:
    """The job's arguments (JSON): its key and the video as the listing gave it."""
    record = job.record
    return {"video_key": job_key(record.open_id, record.video_id),
            "video": {"open_id": record.open_id, "video_id": record.video_id, "username": record.username,
                      "title": record.title, "created_time": record.created_time, "url": job.url or "",
                      "key_terms": list(job.key_terms)}}


def job_of(video: dict[str, Any]) -> Job:
    """The :class:`Job` a worker runs for the ``video`` argument of :func:`job_args`."""
    record = TranscriptRecord(video_id=str(video["video_id"]), open_id=str(video["open_id"]),
                              username=str(video.get("username") or ""), title=str(video.get("title") or ""),
                              created_time=video.get("created_time"), source_url=str(video.get("url") or ""))
    return Job(record=record, url=record.source_url or None, key_terms=tuple(video.get("key_terms") or ()))


def defer_transcriptions(url: str, jobs: Iterable[Job]) -> list[str]:
    """Defer one job per video; the keys that got one (a video whose job already waits gets no second).
    DatabaseUnavailable (naming the database, never its password) when it cannot take them."""
    import procrastinate
    from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

    made = []
    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
    try:
        with app.open(pool_for(url)):  # this process's pool: it stays open when the app closes
            for job in jobs:
                args = job_args(job)
                lock = queueing_lock(args["video_key"])
                try:
                    app.configure_task(TRANSCRIBE_TASK, queueing_lock=lock, lock=lock).defer(**args)
                    made.append(args["video_key"])
                except AlreadyEnqueued:
                    pass
    except ConnectorException as exc:
        raise DatabaseUnavailable(f"{describe(url)} did not take the transcription jobs "
                                  f"({type(exc.__cause__ or exc).__name__}); try again") from None
    return made


def job_states(url: str, keys: list[str]) -> dict[str, str]:
    """Each key's newest job as the page says it (queued, running, failed); keys with no such job are left out."""
    if not keys:
        return {}
    with transaction(url) as conn:
        rows = conn.execute("SELECT DISTINCT ON (args->>'video_key') args->>'video_key', status "
                            "FROM procrastinate_jobs WHERE task_name = %s AND args->>'video_key' = ANY(%s) "
                            "ORDER BY args->>'video_key', id DESC",
                            (TRANSCRIBE_TASK, list(keys))).fetchall()
    return {key: STATES[str(status)] for key, status in rows if str(status) in STATES}
