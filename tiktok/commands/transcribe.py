"""transcribe TikTok videos (their own captions, or AssemblyAI), like transcribe.py

Transcribe TikTok videos with AssemblyAI: an account's videos (--account, paged through the Display API), TikTok
video URLs, links to media files or local media files. A TikTok video's own captions are used when TikTok offers
them (no AssemblyAI cost). Saves .txt, .srt, .vtt and a .json record per video under the transcripts folder;
finished videos are skipped, so a second run does no work.

Inputs become jobs (one per video); jobs run --jobs at a time. Without captions a video is downloaded with yt-dlp
into a temporary folder (removed on success and failure) and transcribed through the AssemblyAI SDK with a bounded
wait. A failed video gets its reason recorded; the others go on.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import command_parser, positive_float, positive_int, setting
from tiktok.transcription.limits import (DEFAULT_JOBS, DEFAULT_TIMEOUT_S, MAX_KEY_TERMS, MAX_SPEAKERS_EXPECTED,
                                         SHORT_CLIP_POLL_S)

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


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "transcribe", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("inputs", nargs="*", metavar="URL_OR_FILE", help="TikTok video URLs, media URLs or files")
    parser.add_argument("--account", action="append", default=[], metavar="@NAME|OPEN_ID",
                        help="every video of this connected account: its @name or open_id (repeatable)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="with --account: only the newest N videos")
    parser.add_argument("--since", type=parse_since, metavar="YYYY-MM-DD",
                        help="with --account: only videos posted on or after this day (UTC)")
    parser.add_argument("--jobs", type=positive_int, default=DEFAULT_JOBS, metavar="N",
                        help=f"videos worked on at once (default {DEFAULT_JOBS})")
    parser.add_argument("--force", action="store_true", help="transcribe again videos that are already done")
    setting(parser, "--transcripts", env="TRANSCRIPTS_DIR", metavar="DIR",
            help="where transcripts go (default: $TRANSCRIPTS_DIR or transcripts/)")
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"longest wait for AssemblyAI per video (default {DEFAULT_TIMEOUT_S:g})")
    _caption_options(parser)
    _assemblyai_options(parser)
    return parser


def _caption_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TikTok's captions")
    group.add_argument("--no-captions", action="store_true",
                       help="always transcribe with AssemblyAI, even when TikTok offers captions for the video")
    group.add_argument("--caption-language", action="append", default=[], metavar="LANG",
                       help="caption language to take, as TikTok names it (e.g. eng-US; a regex like yt-dlp's "
                            "--sub-langs; repeatable). Default: English when offered, else the first listed")


def _assemblyai_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AssemblyAI (when there are no captions)")
    language = group.add_mutually_exclusive_group()
    language.add_argument("--detect-language", action="store_true",
                          help="let AssemblyAI detect the spoken language (saved in the record)")
    language.add_argument("--language", metavar="CODE", help="the spoken language, e.g. en, es, de")
    group.add_argument("--speaker-labels", action="store_true",
                       help='label who speaks: the .txt gets one "Speaker A: ..." line per turn')
    group.add_argument("--speakers", type=speakers_expected, metavar="N",
                       help=f"how many speakers to expect (1-{MAX_SPEAKERS_EXPECTED}; implies --speaker-labels)")
    group.add_argument("--key-term", action=KeyTerms, default=(), metavar="TERM",
                       help="a name or word to spell right, e.g. a creator's name or a hashtag (repeatable, or "
                            f"comma-separated; at most {MAX_KEY_TERMS}, 6 words each)")
    group.add_argument("--video-key-terms", action="store_true",
                       help="also send each video's creator name and hashtags as key terms")


class KeyTerms(argparse.Action):
    """``--key-term`` (repeatable, comma-separated): the distinct terms so far, at most MAX_KEY_TERMS in all."""

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        from tiktok.transcription.options import clean_key_terms

        try:
            terms = clean_key_terms([value])
        except ValueError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        if not terms:
            raise argparse.ArgumentError(self, "a key term cannot be empty")
        chosen = tuple(dict.fromkeys([*getattr(namespace, self.dest), *terms]))
        if len(chosen) > MAX_KEY_TERMS:
            raise argparse.ArgumentError(self, f"{len(chosen)} key terms: AssemblyAI takes at most {MAX_KEY_TERMS}")
        setattr(namespace, self.dest, chosen)


def speakers_expected(text: str) -> int:
    value = positive_int(text)
    if value > MAX_SPEAKERS_EXPECTED:
        raise argparse.ArgumentTypeError(f"at most {MAX_SPEAKERS_EXPECTED} speakers (AssemblyAI's limit)")
    return value


def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` -> Unix seconds at the start of that day, UTC."""
    from datetime import UTC, date, datetime

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def run(opts: argparse.Namespace, ctx: Context) -> int:
    import sys

    from tiktok.exitcodes import ExitStatus
    from tiktok.logs import echo

    if not opts.inputs and not opts.account:
        echo("error: nothing to transcribe: give video URLs or files, or --account @NAME", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    from tiktok.auth.names import resolve_from
    from tiktok.transcription.command import run as transcribe  # requests, yt-dlp, AssemblyAI: only now
    from tiktok.transcription.options import TranscribeRequest, TranscriptOptions

    options = TranscriptOptions(language_detection=opts.detect_language, language_code=opts.language,
                                speaker_labels=opts.speaker_labels, speakers_expected=opts.speakers,
                                key_terms=tuple(opts.key_term), video_key_terms=opts.video_key_terms)
    accounts = tuple(resolve_from(opts.account, ctx.services.store))
    request = TranscribeRequest(inputs=tuple(opts.inputs), accounts=accounts, limit=opts.limit,
                                since=opts.since, jobs=opts.jobs, force=opts.force, timeout_s=opts.timeout,
                                captions=not opts.no_captions, caption_languages=tuple(opts.caption_language),
                                options=options)
    return transcribe(request, ctx.settings, ctx.services, sleep=ctx.sleep)
