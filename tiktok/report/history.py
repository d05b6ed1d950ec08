"""One account's saved report history, shaped for the Stats page: a series per day and the latest top videos.

Each day with a report folder contributes a point when it has the account's CSV or its summary row: followers come
from ``summary.csv``, total views are the sum of ``view_count`` over the account's videos that day (a value is None
when its file is missing). A day whose files cannot be read is left out and named in ``problems``, so one bad file
does not hide the chart. No saved day at all gives an empty :class:`AccountHistory` (``has_history`` False).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tiktok.report.csvfiles import (
    SUMMARY_FILE,
    VIDEO_REQUIRED,
    ReportFileError,
    day_dir,
    find_account_file,
    read_summary,
    read_table,
    report_days,
)

TOP_VIDEOS = 10  # rows in the Stats page's table


@dataclass(frozen=True)
class DayPoint:
    """One day of the chart; a value is None when that day's file for it is missing."""

    day: date
    followers: int | None
    total_views: int | None


@dataclass(frozen=True)
class TopVideo:
    """A video ranked by its view change on the latest day."""

    video_id: str
    title: str
    view_count: int
    view_count_change: int


@dataclass(frozen=True)
class AccountHistory:
    """Points oldest first; top videos for ``latest_day``; ``problems`` names unreadable files."""

    open_id: str
    points: tuple[DayPoint, ...] = ()
    latest_day: date | None = None
    top_videos: tuple[TopVideo, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def has_history(self) -> bool:
        """False when no saved day mentions this account."""
        return bool(self.points)


def load_history(reports_root: str | os.PathLike[str], open_id: str, username: str | None = None, *,
                 top: int = TOP_VIDEOS) -> AccountHistory:
    """Read every saved day for the account; never raises for a corrupt file (see ``problems``)."""
    points: list[DayPoint] = []
    problems: list[str] = []
    latest: tuple[date, Path] | None = None
    for day in report_days(reports_root):
        folder = day_dir(reports_root, day)
        try:
            point, account_file = _day_point(folder, day, open_id, username)
        except ReportFileError as exc:
            problems.append(str(exc))
            continue
        if point is not None:
            points.append(point)
        if account_file is not None:
            latest = (day, account_file)
    top_videos: tuple[TopVideo, ...] = ()
    if latest is not None:
        try:
            top_videos = tuple(_top_videos(latest[1], top))
        except ReportFileError as exc:
            problems.append(str(exc))
    return AccountHistory(open_id=open_id, points=tuple(points), latest_day=latest[0] if latest else None,
                          top_videos=top_videos, problems=tuple(problems))


def _day_point(folder: Path, day: date, open_id: str, username: str | None) -> tuple[DayPoint | None, Path | None]:
    summary_path = folder / SUMMARY_FILE
    account = read_summary(summary_path).get(open_id) if summary_path.is_file() else None
    account_file = find_account_file(folder, open_id, account.username if account else username)
    total_views = _total_views(account_file) if account_file is not None else None
    if account is None and account_file is None:
        return None, None
    followers = account.follower_count if account is not None else None
    return DayPoint(day=day, followers=followers, total_views=total_views), account_file


def _total_views(path: Path) -> int:
    total = 0
    for line, row in read_table(path, VIDEO_REQUIRED):
        total += _whole(path, line, row, "view_count")
    return total


def _top_videos(path: Path, top: int) -> list[TopVideo]:
    """Videos with a known view change, biggest first (ties: more views, then video id)."""
    ranked = []
    for line, row in read_table(path, (*VIDEO_REQUIRED, "view_count_change")):
        if row["view_count_change"] == "":
            continue  # new since the previous snapshot: no daily change to rank
        ranked.append(TopVideo(video_id=row["video_id"], title=row["title"],
                               view_count=_whole(path, line, row, "view_count"),
                               view_count_change=_whole(path, line, row, "view_count_change")))
    ranked.sort(key=lambda video: (-video.view_count_change, -video.view_count, video.video_id))
    return ranked[:top]


def _whole(path: Path, line: int, row: dict[str, str], column: str) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise ReportFileError(path, line, f"column {column!r} is not a whole number: {row[column][:40]!r}") from None
