"""The app's background runner (tiktok.web.queue_runner.QueueRunner): one run at a time, no kick lost, and the
posts it makes come from the store (a manifest is optional).

Real threads; the runs block on events the test controls, so nothing here sleeps or races a timer."""

from __future__ import annotations

import threading

import pytest

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.runner import RunReport
from tiktok.store.records import entry_key
from tiktok.web.queue_runner import QueueRunner
from tests.media_fixtures import make_video
from tests.support.flows import link_account

WAIT_S = 10.0  # only ever reached when the runner is broken


def gated_run():
    """A run that records its start and waits for the test to let it end."""
    started, release, calls = threading.Semaphore(0), threading.Event(), []

    def run():
        calls.append(len(calls) + 1)
        started.release()
        assert release.wait(WAIT_S), "the test never released the run"
        return RunReport(emulated=True)
    return run, started, release, calls


def test_kick_starts_one_run_and_a_kick_during_it_runs_exactly_one_more_round():
    run, started, release, calls = gated_run()
    runner = QueueRunner(run)
    assert runner.kick() is True
    assert started.acquire(timeout=WAIT_S)
    assert runner.running
    assert runner.kick() is False   # one run at a time ...
    assert runner.kick() is False   # ... and kicks while it runs fold into one more round
    release.set()
    assert runner.join(WAIT_S)
    assert calls == [1, 2]
    assert runner.rounds == 2
    assert not runner.running


def test_a_run_that_raises_is_logged_and_later_kicks_still_run(caplog):
    calls = []

    def run():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("manifest vanished")
        return RunReport()
    runner = QueueRunner(run)
    assert runner.kick() is True
    assert runner.join(WAIT_S)
    assert "posting run failed" in caplog.text
    assert runner.kick() is True
    assert runner.join(WAIT_S)
    assert len(calls) == 2 and runner.rounds == 2


def test_tick_kicks_until_stopped():
    kicked = threading.Semaphore(0)
    runner = QueueRunner(lambda: kicked.release())
    assert runner.start_tick(0) is None  # 0 is off
    thread = runner.start_tick(0.001)
    for _ in range(3):
        assert kicked.acquire(timeout=WAIT_S)
    runner.stop()
    thread.join(WAIT_S)
    assert not thread.is_alive()


def test_the_apps_runner_is_quiet_when_there_is_no_manifest_yet(serve_app, tmp_path, caplog):
    from tiktok.web.queue_runner import runner_of
    app = serve_app(MANIFEST_FILE=str(tmp_path / "none-yet.json"))
    runner = runner_of(app.flask_app)
    with caplog.at_level("INFO", logger="tiktok.web.queue_runner"):
        runner.kick()
        assert runner.join(WAIT_S)
    assert runner.rounds == 1 and "failed" not in caplog.text and "nothing to do" in caplog.text
    assert not (tmp_path / "none-yet.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(processing_polls=0)])  # no status poll waits
def test_the_apps_runner_posts_a_post_composed_in_the_app_with_no_manifest(serve_app, emulator, remote, store,
                                                                            oauth, tmp_path):
    from tiktok.web.post_store import store_of
    from tiktok.web.queue_runner import runner_of
    ada = default_users()[0].open_id
    link_account(emulator.url, store, oauth, ada, scopes=("user.info.basic", "video.publish", "video.upload"))
    entry = {"user_id": ada, "video_path": str(make_video(tmp_path / "clip.mp4")), "privacy": "SELF_ONLY"}
    app = serve_app(MANIFEST_FILE=str(tmp_path / "none-yet.json"))
    posts = store_of(app.flask_app)
    post = posts.add(entry, key=entry_key(entry), due_at=None)  # what the composer does
    runner = runner_of(app.flask_app)
    assert runner.kick() is True and runner.join(WAIT_S)
    done = posts.get(post.id)
    assert (done.state, done.origin) == ("posted", "app")
    (emulated,) = remote.state()["posts"]
    assert emulated["publish_id"] == done.record.publish_id
    assert runner.kick() is True and runner.join(WAIT_S)  # the next round leaves it alone
    assert len(remote.state()["posts"]) == 1
