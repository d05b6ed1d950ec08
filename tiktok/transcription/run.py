"""Runs ``transcribe.py`` jobs: captions or download + transcribe, then save, a few videos at a time, recording
failures.

For a TikTok URL the video's own captions are tried first (:mod:`captions`): when TikTok offers them, they are the
transcript (``source: tiktok-captions``) and nothing is sent to AssemblyAI. Otherwise, and always with
``--no-captions``, the video is downloaded and transcribed (``source: assemblyai``). The share page is read once
for both (:class:`~tiktok.transcription.download.VideoPage`, issue 26 item 9).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from tiktok.exitcodes import BAD_INPUT, DONE, FAILED, SKIPPED, TRY_LATER
from tiktok.transcription.download import DownloadFailed, VideoPage, classify_url, download_video
from tiktok.errors import TikTokError
from tiktok.logs import inert
from tiktok.progress import ByteProgress
from tiktok.transcription.jobs import Job, Outcome, Target, format_outcome
from tiktok.transcription.assemblyai import MediaFileError, TranscriptionError, TranscriptResult, transcribe_file
from tiktok.transcription.captions import SOURCE_CAPTIONS, Captions, fetch_captions
from tiktok.transcription.options import TranscribeRequest, TranscriptOptions
from tiktok.transcription.store import TranscriptRecord, TranscriptsFolderError, TranscriptStore, safe_name

DOWNLOAD_TIMEOUT_S = 30.0  # yt-dlp socket timeout: each network operation, not the whole download
SOURCE_ASSEMBLYAI = "assemblyai"  # TranscriptRecord.source when AssemblyAI made the text


@dataclass(frozen=True)
class JobSettings:
    """How every job of one run goes (from the run's request)."""

    timeout_s: float
    force: bool = False
    captions: bool = True  # False: --no-captions, always transcribe
    caption_languages: tuple[str, ...] = ()  # yt-dlp --sub-langs patterns; empty: yt-dlp's choice
    options: TranscriptOptions = TranscriptOptions()

    @classmethod
    def of(cls, request: TranscribeRequest) -> "JobSettings":
        return cls(timeout_s=request.timeout_s, force=request.force, captions=request.captions,
                   caption_languages=request.caption_languages, options=request.options)


def run_jobs(jobs: list[Job], store: TranscriptStore, target: Target, request: TranscribeRequest,
             trusted: frozenset[str], say: Callable[[str], None]) -> list[Outcome]:
    """Run every job, ``request.jobs`` at a time; one line per video as it finishes."""
    settings = JobSettings.of(request)

    def work(job: Job) -> Outcome:
        outcome = transcribe_job(job, store, target, settings, trusted=trusted)
        say(format_outcome(outcome))
        return outcome

    with ThreadPoolExecutor(max_workers=request.jobs, thread_name_prefix="transcribe") as pool:
        return list(pool.map(work, jobs))


def transcribe_job(job: Job, store: TranscriptStore, target: Target, settings: JobSettings, *,
                   trusted: frozenset[str]) -> Outcome:
    """Captions, or download (when a URL) and transcribe; save one video; on failure record why."""
    record = job.record
    if not settings.force and store.is_done(record.open_id, record.video_id):
        return Outcome(SKIPPED, job.label, "already transcribed (--force to redo)")
    transcript_id = None
    progress = ByteProgress(inert(job.label, newlines=False))  # the bar's label holds a TikTok username
    try:
        with tempfile.TemporaryDirectory(prefix="tiktok-transcribe-") as work, _page(job, settings, trusted) as page:
            captions = _captions(job, settings, Path(work), trusted, page)
            if captions is not None:
                saved = store.save(replace(record, language=captions.language, source=SOURCE_CAPTIONS),
                                   captions.text, captions.srt, captions.vtt)
                return _done(job, store, saved, "from TikTok's captions")
            media = job.path or download_video(job.url or "", work, timeout_s=DOWNLOAD_TIMEOUT_S, trusted_hosts=trusted,
                                               progress=progress.update_to, name=safe_name(record.video_id),
                                               page=page)
            progress.close()
            result = _transcribe(media, job, target, settings)
        transcript_id = result.transcript_id
        result.raise_for_status()
        saved = store.save(replace(record, language=result.language, duration_s=result.duration_s,
                                   transcript_id=result.transcript_id, source=SOURCE_ASSEMBLYAI),
                           result.text, result.srt, result.vtt)
        return _done(job, store, saved, "")
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


def _page(job: Job, settings: JobSettings, trusted: frozenset[str]):
    """The video's page, read once for its captions and its download (a context: closed after both), when both
    want it: a TikTok URL with captions on. Otherwise the download reads what it needs itself."""
    if not settings.captions or job.url is None or classify_url(job.url, trusted_hosts=trusted) != "tiktok":
        return nullcontext()
    return VideoPage(job.url, timeout_s=DOWNLOAD_TIMEOUT_S, trusted_hosts=trusted)


def _captions(job: Job, settings: JobSettings, work: Path, trusted: frozenset[str],
              page: VideoPage | None) -> Captions | None:
    if not settings.captions or job.url is None:
        return None
    return fetch_captions(job.url, work / "captions", timeout_s=DOWNLOAD_TIMEOUT_S, trusted_hosts=trusted,
                          languages=list(settings.caption_languages) or None, page=page)


def _transcribe(media: Path, job: Job, target: Target, settings: JobSettings) -> TranscriptResult:
    return transcribe_file(media, api_key=target.api_key, base_url=target.base_url, timeout_s=settings.timeout_s,
                           poll_interval_s=target.poll_interval_s,
                           config=settings.options.config_kwargs(job.key_terms))


def _done(job: Job, store: TranscriptStore, saved: TranscriptRecord, how: str) -> Outcome:
    via = f"{how} " if how else ""
    return Outcome(DONE, job.label, f"{_title(saved)}{via}-> {store.path(saved.open_id, saved.video_id, 'txt')}")


def _title(record: TranscriptRecord) -> str:
    return f'"{record.title}" ' if record.title else ""
