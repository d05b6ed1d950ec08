"""Runs ``transcribe.py`` jobs: download, transcribe and save each video, a few at a time, recording failures."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from tiktok.exitcodes import BAD_INPUT, DONE, FAILED, SKIPPED, TRY_LATER
from tiktok.transcription.download import DownloadFailed, download_video
from tiktok.errors import TikTokError
from tiktok.progress import ByteProgress
from tiktok.transcription.jobs import Job, Outcome, Target, format_outcome
from tiktok.transcription.assemblyai import MediaFileError, TranscriptionError, transcribe_file
from tiktok.transcription.store import TranscriptRecord, TranscriptsFolderError, TranscriptStore, safe_name

DOWNLOAD_TIMEOUT_S = 30.0  # yt-dlp socket timeout: each network operation, not the whole download


def run_jobs(jobs: list[Job], store: TranscriptStore, target: Target, args: argparse.Namespace,
             trusted: frozenset[str], say: Callable[[str], None]) -> list[Outcome]:
    """Run every job, ``args.jobs`` at a time; one line per video as it finishes."""
    def work(job: Job) -> Outcome:
        outcome = transcribe_job(job, store, target, timeout_s=args.timeout, force=args.force, trusted=trusted)
        say(format_outcome(outcome))
        return outcome

    with ThreadPoolExecutor(max_workers=args.jobs, thread_name_prefix="transcribe") as pool:
        return list(pool.map(work, jobs))


def transcribe_job(job: Job, store: TranscriptStore, target: Target, *, timeout_s: float, force: bool,
                   trusted: frozenset[str]) -> Outcome:
    """Download (when a URL), transcribe and save one video; on failure record why."""
    record = job.record
    if not force and store.is_done(record.open_id, record.video_id):
        return Outcome(SKIPPED, job.label, "already transcribed (--force to redo)")
    transcript_id = None
    progress = ByteProgress(job.label)
    try:
        with tempfile.TemporaryDirectory(prefix="tiktok-transcribe-") as work:
            media = job.path or download_video(job.url or "", work, timeout_s=DOWNLOAD_TIMEOUT_S, trusted_hosts=trusted,
                                               progress=progress.update_to, name=safe_name(record.video_id))
            progress.close()
            result = transcribe_file(media, api_key=target.api_key, base_url=target.base_url, timeout_s=timeout_s,
                                     poll_interval_s=target.poll_interval_s)
        transcript_id = result.transcript_id
        result.raise_for_status()
        saved = store.save(replace(record, language=result.language, duration_s=result.duration_s,
                                   transcript_id=result.transcript_id), result.text, result.srt, result.vtt)
        return Outcome(DONE, job.label, f"{_title(saved)}-> {store.path(saved.open_id, saved.video_id, 'txt')}")
    except DownloadFailed as exc:
        status, reason = (TRY_LATER if exc.transient else FAILED), f"download failed: {exc.reason}"
    except MediaFileError as exc:
        status, reason = BAD_INPUT, f"the media file cannot be read: {exc.reason}"
    except TranscriptionError as exc:
        transcript_id = exc.transcript_id or transcript_id
        status, reason = (TRY_LATER if exc.transient else FAILED), f"transcription failed: {exc.reason}"
    except TikTokError as exc:  # e.g. the transcripts folder went away mid-run
        return Outcome(FAILED, job.label, str(exc))
    finally:
        progress.close()
    try:
        store.record_failure(replace(record, transcript_id=transcript_id), reason, status)
    except TranscriptsFolderError as exc:
        reason = f"{reason} (and the failure could not be recorded: {exc})"
    return Outcome(status, job.label, reason)


def _title(record: TranscriptRecord) -> str:
    return f'"{record.title}" ' if record.title else ""
