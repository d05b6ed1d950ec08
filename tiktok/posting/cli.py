"""``python upload_to_tiktok.py``: post the videos and photos listed in videos_to_upload.json.

Every entry is validated first; bad entries are reported with their number and field and the others still go.
Outcomes are recorded in ``<manifest>.results.json`` beside the manifest, so a re-run resumes unfinished posts and
skips finished ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from tiktok.posting.chunks import DEFAULT_CHUNK_BYTES, ChunkPlanError, plan_chunks
from tiktok.config import load_settings
from tiktok.errors import ConfigError, TikTokError
from tiktok.exitcodes import OUTCOME_EXIT, PRECEDENCE_HELP, ExitStatus, combine
from tiktok.logs import configure_logging
from tiktok.posting.manifest import ManifestError, PostRequest, load_manifest
from tiktok.posting.fields import PRIVACY_LEVELS
from tiktok.posting.media import MediaError, check_video, probe
from tiktok.posting.client import PostingClient
from tiktok.progress import ByteProgress
from tiktok.posting.publisher import Outcome, Publisher
from tiktok.posting.results import ResultsFileError, ResultsStore, results_path_for
from tiktok.services import build_services
from tiktok.posting.transfer import upload_session

EPILOG = """exit codes: 0 everything posted (or already posted); 1 some posts failed; 2 bad input (manifest,
file, account or arguments: the other entries were still posted); 3 an account must be linked again in the app;
4 rate-limited or TikTok unavailable: run again later to resume. """ + PRECEDENCE_HELP

STATUS_EXIT = {**OUTCOME_EXIT, "unknown": ExitStatus.FAILED}  # unknown: a person must check the profile


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upload_to_tiktok.py", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Post the videos and photos listed in a manifest (see videos_to_upload.json.example): "
                    "creator-info pre-flight, chunked Direct Post, URL pulls, drafts to the inbox, photo posts, "
                    "status polled to the end.")
    parser.add_argument("manifest", nargs="?", default="videos_to_upload.json", type=Path,
                        help="the manifest (default: videos_to_upload.json)")
    parser.add_argument("--privacy", choices=PRIVACY_LEVELS,
                        help="privacy for entries that name none (default: SELF_ONLY); checked against the "
                             "creator's options before posting")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate everything and print the plan; no call to TikTok")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON on stdout")
    parser.add_argument("--force", action="store_true",
                        help="re-post an entry whose earlier init may or may not have reached TikTok")
    parser.add_argument("--poll-timeout", type=float, default=600.0, metavar="SECONDS",
                        help="how long to follow each post's status (default 600)")
    parser.add_argument("--poll-interval", type=float, default=3.0, metavar="SECONDS",
                        help="first wait between status checks; it grows to 30 s (default 3)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_BYTES, metavar="BYTES",
                        help=f"chunk size for files over 64 MB (default {DEFAULT_CHUNK_BYTES:,})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log HTTP-level detail to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    out = sys.stderr if args.json else sys.stdout
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    try:
        settings = load_settings()
        manifest = load_manifest(args.manifest, allow_loopback=settings.emulated)
    except (ConfigError, ManifestError) as exc:
        say(f"error: {exc}")
        return ExitStatus.BAD_INPUT
    prefix = "[emulator] " if settings.emulated else ""
    for warning in manifest.warnings:
        say(f"warning: {warning.message}")
    for problem in manifest.problems:
        say(f"error: {problem.message}")
    if args.dry_run:
        return _dry_run(manifest.entries, args, settings, say) if not manifest.problems else ExitStatus.BAD_INPUT

    services = build_services(settings)
    publisher = Publisher(
        store=services.store, oauth=services.oauth, posting=PostingClient(services.api),
        upload_session=upload_session(), results=ResultsStore(results_path_for(args.manifest)),
        emulated=settings.emulated, default_privacy=args.privacy, poll_timeout_s=args.poll_timeout,
        poll_interval_s=args.poll_interval,
        chunk_size=args.chunk_size, force=args.force, say=say,
        progress=None if args.json else ByteProgress)
    outcomes: list[Outcome] = []
    for position, entry in enumerate(manifest.entries, 1):
        say(f"{prefix}[{position}/{len(manifest.entries)}] entry {entry.index + 1} for {entry.user_id}: "
            f"{_describe(entry)}")
        try:
            outcome = publisher.publish(entry)
        except (ResultsFileError, TikTokError) as exc:
            say(f"error: {exc}")
            return ExitStatus.BAD_INPUT if isinstance(exc, ResultsFileError) else ExitStatus.FAILED
        outcomes.append(outcome)
        say(f"{prefix}  {outcome.status.upper()}: {outcome.detail}"
            + (f" [publish_id {outcome.publish_id}]" if outcome.publish_id else "")
            + (f" (log_id {outcome.log_id})" if outcome.log_id and outcome.log_id not in outcome.detail else ""))
    status = exit_status(outcomes, bad_entries=len(manifest.problems))
    say(_summary(outcomes, len(manifest.problems), settings.emulated))
    if args.json:
        print(json.dumps({"emulated": settings.emulated, "exit_status": int(status),
                          "outcomes": [o.to_json() for o in outcomes],
                          "problems": [p.message for p in manifest.problems]}, indent=2))
    return status


def exit_status(outcomes: Sequence[Outcome], *, bad_entries: int = 0) -> ExitStatus:
    codes = [STATUS_EXIT.get(o.status, ExitStatus.OK) for o in outcomes]
    return combine(codes + ([ExitStatus.BAD_INPUT] if bad_entries else []))


def _summary(outcomes: Sequence[Outcome], bad_entries: int, emulated: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    if bad_entries:
        counts["invalid entries"] = bad_entries
    parts = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing to do"
    tail = " (EMULATED: nothing was sent to TikTok)" if emulated else ""
    return f"done: {parts}{tail}"


def _describe(entry: PostRequest) -> str:
    kind = "draft " if entry.draft else ""
    if entry.media_type == "PHOTO":
        return f"{kind}photo post of {len(entry.photo_urls)} image(s)"
    if entry.video_url:
        return f"{kind}video pulled from {entry.video_url}"
    return f"{kind}video {entry.video_path}"


def _dry_run(entries: Sequence[PostRequest], args, settings, say) -> int:
    """Local checks only: accounts, media, chunk plans. Privacy is checked against creator_info when posting."""
    from tiktok.posting.caption import build_caption
    from tiktok.auth.tokens import TokenStore
    accounts = TokenStore(settings.tokens_path).load()
    failed = False
    for entry in entries:
        lines = [f"entry {entry.index + 1} for {entry.user_id}: {_describe(entry)}"]
        if entry.user_id not in accounts:
            lines.append(f'  problem: field "user_id": no connected account in {settings.tokens_path}')
            failed = True
        if entry.video_path is not None:
            try:
                info = probe(entry.video_path)
                problems = check_video(info)
                plan = plan_chunks(info.size_bytes, args.chunk_size)
                lines.append(f"  {info.container}/{info.video_codec} {info.width}x{info.height} "
                             f"{info.duration_s:.1f}s {info.size_bytes:,} bytes -> {plan.total_chunk_count} "
                             f"chunk(s) of {plan.chunk_size:,} (last {plan.final_chunk_bytes:,})")
                lines += [f"  problem: {p}" for p in problems]
                failed |= bool(problems)
            except (MediaError, ChunkPlanError) as exc:
                lines.append(f"  problem: {exc}")
                failed = True
        caption = build_caption(entry.description or "", entry.tags, limit=entry.caption_limit)
        if caption.text:
            lines.append(f"  caption: {caption.text!r}")
        privacy = "inbox draft (set in the app)" if entry.draft and entry.media_type == "VIDEO" else (
            entry.privacy or args.privacy or "SELF_ONLY (default)")
        lines.append(f"  privacy: {privacy}")
        for line in lines:
            say(line)
    say("dry run: nothing was posted")
    return ExitStatus.BAD_INPUT if failed else ExitStatus.OK
