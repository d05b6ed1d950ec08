"""Events and deliveries in the store, on SQLite and PostgreSQL alike: one event per key whoever notices it, a post's
events written with its record (failed, needs a person, published, public link, in inbox) and never twice, and
deliveries that real concurrent processes each take exactly once per channel."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tiktok.store import events as ev
from tiktok.store.records import PUBLIC, PostRecord, State, entry_key
from tests.support.stores import FixedClock as Clock, make_store

ROOT = Path(__file__).resolve().parents[2]
ADA = "ada-open-id"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def made(store_kind, tmp_path, request, clock):
    made = make_store(store_kind, tmp_path, request, clock=clock)
    yield made
    made.store.close()


def add(store, n: int):
    data = {"user_id": ADA, "video_url": f"https://media.example.com/{n}.mp4", "description": f"post {n}"}
    return store.add(data, key=entry_key(data), due_at=None)


def kinds(store) -> list[str]:
    return [event.kind for event in reversed(store.events_page(limit=100))]


def test_an_event_key_is_recorded_once(made):
    store = made.store
    first = store.record_event(ev.ACCOUNT_RELINK, "relink:ada:1", user_id=ADA, data={"reason": "revoked"})
    again = store.record_event(ev.ACCOUNT_RELINK, "relink:ada:1", user_id=ADA, data={"reason": "revoked"})
    assert first is not None and first.data == {"reason": "revoked"} and again is None
    assert [e.key for e in store.events_page()] == ["relink:ada:1"]
    with pytest.raises(ValueError, match="not an event kind"):
        store.record_event("nonsense", "x")


def test_a_failed_attempt_records_one_event_and_a_retry_another(made):
    store = made.store
    post = add(store, 1)
    record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=ADA, state=State.PENDING_INIT))
    failed = replace(record, state=State.FAILED, fail_reason="spam_risk_text", outcome="failed", log_id="L1",
                     publish_id="p1", upload_url="https://upload.example/secret")
    store.save(post.id, failed)
    store.save(post.id, failed)  # the same record saved twice: still one event
    assert kinds(store) == [ev.POST_FAILED]
    event = store.events_page()[0]
    assert event.post_id == post.id and event.user_id == ADA and event.record.fail_reason == "spam_risk_text"
    assert "upload_url" not in event.data["record"] and "secret" not in json.dumps(event.data)
    assert store.request_retry(post.id)
    again = store.start(post.id, store.get(post.id).revision, PostRecord(key=post.key, user_id=ADA,
                                                                         state=State.PENDING_INIT))
    store.save(post.id, replace(again, state=State.FAILED, fail_reason="spam_risk_text", outcome="failed"))
    assert kinds(store) == [ev.POST_FAILED, ev.POST_FAILED]
    assert store.events_page()[0].data["attempt"] == 2


def test_a_local_problem_met_on_every_tick_is_one_event_until_the_entry_changes(made):
    store = made.store
    post = add(store, 2)
    for _ in range(3):  # each run meets the missing file again and begins a new attempt with it
        store.start(post.id, store.get(post.id).revision, PostRecord(
            key=post.key, user_id=ADA, state=State.FAILED, outcome="bad_input", error='field "video_path": gone'))
    assert kinds(store) == [ev.POST_FAILED]


def test_retried_failures_and_steps_make_no_event(made):
    store = made.store
    post = add(store, 3)
    record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=ADA, state=State.PENDING_INIT))
    store.save(post.id, replace(record, state=State.UPLOADING, publish_id="p3"))
    store.save(post.id, replace(record, state=State.FAILED, outcome="try_later", error="rate limited"))
    assert kinds(store) == []


def test_published_then_a_late_public_link_are_one_event_each(made, clock):
    store = made.store
    post = add(store, 4)
    record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=ADA, state=State.PENDING_INIT))
    posted = replace(record, state=State.POSTED, publish_id="p4", privacy=PUBLIC, published_at=clock.now)
    store.save(post.id, posted)
    store.save(post.id, posted)  # a later run looks for the public id: not there yet
    store.save(post.id, replace(posted, post_ids=(7400000000000000001,)))
    store.save(post.id, replace(posted, post_ids=(7400000000000000001,)))
    assert kinds(store) == [ev.POST_PUBLISHED, ev.PUBLIC_LINK]
    assert store.events_page()[0].record.post_ids == (7400000000000000001,)


def test_a_post_public_at_once_is_one_published_event_with_its_link(made):
    store = made.store
    post = add(store, 5)
    record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=ADA, state=State.PENDING_INIT))
    store.save(post.id, replace(record, state=State.POSTED, publish_id="p5", privacy=PUBLIC, post_ids=(1,)))
    store.save(post.id, replace(record, state=State.POSTED, publish_id="p5", privacy=PUBLIC, post_ids=(1,)))
    assert kinds(store) == [ev.POST_PUBLISHED]


def test_inbox_and_needs_a_person(made):
    store = made.store
    one, two = add(store, 6), add(store, 7)
    record = store.start(one.id, one.revision, PostRecord(key=one.key, user_id=ADA, state=State.PENDING_INIT))
    store.save(one.id, replace(record, state=State.IN_INBOX, publish_id="p6"))
    record = store.start(two.id, two.revision, PostRecord(key=two.key, user_id=ADA, state=State.PENDING_INIT))
    store.save(two.id, replace(record, outcome="try_later", error="no answer to the init"))  # may exist at TikTok
    assert kinds(store) == [ev.POST_IN_INBOX, ev.POST_NEEDS_PERSON]


def test_deliveries_once_per_channel_with_retries_and_lapsed_holds(made, clock):
    store = made.store
    early = store.record_event(ev.ACCOUNT_RELINK, "before-the-channel", user_id=ADA)
    store.register_channels(["mail", "hook"])
    store.register_channels(["mail"])  # again: the cursor stays
    first = store.record_event(ev.ACCOUNT_RELINK, "relink:1", user_id=ADA)
    second = store.record_event(ev.POST_PUBLISHED, "published:1", user_id=ADA)
    assert store.plan_deliveries("mail") == 2 and store.plan_deliveries("mail") == 0
    assert store.plan_deliveries("hook", kinds=[ev.POST_PUBLISHED]) == 2  # both read, one kept
    mine = store.claim_deliveries("mail", holder="a", hold_s=60)
    assert [d.event.id for d in mine] == [first.id, second.id] and early.id not in [d.event.id for d in mine]
    assert store.claim_deliveries("mail", holder="b", hold_s=60) == []  # held by a
    assert store.delivery_sent(mine[0], holder="a")
    assert store.delivery_failed(mine[1], holder="a", retry_at=clock.now + 30, error="HTTP 500")
    assert store.claim_deliveries("mail", holder="b", hold_s=60) == []  # not due yet
    clock.now += 31
    retry = store.claim_deliveries("mail", holder="b", hold_s=60)
    assert [(d.event.id, d.tries) for d in retry] == [(second.id, 1)]
    clock.now += 61  # b died holding it: the hold lapses and another process takes it
    assert not store.delivery_sent(retry[0], holder="nobody")
    late = store.claim_deliveries("mail", holder="c", hold_s=60)
    assert [d.event.id for d in late] == [second.id]
    assert not store.delivery_sent(retry[0], holder="b")  # b's hold went to c
    assert store.delivery_sent(late[0], holder="c")
    hook = store.claim_deliveries("hook", holder="a", hold_s=60)
    assert [d.event.id for d in hook] == [second.id]
    assert store.delivery_failed(hook[0], holder="a", retry_at=None, error="gave up")
    assert store.delivery_counts(["mail"]) == {"pending": 0, "sent": 2, "gave_up": 0}
    assert store.delivery_counts() == {"pending": 0, "sent": 2, "gave_up": 1}


CLAIMER = """
import json, sys
from tests.support.stores import StoreUnderTest
from pathlib import Path
kind, env, holder = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
store = StoreUnderTest(kind, None, env).reopen()
taken = []
for _ in range(200):
    store.plan_deliveries("mail")
    got = store.claim_deliveries("mail", holder=holder, hold_s=600, limit=3)
    for delivery in got:
        store.delivery_sent(delivery, holder=holder)
        taken.append(delivery.event.id)
    if not got and store.delivery_counts(["mail"])["pending"] == 0 and store.plan_deliveries("mail") == 0:
        break
print(json.dumps(taken))
"""


@pytest.mark.slow
def test_three_processes_send_each_event_exactly_once(made, clock):
    store = made.store
    clock.now = time.time() - 1  # the claimers run on the real clock: the events are due
    store.register_channels(["mail"])
    ids = [store.record_event(ev.POST_PUBLISHED, f"published:{n}").id for n in range(60)]
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, made.kind, json.dumps(made.env), f"p{n}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(3)]
    taken = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        taken.append(json.loads(out))
    every = [event_id for part in taken for event_id in part]
    assert sorted(every) == sorted(ids), f"each event once: {len(every)} sends of {len(ids)} events"
    assert store.delivery_counts(["mail"]) == {"pending": 0, "sent": 60, "gave_up": 0}
