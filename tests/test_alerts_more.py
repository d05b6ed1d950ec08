"""The three events the notice records beside the others (issue 24): a scheduled post that missed its time, an account
near TikTok's daily cap of direct posts, and the optional daily digest (tiktok.alerts.notice).

The fast tests drive the notice with an injected clock over a real store (SQLite; PostgreSQL too with the slow
tests), the posts' *published* and *failed* events written by real saved records, and the settings as shipped
(POST_GRACE 1 h, ALERT_DAILY_CAP 15) unless a case needs another value (NOTIFY_DIGEST is off by default). Each event
is recorded once over several ticks and by two Notice objects on two store objects (two processes), and again only
when what it is about changes. The end-to-end test posts 13 videos for real against the emulator and tells the three
events by email through a local SMTP server, once each, with two processes ticking.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from tiktok.alerts.messages import describe, names_of
from tiktok.alerts.notice import MISSED_BATCH, Notice
from tiktok.auth.tokens import Account, TokenStore
from tiktok.config import load_settings
from tiktok.emulator.config import EmulatorConfig
from tiktok.posting.limits import POSTING_LIMITS
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.ratelimit import TokenLimiter
from tiktok.store import events as ev
from tiktok.store.records import PostRecord, State, entry_key
from tests.support.posting import EmulatedTime
from tests.support.queue_workers import queue_post
from tests.support.stores import FixedClock, make_store

ADA, BO = "ada-open-id", "bo-open-id"
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC (09:00 in Berlin)
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
def stores(store_kind, tmp_path, request, clock):
    """The store, and a second store object on the same data (another process)."""
    made = make_store(store_kind, tmp_path, request, clock=clock)
    other = made.reopen(clock=clock)
    yield made.store, other
    made.store.close()
    other.close()


@pytest.fixture
def tokens(tmp_path):
    store = TokenStore(tmp_path / "user_tokens.json")
    for open_id, name in ((ADA, "ada.creates"), (BO, "bo_tests")):
        store.put(Account(open_id, "act.x", "rft.x", NOW + HOUR, NOW + 300 * DAY, username=name,
                          linked_at=NOW - 10 * DAY, refreshed_at=NOW - HOUR))
    return store


def notices(stores, tokens, clock, **env: str) -> tuple[Notice, Notice]:
    """Two processes' notices, built as Alerts.from_settings builds them from ``env`` (empty: the shipped defaults)."""
    settings = load_settings(env)
    return tuple(Notice.from_settings(settings, store, tokens, clock=clock) for store in stores)  # type: ignore


def tick(*each: Notice, times: int = 3) -> list[ev.Event]:
    """Every notice runs ``times`` times in turn; the events they recorded."""
    return [event for _ in range(times) for notice in each for event in notice.run()]


def schedule(store, n: int, due_at: float | None, user: str = ADA):
    data = {"user_id": user, "video_url": f"https://media.example.com/{n}.mp4", "description": f"post {n}"}
    return store.add(data, key=entry_key(data), due_at=due_at)


def attempt(store, post, state: State, **fields) -> None:
    """A run's attempt at ``post``, saved as it ends (its events are written with the record, at the store's clock)."""
    record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=post.user_id,
                                                            state=State.PENDING_INIT))
    store.save(post.id, replace(record, state=state, **fields))


def publish(store, clock: FixedClock, n: int, at: float, user: str = ADA) -> None:
    """Post ``n`` of ``user`` published by TikTok at ``at`` (its *published* event is recorded then)."""
    clock.now = at
    attempt(store, schedule(store, n, None, user), State.POSTED, publish_id=f"v_{user}_{n}")


def of_kind(store, kind: str) -> list[ev.Event]:
    return [event for event in reversed(store.events_page(limit=500)) if event.kind == kind]


# -- a scheduled post that missed its time -----------------------------------------------------------------------

def test_a_missed_post_is_told_once_per_revision_whoever_notices(stores, tokens, clock):
    store, _ = stores
    late = schedule(store, 1, NOW - 61 * MIN)  # POST_GRACE (1 h, as shipped) passed a minute ago
    nearly = schedule(store, 2, NOW - 59 * MIN)  # still within the grace: a run would post it now
    later = schedule(store, 3, NOW + HOUR)  # to come
    attempt(store, schedule(store, 4, NOW - 5 * HOUR), State.UPLOADING, publish_id="v_4")  # started in time
    store.cancel(schedule(store, 5, NOW - 3 * HOUR).id)  # a person cancelled it
    one, two = notices(stores, tokens, clock)

    made = tick(one, two)
    assert [(e.kind, e.post_id, e.key) for e in made] == [(ev.POST_MISSED, late.id, f"post-missed:{late.key}:r1")]
    assert store.board_counts(missed_before=NOW - HOUR)["failed"] == 1  # the Posts page shows the same one missed
    (told,) = made
    assert told.data["due_at"] == NOW - 61 * MIN and told.data["grace_s"] == 3600
    words = describe(told, names_of(tokens.load()))
    assert words.title == f"Post {late.id} for @ada.creates missed its time"
    assert "was due at 2027-01-15 06:59 UTC" in words.body and "within 1 h of its time" in words.body
    assert "Reschedule" in words.body and "--force" in words.body and "cron" in words.body

    clock.now += 2 * MIN  # the second one is now 61 minutes late
    assert [e.post_id for e in tick(one, two)] == [nearly.id]

    store.edit(late.id, late.entry, due_at=NOW + HOUR, revision=late.revision)  # a person gives it a new time
    assert tick(one, two) == []
    clock.now = NOW + 2 * HOUR + MIN  # ... and misses that too, as does the one that was to come
    again = [e for e in tick(one, two) if e.kind == ev.POST_MISSED]  # (the started one is stuck by now)
    assert sorted((e.post_id, e.key) for e in again) == [(late.id, f"post-missed:{late.key}:r2"),
                                                         (later.id, f"post-missed:{later.key}:r1")]
    assert len(of_kind(store, ev.POST_MISSED)) == 4  # each once: late twice (two revisions), nearly, later


@pytest.mark.slow  # 230 posts written: a third of a second
def test_missed_posts_are_read_a_batch_at_a_time_and_never_read_again_once_told(stores, clock):
    store, _ = stores
    many = MISSED_BATCH * 2 + 30
    for n in range(many):
        schedule(store, n, NOW - 2 * HOUR - n)
    notice = Notice(store, None, clock=clock, stuck_after_s=HOUR)  # the defaults: POST_GRACE 1 h
    told = [len(notice.run()) for _ in range(4)]
    assert told == [MISSED_BATCH, MISSED_BATCH, 30, 0]
    assert len({e.post_id for e in of_kind(store, ev.POST_MISSED)}) == many
    assert store.missed_untold(NOW - HOUR) == []  # those told are not read out again


# -- the daily cap -------------------------------------------------------------------------------------------------

def test_the_daily_cap_is_told_once_at_13_of_the_default_15_in_any_24_hours(stores, tokens, clock):
    store, other = stores
    one, two = notices(stores, tokens, clock)  # ALERT_DAILY_CAP as shipped: 15, told at 13
    first = utc("2027-01-15T22:00:00")  # the window's first post, the day before the next twelve
    publish(store, clock, 1, first)
    for n in range(2, 13):  # 12 in 24 hours: nothing yet
        publish(store, clock, n, utc("2027-01-16T01:00:00") + (n - 2) * 30 * MIN)
        publish(store, clock, 100 + n, clock.now, user=BO)  # another account, always below
        assert tick(one, two, times=1) == []
    publish(store, clock, 13, utc("2027-01-16T06:30:00"))
    made = tick(one, two)
    assert [(e.kind, e.user_id, e.key) for e in made] == [(ev.DAILY_CAP_NEAR, ADA, f"daily-cap-near:{ADA}:2027-01-15")]
    (told,) = made
    assert (told.data["count"], told.data["cap"], told.data["first_at"]) == (13, 15, first)
    words = describe(told, names_of(tokens.load()))
    assert words.title == "@ada.creates has nearly reached TikTok's daily post cap"
    assert words.body.startswith("@ada.creates has published 13 posts through this tool in the last 24 hours; "
                                 "TikTok allows about 15 a day across all apps, so the next ones may be refused "
                                 "until tomorrow.")
    assert "2027-01-16 22:00 UTC" in words.body  # when the first of them leaves the 24 hours

    publish(store, clock, 14, utc("2027-01-16T07:00:00"))
    assert tick(one, two) == []  # more posts the same day: told already
    clock.now = utc("2027-01-16T22:01:00")  # the first post left the window; 13 are still in it (from the 16th)
    late_starter = Notice.from_settings(load_settings({}), other, tokens, clock=clock)  # a process started now
    assert tick(late_starter, one, two) == []  # another key (the 16th), but told in these 24 hours
    clock.now = utc("2027-01-17T06:31:00")  # 24 hours after the warning: one post (the 16th's 07:00) in the window
    assert tick(one, two, late_starter) == []
    for n in range(15, 27):  # twelve more before the 16th's 07:00 post leaves: 13 in 24 hours again
        publish(store, clock, n, utc("2027-01-17T06:40:00") + (n - 15) * MIN)
    made = tick(one, two, late_starter)
    assert [(e.user_id, e.key) for e in made] == [(ADA, f"daily-cap-near:{ADA}:2027-01-16")]
    assert [e.user_id for e in of_kind(store, ev.DAILY_CAP_NEAR)] == [ADA, ADA]  # never BO (11 a day)

    off = Notice.from_settings(load_settings({"ALERT_DAILY_CAP": "0"}), store, tokens, clock=clock)
    clock.now += 2 * DAY
    for n in range(40, 54):
        publish(store, clock, n, clock.now + MIN)
    assert [e.kind for e in tick(off)] == []  # 0: never told


# -- the daily digest ----------------------------------------------------------------------------------------------

def test_the_daily_digest_comes_once_a_day_at_its_local_time_and_never_by_default(stores, tokens, clock):
    store, _ = stores
    publish(store, clock, 1, NOW - 25 * HOUR)  # more than a day before: not counted
    publish(store, clock, 2, NOW - 2 * HOUR)
    publish(store, clock, 3, NOW - 90 * MIN)
    clock.now = NOW - HOUR
    attempt(store, schedule(store, 4, None), State.FAILED, outcome="failed", fail_reason="spam_risk_text")
    schedule(store, 5, NOW - 3 * HOUR)  # missed: told, and in the Failed group
    tokens.put(replace(tokens.get(BO), relink_reason="invalid_grant"))  # TikTok refused BO's refresh token
    env = {"NOTIFY_DIGEST": "09:30", "TZ": "Europe/Berlin"}  # set: no digest by default; Berlin is UTC+1 in January
    one, two = notices(stores, tokens, clock, **env)
    (default,) = notices(stores[:1], tokens, clock)

    clock.now = NOW + 29 * MIN  # 09:29 in Berlin
    assert ev.DAILY_DIGEST not in [e.kind for e in tick(one, two, default)]
    clock.now = NOW + 30 * MIN  # 09:30
    made = [e for e in tick(one, two, default) if e.kind == ev.DAILY_DIGEST]
    assert [e.key for e in made] == ["daily-digest:2027-01-15"]
    (digest,) = made
    data = digest.data
    assert data["counts"] == {ev.POST_FAILED: 1, ev.POST_MISSED: 1, ev.POST_PUBLISHED: 2, ev.ACCOUNT_RELINK: 1}
    assert data["complete"] and data["failed"] == 2  # the failed post and the missed one: the Posts page's group
    assert [item["open_id"] for item in data["relink"]] == [BO]
    words = describe(digest, names_of(tokens.load()))
    assert words.title == "Last 24 hours: 2 published, 1 failed, 1 account to relink"
    assert words.body == ("In the last 24 hours: 2 posts published, 1 post failed, 1 post missed its time, 1 account "
                          "had to be linked again. Needs a person now: @bo_tests must be linked again (Accounts "
                          "page); 2 posts are in the Failed group of the Posts page (failed, or missed their time): "
                          "retry, reschedule or cancel them there.")

    clock.now = NOW + DAY + 29 * MIN  # 09:29 the next day
    assert ev.DAILY_DIGEST not in [e.kind for e in tick(one, two, default)]
    clock.now = NOW + DAY + 3 * HOUR  # later that day
    made = [e for e in tick(two, one, default) if e.kind == ev.DAILY_DIGEST]
    assert [e.key for e in made] == ["daily-digest:2027-01-16"]
    assert [e.data["counts"] for e in made] == [{}]  # nothing since yesterday's 09:30
    assert describe(made[0], names_of(tokens.load())).body.startswith(
        "Nothing happened in the last 24 hours. Needs a person now: @bo_tests must be linked again")
    assert len(of_kind(store, ev.DAILY_DIGEST)) == 2


# -- the reads are bounded -----------------------------------------------------------------------------------------

def test_the_counts_and_the_accounts_posts_are_read_among_the_newest_rows_only(stores, clock):
    store, _ = stores
    clock.now = NOW - 2 * DAY
    store.record_event(ev.WORKER_SILENT, "old", data={})
    for n in range(30):
        clock.now = NOW - HOUR + n
        store.record_event(ev.POST_PUBLISHED if n % 3 else ev.POST_FAILED, f"e{n}", user_id=ADA)
    whole = store.counts_since(NOW - DAY)
    assert whole.counts == {ev.POST_PUBLISHED: 20, ev.POST_FAILED: 10} and whole.complete
    cut = store.counts_since(NOW - DAY, scan=9)
    assert sum(cut.counts.values()) == 9 and not cut.complete  # "at least": the scan ended inside the day
    assert len(store.published_since(ADA, NOW - DAY)) == 20
    newest = store.published_since(ADA, NOW - DAY, scan=6)
    assert [e.key for e in newest] == ["e25", "e26", "e28", "e29"]  # oldest first, among the newest six
    assert store.published_since(BO, NOW - DAY) == []
    assert store.known_keys(["e1", "e2", "nope"]) == {"e1", "e2"}


# -- end to end: real posts, real email --------------------------------------------------------------------------

@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # a post's first status fetch is final


@pytest.mark.slow
def test_missed_cap_and_digest_are_one_email_each_with_two_processes_ticking(
        emulator, remote, tmp_path, smtp_server, webhook_receiver):
    from tests.media_fixtures import make_video
    from tests.test_alerts import ADA as ADA_ID, SECRET, World

    clip = make_video(tmp_path / "clip.mp4")
    env = {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tmp_path / "user_tokens.json"),
           "STORE_FILE": str(tmp_path / "tiktok.db"), "NOTIFY_URLS": smtp_server.url(),
           "WEBHOOK_URLS": webhook_receiver.url + "/hook", "WEBHOOK_SECRET": SECRET,
           # only these by email (apprise spaces one channel's emails 5.5 s apart: 13 published would take 70 s;
           # the webhook gets every kind), and a digest whenever a tick comes (it is off by default)
           "NOTIFY_EVENTS": "post_missed,daily_cap_near,daily_digest", "NOTIFY_DIGEST": "00:00", "TZ": "UTC"}
    w = World(emulator, remote, tmp_path, env)  # POST_GRACE and ALERT_DAILY_CAP as shipped
    try:
        first, second = w.alerts(), w.alerts()  # two processes (the app's runner and cron, say)
        past = datetime.fromtimestamp(time.time() - 2 * HOUR, timezone.utc).isoformat(timespec="seconds")
        missed = queue_post(w.store, {"user_id": ADA_ID, "video_path": str(clip), "privacy": "SELF_ONLY",
                                      "description": "due two hours ago", "post_at": past}).id
        for n in range(13):
            queue_post(w.store, {"user_id": ADA_ID, "video_path": str(clip), "privacy": "SELF_ONLY",
                                 "description": f"post {n + 1} of the day"})
        emulated = EmulatedTime(remote)  # TikTok's 6 inits a minute: the waits move the emulator's clock
        report = run_queue(w.store, w.settings, RunOptions(poll_interval_s=0.01), clock=w.clock,
                           hooks=Hooks(say=w.lines.append, runtime=emulated.runtime,
                                       limiter=TokenLimiter(POSTING_LIMITS, clock=emulated.monotonic,
                                                            sleep=emulated.sleep)))
        assert len(of_kind(w.store, ev.POST_PUBLISHED)) == 13, w.lines[-5:]
        assert w.store.get(missed).state == State.QUEUED  # reported missed, not posted late
        for _ in range(3):
            first.tick()
            second.tick()

        mails = smtp_server.wait_for(3)
        for _ in range(2):
            first.tick()
            second.tick()
        assert len(smtp_server.messages) == 3
        assert sorted(mail.subject for mail in mails) == sorted([
            f"Emulated: post {missed} for @ada.creates missed its time",
            "Emulated: @ada.creates has nearly reached TikTok's daily post cap",
            "Emulated: last 24 hours: 13 published, 0 failed, 0 accounts to relink",
        ])
        cap = next(mail for mail in mails if "daily post cap" in mail.subject)
        assert "@ada.creates has published 13 posts through this tool in the last 24 hours" in cap.text
        digest = next(mail for mail in mails if "last 24 hours" in mail.subject)
        assert "1 post is in the Failed group of the Posts page" in digest.text  # the missed one
        kinds = [json.loads(hook.body)["kind"] for hook in webhook_receiver.wait_for(16)]
        assert sorted(kinds) == sorted([ev.POST_PUBLISHED] * 13 + [ev.POST_MISSED, ev.DAILY_CAP_NEAR,
                                                                   ev.DAILY_DIGEST])
        assert len(webhook_receiver.requests) == 16
        assert report is not None and ADA_ID not in "".join(mail.text for mail in mails)  # @names, not open_ids
    finally:
        w.close()
