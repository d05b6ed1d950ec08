"""What ``transcribe.py`` does once its arguments parse: jobs, downloads, transcripts, a summary (see ``cli``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from tiktok.config import load_settings, read_environment
from tiktok.errors import ConfigError, DatabaseError, TokenFileError
from tiktok.exitcodes import ExitStatus, exit_status, outcome_label
from tiktok.logs import echo
from tiktok.services import build_services
from tiktok.transcription.cli import DEFAULT_TRANSCRIPTS_DIR
from tiktok.transcription.jobs import Outcome, assemblyai_target, collect_jobs, trusted_hosts
from tiktok.transcription.run import run_jobs
from tiktok.transcription.store import TranscriptsFolderError, TranscriptStore

def run(args: argparse.Namespace, *, sleep: Callable[[float], None] = time.sleep) -> int:
    if not args.inputs and not args.account:
        echo("error: nothing to transcribe: give video URLs or files, or --account OPEN_ID", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    try:
        env = read_environment()
        settings = load_settings(env)
    except ConfigError as exc:
        echo(f"error: {exc}", file=sys.stderr, newlines=True)
        return ExitStatus.BAD_INPUT
    prefix = "[emulator] " if settings.emulated else ""
    say = lambda text: echo(prefix + text)  # noqa: E731 - titles, names and errors come from TikTok: made inert
    with ExitStack() as stack:
        try:
            # first: without a key, stop before touching anything
            target = assemblyai_target(env, settings, stack, jobs=args.jobs)
            store = TranscriptStore(args.transcripts or env.get("TRANSCRIPTS_DIR") or DEFAULT_TRANSCRIPTS_DIR)
            store.ensure_writable()
        except (ConfigError, TranscriptsFolderError) as exc:
            echo(f"{prefix}error: {exc}", file=sys.stderr, newlines=True)
            return ExitStatus.BAD_INPUT
        if target.standin:
            say("no ASSEMBLYAI_API_KEY: using the local AssemblyAI stand-in; the transcripts are synthetic "
                "stand-in text, not speech recognition")
        try:
            jobs, outcomes = collect_jobs(args, settings, build_services(settings), sleep=sleep, say=say)
        except (TokenFileError, DatabaseError) as exc:
            echo(f"{prefix}error: {exc}", file=sys.stderr, newlines=True)
            return ExitStatus.TRY_LATER if exc.transient else ExitStatus.BAD_INPUT
        outcomes += run_jobs(jobs, store, target, args, trusted_hosts(settings), say)
    say(summary(outcomes, store.root, target.standin))
    return exit_status(outcomes)



def summary(outcomes: Sequence[Outcome], root: Path, standin: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = ", ".join(f"{n} {outcome_label(status)}" for status, n in counts.items()) or "nothing to do"
    tail = " (synthetic stand-in text, not speech recognition)" if standin else ""
    return f"summary: {parts}; transcripts in {root}{tail}"
