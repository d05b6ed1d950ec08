"""How a posting command goes once its options are read (:class:`PostCommand`): one run, ``--watch``, or a dry run,
with their lines (``upload_to_tiktok.py``, ``python -m tiktok post``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tiktok.config import Settings
from tiktok.errors import ConfigError, ResultsFileError, StoreError
from tiktok.exitcodes import ExitStatus
from tiktok.logs import echo, inert
from tiktok.media.store import MediaStoreError
from tiktok.posting.manifest import ManifestError
from tiktok.posting.runner import Hooks, RunOptions, RunReport, run_queue, summary
from tiktok.text import moment, utc_iso
from tiktok.progress import ByteProgress


@dataclass(frozen=True)
class PostCommand:
    """What a person asked the posting command for."""

    options: RunOptions = field(default_factory=RunOptions)
    manifest: Path | None = None  # the manifest named (it must exist); None: MANIFEST_FILE when it exists
    dry_run: bool = False
    json: bool = False  # the outcomes as JSON on stdout, the lines on stderr
    watch: bool = False  # keep running, posting each entry when it comes due
    # The file each video entry's file is sent as (--fix-media: tiktok.media.doctor.copies.FixedCopies, which the
    # command builds: posting cannot import the doctor); None: the file itself.
    media_doctor: Callable[[Path], tuple[Path, str | None]] | None = None


def run(command: PostCommand, settings: Settings) -> int:
    """Run ``command``; the exit status. A manifest, configuration or store that cannot be used at the start raises
    (ManifestError, ConfigError, StoreError); within a run each problem is an outcome or a line."""
    out = sys.stderr if command.json else sys.stdout
    say = lambda text: echo(text, file=out)  # noqa: E731 - captions, file names, TikTok's errors: made inert
    manifest = manifest_to_import(command.manifest, settings.posting.manifest_path)
    options = command.options
    if command.dry_run:
        from tiktok.posting.dryrun import dry_run
        return dry_run(manifest, settings, privacy=options.privacy, chunk_size=options.chunk_size, say=say,
                       grace_s=options.grace_s, force=options.force, retry_failed=options.retry_failed)
    from tiktok.store.base import open_store
    store = open_store(settings)
    hooks = Hooks(say=say, progress=None if command.json else inert_progress, media_doctor=command.media_doctor)
    try:
        if command.watch:
            return _watch(store, manifest, settings, options, hooks, say)
        report = _run_once(store, manifest, settings, options, hooks, say)
    finally:
        store.close()
    if command.json:
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
    """One run with its lines: the import, then each post as it goes, then the summary. An error said once is not
    said again (a database gone stops every account's queue, then the run, for one reason: one line)."""
    said: set[str] = set()

    def once(text: str) -> None:
        if not (text.startswith("error: ") and text in said):
            said.add(text)
            say(text)
    try:
        report = run_queue(store, settings, options, manifest=manifest, hooks=replace(hooks, say=once),
                           clock=store.clock)
    except (ConfigError, ManifestError, ResultsFileError, StoreError, MediaStoreError) as exc:
        once(f"error: {exc}")
        status = ExitStatus.TRY_LATER if getattr(exc, "transient", False) else ExitStatus.BAD_INPUT
        return RunReport(status=status, emulated=settings.tiktok.emulated, stopped=str(exc))
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
        say(f"watching {store.where}: next look at {moment(wake)} (Ctrl-C stops)")

    try:
        watch(lambda: _run_once(store, manifest, settings, options, hooks, say), clock=store.clock, sleep=stop.wait,
              changed=changed, stopped=stop.is_set, after=after)
    except KeyboardInterrupt:
        pass
    say("stopped watching")
    return ExitStatus.OK


def report_json(report: RunReport) -> dict:
    return {"emulated": report.emulated, "exit_status": int(report.status),
            "outcomes": [o.to_json() for o in report.outcomes],
            "problems": list(report.problems),
            "next_due_at": utc_iso(report.next_due_at) if report.next_due_at is not None else None,
            "scheduled": report.scheduled,
            "under_review": report.following}
