"""Stats page benchmark: the histories of N accounts over D saved days, against reading the files, paired.

    .venv/bin/python bench/stats.py [--accounts 10] [--days 365] [--videos 20] [--pairs 15] [--cold-disk]

Writes D days of report files for N accounts with the report's own writer (tiktok.report.csvfiles), then times two
comparisons in pairs (bench/paired.py: back to back, the order alternated pair to pair, after one warm-up pair),
each side of a pair in the same state:

- cold against cold: ``load_history`` for every account with an empty parsed-file cache (the first page view, or
  the first after a restart), against reading and parsing every day's summary.csv and each account's CSV once with
  the same parser (the least any page must do with nothing cached);
- warm against warm: ``load_history`` for every account with the cache full and no file changed (every later
  view), against one ``stat`` of every report file (the least a cache must do to notice a rewritten file).

The operating system's page cache is warm for both sides (the files were just written); ``--cold-disk`` drops the
report files from it (``posix_fadvise(DONTNEED)``, after a sync) before each side of a cold pair, so both read from
disk. Prints median times and the median per-pair ratios with their spread.

Targets: cold at most 1.25 times the cold read; warm at most 5 times the stat of every file. Exit status 1 when
one is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import date, timedelta  # noqa: E402

from bench.paired import Measure, measure_pairs, timed, verdict  # noqa: E402
from tiktok.report import history  # noqa: E402
from tiktok.report.csvfiles import (  # noqa: E402
    SUMMARY_FILE, VIDEO_REQUIRED, AccountDay, day_dir, find_account_file, read_summary, read_table, report_days,
    write_day,
)
from tiktok.report.snapshot import AccountStats, VideoStats, summary_row, video_rows  # noqa: E402

START = date(2025, 1, 1)
TARGET_COLD = 1.25  # parsing is shared with the floor; a quarter on top for finding files, series, top videos
TARGET_WARM = 5.0  # room for one stat per file plus building the series (stat-once alone measured ~1.25x)


def write_history(root: Path, accounts: int, days: int, videos: int) -> list[tuple[str, str]]:
    people = [(f"open-{n:03d}", f"creator{n}") for n in range(accounts)]
    for offset in range(days):
        day = START + timedelta(days=offset)
        batch = []
        for n, (open_id, username) in enumerate(people):
            stats = AccountStats(open_id, username, 1000 + offset * (n + 1), 10, 5000 + offset, videos)
            clips = [VideoStats(f"{open_id}-v{v}", f"Clip {v} of {username}", 1_735_689_600 + v, 30,
                                100 * v + offset, v, 0, 0) for v in range(videos)]
            batch.append(AccountDay(account=stats, video_rows=video_rows(day, stats, clips, None),
                                    summary_row=summary_row(day, stats, None)))
        write_day(root, day, batch)
    return people


def read_once(root: Path, people: list[tuple[str, str]]) -> None:
    """The cold floor: every day's summary and every account's CSV read and parsed once."""
    for day in report_days(root):
        folder = day_dir(root, day)
        read_summary(folder / SUMMARY_FILE)
        for open_id, username in people:
            read_table(find_account_file(folder, open_id, username), VIDEO_REQUIRED)


def stat_all(root: Path) -> None:
    """The warm floor: one stat of every report file (a cache keyed on size and mtime needs at least this)."""
    for day in os.scandir(root):
        for entry in os.scandir(day.path):
            entry.stat()


def all_histories(root: Path, people: list[tuple[str, str]]) -> None:
    """What the Stats page reads: every account's history, each day folder listed once for all of them."""
    history.load_histories(root, people)


def cold_page(root: Path, people: list[tuple[str, str]]) -> None:
    history.PARSED = history.ParsedFiles()  # what a restarted app holds
    all_histories(root, people)


def drop_from_page_cache(root: Path) -> None:
    """Evict the report files from the OS page cache (they were synced: clean pages go)."""
    for day in os.scandir(root):
        for entry in os.scandir(day.path):
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def from_disk(root: Path, measure: Measure) -> Measure:
    """``measure`` with the report files dropped from the page cache first (not timed)."""
    def cold() -> float:
        drop_from_page_cache(root)
        return measure()
    return cold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--videos", type=int, default=20, help="videos per account and day")
    parser.add_argument("--pairs", type=int, default=15, help="pairs per comparison, after a warm-up pair")
    parser.add_argument("--cold-disk", action="store_true",
                        help="drop the files from the OS page cache before each side of a cold pair")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "reports"
        people = write_history(root, args.accounts, args.days, args.videos)
        os.sync()
        cold_side: Callable[[Measure], Measure] = (lambda m: from_disk(root, m)) if args.cold_disk else (lambda m: m)
        cold = measure_pairs(cold_side(timed(lambda: cold_page(root, people))),
                             cold_side(timed(lambda: read_once(root, people))), args.pairs, warmup=1)
        history.PARSED = history.ParsedFiles()
        all_histories(root, people)
        warm = measure_pairs(timed(lambda: all_histories(root, people)), timed(lambda: stat_all(root)), args.pairs,
                             warmup=1)
    disk = "from disk" if args.cold_disk else "page cache warm"
    print(f"{args.accounts} accounts x {args.days} days, {args.videos} videos each; {args.pairs} pairs per line")
    print(f"cold ({disk}): Stats page, empty cache {cold.median_a * 1000:8.1f} ms; read every file once "
          f"{cold.median_b * 1000:8.1f} ms; ratio {cold.describe()}")
    print(f"warm: Stats page, full cache {warm.median_a * 1000:8.1f} ms; stat every file once "
          f"{warm.median_b * 1000:8.1f} ms; ratio {warm.describe()}")
    print(f"targets: cold at most {TARGET_COLD:g}x the cold read ({verdict(cold.ratio, TARGET_COLD)}); warm at most "
          f"{TARGET_WARM:g}x one stat per file ({verdict(warm.ratio, TARGET_WARM)})")
    return 0 if cold.ratio <= TARGET_COLD and warm.ratio <= TARGET_WARM else 1


if __name__ == "__main__":
    sys.exit(main())
