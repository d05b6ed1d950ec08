"""Three made-up days for one account: a video appears on day 2, another is gone on day 3, followers drop on day 3."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tiktok.report.csvfiles import build_account_day, write_day
from tiktok.report.snapshot import AccountStats, VideoStats

DAY1, DAY2, DAY3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)
OPEN_ID = "-000aliceOpenIdExample"
T1 = 1_763_600_000  # 2025-11-20T00:53:20Z
T2 = T1 + 86_400


def account(day: date, username: str | None = "alice", open_id: str = OPEN_ID) -> AccountStats:
    followers, following, likes, count = {DAY1: (100, 10, 500, 2), DAY2: (130, 11, 560, 3),
                                          DAY3: (125, 11, 600, 2)}[day]
    return AccountStats(open_id, username, followers, following, likes, count)


def video(video_id: str, views: int, likes: int, comments: int, shares: int) -> VideoStats:
    created = {"v1": T1, "v2": T1 + 3600, "v3": T2}[video_id]
    return VideoStats(video_id, f"Title {video_id}, with \"quotes\"", created, 30, views, likes, comments, shares)


VIDEOS = {
    DAY1: [video("v2", 200, 10, 1, 0), video("v1", 1000, 50, 5, 2)],
    DAY2: [video("v3", 40, 4, 0, 0), video("v2", 260, 12, 1, 1), video("v1", 1500, 70, 8, 3)],
    DAY3: [video("v3", 90, 9, 2, 1), video("v1", 1600, 71, 9, 3)],  # v2 deleted or made private
}


def write_report(root: Path, day: date, username: str | None = "alice") -> list[Path]:
    """What the report command does for one account on one day."""
    acct = account(day, username)
    return write_day(root, day, [build_account_day(root, day, acct, VIDEOS[day])])
