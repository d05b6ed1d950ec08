"""One posting run over the store: what is due is posted, accounts in parallel, each account's posts in order.

This is the one code path behind ``upload_to_tiktok.py``, ``python -m tiktok post``, ``--watch``, the web app's
background runner and the workers. A run first imports its manifest, when it has one (the manifest is an input:
:mod:`tiktok.posting.importer`), then reads the posts that need a look (an indexed query: never the history) and
settles, without any call, those that need no work now (:func:`plan_posts`: scheduled, missed, failed for good).
The rest go to a :class:`Publisher`: posts of different accounts in parallel (``jobs`` worker threads), one
account's posts in queue order in one worker, so TikTok sees one account's posts in the order they were queued.

Each worker has its own Publisher and HTTP sessions; the token store, the post store (with per-post claims) and the
request limiter are shared, so the threads together stay within TikTok's per-token limits and two workers, or this
run and cron's, never post one post twice.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tiktok.config import Settings
from tiktok.errors import StoreError, TikTokError
from tiktok.exitcodes import BAD_INPUT, FAILED, SCHEDULED, SKIPPED, TRY_LATER, ExitStatus, exit_status, outcome_label
from tiktok.media.publishing import public_url
from tiktok.posting.budget import WINDOW_S, budgets
from tiktok.posting.client import PostingClient
from tiktok.posting.importer import ManifestImport, import_manifest, manifest_media, media_store_for, request_of
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES, DEFAULT_JOBS_BOUND, POSTING_LIMITS
from tiktok.posting.manifest import PostRequest
from tiktok.posting.publisher import (CLAIMED_ELSEWHERE, FIRST_POLL_S, Outcome, Publisher, done_detail,
                                      failed_for_good_detail, needs_force_detail)
from tiktok.posting.schedule import DEFAULT_GRACE_S, attempt_when
from tiktok.ratelimit import TokenLimiter
from tiktok.retry import Runtime
from tiktok.store.base import Post, PostStore, open_token_store, shared_limiter
from tiktok.store.records import DELIVERED, PostRecord, State
from tiktok.text import count, duration, moment, utc_iso


@dataclass(frozen=True)
class RunOptions:
    """What a person chose for this run (the command's flags); the same for every post."""

    jobs: int | None = None  # accounts at once; None: one per account with due work, at most DEFAULT_JOBS_BOUND
    grace_s: float = DEFAULT_GRACE_S
    force: bool = False
    retry_failed: bool = False
    privacy: str | None = None
    poll_timeout_s: float = 600.0
    poll_interval_s: float = FIRST_POLL_S
    chunk_size: int = DEFAULT_CHUNK_BYTES
    only_ids: frozenset[int] | None = None  # post only these posts (the app's "post now", a worker's job); None: all
    user_id: str | None = None  # only this account's posts (a worker holding the account's lock)


@dataclass
class RunReport:
    """What a run did: each post's outcome, the manifest's problems, its exit status and when to look again."""

    outcomes: list[Outcome] = field(default_factory=list)  # queue order
    problems: list[str] = field(default_factory=list)  # the manifest's errors (entries not imported)
    warnings: list[str] = field(default_factory=list)
    imported: ManifestImport | None = None
    status: ExitStatus = ExitStatus.OK
    next_due_at: float | None = None  # the earliest scheduled time still to come: when --watch runs again
    scheduled: int = 0  # posts whose time is still to come (a run does nothing for them yet)
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
    # The posting command's media doctor (tiktok.media.doctor.copies, --fix-media): the file a video_path entry is
    # sent as (Publisher.media_doctor). None: the entry's own file, refused as it is when TikTok would refuse it.
    media_doctor: Callable[[Path], tuple[Path, str | None]] | None = None
    # What the earlier rounds of a repeating run said (the app's tick, --watch): a round then says only what changed.
    # None (a one-shot run): every post's line, every time.
    said: Said | None = None


class Said:
    """What the earlier rounds of a repeating run said, so a round says what changed and not every unchanged post
    again (issue 24: the app's tick logged every entry every 30 s, and --watch every minute).

    A post settled without a call (done, failed for good, missed, an invalid entry) or looked at for its public link
    is said when its row changed since the round before (``Post.change``: an edit, a retry, a new record) or its
    outcome did (its word, state or TikTok's ids); a manifest's warning or error when the import before did not have
    it; a round's closing line (its summary) when the round said anything else or the line differs from the last
    one. An attempt at a post is always said: something happened. Lines are counted from several threads: the count
    only has to tell none from some."""

    def __init__(self) -> None:
        self._before: dict[int, tuple] = {}  # post id -> what was said of it in the round before
        self._now: dict[int, tuple] = {}  # ... and in this round (only posts still looked at are remembered)
        self._notes: frozenset[str] = frozenset()  # the last import's warnings and errors
        self._closing: str | None = None
        self.lines = 0  # lines said in this round
        self.news = False  # whether the last round ended with news (said anything)

    def counting(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """``say`` that also counts the round's lines."""
        def counted(text: str) -> None:
            self.lines += 1
            say(text)
        return counted

    def post(self, post: Post, outcome: Outcome) -> bool:
        """Whether ``outcome`` of ``post`` is news (not what the round before said of it); remembered either way."""
        seen = (post.change, outcome.status, outcome.state, outcome.publish_id, tuple(outcome.post_ids))
        self._now[post.id] = seen
        return self._before.get(post.id) != seen

    def notes(self, lines: list[str]) -> list[str]:
        """Of an import's warning and error ``lines``, those the import before did not have."""
        fresh = [line for line in lines if line not in self._notes]
        self._notes = frozenset(lines)
        return fresh

    def closing(self, line: str) -> bool:
        """Whether the round's closing ``line`` is said (it said something, or the line is new); ends the round."""
        self.news = self.lines > 0 or line != self._closing
        self._closing, self.lines = line, 0
        self._before, self._now = self._now, {}
        return self.news


@dataclass(frozen=True)
class Work:
    """A post a run looks at, with its entry as a checked request (None when the stored entry is not valid)."""

    post: Post
    request: PostRequest | None
    problem: str = ""


def plan_posts(items: Sequence[Work], *, now: float, options: RunOptions) -> tuple[list[Work], dict[int, Outcome]]:
    """Split the posts into those the publisher must work on and those settled here with no call to TikTok.
    Pure: the posts and ``now`` are given. The publisher checks every post again under its claim.

    The schedule holds for every attempt, retries included (:func:`~tiktok.posting.schedule.attempt_when`): a post
    not made within ``grace_s`` of its ``post_at`` is missed and waits for a person (Retry, ``--force``, a new
    time); only an attempt under way is carried on whatever the time."""
    work: list[Work] = []
    settled: dict[int, Outcome] = {}
    for item in items:
        post, record = item.post, item.post.record
        if options.only_ids is not None and post.id not in options.only_ids:
            continue
        if item.request is None:
            settled[post.id] = Outcome.of(post, None, BAD_INPUT, item.problem)
        elif record is not None and record.state in DELIVERED and not record.awaiting_public_id(now):
            settled[post.id] = _outcome(item, SKIPPED, done_detail(record))
        elif record is not None and record.needs_person and not options.retry_failed:
            settled[post.id] = _outcome(item, FAILED, failed_for_good_detail(record))
        elif record is not None and record.needs_force and not options.force:
            settled[post.id] = _outcome(item, FAILED, needs_force_detail(record))
        else:
            settle = _by_schedule(item, now, options)
            if settle is None:
                work.append(item)  # due, in flight, to retry, or a public post whose id is awaited
            else:
                settled[post.id] = settle
    return work, settled


def under_way(record: PostRecord | None) -> bool:
    """An attempt TikTok was already asked for (its init sent, its upload or status in flight), or a published post
    whose public id is awaited: carried on whatever its time says, never begun again."""
    return record is not None and (record.state in DELIVERED or record.state == State.PENDING_INIT
                                   or record.in_flight)


def hold_for_caps(work: list[Work], store: PostStore, now: float,
                  name: Callable[[str], str] = str) -> tuple[list[Work], dict[int, Outcome]]:
    """Leave waiting each post whose new attempt TikTok would refuse for one of an account's caps (its daily Direct
    Posts, its pending drafts: :mod:`tiktok.posting.budget`), with a *try later* outcome naming the cap and when
    room comes back; no call is made for it. Each account's posts are taken in queue order, each one that goes
    using its room. Posts under way (carried on, never begun again) go on. One read of the store for the run."""
    starting = [item for item in work if item.request is not None and not under_way(item.post.record)]
    if not starting:
        return work, {}
    left = budgets({item.post.user_id for item in starting}, store.started_since(now - WINDOW_S), now)
    go: list[Work] = []
    held: dict[int, Outcome] = {}
    for item in work:
        if item.request is None or under_way(item.post.record):
            go.append(item)
            continue
        uid, draft = item.post.user_id, item.request.draft
        why = left[uid].refusal(draft, name(uid))
        if why is None:
            left[uid] = left[uid].took(draft)
            go.append(item)
        else:
            held[item.post.id] = _outcome(item, TRY_LATER, why)
    return go, held


def _by_schedule(item: Work, now: float, options: RunOptions) -> Outcome | None:
    """None when an attempt at the post may start now; else its outcome (scheduled, or missed beyond the grace
    period). A first attempt and a run's own retry after a failure are alike; a person's Retry or ``--force`` posts
    it now."""
    post, record = item.post, item.post.record
    asked = options.force or (record is not None and record.retry_requested)
    due_at = post.due_at
    state = attempt_when(due_at, now, options.grace_s, under_way=under_way(record), asked=asked)
    if state == "scheduled":
        return _outcome(item, SCHEDULED, f"scheduled for {post.post_at} ({duration(due_at - now)} from now)")
    if state == "due":
        return None
    late = f"missed: it was due at {post.post_at}, {duration(now - due_at)} ago, more than the " \
           f"{duration(options.grace_s)} grace period"
    if record is None:
        return _outcome(item, FAILED, f"{late}, so it was not posted. Give it a new time, or run with --force to "
                                      "post it now")
    failed = f" (its last attempt failed: {record.error})" if record.error else ""
    return _outcome(item, FAILED, f"{late}, so it is not tried again by itself{failed}. Press Retry on the Posts "
                                  "page or run with --force to post it now, or give it a new time")


def run_queue(store: PostStore, settings: Settings, options: RunOptions = RunOptions(), *,
              manifest: Path | None = None, clock: Callable[[], float] = time.time,
              hooks: Hooks | None = None) -> RunReport:
    """Import ``manifest`` (when given), then post what is due in ``store``. Raises ManifestError, ConfigError,
    ResultsFileError or StoreError when the run cannot start at all (nothing was attempted); anything about one
    post is that post's outcome."""
    hooks = hooks or Hooks()
    said = hooks.said
    if said is not None:
        hooks = replace(hooks, say=said.counting(hooks.say))
    report = RunReport(emulated=settings.emulated)
    prefix = "[emulator] " if settings.emulated else ""
    name = AccountNames(settings)
    if manifest is not None:
        report.imported = import_manifest(store, manifest, allow_loopback=settings.emulated,
                                          tokens_key=settings.tokens_key, media=manifest_media(settings),
                                          verified=settings.media.verified_prefixes)
        report.problems, report.warnings = report.imported.problems, report.imported.warnings
        notes = import_notes(report.imported)
        for line in [*(notes if said is None else said.notes(notes)), *import_changes(report.imported, prefix)]:
            hooks.say(line)
    now = clock()
    posts = store.open_posts(now=now, retry_failed=options.retry_failed, user_id=options.user_id, scheduled=False)
    items = [work_for(post, settings) for post in posts]
    work, settled = plan_posts(items, now=now, options=options)
    work, held = hold_for_caps(work, store, now, name)
    settled.update(held)
    by_id = {post.id: post for post in posts}
    for post_id, outcome in sorted(settled.items()):
        if said is None or said.post(by_id[post_id], outcome):
            hooks.say(f"{prefix}post {post_id} for {name(outcome.user_id)}: {outcome_label(outcome.status)}: "
                      f"{outcome.detail}")
    report.next_due_at = store.next_due(now)
    report.scheduled = store.scheduled_count(now)
    if work:
        report.outcomes = _publish(work, settled, settings, options, store, hooks, clock)
    else:
        report.outcomes = [settled[item.post.id] for item in items if item.post.id in settled]
    report.following = store.following(clock())
    busy = [TRY_LATER] if any(o.state == CLAIMED_ELSEWHERE for o in report.outcomes) else []
    report.status = exit_status([*report.outcomes, *busy, *([BAD_INPUT] if report.problems else [])])
    return report


def _publish(work: list[Work], settled: dict[int, Outcome], settings: Settings, options: RunOptions,
             store: PostStore, hooks: Hooks, clock: Callable[[], float]) -> list[Outcome]:
    from tiktok.services import build_services  # requests and the API client: only once there is work

    tokens = build_services(settings).store
    limiter = hooks.limiter or shared_limiter(settings, POSTING_LIMITS)
    media = media_store_for(settings)  # opened when a post first needs it (video_media), shared by the threads

    def make_publisher() -> Publisher:
        own = build_services(settings, store=tokens)  # this worker's own HTTP session, the run's token store
        extra = {"runtime": hooks.runtime()} if hooks.runtime else {}
        return Publisher(tokens=tokens, oauth=own.oauth, posting=PostingClient(own.api),
                         upload_session=_upload_session(), posts=store, emulated=settings.emulated,
                         default_privacy=options.privacy, poll_timeout_s=options.poll_timeout_s,
                         poll_interval_s=options.poll_interval_s, chunk_size=options.chunk_size,
                         force=options.force, retry_failed=options.retry_failed, say=hooks.say,
                         progress=hooks.progress, limiter=limiter, media=media, media_doctor=hooks.media_doctor,
                         public_url=public_url(settings), app_mode=settings.tiktok.app_mode, **extra)

    done, fatal = post_accounts(work, make_publisher, options.jobs, hooks.say, settings.emulated, said=hooks.said,
                                name=AccountNames(settings, tokens))
    outcomes = {**settled, **done}
    order = sorted(outcomes)
    return [outcomes[post_id] for post_id in order] + [_fatal(f) for f in fatal]


def _fatal(status: str) -> Outcome:
    """An account whose queue stopped (its store or account broke): no post of its own, only the run's status."""
    return Outcome(post_id=0, user_id="", media="", status=status, detail="the run stopped this account's queue")


def work_for(post: Post, settings: Settings) -> Work:
    """The post with its stored entry checked as a manifest entry would be (a rule may have changed since)."""
    if post.entry is None:
        return Work(post, None, f"{post.label} is history from an earlier results file whose entry is gone; it "
                                "cannot be posted again (compose it anew)")
    request, problems = request_of(post.entry, source=post.label, allow_loopback=settings.emulated)
    if request is None:
        return Work(post, None, "; ".join(p.message for p in problems))
    return Work(post, request)


def import_lines(imported: ManifestImport, prefix: str = "") -> list[str]:
    """What an import says: the file's errors and warnings, then what changed in the store (nothing when the file
    is as the last import read it)."""
    return import_notes(imported) + import_changes(imported, prefix)


def import_notes(imported: ManifestImport) -> list[str]:
    """The file's warnings and errors (every import of a file says them again; a repeating run, only once)."""
    return [f"warning: {w}" for w in imported.warnings] + [f"error: {p}" for p in imported.problems]


def import_changes(imported: ManifestImport, prefix: str = "") -> list[str]:
    """What the import changed in the store."""
    lines: list[str] = []
    result = imported.result
    if result.unchanged:
        return lines
    where = imported.source
    for post in result.withdrawn:
        lines.append(f"{prefix}{post.label} withdrawn: it is no longer in {where} and had not started")
    if result.added:
        ids = ", ".join(str(p.id) for p in result.added)
        lines.append(f"{prefix}{where}: {count(len(result.added), 'new post')} queued ({'posts ' + ids})")
    if result.revived:
        lines.append(f"{prefix}{where}: queued again (back in the file): posts "
                     + ", ".join(str(p.id) for p in result.revived))
    if result.rescheduled:
        lines.append(f"{prefix}{where}: new post_at for posts " + ", ".join(str(p.id) for p in result.rescheduled))
    if result.migrated:
        lines.append(f"{prefix}{where}: {count(result.migrated, 'record')} moved in from an earlier version's "
                     "results file (left unchanged as a backup)")
    return lines


def _upload_session():
    from tiktok.posting.transfer import upload_session
    from tiktok.services import http_session
    return upload_session(http_session())  # its User-Agent names this process, as the API calls' does


def post_accounts(items: list[Work], make_publisher: Callable[[], Publisher], jobs: int | None,
                  say: Callable[[str], None], emulated: bool, *, said: Said | None = None,
                  name: Callable[[str], str] = str) -> tuple[dict[int, Outcome], list[str]]:
    """Publish ``items``: one queue per account (its posts in order), ``jobs`` accounts at once (None: one per
    account, at most DEFAULT_JOBS_BOUND; issue 27: TikTok's limits are per account, so accounts do not slow each
    other, and the shared limiter keeps each account's calls within them), one Publisher per worker thread; with
    more accounts than workers the accounts take turns, a post at a time.
    Returns the outcomes by post id and the outcome words of accounts that had to stop. With ``said`` (a repeating
    run), a look for a published post's public link is said only when its outcome is news."""
    by_account: dict[str, list[Work]] = {}
    for item in items:
        by_account.setdefault(item.post.user_id, []).append(item)
    prefix = "[emulator] " if emulated else ""
    workers = accounts_at_once(jobs, len(by_account))
    lock = threading.Lock()
    local = threading.local()
    done: dict[int, Outcome] = {}
    fatal: list[str] = []
    position = [0]

    def line(text: str) -> None:
        with lock:
            say(text)

    def one(item: Work) -> bool:
        """Publish one post in this worker's Publisher; False when its account's queue must stop."""
        if getattr(local, "publisher", None) is None:
            local.publisher = make_publisher()
        looking = said is not None and item.post.record is not None and item.post.record.state in DELIVERED
        with lock:
            position[0] += 1
            heading = f"{prefix}[{position[0]}/{len(items)}] {item.post.label} for {name(item.post.user_id)}: " \
                      f"{describe(item.request)}"
            if not looking:
                say(heading)
        try:
            outcome = local.publisher.publish(item.post, item.request)
        except TikTokError as exc:  # the store or the account broke: stop this account's queue
            line(f"error: {exc}")
            with lock:
                fatal.append(BAD_INPUT if isinstance(exc, StoreError) and not exc.transient else
                             TRY_LATER if exc.transient else FAILED)
            return False
        with lock:
            done[item.post.id] = outcome
        if looking and said is not None and not said.post(item.post, outcome):
            return True  # the same answer as the round before: still under review
        if looking:
            line(heading)
        line(outcome_text(outcome, prefix, tagged=workers > 1))
        return True

    def account(queue: list[Work]) -> None:
        for item in queue:
            if not one(item):
                return

    def turns() -> None:
        """More accounts than workers: an account's next post waits behind every other account's one (its posts
        still in order, one at a time), so no account waits for another's whole queue."""
        while True:
            with lock:
                if not ready:
                    return  # every account left is in a worker's hands, and that worker carries it on
                queue = ready.popleft()
            if one(queue[0]) and len(queue) > 1:
                with lock:
                    ready.append(queue[1:])

    queues = list(by_account.values())
    ready = deque(queues)
    if workers == 1:
        for queue in queues:
            account(queue)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="post") as pool:
            if workers >= len(queues):
                list(pool.map(account, queues))
            else:
                for future in [pool.submit(turns) for _ in range(workers)]:
                    future.result()
    return done, fatal


def accounts_at_once(jobs: int | None, accounts: int) -> int:
    """Worker threads for ``accounts`` accounts with posts to make: ``jobs`` (``--jobs``), or by default one per
    account, at most DEFAULT_JOBS_BOUND (issue 27); never more than the accounts, never fewer than one."""
    return max(1, min(DEFAULT_JOBS_BOUND if jobs is None else jobs, accounts))


class AccountNames:
    """How a run's lines name an account: its @name when the token store knows one (issue 24: @names instead of
    open_ids wherever the name is known), else its open_id. The accounts are read once, on the first line that
    names one (an idle round reads nothing); a token store that cannot be read names them by open_id."""

    def __init__(self, settings: Settings, tokens=None) -> None:
        self._settings, self._tokens = settings, tokens
        self._names: dict[str, str] | None = None

    def __call__(self, open_id: str) -> str:
        if self._names is None:
            try:
                tokens = self._tokens if self._tokens is not None else open_token_store(self._settings)
                accounts = tokens.load()
            except TikTokError:
                accounts = {}
            self._names = {a.open_id: f"@{a.username}" for a in accounts.values() if a.username}
        return self._names.get(open_id, open_id)


def outcome_text(outcome: Outcome, prefix: str = "", *, tagged: bool = False) -> str:
    """One line for one post's outcome; ``tagged`` names the post (lines of parallel workers interleave)."""
    return (f"{prefix}  {outcome_label(outcome.status)}: {outcome.detail}"
            + (f" [publish_id {outcome.publish_id}]" if outcome.publish_id else "")
            + (f" (log_id {outcome.log_id})" if outcome.log_id and outcome.log_id not in outcome.detail else "")
            + (f" [{outcome.label}]" if tagged else ""))


def _outcome(item: Work, status: str, detail: str) -> Outcome:
    return Outcome.of(item.post, item.request, status, detail, record=item.post.record)


def describe(entry: PostRequest) -> str:
    """What a post sends, for its run line: ``video /media/clip.mp4, at 2026-12-03T09:00:00+01:00``."""
    kind = "draft " if entry.draft else ""
    if entry.media_type == "PHOTO":
        what = f"{kind}photo post of {count(entry.photo_count, 'image')}"
    elif entry.video_url:
        what = f"{kind}video pulled from {entry.video_url}"
    else:
        what = f"{kind}video {entry.video_path or entry.video_media}"
    return what + (f", at {entry.post_at}" if entry.post_at else "")


def summary(report: RunReport) -> str:
    """The run's last line: how many posts ended how, what comes next."""
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome_label(outcome.status)] = counts.get(outcome_label(outcome.status), 0) + 1
    if report.problems:
        counts[f"{outcome_label(BAD_INPUT)} (invalid manifest entries)"] = len(report.problems)
    parts = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing to do"
    if report.next_due_at is not None:
        parts += f"; {report.scheduled} scheduled, the next at {moment(report.next_due_at)}"
    if report.following:
        parts += f"; {report.following} posted under review (later runs look for the public link)"
    tail = " (EMULATED: nothing was sent to TikTok)" if report.emulated else ""
    return f"summary: {parts}{tail}"


