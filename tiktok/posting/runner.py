"""One posting run over a manifest: what is due is posted, accounts in parallel, each account's entries in order.

This is the one code path behind ``upload_to_tiktok.py``, ``python -m tiktok post``, ``--watch`` and the web app's
background runner. It reads the manifest and the results file beside it and settles, without any call, every entry
that needs no work now (:func:`plan_entries`: scheduled, missed, already done, failed for good, duplicates). The rest
go to a :class:`Publisher`: entries of different accounts in parallel (``jobs`` worker threads), one account's
entries in manifest order in one worker, so TikTok sees one account's posts in the order the person wrote them.

Each worker has its own Publisher and HTTP sessions; the token store, the results file (locked, with per-entry
claims) and the request limiter are shared, so the threads together stay within TikTok's per-token limits and two
workers, or this run and cron's, never post one entry twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tiktok.config import Settings
from tiktok.errors import TikTokError
from tiktok.exitcodes import BAD_INPUT, FAILED, SCHEDULED, SKIPPED, TRY_LATER, ExitStatus, exit_status, outcome_label
from tiktok.posting.cli import DEFAULT_JOBS
from tiktok.posting.client import PostingClient
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES, POSTING_LIMITS
from tiktok.posting.backend import FileQueue, PostQueue
from tiktok.posting.manifest import ManifestProblem, PostRequest
from tiktok.posting.publisher import (CLAIMED_ELSEWHERE, FIRST_POLL_S, Outcome, Publisher, done_detail,
                                      failed_for_good_detail, media_label)
from tiktok.posting.results import DONE, PostRecord, ResultsFileError, entry_key
from tiktok.posting.schedule import DEFAULT_GRACE_S, next_due, when
from tiktok.ratelimit import TokenLimiter
from tiktok.retry import Runtime



@dataclass(frozen=True)
class RunOptions:
    """What a person chose for this run (the command's flags); the same for every entry."""

    jobs: int = DEFAULT_JOBS
    grace_s: float = DEFAULT_GRACE_S
    force: bool = False
    retry_failed: bool = False
    privacy: str | None = None
    poll_timeout_s: float = 600.0
    poll_interval_s: float = FIRST_POLL_S
    chunk_size: int = DEFAULT_CHUNK_BYTES
    only_keys: frozenset[str] | None = None  # post only these entries (the app's "post now"); None: every entry


@dataclass
class RunReport:
    outcomes: list[Outcome] = field(default_factory=list)  # manifest order
    problems: list[ManifestProblem] = field(default_factory=list)
    warnings: list[ManifestProblem] = field(default_factory=list)
    status: ExitStatus = ExitStatus.OK
    next_due_at: float | None = None  # the earliest scheduled time still to come: when --watch runs again
    following: int = 0  # published public posts whose id TikTok has not released yet (later runs look again)
    emulated: bool = False
    stopped: str | None = None  # why nothing was posted at all (an error message), when that happened


@dataclass
class Hooks:
    """How a run talks and waits; tests inject time, the app logs instead of printing."""

    say: Callable[[str], None] = print
    progress: Callable[[str, int], Any] | None = None  # (label, total bytes) -> bar; None: no bars
    runtime: Callable[[], Runtime] | None = None  # a fresh Runtime per worker; None: real time
    limiter: TokenLimiter | None = None  # None: a new one for the run (several runs in one process may share one)


def plan_entries(entries: Sequence[PostRequest], records: dict[str, PostRecord], *, now: float,
                 options: RunOptions) -> tuple[list[PostRequest], dict[int, Outcome]]:
    """Split the entries into those the publisher must work on and those settled here with no call to TikTok.
    Pure: the records and ``now`` are given. The publisher checks every record again under its claim."""
    work: list[PostRequest] = []
    settled: dict[int, Outcome] = {}
    first_of: dict[str, int] = {}
    for entry in entries:
        key = entry_key(entry)
        if key in first_of:
            settled[entry.index] = _outcome(entry, SKIPPED, f"entry {entry.index + 1} is the same as entry "
                                            f"{first_of[key] + 1} (every field alike); skipped, it is posted once")
            continue
        first_of[key] = entry.index
        if options.only_keys is not None and key not in options.only_keys:
            continue
        record = records.get(key)
        if record is None or record.state == "new":
            settle = _by_schedule(entry, now, options)
            if settle is None:
                work.append(entry)
            else:
                settled[entry.index] = settle
        elif record.state in DONE and not record.awaiting_public_id(now):
            settled[entry.index] = _outcome(entry, SKIPPED, done_detail(record), record)
        elif record.needs_person and not options.retry_failed:
            settled[entry.index] = _outcome(entry, FAILED, failed_for_good_detail(record), record)
        else:
            work.append(entry)  # in flight, to retry, or a public post whose id is awaited
    return work, settled


def _by_schedule(entry: PostRequest, now: float, options: RunOptions) -> Outcome | None:
    """None when a not-started entry is due; else its outcome (scheduled, or missed beyond the grace period)."""
    state = when(entry.due_at, now, options.grace_s)
    if state == "scheduled":
        return _outcome(entry, SCHEDULED, f"scheduled for {entry.post_at} ({describe_wait(entry.due_at - now)} "
                                          "from now)")
    if state == "missed" and not options.force:
        return _outcome(entry, FAILED, f"missed: it was due at {entry.post_at}, {describe_wait(now - entry.due_at)} "
                                       f"ago, more than the {describe_wait(options.grace_s)} grace period, so it was "
                                       "not posted. Give it a new post_at, or run with --force to post it now")
    return None


def run_queue(source: Path | PostQueue, settings: Settings, options: RunOptions = RunOptions(), *,
              clock: Callable[[], float] = time.time, hooks: Hooks | None = None) -> RunReport:
    """Post what is due in ``source`` (a manifest path, or any PostQueue: the file or the database). Raises
    ManifestError, ConfigError, ResultsFileError or DatabaseError when the queue cannot be used at all (nothing was
    attempted); anything about one entry is that entry's outcome."""
    from tiktok.services import build_services  # requests and the API client: only once a run really starts

    hooks = hooks or Hooks()
    queue = FileQueue(source, allow_loopback=settings.emulated, key=settings.tokens_key) \
        if isinstance(source, (str, Path)) else source
    manifest = queue.read()
    report = RunReport(problems=list(manifest.problems), warnings=list(manifest.warnings),
                       emulated=settings.emulated)
    for warning in manifest.warnings:
        hooks.say(f"warning: {warning.message}")
    for problem in manifest.problems:
        hooks.say(f"error: {problem.message}")
    results = queue.results()
    if results.exists_but_empty() and manifest.entries and not options.force:
        report.stopped = (f"{results.path} exists but holds no records: if earlier runs posted these entries, "
                          "their record is gone and TikTok may already hold them. Check the profiles, then re-run "
                          "with --force to post every entry anyway (or delete the empty file).")
        report.status = ExitStatus.BAD_INPUT
        return report
    now = clock()
    records = results.load()
    work, settled = plan_entries(manifest.entries, records, now=now, options=options)
    prefix = "[emulator] " if settings.emulated else ""
    for index, outcome in sorted(settled.items()):
        hooks.say(f"{prefix}entry {index + 1} for {outcome.user_id}: {outcome_label(outcome.status)}: "
                  f"{outcome.detail}")
    report.next_due_at = next_due([e.due_at for e in manifest.entries
                                   if e.index in settled and settled[e.index].status == SCHEDULED], now)
    store = build_services(settings).store
    limiter = hooks.limiter or shared_limiter(settings)

    def make_publisher() -> Publisher:
        own = build_services(settings, store=store)  # this worker's own HTTP session, the run's token store
        extra = {"runtime": hooks.runtime()} if hooks.runtime else {}
        return Publisher(store=store, oauth=own.oauth, posting=PostingClient(own.api),
                         upload_session=_upload_session(), results=results, emulated=settings.emulated,
                         default_privacy=options.privacy, poll_timeout_s=options.poll_timeout_s,
                         poll_interval_s=options.poll_interval_s, chunk_size=options.chunk_size,
                         force=options.force, retry_failed=options.retry_failed, say=hooks.say,
                         progress=hooks.progress, limiter=limiter, still_queued=queue.contains, **extra)

    done, fatal = post_accounts(work, make_publisher, options.jobs, hooks.say, settings.emulated)
    outcomes = {**settled, **done}
    report.outcomes = [outcomes[e.index] for e in manifest.entries if e.index in outcomes]
    after = results.load()
    report.following = sum(1 for e in manifest.entries
                           if (r := after.get(entry_key(e))) is not None and r.awaiting_public_id(clock()))
    busy = [TRY_LATER] if any(o.state == CLAIMED_ELSEWHERE for o in report.outcomes) else []
    report.status = exit_status([*report.outcomes, *busy, *fatal, *([BAD_INPUT] if manifest.problems else [])])
    return report


def shared_limiter(settings: Settings):
    """One limiter for the run's threads; with DATABASE_URL one for every process on every machine."""
    if settings.database_url:
        from tiktok.db.ratelimit import PgLimiter
        return PgLimiter(settings.database_url, POSTING_LIMITS)
    return TokenLimiter(POSTING_LIMITS)


def _upload_session():
    from tiktok.posting.transfer import upload_session
    return upload_session()


def post_accounts(entries: list[PostRequest], make_publisher: Callable[[], Publisher], jobs: int,
                  say: Callable[[str], None], emulated: bool) -> tuple[dict[int, Outcome], list[str]]:
    """Publish ``entries``: one queue per account (its entries in order), ``jobs`` accounts at once, one Publisher
    per worker thread. Returns the outcomes by entry index and the outcome words of accounts that had to stop."""
    by_account: dict[str, list[PostRequest]] = {}
    for entry in entries:
        by_account.setdefault(entry.user_id, []).append(entry)
    prefix = "[emulator] " if emulated else ""
    workers = max(1, min(jobs, len(by_account)))
    lock = threading.Lock()
    local = threading.local()
    done: dict[int, Outcome] = {}
    fatal: list[str] = []
    position = [0]

    def line(text: str) -> None:
        with lock:
            say(text)

    def account(queue: list[PostRequest]) -> None:
        if getattr(local, "publisher", None) is None:
            local.publisher = make_publisher()
        for entry in queue:
            with lock:
                position[0] += 1
                say(f"{prefix}[{position[0]}/{len(entries)}] entry {entry.index + 1} for {entry.user_id}: "
                    f"{describe(entry)}")
            try:
                outcome = local.publisher.publish(entry)
            except (ResultsFileError, TikTokError) as exc:  # the results file or the account broke: stop this queue
                line(f"error: {exc}")
                with lock:
                    fatal.append(BAD_INPUT if isinstance(exc, ResultsFileError) else FAILED)
                return
            with lock:
                done[entry.index] = outcome
            line(outcome_text(outcome, prefix, tagged=workers > 1))

    queues = list(by_account.values())
    if workers == 1:
        for queue in queues:
            account(queue)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="post") as pool:
            list(pool.map(account, queues))
    return done, fatal


def outcome_text(outcome: Outcome, prefix: str = "", *, tagged: bool = False) -> str:
    """One line for one entry's outcome; ``tagged`` names the entry (lines of parallel workers interleave)."""
    return (f"{prefix}  {outcome_label(outcome.status)}: {outcome.detail}"
            + (f" [publish_id {outcome.publish_id}]" if outcome.publish_id else "")
            + (f" (log_id {outcome.log_id})" if outcome.log_id and outcome.log_id not in outcome.detail else "")
            + (f" [entry {outcome.index + 1}]" if tagged else ""))


def _outcome(entry: PostRequest, status: str, detail: str, record: PostRecord | None = None) -> Outcome:
    return Outcome(index=entry.index, user_id=entry.user_id, media=media_label(entry), status=status, detail=detail,
                   state=record.state if record else None, publish_id=record.publish_id if record else None,
                   post_ids=record.post_ids if record else (), log_id=record.log_id if record else None)


def describe(entry: PostRequest) -> str:
    kind = "draft " if entry.draft else ""
    if entry.media_type == "PHOTO":
        what = f"{kind}photo post of {len(entry.photo_urls)} image(s)"
    elif entry.video_url:
        what = f"{kind}video pulled from {entry.video_url}"
    else:
        what = f"{kind}video {entry.video_path}"
    return what + (f", at {entry.post_at}" if entry.post_at else "")


def describe_wait(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``2 days 4 h``: how far a time is, for people."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary(report: RunReport) -> str:
    """The run's last line: how many entries ended how, what comes next."""
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome_label(outcome.status)] = counts.get(outcome_label(outcome.status), 0) + 1
    if report.problems:
        counts[f"{outcome_label(BAD_INPUT)} (invalid entries)"] = len(report.problems)
    parts = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing to do"
    if report.next_due_at is not None:
        parts += f"; next scheduled post at {utc_text(report.next_due_at)}"
    if report.following:
        parts += f"; {report.following} posted under review (later runs look for the public link)"
    tail = " (EMULATED: nothing was sent to TikTok)" if report.emulated else ""
    return f"summary: {parts}{tail}"
