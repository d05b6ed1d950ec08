"""Where the alerts are told (issue 24), quickly and in this process; tests/test_alerts_processes.py does the same with
real processes.

- The app's runner tells its alerts after every round: a failed post is at the webhook when the round ends; a
  receiver that answers 500 does not break the round (the next round runs as usual), and the app's next round after
  the retry delay sends the same event again (same id), then never again.
- A worker's ``deliver_alerts`` task tells the worker's alerts, which the job context built once when the worker
  started (so the channels were known to the store before anything was recorded); with no channel set, the job
  context opens no store at all.
"""

from __future__ import annotations

import json

import pytest

from tiktok.config import load_settings
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.store import events as ev
from tiktok.store.base import open_store
from tiktok.store.records import entry_key
from tests.media_fixtures import make_video
from tests.support.flows import link_account

ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")
SECRET = "alerts-wiring-webhook-secret-0123456789"
WAIT_S = 30.0  # only reached when the runner is broken


def webhook_settings(webhook_receiver) -> dict[str, str]:
    return {"WEBHOOK_URLS": webhook_receiver.url + "/hook", "WEBHOOK_SECRET": SECRET}


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(processing_polls=0)])  # no status poll waits
def test_the_apps_runner_sends_after_each_round_and_a_failing_channel_never_breaks_one(
        serve_app, emulator, remote, store, oauth, webhook_receiver, tmp_path, caplog):
    from tiktok.web.post_store import store_of
    from tiktok.web.queue_runner import alerts_of, runner_of

    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    app = serve_app(MANIFEST_FILE=str(tmp_path / "none.json"), **webhook_settings(webhook_receiver))
    posts = store_of(app.flask_app)
    runner = runner_of(app.flask_app)
    alerts = alerts_of(app.flask_app)

    def round_and_alerts() -> bool:
        """A round, then the alerts' own thread's tick that its end asked for."""
        return runner.kick() is True and runner.join(WAIT_S) and alerts.join(WAIT_S)
    remote.session.post(remote.base_url + "/_emulator/posts/fail_next", json={"fail_reason": "spam_risk_text"},
                        timeout=10).raise_for_status()
    entry = {"user_id": ADA, "video_path": str(make_video(tmp_path / "clip.mp4")), "privacy": "SELF_ONLY",
             "description": "refused as spam"}
    post = posts.add(entry, key=entry_key(entry), due_at=None)
    webhook_receiver.answer(500)  # the receiver is down for the first try

    with caplog.at_level("INFO"):
        assert round_and_alerts()
        [failed] = [event for event in posts.events_page() if event.kind == ev.POST_FAILED]
        assert failed.post_id == post.id
        [first] = webhook_receiver.requests  # told as the round ended, by the alerts' thread
        assert first.status == 500 and first.header("X-Tiktok-Tool-Event") == str(failed.id)
        assert runner.rounds == 1 and "posting run failed" not in caplog.text
        assert "alert not sent" in caplog.text  # a line, and a retry later

        assert round_and_alerts()  # the next round: the retry is not due yet
        assert len(webhook_receiver.requests) == 1 and runner.rounds == 2

        app.clock.advance(31)  # the first retry comes 30 s after the failed try (the store's clock: the app's)
        assert round_and_alerts()
        second = webhook_receiver.requests[1]
        assert second.status == 200 and json.loads(second.body)["id"] == failed.id

        app.clock.advance(3600)
        assert round_and_alerts()
    assert len(webhook_receiver.requests) == 2  # sent: never again
    assert posts.delivery_counts() == {"pending": 0, "sent": 1, "gave_up": 0}


def test_the_workers_periodic_task_sends_what_is_due(webhook_receiver, tmp_path):
    from tiktok.jobs import tasks
    from tests.test_commands import job_context

    quiet = load_settings({"TOKENS_FILE": str(tmp_path / "quiet" / "t.json")})
    (tmp_path / "quiet").mkdir()
    assert tasks.deliver_alerts(job_context(quiet, "tiktok:deliver_alerts"), 0) == "alerts told"
    assert list((tmp_path / "quiet").iterdir()) == []  # no channel: no store opened, nothing made

    settings = load_settings({"TOKENS_FILE": str(tmp_path / "t.json"), **webhook_settings(webhook_receiver)})
    context = job_context(settings, "tiktok:deliver_alerts")  # the worker starting: its channels registered
    store = open_store(settings)
    try:
        event = store.record_event(ev.WORKER_SILENT, "worker-silent:test:1", data={"worker_id": 1, "name": "w:1",
                                                                                 "last_heartbeat": 0.0,
                                                                                 "silent_s": 120.0})
        assert event is not None
        assert tasks.deliver_alerts(context, 0) == "alerts told"
        [received] = webhook_receiver.requests
        assert json.loads(received.body)["id"] == event.id and received.status == 200
        assert tasks.deliver_alerts(context, 0) == "alerts told"  # sent once: the next round sends nothing
        assert len(webhook_receiver.requests) == 1
        assert store.delivery_counts() == {"pending": 0, "sent": 1, "gave_up": 0}
    finally:
        store.close()
