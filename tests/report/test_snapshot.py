"""Day-over-day change rows from two snapshots (pure functions)."""

from __future__ import annotations

import pytest

from tests.report.days import DAY1, DAY2, DAY3, OPEN_ID, T1, VIDEOS, account
from tiktok.report.snapshot import (
    VIDEO_COLUMNS,
    SUMMARY_COLUMNS,
    Snapshot,
    iso_utc,
    parse_iso_utc,
    summary_row,
    video_from_row,
    video_rows,
)


def snapshot_of(day):
    return Snapshot(day=day, account=account(day), videos={v.video_id: v for v in VIDEOS[day]})


def changes(row, names=("view_count", "like_count", "comment_count", "share_count")):
    return tuple(row[f"{name}_change"] for name in names)


def test_first_day_has_blank_changes_and_full_columns():
    rows = video_rows(DAY1, account(DAY1), VIDEOS[DAY1], previous=None)
    assert [tuple(row) for row in rows] == [VIDEO_COLUMNS] * 2
    assert [changes(row) for row in rows] == [(None,) * 4] * 2
    assert {row["previous_date"] for row in rows} == {None}
    summary = summary_row(DAY1, account(DAY1), previous=None)
    assert tuple(summary) == SUMMARY_COLUMNS
    assert changes(summary, ("follower_count", "following_count", "likes_count", "video_count")) == (None,) * 4


def test_second_day_changes_and_new_video_blank():
    rows = video_rows(DAY2, account(DAY2), VIDEOS[DAY2], snapshot_of(DAY1))
    by_id = {row["video_id"]: row for row in rows}
    assert [row["video_id"] for row in rows] == ["v3", "v2", "v1"]  # order kept as given
    assert changes(by_id["v1"]) == (500, 20, 3, 1)
    assert changes(by_id["v2"]) == (60, 2, 0, 1)
    assert changes(by_id["v3"]) == (None, None, None, None)
    assert by_id["v1"]["previous_date"] == "2026-11-20" and by_id["v3"]["previous_date"] is None


def test_third_day_negative_change_and_vanished_video_has_no_row():
    rows = video_rows(DAY3, account(DAY3), VIDEOS[DAY3], snapshot_of(DAY2))
    assert {row["video_id"]: changes(row) for row in rows} == {"v3": (50, 5, 2, 1), "v1": (100, 1, 1, 0)}
    summary = summary_row(DAY3, account(DAY3), snapshot_of(DAY2))
    assert changes(summary, ("follower_count", "following_count", "likes_count", "video_count")) == (-5, 0, 40, -1)
    assert summary["previous_date"] == "2026-11-21"


def test_row_values_identify_day_account_and_video():
    row = video_rows(DAY1, account(DAY1), VIDEOS[DAY1], None)[1]
    assert (row["date"], row["open_id"], row["username"], row["video_id"]) == ("2026-11-20", OPEN_ID, "alice", "v1")
    assert (row["create_time"], row["duration"], row["view_count"]) == ("2025-11-20T00:53:20Z", 30, 1000)


def test_summary_change_blank_when_previous_day_lacks_the_account_row():
    previous = Snapshot(day=DAY1, account=None, videos={})
    summary = summary_row(DAY2, account(DAY2), previous)
    assert summary["follower_count_change"] is None and summary["previous_date"] is None


@pytest.mark.parametrize("epoch, text", [(0, "1970-01-01T00:00:00Z"), (T1, "2025-11-20T00:53:20Z"),
                                         (1_798_761_599, "2026-12-31T23:59:59Z")])
def test_iso_utc_round_trip(epoch, text):
    assert iso_utc(epoch) == text
    assert parse_iso_utc(text) == epoch


@pytest.mark.parametrize("column, value, message", [
    ("view_count", "12a", "'view_count' is not a whole number"),
    ("create_time", "2025-11-20 00:53:20", "'create_time' is not an ISO 8601 UTC time"),
    ("video_id", "", "'video_id' is empty"),
])
def test_video_from_row_names_the_bad_column(column, value, message):
    row = {"video_id": "v1", "title": "t", "create_time": "2025-11-20T00:53:20Z", "duration": "30",
           "view_count": "1", "like_count": "2", "comment_count": "3", "share_count": "4", column: value}
    with pytest.raises(ValueError, match=message):
        video_from_row(row)
