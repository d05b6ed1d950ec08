"""One account's saved report history, shaped for the Stats page: a series per day and the latest top videos.

Each day with a report folder contributes a point when it has the account's CSV or its summary row: followers come
from ``summary.csv``, total views are the sum of ``view_count`` over the account's videos that day (a value is None
when its file is missing). A day whose files cannot be read is left out and named in ``problems``, so one bad file
does not hide the chart. No saved day at all gives an empty :class:`AccountHistory` (``has_history`` False).

Parsed files are cached, keyed on path, size and modification time (:class:`ParsedFiles`): the Stats page reads
each day's ``summary.csv`` once for all accounts, not once per account, and a rewritten day is read again. What a
day folder holds (names, sizes, times) is listed once with ``os.scandir`` and kept while the folder's own
modification time is unchanged (:class:`DayListings`): reports are written by atomic rename, which changes it, so
a warm page costs one ``stat`` per day folder instead of several per file.
"""

from __future__ import annotations

import functools
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
    account_file_name,
    day_dir,
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

    def get(self, path: Path, parse: Callable[[Path], object], stamp: tuple[int, int] | None = None):
        """``stamp``: the file's (size, mtime_ns) when the caller has it already (a folder listing); else a stat."""
        if stamp is None:
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


class DayListings:
    """``files(folder)``: each regular file's (size, mtime_ns) by name, listed once while the folder is unchanged."""

    def __init__(self, capacity: int = CACHED_FILES) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[int, dict[str, tuple[int, int]]]] = OrderedDict()
        self._lock = threading.Lock()

    def files(self, folder: Path) -> dict[str, tuple[int, int]]:
        key = str(folder)
        stamp = os.stat(folder).st_mtime_ns
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] == stamp:
                self._entries.move_to_end(key)
                return hit[1]
        listing = {}
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file():
                    info = entry.stat()
                    listing[entry.name] = (info.st_size, info.st_mtime_ns)
        with self._lock:
            self._entries[key] = (stamp, listing)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return listing


LISTINGS = DayListings()


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
    return load_histories(reports_root, [(open_id, username)], top=top)[open_id]


def load_histories(reports_root: str | os.PathLike[str], accounts: list[tuple[str, str | None]], *,
                   top: int = TOP_VIDEOS) -> dict[str, AccountHistory]:
    """Every saved day for each ``(open_id, username)``, the days listed once for all of them (the Stats page)."""
    points: dict[str, list[DayPoint]] = {open_id: [] for open_id, _ in accounts}
    problems: dict[str, list[str]] = {open_id: [] for open_id, _ in accounts}
    latest: dict[str, tuple[date, Path]] = {}
    for day in report_days(reports_root):
        folder = day_dir(reports_root, day)
        try:
            files = LISTINGS.files(folder)
        except OSError:
            continue  # removed meanwhile
        for open_id, username in accounts:
            try:
                point, account_file = _day_point(folder, files, day, open_id, username)
            except ReportFileError as exc:
                problems[open_id].append(str(exc))
                continue
            if point is not None:
                points[open_id].append(point)
            if account_file is not None:
                latest[open_id] = (day, account_file)
    histories = {}
    for open_id, _ in accounts:
        top_videos: tuple[TopVideo, ...] = ()
        if open_id in latest:
            try:
                top_videos = tuple(_top_videos(latest[open_id][1], top))
            except ReportFileError as exc:
                problems[open_id].append(str(exc))
        histories[open_id] = AccountHistory(open_id=open_id, points=tuple(points[open_id]),
                                            latest_day=latest[open_id][0] if open_id in latest else None,
                                            top_videos=top_videos, problems=tuple(problems[open_id]))
    return histories


def _day_point(folder: Path, files: dict[str, tuple[int, int]], day: date, open_id: str,
               username: str | None) -> tuple[DayPoint | None, Path | None]:
    summary = files.get(SUMMARY_FILE)
    account = PARSED.get(folder / SUMMARY_FILE, read_summary, summary).get(open_id) if summary else None
    name = next((candidate for candidate in _names(open_id, account.username if account else username)
                 if candidate in files), None)
    account_file = folder / name if name is not None else None
    total_views = PARSED.get(account_file, _total_views, files[name]) if name is not None else None
    if account is None and account_file is None:
        return None, None
    followers = account.follower_count if account is not None else None
    return DayPoint(day=day, followers=followers, total_views=total_views), account_file


@functools.lru_cache(maxsize=4096)
def _names(open_id: str, username: str | None) -> tuple[str, ...]:
    """The account's CSV names in a day folder, by username first (csvfiles.find_account_file's order)."""
    return tuple(dict.fromkeys([account_file_name(open_id, username), account_file_name(open_id)]))


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
