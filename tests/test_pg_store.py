"""The post store in PostgreSQL and the ``db`` commands: ``db migrate`` from several processes at once (and again),
``db status``, claims held by leases, sealed upload URLs, a real run over the store, ``db import`` moving
the local files in (twice, safely), and a database made by the previous version (the ``tiktok_posts`` queue)
migrated with its keys and records: nothing posted twice, an interrupted upload resumed."""

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
from psycopg.types.json import Jsonb

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.pg_store import PgTokenStore
from tiktok.auth.tokens import TokenStore
from tiktok.config import load_settings
from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.errors import ChangeRefused, StoreError
from tiktok.exitcodes import DONE, SKIPPED
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store.schema import LATEST
from tiktok.sealing import cipher_for
from tiktok.store import postgres as store_postgres
from tiktok.store.postgres import open_postgres
from tiktok.store.records import PostRecord, State, entry_key
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import EmulatedTime, cut_off_after, padded_video, sha256_file
from tests.support.queue_workers import queue_post

pytestmark = pytest.mark.slow  # throwaway PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, _ = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")
KEY = "q0Bd8CQXuZ9yqUX4N1HnDqS0w7Qm6Hb3mE9cHvxg0C8="
WAIT_S = 120  # only ever reached when something is broken


def migrated(url: str) -> str:
    """``url`` migrated as ``python -m tiktok db migrate`` does it."""
    migrate(url)
    store_postgres.migrate(url)
    return url


@pytest.fixture
def db(database_url) -> str:
    return migrated(database_url)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4")


def entry(clip: Path, user: str = ADA, **fields) -> dict:
    return {"user_id": user, "video_path": str(clip), "privacy": "SELF_ONLY", **fields}


def tiktok(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -m tiktok ARGS`` as cron or a person runs it."""
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=WAIT_S, env={"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT),
                                               **env})


def emulator_env(emulator, **extra: str) -> dict[str, str]:
    return {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, **extra}


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


# -- db migrate and db status --------------------------------------------------------------------------------------

def test_migrate_from_four_processes_at_once_applies_each_migration_once_and_status_tells(database_url, tmp_path):
    env = {"DATABASE_URL": database_url}
    before = tiktok("db", "status", cwd=tmp_path, env=env)
    assert before.returncode == 2 and f"schema version 0 of 2, post store version 0 of {LATEST}" in before.stdout
    assert "behind: run python -m tiktok db migrate" in before.stdout
    procs = [subprocess.Popen([sys.executable, "-m", "tiktok", "db", "migrate"], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env}) for _ in range(4)]
    outputs = [proc.communicate(timeout=WAIT_S) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    lines = "".join(out for out, _ in outputs).splitlines()
    for step in ("migration 1:", "migration 2:", *(f"post store migration {n}:" for n in range(1, LATEST + 1))):
        assert sum(line.split(": ", 1)[1].startswith(step) for line in lines if ": " in line) == 1, (step, lines)
    assert rows(database_url, "SELECT version FROM tiktok_schema_migrations ORDER BY version") == [(1,), (2,)]
    assert rows(database_url, "SELECT version FROM tiktok_store_version ORDER BY version") == [
        (n,) for n in range(1, LATEST + 1)]
    again = tiktok("db", "migrate", cwd=tmp_path, env=env)
    assert again.returncode == 0 and f"schema already at version 2, post store at version {LATEST}" in again.stdout
    after = tiktok("db", "status", cwd=tmp_path, env=env)
    assert after.returncode == 0 and f"schema version 2 of 2, post store version {LATEST} of {LATEST} (current)" in after.stdout


def test_db_commands_without_database_url_say_how_to_set_it(tmp_path):
    done = tiktok("db", "status", cwd=tmp_path, env={})
    assert done.returncode == 2 and "DATABASE_URL is not set" in done.stderr and "Traceback" not in done.stderr


# -- the store's own PostgreSQL parts ------------------------------------------------------------------------------

def test_posts_added_by_four_processes_at_once_each_get_their_own_id_and_change(db, tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.queue_workers", db, str(w), "10"], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=WAIT_S) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    pairs = [tuple(map(int, line.split())) for out, _ in outputs for line in out.splitlines()]
    assert len(pairs) == 40 and len({i for i, _ in pairs}) == 40 and len({c for _, c in pairs}) == 40
    store = open_postgres(db)
    try:
        assert store.count() == 40 and store.latest_change() == 40
        with pytest.raises(ChangeRefused, match="already holds this post"):
            queue_post(store, {"user_id": "worker-0", "video_path": "/videos/clip-000.mp4",
                               "description": "worker 0 #0", "post_at": "2030-01-01T09:00:00+00:00"})
    finally:
        store.close()


def test_upload_urls_are_sealed_with_the_key_and_unreadable_without_it(db, clip):
    store = open_postgres(db, key=KEY)
    post = queue_post(store, entry(clip))
    record = PostRecord(key=post.key, user_id=ADA, state=State.PENDING_INIT)
    assert store.start(post.id, post.revision, record) is not None
    store.save(post.id, PostRecord(key=post.key, user_id=ADA, state=State.UPLOADING, publish_id="p1", next_chunk=2,
                                   upload_url="http://127.0.0.1:1/upload/?upload_token=secret-token"))
    assert store.get(post.id).record.upload_url.endswith("secret-token")
    ((raw,),) = rows(db, "SELECT record FROM tiktok_store_posts")
    assert "secret-token" not in raw and "fernet:v1:" in raw
    keyless = open_postgres(db)
    with pytest.raises(StoreError, match="TOKENS_KEY is not set") as refused:
        keyless.get(post.id)
    assert "secret-token" not in str(refused.value)
    store.close()
    keyless.close()


HOLDER = """
import sys, time
from tiktok.store.postgres import open_postgres
store = open_postgres(sys.argv[1])
print(store.claim(store.get(int(sys.argv[2]))), flush=True)
time.sleep(120)
"""


def test_a_claim_lives_exactly_as_long_as_its_holder_on_any_machine(db, clip, postgres):
    mine = open_postgres(db)
    post = queue_post(mine, entry(clip))
    neighbour = open_postgres(migrated(postgres.new_database()))  # another deployment on the same server
    same = queue_post(neighbour, entry(clip))
    assert same.key == post.key and neighbour.claim(same).holder is None
    assert mine.live_claims([post]) == set() and neighbour.live_claims([same]) == {same.id}
    neighbour.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, db, str(post.id)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "ClaimResult(holder=None, taken_over=None)"
        mine.host = "another-machine"
        refused = mine.claim(post)
        assert refused.holder is not None and refused.holder.pid == holder.pid
        assert mine.live_claims([post]) == {post.id}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    taken = mine.claim(post)  # its process is gone from this machine: its lease is taken over at once
    assert taken.holder is None and taken.taken_over is not None and taken.taken_over.pid == holder.pid
    assert rows(db, "SELECT host FROM tiktok_store_leases") == [("another-machine",)]
    mine.release(post)
    assert mine.live_claims([post]) == set() and rows(db, "SELECT * FROM tiktok_store_leases") == []
    mine.close()


# -- runs over the store -------------------------------------------------------------------------------------------

def link(emulator, store, users=(ADA, BO)) -> None:
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for open_id in users:
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)


def settings_for(emulator, db: str | None, tmp_path: Path, **extra: str):
    return load_settings({**emulator_env(emulator), "TOKENS_FILE": str(tmp_path / "user_tokens.json"),
                          **({"DATABASE_URL": db} if db else {}), **extra})


def quiet() -> Hooks:
    return Hooks(say=lambda line: None)


def test_a_run_posts_the_database_posts_once_and_not_one_cancelled_after_it_read_them(db, emulator, remote, clip,
                                                                                      tmp_path):
    settings = settings_for(emulator, db, tmp_path)
    link(emulator, PgTokenStore(db))
    store = open_postgres(db)
    posts = [queue_post(store, entry(clip, user=(ADA, BO)[n % 2], description=f"post {n}")) for n in range(3)]
    doomed = queue_post(store, entry(clip, description="cancelled meanwhile"))

    def say(line: str) -> None:
        if f"post {posts[0].id} for" in line:  # the run has read the queue: cancel the last post now
            store.cancel(doomed.id)

    first = run_queue(store, settings, RunOptions(poll_interval_s=0.01, jobs=1), hooks=Hooks(say=say))
    by_id = {o.post_id: o for o in first.outcomes}
    assert [by_id[p.id].status for p in posts] == [DONE] * 3
    assert by_id[doomed.id].status == SKIPPED and "cancelled or changed" in by_id[doomed.id].detail
    again = run_queue(store, settings, RunOptions(poll_interval_s=0.01), hooks=quiet())
    assert again.outcomes == []  # posted posts are history: a run does not even read them again
    assert sorted(p["post_info"]["title"] for p in remote.state()["posts"]) == ["post 0", "post 1", "post 2"]
    assert {store.get(p.id).state for p in posts} == {State.POSTED} and store.get(doomed.id).state == "cancelled"
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob("*.db"))  # nothing went to local files
    store.close()


# -- db import -----------------------------------------------------------------------------------------------------

def earlier_results_file(manifest: Path, entries: list[dict], records: dict[int, dict]) -> None:
    """A results file as the JSON-file version wrote it beside ``manifest``: records keyed by the entry with its
    video path joined to the manifest's folder, each with its ``index``."""
    out = {}
    for index, fields in records.items():
        written = {**entries[index], "video_path": str(manifest.parent / entries[index]["video_path"])}
        key = entry_key(written)
        out[key] = {"key": key, "index": index, **fields}
    manifest.with_name(manifest.stem + ".results.json").write_text(json.dumps({"version": 1, "records": out}))


def test_db_import_moves_accounts_local_posts_and_a_manifest_in_and_twice_adds_nothing(db, emulator, remote, clip,
                                                                                       tmp_path):
    tokens = TokenStore(tmp_path / "user_tokens.json")
    link(emulator, tokens)
    local = open_sqlite(tmp_path / "tiktok.db")  # the embedded store the commands used before DATABASE_URL
    posted = queue_post(local, entry(clip, description="posted from tiktok.db"))
    waiting = queue_post(local, entry(clip, user=BO, description="queued in tiktok.db"))
    report = run_queue(local, settings_for(emulator, None, tmp_path), RunOptions(poll_interval_s=0.01,
                                                                                only_ids=frozenset({posted.id})),
                       hooks=quiet())
    assert [o.status for o in report.outcomes] == [DONE]
    local.close()
    (tmp_path / "clip.mp4").symlink_to(clip)
    manifest = tmp_path / "videos_to_upload.json"
    entries = [{"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY", "description": "done already"},
               {"user_id": BO, "video_path": "clip.mp4", "privacy": "SELF_ONLY", "description": "still to post"},
               {"user_id": ADA, "video_path": "clip.mp4", "privacy": "NOBODY"}]
    manifest.write_text(json.dumps(entries))
    earlier_results_file(manifest, entries, {0: {"user_id": ADA, "state": "posted", "publish_id": "p_earlier",
                                                 "privacy": "SELF_ONLY", "outcome": "done", "updated_at": 1.0}})
    env = emulator_env(emulator, DATABASE_URL=db, TOKENS_FILE=str(tmp_path / "user_tokens.json"))

    first = tiktok("db", "import", cwd=tmp_path, env=env)
    assert first.returncode == 2, first.stdout + first.stderr  # the invalid entry is named, the rest imported
    assert "accounts: 2 added, 0 updated, 0 already there" in first.stdout
    assert "posts: 2 added, 0 updated, 0 already there" in first.stdout
    assert "entries: 2 added, 0 already there, 0 withdrawn, 1 record(s) from its results file" in first.stdout
    assert 'field "privacy"' in first.stdout and "Traceback" not in first.stderr
    second = tiktok("db", "import", cwd=tmp_path, env=env)
    assert second.returncode == 2 and 'field "privacy"' in second.stdout  # still said, still not imported
    assert "accounts: 0 added, 0 updated, 2 already there" in second.stdout
    assert "posts: 0 added, 0 updated, 2 already there" in second.stdout
    assert "already imported, unchanged" in second.stdout

    store = open_postgres(db)
    assert store.count() == 4
    assert store.find(posted.key).state == State.POSTED and store.find(posted.key).record.publish_id is not None
    assert store.find(waiting.key).state == "queued"
    store.close()
    run = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01", "--json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=WAIT_S,
                         env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env})
    outcomes = json.loads(run.stdout)["outcomes"]
    assert sorted(o["status"] for o in outcomes) == ["done", "done"], run.stderr  # history is not even read
    titles = sorted(p["post_info"]["title"] for p in remote.state()["posts"])
    assert titles == ["posted from tiktok.db", "queued in tiktok.db", "still to post"]  # each once; none again
    assert PgTokenStore(db).get(ADA).refresh_token == tokens.get(ADA).refresh_token


def test_db_import_stops_before_writing_when_the_store_is_missing_or_the_manifest_named_is(database_url, emulator,
                                                                                          tmp_path):
    link(emulator, TokenStore(tmp_path / "user_tokens.json"))
    migrate(database_url)  # the previous version's schema: accounts and jobs, no post store
    env = emulator_env(emulator, DATABASE_URL=database_url, TOKENS_FILE=str(tmp_path / "user_tokens.json"))
    refused = tiktok("db", "import", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "run python -m tiktok db migrate" in refused.stderr, refused.stderr
    assert rows(database_url, "SELECT open_id FROM tiktok_accounts") == []  # nothing was half imported
    store_postgres.migrate(database_url)
    missing = tiktok("db", "import", "--manifest", "nowhere.json", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "nowhere.json" in missing.stdout and "file not found" in missing.stdout
    assert "accounts: 2 added" in missing.stdout  # what could be imported was


# -- a database made by the previous version -------------------------------------------------------------------------

def interrupted_upload(store, settings, remote, video: Path) -> PostRecord:
    """Post ``video`` as ADA until TikTok holds part of it, then stop (the emulator refuses the rest): the record."""
    post = queue_post(store, entry(video, description="cut off"))
    progress = cut_off_after(remote, 30_000_000)

    clock = EmulatedTime(remote)
    (outcome,) = run_queue(store, settings, RunOptions(poll_interval_s=0.01), hooks=Hooks(
        say=lambda line: None, progress=progress, runtime=lambda: clock.runtime(max_attempts=2))).outcomes
    remote.clear_faults()
    assert outcome.status == "try_later", outcome
    record = store.get(post.id).record
    assert record.state == State.UPLOADING and 0 < record.next_chunk
    return record


def write_previous_version_rows(url: str, rows_in_order: list[tuple[dict, PostRecord | None]]) -> None:
    """``tiktok_posts`` and ``tiktok_post_records`` as the previous version's queue wrote them: the entry as given,
    keyed by its content, the record as JSON with its ``index`` and its upload URL sealed with TOKENS_KEY."""
    cipher = cipher_for(KEY)
    with psycopg.connect(url) as conn:
        for index, (given, record) in enumerate(rows_in_order):
            key = entry_key({k: v for k, v in given.items() if k != "post_at"})
            conn.execute("INSERT INTO tiktok_posts (key, entry, user_id, post_at) VALUES (%s, %s, %s, %s)",
                         (key, Jsonb(given), given["user_id"], given.get("post_at")))
            if record is not None:
                data = {**record.to_json(), "key": key, "index": index}
                for new_field in ("force_needed",):
                    data.pop(new_field)
                if data["upload_url"]:
                    data["upload_url"] = cipher.seal(key, "upload_url", data["upload_url"])
                conn.execute("INSERT INTO tiktok_post_records (key, record) VALUES (%s, %s)", (key, Jsonb(data)))


def test_a_database_of_the_previous_version_keeps_its_posts_and_resumes_its_upload(database_url, emulator, remote,
                                                                                   clip, tmp_path):
    migrate(database_url)  # migrations 1 and 2 only: the schema the previous version made and used
    link(emulator, PgTokenStore(database_url, key=KEY))
    settings = settings_for(emulator, database_url, tmp_path, TOKENS_KEY=KEY)
    big = padded_video(tmp_path / "big.mp4", 70_000_000)  # 7 chunks
    scratch = open_sqlite(tmp_path / "scratch.db", key=KEY)  # where the TikTok side of the old rows is made
    done_post = queue_post(scratch, entry(clip, user=BO, description="posted before"))
    run_queue(scratch, settings, RunOptions(poll_interval_s=0.01, only_ids=frozenset({done_post.id})), hooks=quiet())
    done_record = scratch.get(done_post.id).record
    cut = interrupted_upload(scratch, settings, remote, big)
    scratch.close()
    assert done_record.state == State.POSTED and len(remote.state()["posts"]) == 2
    later = entry(clip, description="later", post_at="2099-01-01T09:00:00+00:00")
    write_previous_version_rows(database_url, [(entry(clip, user=BO, description="posted before"), done_record),
                                               (entry(big, description="cut off"), cut), (later, None)])
    removed = PostRecord(key="k-removed", user_id=BO, state="failed", outcome="try_later", error="a 503",
                         updated_at=1.0)  # its entry was removed from the queue after it failed: history now
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO tiktok_post_records (key, record) VALUES (%s, %s)",
                     (removed.key, Jsonb({**removed.to_json(), "index": 3})))
    worker = tiktok("worker", cwd=tmp_path, env={"DATABASE_URL": database_url})
    assert worker.returncode == 2 and "post store version 0" in worker.stderr
    assert "run python -m tiktok db migrate" in worker.stderr

    migrated = tiktok("db", "migrate", cwd=tmp_path, env={"DATABASE_URL": database_url, "TOKENS_KEY": KEY})
    assert migrated.returncode == 0, migrated.stderr
    assert "post store migration 1" in migrated.stdout and ": migration 2:" not in migrated.stdout
    store = open_postgres(database_url, key=KEY)
    by_key = {post.key: post for post in store.every_post()}
    assert set(by_key) == {done_record.key, cut.key, entry_key({k: v for k, v in later.items() if k != "post_at"}),
                           removed.key}
    history = by_key[removed.key]
    assert (history.origin, history.entry, history.open, history.record.error) == ("earlier", None, False, "a 503")
    assert by_key[done_record.key].state == State.POSTED and by_key[done_record.key].board == "done"
    resumed = by_key[cut.key]
    assert (resumed.state, resumed.board, resumed.record.publish_id) == (State.UPLOADING, "in_progress", cut.publish_id)
    assert resumed.record.upload_url == cut.upload_url and resumed.record.next_chunk == cut.next_chunk
    waiting = by_key[entry_key({k: v for k, v in later.items() if k != "post_at"})]
    assert waiting.state == "queued" and waiting.due_at == 4070941200.0 and waiting.post_at == later["post_at"]
    assert store.latest_change() == 4

    lines: list[str] = []
    report = run_queue(store, settings, RunOptions(poll_interval_s=0.01), hooks=Hooks(say=lines.append))
    assert store.get(waiting.id).state == "queued" and store.get(history.id).state == "failed"
    store.close()
    assert {o.post_id: o.status for o in report.outcomes} == {resumed.id: DONE}, lines  # nothing else is due
    assert report.status == 0
    assert any("resum" in line for line in lines), lines
    posts = remote.state()["posts"]
    assert len(posts) == 2  # no second init: the cut-off post was finished, the posted one not posted again
    finished = next(p for p in posts if p["publish_id"] == cut.publish_id)
    assert finished["status"] == "PUBLISH_COMPLETE" and finished["sha256"] == sha256_file(big)
