"""The Posts page as data: every manifest entry with its record, as a card in one of four groups.

Pure (no Flask, no files, no clock): :func:`build_board` takes the parsed manifest, the results records, the
connected accounts and ``now``, so every state a card can show is tested with hand-made values.

A card's state comes from its record first (a post in flight or done is that, whatever its ``post_at``), then,
for an entry not started, from its schedule (due, scheduled, or missed beyond the grace period). Links go to
tiktok.com only for real posts; an emulated post links to the emulator's own share page and says "emulator",
so nothing on the page suggests it reached TikTok.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Mapping

from tiktok.auth.tokens import Account
from tiktok.posting.caption import CaptionTooLong, build_caption
from tiktok.posting.manifest import ManifestResult, PostRequest
from tiktok.posting.publisher import media_label
from tiktok.posting.results import FAILED, IN_INBOX, PENDING_INIT, POSTED, PROCESSING, PUBLIC, UPLOADING, \
    PostRecord, entry_key
from tiktok.posting.schedule import when

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
    "duplicate": "Duplicate",
}
GROUP_OF = {"scheduled": "upcoming", "due": "upcoming", "uploading": "in_progress", "processing": "in_progress",
            "posted": "done", "inbox": "done", "under_review": "done", "failed": "failed", "relink": "failed",
            "missed": "failed", "invalid": "failed", "duplicate": "failed"}
GROUPS = (("upcoming", "Upcoming"), ("in_progress", "In progress"), ("done", "Done"), ("failed", "Failed"))
# States that change by themselves while a runner works: the page polls while one is shown.
MOVING = frozenset({"due", "uploading", "processing", "under_review"})
NOT_STARTED = frozenset({"scheduled", "due", "missed"})


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


@dataclass(frozen=True)
class When:
    """An entry's ``post_at``: as given, in the server's local time with its offset, and relative to now."""

    given: str
    local: str
    relative: str
    due_at: float


@dataclass(frozen=True)
class Link:
    url: str
    emulated: bool

    @property
    def text(self) -> str:
        return "View on the emulator" if self.emulated else "View on TikTok"


@dataclass(frozen=True)
class Card:
    key: str  # entry_key; "" for an invalid entry (it has none)
    number: int  # the entry's position in the file, counting from 1
    state: str
    label: str
    detail: str = ""
    who: Who | None = None
    caption: str = ""
    media: str = ""
    kind: str = ""  # video, photo or draft
    schedule: When | None = None
    link: Link | None = None
    log_id: str | None = None
    actions: tuple[str, ...] = ()  # retry, edit, reschedule, cancel
    emulated: bool = False
    progress: tuple[int, int] | None = None  # (bytes sent, total) while uploading

    @property
    def group(self) -> str:
        return GROUP_OF[self.state]

    @property
    def moving(self) -> bool:
        return self.state in MOVING

    def to_json(self) -> dict:
        return {"key": self.key, "number": self.number, "state": self.state, "label": self.label,
                "detail": self.detail, "group": self.group, "link": self.link.url if self.link else None,
                "emulated": self.emulated, "actions": list(self.actions),
                "progress": list(self.progress) if self.progress else None}


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class Board:
    groups: tuple[Group, ...]
    problems: tuple[str, ...] = ()  # file-level problems (not tied to one entry)
    emulated: bool = False
    cards: tuple[Card, ...] = field(default=(), repr=False)

    @property
    def moving(self) -> bool:
        return any(card.moving for card in self.cards)

    @property
    def next_due_at(self) -> float | None:
        """The earliest time a scheduled card comes due (the page looks again then), or None."""
        times = [card.schedule.due_at for card in self.cards if card.state == "scheduled" and card.schedule]
        return min(times) if times else None

    @property
    def empty(self) -> bool:
        return not self.cards

    def card(self, key: str) -> Card | None:
        return next((card for card in self.cards if card.key == key), None)


def build_board(manifest: ManifestResult, records: Mapping[str, PostRecord], accounts: Mapping[str, Account], *,
                now: float, grace_s: float, emulated: bool, emulator_base: str, tz: tzinfo | None = None) -> Board:
    """Every entry of ``manifest`` (valid or not) as a card, in file order within its group.
    ``tz`` is the zone times are shown in (default: the server's local zone)."""
    cards: list[Card] = []
    first_of: dict[str, int] = {}
    for entry in manifest.entries:
        key = entry_key(entry)
        if key in first_of:  # the runner posts it once, for the first of them; the others are never posted
            cards.append(duplicate_card(entry, first_of[key], accounts, now=now, tz=tz))
            continue
        first_of[key] = entry.index
        cards.append(entry_card(entry, records.get(key), accounts, now=now, grace_s=grace_s, emulated=emulated,
                                emulator_base=emulator_base, tz=tz))
    cards += invalid_cards(manifest)
    cards.sort(key=lambda card: card.number)
    groups = tuple(Group(name, title, tuple(c for c in cards if c.group == name)) for name, title in GROUPS)
    problems = tuple(p.message for p in manifest.problems if p.index is None)
    return Board(groups=groups, problems=problems, emulated=emulated, cards=tuple(cards))


def invalid_cards(manifest: ManifestResult) -> list[Card]:
    """One card per entry the manifest check left out, with every message about it."""
    by_index: dict[int, list[str]] = {}
    for problem in manifest.problems:
        if problem.index is not None:
            by_index.setdefault(problem.index, []).append(problem.message)
    return [Card(key="", number=index + 1, state="invalid", label=LABELS["invalid"], detail="; ".join(messages))
            for index, messages in sorted(by_index.items())]


def duplicate_card(entry: PostRequest, first: int, accounts: Mapping[str, Account], *, now: float,
                   tz: tzinfo | None = None) -> Card:
    """An entry that makes the same post as an earlier one; it has no key of its own (the first one's actions)."""
    return Card(key="", number=entry.index + 1, state="duplicate", label=LABELS["duplicate"],
                detail=f"the same post as entry {first + 1} (every field alike but post_at): it is posted once, as "
                       f"entry {first + 1}; remove this copy from the file", who=who_for(entry, None, accounts),
                caption=caption_of(entry), media=media_label(entry), kind=kind_of(entry),
                schedule=schedule_of(entry, now, tz))


def entry_card(entry: PostRequest, record: PostRecord | None, accounts: Mapping[str, Account], *, now: float,
               grace_s: float, emulated: bool, emulator_base: str, tz: tzinfo | None = None) -> Card:
    """The card for one valid entry and its record (None before any run touched it)."""
    post_emulated = emulated or bool(record and record.emulated)
    state, detail, progress = card_state(entry, record, now=now, grace_s=grace_s)
    who = who_for(entry, record, accounts)
    link = None
    # an emulated post seen by an app talking to TikTok has no emulator to link to: no link rather than a wrong one
    linkable = emulated or not post_emulated
    if record is not None and record.state == POSTED and record.post_ids and who.username and linkable:
        link = post_link(who.username, record.post_ids[0], emulated=post_emulated, emulator_base=emulator_base)
    return Card(key=entry_key(entry), number=entry.index + 1, state=state, label=LABELS[state], detail=detail,
                who=who, caption=caption_of(entry), media=media_label(entry), kind=kind_of(entry),
                schedule=schedule_of(entry, now, tz), link=link, log_id=record.log_id if record else None,
                actions=actions_for(state, record), emulated=post_emulated, progress=progress)


def card_state(entry: PostRequest, record: PostRecord | None, *, now: float,
               grace_s: float) -> tuple[str, str, tuple[int, int] | None]:
    """(state, detail, upload progress) for an entry; see the module docstring for the order of the rules."""
    if record is not None and record.retry_requested:
        return "due", "retry requested: the next run posts it again", None
    if record is None or record.state == "new":
        due_at = entry.due_at
        state = when(due_at, now, grace_s)
        if state == "missed":
            return state, (f"its time passed {relative(due_at, now)} (more than {grace_s / 60:.0f} min ago) and it "
                           "was not posted: give it a new time, or post it with --force"), None
        if state == "due":
            return state, "waiting for the next run to post it", None
        return state, "", None
    if record.state == PENDING_INIT and record.outcome is not None:  # stopped with the init's answer unknown
        return "failed", failure_reason(record), None
    if record.state == PENDING_INIT:
        return "uploading", "starting: the post was sent to TikTok and its answer is awaited", None
    if record.state == UPLOADING:
        total = (record.plan or {}).get("video_size", 0)
        sent = record.bytes_sent
        return "uploading", f"{megabytes(sent)} of {megabytes(total)} sent", (sent, total)
    if record.state == PROCESSING:
        return "processing", "TikTok is processing the post", None
    if record.state == POSTED:
        if record.awaiting_public_id(now):
            return "under_review", "published; TikTok has not released the public link yet (moderation)", None
        if not record.post_ids and record.privacy == PUBLIC:
            return "posted", "published; TikTok never released a public link (checked for 24 h)", None
        if not record.post_ids:
            return "posted", "published; no public link (the post is not public)", None
        return "posted", "", None
    if record.state == IN_INBOX:
        return "inbox", "sent to the creator's TikTok inbox: they finish it in the app", None
    reason = failure_reason(record)
    outcome = record.outcome
    if outcome == "relink":
        return "relink", reason or "the account must be linked again", None
    if outcome == "try_later":
        reason = f"{reason}; the next run tries again" if reason else "the next run tries again"
    return "failed", reason, None


def failure_reason(record: PostRecord) -> str:
    """TikTok's fail_reason (or the run's error) and the log_id, as one line."""
    text = record.error or (f"TikTok failed the post: {record.fail_reason}" if record.fail_reason else "")
    if record.fail_reason and record.fail_reason not in text:
        text = f"{text} ({record.fail_reason})" if text else record.fail_reason
    if record.log_id and record.log_id not in text:
        text = f"{text} (log_id {record.log_id})" if text else f"log_id {record.log_id}"
    return text


def actions_for(state: str, record: PostRecord | None) -> tuple[str, ...]:
    if state in NOT_STARTED and record is None:
        return ("edit", "reschedule", "cancel")
    if state in ("failed", "relink") and record is not None and not record.retry_requested:
        return ("retry",)
    return ()


def who_for(entry: PostRequest, record: PostRecord | None, accounts: Mapping[str, Account]) -> Who:
    account = accounts.get(entry.user_id)
    username = (record.username if record is not None else None) or (account.username if account else "")
    if account is None:
        return Who(open_id=entry.user_id, username=username, connected=False)
    return Who(open_id=entry.user_id, username=username, display_name=account.display_name,
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


def schedule_of(entry: PostRequest, now: float, tz: tzinfo | None) -> When | None:
    due_at = entry.due_at
    if due_at is None:
        return None
    return When(given=entry.post_at, local=local_time(due_at, tz), relative=relative(due_at, now), due_at=due_at)


def local_time(epoch: float, tz: tzinfo | None = None) -> str:
    """``2026-12-03 09:00 (UTC+01:00)`` in ``tz`` (the server's zone by default)."""
    moment = datetime.fromtimestamp(epoch, tz or timezone.utc)
    if tz is None:
        moment = moment.astimezone()
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def relative(epoch: float, now: float) -> str:
    """``in 5 min``, ``3 h ago``, ``just now``: rounded down to the largest unit."""
    delta = epoch - now
    seconds = abs(delta)
    if seconds < 45:
        return "now" if delta >= 0 else "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = int(seconds // size)
            break
    else:  # pragma: no cover - seconds >= 45 always reaches "min"
        unit, amount = "s", int(seconds)
    text = f"{amount} {unit}"
    return f"in {text}" if delta > 0 else f"{text} ago"


def megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"
