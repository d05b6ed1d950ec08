"""The Stats page served on loopback: charts drawn from report files the real command wrote, and plain words when
an account has no history."""

from __future__ import annotations

import re
from datetime import date

import pytest
from markupsafe import Markup

from tiktok.web.stats import line_chart
from tests.support.reports import ADA, BO, Reporter, make_reporter

DAY_S = 86_400


@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


def section(page: str, open_id: str) -> str:
    """The page's part about one account."""
    start = page.index(f'<section class="stats-account" data-open-id="{open_id}">')
    return page[start:page.index("</section>", start)]


def chart(html: str, series: str) -> tuple[str, list[str]]:
    """A chart's ``data-values`` and the point lists of its polylines."""
    svg = re.search(rf'<svg [^>]*data-series="{series}"[^>]*>.*?</svg>', html, re.DOTALL).group(0)
    values = re.search(r'data-values="([^"]*)"', svg).group(1)
    return values, re.findall(r'<polyline [^>]*points="([^"]*)"', svg)


@pytest.mark.slow
def test_chart_and_top_videos_come_from_the_saved_history(reporter, remote, serve_app):
    reporter.link(ADA)
    reporter.link(BO)
    days = []
    for index in range(3):
        if index:
            remote.advance_clock(DAY_S)
        days.append(reporter.today())
        assert reporter("--date", days[-1].isoformat(), "--account", ADA).code == 0  # BO never reported
    web = serve_app(REPORTS_DIR=str(reporter.reports)).client()
    page = web.get("/stats/")
    assert page.status_code == 200 and 'id="nav-stats"' in page.text
    ada = section(page.text, ADA)

    followers = [reporter.rows(day, "summary.csv")[0]["follower_count"] for day in days]
    views = [sum(int(r["view_count"]) for r in reporter.rows(day, "ada.creates.csv")) for day in days]
    values, lines = chart(ada, "followers")
    assert values == ",".join(f"{day}={n}" for day, n in zip(days, followers))
    assert len(lines) == 1 and len(lines[0].split()) == 3  # one line through three days
    values, lines = chart(ada, "total-views")
    assert values == ",".join(f"{day}={n}" for day, n in zip(days, views))
    assert len(lines[0].split()) == 3 and len(set(lines[0].split())) == 3  # views grew every day

    latest = reporter.rows(days[-1], "ada.creates.csv")
    best = max(latest, key=lambda r: (int(r["view_count_change"]), int(r["view_count"])))
    shown = re.findall(r'<tr data-video-id="(\d+)">', ada)
    assert len(shown) == 10 and shown[0] == best["video_id"]
    assert f"Top videos by daily views on {days[-1]}" in ada

    bo = section(page.text, BO)
    assert "No saved reports for this account yet" in bo and f"python -m tiktok report --account {BO}" in bo
    assert "<svg" not in bo


def test_without_accounts_the_page_says_how_to_start(serve_app, tmp_path):
    web = serve_app(REPORTS_DIR=str(tmp_path / "none-yet")).client()
    page = web.get("/stats/")
    assert page.status_code == 200
    assert "No accounts connected yet" in page.text and "python -m tiktok report" in page.text


def test_a_missing_day_breaks_the_line_and_a_flat_series_is_still_drawn():
    broken = line_chart("followers", [(date(2026, 11, 20), 10), (date(2026, 11, 21), None),
                                      (date(2026, 11, 22), 30), (date(2026, 11, 23), 40)])
    assert isinstance(broken, Markup)
    assert re.findall(r'points="([^"]*)"', broken) and len(re.findall("<polyline", broken)) == 2
    assert 'data-values="2026-11-20=10,2026-11-21=,2026-11-22=30,2026-11-23=40"' in broken
    assert broken.count("<circle") == 3
    flat = line_chart("followers", [(date(2026, 11, 20), 5), (date(2026, 11, 21), 5)])
    ys = {point.split(",")[1] for point in re.search(r'points="([^"]*)"', flat).group(1).split()}
    assert len(ys) == 1
    assert "no values saved" in line_chart("followers", [(date(2026, 11, 20), None)])
