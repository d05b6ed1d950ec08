"""``python -m tiktok report`` in-process against the emulator on loopback: exact counts and changes over three
emulated days, re-runs, relink, 429s, skipped accounts, dates and arguments."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
import requests

from tiktok.auth.access import call_with_token
from tiktok.api import STATS_USER_FIELDS
from tiktok.auth.oauth import OAuthClient
from tiktok.report.snapshot import ACCOUNT_COUNTS, VIDEO_COUNTS, iso_utc
from tiktok.words import WORDS
from tests.support.reports import ADA, BO, CY, USERNAMES, Reporter, make_reporter

DAY_S = 86_400


@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


def catalogue(remote, open_id: str) -> dict:
    """The emulator's own view of the account today: every video with every field, and the user stats."""
    return remote.session.get(f"{remote.base_url}/_emulator/videos/{open_id}", timeout=10).json()


def user_info_stats(reporter, open_id: str) -> dict:
    emulator = reporter.emulator
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    fields = ",".join(STATS_USER_FIELDS)
    def call(token: str) -> dict:
        response = requests.get(f"{emulator.url}/v2/user/info/", params={"fields": fields},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return response.json()["data"]["user"]
    return call_with_token(reporter.store, oauth, open_id, call)


def expected_change(today: dict, before: dict | None, name: str) -> str:
    return "" if before is None else str(today[name] - before[name])


@pytest.mark.slow
def test_three_emulated_days_match_the_emulator_exactly(reporter, remote):
    for open_id in (ADA, BO, CY):
        reporter.link(open_id)
    truth = []  # (day, {open_id: catalogue view}) per emulated day
    for index in range(3):
        if index:
            remote.advance_clock(DAY_S)
        day = reporter.today()
        result = reporter("--date", day.isoformat())
        assert result.code == 0, result.out + result.err
        views = {open_id: catalogue(remote, open_id) for open_id in (ADA, BO, CY)}
        assert {v["day"] for v in views.values()} == {(day - date(1970, 1, 1)).days}  # the same day as the files
        truth.append((day, views))
        assert "DONE" in result.line(ADA) and f"{len(views[ADA]['videos'])} videos" in result.line(ADA)
    assert views[ADA]["stats"] == user_info_stats(reporter, ADA)  # the control view is what user info returns
    assert len(truth[0][1][ADA]["videos"]) == 25  # more than one 20-video page
    for index, (day, views) in enumerate(truth):
        before_day, before = truth[index - 1] if index else (None, None)
        for open_id in (ADA, BO, CY):
            check_videos(reporter.rows(day, f"{USERNAMES[open_id]}.csv"), day, views[open_id],
                         before[open_id] if before else None, before_day)
        check_summary(reporter.rows(day, "summary.csv"), day, views, before, before_day)
    # counts really grew, so the changes checked above are not all zero
    assert int(reporter.rows(truth[2][0], "ada.creates.csv")[0]["view_count_change"]) > 0


def check_videos(rows, day, view, before, before_day):
    earlier = {v["id"]: v for v in before["videos"]} if before else {}
    assert [r["video_id"] for r in rows] == [v["id"] for v in view["videos"]]  # all of them, newest first
    for row, video in zip(rows, view["videos"]):
        old = earlier.get(video["id"])
        assert row["date"] == day.isoformat() and row["open_id"] == view["open_id"]
        assert row["title"] == video["title"] and row["duration"] == str(video["duration"])
        assert row["create_time"] == iso_utc(video["create_time"])
        for name in VIDEO_COUNTS:
            assert row[name] == str(video[name])
            assert row[f"{name}_change"] == expected_change(video, old, name)
        assert row["previous_date"] == (before_day.isoformat() if old else "")


def check_summary(rows, day, views, before, before_day):
    by_id = {row["open_id"]: row for row in rows}
    assert set(by_id) == {ADA, BO, CY}
    for open_id, view in views.items():
        row = by_id[open_id]
        assert row["username"] == USERNAMES[open_id] and row["date"] == day.isoformat()
        for name in ACCOUNT_COUNTS:
            assert row[name] == str(view["stats"][name])
            assert row[f"{name}_change"] == expected_change(view["stats"], before[open_id]["stats"] if before
                                                            else None, name)
        assert row["previous_date"] == (before_day.isoformat() if before else "")


@pytest.mark.slow
def test_rerun_replaces_that_days_files_for_the_accounts_reported_only(reporter, remote):
    reporter.link(ADA)
    reporter.link(BO)
    first_day = reporter.today()
    assert reporter().code == 0
    remote.advance_clock(DAY_S)
    day = reporter.today()
    assert reporter("--date", day.isoformat()).code == 0
    folder = reporter.reports / day.isoformat()
    untouched = {p: p.read_bytes() for p in [*(reporter.reports / first_day.isoformat()).iterdir(),
                                              folder / "ada.creates.csv"]}
    remote.session.post(f"{remote.base_url}/_emulator/videos/{BO}", json={"title": "New one"}, timeout=10)
    result = reporter("--date", day.isoformat(), "--account", BO)
    assert result.code == 0 and ADA not in result.out
    rows = reporter.rows(day, "bo_tests.csv")
    assert rows[0]["title"] == "New one" and rows[0]["view_count_change"] == ""  # new since yesterday
    assert len(rows) == 4
    assert {p: p.read_bytes() for p in untouched} == untouched
    summary = {r["open_id"]: r for r in reporter.rows(day, "summary.csv")}
    assert set(summary) == {ADA, BO} and summary[BO]["video_count"] == "4" and summary[BO]["video_count_change"] == "1"
    assert sorted(p.name for p in folder.iterdir()) == ["ada.creates.csv", "bo_tests.csv", "summary.csv"]


def test_relink_needed_account_is_skipped_and_exit_3_after_the_others(reporter, remote):
    reporter.link(ADA)
    reporter.link(BO)
    remote.revoke_user(ADA)
    result = reporter()
    assert result.code == 3
    assert result.line(ADA).startswith("[emulator] RELINK")  # plain words first, TikTok's code in a trailing part
    assert f": {WORDS['invalid_grant']} (code invalid_grant; " in result.line(ADA)
    assert result.line(BO).startswith("[emulator] DONE")
    folder = reporter.reports / reporter.today().isoformat()
    assert sorted(p.name for p in folder.iterdir()) == ["bo_tests.csv", "summary.csv"]
    assert [r["open_id"] for r in reporter.rows(reporter.today(), "summary.csv")] == [BO]
    assert reporter.store.get(ADA).relink_reason  # remembered: the next run does not ask TikTok again
    assert reporter().code == 3


@pytest.mark.parametrize("faults, retry_after, code, sleeps", [
    (2, None, 0, 2),       # retried with backoff, then the page came
    (4, None, 4, 3),       # still 429 after 4 attempts: try later
    (1, 3600.0, 4, 0),     # TikTok asks for longer than we wait: try later at once
])
def test_429_from_the_display_api_is_retried_then_reported_as_try_later(reporter, remote, faults, retry_after,
                                                                        code, sleeps):
    reporter.link(ADA)
    reporter.link(BO)  # BO's open_id sorts first, so its first list call meets the faults
    remote.inject_fault("/v2/video/list/", status=429, error="rate_limit_exceeded", times=faults,
                        retry_after=retry_after)
    result = reporter("--jobs", "1")  # one account after another, so BO's calls meet the faults first
    assert result.code == code, result.out
    assert len(reporter.sleeps) == sleeps
    assert all(1.5 * 2 ** i <= s <= 2.5 * 2 ** i for i, s in enumerate(reporter.sleeps))  # 2 s doubling, +-25 % jitter
    assert result.line(ADA).startswith("[emulator] DONE")
    bo_file = reporter.reports / reporter.today().isoformat() / "bo_tests.csv"
    if code == 0:
        assert result.line(BO).startswith("[emulator] DONE") and bo_file.exists()
    else:
        assert result.line(BO).startswith("[emulator] TRY LATER") and "rate_limit_exceeded" in result.line(BO)
        assert not bo_file.exists()


@pytest.mark.slow
def test_accounts_read_in_parallel_write_the_same_files_and_lines_as_one_at_a_time(reporter, tmp_path):
    for open_id in (ADA, BO, CY):
        reporter.link(open_id)
    day = reporter.today().isoformat()
    results, files = {}, {}
    for jobs in ("1", "4"):
        reporter.reports = tmp_path / f"reports-{jobs}"
        results[jobs] = reporter("--jobs", jobs)
        assert results[jobs].code == 0, results[jobs].out
        folder = reporter.reports / day
        files[jobs] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert files["1"] == files["4"] and len(files["4"]) == 4  # three accounts' CSVs and the summary
    lines = {jobs: [line.replace(f"reports-{jobs}", "reports") for line in r.out.splitlines() if "DONE" in line]
             for jobs, r in results.items()}
    assert lines["1"] == lines["4"] and len(lines["4"]) == 3  # same order: by open_id, whatever ended first


@pytest.mark.parametrize("value", ["0", "33", "x"])
def test_a_bad_jobs_value_is_a_usage_error(reporter, value):
    reporter.link(ADA)
    result = reporter("--jobs", value)
    assert result.code == 2
    assert "--jobs" in result.err
    assert not reporter.reports.exists()


def test_account_of_the_other_environment_is_skipped(reporter):
    reporter.link(ADA)
    reporter.link(BO)
    with reporter.store.transaction() as accounts:
        accounts[BO] = replace(accounts[BO], emulated=False)  # linked through real TikTok
    result = reporter()
    assert result.code == 0
    assert result.line(BO).startswith("[emulator] SKIPPED") and "linked through TikTok" in result.line(BO)
    assert not (reporter.reports / reporter.today().isoformat() / "bo_tests.csv").exists()


def test_without_the_stats_scope_videos_are_written_but_no_summary_row(reporter):
    reporter.link(ADA)
    reporter.link(BO, scopes=("user.info.basic", "user.info.profile", "video.list"))
    result = reporter()
    assert result.code == 0 and "user.info.stats not granted" in result.line(BO)
    assert len(reporter.rows(reporter.today(), "bo_tests.csv")) == 3
    assert [r["open_id"] for r in reporter.rows(reporter.today(), "summary.csv")] == [ADA]


def test_backfill_of_yesterday_only_when_nothing_was_saved_since(reporter):
    reporter.link(ADA)
    yesterday = reporter.today() - timedelta(days=1)
    result = reporter("--date", yesterday.isoformat())
    assert result.code == 0 and "back-filled with the counts of now" in result.line(ADA)
    assert reporter.rows(yesterday, "ada.creates.csv")[0]["date"] == yesterday.isoformat()
    assert reporter().code == 0  # today compares with the back-filled day
    again = reporter("--date", yesterday.isoformat())
    assert again.code == 2 and again.line(ADA).startswith("[emulator] BAD INPUT")
    assert f"already has a report for {yesterday}" in again.line(ADA)


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--date", "+1"], "is after today"),
    (["--date", "-2"], "keeps no history"),
    (["--date", "2026-13-01"], "is not a date"),
    (["--s3-uri", "http://bucket/x"], "must start with s3://"),
    (["--s3-uri", "s3://A_b"], "is invalid"),
    (["--account", "no-such-open-id"], "no account with open_id"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_exit_2_and_write_nothing(reporter, args, message):
    reporter.link(ADA)
    if args[0] == "--date" and args[1][0] in "+-":
        args = ["--date", (reporter.today() + timedelta(days=int(args[1]))).isoformat()]
    result = reporter(*args)
    assert result.code == 2
    assert message in result.err
    assert not reporter.reports.exists()


def test_help_documents_exit_codes_dates_and_cron(reporter):
    result = reporter("--help")
    assert result.code == 0
    for text in ("exit codes", "3 an account must be linked again", "4 a temporary failure", "keeps no history",
                 "crontab", "--s3-uri", "--s3-endpoint-url", "REPORTS_DIR", "REPORTS_S3_URI"):
        assert text in result.out


def test_no_accounts_says_so(reporter):
    result = reporter()
    assert result.code == 0 and "no connected accounts" in result.out
