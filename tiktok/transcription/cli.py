"""``python transcribe.py``: TikTok videos (or local media files) to text, subtitles and a record, via AssemblyAI.

Inputs become jobs (one per video); jobs run ``--jobs`` at a time. Each job downloads with yt-dlp into a temporary
folder (removed on success and failure), transcribes through the AssemblyAI SDK with a bounded wait and saves
``.txt``/``.srt``/``.vtt``/``.json`` through :class:`TranscriptStore`. A failed video gets its reason recorded; the
others go on. Finished videos are skipped unless ``--force``, so a second run does no work.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

from tiktok.config import load_settings, read_environment
from tiktok.errors import ConfigError, TokenFileError
from tiktok.exitcodes import OUTCOME_EXIT, PRECEDENCE_HELP, ExitStatus, combine
from tiktok.logs import configure_logging
from tiktok.services import build_services
from tiktok.transcription.jobs import Outcome, assemblyai_target, collect_jobs, trusted_hosts
from tiktok.transcription.run import run_jobs
from tiktok.transcription.store import TranscriptsFolderError, TranscriptStore

DEFAULT_TRANSCRIPTS_DIR = "transcripts"
DEFAULT_JOBS = 2
DEFAULT_TIMEOUT_S = 900.0  # AssemblyAI usually needs well under a minute for a TikTok-length clip; 15 min is slack

EPILOG = """exit codes:
  0  every video transcribed (or already done)
  1  some videos failed; each reason is recorded in its .json and shown on the app's Transcripts page
  2  bad input: an unknown account, a URL that is neither TikTok nor a media file, a missing local file (the other
     inputs still ran), or an unusable transcripts folder or no ASSEMBLYAI_API_KEY (these stop at once)
  3  an account must be linked again in the app
  4  temporary trouble (rate limit, 5xx, timeouts): run again later; finished videos are skipped
  """ + PRECEDENCE_HELP + """

environment: ASSEMBLYAI_API_KEY (required unless the TikTok emulator is in use, where a labelled local stand-in
makes synthetic text instead), ASSEMBLYAI_BASE_URL (another AssemblyAI host, e.g. https://api.eu.assemblyai.com),
ASSEMBLYAI_POLLING_INTERVAL (seconds between status polls), TRANSCRIPTS_DIR (default transcripts/)."""

STATUS_EXIT = OUTCOME_EXIT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transcribe.py", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Transcribe TikTok videos with AssemblyAI: an account's videos (--account, paged through the "
                    "Display API), TikTok video URLs, links to media files or local media files. Saves .txt, .srt, "
                    ".vtt and a .json record per video under the transcripts folder; finished videos are skipped.")
    parser.add_argument("inputs", nargs="*", metavar="URL_OR_FILE", help="TikTok video URLs, media URLs or files")
    parser.add_argument("--account", action="append", default=[], metavar="OPEN_ID",
                        help="every video of this connected account (repeatable)")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="with --account: only the newest N videos")
    parser.add_argument("--since", type=parse_since, metavar="YYYY-MM-DD",
                        help="with --account: only videos posted on or after this day (UTC)")
    parser.add_argument("--jobs", type=_positive_int, default=DEFAULT_JOBS, metavar="N",
                        help=f"videos worked on at once (default {DEFAULT_JOBS})")
    parser.add_argument("--force", action="store_true", help="transcribe again videos that are already done")
    parser.add_argument("--transcripts", type=Path, metavar="DIR",
                        help=f"where transcripts go (default: $TRANSCRIPTS_DIR or {DEFAULT_TRANSCRIPTS_DIR}/)")
    parser.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"longest wait for AssemblyAI per video (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log HTTP-level detail to stderr")
    return parser


def main(argv: Sequence[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    if not args.inputs and not args.account:
        print("error: nothing to transcribe: give video URLs or files, or --account OPEN_ID", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    try:
        env = read_environment()
        settings = load_settings(env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    prefix = "[emulator] " if settings.emulated else ""
    say = lambda text: print(prefix + text, flush=True)
    with ExitStack() as stack:
        try:
            target = assemblyai_target(env, settings, stack)  # first: without a key, stop before touching anything
            store = TranscriptStore(args.transcripts or env.get("TRANSCRIPTS_DIR") or DEFAULT_TRANSCRIPTS_DIR)
            store.ensure_writable()
        except (ConfigError, TranscriptsFolderError) as exc:
            print(f"{prefix}error: {exc}", file=sys.stderr)
            return ExitStatus.BAD_INPUT
        if target.standin:
            say("no ASSEMBLYAI_API_KEY: using the local AssemblyAI stand-in; the transcripts are synthetic "
                "stand-in text, not speech recognition")
        try:
            jobs, outcomes = collect_jobs(args, settings, build_services(settings), sleep=sleep, say=say)
        except TokenFileError as exc:
            print(f"{prefix}error: {exc}", file=sys.stderr)
            return ExitStatus.BAD_INPUT
        outcomes += run_jobs(jobs, store, target, args, trusted_hosts(settings), say)
    say(summary(outcomes, store.root, target.standin))
    return exit_status(outcomes)


def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` -> Unix seconds at the start of that day, UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def exit_status(outcomes: Sequence[Outcome]) -> ExitStatus:
    return combine(STATUS_EXIT.get(o.status, ExitStatus.OK) for o in outcomes)


def summary(outcomes: Sequence[Outcome], root: Path, standin: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items()) or "nothing to do"
    tail = " (synthetic stand-in text, not speech recognition)" if standin else ""
    return f"summary: {parts}; transcripts in {root}{tail}"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be more than 0")
    return value
