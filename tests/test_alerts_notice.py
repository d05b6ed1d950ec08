"""The notice over a real store, on SQLite and PostgreSQL (tiktok.alerts.notice): what is stuck is read by one
indexed query that needs no TOKENS_KEY, and however many processes notice the same thing, it is one event."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from tiktok.alerts.notice import Notice
from tiktok.auth.tokens import Account, TokenStore
from tiktok.store import events as ev
from tiktok.store.records import PostRecord, State, entry_key
from tests.support.stores import FixedClock, make_store

ADA = "ada-open-id"
NOW = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
def sealed(store_kind, tmp_path, request, clock):
    """A store whose upload URLs are sealed with TOKENS_KEY, and a second one on the same data opened without it."""
    key = Fernet.generate_key().decode()
    made = make_store(store_kind, tmp_path, request, key=key, clock=clock)
    other = made.reopen(clock=clock)
    yield made.store, other
    made.store.close()
    other.close()


def started(store, clock: FixedClock, n: int, state: State, ago: float, **fields):
    """A post a run started and last saved ``ago`` seconds before NOW (the store stamps saves with its clock)."""
    data = {"user_id": ADA, "video_url": f"https://media.example.com/{n}.mp4", "description": f"post {n}"}
    post = store.add(data, key=entry_key(data), due_at=None)
    clock.now = NOW - ago
    record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=ADA, state=State.PENDING_INIT))
    store.save(post.id, replace(record, state=state, **fields))
    clock.now = NOW
    return post


def test_stuck_posts_are_read_without_the_key_and_told_once_whoever_notices(sealed, clock, tmp_path):
    store, without_key = sealed
    old = started(store, clock, 1, State.UPLOADING, 2 * HOUR, publish_id="v_1",
                  upload_url="https://upload.example/?upload_token=tok-secret")
    started(store, clock, 2, State.PROCESSING, 10 * 60, publish_id="v_2")  # in flight, but lately changed
    started(store, clock, 3, State.POSTED, 5 * HOUR, publish_id="v_3")  # old, but done
    found = without_key.in_flight_since(NOW - HOUR)
    assert [(item.post_id, item.record.publish_id) for item in found] == [(old.id, "v_1")]
    assert found[0].record.upload_url is None  # never unsealed, never needed

    tokens = TokenStore(tmp_path / "user_tokens.json")
    tokens.put(Account(ADA, "act.x", "rft.x", NOW + HOUR, NOW + 5 * 86400, username="ada", linked_at=NOW - 86400,
                       refreshed_at=NOW - HOUR))
    one = Notice(store, tokens, clock=clock, stuck_after_s=HOUR)
    two = Notice(without_key, tokens, clock=clock, stuck_after_s=HOUR)  # another process, the same data
    made = one.run() + two.run() + one.run()
    assert sorted(event.kind for event in made) == [ev.POST_STUCK, ev.REFRESH_EXPIRING]
    assert sorted(event.kind for event in store.events_page()) == [  # and the done post's own, from its save
        ev.POST_PUBLISHED, ev.POST_STUCK, ev.REFRESH_EXPIRING]
    stuck = next(event for event in store.events_page() if event.kind == ev.POST_STUCK)
    assert stuck.post_id == old.id and "tok-secret" not in str(stuck.data)
