"""Workers on PostgreSQL, end to end: a throwaway cluster, the emulator, real ``python -m tiktok worker`` processes.

- 3 workers, 12 accounts with 5 posts each (three sizes, some scheduled 1 to 3 s ahead) while a periodic refresh
  rotates every account's refresh token every 2 s (strict rotation): every post made exactly once with its file's
  bytes, no spent refresh token ever presented, no 429, nothing posted before its post_at.
- A worker SIGKILLed mid-upload, 5 times at random points: every post still made exactly once, resumed (one init
  per post, the upload carried on from the chunk the emulator held), and no claim left behind.
- The database restarted under a running worker: it waits, then carries on.
- The dispatcher's choices (pure): which posts get a job now, which one at their time, which none.

The posts are queued in the post store (``tiktok_store_posts``) as the composer queues them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.pg_store import PgTokenStore
from tiktok.db.migrations import migrate
from tiktok.emulator.config import EmulatorConfig, generated_users
from tiktok.jobs.dispatch import Deferral, plan_deferrals
from tiktok.posting.importer import request_of
from tiktok.posting.runner import Work
from tiktok.store import postgres
from tiktok.store.base import Post, lifecycle
from tiktok.store.postgres import open_postgres
from tiktok.store.records import PUBLIC, PostRecord
from tests.support.flows import link_account
from tests.support.posting import padded_video, sha256_file
from tests.support.queue_workers import queue_post

pytestmark = pytest.mark.slow  # worker processes on a throwaway PostgreSQL, killed and restarted

ROOT = Path(__file__).resolve().parents[1]
SCOPES = ("user.info.basic", "video.publish", "video.upload")
USERS = generated_users(12)
DEADLINE_S = 180


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    config = EmulatorConfig()
    config.users = [*config.users, *USERS]
    return config


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("worker-videos")
    return {name: padded_video(folder / f"{name}.mp4", size) for name, size in
            (("small", 300_000), ("medium", 6_000_000), ("large", 20_000_000), ("huge", 100_000_000))}


NOW = 1_800_000_000.0
LATER = datetime.fromtimestamp(NOW + 3600, timezone.utc)


def work(*, due_at: float | None = None, record: PostRecord | None = None) -> Work:
    """Post 7 of account u1 as the store would hand it to the dispatcher."""
    entry = {"user_id": "u1", "video_path": "/videos/7.mp4", "privacy": "SELF_ONLY"}
    if due_at is not None:
        entry["post_at"] = datetime.fromtimestamp(due_at, timezone.utc).isoformat()
    life = lifecycle(record)
    post = Post(id=7, key="k7", user_id="u1", entry=entry, origin="app", state=life.state, board=life.board,
                revision=1, change=1, created_at=NOW, updated_at=NOW, record=record, due_at=due_at, open=life.open)
    request, problems = request_of(entry, source="test", allow_loopback=True)
    assert request is not None, problems
    return Work(post, request)


def record(state: str, ago_s: float, **fields) -> PostRecord:
    return PostRecord(key="k7", user_id="u1", state=state, publish_id="p7", updated_at=NOW - ago_s, **fields)


NOW_JOB = [Deferral("k7", "u1", "post:k7")]


@pytest.mark.parametrize("item, live, expected", [
    (work(), set(), NOW_JOB),
    (work(due_at=NOW + 3600), set(), [Deferral("k7", "u1", f"post:k7@{LATER.isoformat()}", LATER)]),
    (work(), {7}, []),  # a worker holds its claim: that worker is on it
    (work(record=record("uploading", 10)), set(), NOW_JOB),  # a killed worker's upload: resume it now
    (work(record=record("failed", 10, outcome="try_later")), set(), []),  # failed a moment ago: not yet
    (work(record=record("failed", 120, outcome="try_later")), set(), NOW_JOB),
    (work(record=record("failed", 10, outcome="try_later", retry_requested=True)), set(), NOW_JOB),
    (work(record=record("failed", 120, outcome="failed")), set(), []),  # failed for good: waits for a person
    (work(record=record("posted", 10, privacy=PUBLIC, published_at=NOW - 10)), set(), []),
    (work(record=record("posted", 120, privacy=PUBLIC, published_at=NOW - 120)), set(), NOW_JOB),  # its public id
], ids=["due", "scheduled", "claimed", "in flight", "failed lately", "failed a while ago", "retry asked",
        "failed for good", "published lately", "published a while ago"])
def test_the_dispatcher_defers_a_job_only_for_a_post_that_needs_one(item, live, expected):
    assert plan_deferrals([item], live, now=NOW, grace_s=3600) == expected


def migrated(url: str) -> str:
    """``url`` migrated as ``python -m tiktok db migrate`` does it."""
    migrate(url)
    postgres.migrate(url)
    return url


@pytest.fixture
def db(database_url) -> str:
    return migrated(database_url)


@pytest.fixture
def add(db):
    """Queue a post in the database, as the composer does; returns the Post."""
    store = open_postgres(db)
    yield lambda entry: queue_post(store, entry)
    store.close()


def link_all(emulator, db: str, users) -> None:
    store = PgTokenStore(db)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for user in users:
        link_account(emulator.url, store, oauth, user.open_id, scopes=SCOPES)


def start_worker(emulator, db: str, log: Path, **env: str) -> subprocess.Popen:
    """A worker with the shipped schedule and heartbeat (no WORKER_* setting) unless ``env`` sets one for its case."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(log.parent), "PYTHONPATH": str(ROOT),
                   "TIKTOK_CLIENT_KEY": emulator.config.client_key,
                   "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                   "DATABASE_URL": db, **env}
    handle = log.open("a")
    return subprocess.Popen([sys.executable, "-m", "tiktok", "worker", "--concurrency", "4"], cwd=log.parent,
                            env=environment, stdout=handle, stderr=subprocess.STDOUT)


def stop(workers: list[subprocess.Popen]) -> list[int]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    return [worker.wait(timeout=60) for worker in workers]


def posted(db: str) -> int:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM tiktok_store_posts WHERE state = 'posted'").fetchone()[0]


def wait_until(condition, workers, log: Path, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        dead = [w.pid for w in workers if w.poll() is not None]
        if dead or time.monotonic() >= deadline:
            keep = Path(os.environ.get("WORKER_LOG_KEEP", "")) if os.environ.get("WORKER_LOG_KEEP") else None
            if keep:
                keep.write_text(log.read_text())
            raise AssertionError(f"{what}; workers ended: {dead}\n" + log.read_text()[-4000:])
        time.sleep(0.2)


def test_three_workers_post_sixty_posts_once_each_under_strict_rotation(db, add, emulator, remote, videos, tmp_path):
    link_all(emulator, db, USERS)
    now = datetime.now(timezone.utc)
    sizes = ("small", "medium", "large")
    planned = []
    for n in range(5):
        for u, user in enumerate(USERS):
            scheduled = (n + u) % 5 == 0
            post_at = now + timedelta(seconds=1 + (n + u) % 3) if scheduled else None
            entry = {"user_id": user.open_id, "video_path": str(videos[sizes[(n + u) % 3]]),
                     "privacy": "SELF_ONLY", "description": f"{user.username} post {n}"}
            if post_at is not None:
                entry["post_at"] = post_at.isoformat()
            add(entry)
            planned.append((entry, post_at))
    log = tmp_path / "workers.log"
    # the case: refreshes rotating every token while the posts go out; the default refresh (every 10 minutes, for
    # tokens expiring within 90) never comes round in this test
    workers = [start_worker(emulator, db, log, WORKER_REFRESH_CRON="* * * * * */2", WORKER_REFRESH_WITHIN="3h")
               for _ in range(3)]
    try:
        wait_until(lambda: posted(db) == 60, workers, log, f"not every entry posted (posted: {posted(db)})")
    finally:
        codes = stop(workers)
    assert codes == [0, 0, 0], log.read_text()[-3000:]
    posts = remote.state()["posts"]
    assert len(posts) == 60  # exactly once each: one init per entry
    by_title = {p["post_info"]["title"]: p for p in posts}
    assert len(by_title) == 60
    digests = {name: sha256_file(path) for name, path in videos.items()}
    for entry, post_at in planned:
        post = by_title[entry["description"]]
        assert post["status"] == "PUBLISH_COMPLETE" and post["open_id"] == entry["user_id"]
        assert post["sha256"] == digests[Path(entry["video_path"]).stem]  # identical bytes
        if post_at is not None:
            assert post["created_at"] >= post_at.timestamp() - 0.001, (entry["description"], post_at)
    tokens = remote.state()["tokens"]
    assert tokens["dead_refresh_token_uses"] == 0
    assert tokens["rotated"] >= 12  # the periodic refresh really rotated while the posts went out
    assert remote.rate_limited() == 0
    for user in USERS:  # one account's posts went in queue order
        mine = sorted((p for p in posts if p["open_id"] == user.open_id), key=lambda p: p["created_at"])
        order = [int(p["post_info"]["title"].rsplit(" ", 1)[1]) for p in mine]
        unscheduled = [n for n in order if (n + USERS.index(user)) % 5 != 0]
        assert unscheduled == sorted(unscheduled), (user.username, order)


def test_workers_killed_mid_upload_five_times_still_post_everything_once_resumed(db, add, emulator, remote, videos,
                                                                                 tmp_path):
    users = USERS[:3]
    link_all(emulator, db, users)
    for n in range(6):
        add({"user_id": users[n % 3].open_id, "video_path": str(videos["huge"]), "privacy": "SELF_ONLY",
             "description": f"big {n}"})
    remote.inject_fault("/upload/video/", delay=0.25, times=10_000)  # ten 10 MB chunks: about 2.5 s an upload
    log = tmp_path / "workers.log"
    rng = random.Random(20261204)
    workers = [start_worker(emulator, db, log) for _ in range(2)]
    kills, resumed = 0, set()
    try:
        while kills < 5 and posted(db) < 6:
            target = rng.choice([w for w in workers if w.poll() is None])
            chunks = rng.randint(1, 8)  # kill once some upload holds this many chunks

            def mid_upload():
                return [p for p in remote.state()["posts"]
                        if p["status"] == "PROCESSING_UPLOAD" and chunks * 10_000_000 <= p["bytes_received"]
                        < p["plan"]["video_size"]]
            wait_until(lambda: mid_upload() or posted(db) == 6, workers, log, "no upload in progress")
            partial = mid_upload()
            if not partial:
                break
            target.send_signal(signal.SIGKILL)
            target.wait(timeout=10)
            kills += 1
            resumed.update(p["publish_id"] for p in partial)
            workers = [w for w in workers if w is not target] + [start_worker(emulator, db, log)]
        wait_until(lambda: posted(db) == 6, workers, log, f"posts not all done (posted: {posted(db)})")
        wait_until(lambda: doing_posts(db) == 0, workers, log, f"a killed worker's job stayed 'doing': {jobs(db)}")
    finally:
        stop(workers)
    assert kills == 5, f"only {kills} kills landed mid-upload"
    posts = remote.state()["posts"]
    assert len(posts) == 6  # one init per entry, kills or not
    digest = sha256_file(videos["huge"])
    assert all(p["status"] == "PUBLISH_COMPLETE" and p["sha256"] == digest for p in posts)
    assert resumed and resumed <= {p["publish_id"] for p in posts}  # the posts cut off were finished, not redone
    store = open_postgres(db)
    try:  # no claim outlives its worker: no advisory lock held, no row naming a holder
        assert store.live_claims(store.every_post()) == set()
        assert [p.state for p in store.every_post()] == ["posted"] * 6
    finally:
        store.close()
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM tiktok_store_claims").fetchone()[0] == 0


def jobs(db: str) -> list:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT j.id, j.task_name, j.status, j.worker_id, w.last_heartbeat, now() FROM "
                            "procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
                            "WHERE j.status = 'doing'").fetchall()


def doing_posts(db: str) -> int:
    """Posting jobs marked as running: a killed worker's stay so until the dispatcher retries them as stalled."""
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing' "
                            "AND task_name LIKE '%%post_entry'").fetchone()[0]


def test_a_worker_carries_on_after_the_database_restarts(emulator, remote, videos, tmp_path):
    from tests.support.postgres import pause_server, resume_server, start_server, stop_server

    server = start_server()  # a cluster of its own: this test stops it
    try:
        db = migrated(server.new_database())
        link_all(emulator, db, USERS[:1])
        store = open_postgres(db)
        queue_post(store, {"user_id": USERS[0].open_id, "video_path": str(videos["small"]), "privacy": "SELF_ONLY",
                   "description": "before the restart"})
        log = tmp_path / "workers.log"
        workers = [start_worker(emulator, db, log)]
        try:
            wait_until(lambda: posted(db) == 1, workers, log, "the first post was not made")
            pause_server(server)
            noticed = ("starting it again", "trying again")  # the worker saw the database go and waits for it
            wait_until(lambda: any(words in log.read_text() for words in noticed), workers, log,
                       "the worker did not notice the database going away")
            resume_server(server)
            queue_post(store, {"user_id": USERS[0].open_id, "video_path": str(videos["small"]), "privacy": "SELF_ONLY",
                       "description": "after the restart"})
            wait_until(lambda: posted(db) == 2, workers, log, "the worker did not carry on after the restart")
        finally:
            codes = stop(workers)
        store.close()
        assert codes == [0]
        assert sorted(p["post_info"]["title"] for p in remote.state()["posts"]) == ["after the restart",
                                                                                   "before the restart"]
    finally:
        stop_server(server)
