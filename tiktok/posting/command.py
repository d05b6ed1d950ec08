"""What ``upload_to_tiktok.py`` does once its arguments parse: a run (or ``--watch``), a dry run, the lines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from tiktok.config import load_settings
from tiktok.errors import ConfigError, ResultsFileError, StoreError
from tiktok.exitcodes import ExitStatus
from tiktok.logs import echo, inert
from tiktok.posting.chunks import ChunkPlanError, plan_chunks
from tiktok.posting.manifest import ManifestError, PostRequest, load_manifest
from tiktok.posting.media import MediaError, check_video, probe
from tiktok.posting.runner import Hooks, RunOptions, RunReport, describe, run_queue, summary, utc_text
from tiktok.progress import ByteProgress


def run(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout
    say = lambda text: echo(text, file=out)  # noqa: E731 - captions, file names, TikTok's errors: made inert
    try:
        settings = load_settings()
        manifest = manifest_to_import(args.manifest, settings.manifest_path)
        if args.dry_run:
            return _dry_run(manifest, args, settings, say)
        from tiktok.store.base import open_store
        store = open_store(settings)
    except (ConfigError, ManifestError) as exc:
        say(f"error: {exc}")
        return ExitStatus.BAD_INPUT
    except StoreError as exc:
        say(f"error: {exc}")
        return ExitStatus.TRY_LATER if exc.transient else ExitStatus.BAD_INPUT
    options = RunOptions(jobs=args.jobs, grace_s=settings.post_grace_s if args.grace is None else args.grace,
                         force=args.force, retry_failed=args.retry_failed, privacy=args.privacy,
                         poll_timeout_s=args.poll_timeout, poll_interval_s=args.poll_interval,
                         chunk_size=args.chunk_size)
    hooks = Hooks(say=say, progress=None if args.json else inert_progress)
    try:
        if args.watch:
            return _watch(store, manifest, settings, options, hooks, say)
        report = _run_once(store, manifest, settings, options, hooks, say)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    return report.status


def inert_progress(label: str, total: int | None = None) -> ByteProgress:
    """A progress bar whose label (a video's file name) cannot drive the terminal."""
    return ByteProgress(inert(label, newlines=False), total)


def manifest_to_import(given: Path | None, default: Path) -> Path | None:
    """The manifest a run imports: the one named (it must exist), else MANIFEST_FILE when it exists, else none
    (the run posts what the store holds: the app's posts, earlier imports)."""
    if given is not None:
        if not given.exists():
            raise ManifestError(given, "file not found")
        return given
    return default if default.exists() else None


def _run_once(store, manifest: Path | None, settings, options: RunOptions, hooks: Hooks, say) -> RunReport:
    """One run with its lines: the import, then each post as it goes, then the summary."""
    try:
        report = run_queue(store, settings, options, manifest=manifest, hooks=hooks, clock=time.time)
    except (ConfigError, ManifestError, ResultsFileError, StoreError) as exc:
        say(f"error: {exc}")
        status = ExitStatus.TRY_LATER if getattr(exc, "transient", False) else ExitStatus.BAD_INPUT
        return RunReport(status=status, emulated=settings.emulated, stopped=str(exc))
    say(summary(report))
    return report


def _watch(store, manifest: Path | None, settings, options: RunOptions, hooks: Hooks, say) -> int:
    """--watch: run now, then whenever a post comes due, until Ctrl-C or SIGTERM (exit 0)."""
    import signal
    import threading

    from tiktok.posting.watch import watch

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def changed() -> float | None:  # the manifest's modification time; the store is looked at each minute
        try:
            return manifest.stat().st_mtime_ns if manifest is not None else None
        except OSError:
            return None

    def after(report: RunReport, wake: float) -> None:
        say(f"watching {store.where}: next look at {utc_text(wake)} (Ctrl-C stops)")

    try:
        watch(lambda: _run_once(store, manifest, settings, options, hooks, say), clock=time.time, sleep=stop.wait,
              changed=changed, stopped=stop.is_set, after=after)
    except KeyboardInterrupt:
        pass
    say("stopped watching")
    return ExitStatus.OK


def report_json(report: RunReport) -> dict:
    return {"emulated": report.emulated, "exit_status": int(report.status),
            "outcomes": [o.to_json() for o in report.outcomes],
            "problems": list(report.problems),
            "next_due_at": utc_text(report.next_due_at) if report.next_due_at is not None else None,
            "scheduled": report.scheduled,
            "under_review": report.following}


def _dry_run(manifest: Path | None, args, settings, say) -> int:
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
    return _dry_run_entries(checked.entries, args, settings, say)


def _dry_run_entries(entries: Sequence[PostRequest], args, settings, say) -> int:
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
