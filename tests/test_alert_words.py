"""The alerts' pure parts: every kind of event in plain words for creators (tiktok.alerts.messages.describe), the
webhook body and signature (tiktok.alerts.webhooks), the retry schedule (tiktok.alerts.deliver.retry_delay), the
rules of what the notice records (tiktok.alerts.notice) and the alert settings (tiktok.config), whose checks never
quote a channel's URL or the secret."""

from __future__ import annotations

import json
import re

import pytest

from tiktok.alerts import webhooks
from tiktok.alerts.deliver import GIVE_UP_AFTER_S, retry_delay
from tiktok.alerts.messages import EMULATED, describe, names_of
from tiktok.alerts.notice import (
    SilentWorker, account_events, cap_event, cap_threshold, digest_date, digest_event, missed_event, stuck_event,
    worker_event,
)
from tiktok.auth.tokens import Account
from tiktok.config import ALERT_KINDS, load_settings
from tiktok.errors import ConfigError
from tiktok.store import events as ev
from tiktok.store.events import Event, InFlight, record_facts
from tiktok.store.records import PUBLIC, PostRecord, State
from tiktok.words import WORDS

ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
NOW = 1_800_000_000.0
DAY = 86400.0
NAMES = {ADA: "@ada.creates"}
SECRET = "whsec-0123456789abcdef-never-shown"
PASSWORD = "pa55-never-shown"


def record(state: State, **fields) -> PostRecord:
    return PostRecord(key="k" * 64, user_id=ADA, state=state, **fields)


def post_event(kind: str, rec: PostRecord, **data) -> Event:
    return Event(7, f"{kind}:x", kind, NOW, ADA, 17, {"record": record_facts(rec), "post_id": 17, "attempt": 1,
                                                      **data})


def account_event(kind: str, **data) -> Event:
    return Event(8, f"{kind}:y", kind, NOW, ADA, None, data)


# One event of every kind, as the store and the notice record them, real (not emulated).
EVERY_KIND = {
    ev.POST_FAILED: post_event(ev.POST_FAILED, record(State.FAILED, fail_reason="spam_risk_text", outcome="failed",
                                                      log_id="202612030900", publish_id="v_pub_1",
                                                      error="TikTok failed the post: spam_risk_text")),
    ev.POST_NEEDS_PERSON: post_event(ev.POST_NEEDS_PERSON, record(
        State.PENDING_INIT, outcome="try_later", error="no answer to the init: it may already be on TikTok")),
    ev.POST_PUBLISHED: post_event(ev.POST_PUBLISHED, record(State.POSTED, publish_id="v_pub_2", privacy=PUBLIC,
                                                            username="ada.creates", post_ids=(7400000000000000001,))),
    ev.POST_IN_INBOX: post_event(ev.POST_IN_INBOX, record(State.IN_INBOX, publish_id="v_inbox_3")),
    ev.PUBLIC_LINK: post_event(ev.PUBLIC_LINK, record(State.POSTED, publish_id="v_pub_4", privacy=PUBLIC,
                                                      username="ada.creates", post_ids=(7400000000000000002,))),
    ev.POST_STUCK: post_event(ev.POST_STUCK, record(State.UPLOADING, publish_id="v_pub_5"), since=NOW - 5400),
    ev.ACCOUNT_RELINK: account_event(ev.ACCOUNT_RELINK, reason="TikTok refused the refresh token (invalid_grant: "
                                     "Refresh token has been revoked. (log_id 2026120309))", username="ada.creates"),
    ev.REFRESH_EXPIRING: account_event(ev.REFRESH_EXPIRING, days=7, expires_at=NOW + 6.5 * DAY),
    ev.WORKER_SILENT: Event(9, "worker-silent:3:1", ev.WORKER_SILENT, NOW, None, None,
                            {"worker_id": 3, "name": "cron-box:4242", "last_heartbeat": NOW - 600, "silent_s": 600.0}),
    ev.POST_MISSED: Event(10, "post-missed:x:r1", ev.POST_MISSED, NOW, ADA, 17,
                          {"post_id": 17, "due_at": NOW - 7200, "grace_s": 3600.0, "username": "ada.creates"}),
    ev.DAILY_CAP_NEAR: account_event(ev.DAILY_CAP_NEAR, count=13, cap=15, threshold=13, first_at=NOW - 20 * 3600,
                                     last_at=NOW - 60, username="ada.creates"),
    ev.DAILY_DIGEST: Event(11, "daily-digest:2027-01-15", ev.DAILY_DIGEST, NOW, None, None,
                           {"date": "2027-01-15", "since": NOW - DAY, "until": NOW, "complete": True, "failed": 1,
                            "counts": {"post_published": 4, "post_failed": 1, "account_relink": 1},
                            "relink": [{"open_id": ADA, "username": "", "display_name": ""}]}),
}


def test_the_table_has_every_kind_the_store_records_and_the_settings_know():
    assert set(EVERY_KIND) == set(ev.KINDS)
    assert ALERT_KINDS == ev.KINDS  # tiktok.config may not import the store: the two lists are held equal here


@pytest.mark.parametrize("kind", ev.KINDS)
def test_every_kind_reads_as_plain_sentences_with_names_and_no_raw_code(kind):
    message = describe(EVERY_KIND[kind], NAMES)
    assert message.kind == kind and message.title and message.body.endswith((".", "https://www.tiktok.com/@ada"
                                                                                  ".creates/video/7400000000000000001",
                                                                            "/video/7400000000000000002"))
    said = message.title + " " + message.body
    assert ADA not in said  # @names, never open_ids
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", said), said  # no TikTok code, no field name, no event kind
    assert "log_id" not in said and not message.emulated and EMULATED not in said
    if kind not in (ev.WORKER_SILENT,):
        assert "@ada.creates" in said


def test_a_failure_says_tiktoks_words_and_keeps_the_code_and_log_id_apart():
    message = describe(EVERY_KIND[ev.POST_FAILED], NAMES)
    assert message.title == "Post 17 for @ada.creates failed"
    assert WORDS["spam_risk_text"][1:] in message.body and "press Retry" in message.body
    assert "spam_risk_text" in message.details and "202612030900" in message.details
    assert message.link is None


def test_a_relink_and_a_running_out_token_say_what_to_do():
    relink = describe(EVERY_KIND[ev.ACCOUNT_RELINK], NAMES)
    assert relink.title == "@ada.creates must be linked again" and "link it again in the app" in relink.body
    assert "invalid_grant" in relink.details and "2026120309" in relink.details
    expiring = describe(EVERY_KIND[ev.REFRESH_EXPIRING], NAMES)
    assert expiring.title == "@ada.creates's sign-in with TikTok runs out in 6 days"  # the time left, not the step
    assert "Link the account again" in expiring.body and "UTC" in expiring.body  # the time, its zone named


def test_published_and_public_link_carry_tiktoks_link_once_the_public_id_is_known():
    published = describe(EVERY_KIND[ev.POST_PUBLISHED], NAMES)
    assert published.link == "https://www.tiktok.com/@ada.creates/video/7400000000000000001"
    assert published.link in published.body and published.link in published.text
    late = describe(EVERY_KIND[ev.PUBLIC_LINK])  # no names given: the record's username
    assert late.link == "https://www.tiktok.com/@ada.creates/video/7400000000000000002"
    waiting = describe(post_event(ev.POST_PUBLISHED, record(State.POSTED, privacy=PUBLIC, username="ada.creates")))
    assert waiting.link is None and "another message says when it arrives" in waiting.body


@pytest.mark.parametrize("kind", ev.KINDS)
def test_emulated_events_say_so_and_nothing_suggests_they_reached_tiktok(kind):
    event = EVERY_KIND[kind]
    data = dict(event.data)
    if "record" in data:
        data["record"] = {**data["record"], "emulated": True}
    else:
        data["emulated"] = True
    message = describe(Event(event.id, event.key, kind, event.at, event.user_id, event.post_id, data), NAMES)
    if kind == ev.WORKER_SILENT:  # a worker is no post and no account: nothing to say about TikTok
        return
    assert message.emulated and message.title.startswith("Emulated: ") and EMULATED in message.body
    assert message.link is None and "tiktok.com" not in message.text
    assert "on TikTok" not in message.title.replace("may already be on TikTok", "")


def test_accounts_are_named_by_the_names_given_else_the_event_else_the_open_id():
    bare = Event(1, "k", ev.ACCOUNT_RELINK, NOW, ADA, None, {"reason": "invalid_grant"})
    assert describe(bare).title == f"The account {ADA} must be linked again"
    assert describe(bare, {ADA: "Ada Creator"}).title == "Ada Creator must be linked again"
    named = names_of({ADA: Account(ADA, "a", "r", NOW, NOW, username="ada.creates"),
                      "other": Account("other", "a", "r", NOW, NOW, display_name="Only A Name"),
                      "nameless": Account("nameless", "a", "r", NOW, NOW)})
    assert named == {ADA: "@ada.creates", "other": "Only A Name"}


# -- webhooks ----------------------------------------------------------------------------------------------------------

def test_the_webhook_body_holds_the_event_the_words_and_the_facts_and_no_secret():
    event = EVERY_KIND[ev.POST_PUBLISHED]
    raw = webhooks.body(event, NAMES)
    sent = json.loads(raw)
    assert (sent["id"], sent["kind"], sent["at"], sent["version"]) == (7, "post_published", "2027-01-15T08:00:00Z", 1)
    assert sent["account"] == {"open_id": ADA, "name": "@ada.creates"}
    assert sent["post"]["id"] == 17 and sent["post"]["publish_id"] == "v_pub_2"
    assert sent["link"] == sent["post"]["link"] == "https://www.tiktok.com/@ada.creates/video/7400000000000000001"
    assert sent["title"] == describe(event, NAMES).title and sent["facts"] == {"post_id": 17, "attempt": 1}
    with_url = post_event(ev.POST_FAILED, record(State.FAILED, outcome="failed", upload_url="https://up.example/?"
                                                 "upload_token=tok-secret", publication="pub-secret"))
    assert b"tok-secret" not in webhooks.body(with_url) and b"pub-secret" not in webhooks.body(with_url)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body_and_one_byte_breaks_it():
    raw = webhooks.body(EVERY_KIND[ev.POST_FAILED])
    headers = webhooks.signed_headers(EVERY_KIND[ev.POST_FAILED], raw, secret=SECRET, timestamp=int(NOW))
    assert headers["X-Tiktok-Tool-Event"] == "7" and headers["X-Tiktok-Tool-Timestamp"] == str(int(NOW))
    import hashlib
    import hmac
    expected = hmac.new(SECRET.encode(), f"{int(NOW)}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["X-Tiktok-Tool-Signature"] == f"sha256={expected}"  # known answer, computed independently
    assert webhooks.verify(SECRET, headers, raw, now=NOW + 10)
    tampered = bytearray(raw)
    tampered[len(raw) // 2] ^= 1
    assert not webhooks.verify(SECRET, headers, bytes(tampered), now=NOW + 10)
    assert not webhooks.verify(SECRET + "x", headers, raw, now=NOW + 10)
    assert not webhooks.verify(SECRET, headers, raw, now=NOW + webhooks.TOLERANCE_S + 1)  # replayed later
    assert SECRET not in json.dumps(headers) and SECRET.encode() not in raw


# -- the retry schedule ------------------------------------------------------------------------------------------------

def test_retries_back_off_then_go_hourly_and_give_up_after_a_day():
    delays = []
    tries = 1
    while (delay := retry_delay(tries)) is not None:
        delays.append(delay)
        tries += 1
    assert delays[:6] == [30, 120, 600, 3600, 3600, 3600]
    assert set(delays[3:]) == {3600}
    assert sum(delays) <= GIVE_UP_AFTER_S < sum(delays) + 3600  # the last try is within the day, the next is not
    assert tries == 27  # the first try and 26 retries
    with pytest.raises(ValueError):
        retry_delay(0)


# -- what the notice records -------------------------------------------------------------------------------------------

def account(**fields) -> Account:
    values = dict(open_id=ADA, access_token="act.x", refresh_token="rft.x", expires_at=NOW + 3600,
                  refresh_expires_at=NOW + 200 * DAY, username="ada.creates", linked_at=NOW - 10 * DAY,
                  refreshed_at=NOW - DAY)
    return Account(**{**values, **fields})


def test_a_relink_is_one_event_per_linking_and_lost_again_later_is_another():
    lost = account(relink_reason="invalid_grant")
    (first,) = account_events(lost, NOW)
    assert first.kind == ev.ACCOUNT_RELINK and account_events(lost, NOW + 3 * DAY) == [first]  # the same key
    assert "act.x" not in json.dumps(first.data) and "rft.x" not in json.dumps(first.data)
    relinked = account(linked_at=NOW + 4 * DAY, refreshed_at=NOW + 4 * DAY)
    assert account_events(relinked, NOW + 4 * DAY) == []
    (again,) = account_events(account(linked_at=NOW + 4 * DAY, refreshed_at=NOW + 9 * DAY,
                                      relink_reason="invalid_grant"), NOW + 10 * DAY)
    assert again.kind == ev.ACCOUNT_RELINK and again.key != first.key


@pytest.mark.parametrize("left_days, told", [(200, None), (30.5, None), (29, 30), (7, 7), (6.9, 7), (5, 7),
                                             (1, 1), (0.2, 1), (-1, None)])
def test_a_running_out_refresh_token_is_told_at_the_nearest_threshold_crossed(left_days, told):
    found = account_events(account(refresh_expires_at=NOW + left_days * DAY), NOW)
    if told is None:
        assert found == []
    else:
        (event,) = found
        assert event.kind == ev.REFRESH_EXPIRING and event.data["days"] == told and f":{told}d:" in event.key


def test_a_stuck_post_is_one_event_per_attempt_and_a_silent_worker_one_per_heartbeat():
    rec = record(State.UPLOADING, publish_id="v_pub_9", upload_url="https://up.example/?upload_token=tok-secret")
    item = InFlight(17, "k" * 64, ADA, 2, NOW - 7200, rec)
    stuck = stuck_event(item, stuck_after_s=3600)
    assert stuck.kind == ev.POST_STUCK and stuck.post_id == 17 and "v_pub_9" in stuck.key and ":r2:" in stuck.key
    assert "tok-secret" not in json.dumps(stuck.data)
    assert stuck_event(InFlight(17, "k" * 64, ADA, 2, NOW - 9000, rec), stuck_after_s=3600).key == stuck.key
    worker = worker_event(SilentWorker(3, "cron-box:4242", NOW - 600, 600.0))
    assert worker.kind == ev.WORKER_SILENT and worker.data["name"] == "cron-box:4242"
    assert worker_event(SilentWorker(3, "cron-box:4242", NOW - 60, 600.0)).key != worker.key


@pytest.mark.parametrize("cap, published, told", [(15, 12, False), (15, 13, True), (15, 20, True), (0, 40, False),
                                                  (3, 1, True), (100, 97, False), (100, 98, True)])
def test_the_daily_cap_is_told_at_two_below_the_cap_keyed_by_the_windows_first_day(cap, published, told):
    times = [NOW - 23 * 3600 + n * 60 for n in range(published)]  # 2027-01-14 09:00 UTC onwards
    events = [Event(n, f"p{n}", ev.POST_PUBLISHED, at, ADA) for n, at in enumerate(times)]
    new = cap_event(account(), events, cap=cap)
    assert (new is not None) == told
    if new is not None:
        assert new.kind == ev.DAILY_CAP_NEAR and new.key == f"daily-cap-near:{ADA}:2027-01-14"
        assert new.data["count"] == published and new.data["threshold"] == cap_threshold(cap) == max(1, cap - 2)
        assert "act.x" not in json.dumps(new.data) and "rft.x" not in json.dumps(new.data)


def test_a_missed_post_is_keyed_by_its_entrys_revision():
    from tiktok.store.events import Missed

    first = missed_event(Missed(17, "k" * 64, ADA, 1, NOW - 7200), grace_s=3600, account=account())
    assert first.kind == ev.POST_MISSED and first.key == f"post-missed:{'k' * 64}:r1" and first.post_id == 17
    assert first.data == {"post_id": 17, "due_at": NOW - 7200, "grace_s": 3600, "username": "ada.creates",
                          "display_name": "", "emulated": False}
    assert missed_event(Missed(17, "k" * 64, ADA, 2, NOW + 60), grace_s=3600).key.endswith(":r2")


@pytest.mark.parametrize("zone, utc_time, date", [
    ("UTC", "2027-01-15T08:59:59", None), ("UTC", "2027-01-15T09:00:00", "2027-01-15"),
    ("UTC", "2027-01-15T23:59:00", "2027-01-15"),
    ("Europe/Berlin", "2027-01-15T07:59:00", None),  # 08:59 there
    ("Europe/Berlin", "2027-01-15T08:00:00", "2027-01-15"), ("Europe/Berlin", "2027-01-15T23:30:00", None),  # 00:30 on the 16th
    ("America/New_York", "2027-01-16T03:00:00", "2027-01-15"),  # 22:00 on the 15th there
    ("Europe/Berlin", "2027-03-28T07:00:00", "2027-03-28"),  # the day the clocks jump forward: 09:00 CEST
])
def test_the_digest_is_due_from_its_local_time_of_day_in_tz(zone, utc_time, date):
    from datetime import datetime, time, timezone
    from zoneinfo import ZoneInfo

    now = datetime.fromisoformat(utc_time).replace(tzinfo=timezone.utc).timestamp()
    assert digest_date(now, ZoneInfo(zone), time(9, 0)) == date


def test_the_digest_counts_what_happened_and_names_what_needs_a_person():
    from tiktok.store.events import KindCounts

    accounts = {ADA: account(), "bo": account(open_id="bo", username="bo_tests", relink_reason="invalid_grant")}
    new = digest_event("2027-01-15", NOW, KindCounts({ev.POST_PUBLISHED: 4, ev.POST_FAILED: 1}), accounts, failed=3)
    assert new.kind == ev.DAILY_DIGEST and new.key == "daily-digest:2027-01-15" and new.user_id is None
    assert new.data["relink"] == [{"open_id": "bo", "username": "bo_tests", "display_name": "", "emulated": False}]
    message = describe(Event(1, new.key, new.kind, NOW, None, None, new.data))
    assert message.title == "Last 24 hours: 4 published, 1 failed, 1 account to relink"
    assert "@bo_tests must be linked again" in message.body and "3 posts are in the Failed group" in message.body
    partial = describe(Event(2, "d", ev.DAILY_DIGEST, NOW, None, None,
                             {**new.data, "complete": False, "relink": [], "failed": 0, "emulated": True}))
    assert partial.title == "Emulated: last 24 hours: at least 4 published, 1 failed, 0 accounts to relink"
    assert "(at least: more happened than the digest reads)" in partial.body and partial.emulated
    assert partial.body.endswith(f"Nothing needs a person now. {EMULATED}")


# -- the settings ------------------------------------------------------------------------------------------------------

def test_the_shipped_defaults_send_nothing_and_tell_every_kind():
    alerts = load_settings({}).alerts
    assert not alerts.enabled and alerts.notify_urls == () and alerts.webhook_urls == ()
    assert alerts.stuck_after_s == 3600 and alerts.worker_silent_after_s == 300
    # every kind but the digest, which is made only with NOTIFY_DIGEST (off by default), and then told by default
    assert alerts.notify_events == tuple(kind for kind in ev.KINDS if kind != ev.DAILY_DIGEST)
    assert alerts.digest_at is None and alerts.daily_cap == 15
    assert load_settings({"NOTIFY_DIGEST": "08:00"}).alerts.notify_events == ev.KINDS


def test_channel_urls_are_split_by_apprise_and_kept_out_of_every_repr():
    mail = f"mailtos://alerts:{PASSWORD}@smtp.example.com?to=a@example.com,b@example.com"
    settings = load_settings({"NOTIFY_URLS": f"{mail}, ntfy://my-topic-{PASSWORD}\n{mail}",
                              "WEBHOOK_URLS": f"https://hooks.example.com/{PASSWORD}?a=1,2 http://127.0.0.1:9/x",
                              "WEBHOOK_SECRET": SECRET, "NOTIFY_EVENTS": "account_relink, Post_Failed",
                              "ALERT_STUCK_AFTER": "2h", "ALERT_WORKER_SILENT_AFTER": "10m"})
    alerts = settings.alerts
    assert alerts.notify_urls == (mail, f"ntfy://my-topic-{PASSWORD}")  # a comma inside to= stays; twice is once
    assert alerts.webhook_urls == (f"https://hooks.example.com/{PASSWORD}?a=1,2", "http://127.0.0.1:9/x")
    assert alerts.notify_events == (ev.POST_FAILED, ev.ACCOUNT_RELINK)
    assert (alerts.stuck_after_s, alerts.worker_silent_after_s) == (7200, 600)
    assert PASSWORD not in repr(settings) and SECRET not in repr(settings) and "hooks.example" not in repr(settings)


BAD = [
    ({"NOTIFY_URLS": f"mailtos://a:{PASSWORD}@smtp.hidden.test?to=a@hidden.test nonsense://{PASSWORD}@x"},
     "NOTIFY_URLS: URL 2 of 2 is not one apprise can read"),
    ({"NOTIFY_URLS": f"discord://{PASSWORD}"}, "NOTIFY_URLS: URL 1 of 1 is not one apprise can read"),
    ({"WEBHOOK_URLS": f"ftp://{PASSWORD}@hidden.test", "WEBHOOK_SECRET": SECRET},
     "WEBHOOK_URLS: URL 1 of 1 is not a web address"),
    ({"WEBHOOK_URLS": f"https://ok.hidden.test https:///{PASSWORD}", "WEBHOOK_SECRET": SECRET},
     "WEBHOOK_URLS: URL 2 of 2 is not a web address"),
    ({"WEBHOOK_URLS": f"https://hooks.hidden.test/{PASSWORD}"}, "WEBHOOK_URLS is set but WEBHOOK_SECRET is empty"),
    ({"WEBHOOK_URLS": "https://hooks.hidden.test/", "WEBHOOK_SECRET": PASSWORD[:10]},
     "WEBHOOK_SECRET is too short (10 characters)"),
    ({"NOTIFY_EVENTS": "post_failed, everything"}, "NOTIFY_EVENTS names 'everything', not a kind of event"),
    ({"ALERT_STUCK_AFTER": "10s"}, "ALERT_STUCK_AFTER='10s' is not a duration from 1m to 30d"),
    ({"ALERT_WORKER_SILENT_AFTER": "forever"}, "ALERT_WORKER_SILENT_AFTER='forever' is not a duration"),
    ({"NOTIFY_DIGEST": "24:00"}, "NOTIFY_DIGEST='24:00' is not a time of day: use HH:MM on a 24-hour clock"),
    ({"NOTIFY_DIGEST": "8am"}, "NOTIFY_DIGEST='8am' is not a time of day"),
    ({"NOTIFY_EVENTS": "post_failed,daily_digest"}, "NOTIFY_EVENTS names daily_digest but NOTIFY_DIGEST is empty"),
    ({"ALERT_DAILY_CAP": "2"}, "ALERT_DAILY_CAP='2' is not a number of posts from 3 to 100, or 0"),
    ({"ALERT_DAILY_CAP": "lots"}, "ALERT_DAILY_CAP='lots' is not a number of posts"),
]


def test_the_digest_time_and_the_cap_read_as_given():
    from datetime import time

    alerts = load_settings({"NOTIFY_DIGEST": "7:05", "ALERT_DAILY_CAP": "20",
                            "NOTIFY_EVENTS": "daily_digest post_missed"}).alerts
    assert (alerts.digest_at, alerts.daily_cap) == (time(7, 5), 20)
    assert alerts.notify_events == (ev.POST_MISSED, ev.DAILY_DIGEST)
    assert load_settings({"ALERT_DAILY_CAP": "0"}).alerts.daily_cap == 0


@pytest.mark.parametrize("env, said", BAD, ids=[said.split(" ")[0].strip(":") + str(n) for n, (_, said)
                                                  in enumerate(BAD)])
def test_a_bad_alert_setting_names_the_setting_and_place_and_never_the_url(env, said, capfd, caplog):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(said), message
    assert PASSWORD not in message and PASSWORD[:10] not in message and "hidden" not in message
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err + caplog.text  # apprise's own lines about the URL were not let out either
