"""Stats page benchmark: the histories of N accounts over D saved days, against reading every file once.

    .venv/bin/python bench/stats.py [--accounts 10] [--days 365] [--videos 20] [--repeat 5]

Writes D days of report files for N accounts with the report's own writer (tiktok.report.csvfiles), then times, in
one run: the baseline (each day's summary.csv and each account's CSV read and parsed once, with the same parser);
``load_history`` for every account with no cache (each account re-reads every summary, as before), on a cold
cache (the first page view), and on a warm cache (every later view while no file changed). Prints median times
and their ratios to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

from tiktok.report import history  # noqa: E402
from tiktok.report.csvfiles import (  # noqa: E402
    SUMMARY_FILE, VIDEO_REQUIRED, AccountDay, day_dir, find_account_file, read_summary, read_table, report_days,
    write_day,
)
from tiktok.report.snapshot import AccountStats, VideoStats, summary_row, video_rows  # noqa: E402

START = date(2025, 1, 1)


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
    for day in report_days(root):
        folder = day_dir(root, day)
        read_summary(folder / SUMMARY_FILE)
        for open_id, username in people:
            read_table(find_account_file(folder, open_id, username), VIDEO_REQUIRED)


def all_histories(root: Path, people: list[tuple[str, str]]) -> None:
    for open_id, username in people:
        history.load_history(root, open_id, username)


def timed(action, repeat: int, *, cold: bool) -> float:
    runs = []
    for _ in range(repeat):
        if cold:
            history.PARSED = history.ParsedFiles()
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--videos", type=int, default=20, help="videos per account and day")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "reports"
        people = write_history(root, args.accounts, args.days, args.videos)
        baseline = timed(lambda: read_once(root, people), args.repeat, cold=False)
        history.PARSED = history.ParsedFiles(capacity=0)  # what every view did before the cache
        uncached = timed(lambda: all_histories(root, people), args.repeat, cold=False)
        cold = timed(lambda: all_histories(root, people), args.repeat, cold=True)
        history.PARSED = history.ParsedFiles()
        all_histories(root, people)
        warm = timed(lambda: all_histories(root, people), args.repeat, cold=False)
    print(f"{args.accounts} accounts x {args.days} days, {args.videos} videos each")
    print(f"read every file once (baseline)  {baseline * 1000:8.1f} ms   1.00x")
    print(f"Stats page, no cache (before)    {uncached * 1000:8.1f} ms   {uncached / baseline:.2f}x")
    print(f"Stats page, cold cache           {cold * 1000:8.1f} ms   {cold / baseline:.2f}x")
    print(f"Stats page, warm cache           {warm * 1000:8.1f} ms   {warm / baseline:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
