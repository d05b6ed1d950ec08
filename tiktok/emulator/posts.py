"""The emulator's post record and per-creator posting settings (the shared post-record contract).

``EmulatorState.posts`` maps publish_id -> ``Post``; read and write it only under ``state.lock``. A ``Post`` holds
public facts only: never an upload token. ``PostingBook`` keeps what the caps need (direct posts and active users
per 24 h) and the upload sessions, keyed by upload_id, whose token is kept as a sha256 fingerprint.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

PROCESSING_UPLOAD = "PROCESSING_UPLOAD"
PROCESSING_DOWNLOAD = "PROCESSING_DOWNLOAD"
SEND_TO_USER_INBOX = "SEND_TO_USER_INBOX"
PUBLISH_COMPLETE = "PUBLISH_COMPLETE"
FAILED = "FAILED"
TERMINAL_STATUSES = (SEND_TO_USER_INBOX, PUBLISH_COMPLETE, FAILED)

DAY_S = 86_400  # caps are "per 24 h" windows (reference section 7)
DEFAULT_MAX_VIDEO_POST_DURATION_S = 600  # API maximum of 10 minutes (reference section 5)


@dataclass(frozen=True)
class PostingSettings:
    """One creator's posting settings as creator_info reports them, plus the emulator's per-user switches."""

    max_video_post_duration_sec: int = DEFAULT_MAX_VIDEO_POST_DURATION_S
    comment_disabled: bool = False
    duet_disabled: bool = False     # a private account forces this on regardless
    stitch_disabled: bool = False   # a private account forces this on regardless
    banned_from_posting: bool = False
    daily_post_cap: int | None = None  # None: the config's ``daily_post_cap``


@dataclass
class Post:
    """One publish task (fields per the post-record contract; the last three are the emulator's own)."""

    publish_id: str
    open_id: str
    kind: str                      # "video" | "photo"
    mode: str                      # "direct" | "inbox"
    source: str                    # "FILE_UPLOAD" | "PULL_FROM_URL"
    status: str
    created_at: float
    fail_reason: str | None = None
    post_info: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, int] | None = None
    bytes_received: int = 0
    sha256: str | None = None
    media_path: str | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    completed_at: float | None = None
    post_ids: list[int] = field(default_factory=list)
    # emulator bookkeeping
    transfer_done: bool = False    # every byte arrived (upload 201 or download finished)
    outcome: tuple[str, str | None] | None = None  # terminal (status, fail_reason) decided when the media arrived
    polls_left: int = 0            # status fetches still answered "processing" after the transfer finished
    forced_fail_reason: str | None = None
    partial_chunks_discarded: int = 0  # PUTs whose body ended early (client dropped)
    pending_post_id: int | None = None  # a public post's id while moderation holds it back (moderation.py)
    public_at: float | None = None     # when that id is published; None with a pending id: withheld for good
    stuck: bool = False  # the "stuck forever" fault: stays PROCESSING_* with no fail_reason (processing.py)

    @property
    def privacy_level(self) -> str | None:
        return self.post_info.get("privacy_level")

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def moderation(self) -> str | None:
        """``under_review``, ``withheld`` or ``public`` for a public post (moderation.py); None otherwise."""
        if self.post_ids:
            return "public"
        if self.pending_post_id is None:
            return None
        return "withheld" if self.public_at is None else "under_review"

    def release_if_due(self, now: float) -> bool:
        """Publish the pending id when its review is over; True when it was published now."""
        if self.pending_post_id is None or self.public_at is None or now < self.public_at:
            return False
        self.post_ids, self.pending_post_id = [self.pending_post_id], None
        return True

    def public(self) -> dict[str, Any]:
        """What ``/_emulator/state`` shows (no tokens exist on a Post)."""
        return {
            "publish_id": self.publish_id, "open_id": self.open_id, "kind": self.kind, "mode": self.mode,
            "source": self.source, "status": self.status, "fail_reason": self.fail_reason,
            "privacy_level": self.privacy_level, "post_info": dict(self.post_info),
            "plan": dict(self.plan) if self.plan else None, "bytes_received": self.bytes_received,
            "sha256": self.sha256, "media_path": self.media_path, "duration_s": self.duration_s,
            "width": self.width, "height": self.height, "created_at": self.created_at,
            "completed_at": self.completed_at, "post_ids": list(self.post_ids),
            "transfer_done": self.transfer_done, "processing_polls_left": self.polls_left,
            "partial_chunks_discarded": self.partial_chunks_discarded,
            "moderation": self.moderation, "public_at": self.public_at, "stuck": self.stuck,
        }


@dataclass
class UploadSession:
    """A FILE_UPLOAD's upload URL: its token fingerprint, deadline and the running hash of accepted chunks."""

    upload_id: str
    publish_id: str
    token_sha256: str
    expires_at: float
    media_path: str
    hasher: Any = field(default_factory=hashlib.sha256, repr=False)
    put_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # chunks are sequential


@dataclass
class PostingBook:
    """Cap bookkeeping and upload sessions; guarded by ``state.lock`` (except ``put_lock`` inside sessions)."""

    uploads: dict[str, UploadSession] = field(default_factory=dict)
    direct_posts: list[tuple[str, float]] = field(default_factory=list)    # (open_id, init time)
    active_users: dict[str, float] = field(default_factory=dict)          # open_id -> first direct post in window
    forced_fail_reasons: list[str] = field(default_factory=list)         # applied to the next posts, in order
    stuck_next: int = 0  # how many of the next posts get stuck forever (processing.py)
    cancel_events: dict[str, threading.Event] = field(default_factory=dict)
    under_review: set[str] = field(default_factory=set)  # publish_ids whose post id is published later
    next_id: int = 0

    def direct_posts_today(self, open_id: str, now: float) -> int:
        return sum(1 for who, when in self.direct_posts if who == open_id and when > now - DAY_S)

    def active_users_today(self, now: float) -> set[str]:
        return {who for who, first in self.active_users.items() if first > now - DAY_S}

    def record_direct_post(self, open_id: str, now: float) -> None:
        self.direct_posts.append((open_id, now))
        if open_id not in self.active_users_today(now):
            self.active_users[open_id] = now

    def serial(self) -> int:
        self.next_id += 1
        return self.next_id


def pending_shares(posts: dict[str, Post], open_id: str, now: float) -> int:
    """Inbox posts of ``open_id`` from the last 24 h the user has not posted yet (and that did not fail)."""
    return sum(1 for p in posts.values()
               if p.open_id == open_id and p.mode == "inbox" and p.created_at > now - DAY_S
               and p.status not in (PUBLISH_COMPLETE, FAILED))
