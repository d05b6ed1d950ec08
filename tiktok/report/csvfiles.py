"""The daily report files on disk: where they live, writing them atomically, and reading earlier days back.

Layout under the reports root (``reports/`` by default)::

    reports/YYYY-MM-DD/<account>.csv   one row per public video of that account (columns: VIDEO_COLUMNS)
    reports/YYYY-MM-DD/summary.csv     one row per account reported that day (columns: SUMMARY_COLUMNS)

``<account>`` is the username when known, else the open_id, made safe as a file name by :func:`safe_name`.
Files are UTF-8 CSV (RFC 4180: comma, double quotes, CRLF line ends) with a header line.

CSV injection (OWASP): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
written with a ``'`` in front, so a spreadsheet shows it as text instead of running it as a formula (a video titled
``=HYPERLINK(...)``). Number columns (counts, ``duration``, the ``*_change`` columns, where "-3" is a number) are
never touched. Reading a file back takes that ``'`` off again, so rewriting a day's summary does not stack quotes.

Every file is written to a temp file in the same folder, fsynced, then moved over the target with ``os.replace``,
so a reader (or an S3 upload) sees the old file or the new one, never half of one. Writing a day replaces that day's
files for the accounts written and touches nothing else: other days, and other accounts' rows in that day's
``summary.csv``, are kept.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tiktok.atomic import atomic_write
from tiktok.errors import FileProblem
from tiktok.report.snapshot import (
    ACCOUNT_COUNTS,
    SUMMARY_COLUMNS,
    VIDEO_COUNTS,
    VIDEO_COLUMNS,
    AccountStats,
    Row,
    Snapshot,
    VideoStats,
    account_from_row,
    summary_row,
    video_from_row,
    video_rows,
)

__all__ = ["VIDEO_COLUMNS", "SUMMARY_COLUMNS", "SUMMARY_FILE", "ReportFileError", "AccountDay", "safe_name",
           "account_file_name", "day_dir", "report_days", "find_account_file", "previous_day_with_data",
           "write_day", "build_account_day", "render_csv", "neutralise", "restore", "read_table", "read_videos", "read_summary", "load_previous"]

SUMMARY_FILE = "summary.csv"
FILE_MODE = 0o644  # reports are not secret, and an analytics pipeline may read them as another user
MAX_NAME_CHARS = 100  # well under the 255-byte file name limit of common file systems
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # TikTok usernames use letters, digits, '_' and '.' only
# Columns a file must have to be read back (the change columns are ours to recompute).
VIDEO_REQUIRED = VIDEO_COLUMNS[:VIDEO_COLUMNS.index("share_count") + 1]
SUMMARY_REQUIRED = SUMMARY_COLUMNS[:SUMMARY_COLUMNS.index("video_count") + 1]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection: cells a spreadsheet may evaluate
NUMBER_COLUMNS = frozenset({"duration", *VIDEO_COUNTS, *ACCOUNT_COUNTS,
                            *(f"{name}_change" for name in (*VIDEO_COUNTS, *ACCOUNT_COUNTS))})
_DAY_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RESERVED = {"summary", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
             *(f"lpt{i}" for i in range(1, 10))}  # our own summary file, and Windows device names


class ReportFileError(FileProblem):
    """A saved report file cannot be read or is not in the expected shape (names the file and line)."""

    def __init__(self, path: object, line: int | None, reason: str) -> None:
        self.line = line
        super().__init__(path, reason, where=f"{path} line {line}" if line is not None else None)


@dataclass(frozen=True)
class AccountDay:
    """Everything written for one account on one day: its video rows and its summary row."""

    account: AccountStats
    video_rows: Sequence[Row]
    summary_row: Row


def safe_name(text: str) -> str:
    """``text`` as a portable file stem: unsafe characters become '_', no leading dot or dash, at most 100 chars."""
    name = _UNSAFE.sub("_", text)[:MAX_NAME_CHARS]
    name = re.sub(r"^[.-]", "_", name).rstrip(".")  # no hidden files, no '..', nothing that looks like an option
    return "" if name.casefold() in _RESERVED else name


def account_file_name(open_id: str, username: str | None = None) -> str:
    """``<username>.csv``, or ``<open_id>.csv`` when the username is unknown or unusable as a name."""
    stem = safe_name(username or "") or safe_name(open_id) or f"account_{safe_name(open_id) or 'unknown'}"
    return f"{stem}.csv"


def day_dir(reports_root: str | os.PathLike[str], day: date) -> Path:
    """The folder holding one day's files."""
    return Path(reports_root) / day.isoformat()


def report_days(reports_root: str | os.PathLike[str]) -> list[date]:
    """Days that have a report folder, oldest first; other entries are ignored."""
    root = Path(reports_root)
    if not root.is_dir():
        return []
    days = []
    for entry in root.iterdir():
        if entry.is_dir() and _DAY_NAME.match(entry.name):
            try:
                days.append(date.fromisoformat(entry.name))
            except ValueError:
                continue
    return sorted(days)


def find_account_file(folder: Path, open_id: str, username: str | None = None) -> Path | None:
    """The account's CSV in one day folder, named by its username or, failing that, its open_id."""
    for candidate in dict.fromkeys([account_file_name(open_id, username), account_file_name(open_id)]):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def previous_day_with_data(reports_root: str | os.PathLike[str], day: date, open_id: str,
                           username: str | None = None) -> date | None:
    """The latest day before ``day`` that has a CSV for this account, or None."""
    for earlier in reversed(report_days(reports_root)):
        if earlier < day and find_account_file(day_dir(reports_root, earlier), open_id, username):
            return earlier
    return None


def write_day(reports_root: str | os.PathLike[str], day: date, accounts: Sequence[AccountDay]) -> list[Path]:
    """Write each account's CSV, then merge their rows into the day's summary; returns the paths written."""
    folder = day_dir(reports_root, day)
    folder.mkdir(parents=True, exist_ok=True)
    names = [account_file_name(item.account.open_id, item.account.username) for item in accounts]
    clashes = {n for n in names if [m.casefold() for m in names].count(n.casefold()) > 1}
    if clashes:
        raise ValueError(f"several accounts would share the file name(s) {', '.join(sorted(clashes))}")
    # Read the day's old summary first: if it is corrupt, nothing of that day is changed.
    summary = _merged_summary(folder / SUMMARY_FILE, [item.summary_row for item in accounts])
    written = [_write_csv(folder / name, VIDEO_COLUMNS, item.video_rows) for name, item in zip(names, accounts)]
    written.append(_write_csv(folder / SUMMARY_FILE, SUMMARY_COLUMNS, summary))
    return written


def _merged_summary(path: Path, new_rows: Sequence[Row]) -> list[Row]:
    """New rows replace the same open_id's old row; other accounts' rows from an earlier run that day are kept."""
    replaced = {row["open_id"] for row in new_rows}
    kept: list[Row] = []
    if path.exists():
        kept = [dict(row) for _, row in read_table(path, SUMMARY_COLUMNS) if row["open_id"] not in replaced]
    return sorted([*kept, *new_rows], key=lambda row: str(row["open_id"]))


def neutralise(value):
    """A text cell made safe for spreadsheets: ``'`` in front when it starts like a formula (module docstring)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The inverse of :func:`neutralise` for a cell read back from a file."""
    return value[1:] if value[:1] == "'" and value[1:].startswith(FORMULA_STARTS) else value


def render_csv(columns: Sequence[str], rows: Iterable[Row]) -> bytes:
    """The exact bytes of a report file: header, then rows in ``columns`` order (None as an empty cell), text
    cells neutralised against formula injection."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column) if column in NUMBER_COLUMNS else neutralise(row.get(column))
                         for column in columns])
    return buffer.getvalue().encode("utf-8")


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Row]) -> Path:
    _atomic_write(path, render_csv(columns, rows))
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write(path, data, mode=FILE_MODE)


def read_table(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a report CSV as (line number, column -> text); raises ReportFileError naming file and line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReportFileError(path, None, f"cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportFileError(path, data.count(b"\n", 0, exc.start) + 1, "is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # strict: a stray quote is corruption
    try:
        return _rows(path, reader, required)
    except csv.Error as exc:
        raise ReportFileError(path, reader.line_num, f"is not valid CSV ({exc})") from None


def _rows(path: Path, reader, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    header = next(reader, None)
    if not header:
        raise ReportFileError(path, 1, "has no header line")
    missing = [column for column in required if column not in header]
    if missing:
        raise ReportFileError(path, 1, f"header lacks column(s) {', '.join(missing)}")
    rows = []
    start = reader.line_num + 1
    for cells in reader:
        if cells and len(cells) != len(header):  # csv yields [] for a blank line, which is harmless
            raise ReportFileError(path, start, f"has {len(cells)} fields where the header has {len(header)}")
        if cells:
            rows.append((start, {column: cell if column in NUMBER_COLUMNS else restore(cell)
                                 for column, cell in zip(header, cells)}))
        start = reader.line_num + 1
    return rows


def read_videos(path: Path) -> dict[str, VideoStats]:
    """An account CSV back as its videos by id."""
    videos = {}
    for line, row in read_table(path, VIDEO_REQUIRED):
        try:
            video = video_from_row(row)
        except ValueError as exc:
            raise ReportFileError(path, line, str(exc)) from None
        videos[video.video_id] = video
    return videos


def read_summary(path: Path) -> dict[str, AccountStats]:
    """A summary CSV back as accounts by open_id."""
    accounts = {}
    for line, row in read_table(path, SUMMARY_REQUIRED):
        try:
            account = account_from_row(row)
        except ValueError as exc:
            raise ReportFileError(path, line, str(exc)) from None
        accounts[account.open_id] = account
    return accounts


def load_previous(reports_root: str | os.PathLike[str], day: date, open_id: str,
                  username: str | None = None) -> Snapshot | None:
    """The account's latest snapshot before ``day``, or None when there is none; ReportFileError if corrupt."""
    earlier = previous_day_with_data(reports_root, day, open_id, username)
    if earlier is None:
        return None
    folder = day_dir(reports_root, earlier)
    videos = read_videos(find_account_file(folder, open_id, username))
    summary_path = folder / SUMMARY_FILE
    account = read_summary(summary_path).get(open_id) if summary_path.exists() else None
    return Snapshot(day=earlier, account=account, videos=videos)


def build_account_day(reports_root: str | os.PathLike[str], day: date, account: AccountStats,
                      videos: Iterable[VideoStats]) -> AccountDay:
    """Today's values compared with the account's previous saved snapshot, ready for :func:`write_day`."""
    previous = load_previous(reports_root, day, account.open_id, account.username)
    return AccountDay(account=account, video_rows=video_rows(day, account, videos, previous),
                      summary_row=summary_row(day, account, previous))
