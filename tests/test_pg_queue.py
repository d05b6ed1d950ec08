"""The post queue in PostgreSQL: entries, records, claims held by advisory locks, a real run over it, and
``db import`` moving the JSON files in (twice, safely)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.pg_store import PgTokenStore
from tiktok.auth.tokens import TokenStore
from tiktok.config import load_settings
from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.exitcodes import DONE, SKIPPED
from tiktok.posting.pg_queue import PgQueue, PgResultsStore
from tiktok.posting.queue import QueueError
from tiktok.posting.results import POSTED, UPLOADING, PostRecord, ResultsStore
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tests.media_fixtures import make_video
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, _ = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")
KEY = "q0Bd8CQXuZ9yqUX4N1HnDqS0w7Qm6Hb3mE9cHvxg0C8="


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4")


def entry(clip: Path, user: str = ADA, **fields) -> dict:
    return {"user_id": user, "video_path": str(clip), "privacy": "SELF_ONLY", **fields}


def test_entries_are_added_read_changed_and_removed_by_key(db, clip):
    queue = PgQueue(db)
    first = queue.add(entry(clip, description="one"))
    second = queue.add(entry(clip, user=BO, description="two"))
    read = queue.read()
    assert [e.description for e in read.entries] == ["one", "two"] and not read.problems
    with pytest.raises(QueueError, match="already holds this entry"):
        queue.add(entry(clip, description="one"))
    with pytest.raises(QueueError, match='field "privacy"'):
        queue.add(entry(clip, privacy="EVERYONE"))
    with pytest.raises(QueueError, match="absolute path"):
        queue.add(entry(Path("clip.mp4")))
    moved = queue.update(first, {"post_at": "2030-01-01T09:00:00+01:00"})
    assert moved == first  # post_at is not part of an entry's identity
    renamed = queue.update(first, {"description": "uno"})
    assert renamed != first and [e.description for e in queue.read().entries] == ["uno", "two"]
    queue.remove(second)
    with pytest.raises(QueueError, match="no such entry"):
        queue.remove(second)
    assert [e.description for e in queue.read().entries] == ["uno"]


def test_records_round_trip_and_upload_urls_are_sealed_with_the_key(db):
    store = PgResultsStore(db, key=KEY)
    record = PostRecord(key="k1", index=0, user_id=ADA, state=UPLOADING, publish_id="p1",
                        upload_url="http://127.0.0.1:1/upload/?upload_token=secret-token", next_chunk=2)
    store.save(record)
    assert store.get("k1").upload_url == record.upload_url and set(store.load()) == {"k1"}
    with psycopg.connect(db) as conn:
        raw = conn.execute("SELECT record::text FROM tiktok_post_records").fetchone()[0]
    assert "secret-token" not in raw and "fernet:v1:" in raw


HOLDER = """
import sys, time
from tiktok.posting.pg_queue import PgResultsStore
store = PgResultsStore(sys.argv[1])
print(store.claim(sys.argv[2]), flush=True)
time.sleep(120)
"""


def test_a_claim_lives_exactly_as_long_as_its_holder_on_any_machine(db):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, db, "entry-1"], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "(None, None)"
        mine = PgResultsStore(db, host="another-machine")
        taken, dead = mine.claim("entry-1")
        assert taken is not None and taken.pid == holder.pid and dead is None
        assert set(mine.claims()) == {"entry-1"}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    taken, dead = mine.claim("entry-1")  # the server dropped the dead session's lock at once
    assert taken is None and dead is not None and dead.pid == holder.pid
    assert mine.claims()["entry-1"].host == "another-machine"
    mine.release("entry-1")
    assert mine.claims() == {}


def link(emulator, store) -> None:
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for open_id in (ADA, BO):
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)


def settings_for(emulator, db: str, tmp_path: Path):
    return load_settings({"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                          "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                          "DATABASE_URL": db, "TOKENS_FILE": str(tmp_path / "unused.json")})


def test_a_run_posts_the_database_queue_once(db, emulator, remote, clip, tmp_path):
    settings = settings_for(emulator, db, tmp_path)
    link(emulator, PgTokenStore(db))
    queue = PgQueue(db, allow_loopback=True)
    for n in range(3):
        queue.add(entry(clip, user=(ADA, BO)[n % 2], description=f"post {n}"))
    options = RunOptions(poll_interval_s=0.01)
    first = run_queue(queue, settings, options, hooks=Hooks(say=lambda line: None))
    assert [o.status for o in first.outcomes] == [DONE] * 3
    again = run_queue(queue, settings, options, hooks=Hooks(say=lambda line: None))
    assert [o.status for o in again.outcomes] == [SKIPPED] * 3
    assert len(remote.state()["posts"]) == 3
    assert {r.state for r in queue.results().load().values()} == {POSTED}
    assert not list(tmp_path.glob("*.json"))  # nothing went to the JSON files


def test_db_import_moves_tokens_entries_and_records_and_can_run_twice(db, emulator, remote, clip, tmp_path):
    tokens = TokenStore(tmp_path / "user_tokens.json")
    link(emulator, tokens)
    (tmp_path / "clip.mp4").symlink_to(clip)
    manifest = tmp_path / "videos_to_upload.json"
    manifest.write_text(json.dumps([entry(Path("clip.mp4"), description="done already"),
                                    entry(Path("clip.mp4"), user=BO, description="still to post"),
                                    {"user_id": ADA, "video_path": "clip.mp4", "privacy": "NOBODY"}]))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TIKTOK_CLIENT_KEY": emulator.config.client_key,
           "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
           "TOKENS_FILE": str(tmp_path / "user_tokens.json")}
    json_run = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert json_run.returncode == 2 and len(remote.state()["posts"]) == 2  # the bad third entry is exit 2
    ResultsStore(tmp_path / "videos_to_upload.results.json").save(
        next(r for r in ResultsStore(tmp_path / "videos_to_upload.results.json").load().values()
             if r.user_id == BO), state="failed", outcome="try_later")  # as if BO's had failed for a while
    command = [sys.executable, "-m", "tiktok", "db", "import"]
    env["DATABASE_URL"] = db
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 2, first.stdout + first.stderr  # the invalid entry is named, the rest imported
    assert "accounts: 2 added" in first.stdout and "entries: 2 added" in first.stdout
    assert "records: 2 added" in first.stdout and 'field "privacy"' in first.stdout
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert "accounts: 0 added, 0 updated, 2 already there" in second.stdout
    assert "entries: 0 added, 0 updated, 2 already there" in second.stdout
    assert "records: 0 added, 0 updated, 2 already there" in second.stdout
    db_run = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01",
                             "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    outcomes = {o["detail"].split(";")[0]: o["status"] for o in json.loads(db_run.stdout)["outcomes"]}
    assert db_run.returncode == 0, db_run.stderr
    assert sorted(outcomes.values()) == ["done", "skipped"]  # ADA's was posted already; BO's went again, once
    assert len(remote.state()["posts"]) == 3
    assert PgTokenStore(db).get(ADA).refresh_token == tokens.get(ADA).refresh_token


def test_a_database_entry_removed_after_the_run_read_the_queue_is_not_posted(db, emulator, remote, clip, tmp_path):
    settings = settings_for(emulator, db, tmp_path)
    link(emulator, PgTokenStore(db))
    queue = PgQueue(db, allow_loopback=True)
    key = queue.add(entry(clip, description="removed meanwhile"))

    def say(line: str) -> None:
        if "[1/1]" in line:
            queue.remove(key)

    (outcome,) = run_queue(queue, settings, RunOptions(poll_interval_s=0.01), hooks=Hooks(say=say)).outcomes
    assert outcome.status == SKIPPED and "cancelled or changed" in outcome.detail
    assert remote.state()["posts"] == [] and queue.contains(key) is False
