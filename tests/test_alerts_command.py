"""``python -m tiktok alerts test`` and ``alerts status`` (issue 24), each run as a real process, against a local SMTP
server and a local webhook receiver.

- test, with the shipped defaults (only the channels set): one email and one signed webhook, built as a real event's
  delivery (kind "test", a fresh negative id) that the README's snippet verifies; a line per channel; exit 0.
- test records nothing in the store: channels that a running process had registered are not sent it again by a
  later tick, and two tests get two ids.
- A channel that is down: exit 1, its label and plain reason, the others still sent; no URL, password, token or
  secret in anything printed.
- No channel: exit 2 and a sentence naming NOTIFY_URLS and WEBHOOK_URLS, for test and status alike.
- status, after real deliveries (sent, retried, given up): each channel's counts and its last failure's reason;
  exit 1 only while a give-up is less than a day old.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiktok.alerts import webhooks
from tiktok.alerts.deliver import Alerts, channels_of
from tiktok.alerts.messages import TEST, alert_test_event, describe
from tiktok.auth.tokens import TokenStore
from tiktok.config import load_settings
from tiktok.store import events as ev
from tiktok.store.sqlite import open_sqlite
from tests.support.receivers import SMTP_PASSWORD
from tests.support.stores import make_store
from tests.test_alerts import readme_verifier

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec-alerts-command-3b9d0e6f1a2c4e7f"
HOOK_TOKEN = "hooktok-51c9e0a7d3b2"  # a token in a webhook's path, as Slack-style hooks have
NO_CHANNEL = "no alert channel is set: NOTIFY_URLS and WEBHOOK_URLS are both empty"
DAY = 86400.0


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A process's environment as a user's: the store and tokens in ``tmp_path``, every other setting as shipped."""
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
            "STORE_FILE": str(tmp_path / "tiktok.db"), "TOKENS_FILE": str(tmp_path / "user_tokens.json"), **settings}


def alerts(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiktok", "alerts", *args], cwd=env["HOME"], env=env,
                          capture_output=True, text=True, timeout=120)


def channels(smtp_server, webhook_receiver) -> dict[str, str]:
    return {"NOTIFY_URLS": smtp_server.url(), "WEBHOOK_URLS": f"{webhook_receiver.url}/hook/{HOOK_TOKEN}",
            "WEBHOOK_SECRET": SECRET}


# -- alerts test -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_test_sends_one_email_and_one_signed_webhook_that_the_readmes_snippet_verifies(
        smtp_server, webhook_receiver, tmp_path):
    done = alerts(environment(tmp_path, **channels(smtp_server, webhook_receiver)), "test")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["[emulator] email channel 1 of NOTIFY_URLS: sent",
                                        "[emulator] webhook 1 of WEBHOOK_URLS: sent"]
    (mail,) = smtp_server.wait_for(1)
    (hook,) = webhook_receiver.wait_for(1)
    assert len(smtp_server.messages) == 1 and len(webhook_receiver.requests) == 1
    assert mail.subject == "Emulated: test message from the TikTok local tool"
    assert "This is a test sent by python -m tiktok alerts test" in mail.text and "emulated mode" in mail.text
    assert mail.recipients == ("creator@example.com",)

    assert readme_verifier()(SECRET, hook.headers, hook.body)  # the receiver's own check takes it
    changed = bytearray(hook.body)
    changed[len(changed) // 2] ^= 0x01
    assert not readme_verifier()(SECRET, hook.headers, bytes(changed))
    sent = json.loads(hook.body)
    assert sent["kind"] == TEST and isinstance(sent["id"], int) and sent["id"] < 0  # never a stored event's id
    assert hook.header("X-Tiktok-Tool-Event") == str(sent["id"]) and hook.header("X-Tiktok-Tool-Kind") == TEST
    assert hook.path == f"/hook/{HOOK_TOKEN}" and hook.header("Content-Type") == "application/json; charset=utf-8"
    # built as a real event's delivery: the same fields, the same headers, the same bytes the shared builder makes
    real = ev.Event(7, "k", ev.POST_FAILED, time.time(), "open-id", 3, {})
    assert set(sent) == set(webhooks.payload(real))
    expected_headers = webhooks.signed_headers(real, b"{}", secret=SECRET, timestamp=0)
    assert {name.lower() for name in expected_headers} <= {name.lower() for name in hook.headers}
    event = alert_test_event(event_id=sent["id"], at=sent["at_epoch"], emulated=True)
    assert hook.body == webhooks.body(event) and sent["title"] == mail.subject


def test_a_test_message_says_what_it_is_and_says_emulated_only_in_emulated_mode():
    real = describe(alert_test_event(event_id=-5, at=0.0, emulated=False))
    emulated = describe(alert_test_event(event_id=-5, at=0.0, emulated=True))
    assert real.title == "Test message from the TikTok local tool" and "mulated" not in real.text
    assert "python -m tiktok alerts test" in real.body and "Nothing happened to any post or account." in real.body
    assert emulated.title.startswith("Emulated: ") and "emulated mode" in emulated.body and emulated.emulated
    assert load_settings({"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"}).tiktok.emulated is False


@pytest.mark.slow
def test_test_records_nothing_so_no_process_sends_it_again(smtp_server, webhook_receiver, tmp_path):
    env = environment(tmp_path, **channels(smtp_server, webhook_receiver))
    settings = load_settings(env)
    store = open_sqlite(settings.store_path)
    try:
        running = Alerts.from_settings(settings, store, TokenStore(settings.tokens_path))  # as the app's runner
        assert running is not None and running.tick().sent == 0

        first, second = alerts(env, "test"), alerts(env, "test")
        assert first.returncode == second.returncode == 0, first.stderr + second.stderr
        hooks = webhook_receiver.wait_for(2)
        smtp_server.wait_for(2)
        for _ in range(3):  # the running process's ticks: nothing of the tests is theirs to send
            assert running.tick().sent == 0
        assert len(smtp_server.messages) == 2 and len(webhook_receiver.requests) == 2
        ids = [json.loads(hook.body)["id"] for hook in hooks]
        assert ids[0] != ids[1] and all(each < 0 for each in ids)  # a fresh id each time
        assert store.latest_event_id() == 0 and store.events_page() == []
        assert store.delivery_counts() == {"pending": 0, "sent": 0, "gave_up": 0}
    finally:
        store.close()
    status = alerts(env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.splitlines() == [
        "[emulator] email channel 1 of NOTIFY_URLS: 0 pending, 0 sent, 0 given up",
        "[emulator] webhook 1 of WEBHOOK_URLS: 0 pending, 0 sent, 0 given up"]


@pytest.mark.slow
def test_a_channel_that_is_down_exits_1_with_its_label_and_reason_and_no_url_or_secret(
        smtp_server, webhook_receiver, tmp_path):
    dead = closed_port()
    down_mail = smtp_server.url().replace(f":{smtp_server.port}?", f":{dead}?")
    down_hook = f"http://127.0.0.1:{dead}/hook/{HOOK_TOKEN}"
    good_hook = f"{webhook_receiver.url}/hook/{HOOK_TOKEN}"
    env = environment(tmp_path, NOTIFY_URLS=f"{down_mail} {smtp_server.url()}",
                      WEBHOOK_URLS=f"{down_hook} {good_hook}", WEBHOOK_SECRET=SECRET)
    done = alerts(env, "test")

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "[emulator] email channel 1 of NOTIFY_URLS: FAILED: did not take the alert",
        "[emulator] email channel 2 of NOTIFY_URLS: sent",
        "[emulator] webhook 1 of WEBHOOK_URLS: FAILED: could not be reached (its server refused or dropped the "
        "connection, or its name did not resolve)",
        "[emulator] webhook 2 of WEBHOOK_URLS: sent"]
    assert len(smtp_server.wait_for(1)) == 1 and len(webhook_receiver.wait_for(1)) == 1  # the others still got it
    said = done.stdout + done.stderr
    for secret in (down_mail, smtp_server.url(), down_hook, good_hook, SMTP_PASSWORD, HOOK_TOKEN, SECRET, str(dead),
                   "mailto:", "http://"):
        assert secret not in said, f"{secret!r} was printed: {said}"
    assert "Traceback" not in said


@pytest.mark.slow
@pytest.mark.parametrize("action", ["test", "status"])
def test_no_channel_exits_2_with_a_sentence_naming_the_settings(action, tmp_path):
    done = alerts(environment(tmp_path), action)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (f"[emulator] error: {NO_CHANNEL}. Set NOTIFY_URLS to apprise URLs (email, Slack, "
                                   "Discord, Telegram, ntfy, ...) and/or WEBHOOK_URLS to web addresses with "
                                   "WEBHOOK_SECRET, in .env (README: Alerts and webhooks)")


# -- alerts status ---------------------------------------------------------------------------------------------------

class Clock:
    """Real time plus an offset the test sets (the store and the alerts share it); nothing sleeps."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


def give_up(alerts_: Alerts, store, channel: str, clock: Clock, *, given_up: int) -> None:
    """Tick on the retry schedule (an hour at a time) until ``channel`` has given ``given_up`` deliveries up."""
    for _ in range(40):  # 24 hours of tries, then given up: about 27 ticks
        if store.delivery_counts([channel])["gave_up"] == given_up:
            return
        clock.offset += 3601
        alerts_.tick()
    raise AssertionError(f"not given up after 40 hours: {store.delivery_counts([channel])}")


@pytest.mark.slow
def test_status_counts_each_channels_deliveries_and_says_its_last_failure(store_kind, smtp_server, webhook_receiver,
                                                                          tmp_path, request):
    clock = Clock(-3 * DAY)
    made = make_store(store_kind, tmp_path, request, clock=clock)  # SQLite, and PostgreSQL (DATABASE_URL)
    store = made.store
    dead = closed_port()
    # email is told relinks only (NOTIFY_EVENTS): a second email from one process waits out apprise's 5.5 s spacing
    env = environment(tmp_path, NOTIFY_URLS=smtp_server.url(), NOTIFY_EVENTS="account_relink",
                      WEBHOOK_URLS=f"{webhook_receiver.url}/hook http://127.0.0.1:{dead}/hook/{HOOK_TOKEN}",
                      WEBHOOK_SECRET=SECRET, **made.env)
    settings = load_settings(env)
    email, good, down = (channel.id for channel in channels_of(settings))
    try:
        sender = Alerts.from_settings(settings, store, TokenStore(settings.tokens_path), clock=clock)
        assert sender is not None
        store.record_event(ev.ACCOUNT_RELINK, "relink:ada:1", user_id="ada", data={"username": "ada.creates"})
        sender.tick()
        give_up(sender, store, down, clock, given_up=1)  # three days ago, for 24 hours: over two days ago now
        first = alerts(env, "status")

        clock.offset = -30 * 3600  # a worker went silent 30 hours ago; the webhook that is down gave it up 4 h ago
        store.record_event(ev.WORKER_SILENT, "silent:w1", data={"worker_id": 1, "name": "host:123"})
        sender.tick()
        give_up(sender, store, down, clock, given_up=2)
        clock.offset = 0.0
        store.record_event(ev.WORKER_SILENT, "silent:w2", data={"worker_id": 2, "name": "host:456"})
        webhook_receiver.answer(500)  # the good webhook fails once: its retry is due in 30 s
        sender.tick()
        assert store.delivery_counts([good]) == {"pending": 1, "sent": 2, "gave_up": 0}
        assert store.delivery_counts([email]) == {"pending": 0, "sent": 1, "gave_up": 0}
    finally:
        store.close()
    second = alerts(env, "status")

    reached = "could not be reached (its server refused or dropped the connection, or its name did not resolve)"
    assert first.returncode == 0, first.stdout + first.stderr  # given up, but over a day ago
    lines = first.stdout.splitlines()
    assert lines[:2] == ["[emulator] email channel 1 of NOTIFY_URLS: 0 pending, 1 sent, 0 given up",
                         "[emulator] webhook 1 of WEBHOOK_URLS: 0 pending, 1 sent, 0 given up"]
    assert lines[2].startswith(f"[emulator] webhook 2 of WEBHOOK_URLS: 0 pending, 0 sent, 1 given up; last failure: "
                               f"{reached}; given up at 20")
    assert len(lines) == 3

    assert second.returncode == 1, second.stdout + second.stderr  # a give-up less than a day old
    lines = second.stdout.splitlines()
    assert lines[0] == "[emulator] email channel 1 of NOTIFY_URLS: 0 pending, 1 sent, 0 given up"
    assert lines[1].startswith("[emulator] webhook 1 of WEBHOOK_URLS: 1 pending, 2 sent, 0 given up; last failure: "
                               "answered HTTP 500; next try at 20")
    assert lines[2].startswith(f"[emulator] webhook 2 of WEBHOOK_URLS: 1 pending, 0 sent, 2 given up (1 in the last "
                               f"24 hours); last failure: {reached}; next try at 20")
    assert lines[3] == ("[emulator] problem: 1 alert given up in the last 24 hours (its channel failed every try for "
                        "24 hours): fix the channel, then check it with python -m tiktok alerts test")
    assert len(lines) == 4 and len(smtp_server.messages) == 1
    said = first.stdout + first.stderr + second.stdout + second.stderr
    assert all(secret not in said for secret in (HOOK_TOKEN, SECRET, SMTP_PASSWORD, str(dead), "http://"))
