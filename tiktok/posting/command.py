"""How a posting command goes once its options are read (:class:`PostCommand`): one run, ``--watch``, or a dry run,
with their lines (``upload_to_tiktok.py``, ``python -m tiktok post``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tiktok.clock import schedule_clock
from tiktok.config import Settings
from tiktok.errors import ConfigError, ResultsFileError, StoreError
from tiktok.exitcodes import ExitStatus
from tiktok.logs import echo, inert
from tiktok.media.store import MediaStoreError
from tiktok.posting.manifest import ManifestError
from tiktok.posting.runner import Hooks, RunOptions, RunReport, Said, run_queue, summary
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
    # Given the store once it is open, before the first run; returns what to call as each run ends (the one run, and
    # every round of --watch), or None. The command builds it (tiktok.commands.post: the alerts, which posting
    # cannot import); it never raises.
    after_runs: Callable[[object], Callable[[], None] | None] | None = None


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
    told = command.after_runs(store) if command.after_runs is not None else None
    hooks = Hooks(say=say, progress=None if command.json else inert_progress, media_doctor=command.media_doctor)
    try:
        if command.watch:
            return _watch(store, manifest, settings, options, hooks, say, told)
        report = _run_once(store, manifest, settings, options, hooks, say)
        if told is not None:
            told()
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
    said again (a database gone stops every account's queue, then the run, for one reason: one line). A round of
    --watch (``hooks.said``) says what changed since the round before, and its summary or error only then."""
    said: set[str] = set()
    rounds = hooks.said

    def once(text: str) -> None:
        if not (text.startswith("error: ") and text in said):
            said.add(text)
            say(text)

    def closing(text: str) -> None:
        if rounds is None or rounds.closing(text):
            once(text)
    try:
        report = run_queue(store, settings, options, manifest=manifest, hooks=replace(hooks, say=once),
                           clock=schedule_clock(settings, store.clock))  # emulated: the emulator's (tiktok.clock)
    except (ConfigError, ManifestError, ResultsFileError, StoreError, MediaStoreError) as exc:
        closing(f"error: {exc}")
        status = ExitStatus.TRY_LATER if getattr(exc, "transient", False) else ExitStatus.BAD_INPUT
        return RunReport(status=status, emulated=settings.tiktok.emulated, stopped=str(exc))
    closing(summary(report))
    return report


def _watch(store, manifest: Path | None, settings, options: RunOptions, hooks: Hooks, say,
           told: Callable[[], None] | None = None) -> int:
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

    run_once, after = watch_rounds(store, manifest, settings, options, hooks, say)
    if told is not None:
        run_once = _then(run_once, told)
    try:
        watch(run_once, clock=schedule_clock(settings, store.clock), sleep=stop.wait, changed=changed, stopped=stop.is_set, after=after)
    except KeyboardInterrupt:
        pass
    say("stopped watching")
    return ExitStatus.OK


def watch_rounds(store, manifest: Path | None, settings, options: RunOptions, hooks: Hooks,
                 say) -> tuple[Callable[[], RunReport], Callable[[RunReport, float], None]]:
    """--watch's round and what it says after one (:func:`tiktok.posting.watch.watch`'s ``run_once`` and ``after``).
    The rounds share one :class:`~tiktok.posting.runner.Said`: a round says what changed since the one before, and
    "watching ... next look at" only after a round that said something, so an idle queue prints nothing each
    minute (issue 24: every SKIPPED entry was printed again)."""
    said = Said()
    rounds = replace(hooks, said=said)

    def after(report: RunReport, wake: float) -> None:
        if said.news:
            say(f"watching {store.where}: next look at {moment(wake)} (Ctrl-C stops)")
    return (lambda: _run_once(store, manifest, settings, options, rounds, say)), after


def _then(run_once: Callable[[], RunReport], told: Callable[[], None]) -> Callable[[], RunReport]:
    """``run_once`` followed by ``told()`` (PostCommand.after_runs) each time."""
    def round_told() -> RunReport:
        report = run_once()
        told()
        return report
    return round_told


def report_json(report: RunReport) -> dict:
    return {"emulated": report.emulated, "exit_status": int(report.status),
            "outcomes": [o.to_json() for o in report.outcomes],
            "problems": list(report.problems),
            "next_due_at": utc_iso(report.next_due_at) if report.next_due_at is not None else None,
            "scheduled": report.scheduled,
            "under_review": report.following}
