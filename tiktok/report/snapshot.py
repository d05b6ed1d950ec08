"""One day's stats as values, and the CSV rows that compare them with the previous snapshot (no I/O here).

TikTok's Display API gives only cumulative counts (reference 6.1, 6.4), so each ``*_change`` column is today's
count minus the count in the previous snapshot: the latest earlier day with a saved report, which is yesterday
when cron ran every day and further back after a gap (``previous_date`` says which). A change is ``None`` (written
as a blank cell) when there is no previous value: the first report for an account, or a video that is new since.
A video that has disappeared since (deleted, made private) simply has no row today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Union

Cell = Union[str, int, None]  # None is written as an empty cell
Row = dict[str, Cell]

VIDEO_COUNTS = ("view_count", "like_count", "comment_count", "share_count")  # video object fields, reference 6.4
ACCOUNT_COUNTS = ("follower_count", "following_count", "likes_count", "video_count")  # user.info.stats, ref 6.1

# Fixed column orders of the two CSV files; analytics pipelines read them by position, so only ever append.
VIDEO_COLUMNS = ("date", "open_id", "username", "video_id", "title", "create_time", "duration",
                 *VIDEO_COUNTS, *(f"{name}_change" for name in VIDEO_COUNTS), "previous_date")
SUMMARY_COLUMNS = ("date", "open_id", "username", *ACCOUNT_COUNTS,
                   *(f"{name}_change" for name in ACCOUNT_COUNTS), "previous_date")


@dataclass(frozen=True)
class VideoStats:
    """The cumulative counts of one public video on one day."""

    video_id: str
    title: str
    create_time: int  # epoch seconds, reference 6.4
    duration: int  # seconds
    view_count: int
    like_count: int
    comment_count: int
    share_count: int


@dataclass(frozen=True)
class AccountStats:
    """The cumulative counts of one account on one day; ``username`` is None when the profile scope is missing."""

    open_id: str
    username: str | None
    follower_count: int
    following_count: int
    likes_count: int
    video_count: int


@dataclass(frozen=True)
class Snapshot:
    """What an earlier day's files say about one account: its summary row (if any) and its videos by id."""

    day: date
    account: AccountStats | None
    videos: Mapping[str, VideoStats] = field(default_factory=dict)


def iso_utc(epoch_seconds: int) -> str:
    """Epoch seconds as ISO 8601 UTC with a ``Z``, e.g. ``2026-11-20T08:00:00Z``."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(text: str) -> int:
    """The inverse of :func:`iso_utc`; raises ValueError for anything else."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _changes(names: Iterable[str], now: object, before: object | None) -> dict[str, int | None]:
    return {f"{name}_change": (getattr(now, name) - getattr(before, name)) if before is not None else None
            for name in names}


def video_rows(day: date, account: AccountStats, videos: Iterable[VideoStats],
               previous: Snapshot | None) -> list[Row]:
    """One row per video, in the order given, keyed by ``VIDEO_COLUMNS``."""
    earlier = previous.videos if previous is not None else {}
    previous_date = previous.day.isoformat() if previous is not None else None
    rows = []
    for video in videos:
        before = earlier.get(video.video_id)
        rows.append({
            "date": day.isoformat(), "open_id": account.open_id, "username": account.username,
            "video_id": video.video_id, "title": video.title, "create_time": iso_utc(video.create_time),
            "duration": video.duration, **{name: getattr(video, name) for name in VIDEO_COUNTS},
            **_changes(VIDEO_COUNTS, video, before),
            "previous_date": previous_date if before is not None else None,
        })
    return rows


def summary_row(day: date, account: AccountStats, previous: Snapshot | None) -> Row:
    """The account's row for ``summary.csv``, keyed by ``SUMMARY_COLUMNS``."""
    before = previous.account if previous is not None else None
    return {
        "date": day.isoformat(), "open_id": account.open_id, "username": account.username,
        **{name: getattr(account, name) for name in ACCOUNT_COUNTS},
        **_changes(ACCOUNT_COUNTS, account, before),
        "previous_date": previous.day.isoformat() if previous is not None and before is not None else None,
    }


def video_from_row(row: Mapping[str, str]) -> VideoStats:
    """A ``VideoStats`` from a CSV row of strings; raises ValueError naming the bad column."""
    return VideoStats(video_id=_text(row, "video_id", required=True), title=_text(row, "title"),
                      create_time=_epoch(row, "create_time"), duration=_int(row, "duration"),
                      **{name: _int(row, name) for name in VIDEO_COUNTS})


def account_from_row(row: Mapping[str, str]) -> AccountStats:
    """An ``AccountStats`` from a summary CSV row of strings; raises ValueError naming the bad column."""
    return AccountStats(open_id=_text(row, "open_id", required=True), username=_text(row, "username") or None,
                        **{name: _int(row, name) for name in ACCOUNT_COUNTS})


def _text(row: Mapping[str, str], name: str, *, required: bool = False) -> str:
    value = row.get(name) or ""
    if required and not value:
        raise ValueError(f"column {name!r} is empty")
    return value


def _int(row: Mapping[str, str], name: str) -> int:
    value = row.get(name) or ""
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"column {name!r} is not a whole number: {value[:40]!r}") from None


def _epoch(row: Mapping[str, str], name: str) -> int:
    value = row.get(name) or ""
    try:
        return parse_iso_utc(value)
    except ValueError:
        raise ValueError(f"column {name!r} is not an ISO 8601 UTC time: {value[:40]!r}") from None
