"""The Posts page as data: posts of the store as cards in four groups, each group one page at a time.

Pure (no Flask, no store, no clock): :func:`post_card` takes a post, its entry as a request, the connected
accounts and ``now``, so every state a card can show is tested with hand-made values; :func:`build_board` lays out
the pages the store gave.

A card's state comes from its record first (a post in flight or done is that, whatever its ``post_at``), then, for
a post not started, from its schedule (due, scheduled, or missed beyond the grace period). A failed card says why in
plain words (:mod:`tiktok.posting.failures`), with TikTok's code, message and log_id in its details and the machine
whose run met the failure. Links go to tiktok.com only for real posts; an emulated post links to the emulator's
own share page and says "emulator", so nothing on the page suggests it reached TikTok. Times are given as instants
(``When``); the page shows them in the browser's zone, with the zone named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Mapping

from tiktok.auth.tokens import Account
from tiktok.posting.caption import CaptionTooLong, build_caption
from tiktok.posting.failures import failure_of
from tiktok.posting.manifest import PostRequest
from tiktok.posting.publisher import media_label
from tiktok.posting.schedule import when
from tiktok.store.base import BOARD_GROUPS, Post
from tiktok.store.model import media_names
from tiktok.store.records import PUBLIC, PostRecord, State
from tiktok.text import duration, moment, relative, size, utc_iso

TIKTOK_WEB = "https://www.tiktok.com"

# Card states, in the words the page shows.
LABELS = {
    "scheduled": "Scheduled",
    "due": "Due",
    "missed": "Missed",
    "uploading": "Uploading",
    "processing": "Processing",
    "posted": "Posted",
    "inbox": "In inbox",
    "under_review": "Under review",
    "failed": "Failed",
    "relink": "Needs relink",
    "invalid": "Invalid entry",
}
GROUP_OF = {"scheduled": "upcoming", "due": "upcoming", "uploading": "in_progress", "processing": "in_progress",
            "posted": "done", "inbox": "done", "under_review": "done", "failed": "failed", "relink": "failed",
            "missed": "failed", "invalid": "failed"}
TITLES = {"failed": "Needs attention", "in_progress": "In progress", "upcoming": "Upcoming", "done": "Done"}
GROUPS = tuple((name, TITLES[name]) for name in BOARD_GROUPS)  # failed and needs-attention first
PAGE_SIZE = 20  # cards per group and page
# States that change by themselves while a runner works: the page polls while one is shown.
MOVING = frozenset({"due", "uploading", "processing", "under_review"})
NOT_STARTED = frozenset({"scheduled", "due", "missed"})
NEWEST_FIRST = frozenset({"failed", "done"})  # groups shown newest first
UPCOMING = frozenset({"scheduled", "due"})  # cards warned when their account must relink or their media is gone
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{32}-(?=.)")  # an upload's random prefix (tiktok.posting.composition.media_name)


@dataclass(frozen=True)
class Who:
    """The account an entry posts as; ``connected`` is False when the token store has no such account."""

    open_id: str
    username: str = ""
    display_name: str = ""
    avatar_url: str = ""
    connected: bool = True

    @property
    def handle(self) -> str:
        return f"@{self.username}" if self.username else self.open_id

    @property
    def name(self) -> str:
        """How a sentence names the account: ``@username``, else its display name (never the open_id)."""
        return f"@{self.username}" if self.username else (self.display_name or "the account")


@dataclass(frozen=True)
class When:
    """A post's time: ``iso`` (UTC, for the page's script, which shows it in the browser's zone with the zone
    named), ``fallback`` (the server's zone, named, for a page without script) and ``relative`` to now."""

    iso: str
    fallback: str
    relative: str
    due_at: float


@dataclass(frozen=True)
class Link:
    """Where a posted card links: the post on tiktok.com, or on the emulator's own share page."""

    url: str
    emulated: bool

    @property
    def text(self) -> str:
        return "View on the emulator" if self.emulated else "View on TikTok"


@dataclass(frozen=True)
class Card:
    """One post as the Posts page shows it (see :func:`post_card`)."""

    id: int  # the post's stable id (0 for nothing)
    revision: int
    state: str
    label: str
    detail: str = ""
    who: Who | None = None
    caption: str = ""
    media: str = ""
    media_file: str = ""  # the name of the file its entry names (the media library shows its thumbnail)
    kind: str = ""  # video, photo or draft
    schedule: When | None = None
    link: Link | None = None
    log_id: str | None = None
    actions: tuple[str, ...] = ()  # retry, edit, reschedule, cancel
    emulated: bool = False
    progress: tuple[int, int] | None = None  # (bytes sent, total) while uploading
    origin: str = ""  # app, manifest or earlier
    updated_at: float = 0.0
    details: str = ""  # a failure's details: what TikTok said (its code, message, log_id); ``detail`` is plain words
    host: str = ""  # the machine whose run met the failure
    relink: bool = False  # a post still to come whose account must be linked again before it can post
    missing: tuple[str, ...] = ()  # a post still to come: its media files that are no longer there

    @property
    def group(self) -> str:
        return GROUP_OF[self.state]

    @property
    def moving(self) -> bool:
        return self.state in MOVING

    @property
    def sort_key(self) -> float:
        """Where the card sits in its group (the page's script keeps the same order): upcoming by time, in
        progress by id, failed and done newest first."""
        if self.group == "upcoming":
            return self.schedule.due_at if self.schedule else 0.0
        if self.group == "in_progress":
            return float(self.id)
        return -self.updated_at

    def to_json(self) -> dict:
        return {"id": self.id, "state": self.state, "label": self.label, "detail": self.detail,
                "group": self.group, "link": self.link.url if self.link else None, "emulated": self.emulated,
                "actions": list(self.actions), "progress": list(self.progress) if self.progress else None,
                "revision": self.revision}


@dataclass(frozen=True)
class Group:
    """One of the page's four groups: this page of its cards and how many it holds in all."""

    name: str
    title: str
    cards: tuple[Card, ...]
    total: int = 0  # cards in the whole group (this page shows ``cards``)
    page: int = 1

    @property
    def more(self) -> bool:
        return self.page * PAGE_SIZE < self.total

    @property
    def remaining(self) -> int:
        """Cards after this page."""
        return max(0, self.total - self.page * PAGE_SIZE)


@dataclass(frozen=True)
class Board:
    """The whole page: its groups in page order, the manifest's problems and whether anything is moving."""

    groups: tuple[Group, ...]
    problems: tuple[str, ...] = ()  # the manifest's last import: entries it could not take
    emulated: bool = False
    change: int = 0  # the store's change number when it was read (the page asks for what changed since)
    next_due_at: float | None = None  # the earliest time a scheduled post comes due (the page looks again then)
    cards: tuple[Card, ...] = field(default=(), repr=False)
    busy: bool = False  # the store has a post moving, shown on this page or not

    @property
    def moving(self) -> bool:
        return self.busy or any(card.moving for card in self.cards)

    @property
    def empty(self) -> bool:
        return not any(group.total for group in self.groups)

    def card(self, post_id: int) -> Card | None:
        return next((card for card in self.cards if card.id == post_id), None)


def build_board(pages: Mapping[str, list[Card]], totals: Mapping[str, int], *, page: int = 1,
                problems: tuple[str, ...] = (), emulated: bool, change: int, next_due_at: float | None,
                busy: bool = False) -> Board:
    """The groups in page order (needs attention first), each with its page of cards and its total."""
    groups = tuple(Group(name, title, tuple(sorted(pages.get(name, ()), key=order)), totals.get(name, 0), page)
                   for name, title in GROUPS)
    cards = tuple(card for group in groups for card in group.cards)
    return Board(groups=groups, problems=problems, emulated=emulated, change=change, next_due_at=next_due_at,
                 cards=cards, busy=busy)


def order(card: Card) -> tuple[float, int]:
    """A card's place in its group, as the store pages it: newest first (the later id first among equals) in
    needs attention and done, by time (then id) in upcoming, by id in progress."""
    return card.sort_key, (-card.id if card.group in NEWEST_FIRST else card.id)


def must_relink(account: Account, now: float) -> bool:
    """Whether the account must be linked again before anything posts as it: TikTok refused its refresh token, or
    the refresh token ran out (then no refresh can help either)."""
    return bool(account.relink_reason) or account.refresh_expires_at <= now


def account_name(account: Account) -> str:
    """How pages name an account: ``@username``, else its display name (never the open_id)."""
    return f"@{account.username}" if account.username else (account.display_name or "an account without a name")


def post_card(post: Post, entry: PostRequest | None, accounts: Mapping[str, Account], *, now: float,
              grace_s: float, emulated: bool, emulator_base: str, problem: str = "",
              tz: tzinfo | None = None, missing: tuple[str, ...] = ()) -> Card:
    """The card for one post (``entry``: its stored entry as a checked request; None when it is not valid).
    A post still to come is warned when its account must relink (:func:`must_relink`) or when ``missing`` names
    media files that are gone (the caller looks at the disk)."""
    record = post.record
    post_emulated = emulated or bool(record and record.emulated)
    who = who_for(post.user_id, record, accounts)
    if entry is None:
        state, detail = ("invalid", problem) if post.entry is not None else card_history(record)
        return Card(id=post.id, revision=post.revision, state=state, label=LABELS[state], detail=detail, who=who,
                    media=post.media_name or "", media_file=first_file(post), emulated=post_emulated,
                    origin=post.origin,
                    updated_at=post.updated_at, actions=("cancel",) if post.state in (State.QUEUED, State.FAILED) and
                    post.entry is not None else ())
    state, detail, progress = card_state(post, record, now=now, grace_s=grace_s)
    failed = record is not None and state in ("failed", "relink") and not record.retry_requested
    link = None
    # an emulated post seen by an app talking to TikTok has no emulator to link to: no link rather than a wrong one
    linkable = emulated or not post_emulated
    if record is not None and record.state == State.POSTED and record.post_ids and who.username and linkable:
        link = post_link(who.username, record.post_ids[0], emulated=post_emulated, emulator_base=emulator_base)
    account = accounts.get(post.user_id)
    upcoming = state in UPCOMING and record is None
    return Card(id=post.id, revision=post.revision, state=state, label=LABELS[state], detail=detail, who=who,
                caption=caption_of(entry), media=post.media_name or shown_name(media_label(entry)),
                media_file=first_file(post), kind=kind_of(entry),
                schedule=schedule_of(post, now, tz), link=link, log_id=record.log_id if record else None,
                actions=actions_for(state, post), emulated=post_emulated, progress=progress, origin=post.origin,
                updated_at=post.updated_at, details=failure_of(record).details if failed else "",
                host=(record.host or "") if failed else "",
                relink=upcoming and account is not None and must_relink(account, now),
                missing=missing if upcoming else ())


def first_file(post: Post) -> str:
    """The first file name the post's entry names (its video's), for its thumbnail."""
    return next(iter(media_names(post.entry)), "")


def shown_name(label: str) -> str:
    """A media label without an upload's random prefix: ``clip1.mp4`` for ``d644...eb-clip1.mp4`` (pure)."""
    return UPLOAD_PREFIX.sub("", label)


def card_history(record: PostRecord | None) -> tuple[str, str]:
    """A post kept from an earlier results file whose entry is gone: its record says how it ended."""
    if record is not None and record.state == State.POSTED:
        return "posted", "posted by an earlier version (its manifest entry is gone)"
    if record is not None and record.state == State.IN_INBOX:
        return "inbox", "sent to the inbox by an earlier version (its manifest entry is gone)"
    return "failed", "kept from an earlier version's results file; its manifest entry is gone"


def card_state(post: Post, record: PostRecord | None, *, now: float,
               grace_s: float) -> tuple[str, str, tuple[int, int] | None]:
    """(state, detail, upload progress) for a post; see the module docstring for the order of the rules."""
    if record is not None and record.retry_requested:
        return "due", "retry requested: the next run posts it again", None
    if record is None:
        due_at = post.due_at
        state = when(due_at, now, grace_s)
        if state == "missed":
            return state, (f"its time passed {relative(due_at, now)} (more than {duration(grace_s)} ago) and it "
                           "was not posted: give it a new time, or cancel it"), None
        if state == "due":
            return state, "waiting for the next run to post it", None
        return state, "", None
    if record.state == State.PENDING_INIT and record.outcome is not None:  # stopped with the init's answer unknown
        return "failed", failure_reason(record), None
    if record.state == State.PENDING_INIT:
        return "uploading", "starting: the post was sent to TikTok and its answer is awaited", None
    if record.state == State.UPLOADING:
        total = (record.plan or {}).get("video_size", 0)
        sent = record.bytes_sent
        return "uploading", f"{size(sent)} of {size(total)} sent", (sent, total)
    if record.state == State.PROCESSING:
        return "processing", "TikTok is processing the post", None
    if record.state == State.POSTED:
        if record.awaiting_public_id(now):
            return "under_review", "published; TikTok has not released the public link yet (moderation)", None
        if not record.post_ids and record.privacy == PUBLIC:
            return "posted", "published; TikTok never released a public link (checked for 24 h)", None
        if not record.post_ids:
            return "posted", "published; no public link (the post is not public)", None
        return "posted", "", None
    if record.state == State.IN_INBOX:
        return "inbox", "sent to the creator's TikTok inbox: they finish it in the app", None
    reason = failure_reason(record)
    outcome = record.outcome
    if outcome == "relink":
        return "relink", reason or "the account must be linked again", None
    if outcome != "failed" and when(post.due_at, now, grace_s) == "missed":  # the grace holds for retries too
        return "failed", (f"{reason}; " if reason else "") + f"its time passed more than {duration(grace_s)} ago, " \
                         "so no run tries again by itself: press Retry to post it now, or edit it", None
    if outcome == "try_later":
        reason = f"{reason}; the next run tries again" if reason else "the next run tries again"
    return "failed", reason, None


def failure_reason(record: PostRecord) -> str:
    """Why the attempt failed, in plain words (TikTok's code, message and log_id go to the card's details)."""
    return failure_of(record).reason


def actions_for(state: str, post: Post) -> tuple[str, ...]:
    """What a person may do to a card: a post not started may be edited, rescheduled or cancelled; a failed one
    (TikTok's answer known, nothing in flight) retried, edited or cancelled."""
    record = post.record
    if state in NOT_STARTED and record is None:
        return ("edit", "reschedule", "cancel")
    if state in ("failed", "relink") and record is not None and not record.retry_requested:
        return ("retry", "edit", "cancel") if post.state == State.FAILED else ("retry",)
    return ()


def who_for(open_id: str, record: PostRecord | None, accounts: Mapping[str, Account]) -> Who:
    account = accounts.get(open_id)
    username = (record.username if record is not None else None) or (account.username if account else "")
    if account is None:
        return Who(open_id=open_id, username=username, connected=False)
    return Who(open_id=open_id, username=username, display_name=account.display_name,
               avatar_url=account.avatar_url)


def post_link(username: str, post_id: int | str, *, emulated: bool, emulator_base: str) -> Link:
    base = emulator_base.rstrip("/") if emulated else TIKTOK_WEB
    return Link(url=f"{base}/@{username}/video/{post_id}", emulated=emulated)


def caption_of(entry: PostRequest) -> str:
    try:
        return build_caption(entry.description or "", entry.tags, limit=entry.caption_limit).text
    except CaptionTooLong:
        return entry.description


def kind_of(entry: PostRequest) -> str:
    if entry.draft:
        return "draft"
    return "photo" if entry.photo_urls else "video"


def schedule_of(post: Post, now: float, tz: tzinfo | None) -> When | None:
    due_at = post.due_at
    if due_at is None:
        return None
    return When(iso=utc_iso(due_at), fallback=moment(due_at, tz), relative=relative(due_at, now), due_at=due_at)
