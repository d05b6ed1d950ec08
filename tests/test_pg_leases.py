"""The lease rules of PostgreSQL claims and account locks (tiktok/store/leases.py), with the shipped LEASE_S and
RENEW_S: a lease is a row timed by the database's clock; a live one is refused, a lapsed one taken over with a larger
fencing token; a holder whose lease was taken over can write nothing of the post and send no init (checked in the
database right before it); leases outlive dropped connections; a hung holder keeps its lease only until it lapses;
an earlier version's advisory lock and a lease exclude each other during an upgrade.

A lease "lapses" here by moving its ``lease_until`` back past the database's ``now()``: what LEASE_S seconds of
silence would do, without waiting them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.api import ApiClient
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.errors import ClaimLost
from tiktok.exitcodes import DONE, TRY_LATER
from tiktok.posting.client import PostingClient
from tiktok.posting.importer import request_of
from tiktok.posting.limits import POSTING_LIMITS
from tiktok.posting.publisher import CLAIMED_ELSEWHERE, Publisher
from tiktok.posting.transfer import upload_session
from tiktok.ratelimit import TokenLimiter
from tiktok.store import leases, postgres
from tiktok.store.postgres import open_postgres
from tiktok.store.records import PostRecord, State
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import EmulatedTime
from tests.support.queue_workers import queue_post

pytestmark = pytest.mark.slow  # a throwaway PostgreSQL cluster

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, _ = (u.open_id for u in default_users())
DEADLINE_S = 30  # only ever reached when something is broken


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    postgres.migrate(database_url)
    return database_url


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture
def stores(db):
    """Open stores on the test's database, as separate runs would have them; closed at the end."""
    opened = []

    def open_one(host: str | None = None):
        store = open_postgres(db)
        if host:
            store.host = host
        opened.append(store)
        return store
    yield open_one
    for store in opened:
        store.close()


def rows(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def lapse(url: str, name: str) -> None:
    """The lease ``name`` past its lease_until, as LEASE_S without a renewal would leave it."""
    with psycopg.connect(url) as conn:
        done = conn.execute("UPDATE tiktok_store_leases SET lease_until = extract(epoch FROM now()) - 1 WHERE "
                            "name = %s", (name,))
        assert done.rowcount == 1


def lease(url: str, name: str):
    found = rows(url, "SELECT holder, fence, lease_until - extract(epoch FROM now()), pid, host FROM "
                      "tiktok_store_leases WHERE name = %s", name)
    return found[0] if found else None


def entry(clip: Path, user: str = ADA, **fields) -> dict:
    return {"user_id": user, "video_path": str(clip), "privacy": "SELF_ONLY", **fields}


def pending(post) -> PostRecord:
    return PostRecord(key=post.key, user_id=post.user_id, state=State.PENDING_INIT)


# -- the rules ----------------------------------------------------------------------------------------------------

def test_a_claim_is_a_row_timed_by_the_database_clock_with_a_holder_and_a_fence(stores, db, clip):
    store = stores()
    post = queue_post(store, entry(clip))
    assert store.claim(post).holder is None
    holder, fence, left_s, pid, host = lease(db, leases.post_name(post.key))
    assert holder == store.leases.holder and fence >= 1 and (pid, host) == (os.getpid(), store.host)
    assert leases.LEASE_S - 5 < left_s <= leases.LEASE_S  # now() + LEASE_S by the server, whatever this clock says
    assert store.live_claims([post]) == {post.id}
    store.release(post)
    assert lease(db, leases.post_name(post.key)) is None and store.live_claims([post]) == set()


def test_a_live_lease_is_refused_and_a_lapsed_one_taken_over_with_a_larger_fence(stores, db, clip):
    first, second = stores(), stores(host="another-machine")
    post = queue_post(first, entry(clip))
    name = leases.post_name(post.key)
    assert first.claim(post).holder is None
    fence = lease(db, name)[1]
    refused = second.claim(post)
    assert refused.holder is not None and refused.holder.pid == os.getpid()  # the same process: alive
    assert first.claim(post).holder is not None  # not twice by the same store either (two threads)
    lapse(db, name)
    assert second.live_claims([post]) == set()  # a lapsed lease is nobody's: the dispatcher defers a job for it
    taken = second.claim(post)
    assert taken.holder is None and taken.taken_over is not None and taken.taken_over.pid == os.getpid()
    holder, new_fence, *_ = lease(db, name)
    assert holder == second.leases.holder and new_fence == second.leases.fence(name) and new_fence > fence
    second.release(post)
    first.release(post)  # the stale holder's release deletes nothing of the new one's (it is gone already)
    assert lease(db, name) is None


def test_a_holder_whose_lease_was_taken_over_writes_nothing_and_may_not_init(stores, db, clip):
    stale, taker = stores(), stores(host="another-machine")
    post = queue_post(stale, entry(clip))
    assert stale.claim(post).holder is None
    record = stale.start(post.id, post.revision, pending(post))  # a holder writes while its lease is its own
    assert record is not None
    stale.check_claim(post)
    lapse(db, leases.post_name(post.key))
    assert taker.claim(post).taken_over is not None
    for write in (lambda: stale.save(post.id, replace(record, state=State.UPLOADING, publish_id="p-stale")),
                  lambda: stale.start(post.id, post.revision, pending(post)),
                  lambda: stale.check_claim(post)):
        with pytest.raises(ClaimLost, match=f"post {post.id}: this run's claim on it ended"):
            write()
    assert stale.get(post.id).record.state == State.PENDING_INIT  # nothing of the stale holder's was written
    taker.check_claim(post)
    taker.save(post.id, replace(record, state=State.UPLOADING, publish_id="p-taker"))
    assert stale.get(post.id).record.publish_id == "p-taker"
    taker.release(post)


def test_a_lapsed_lease_nobody_took_is_lost_too(stores, db, clip):
    """A holder silent past its lease (hung, cut off) may not carry on even when nobody took it meanwhile: the lease
    is what says who may post, and it ended."""
    store = stores()
    post = queue_post(store, entry(clip))
    assert store.claim(post).holder is None
    lapse(db, leases.post_name(post.key))
    assert store.leases.keeper.renew() == set()  # the keeper does not bring a lapsed lease back
    with pytest.raises(ClaimLost):
        store.check_claim(post)
    with pytest.raises(ClaimLost):
        store.start(post.id, post.revision, pending(post))
    assert store.get(post.id).record is None


def test_renewal_moves_the_lease_on_by_the_database_clock(stores, db, clip):
    store = stores()
    post = queue_post(store, entry(clip))
    assert store.claim(post).holder is None
    name = leases.post_name(post.key)
    with psycopg.connect(db) as conn:  # as if RENEW_S had passed: 20 s of the lease used up
        conn.execute("UPDATE tiktok_store_leases SET lease_until = lease_until - 20 WHERE name = %s", (name,))
    assert lease(db, name)[2] < leases.LEASE_S - 15
    assert store.leases.keeper.renew() == {name}
    assert lease(db, name)[2] > leases.LEASE_S - 5
    assert leases.RENEW_S * 3 < leases.LEASE_S  # three renewals may fail (a restart) before a live lease lapses
    store.release(post)


def test_claims_outlive_connections_the_server_drops(stores, db, clip):
    """``idle_session_timeout`` (what managed PostgreSQL, PgBouncer and firewalls impose) ends every idle session
    of the holder: its claim stays its own, it writes on, and nobody else can take the post."""
    holder, other = stores(), stores(host="another-machine")
    post = queue_post(holder, entry(clip))
    assert holder.claim(post).holder is None
    name = leases.post_name(post.key)
    with psycopg.connect(db, autocommit=True) as conn:  # every session of this database but this one dropped
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")
    assert other.claim(post).holder is not None  # what a session advisory lock could not say any more
    holder.check_claim(post)
    record = holder.start(post.id, post.revision, pending(post))
    assert record is not None and holder.leases.keeper.renew() == {name}
    holder.release(post)


def test_a_process_renews_all_its_claims_on_one_connection_of_its_own_while_it_holds_any(stores, db, clip):
    """The connection budget: however many stores (a worker's jobs) hold claims, one keeper session per process."""
    jobs = [stores() for _ in range(3)]
    posts = [queue_post(jobs[0], entry(clip, description=f"job {n}")) for n in range(3)]
    keepers = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
               "starts_with(application_name, %s)")
    for store, post in zip(jobs, posts):
        assert store.claim(post).holder is None
    assert rows(db, keepers, leases.KEEPER) == [(1,)]
    assert jobs[0].leases.keeper.renew() == {leases.post_name(post.key) for post in posts}
    for store, post in zip(jobs, posts):
        store.release(post)
    deadline = time.monotonic() + DEADLINE_S  # a closed session's backend ends a moment later
    while rows(db, keepers, leases.KEEPER) != [(0,)]:
        assert time.monotonic() < deadline, "the keeper session stayed open with nothing held"
        time.sleep(0.05)


HOLDER = """
import sys
from dataclasses import replace
from tiktok.errors import ClaimLost
from tiktok.store.postgres import open_postgres
from tiktok.store.records import PostRecord, State
store = open_postgres(sys.argv[1])
post = store.get(int(sys.argv[2]))
assert store.claim(post).holder is None
record = store.start(post.id, post.revision, PostRecord(key=post.key, user_id=post.user_id, state=State.PENDING_INIT))
print("claimed", flush=True)
sys.stdin.readline()
try:
    store.check_claim(post)
    print("still mine", flush=True)
except ClaimLost as lost:
    print("lost:", lost, flush=True)
try:
    store.save(post.id, replace(record, state=State.UPLOADING, publish_id="p-stale"))
    print("saved", flush=True)
except ClaimLost:
    print("refused", flush=True)
store.close()
"""


def test_a_hung_holder_keeps_its_claim_until_it_lapses_then_stops_when_it_wakes(stores, db, clip):
    taker = stores(host="another-machine")
    post = queue_post(taker, entry(clip))
    hung = subprocess.Popen([sys.executable, "-c", HOLDER, db, str(post.id)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert hung.stdout.readline().strip() == "claimed"
        hung.send_signal(signal.SIGSTOP)
        refused = taker.claim(post)  # alive on this machine (stopped, not gone) and within its lease
        assert refused.holder is not None and refused.holder.pid == hung.pid
        lapse(db, leases.post_name(post.key))
        taken = taker.claim(post)
        assert taken.holder is None and taken.taken_over.pid == hung.pid
        hung.send_signal(signal.SIGCONT)
        hung.stdin.write("go\n")
        hung.stdin.flush()
        said = [hung.stdout.readline().strip() for _ in range(2)]
        assert hung.wait(timeout=DEADLINE_S) == 0
    finally:
        if hung.poll() is None:
            hung.kill()
    assert said[0].startswith(f"lost: post {post.id}: this run's claim on it ended") and said[1] == "refused"
    assert taker.get(post.id).record.publish_id is None  # the woken holder wrote nothing
    taker.release(post)


def test_accounts_are_leased_alike_and_a_worker_that_lost_its_account_claims_nothing(stores, db, clip):
    worker, other = stores(), stores(host="another-machine")
    post = queue_post(worker, entry(clip))
    assert worker.take_account(ADA).holder is None
    assert other.take_account(ADA).holder.pid == os.getpid()
    assert other.take_account(BO).holder is None  # accounts are apart
    worker.check_account(ADA)
    assert worker.claim(post).holder is None
    worker.release(post)
    lapse(db, leases.account_name(ADA))
    assert other.take_account(ADA).taken_over is not None
    with pytest.raises(ClaimLost, match=f"account {ADA}"):
        worker.check_account(ADA)
    with pytest.raises(ClaimLost):
        worker.claim(post)  # a worker whose account was taken over stops its queue before the next post
    worker.release_account(ADA)
    other.release_account(ADA)
    other.release_account(BO)
    assert rows(db, "SELECT name FROM tiktok_store_leases") == []


def test_an_earlier_versions_advisory_lock_and_a_lease_exclude_each_other(stores, db, clip):
    """During an upgrade a run of the earlier version claims with a session advisory lock of the same name."""
    store = stores()
    post = queue_post(store, entry(clip))
    key = f"tiktok-post:{post.key}"
    with psycopg.connect(db, autocommit=True) as earlier:
        assert earlier.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]
        refused = store.claim(post)
        assert refused.holder is not None and lease(db, key) is None
        assert store.live_claims([post]) == {post.id}
        earlier.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
        assert store.claim(post).holder is None
        assert not earlier.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]
        store.release(post)
        assert earlier.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]


# -- the publisher checks its claim right before the init ----------------------------------------------------------

class Runner:
    """A publisher over the PostgreSQL store, wired to the emulator, as a run's worker thread has it."""

    def __init__(self, emulator, remote, tmp_path: Path, store) -> None:
        self.tokens = TokenStore(tmp_path / "user_tokens.json")
        session = requests.Session()
        self.oauth = OAuthClient(session, api_base=emulator.url, client_key=emulator.config.client_key,
                                 client_secret=emulator.config.client_secret)
        self.posting = PostingClient(ApiClient(session, api_base=emulator.url))
        self.time = EmulatedTime(remote)
        self.store = store
        link_account(emulator.url, self.tokens, self.oauth, ADA, scopes=("user.info.basic", "video.publish",
                                                                         "video.upload"))

    def publish(self, post, entry: dict, limiter=None):
        request, problems = request_of(entry, source="test", allow_loopback=True)
        assert request is not None, problems
        publisher = Publisher(tokens=self.tokens, oauth=self.oauth, posting=self.posting,
                              upload_session=upload_session(), posts=self.store, emulated=True,
                              runtime=self.time.runtime(), poll_interval_s=3.0, say=lambda line: None,
                              limiter=limiter)
        return publisher.publish(post, request)


def test_a_run_whose_claim_is_taken_over_before_its_init_sends_none(stores, db, clip, emulator, remote, tmp_path):
    """The claim is checked in the database right before the init, after every wait: here the init's slot in the
    limiter waits, and meanwhile the claim lapses and another run takes it over."""
    store, taker = stores(), stores(host="another-machine")
    given = entry(clip, description="taken over before its init")
    post = queue_post(store, given)
    name = leases.post_name(post.key)

    def meanwhile(seconds: float) -> None:  # the limiter's wait for the init slot
        if taker.live_claims([post]) == {post.id} and not taker.leases.holds(name):
            lapse(db, name)
            assert taker.claim(post).taken_over is not None
        clock[0] += seconds
    clock = [0.0]
    limiter = TokenLimiter({**POSTING_LIMITS, "init": 1}, clock=lambda: clock[0], sleep=meanwhile)
    limiter.acquire(ADA, "init")  # the init slot is taken: the run's init waits for the next
    runner = Runner(emulator, remote, tmp_path, store)
    outcome = runner.publish(post, given, limiter=limiter)
    assert (outcome.status, outcome.state) == (TRY_LATER, CLAIMED_ELSEWHERE), outcome
    assert "this run's claim on it ended" in outcome.detail
    assert [r["path"] for r in remote.requests() if r["path"].endswith("/init/")] == []  # no init went out
    assert remote.state()["posts"] == []
    assert store.get(post.id).record.state == State.PENDING_INIT  # as start() left it: nothing written after
    assert lease(db, name)[1] == taker.leases.fence(name)  # the stopped run's release took nothing from the taker
    taker.release(post)
    again = runner.publish(store.get(post.id), given)  # pending_init of a file upload: safe to init (no bytes sent)
    assert again.status == DONE, again
    assert [p["post_info"]["title"] for p in remote.state()["posts"]] == ["taken over before its init"]


def test_sqlite_claims_keep_their_protocol(tmp_path, clip):
    """SQLite's flock claims end only with their holder: checking one is trivially true, writes are not fenced."""
    from tiktok.store.sqlite import open_sqlite

    store = open_sqlite(tmp_path / "tiktok.db")
    try:
        post = queue_post(store, entry(clip))
        assert store.claim(post).holder is None
        store.check_claim(post)
        assert store.start(post.id, post.revision, pending(post)) is not None
        store.release(post)
        assert store.live_claims([post]) == set()
    finally:
        store.close()
