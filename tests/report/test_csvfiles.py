"""Report files on disk: three days end to end, atomic same-day rewrites, and corrupt earlier files."""

from __future__ import annotations

import csv
import os
from dataclasses import replace
from pathlib import Path

import pytest

from tests.report.days import DAY1, DAY2, DAY3, OPEN_ID, VIDEOS, account, write_report
from tiktok.errors import TikTokError
from tiktok.report.csvfiles import (
    SUMMARY_COLUMNS,
    VIDEO_COLUMNS,
    AccountDay,
    ReportFileError,
    account_file_name,
    build_account_day,
    load_previous,
    previous_day_with_data,
    read_summary,
    read_videos,
    safe_name,
    write_day,
)
from tiktok.report.snapshot import AccountStats, summary_row

CHANGES = ("view_count_change", "like_count_change", "comment_count_change", "share_count_change")
ACCOUNT_CHANGES = ("follower_count_change", "following_count_change", "likes_count_change", "video_count_change")


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "reports"


def test_three_days_write_exact_counts_and_changes(root):
    for day in (DAY1, DAY2, DAY3):
        assert write_report(root, day) == [root / day.isoformat() / "alice.csv", root / day.isoformat() / "summary.csv"]
    header, day1 = read_csv(root / "2026-11-20" / "alice.csv")
    assert tuple(header) == VIDEO_COLUMNS
    assert [(r["video_id"], r["view_count"], *(r[c] for c in CHANGES)) for r in day1] == [
        ("v2", "200", "", "", "", ""), ("v1", "1000", "", "", "", "")]
    _, day2 = read_csv(root / "2026-11-21" / "alice.csv")
    assert [(r["video_id"], *(r[c] for c in CHANGES), r["previous_date"]) for r in day2] == [
        ("v3", "", "", "", "", ""),
        ("v2", "60", "2", "0", "1", "2026-11-20"),
        ("v1", "500", "20", "3", "1", "2026-11-20")]
    _, day3 = read_csv(root / "2026-11-22" / "alice.csv")
    assert [(r["video_id"], r["view_count"], *(r[c] for c in CHANGES)) for r in day3] == [
        ("v3", "90", "50", "5", "2", "1"), ("v1", "1600", "100", "1", "1", "0")]
    summaries = [read_csv(root / d.isoformat() / "summary.csv") for d in (DAY1, DAY2, DAY3)]
    assert tuple(summaries[0][0]) == SUMMARY_COLUMNS
    assert [[r[c] for c in ("follower_count", *ACCOUNT_CHANGES)] for _, (r,) in summaries] == [
        ["100", "", "", "", ""], ["130", "30", "1", "60", "1"], ["125", "-5", "0", "40", "-1"]]


def test_files_round_trip_into_snapshot_types(root):
    write_report(root, DAY2)
    videos = read_videos(root / "2026-11-21" / "alice.csv")
    assert videos == {v.video_id: v for v in VIDEOS[DAY2]}  # titles with commas and quotes survive
    assert read_summary(root / "2026-11-21" / "summary.csv") == {OPEN_ID: account(DAY2)}


def test_change_spans_a_gap_and_names_the_previous_date(root):
    write_report(root, DAY1)
    write_report(root, DAY3)  # cron missed DAY2
    _, rows = read_csv(root / "2026-11-22" / "alice.csv")
    assert [(r["video_id"], r["view_count_change"], r["previous_date"]) for r in rows] == [
        ("v3", "", ""), ("v1", "600", "2026-11-20")]


def test_rerunning_a_day_replaces_only_that_day_and_leaves_no_temp_files(root):
    for day in (DAY1, DAY2, DAY3):
        write_report(root, day)
    before = all_files(root)
    changed = [replace(v, view_count=1700) if v.video_id == "v1" else v for v in VIDEOS[DAY2]]
    write_day(root, DAY2, [build_account_day(root, DAY2, account(DAY2), changed)])
    after = all_files(root)
    assert sorted(after) == sorted(before)  # same files, no '.alice.csv.*.tmp' left over
    assert [name for name in after if after[name] != before[name]] == ["2026-11-21/alice.csv"]
    _, rows = read_csv(root / "2026-11-21" / "alice.csv")
    assert rows[2]["view_count"] == "1700" and rows[2]["view_count_change"] == "700"


def test_failed_write_keeps_the_old_file_and_removes_its_temp(root, monkeypatch):
    write_report(root, DAY1)
    before = all_files(root)

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_report(root, DAY1, username="alice")
    assert all_files(root) == before


def test_summary_keeps_other_accounts_rows_from_an_earlier_run_that_day(root):
    bob = AccountStats("-000bobOpenId", "bob", 7, 1, 9, 0)
    write_day(root, DAY1, [build_account_day(root, DAY1, bob, []), build_account_day(root, DAY1, account(DAY1), [])])
    write_report(root, DAY1)  # e.g. `report --account alice` later the same day
    summary = read_summary(root / "2026-11-20" / "summary.csv")
    assert summary == {bob.open_id: bob, OPEN_ID: account(DAY1)}
    assert read_csv(root / "2026-11-20" / "bob.csv")[1] == []  # header only: no videos


def test_accounts_sharing_a_file_name_are_refused(root):
    one, two = AccountStats("a", "Sam", 1, 1, 1, 0), AccountStats("b", "sam", 1, 1, 1, 0)
    days = [AccountDay(a, [], summary_row(DAY1, a, None)) for a in (one, two)]
    with pytest.raises(ValueError, match="Sam.csv"):
        write_day(root, DAY1, days)
    assert not (root / "2026-11-20" / "summary.csv").exists()


def test_previous_day_with_data_skips_days_without_the_account(root):
    write_report(root, DAY1)
    other = AccountStats("-000other", "other", 1, 1, 1, 0)
    write_day(root, DAY2, [build_account_day(root, DAY2, other, [])])
    (root / "notes").mkdir()
    (root / "2026-13-01").mkdir()  # looks like a day but is not one
    assert previous_day_with_data(root, DAY3, OPEN_ID, "alice") == DAY1
    assert previous_day_with_data(root, DAY1, OPEN_ID, "alice") is None
    assert previous_day_with_data(root, DAY3, "-000nobody") is None
    assert previous_day_with_data(root / "missing", DAY3, OPEN_ID) is None


def test_account_found_by_open_id_file_once_username_becomes_known(root):
    write_report(root, DAY1, username=None)
    assert (root / "2026-11-20" / "_000aliceOpenIdExample.csv").is_file()
    previous = load_previous(root, DAY2, OPEN_ID, "alice")
    assert previous is not None and previous.day == DAY1 and set(previous.videos) == {"v1", "v2"}


@pytest.mark.parametrize("text, expected", [
    ("alice", "alice"),
    ("a.li_ce.01", "a.li_ce.01"),
    ("../../etc/passwd", "_._.._etc_passwd"),
    (".hidden", "_hidden"),
    ("-rf", "_rf"),
    ("trailing.", "trailing"),
    ("naïve user/😀", "na_ve_user__"),
    ("summary", ""),
    ("SUMMARY", ""),
    ("con", ""),
    ("x" * 300, "x" * 100),
])
def test_safe_name(text, expected):
    assert safe_name(text) == expected


@pytest.mark.parametrize("open_id, username, expected", [
    ("-000abc", "alice", "alice.csv"),
    ("-000abc", None, "_000abc.csv"),
    ("-000abc", "", "_000abc.csv"),
    ("-000abc", "summary", "_000abc.csv"),  # never clobbers summary.csv
])
def test_account_file_name(open_id, username, expected):
    assert account_file_name(open_id, username) == expected


GOOD = ",".join(VIDEO_COLUMNS) + "\r\n"
ROW = "2026-11-20,{oid},alice,v1,t,2025-11-20T00:53:20Z,30,{views},5,1,0,,,,,\r\n"


@pytest.mark.parametrize("content, line, reason", [
    (b"", 1, "has no header line"),
    (b"date,open_id\r\n", 1, "header lacks column(s) username"),
    ((GOOD + ROW.format(oid=OPEN_ID, views=10) + ROW.format(oid=OPEN_ID, views="ten")).encode(), 3,
     "column 'view_count' is not a whole number: 'ten'"),
    ((GOOD + ROW.format(oid=OPEN_ID, views=10)[:40] + "\r\n").encode(), 2, "has 4 fields where the header has 16"),
    ((GOOD + ROW.format(oid=OPEN_ID, views=10)).encode() + b"\xff\xfe,\r\n", 3, "is not UTF-8 text"),
    ((GOOD + ROW.format(oid=OPEN_ID, views=10)).encode() + b'v2,"unterminated', 3, "is not valid CSV"),
], ids=["empty", "short-header", "bad-number", "truncated-row", "not-utf8", "open-quote"])
def test_corrupt_previous_csv_gives_typed_error_naming_file_and_line(root, content, line, reason):
    write_report(root, DAY1)
    bad = root / "2026-11-20" / "alice.csv"
    bad.write_bytes(content)
    with pytest.raises(ReportFileError) as caught:
        build_account_day(root, DAY2, account(DAY2), VIDEOS[DAY2])
    assert isinstance(caught.value, TikTokError)
    assert (caught.value.path, caught.value.line) == (str(bad), line)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{bad} line {line}: ")


def test_corrupt_previous_summary_is_reported_too(root):
    write_report(root, DAY1)
    summary = root / "2026-11-20" / "summary.csv"
    summary.write_text(summary.read_text().replace("100", "1e2"), encoding="utf-8")
    with pytest.raises(ReportFileError, match=r"summary.csv line 2: column 'follower_count'"):
        build_account_day(root, DAY2, account(DAY2), VIDEOS[DAY2])


def test_corrupt_summary_of_the_same_day_stops_the_rewrite_before_any_file_changes(root):
    write_report(root, DAY1)
    summary = root / "2026-11-20" / "summary.csv"
    summary.write_bytes(b"date\r\n")
    before = all_files(root)
    with pytest.raises(ReportFileError, match="summary.csv line 1: header lacks"):
        write_report(root, DAY1)
    assert all_files(root) == before
