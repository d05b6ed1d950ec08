"""CSV injection (OWASP): text cells that could run as spreadsheet formulas get a ``'``; numbers never do; a saved
report still reads back (day-over-day change) and rewriting a day does not stack quotes."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from tiktok.report import csvfiles
from tiktok.report.csvfiles import neutralise, read_summary, read_table, render_csv, restore, write_day
from tiktok.report.snapshot import SUMMARY_COLUMNS, VIDEO_COLUMNS, AccountStats, VideoStats, summary_row, video_rows
from tests.support.reports import ADA, USERNAMES, Reporter, make_reporter

HYPERLINK = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize("text, written", [
    (HYPERLINK, "'" + HYPERLINK), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Episode 1: =fun", "Episode 1: =fun"), ("", ""), ("'quoted", "'quoted"),
    (None, None), (-3, -3), (7, 7),
])
def test_neutralise_and_restore(text, written):
    assert neutralise(text) == written
    if isinstance(text, str):
        assert restore(written) == text or text.startswith("'")  # a title already starting with ' is kept
        assert neutralise(restore(written)) == written             # write(read(write(x))) == write(x)


def cells(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_text_columns_are_neutralised_and_number_columns_never(tmp_path):
    account = AccountStats(open_id="-000AbC", username="ada", follower_count=5, following_count=1, likes_count=2,
                           video_count=1)
    earlier = AccountStats(open_id="-000AbC", username="ada", follower_count=8, following_count=1, likes_count=2,
                           video_count=1)
    video = VideoStats(video_id="71", title=HYPERLINK, create_time=1_800_000_000, duration=3, view_count=10,
                       like_count=1, comment_count=0, share_count=0)
    from tiktok.report.snapshot import Snapshot
    before = Snapshot(day=date(2027, 1, 1), account=earlier,
                      videos={"71": VideoStats(**{**video.__dict__, "view_count": 13})})
    (row,) = cells(render_csv(VIDEO_COLUMNS, video_rows(date(2027, 1, 2), account, [video], before)))
    assert row["title"] == "'" + HYPERLINK and row["open_id"] == "'-000AbC"
    assert row["view_count_change"] == "-3" and row["view_count"] == "10"
    (summary,) = cells(render_csv(SUMMARY_COLUMNS, [summary_row(date(2027, 1, 2), account, before)]))
    assert summary["follower_count_change"] == "-3" and summary["open_id"] == "'-000AbC"

    # Read back, and rewrite the day's summary with another account: the kept row's "-3" stays a number and
    # its open_id gets exactly one quote.
    day = date(2027, 1, 2)
    item = csvfiles.AccountDay(account=account, video_rows=video_rows(day, account, [video], before),
                               summary_row=summary_row(day, account, before))
    write_day(tmp_path, day, [item])
    other = AccountStats(open_id="bo", username="bo", follower_count=1, following_count=1, likes_count=1,
                         video_count=0)
    write_day(tmp_path, day, [csvfiles.AccountDay(account=other, video_rows=[], summary_row=summary_row(day, other,
                                                                                                         None))])
    rows = {r["username"]: r for r in cells((tmp_path / day.isoformat() / "summary.csv").read_bytes())}
    assert rows["ada"]["open_id"] == "'-000AbC" and rows["ada"]["follower_count_change"] == "-3"
    assert read_summary(tmp_path / day.isoformat() / "summary.csv")["-000AbC"].follower_count == 5
    videos = csvfiles.read_videos(tmp_path / day.isoformat() / "ada.csv")
    assert videos["71"].title == HYPERLINK and videos["71"].view_count == 10
    (_, raw), = read_table(tmp_path / day.isoformat() / "ada.csv", ("title",))
    assert raw["title"] == HYPERLINK and raw["view_count_change"] == "-3"


@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


def test_a_formula_title_in_the_catalogue_is_written_as_text_and_read_back_next_day(reporter, remote):
    reporter.link(ADA)
    added = remote.session.post(f"{remote.base_url}/_emulator/videos/{ADA}", json={"title": HYPERLINK}, timeout=10)
    assert added.status_code == 201, added.text
    video_id = added.json()["video"]["id"]
    name = f"{USERNAMES[ADA]}.csv"
    first = reporter.today()
    assert reporter().code == 0
    (row,) = [r for r in reporter.rows(first, name) if r["video_id"] == video_id]
    assert row["title"] == "'" + HYPERLINK and row["view_count_change"] == ""
    remote.advance_clock(86_400)
    second = reporter.today()
    result = reporter()
    assert result.code == 0, result.out + result.err
    (row,) = [r for r in reporter.rows(second, name) if r["video_id"] == video_id]
    assert row["title"] == "'" + HYPERLINK                  # one quote, not two
    assert row["previous_date"] == first.isoformat()          # the saved day was read back for the change
    assert int(row["view_count_change"]) == int(row["view_count"]) - int(
        next(r for r in reporter.rows(first, name) if r["video_id"] == video_id)["view_count"])
