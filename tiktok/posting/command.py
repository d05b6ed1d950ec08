"""What ``upload_to_tiktok.py`` does once its arguments parse: a run (or ``--watch``), a dry run, the lines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Sequence

from tiktok.config import load_settings
from tiktok.errors import ConfigError, DatabaseError
from tiktok.exitcodes import ExitStatus
from tiktok.posting.chunks import ChunkPlanError, plan_chunks
from tiktok.posting.backend import open_queue
from tiktok.posting.manifest import ManifestError, PostRequest
from tiktok.posting.media import MediaError, check_video, probe
from tiktok.posting.results import ResultsFileError
from tiktok.posting.runner import Hooks, RunOptions, RunReport, describe, run_queue, summary, utc_text
from tiktok.progress import ByteProgress


def run(args: argparse.Namespace) -> int:
    out = sys.stderr if args.json else sys.stdout
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    try:
        settings = load_settings()
        if settings.database_url and args.manifest is not None:
            raise ConfigError(f"DATABASE_URL is set, so the post queue is in the database, not in {args.manifest}: "
                              f"add the file's entries with python -m tiktok db import --manifest {args.manifest}")
        queue = open_queue(settings, args.manifest)
        manifest = queue.read()
    except (ConfigError, ManifestError) as exc:
        say(f"error: {exc}")
        return ExitStatus.BAD_INPUT
    except DatabaseError as exc:
        say(f"error: {exc}")
        return ExitStatus.TRY_LATER if exc.transient else ExitStatus.BAD_INPUT
    if args.dry_run:
        for warning in manifest.warnings:
            say(f"warning: {warning.message}")
        for problem in manifest.problems:
            say(f"error: {problem.message}")
        return _dry_run(manifest.entries, args, settings, say) if not manifest.problems else ExitStatus.BAD_INPUT
    options = RunOptions(jobs=args.jobs, grace_s=settings.post_grace_s if args.grace is None else args.grace,
                         force=args.force, retry_failed=args.retry_failed, privacy=args.privacy,
                         poll_timeout_s=args.poll_timeout, poll_interval_s=args.poll_interval,
                         chunk_size=args.chunk_size)
    hooks = Hooks(say=say, progress=None if args.json else ByteProgress)
    if args.watch:
        return _watch(queue, settings, options, hooks, say)
    report = _run_once(queue, settings, options, hooks, say)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    return report.status


def _run_once(queue, settings, options: RunOptions, hooks: Hooks, say) -> RunReport:
    """One run with its lines: warnings and problems first, then each entry as it goes, then the summary."""
    try:
        report = run_queue(queue, settings, options, hooks=hooks, clock=time.time)
    except (ConfigError, ManifestError, ResultsFileError, DatabaseError) as exc:
        say(f"error: {exc}")
        status = ExitStatus.TRY_LATER if getattr(exc, "transient", False) else ExitStatus.BAD_INPUT
        return RunReport(status=status, emulated=settings.emulated, stopped=str(exc))
    if report.stopped:
        say(f"warning: {report.stopped}")
        say("nothing was posted")
        return report
    say(summary(report))
    return report


def _watch(queue, settings, options: RunOptions, hooks: Hooks, say) -> int:
    """--watch: run now, then whenever an entry comes due, until Ctrl-C or SIGTERM (exit 0)."""
    import signal
    import threading

    from tiktok.posting.watch import watch

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def changed() -> float | None:  # the file's modification time; the database queue is looked at each minute
        try:
            return queue.manifest.stat().st_mtime_ns if hasattr(queue, "manifest") else None
        except OSError:
            return None

    def after(report: RunReport, wake: float) -> None:
        say(f"watching {queue.where}: next look at {utc_text(wake)} (Ctrl-C stops)")

    try:
        watch(lambda: _run_once(queue, settings, options, hooks, say), clock=time.time, sleep=stop.wait,
              changed=changed, stopped=stop.is_set, after=after)
    except KeyboardInterrupt:
        pass
    say("stopped watching")
    return ExitStatus.OK


def report_json(report: RunReport) -> dict:
    return {"emulated": report.emulated, "exit_status": int(report.status),
            "outcomes": [o.to_json() for o in report.outcomes],
            "problems": [p.message for p in report.problems],
            "next_due_at": utc_text(report.next_due_at) if report.next_due_at is not None else None,
            "under_review": report.following}


def _dry_run(entries: Sequence[PostRequest], args, settings, say) -> int:
    """Local checks only: accounts, media, chunk plans. Privacy is checked against creator_info when posting."""
    from tiktok.posting.caption import build_caption
    from tiktok.services import token_store
    store = token_store(settings)
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
