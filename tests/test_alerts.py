"""Alerts end to end (issue 24): posts made for real against the emulator by the posting run, a real post store,
real email through apprise to a local SMTP server, and real signed webhooks to a local receiver.

- The shipped defaults (only the channels set): a failed post, a relink, a published post and a late public link
  each give exactly one email and one webhook, however many ticks run.
- A receiver answering 500, 500, then 200 gets the event on the third try with the same event id, on the back-off
  schedule (an injected clock; nothing sleeps).
- A channel that is down (refused, or accepting and never answering) does not stop the others, and a tick stays
  within its channels' timeouts.
- A post stuck in flight and a refresh token running out are noticed once each.
- No password, token or secret reaches a log line, a stored error, an email or a webhook.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import requests

from tiktok.alerts import webhooks
from tiktok.alerts.channels import WebhookChannel
from tiktok.alerts.deliver import Alerts
from tiktok.alerts.messages import EMULATED
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.config import load_settings
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store import events as ev
from tiktok.store.records import State
from tiktok.store.sqlite import open_sqlite
from tests.conftest import OffsetClock as Clock  # real time plus an offset the test moves; nothing sleeps
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import EmulatedTime
from tests.support.queue_workers import queue_post
from tests.support.receivers import SMTP_PASSWORD

ADA_USER, BO_USER, _ = default_users()
ADA, BO = ADA_USER.open_id, BO_USER.open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")
SECRET = "whsec-5f0c1d7e9a2b4c6d8e0f1a3b5c7d9e1f"
HOOK_TOKEN = "hooktok-8c1e4a7b2d9f"  # a token in the webhook's path, as Slack-style hooks have
MODERATION_S = 600.0


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # a post's first status fetch is final: runs end at once


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4")


@dataclass
class World:
    """Linked accounts, a post store and the settings of a run against the emulator, with alerts."""

    emulator: object
    remote: object
    tmp: Path
    env: dict[str, str]
    clock: Clock = field(default_factory=Clock)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.settings = load_settings(self.env)
        self.store = open_sqlite(self.settings.store_path, clock=self.clock)
        self.tokens = TokenStore(self.settings.tokens_path)
        self.oauth = OAuthClient(requests.Session(), api_base=self.emulator.url,
                                 client_key=self.emulator.config.client_key,
                                 client_secret=self.emulator.config.client_secret)
        for user in (ADA_USER, BO_USER):  # linked as the app links them: with the profile's names
            account = link_account(self.emulator.url, self.tokens, self.oauth, user.open_id, scopes=SCOPES)
            self.tokens.put(replace(account, username=user.username, display_name=user.display_name))

    def alerts(self, *, clock: bool = False) -> Alerts:
        """The alerts as a process builds them from its settings (``clock``: on the test's clock)."""
        made = Alerts.from_settings(self.settings, self.store, self.tokens, clock=self.clock if clock else None)
        assert made is not None
        return made

    def post(self, clip: Path, user: str = ADA, *, fail: str | None = None, **fields) -> int:
        """Queue one post as the composer does and run the queue as cron does; the post's id."""
        if fail is not None:
            self.remote.session.post(self.remote.base_url + "/_emulator/posts/fail_next",
                                     json={"fail_reason": fail}, timeout=10).raise_for_status()
        post = queue_post(self.store, {"user_id": user, "video_path": str(clip), "privacy": "SELF_ONLY",
                                       "description": f"alert test {len(self.lines)}", **fields})
        self.run()
        return post.id

    def run(self):
        """One run, as cron starts it; its waits (retries, polls) move the emulator's clock instead of sleeping."""
        return run_queue(self.store, self.settings, RunOptions(poll_interval_s=0.01), clock=self.clock,
                         hooks=Hooks(say=self.lines.append, runtime=EmulatedTime(self.remote).runtime))

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def world(emulator, remote, tmp_path):
    made = []

    def make(**env: str) -> World:
        base = {"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                "TOKENS_FILE": str(tmp_path / "user_tokens.json"), "STORE_FILE": str(tmp_path / "tiktok.db")}
        made.append(World(emulator, remote, tmp_path, {**base, **env}))
        return made[-1]
    yield make
    for each in made:
        each.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kinds(store) -> list[str]:
    return [event.kind for event in reversed(store.events_page(limit=100))]


# -- the shipped defaults --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_each_happening_is_one_email_and_one_signed_webhook_with_the_shipped_defaults(
        world, clip, remote, smtp_server, webhook_receiver):
    w = world(NOTIFY_URLS=smtp_server.url(), WEBHOOK_URLS=f"{webhook_receiver.url}/hook/{HOOK_TOKEN}",
              WEBHOOK_SECRET=SECRET)  # only the channels: every other alert setting as shipped
    alerts = w.alerts()
    alerts.tick()  # nothing happened yet: nothing is sent

    failed = w.post(clip, fail="spam_risk_text")
    alerts.tick()
    published = w.post(clip, privacy="PUBLIC_TO_EVERYONE", description="public at once")
    alerts.tick()
    remote.set_moderation(delay_s=MODERATION_S)
    late = w.post(clip, privacy="PUBLIC_TO_EVERYONE", description="public after moderation")
    assert w.store.get(late).record.post_ids == ()  # published; its public id is not out yet
    alerts.tick()
    remote.revoke_user(BO)  # the creator took the app's access away: BO's next post finds out
    relinked = w.post(clip, BO, description="for an account that must be linked again")
    assert w.tokens.get(BO).relink_reason and w.store.get(relinked).state == State.FAILED
    alerts.tick()  # the relink is noticed here: the token store says so, not the post store
    remote.advance_clock(MODERATION_S + 1)
    w.run()  # a later run finds the late post's public id
    assert w.store.get(late).record.post_ids
    for _ in range(3):
        w.run()
        alerts.tick()

    assert kinds(w.store) == [ev.POST_FAILED, ev.POST_PUBLISHED, ev.POST_PUBLISHED, ev.ACCOUNT_RELINK,
                              ev.PUBLIC_LINK]
    mails = smtp_server.wait_for(5)
    hooks = webhook_receiver.wait_for(5)
    assert len(smtp_server.messages) == 5 and len(webhook_receiver.requests) == 5  # exactly one each, not more
    subjects = [mail.subject for mail in mails]
    assert subjects == [
        f"Emulated: post {failed} for @ada.creates failed",
        f"Emulated: post {published} for @ada.creates was published by the TikTok emulator",
        f"Emulated: post {late} for @ada.creates was published by the TikTok emulator",
        "Emulated: @bo_tests must be linked again",
        f"Emulated: post {late} for @ada.creates got its public id from the TikTok emulator",
    ]
    assert "TikTok flagged the caption as spam: change the text and retry" in mails[0].text
    assert "spam_risk_text" in mails[0].text.split("Details:")[1]  # TikTok's code only in the details
    assert all(EMULATED in mail.text and "tiktok.com" not in mail.text for mail in mails)
    assert all(ADA not in mail.text and BO not in mail.text for mail in mails)  # @names, never open_ids
    assert {mail.recipients for mail in mails} == {("creator@example.com",)}

    sent = [json.loads(hook.body) for hook in hooks]
    assert [body["kind"] for body in sent] == kinds(w.store)
    assert [hook.header("X-Tiktok-Tool-Event") for hook in hooks] == [str(body["id"]) for body in sent]
    assert len({body["id"] for body in sent}) == 5
    assert [body["title"] for body in sent] == subjects
    assert sent[0]["post"]["fail_reason"] == "spam_risk_text" and sent[3]["account"]["name"] == "@bo_tests"
    for hook in hooks:
        assert hook.path == f"/hook/{HOOK_TOKEN}" and hook.header("Content-Type").startswith("application/json")
        assert webhooks.verify(SECRET, hook.headers, hook.body, now=time.time())
    assert w.store.delivery_counts() == {"pending": 0, "sent": 10, "gave_up": 0}


# -- retries -----------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_try_with_the_same_id(
        world, clip, webhook_receiver):
    w = world(WEBHOOK_URLS=webhook_receiver.url + "/hook", WEBHOOK_SECRET=SECRET)
    alerts = w.alerts(clock=True)
    webhook_receiver.answer(500, 500, 200)
    w.post(clip, fail="spam_risk_text")

    alerts.tick()
    assert len(webhook_receiver.wait_for(1)) == 1
    w.clock.advance(29)
    alerts.tick()  # not due for 30 s
    w.clock.advance(2)
    alerts.tick()
    assert len(webhook_receiver.wait_for(2)) == 2
    w.clock.advance(119)
    alerts.tick()  # the second wait is 2 minutes
    assert len(webhook_receiver.requests) == 2
    w.clock.advance(2)
    report = alerts.tick()
    assert report.sent == 1
    for hours in range(3):  # sent: never again
        w.clock.advance(3600)
        alerts.tick()
    tries = webhook_receiver.requests
    assert [hook.status for hook in tries] == [500, 500, 200]
    assert len({hook.header("X-Tiktok-Tool-Event") for hook in tries}) == 1  # the same event id every time
    assert len({hook.body for hook in tries}) == 1  # the same body; only its signature's time differs
    stamps = [int(hook.header("X-Tiktok-Tool-Timestamp")) for hook in tries]
    assert stamps[1] - stamps[0] >= 30 and stamps[2] - stamps[1] >= 120
    assert all(webhooks.verify(SECRET, hook.headers, hook.body, now=stamp) for hook, stamp in zip(tries, stamps))
    assert w.store.delivery_counts() == {"pending": 0, "sent": 1, "gave_up": 0}


# -- channels that are down ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_channel_that_is_down_stops_neither_the_others_nor_a_post(world, clip, smtp_server, webhook_receiver,
                                                                      caplog):
    dead = closed_port()
    down_mail = smtp_server.url().replace(f":{smtp_server.port}?", f":{dead}?")
    w = world(NOTIFY_URLS=f"{down_mail} {smtp_server.url()}",
              WEBHOOK_URLS=f"http://127.0.0.1:{dead}/hook/{HOOK_TOKEN} {webhook_receiver.url}/hook",
              WEBHOOK_SECRET=SECRET)
    alerts = w.alerts(clock=True)
    first = w.post(clip, fail="spam_risk_text")
    started = time.monotonic()
    report = alerts.tick()
    took = time.monotonic() - started
    assert smtp_server.wait_for(1) and webhook_receiver.wait_for(1)  # the channels that work got it
    assert (report.sent, report.failed) == (2, 2) and took < 15, (report, took)
    assert sorted(report.failing) == ["email channel 1 of NOTIFY_URLS", "webhook 1 of WEBHOOK_URLS"]
    second = w.post(clip, description="posted while two channels are down")
    assert w.store.get(second).state == State.POSTED  # the post went, whatever the channels do
    w.clock.advance(31)
    alerts.tick()
    assert len(smtp_server.messages) == 2 and len(webhook_receiver.requests) == 2
    assert w.store.get(first).state == State.FAILED
    assert w.store.delivery_counts() == {"pending": 4, "sent": 4, "gave_up": 0}
    assert "could not be reached" in caplog.text and "did not take the alert" in caplog.text
    assert str(dead) not in caplog.text and HOOK_TOKEN not in caplog.text and SMTP_PASSWORD not in caplog.text


@pytest.mark.slow
def test_a_channel_that_never_answers_holds_a_tick_no_longer_than_its_timeout(world, clip, webhook_receiver):
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        w = world(WEBHOOK_URLS=webhook_receiver.url, WEBHOOK_SECRET=SECRET)
        port = silent.getsockname()[1]
        hanging = WebhookChannel(f"http://127.0.0.1:{port}/hook", secret=SECRET, position=2, timeout_s=(1.0, 1.0))
        working = WebhookChannel(webhook_receiver.url, secret=SECRET, position=1)
        alerts = Alerts(w.store, [hanging, working], clock=w.clock)
        w.post(clip, fail="spam_risk_text")
        started = time.monotonic()
        report = alerts.tick()
        took = time.monotonic() - started
    assert webhook_receiver.wait_for(1) and report.failing == ["webhook 2 of WEBHOOK_URLS"]
    assert 0.9 < took < 5, took


# -- what the store cannot see by itself -------------------------------------------------------------------------

@pytest.mark.slow
def test_a_post_stuck_in_flight_is_told_once(world, clip, remote, smtp_server):
    w = world(NOTIFY_URLS=smtp_server.url())
    alerts = w.alerts(clock=True)
    remote.inject_fault("/v2/post/publish/status/fetch/", status=500, error="internal_error", times=50)
    stuck = w.post(clip)
    assert w.store.get(stuck).state in (State.PROCESSING, State.UPLOADING)  # TikTok has it; no answer came
    alerts.tick()
    w.clock.advance(59 * 60)
    alerts.tick()  # in flight for 59 minutes: not stuck yet (ALERT_STUCK_AFTER: 1 hour)
    assert smtp_server.messages == []
    w.clock.advance(2 * 60)
    alerts.tick()
    w.clock.advance(3600)
    alerts.tick()
    (mail,) = smtp_server.wait_for(1)
    assert mail.subject.startswith(f"Emulated: post {stuck} for @ada.creates has been in progress for 1 h")
    assert kinds(w.store) == [ev.POST_STUCK]


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(processing_polls=0, refresh_ttl=10 * 86400)])
def test_a_refresh_token_running_out_is_told_once_at_each_threshold_it_crosses(world, smtp_server):
    w = world(NOTIFY_URLS=smtp_server.url(), NOTIFY_EVENTS="refresh_expiring")  # TikTok gave 10 days
    w.tokens.remove(BO)  # one account is enough here (apprise spaces a channel's emails 5.5 s apart)
    alerts = w.alerts(clock=True)
    alerts.tick()  # within 30 days: told once, with the time really left
    alerts.tick()
    w.clock.advance(3.5 * 86400)  # 6.5 days left: within 7
    alerts.tick()
    alerts.tick()
    w.clock.advance(3 * 86400)  # 3.5 days left: nothing new
    alerts.tick()
    w.clock.advance(2.6 * 86400)  # 0.9 days left: within 1
    alerts.tick()
    w.clock.advance(86400)  # run out: its next refresh tells the relink instead
    alerts.tick()
    mails = smtp_server.wait_for(3)
    assert len(smtp_server.messages) == 3
    assert [mail.subject for mail in mails] == [f"Emulated: @ada.creates's sign-in with TikTok runs out in {left}"
                                                for left in ("9 days", "6 days", "21 h")]  # rounded down
    assert "Link the account again in the app" in mails[0].text


# -- secrets -----------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_no_password_token_or_secret_reaches_a_log_a_stored_error_an_email_or_a_webhook(
        world, clip, smtp_server, webhook_receiver, caplog):
    caplog.set_level(logging.DEBUG)  # everything every library says, apprise's and urllib3's too
    wrong = "wrong-pa55word-also-secret"
    dead = closed_port()
    w = world(NOTIFY_URLS=" ".join([smtp_server.url(), smtp_server.url(password=wrong),
                                    f"json://user:{wrong}@127.0.0.1:{dead}/{HOOK_TOKEN}"]),
              WEBHOOK_URLS=f"{webhook_receiver.url}/hook/{HOOK_TOKEN} http://127.0.0.1:{dead}/{HOOK_TOKEN}",
              WEBHOOK_SECRET=SECRET)
    alerts = w.alerts()
    w.post(clip, fail="spam_risk_text")
    report = alerts.tick()
    assert report.sent == 2 and report.failed == 3  # the good email and webhook; a refused login, two down
    secrets = (SMTP_PASSWORD, wrong, HOOK_TOKEN, SECRET)
    said = caplog.text + "\n".join(w.lines) + repr(alerts) + repr(w.settings)
    stored = [row for row in _errors(w.settings.store_path)]
    assert stored and all(error for error in stored)
    sent = [mail.raw.decode(errors="replace") for mail in smtp_server.messages] + \
           [hook.body.decode() + json.dumps(hook.headers) for hook in webhook_receiver.requests]
    for secret in secrets:
        assert secret not in said, f"a secret reached the log: ...{said[said.find(secret) - 80:][:200]}"
        assert all(secret not in error for error in stored)
        assert all(secret not in text for text in sent)
    assert "apprise" in caplog.text  # apprise did log (masked), at debug level: the check above saw its lines


def _errors(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT error FROM tiktok_store_deliveries WHERE error IS NOT NULL")]


# -- the README's snippet ----------------------------------------------------------------------------------------------

def readme_verifier():
    """The README's webhook check, extracted as written (its one python block under "Alerts and webhooks")."""
    import re

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Alerts and webhooks\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    scope: dict = {}
    exec(compile(block, "README.md (Alerts and webhooks)", "exec"), scope)  # noqa: S102 (the README's own code)
    return scope["verify_webhook"]


@pytest.mark.slow
def test_the_readmes_snippet_verifies_a_real_delivery_and_refuses_one_changed_byte(world, clip, webhook_receiver):
    verify_webhook = readme_verifier()
    w = world(WEBHOOK_URLS=webhook_receiver.url, WEBHOOK_SECRET=SECRET)
    alerts = w.alerts()
    w.post(clip, fail="spam_risk_text")
    alerts.tick()
    (hook,) = webhook_receiver.wait_for(1)
    assert verify_webhook(SECRET, hook.headers, hook.body)
    for position in (0, len(hook.body) // 2, len(hook.body) - 1):
        changed = bytearray(hook.body)
        changed[position] ^= 0x01
        assert not verify_webhook(SECRET, hook.headers, bytes(changed)), position
    assert not verify_webhook("another-secret-of-some-length", hook.headers, hook.body)
    an_hour_ago = int(time.time()) - 3600  # a delivery signed an hour ago, replayed now: well signed, too old
    old = {**hook.headers, "X-Tiktok-Tool-Timestamp": str(an_hour_ago),
           "X-Tiktok-Tool-Signature": webhooks.signature(SECRET, an_hour_ago, hook.body)}
    assert webhooks.verify(SECRET, old, hook.body, now=an_hour_ago)  # it was good when it was made
    assert not verify_webhook(SECRET, old, hook.body)
