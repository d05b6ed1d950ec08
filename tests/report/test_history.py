"""The Stats page's data: followers and total views per saved day, and the latest day's top videos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.report.days import DAY1, DAY2, DAY3, OPEN_ID, VIDEOS, write_report
from tiktok.report.history import AccountHistory, DayPoint, TopVideo, load_history


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "reports"


def test_series_per_day_and_top_videos_of_the_latest_day(root):
    for day in (DAY1, DAY2, DAY3):
        write_report(root, day)
    history = load_history(root, OPEN_ID, "alice")
    assert history.has_history and history.problems == ()
    assert history.points == (DayPoint(DAY1, 100, 1200), DayPoint(DAY2, 130, 1800), DayPoint(DAY3, 125, 1690))
    assert history.latest_day == DAY3
    assert history.top_videos == (TopVideo("v1", 'Title v1, with "quotes"', 1600, 100),
                                  TopVideo("v3", 'Title v3, with "quotes"', 90, 50))


def test_top_videos_limit_and_new_videos_left_out(root):
    write_report(root, DAY1)
    write_report(root, DAY2)
    history = load_history(root, OPEN_ID, "alice", top=1)
    assert history.top_videos == (TopVideo("v1", 'Title v1, with "quotes"', 1500, 500),)  # v3 is new: no change
    assert [v.video_id for v in load_history(root, OPEN_ID, "alice").top_videos] == ["v1", "v2"]


def test_first_day_only_has_a_point_but_no_ranked_videos(root):
    write_report(root, DAY1)
    history = load_history(root, OPEN_ID, "alice")
    assert history.points == (DayPoint(DAY1, 100, sum(v.view_count for v in VIDEOS[DAY1])),)
    assert history.top_videos == ()


@pytest.mark.parametrize("setup", ["no-folder", "empty-folder", "other-account"])
def test_no_history_is_an_explicit_empty_result(root, setup):
    if setup != "no-folder":
        root.mkdir()
    if setup == "other-account":
        write_report(root, DAY1)
    history = load_history(root, "-000someoneElse", "someone")
    assert history == AccountHistory(open_id="-000someoneElse")
    assert not history.has_history


def test_corrupt_day_is_left_out_and_named(root):
    for day in (DAY1, DAY2, DAY3):
        write_report(root, day)
    bad = root / "2026-11-21" / "alice.csv"
    bad.write_text(bad.read_text(encoding="utf-8").replace("1500", "lots"), encoding="utf-8")
    history = load_history(root, OPEN_ID, "alice")
    assert [p.day for p in history.points] == [DAY1, DAY3]
    assert len(history.problems) == 1 and history.problems[0].startswith(f"{bad} line 4: column 'view_count'")
    assert [v.video_id for v in history.top_videos] == ["v1", "v3"]


def test_missing_summary_gives_unknown_followers(root):
    write_report(root, DAY1)
    (root / "2026-11-20" / "summary.csv").unlink()
    assert load_history(root, OPEN_ID, "alice").points == (DayPoint(DAY1, None, 1200),)


def test_each_file_is_parsed_once_and_again_only_when_it_changes(root):
    from tiktok.report.history import ParsedFiles, PARSED
    for day in (DAY1, DAY2, DAY3):
        write_report(root, day)
    before = PARSED.parses
    first = load_history(root, OPEN_ID, "alice")
    parsed_first = PARSED.parses - before
    assert parsed_first == 6  # per day: summary.csv and the account's CSV
    for open_id, username in (("bob", None), ("carol", None), (OPEN_ID, "alice")):  # more accounts, a second view
        load_history(root, open_id, username)
    assert PARSED.parses - before == parsed_first
    write_report(root, DAY2)  # rewriting a day (new mtime) is noticed
    for path in (root / DAY2.isoformat()).iterdir():
        stamp = path.stat().st_mtime + 10  # whatever the filesystem's timestamp resolution
        os.utime(path, (stamp, stamp))
    assert load_history(root, OPEN_ID, "alice") == first
    assert PARSED.parses - before == parsed_first + 2

    small = ParsedFiles(capacity=2)
    files = [root / f"{name}.txt" for name in "abc"]
    for path in files:
        path.write_text(path.stem)
        small.get(path, Path.read_text)
    assert small.parses == 3
    small.get(files[0], Path.read_text)  # evicted as the least recently used
    assert small.parses == 4
