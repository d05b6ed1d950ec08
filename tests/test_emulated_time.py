"""Emulated time moves together (issue 27, item 7): in emulated mode the commands, the post store and the app go by
the emulator's clock (tiktok.clock), so moving it a day on writes the next day's report, draws a second point on the
Stats page and makes tomorrow's post due. Real processes run the commands as a user runs them: no clock injected."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tiktok.clock import EmulatorClock, clock_for, emulator_clock
from tiktok.config import load_settings
from tiktok.web.app import create_app
from tiktok.web.queue_runner import EXTENSION
from tests.support.reports import ADA, Reporter, make_reporter
from tests.test_schedule import Queue, at, video
from tests.test_stats_page import chart, section

ROOT = Path(__file__).resolve().parents[1]
DAY_S = 86_400


class Steps:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def day_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).date().isoformat()


def eventually(check, timeout_s: float = 10.0):
    """``check()`` once it is truthy, polled until ``timeout_s`` (the clocks relearn each second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# -- the clock itself -----------------------------------------------------------------------------------------------

def test_the_emulator_clock_is_asked_once_a_second_at_most_and_follows_an_advance(emulator, remote):
    steps = Steps()
    clock = EmulatorClock(emulator.url, monotonic=steps)
    first = [clock() for _ in range(1000)]  # a hot loop: one request, then additions
    assert clock.asked == 1 and abs(first[-1] - remote.clock()["now"]) < 2
    remote.advance_clock(DAY_S)
    assert clock() - time.time() < 60  # within the cached second: the old offset, no new request
    steps.now = 1.0  # RELEARN_S passed
    assert abs(clock() - remote.clock()["now"]) < 2 and clock.asked == 2
    assert DAY_S - 2 < clock.offset < DAY_S + 2


def test_real_mode_keeps_the_machines_clock_and_a_base_without_an_emulator_is_asked_once(emulator):
    real = load_settings({"TIKTOK_CLIENT_KEY": "key", "TIKTOK_CLIENT_SECRET": "secret"})
    assert not real.tiktok.emulated and clock_for(real) is time.time  # never the emulator's in real mode
    emulated = load_settings({"TIKTOK_API_BASE": emulator.url})
    assert clock_for(emulated) is emulator_clock(emulator.url)  # one per address, shared
    steps = Steps()
    proxy = EmulatorClock(emulator.url + "/not-the-emulator", monotonic=steps)  # answers 404
    assert abs(proxy() - time.time()) < 2
    steps.now = 100.0
    proxy()
    assert proxy.asked == 1  # a 404 means no emulator there: never asked again
    gone = EmulatorClock("http://127.0.0.1:9", monotonic=steps)  # nothing listens: the machine's time, asked later
    assert abs(gone() - time.time()) < 2 and gone.asked == 1


# -- the report and the Stats page ----------------------------------------------------------------------------------

@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


def run_command(args: list[str], env: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    """``python -m tiktok ARGS`` as a user runs it (its own process; the clock is the one it ships with)."""
    full = {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=folder, env=full, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_advancing_the_emulator_a_day_writes_the_next_days_report_and_the_stats_page_draws_two_points(
        reporter, emulator, remote, serve_app, tmp_path):
    reporter.link(ADA)
    env = {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(reporter.tokens_path),
           "REPORTS_DIR": str(reporter.reports)}
    first = day_of(remote.clock()["now"])
    before = run_command(["report"], env, tmp_path)
    assert before.returncode == 0, before.stdout + before.stderr
    remote.advance_clock(DAY_S)
    second = day_of(remote.clock()["now"])
    after = run_command(["report"], env, tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert sorted(p.name for p in reporter.reports.iterdir()) == [first, second]  # not today's twice
    summary = reporter.rows(datetime.fromisoformat(second).date(), "summary.csv")
    assert summary[0]["previous_date"] == first

    page = serve_app(REPORTS_DIR=str(reporter.reports)).client().get("/stats/")
    values, lines = chart(section(page.text, ADA), "followers")
    assert [value.split("=")[0] for value in values.split(",")] == [first, second]
    assert len(lines) == 1 and len(lines[0].split()) == 2  # a line through two points


# -- the schedule ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_post_for_tomorrow_is_made_once_the_emulators_clock_passes_it(tmp_path, emulator, remote):
    queue = Queue(tmp_path, emulator, users=(ADA,))
    tomorrow = remote.clock()["now"] + DAY_S
    queue.write([video(post_at=at(tomorrow), description="tomorrow")])
    env = {**queue.env(), "MANIFEST_FILE": str(queue.manifest)}
    early = run_command(["post", "--poll-interval", "0.01"], env, queue.folder)
    assert early.returncode == 0 and remote.state()["posts"] == [], early.stdout + early.stderr
    assert "1 scheduled" in early.stdout
    remote.advance_clock(DAY_S + 60)
    due = run_command(["post", "--poll-interval", "0.01"], env, queue.folder)
    assert due.returncode == 0, due.stdout + due.stderr
    (made,) = remote.state()["posts"]
    assert made["post_info"]["title"] == "tomorrow"
    again = run_command(["post", "--poll-interval", "0.01"], env, queue.folder)
    assert again.returncode == 0 and len(remote.state()["posts"]) == 1  # made once


@pytest.mark.slow
def test_the_apps_runner_makes_tomorrows_post_once_the_emulators_clock_passes_it(tmp_path, emulator, remote):
    queue = Queue(tmp_path, emulator, users=(ADA,))
    queue.write([video(post_at=at(remote.clock()["now"] + DAY_S), description="tomorrow, by the app")])
    app = create_app({**queue.env(), "MANIFEST_FILE": str(queue.manifest), "MEDIA_DIR": str(tmp_path / "media")})
    world, machine = app.config["WORLD_CLOCK"], app.config["CLOCK"]
    runner = app.extensions[EXTENSION]
    runner.kick()
    assert runner.join(60) and runner.rounds == 1
    assert remote.state()["posts"] == [] and queue.post().state == "queued"  # imported, not due yet
    remote.advance_clock(DAY_S + 60)
    assert eventually(lambda: abs(world() - remote.clock()["now"]) < 5)  # the composer's and runner's now
    assert abs(machine() - time.time()) < 5  # leases and sign-in windows keep the machine's
    runner.kick()
    assert runner.join(60) and runner.rounds == 2
    (made,) = remote.state()["posts"]
    assert made["post_info"]["title"] == "tomorrow, by the app" and queue.post().state == "posted"
