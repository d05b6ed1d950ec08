"""``python transcribe.py``: TikTok videos (or local media files) to text, subtitles and a record, via AssemblyAI.

Inputs become jobs (one per video); jobs run ``--jobs`` at a time. Each job first asks yt-dlp for the video's own
TikTok captions (not with ``--no-captions``); without them it downloads with yt-dlp into a temporary folder (removed
on success and failure), transcribes through the AssemblyAI SDK with a bounded wait (the options in
:mod:`tiktok.transcription.options`), and saves ``.txt``/``.srt``/``.vtt``/``.json`` through :class:`TranscriptStore`.
A failed video gets its reason recorded; the others go on. Finished videos are skipped unless ``--force``, so a
second run does no work.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import positive_float, positive_int, verbosity_options
from tiktok.transcription.options import (MAX_KEY_TERMS, MAX_SPEAKERS_EXPECTED, SHORT_CLIP_POLL_S, TranscriptOptions,
                                          clean_key_terms)

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
ASSEMBLYAI_POLLING_INTERVAL (seconds between status polls; default """ + f"{SHORT_CLIP_POLL_S:g}" + """ s, longer
with many --jobs, so that all polls stay within a third of AssemblyAI's 20,000 requests per 5 minutes),
TRANSCRIPTS_DIR (default transcripts/)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transcribe.py", epilog=EPILOG, parents=[verbosity_options()], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Transcribe TikTok videos with AssemblyAI: an account's videos (--account, paged through the "
                    "Display API), TikTok video URLs, links to media files or local media files. A TikTok video's own "
                    "captions are used when TikTok offers them (no AssemblyAI cost). Saves .txt, .srt, .vtt and a "
                    ".json record per video under the transcripts folder; finished videos are skipped.")
    parser.add_argument("inputs", nargs="*", metavar="URL_OR_FILE", help="TikTok video URLs, media URLs or files")
    parser.add_argument("--account", action="append", default=[], metavar="OPEN_ID",
                        help="every video of this connected account (repeatable)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="with --account: only the newest N videos")
    parser.add_argument("--since", type=parse_since, metavar="YYYY-MM-DD",
                        help="with --account: only videos posted on or after this day (UTC)")
    parser.add_argument("--jobs", type=positive_int, default=DEFAULT_JOBS, metavar="N",
                        help=f"videos worked on at once (default {DEFAULT_JOBS})")
    parser.add_argument("--force", action="store_true", help="transcribe again videos that are already done")
    parser.add_argument("--transcripts", type=Path, metavar="DIR",
                        help=f"where transcripts go (default: $TRANSCRIPTS_DIR or {DEFAULT_TRANSCRIPTS_DIR}/)")
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"longest wait for AssemblyAI per video (default {DEFAULT_TIMEOUT_S:g})")
    add_caption_options(parser)
    add_assemblyai_options(parser)
    return parser


def add_caption_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TikTok's captions")
    group.add_argument("--no-captions", action="store_true",
                       help="always transcribe with AssemblyAI, even when TikTok offers captions for the video")
    group.add_argument("--caption-language", action="append", default=[], metavar="LANG",
                       help="caption language to take, as TikTok names it (e.g. eng-US; a regex like yt-dlp's "
                            "--sub-langs; repeatable). Default: English when offered, else the first listed")


def add_assemblyai_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AssemblyAI (when there are no captions)")
    language = group.add_mutually_exclusive_group()
    language.add_argument("--detect-language", action="store_true",
                          help="let AssemblyAI detect the spoken language (saved in the record)")
    language.add_argument("--language", metavar="CODE", help="the spoken language, e.g. en, es, de")
    group.add_argument("--speaker-labels", action="store_true",
                       help='label who speaks: the .txt gets one "Speaker A: ..." line per turn')
    group.add_argument("--speakers", type=speakers_expected, metavar="N",
                       help=f"how many speakers to expect (1-{MAX_SPEAKERS_EXPECTED}; implies --speaker-labels)")
    group.add_argument("--key-term", action="append", default=[], type=key_terms, metavar="TERM",
                       help="a name or word to spell right, e.g. a creator's name or a hashtag (repeatable, or "
                            f"comma-separated; at most {MAX_KEY_TERMS}, 6 words each)")
    group.add_argument("--video-key-terms", action="store_true",
                       help="also send each video's creator name and hashtags as key terms")


def transcript_options(args: argparse.Namespace) -> TranscriptOptions:
    terms = tuple(dict.fromkeys(term for given in args.key_term for term in given))
    if len(terms) > MAX_KEY_TERMS:
        raise argparse.ArgumentTypeError(f"{len(terms)} key terms: AssemblyAI takes at most {MAX_KEY_TERMS}")
    return TranscriptOptions(language_detection=args.detect_language, language_code=args.language,
                             speaker_labels=args.speaker_labels, speakers_expected=args.speakers, key_terms=terms,
                             video_key_terms=args.video_key_terms)


def key_terms(text: str) -> list[str]:
    try:
        terms = clean_key_terms([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not terms:
        raise argparse.ArgumentTypeError("a key term cannot be empty")
    return terms


def speakers_expected(text: str) -> int:
    value = positive_int(text)
    if value > MAX_SPEAKERS_EXPECTED:
        raise argparse.ArgumentTypeError(f"at most {MAX_SPEAKERS_EXPECTED} speakers (AssemblyAI's limit)")
    return value


def main(argv: Sequence[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.transcript_options = transcript_options(args)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    from tiktok.logs import configure_logging
    from tiktok.transcription.command import run  # the heavy part (requests, yt-dlp, AssemblyAI) loads only now

    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)

    return run(args, sleep=sleep)


def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` -> Unix seconds at the start of that day, UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
