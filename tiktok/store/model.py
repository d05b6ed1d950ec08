"""The post store's values and rules: a post (:class:`Post`), where it stands (:func:`lifecycle`), what an import
and a claim give back, and the :class:`PostStore` interface both stores implement. Pure: no database, no choice of
store (that is :mod:`tiktok.store.base`'s, which re-exports these names), so the stores import this, never base.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import urlsplit

from tiktok.store.records import DELIVERED, IN_FLIGHT, Claim, PostRecord, State

ENDED = frozenset({State.CANCELLED, State.WITHDRAWN})  # no run ever posts these again (their record stays)
EDITABLE = frozenset({State.QUEUED, State.FAILED})  # a person may edit, reschedule or cancel a post in these states
BOARD_GROUPS = ("failed", "in_progress", "upcoming", "done")  # the Posts page's groups, in page order
HIDDEN = "hidden"
MAX_MEDIA_NAME = 255  # characters of a file name kept in post_media (most file systems' limit)


@dataclass(frozen=True)
class Lifecycle:
    """The columns derived from a post's record (pure: :func:`lifecycle`)."""

    state: State
    board: str
    open: bool
    follow_until: float | None


def lifecycle(record: PostRecord | None, ended: str | None = None, *, history: bool = False) -> Lifecycle:
    """Where a post stands, from its record and whether a person or an import ended it.

    ``open``: a run has something to do (not started, in flight, or failed in a way a run retries by itself).
    ``board``: its Posts-page group; a missed schedule is decided when the page is read (it depends on now).
    ``history``: a record whose entry is gone (an earlier version's): no run ever looks at it again, and the page
    shows it only when it was posted."""
    follow = record.follow_until if record is not None else None
    if ended is not None:
        return Lifecycle(ended, HIDDEN, False, None)
    if history:
        state = record.state if record is not None else State.QUEUED
        return Lifecycle(state, "done" if state in DELIVERED else HIDDEN, False, None)
    if record is None:
        return Lifecycle(State.QUEUED, "upcoming", True, None)
    if record.state in DELIVERED:
        return Lifecycle(record.state, "done", False, follow)
    if record.retry_requested:
        return Lifecycle(record.state, "upcoming", True, None)
    if record.needs_force:  # every run reports it until --force, Retry or Cancel
        return Lifecycle(record.state, "failed", True, None)
    if record.state == State.PENDING_INIT:
        return Lifecycle(record.state, "in_progress", True, None)
    if record.state in IN_FLIGHT:
        return Lifecycle(record.state, "in_progress", True, None)
    return Lifecycle(State.FAILED, "failed", not record.needs_person, None)


@dataclass(frozen=True)
class Post:
    """One post as the store holds it. ``entry`` is a manifest entry as JSON (``None`` for history kept from an
    old results file whose entry is gone); ``record`` is None until a run starts it."""

    id: int
    key: str
    user_id: str
    entry: dict[str, Any] | None
    origin: str  # app (the composer), manifest (an import) or earlier (a results file's record whose entry is gone)
    state: State
    board: str
    revision: int
    change: int
    created_at: float
    updated_at: float
    record: PostRecord | None = None
    source: str | None = None
    source_index: int | None = None
    media_name: str | None = None
    source_post_at: str | None = None  # post_at as its manifest last said it
    due_at: float | None = None
    check_caption: bool = False
    open: bool = True

    @property
    def label(self) -> str:
        """``post 17``: how lines and pages name it."""
        return f"post {self.id}"

    @property
    def post_at(self) -> str | None:
        return (self.entry or {}).get("post_at")

    @property
    def started(self) -> bool:
        return self.record is not None


@dataclass(frozen=True)
class ClaimResult:
    """``holder``: the live claim of another run (nothing is ours); ``taken_over``: a stopped run's claim replaced."""

    holder: Claim | None = None
    taken_over: Claim | None = None


@dataclass
class ImportResult:
    """What a manifest import changed, in the store's words (the importer adds the file's problems)."""

    added: list[Post] = field(default_factory=list)
    withdrawn: list[Post] = field(default_factory=list)
    revived: list[Post] = field(default_factory=list)
    rescheduled: list[Post] = field(default_factory=list)
    kept: int = 0
    migrated: int = 0  # records moved in from an earlier results file
    unchanged: bool = False  # the manifest is byte for byte what the last import read


@dataclass(frozen=True)
class ImportEntry:
    """One valid manifest entry for :meth:`PostStore.import_manifest`."""

    key: str
    user_id: str
    entry: dict[str, Any]  # as stored: video_path absolute
    index: int
    due_at: float | None
    record: PostRecord | None = None  # from an earlier results file


@dataclass(frozen=True)
class Started:
    """An attempt TikTok took (its init answered with a publish_id) or may have taken (init sent, no answer), as
    TikTok's per-account caps count it (:mod:`tiktok.posting.budget`): whose, which kind, and when (published, or
    else last changed: never before it started)."""

    user_id: str
    draft: bool  # an inbox draft (no privacy sent); else a Direct Post
    at: float


class PostStore(Protocol):
    """Posts, their history and claims (see the module docstring). Errors: :class:`~tiktok.errors.StoreError`
    (exit 2, or 4 when ``transient``); a change refused as asked: :class:`~tiktok.errors.ChangeRefused`."""

    where: str  # how messages name it: the file, or the database without its password

    # posts
    def add(self, entry: dict[str, Any], *, key: str, due_at: float | None, media_name: str | None = None,
            origin: str = "app") -> Post: ...
    def get(self, post_id: int) -> Post | None: ...
    def find(self, key: str) -> Post | None: ...
    def known_post_keys(self, keys: Iterable[str]) -> set[str]: ...
    def open_posts(self, *, now: float, retry_failed: bool = False, user_id: str | None = None,
                   scheduled: bool = True) -> list[Post]: ...
    def edit(self, post_id: int, entry: dict[str, Any], *, due_at: float | None, revision: int) -> Post: ...
    def cancel(self, post_id: int, *, revision: int | None = None) -> Post: ...
    def still_queued(self, post_id: int, revision: int) -> bool: ...
    def import_manifest(self, source: str, digest: str, entries: list[ImportEntry], *, orphans: list[PostRecord],
                        legacy: str | None, problems: list[str]) -> ImportResult: ...
    def last_import(self, source: str) -> dict[str, Any] | None: ...
    def count(self) -> int: ...

    # records
    def start(self, post_id: int, revision: int, record: PostRecord) -> PostRecord | None: ...
    def save(self, post_id: int, record: PostRecord) -> PostRecord: ...
    def request_retry(self, post_id: int) -> bool: ...

    # claims: ``claim`` before anything else, ``check_claim`` right before a call that could create the post
    # (ClaimLost when the claim ended meanwhile), ``release`` whatever happens; ``start`` and ``save`` of a claimed
    # post refuse (ClaimLost) once its claim is no longer this run's
    def claim(self, post: Post) -> ClaimResult: ...
    def check_claim(self, post: Post) -> None: ...
    def release(self, post: Post) -> None: ...
    def live_claims(self, posts: Iterable[Post]) -> set[int]: ...

    # the Posts page
    def board_page(self, group: str, *, missed_before: float, offset: int, limit: int) -> list[Post]: ...
    def board_counts(self, *, missed_before: float) -> dict[str, int]: ...
    def changed_since(self, change: int, *, limit: int) -> list[Post]: ...
    def latest_change(self) -> int: ...
    def next_due(self, now: float) -> float | None: ...
    def scheduled_count(self, now: float) -> int: ...
    def started_since(self, since: float, *, user_id: str | None = None) -> list[Started]: ...  # TikTok's caps

    # the media library (tiktok.store.media: MediaFile, MediaUse, Removal)
    def add_media(self, media: Any, *, fill: bool = False) -> bool: ...
    def media_file(self, name: str) -> Any: ...
    def media_files(self, *, offset: int, limit: int) -> list[Any]: ...
    def media_totals(self) -> tuple[int, int]: ...
    def media_known(self, names: Iterable[str]) -> set[str]: ...
    def media_uses(self, names: Iterable[str]) -> dict[str, list[Any]]: ...
    def unused_media(self, before: float, *, limit: int = 100) -> list[str]: ...
    def remove_media(self, name: str, *, before: float | None = None) -> Any: ...
    def removed_media(self, *, limit: int = 500) -> list[Any]: ...
    def forget_media(self, names: Iterable[str]) -> int: ...

    # the store itself: its clock, its busy state and how far runs have followed it (tiktok.store.sql)
    clock: Callable[[], float]
    def moving(self) -> bool: ...
    def following(self, now: float) -> int: ...

    # small named facts (tiktok.store.status): the app mode TikTok's answers showed, rate-limit counts
    def detected_app_mode(self) -> dict[str, Any] | None: ...
    def record_app_mode(self, mode: str, code: str) -> bool: ...
    def count_rate_limited(self, n: int = 1) -> None: ...

    # events and their deliveries (tiktok.store.events: Event, ChannelTrouble)
    def published_since(self, user_id: str, since: float, *, scan: int = ...) -> list[Any]: ...
    def posting_users_since(self, since: float, *, scan: int = ...) -> set[str]: ...
    def delivery_counts(self, channels: Iterable[str] | None = None) -> dict[str, int]: ...
    def delivery_trouble(self, channel: str, *, since: float, scan: int = ...) -> Any: ...

    # people (tiktok.store.people: Person)
    def people(self) -> list[Any]: ...
    def person(self, open_id: str) -> Any: ...
    def allowed_count(self) -> int: ...
    def sign_in_person(self, open_id: str, name: str, avatar: str, *, may_own: bool) -> Any: ...
    def remove_person(self, open_id: str) -> bool: ...
    def open_person_session(self, open_id: str, *, lifetime_s: float) -> str: ...
    def session_person(self, session_id: object) -> Any: ...

    # the planner (tiktok.store.planner): posting slots and the calendar feed
    def account_slots(self, user_id: str) -> dict[str, str] | None: ...
    def set_account_slots(self, user_id: str, slots: str | None, zone: str = "") -> None: ...
    def scheduled_posts(self) -> list[Post]: ...
    def feed_token_digest(self) -> str | None: ...

    def close(self) -> None: ...


def media_names(entry: dict[str, Any] | None) -> list[str]:
    """The file names an entry's media are known by, in order and once each: the last part of ``video_path``, the
    media store keys ``video_media`` and ``photo_media``, and the last part of the path of ``video_url`` and of each
    of ``photo_urls`` (a library file keeps its name wherever it is published). The media library finds a file's
    posts by these (``post_media``); a name no library file has is harmless there."""
    if not entry:
        return []
    found: list[str] = []
    paths = [entry.get("video_path"), entry.get("video_media"), *(entry.get("photo_media") or ())]
    urls = [entry.get("video_url"), *(entry.get("photo_urls") or ())]
    for url in urls:
        try:
            paths.append(urlsplit(url).path if isinstance(url, str) else None)
        except ValueError:  # not a URL at all: no file name
            continue
    for path in paths:
        if isinstance(path, str):
            name = path.replace("\\", "/").rsplit("/", 1)[-1][:MAX_MEDIA_NAME]
            if name and name not in found:
                found.append(name)
    return found


def dumps(value: Any) -> str:
    """JSON as the store keeps it: compact, keys sorted (equal values are equal text), non-ASCII as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
