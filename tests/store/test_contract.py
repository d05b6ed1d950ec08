"""The post store's contract, run on SQLite and PostgreSQL alike (``store_kind``): what every caller relies on.

Posts with stable ids, compare-and-set changes (a stale revision or a started post is refused, nothing changed),
one row per change, history kept across attempts, claims that exclude other holders and die with their holder,
sealed upload URLs, the Posts page's queries (groups, missed by the clock, changes since a number)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tiktok.errors import ChangeRefused, StoreError
from tiktok.store.base import ImportEntry, lifecycle
from tiktok.store.records import PUBLIC, PostRecord, State, entry_key
from tests.support.stores import FixedClock as Clock, make_store

ROOT = Path(__file__).resolve().parents[2]
ADA, BO = "ada-open-id", "bo-open-id"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # a Fernet key for the sealing tests


def entry(n: int, user: str = ADA, **more) -> dict:
    return {"user_id": user, "video_url": f"https://media.example.com/{n}.mp4", "description": f"post {n}", **more}


def add(store, n: int, due_at: float | None = None, **more):
    data = entry(n, **more)
    return store.add(data, key=entry_key(data), due_at=due_at)


def record(post, state=State.PENDING_INIT, **fields) -> PostRecord:
    return PostRecord(key=post.key, user_id=post.user_id, state=state, **fields)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def made(store_kind, tmp_path, request, clock):
    made = make_store(store_kind, tmp_path, request, clock=clock)
    yield made
    made.store.close()


@pytest.fixture
def store(made):
    return made.store


# -- posts ------------------------------------------------------------------------------------------------------

def test_posts_get_stable_ids_and_one_content_is_one_post(store):
    first, second = add(store, 1), add(store, 2)
    assert (first.id, second.id) == (1, 2) and first.state == "queued" and first.board == "upcoming"
    assert store.get(1).entry == entry(1) and store.find(second.key).id == 2
    with pytest.raises(ChangeRefused, match="already holds this post as post 1"):
        add(store, 1)
    assert store.count() == 2
    store.cancel(1)
    again = add(store, 1)  # the same content composed again after a cancel: the same post, queued again
    assert (again.id, again.state, again.revision) == (1, "queued", 2)


def test_open_posts_are_the_work_not_the_history(store, clock):
    posts = [add(store, n) for n in range(1, 6)]
    store.start(posts[0].id, 1, record(posts[0]))
    store.save(posts[0].id, record(posts[0], State.POSTED, privacy="SELF_ONLY"))            # done: history
    store.start(posts[1].id, 1, record(posts[1]))
    store.save(posts[1].id, record(posts[1], State.FAILED, outcome="failed"))               # TikTok refused for good
    store.start(posts[2].id, 1, record(posts[2]))
    store.save(posts[2].id, record(posts[2], State.FAILED, outcome="try_later"))            # retries by itself
    store.start(posts[3].id, 1, record(posts[3]))
    store.save(posts[3].id, record(posts[3], State.POSTED, privacy=PUBLIC, published_at=clock.now))  # id awaited
    store.cancel(posts[4].id)
    assert [p.id for p in store.open_posts(now=clock.now)] == [3, 4]
    assert [p.id for p in store.open_posts(now=clock.now, retry_failed=True)] == [2, 3, 4]
    assert [p.id for p in store.open_posts(now=clock.now + 25 * 3600)] == [3]  # followed for 24 h only
    assert store.following(clock.now) == 1 and store.following(clock.now + 25 * 3600) == 0
    assert store.open_posts(now=clock.now, user_id=BO) == []


def test_start_only_begins_an_attempt_on_the_post_as_read(store):
    post = add(store, 1)
    edited = store.edit(post.id, {**post.entry, "description": "changed"}, due_at=None, revision=post.revision)
    assert edited.revision == 2 and edited.entry["description"] == "changed" and edited.key == post.key
    assert store.start(post.id, post.revision, record(post)) is None        # read before the edit: refused
    assert store.get(post.id).record is None
    assert store.start(post.id, edited.revision, record(post)).state == State.PENDING_INIT
    with pytest.raises(ChangeRefused, match="a run has started post 1"):
        store.edit(post.id, post.entry, due_at=None, revision=edited.revision)
    with pytest.raises(ChangeRefused, match="a run has started post 1"):
        store.cancel(post.id)
    assert store.get(post.id).entry["description"] == "changed"


def test_a_stale_revision_and_a_missing_post_are_refused_with_nothing_changed(store):
    post = add(store, 1)
    store.edit(post.id, {**post.entry, "description": "first"}, due_at=None, revision=1)
    with pytest.raises(ChangeRefused, match="changed meanwhile"):
        store.edit(post.id, {**post.entry, "description": "second"}, due_at=None, revision=1)
    with pytest.raises(ChangeRefused, match="changed meanwhile"):
        store.cancel(post.id, revision=1)
    with pytest.raises(ChangeRefused, match="no post 99"):
        store.cancel(99)
    assert store.get(post.id).entry["description"] == "first" and store.get(post.id).state == "queued"
    assert store.still_queued(post.id, 2) and not store.still_queued(post.id, 1)
    store.cancel(post.id, revision=2)
    assert not store.still_queued(post.id, 2)
    with pytest.raises(ChangeRefused, match="cancelled meanwhile"):
        store.edit(post.id, post.entry, due_at=None, revision=3)


def test_a_failed_post_can_be_edited_retried_and_its_attempts_are_history(store):
    post = add(store, 1)
    store.start(post.id, 1, record(post))
    store.save(post.id, record(post, State.FAILED, publish_id="p-1", outcome="failed", fail_reason="spam_risk_text"))
    failed = store.get(post.id)
    assert (failed.state, failed.board, failed.open) == (State.FAILED, "failed", False)
    edited = store.edit(post.id, {**post.entry, "description": "calmer"}, due_at=None, revision=failed.revision)
    assert edited.state == State.FAILED and edited.record.fail_reason == "spam_risk_text"
    assert store.request_retry(post.id) and not store.request_retry(post.id)  # twice: nothing more to mark
    marked = store.get(post.id)
    assert (marked.board, marked.open, marked.record.retry_requested) == ("upcoming", True, True)
    assert store.start(post.id, marked.revision, record(post)) is not None
    assert [r.publish_id for r in store.attempts(post.id)] == ["p-1"]  # the failed attempt is kept
    assert not store.request_retry(post.id)  # a run is on it now


def test_a_record_is_one_row_and_keeps_every_field(store):
    post = add(store, 1)
    store.start(post.id, 1, record(post))
    full = record(post, State.UPLOADING, publish_id="p", upload_url="https://up.example/x?upload_token=t",
                  upload_url_expires_at=5.0, next_chunk=3, plan={"video_size": 9, "chunk_size": 3,
                                                                  "total_chunk_count": 3},
                  post_ids=(7, 8), error="e", log_id="L", emulated=True, privacy="SELF_ONLY", username="ada",
                  published_at=4.0, outcome="try_later", force_needed=True)
    saved = store.save(post.id, full)
    assert store.get(post.id).record == saved and saved.updated_at > 0
    before = store.latest_change()
    store.save(post.id, replace(saved, next_chunk=4))
    assert store.latest_change() == before + 1
    assert [p.id for p in store.changed_since(before, limit=10)] == [post.id]


SEALED_SECRET = "never-in-the-clear-7f3a9c2e"  # long enough that no ciphertext contains it by chance


def test_upload_urls_are_sealed_at_rest_and_need_the_key(store_kind, tmp_path, request):
    made = make_store(store_kind, tmp_path, request, key=KEY)
    try:
        post = add(made.store, 1)
        made.store.start(post.id, 1, record(post))
        made.store.save(post.id, record(post, State.UPLOADING, publish_id="p",
                                        upload_url="https://up/?upload_token=" + SEALED_SECRET))
        with made.store.engine.connect() as conn:
            raw = conn.exec_driver_sql("SELECT record FROM tiktok_store_posts").scalar_one()
        assert SEALED_SECRET not in raw and json.loads(raw)["upload_url"].startswith("fernet:v1:")
        assert made.store.get(post.id).record.upload_url == "https://up/?upload_token=" + SEALED_SECRET
        keyless = made.reopen()
        try:
            with pytest.raises(StoreError, match="TOKENS_KEY is not set") as caught:
                keyless.get(post.id)
            assert SEALED_SECRET not in str(caught.value)
        finally:
            keyless.close()
    finally:
        made.store.close()


# -- imports (the store's side; the importer's rules are in tests/test_importer.py) ----------------------------------

def imported(n: int, index: int, **more) -> ImportEntry:
    data = entry(n, **more)
    return ImportEntry(key=entry_key(data), user_id=ADA, entry=data, index=index, due_at=None)


def test_an_import_adds_keeps_withdraws_and_never_touches_the_apps_posts(store):
    composed = add(store, 100)
    first = store.import_manifest("/m.json", "d1", [imported(1, 0), imported(2, 1)], orphans=[], legacy=None,
                                  problems=[])
    assert [p.id for p in first.added] == [2, 3] and first.withdrawn == []
    same = store.import_manifest("/m.json", "d1", [imported(1, 0), imported(2, 1)], orphans=[], legacy=None,
                                 problems=[])
    assert same.unchanged and store.count() == 3
    store.start(2, 1, record(store.get(2)))  # post 2 (entry 1) started: it stays whatever the file says
    emptied = store.import_manifest("/m.json", "d2", [], orphans=[], legacy=None, problems=[])
    assert [p.id for p in emptied.withdrawn] == [3]
    assert store.get(3).state == "withdrawn" and store.get(2).state == State.PENDING_INIT
    assert store.get(composed.id).state == "queued"
    back = store.import_manifest("/m.json", "d3", [imported(2, 0)], orphans=[], legacy=None, problems=[])
    assert [p.id for p in back.revived] == [3] and store.get(3).state == "queued"
    assert store.last_import("/m.json")["digest"] == "d3"


def test_an_import_moves_legacy_records_in_once(store):
    moved = replace(imported(1, 0), record=PostRecord(key=imported(1, 0).key, user_id=ADA, state=State.POSTED,
                                                     updated_at=1.0))
    orphan = PostRecord(key="old-key-of-a-gone-entry", user_id=ADA, state=State.POSTED, updated_at=2.0)
    result = store.import_manifest("/m.json", "d1", [moved], orphans=[orphan], legacy="/m.results.json",
                                   problems=[])
    assert result.migrated == 2
    assert [(p.id, p.state, p.origin, p.open) for p in (store.get(1), store.get(2))] == [
        (1, State.POSTED, "manifest", False), (2, State.POSTED, "earlier", False)]
    again = store.import_manifest("/m.json", "d2", [moved], orphans=[orphan], legacy="/m.results.json",
                                  problems=[])
    assert again.migrated == 0 and store.count() == 2


# -- claims ------------------------------------------------------------------------------------------------------

def test_a_claim_excludes_every_other_holder_until_released(made):
    post = add(made.store, 1)
    other = made.reopen()
    try:
        assert made.store.claim(post).holder is None
        assert made.store.claim(post).holder is not None  # not twice, even by the same store (two threads)
        held = other.claim(post)
        assert held.holder is not None and held.holder.pid == os.getpid()
        assert other.live_claims([post]) == {post.id}
        made.store.release(post)
        assert other.live_claims([post]) == set()
        assert other.claim(post).holder is None and made.store.claim(post).holder is not None
        other.release(post)
    finally:
        other.close()


CLAIM_AND_DIE = """
import os, sys
sys.path.insert(0, {root!r})
from tiktok.store.base import Post
{opener}
post = store.get(1)
assert store.claim(post).holder is None
print("claimed", flush=True)
sys.stdin.readline()
os._exit(0)  # no release: the claim must die with the process
"""


def test_a_claim_dies_with_its_process_and_is_taken_over(made):
    post = add(made.store, 1)
    if made.kind == "sqlite":
        opener = f"from tiktok.store.sqlite import open_sqlite\nstore = open_sqlite({made.env['STORE_FILE']!r})"
    else:
        opener = (f"from tiktok.store.postgres import open_postgres\n"
                  f"store = open_postgres({made.env['DATABASE_URL']!r})")
    child = subprocess.Popen([sys.executable, "-c", CLAIM_AND_DIE.format(root=str(ROOT), opener=opener)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "claimed"
        held = made.store.claim(post)
        assert held.holder is not None and held.holder.pid == child.pid
        child.kill()
        child.wait(timeout=10)
        taken = made.store.claim(post)
        assert taken.holder is None and taken.taken_over is not None and taken.taken_over.pid == child.pid
        made.store.release(post)
    finally:
        if child.poll() is None:
            child.kill()


# -- the Posts page's queries ------------------------------------------------------------------------------------

def test_groups_pages_and_the_clock_decides_missed(store, clock):
    for n in range(1, 26):
        post = add(store, n)
        store.start(post.id, 1, record(post))
        clock.now += 1
        store.save(post.id, record(post, State.POSTED, privacy="SELF_ONLY"))
    late = add(store, 90, post_at="2027-01-01T10:00:00Z", due_at=clock.now - 7200)
    soon = add(store, 91, post_at="2027-01-01T12:00:00Z", due_at=clock.now + 600)
    counts = store.board_counts(missed_before=clock.now - 3600)
    assert counts == {"failed": 1, "in_progress": 0, "upcoming": 1, "done": 25}
    assert [p.id for p in store.board_page("failed", missed_before=clock.now - 3600, offset=0, limit=20)] \
        == [late.id]
    assert [p.id for p in store.board_page("upcoming", missed_before=clock.now - 9000, offset=0, limit=20)] \
        == [late.id, soon.id]  # with a longer grace it is still upcoming, in time order
    done = store.board_page("done", missed_before=0, offset=0, limit=20)
    assert [p.id for p in done] == list(range(25, 5, -1))  # newest first
    assert [p.id for p in store.board_page("done", missed_before=0, offset=20, limit=20)] == [5, 4, 3, 2, 1]
    assert store.next_due(clock.now) == soon.due_at and store.moving() is False


def test_changed_since_gives_only_what_changed(store):
    posts = [add(store, n) for n in range(1, 11)]
    mark = store.latest_change()
    store.cancel(posts[3].id)
    store.edit(posts[7].id, {**posts[7].entry, "description": "x"}, due_at=None, revision=1)
    changed = store.changed_since(mark, limit=50)
    assert [(p.id, p.board) for p in changed] == [(4, "hidden"), (8, "upcoming")]
    assert store.changed_since(store.latest_change(), limit=50) == []


def test_every_post_and_adopt_copy_a_store_into_another(store_kind, tmp_path, request, made):
    for n in range(1, 4):
        add(made.store, n)
    post = made.store.get(2)
    made.store.start(post.id, 1, record(post))
    made.store.save(post.id, record(post, State.FAILED, publish_id="x", outcome="failed"))
    made.store.request_retry(post.id)
    made.store.start(post.id, made.store.get(2).revision, record(post))
    made.store.save(post.id, record(post, State.POSTED))
    (tmp_path / "copy").mkdir()
    target = make_store("sqlite", tmp_path / "copy", request)
    try:
        copied = [target.store.adopt(p, attempts=made.store.attempts(p.id)) for p in made.store.every_post(batch=2)]
        assert copied == [True, True, True]
        assert [target.store.adopt(p) for p in made.store.every_post()] == [False, False, False]
        moved = target.store.find(post.key)
        assert moved.state == State.POSTED and [r.publish_id for r in target.store.attempts(moved.id)] == ["x"]
    finally:
        target.store.close()


# -- the rules (pure) --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state, fields, ended, expected", [
    (None, {}, None, ("queued", "upcoming", True)),
    (State.PENDING_INIT, {}, None, (State.PENDING_INIT, "in_progress", True)),
    (State.PENDING_INIT, {"outcome": "failed"}, None, (State.PENDING_INIT, "failed", True)),  # may exist: --force
    (State.UPLOADING, {"publish_id": "p"}, None, (State.UPLOADING, "in_progress", True)),
    (State.POSTED, {}, None, (State.POSTED, "done", False)),
    (State.FAILED, {"outcome": "failed"}, None, (State.FAILED, "failed", False)),      # waits for a person
    (State.FAILED, {"outcome": "try_later"}, None, (State.FAILED, "failed", True)),    # retried by the next run
    (State.FAILED, {"outcome": "failed", "force_needed": True}, None, (State.FAILED, "failed", True)),
    (State.FAILED, {"outcome": "failed", "retry_requested": True}, None, (State.FAILED, "upcoming", True)),
    (None, {}, "cancelled", ("cancelled", "hidden", False)),
])
def test_lifecycle_table(state, fields, ended, expected):
    rec = None if state is None else PostRecord(key="k", user_id=ADA, state=state, **fields)
    life = lifecycle(rec, ended)
    assert (life.state, life.board, life.open) == expected


def test_a_sealed_url_copied_to_another_post_does_not_open(store_kind, tmp_path, request):
    made = make_store(store_kind, tmp_path, request, key=KEY)
    try:
        first, second = add(made.store, 1), add(made.store, 2)
        for post in (first, second):
            made.store.start(post.id, 1, record(post))
        made.store.save(first.id, record(first, State.UPLOADING, publish_id="p",
                                         upload_url="https://up/?upload_token=A"))
        with made.store.engine.begin() as conn:
            sealed = conn.exec_driver_sql(f"SELECT record FROM tiktok_store_posts WHERE id = {first.id}").scalar_one()
            conn.exec_driver_sql("UPDATE tiktok_store_posts SET record = :r WHERE id = :i" if store_kind == "sqlite"
                                 else "UPDATE tiktok_store_posts SET record = %(r)s WHERE id = %(i)s",
                                 {"r": sealed.replace(first.key, second.key), "i": second.id})
        with pytest.raises(StoreError, match="sealed for another record"):
            made.store.get(second.id)
    finally:
        made.store.close()


def test_a_key_that_is_not_a_fernet_key_is_a_config_error_that_never_echoes_it(tmp_path):
    from tiktok.errors import ConfigError
    from tiktok.store.sqlite import open_sqlite

    with pytest.raises(ConfigError, match="TOKENS_KEY is not a Fernet key") as raised:
        open_sqlite(tmp_path / "tiktok.db", key="my-secret-not-a-key")
    assert "my-secret-not-a-key" not in str(raised.value)
