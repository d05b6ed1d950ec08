"""What is known of one post: where it stands (:class:`State`), where its attempt stands at TikTok
(:class:`PostRecord`), who is posting it (:class:`Claim`), and the key that makes two entries the same post
(:func:`entry_key`). Pure values; the store keeps them, and the posting engine writes them (the store never imports
the engine, so they live here).

A record with a publish_id that is not terminal is in flight: it is resumed, never initialised again. A post
TikTok failed for good waits for a person (the Posts page's Retry, or ``--retry-failed``); rate limits, outages,
relinks and local problems are retried by the next run on their own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from tiktok.text import moment


class State(StrEnum):
    """Where a post stands (``Post.state``; a record's ``PostRecord.state`` is one of :data:`RECORD_STATES`).

    The values are what databases already hold: they never change. Members are strings, so a value read back from a
    store compares equal to its member."""

    QUEUED = "queued"              # not started: no attempt yet
    PENDING_INIT = "pending_init"  # an init call was sent and its answer not recorded: may or may not exist at TikTok
    UPLOADING = "uploading"        # FILE_UPLOAD in progress; next_chunk says where to go on
    PROCESSING = "processing"      # TikTok has the media; poll status
    POSTED = "posted"              # PUBLISH_COMPLETE
    IN_INBOX = "inbox"             # SEND_TO_USER_INBOX (drafts)
    FAILED = "failed"              # the attempt failed; see ``outcome`` for whether a run retries it by itself
    CANCELLED = "cancelled"        # a person cancelled it (the Posts page, the CLI): no run posts it
    WITHDRAWN = "withdrawn"        # gone from its manifest before it started: no run posts it


RECORD_STATES = frozenset(State) - {State.QUEUED, State.CANCELLED, State.WITHDRAWN}  # an attempt's states
DELIVERED = frozenset({State.POSTED, State.IN_INBOX})  # TikTok has it: posted, or in the creator's inbox
IN_FLIGHT = frozenset({State.UPLOADING, State.PROCESSING})
PUBLIC = "PUBLIC_TO_EVERYONE"  # the one privacy level whose posts get a public id (after moderation)
PUBLIC_ID_FOLLOW_S = 24 * 3600  # later runs look for a posted public entry's id this long after it was published


@dataclass(frozen=True)
class PostRecord:
    """Every step of a post's attempt, saved before the next step starts (one row update per step or chunk)."""

    key: str  # the post's key (entry_key); sealed upload URLs are bound to it
    user_id: str
    state: State  # one of RECORD_STATES (a stored string is read back as its member)
    publish_id: str | None = None
    upload_url: str | None = field(default=None, repr=False)
    upload_url_expires_at: float | None = None
    next_chunk: int = 0
    plan: dict[str, int] | None = None
    status: str | None = None
    fail_reason: str | None = None
    post_ids: tuple[int, ...] = ()
    error: str | None = None
    log_id: str | None = None
    emulated: bool = False
    updated_at: float = 0.0
    privacy: str | None = None  # the privacy level the init sent (None for an inbox draft)
    username: str | None = None  # creator_info's creator_username at init: the post's link needs it
    published_at: float | None = None  # when a run saw PUBLISH_COMPLETE
    outcome: str | None = None  # the last attempt's outcome (tiktok.exitcodes); "failed" waits for a retry
    retry_requested: bool = False  # a person asked for another attempt (the Posts page's Retry)
    force_needed: bool = False  # it may already be on TikTok: only --force (or Retry) sends it again
    host: str | None = None  # the machine whose run wrote this record last (the one that met its failure)
    pid: int | None = None  # and that run's process id (None in records written before these were kept)
    publication: str | None = None  # the token of the media published for TikTok to pull (photo_media), until withdrawn

    def __post_init__(self) -> None:
        if self.state not in RECORD_STATES:  # ValueError, as from_json promises for what is not a record
            raise ValueError(f"{self.state!r} is not the state of an attempt ({', '.join(sorted(RECORD_STATES))})")
        object.__setattr__(self, "state", State(self.state))

    @property
    def in_flight(self) -> bool:
        return self.publish_id is not None and self.state in IN_FLIGHT

    @property
    def bytes_sent(self) -> int:
        """Bytes TikTok holds of a FILE_UPLOAD (whole chunks acknowledged), 0 for other sources."""
        plan = self.plan or {}
        total = plan.get("video_size", 0)
        if self.state in (State.PROCESSING, *DELIVERED):
            return total
        return min(total, self.next_chunk * plan.get("chunk_size", 0))

    @property
    def follow_until(self) -> float | None:
        """Until when later runs look for a published public post's id (None: nothing to look for)."""
        if self.state != State.POSTED or self.post_ids or self.privacy != PUBLIC:
            return None
        since = self.published_at if self.published_at is not None else self.updated_at
        return since + PUBLIC_ID_FOLLOW_S

    def awaiting_public_id(self, now: float) -> bool:
        """A public post TikTok published but whose id it has not released yet (moderation), still followed."""
        until = self.follow_until
        return until is not None and now < until

    @property
    def needs_person(self) -> bool:
        """A failure a re-run will not fix by itself (TikTok refused for good): only a retry request, or
        ``--retry-failed``, starts it again. Rate limits, outages, relinks and local problems retry on their own."""
        return self.state == State.FAILED and self.outcome == "failed" and not self.retry_requested \
            and not self.force_needed

    @property
    def needs_force(self) -> bool:
        """It may already be on TikTok (an init whose answer a stopped run never learned, or the caption found on
        the account while the store had no record of it), so no run sends it by itself: every run reports it
        until ``--force``, Retry or Cancel."""
        stuck = self.state == State.PENDING_INIT and self.outcome is not None
        return (stuck or (self.state == State.FAILED and self.force_needed)) and not self.retry_requested

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values (what the store keeps); :meth:`from_json` reads it back."""
        data = asdict(self)
        data["state"] = self.state.value
        data["post_ids"] = list(self.post_ids)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PostRecord":
        """A record as stored; fields this version does not know (``index`` of results files) are left out.
        TypeError or ValueError when it is not a record."""
        known = {f.name for f in fields(cls)}
        value = {name: item for name, item in data.items() if name in known}
        value["post_ids"] = tuple(int(i) for i in value.get("post_ids") or ())
        return cls(**value)


@dataclass(frozen=True)
class Claim:
    """Which run is posting a post: its process id, host name and when it claimed it (epoch seconds, shown to
    people only: whether a claim is live never depends on a clock)."""

    pid: int
    host: str
    started_at: float

    def describe(self) -> str:
        """``pid 4242 on cron-box, since 2026-12-03 09:00:15 UTC``: who holds the claim, for people."""
        return f"pid {self.pid} on {self.host}, since {moment(self.started_at, seconds=True)}"


def entry_key(entry: dict[str, Any]) -> str:
    """A stable identity for what is posted: the entry's own fields (a manifest entry as JSON, defaults left out:
    ``PostRequest.to_entry()``), not where it sits or when it posts.

    ``post_at`` is left out: rescheduling an entry keeps its identity and its record, so an entry moved to another
    time after (or while) it was posted can never be posted a second time. ``video_path`` counts as given: the
    importer passes a manifest's relative paths as written (normalised), so a moved folder keeps every key."""
    data = {name: value for name, value in entry.items() if name != "post_at"}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]

