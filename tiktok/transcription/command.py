"""How a transcription run goes once its request is made (:class:`TranscribeRequest`): the AssemblyAI target, the
transcripts folder, one job per video, a line per video as it ends, and a summary (``transcribe.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from tiktok.config import Settings
from tiktok.exitcodes import exit_status, outcome_label
from tiktok.logs import echo
from tiktok.services import Services
from tiktok.transcription.jobs import Outcome, assemblyai_target, collect_jobs, trusted_hosts
from tiktok.transcription.options import TranscribeRequest
from tiktok.transcription.run import run_jobs
from tiktok.transcription.store import TranscriptStore


def run(request: TranscribeRequest, settings: Settings, services: Services, *,
        sleep: Callable[[float], None] = time.sleep) -> int:
    """Transcribe what ``request`` names; the exit status. No key (outside emulator mode), an unusable transcripts
    folder or token store raise before any video is touched (ConfigError, TranscriptsFolderError, TokenFileError)."""
    prefix = "[emulator] " if settings.tiktok.emulated else ""
    say = lambda text: echo(prefix + text)  # noqa: E731 - titles, names and errors come from TikTok: made inert
    with ExitStack() as stack:
        target = assemblyai_target(settings, stack, jobs=request.jobs)  # first: without a key, stop before anything
        store = TranscriptStore(settings.transcription.transcripts_dir)
        store.ensure_writable()
        if target.standin:
            say("no ASSEMBLYAI_API_KEY: using the local AssemblyAI stand-in; the transcripts are synthetic "
                "stand-in text, not speech recognition")
        jobs, outcomes = collect_jobs(request, settings, services, sleep=sleep, say=say)
        outcomes += run_jobs(jobs, store, target, request, trusted_hosts(settings), say)
    say(summary(outcomes, store.root, target.standin))
    return exit_status(outcomes)


def summary(outcomes: Sequence[Outcome], root: Path, standin: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = ", ".join(f"{n} {outcome_label(status)}" for status, n in counts.items()) or "nothing to do"
    tail = " (synthetic stand-in text, not speech recognition)" if standin else ""
    return f"summary: {parts}; transcripts in {root}{tail}"
