"""What ``upload_to_tiktok.py`` does once its arguments parse: validate, post, report (see ``cli``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from tiktok.posting.chunks import ChunkPlanError, plan_chunks
from tiktok.config import load_settings
from tiktok.errors import ConfigError, TikTokError
from tiktok.exitcodes import BAD_INPUT, SKIPPED, TRY_LATER, ExitStatus, exit_status, outcome_label
from tiktok.posting.manifest import ManifestError, PostRequest, load_manifest
from tiktok.posting.media import MediaError, check_video, probe
from tiktok.posting.client import PostingClient
from tiktok.progress import ByteProgress
from tiktok.posting.publisher import CLAIMED_ELSEWHERE, Outcome, Publisher, media_label
from tiktok.posting.results import ResultsFileError, ResultsStore, entry_key, results_path_for
from tiktok.services import build_services
from tiktok.posting.transfer import upload_session


def run(args: argparse.Namespace) -> int:
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

    try:
        results = ResultsStore(results_path_for(args.manifest), key=settings.tokens_key)
        emptied = results.exists_but_empty()
    except (ConfigError, ResultsFileError) as exc:
        say(f"error: {exc}")
        return ExitStatus.BAD_INPUT
    if emptied and manifest.entries:
        say(f"warning: {results.path} exists but holds no records: if earlier runs posted these entries, their "
            "record is gone and TikTok may already hold them. Check the profiles, then re-run with --force to post "
            "every entry anyway (or delete the empty file).")
        if not args.force:
            say("nothing was posted")
            return ExitStatus.BAD_INPUT

    services = build_services(settings)
    publisher = Publisher(
        store=services.store, oauth=services.oauth, posting=PostingClient(services.api),
        upload_session=upload_session(), results=results,
        emulated=settings.emulated, default_privacy=args.privacy, poll_timeout_s=args.poll_timeout,
        poll_interval_s=args.poll_interval,
        chunk_size=args.chunk_size, force=args.force, say=say,
        progress=None if args.json else ByteProgress)
    outcomes: list[Outcome] = []
    first_of: dict[str, int] = {}  # entry_key -> the index of the first entry with those fields
    for position, entry in enumerate(manifest.entries, 1):
        say(f"{prefix}[{position}/{len(manifest.entries)}] entry {entry.index + 1} for {entry.user_id}: "
            f"{_describe(entry)}")
        key = entry_key(entry)
        try:
            if key in first_of:
                outcome = Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry),
                                  status=SKIPPED, detail=f"entry {entry.index + 1} is the same as entry "
                                  f"{first_of[key] + 1} (every field alike); skipped, it is posted once")
            else:
                first_of[key] = entry.index
                outcome = publisher.publish(entry)
        except (ResultsFileError, TikTokError) as exc:
            say(f"error: {exc}")
            return ExitStatus.BAD_INPUT if isinstance(exc, ResultsFileError) else ExitStatus.FAILED
        outcomes.append(outcome)
        say(f"{prefix}  {outcome_label(outcome.status)}: {outcome.detail}"
            + (f" [publish_id {outcome.publish_id}]" if outcome.publish_id else "")
            + (f" (log_id {outcome.log_id})" if outcome.log_id and outcome.log_id not in outcome.detail else ""))
    # An entry another run is posting is SKIPPED here but not done yet: exit 4 (TRY LATER) says "run again later".
    busy = [TRY_LATER] if any(o.state == CLAIMED_ELSEWHERE for o in outcomes) else []
    status = exit_status([*outcomes, *busy, *([BAD_INPUT] if manifest.problems else [])])
    say(_summary(outcomes, len(manifest.problems), settings.emulated))
    if args.json:
        print(json.dumps({"emulated": settings.emulated, "exit_status": int(status),
                          "outcomes": [o.to_json() for o in outcomes],
                          "problems": [p.message for p in manifest.problems]}, indent=2))
    return status


def _summary(outcomes: Sequence[Outcome], bad_entries: int, emulated: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome_label(outcome.status)] = counts.get(outcome_label(outcome.status), 0) + 1
    if bad_entries:
        counts[f"{outcome_label(BAD_INPUT)} (invalid entries)"] = bad_entries
    parts = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing to do"
    tail = " (EMULATED: nothing was sent to TikTok)" if emulated else ""
    return f"summary: {parts}{tail}"


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
    accounts = TokenStore(settings.tokens_path, key=settings.tokens_key).load()
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
        lines.append(f"  privacy: {privacy} (not checked against the creator's options: that needs TikTok)")
        for line in lines:
            say(line)
    say("dry run: nothing was posted. Checked here: the manifest, the accounts, each video file against TikTok's "
        "limits and its chunk plan. Not checked, because they need TikTok: the creator's privacy options, their "
        "maximum video duration and disabled interactions (creator_info), posting caps and bans, and URL "
        "ownership for pulls; a real run checks these before it posts.")
    return ExitStatus.BAD_INPUT if failed else ExitStatus.OK
