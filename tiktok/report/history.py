"""One account's saved report history, shaped for the Stats page: a series per day and the latest top videos.

Each day with a report folder contributes a point when it has the account's CSV or its summary row: followers come
from ``summary.csv``, total views are the sum of ``view_count`` over the account's videos that day (a value is None
when its file is missing). A day whose files cannot be read is left out and named in ``problems``, so one bad file
does not hide the chart. No saved day at all gives an empty :class:`AccountHistory` (``has_history`` False).

Parsed files are cached, keyed on path, size and modification time (:class:`ParsedFiles`): the Stats page reads
each day's ``summary.csv`` once for all accounts, not once per account, and a rewritten day is read again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
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
CACHED_FILES = 4096  # parsed files kept (a year of summaries for a few accounts is ~1,100); least recently used go


class ParsedFiles:
    """``get(path, parse)``: ``parse(path)``'s result, reused while the file's size and mtime are unchanged."""

    def __init__(self, capacity: int = CACHED_FILES) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[tuple[int, int], object]] = OrderedDict()
        self._lock = threading.Lock()  # the app serves requests from several threads
        self.parses = 0  # how many times a file was actually read (tests and benchmarks look at it)

    def get(self, path: Path, parse: Callable[[Path], object]):
        info = path.stat()
        stamp = (info.st_size, info.st_mtime_ns)
        key = (str(path), getattr(parse, "__qualname__", repr(parse)))
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] == stamp:
                self._entries.move_to_end(key)
                return hit[1]
        value = parse(path)  # may raise ReportFileError: nothing is cached then
        with self._lock:
            self.parses += 1
            self._entries[key] = (stamp, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return value


PARSED = ParsedFiles()


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
    account = PARSED.get(summary_path, read_summary).get(open_id) if summary_path.is_file() else None
    account_file = find_account_file(folder, open_id, account.username if account else username)
    total_views = PARSED.get(account_file, _total_views) if account_file is not None else None
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
