"""``upload_to_tiktok.py --dry-run``: what a real run would do, checked here without posting or storing anything."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tiktok.exitcodes import ExitStatus
from tiktok.posting.chunks import ChunkPlanError, plan_chunks
from tiktok.posting.manifest import PostRequest, load_manifest
from tiktok.posting.media import MediaError, check_video, probe
from tiktok.posting.runner import describe


def dry_run(manifest: Path | None, settings, *, privacy: str | None, chunk_size: int, say) -> int:
    """Local checks only, and nothing stored: the manifest, accounts, media, chunk plans. Privacy is checked
    against creator_info when posting."""
    if manifest is None:
        say(f"dry run: there is no manifest at {settings.manifest_path} to check; nothing was posted")
        return ExitStatus.OK
    checked = load_manifest(manifest, allow_loopback=settings.emulated)
    for warning in checked.warnings:
        say(f"warning: {warning.message}")
    for problem in checked.problems:
        say(f"error: {problem.message}")
    if checked.problems:
        return ExitStatus.BAD_INPUT
    return _dry_run_entries(checked.entries, settings, privacy=privacy, chunk_size=chunk_size, say=say)


def _dry_run_entries(entries: Sequence[PostRequest], settings, *, privacy: str | None, chunk_size: int,
                     say) -> int:
    from tiktok.posting.caption import build_caption
    from tiktok.store.base import open_token_store
    store = open_token_store(settings)
    accounts = store.load()
    failed = False
    for entry in entries:
        lines = [f"entry {entry.index + 1} for {entry.user_id}: {describe(entry)}"]
        if entry.user_id not in accounts:
            lines.append(f'  problem: field "user_id": no connected account in {store.path}')
            failed = True
        if entry.video_path is not None:
            try:
                info = probe(entry.video_path)
                problems = check_video(info)
                plan = plan_chunks(info.size_bytes, chunk_size)
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
            entry.privacy or privacy or "SELF_ONLY (default)")
        lines.append(f"  privacy: {privacy} (not checked against the creator's options: that needs TikTok)")
        for line in lines:
            say(line)
    say("dry run: nothing was posted. Checked here: the manifest, the accounts, each video file against TikTok's "
        "limits and its chunk plan. Not checked, because they need TikTok: the creator's privacy options, their "
        "maximum video duration and disabled interactions (creator_info), posting caps and bans, and URL "
        "ownership for pulls; a real run checks these before it posts.")
    return ExitStatus.BAD_INPUT if failed else ExitStatus.OK
