"""Workers on other machines post from one media store, an S3 bucket (moto's server on 127.0.0.1): two real
``python -m tiktok worker`` processes, each in a folder of its own (no shared MEDIA_DIR, nothing of the app's
folder), on a throwaway PostgreSQL.

- A post composed in the app (its upload adopted into the store, as the composer does) is made by whichever worker
  takes it, exactly once, with the upload's bytes; a post naming an object the store does not hold fails for good,
  its record and its job naming the key, and nothing is sent to TikTok for it.
- ``db import`` of a manifest with local files puts them into the bucket (the entries stored by key; the manifest
  untouched; a second import adds nothing) and the workers post them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg
import pytest
import requests

from tiktok.config import load_settings
from tiktok.emulator.config import EmulatorConfig, generated_users
from tiktok.media.store import MediaStoreSettings, adopt_upload, open_media_store
from tiktok.store.postgres import open_postgres
from tiktok.store.records import State
from tests.media_fixtures import make_video
from tests.support.posting import sha256_file
from tests.support.queue_workers import queue_post
from tests.test_workers import link_all, migrated, posted, start_worker, stop, wait_until

pytestmark = pytest.mark.slow  # worker processes, a PostgreSQL cluster and an S3 server

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "shared-media"
PREFIX = "tiktok/media"
USERS = generated_users(2)
MISSING = "0" * 64 + ".mp4"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    config = EmulatorConfig()
    config.users = [*config.users, *USERS]
    return config


@pytest.fixture
def media_env(s3_server, aws_env) -> dict[str, str]:
    """What every process of this installation is given: the bucket, the S3 server, the AWS credentials."""
    requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=BUCKET)
    return {"MEDIA_STORE": f"s3://{BUCKET}/{PREFIX}", "AWS_ENDPOINT_URL_S3": s3_server, **aws_env}


@pytest.fixture
def db(database_url) -> str:
    return migrated(database_url)


def machines(tmp_path: Path, emulator, db: str, media_env: dict[str, str]):
    """Two workers, each started in its own folder (its own MEDIA_DIR, media/, the default), and the log they
    share (each folder's workers.log links to it)."""
    log = tmp_path / "workers.log"
    log.touch()
    workers = []
    for n in (1, 2):
        folder = tmp_path / f"worker-{n}"
        folder.mkdir()
        (folder / "workers.log").symlink_to(log)
        workers.append(start_worker(emulator, db, folder / "workers.log", **media_env))
    return workers, log


def copies(tmp_path: Path, key: str) -> list[str]:
    """Which folders hold a local copy of ``key``."""
    return sorted(p.parts[-5] for p in tmp_path.glob(f"*/media/.store/cache/{key}"))


def job_status(db: str, key: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM procrastinate_jobs WHERE task_name LIKE "
                                               "'%%post_entry' AND args->>'key' = %s ORDER BY id", (key,))]


def test_a_composed_post_in_s3_is_made_once_by_either_worker_and_a_missing_object_fails(db, emulator, remote,
                                                                                        media_env, tmp_path):
    link_all(emulator, db, USERS)
    app = tmp_path / "app"  # the app's machine: its uploads land in its own MEDIA_DIR
    media = open_media_store(MediaStoreSettings.from_settings(load_settings({**media_env,
                                                                             "MEDIA_DIR": str(app / "media")})))
    (app / "media").mkdir(parents=True)
    upload = make_video(app / "media" / f"{os.urandom(16).hex()}-clip.mp4", seconds=4)
    digest = sha256_file(upload)
    key = adopt_upload(media, upload, name="clip.mp4")  # what the composer does with a kept upload
    store = open_postgres(db)
    try:
        made = queue_post(store, {"user_id": USERS[0].open_id, "video_media": key, "privacy": "SELF_ONLY",
                                  "description": "composed, stored in S3"})
        lost = queue_post(store, {"user_id": USERS[1].open_id, "video_media": MISSING, "privacy": "SELF_ONLY",
                                  "description": "its object is gone"})
        workers, log = machines(tmp_path, emulator, db, media_env)
        try:
            wait_until(lambda: posted(db) == 1 and store.get(lost.id).state == State.FAILED
                       and job_status(db, lost.key) == ["failed"], workers, log,
                       "the stored post was not made, or the missing one did not fail")
        finally:
            codes = stop(workers)
        failed = store.get(lost.id).record
        done = store.get(made.id)
    finally:
        store.close()
    assert codes == [0, 0], log.read_text()[-3000:]
    [post] = remote.state()["posts"]  # exactly once, and nothing was sent for the missing object
    assert post["sha256"] == digest and post["post_info"]["title"] == "composed, stored in S3"
    assert post["status"] == "PUBLISH_COMPLETE" and done.state == State.POSTED
    assert copies(tmp_path, key) in (["app", "worker-1"], ["app", "worker-2"])  # the worker that made it got a copy
    assert failed.needs_person and f'field "video_media": {MISSING}' in failed.error
    assert f"MEDIA_STORE s3://{BUCKET}/{PREFIX}: no media with key '{MISSING}'" in failed.error
    assert f"no media with key '{MISSING}'" in log.read_text()  # the failed job says it too


def db_import(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiktok", "db", "import"], cwd=folder, capture_output=True,
                          text=True, timeout=120, env={"PATH": os.environ["PATH"], "HOME": str(folder),
                                                       "PYTHONPATH": str(ROOT), **env})


def test_db_import_moves_a_manifests_files_into_s3_and_the_workers_post_them(db, emulator, remote, media_env,
                                                                              tmp_path):
    link_all(emulator, db, USERS)
    project = tmp_path / "project"  # the machine where the manifest and its clips are
    project.mkdir()
    clips = {name: make_video(project / f"{name}.mp4", seconds=seconds) for name, seconds in (("a", 3), ("b", 4))}
    digests = {name: sha256_file(path) for name, path in clips.items()}
    entries = [{"user_id": USERS[0].open_id, "video_path": "a.mp4", "privacy": "SELF_ONLY", "description": "a"},
               {"user_id": USERS[1].open_id, "video_path": "b.mp4", "privacy": "SELF_ONLY", "description": "b"},
               {"user_id": USERS[1].open_id, "video_path": "a.mp4", "privacy": "SELF_ONLY", "description": "a again"}]
    manifest = project / "videos_to_upload.json"
    manifest.write_text(json.dumps(entries))
    written = manifest.read_bytes()
    env = {"DATABASE_URL": db, "TIKTOK_CLIENT_KEY": emulator.config.client_key,
           "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url, **media_env}

    first = db_import(project, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "entries: 3 added, 0 already there" in first.stdout
    assert f"-> MEDIA_STORE s3://{BUCKET}/{PREFIX}: media: 2 file(s) put in" in first.stdout
    second = db_import(project, env)
    assert second.returncode == 0 and "already imported, unchanged" in second.stdout, second.stdout
    assert "media:" not in second.stdout  # nothing read or put again
    assert manifest.read_bytes() == written
    listed = boto3.client("s3", endpoint_url=media_env["AWS_ENDPOINT_URL_S3"]).list_objects_v2(Bucket=BUCKET)
    assert sorted(item["Key"] for item in listed["Contents"]) == sorted(f"{PREFIX}/{d}.mp4" for d in
                                                                       set(digests.values()))
    for clip in clips.values():
        clip.unlink()  # the workers never read the project's folder: its files may go
    store = open_postgres(db)
    try:
        stored = [post.entry for post in store.every_post()]
        assert all("video_path" not in entry and entry["video_media"][:64] in digests.values() for entry in stored)
        workers, log = machines(tmp_path, emulator, db, media_env)
        try:
            wait_until(lambda: posted(db) == 3, workers, log, f"not every entry posted ({posted(db)})")
        finally:
            codes = stop(workers)
    finally:
        store.close()
    assert codes == [0, 0], log.read_text()[-3000:]
    posts = remote.state()["posts"]
    assert sorted((p["post_info"]["title"], p["sha256"]) for p in posts) == sorted(
        [("a", digests["a"]), ("a again", digests["a"]), ("b", digests["b"])])  # each once, with its bytes


def test_a_post_composed_in_the_app_is_made_once_by_either_worker_from_the_bucket(db, emulator, remote, media_env,
                                                                                 tmp_path):
    """The issue's case end to end: a person composes in ``python app.py`` on one machine (its own folder) and
    presses Post now; the app puts the upload into the bucket and hands the post over; whichever of two workers, each
    in a folder of its own, takes it downloads the object and posts it, once, with the file's bytes."""
    from tests.support.app_process import start_app, stop_app
    from tests.support.flows import WebClient
    from tests.test_pg_handoff import environment, post_now

    link_all(emulator, db, USERS)
    clip = make_video(tmp_path / "clip.mp4", seconds=4)
    app_home = tmp_path / "app"
    app_home.mkdir()
    app, url = start_app(app_home, env={**environment(emulator, db, app_home), **media_env})
    try:
        workers, log = machines(tmp_path, emulator, db, media_env)
        try:
            said = post_now(WebClient(url), clip, USERS[0].open_id, "composed on another machine")
            assert "handed to the workers" in said, said
            wait_until(lambda: posted(db) == 1, workers, log, "the composed post was not made")
        finally:
            codes = stop(workers)
    finally:
        stop_app(app)
    assert codes == [0, 0], log.read_text()[-3000:]
    [post] = remote.state()["posts"]
    assert post["sha256"] == sha256_file(clip) and post["status"] == "PUBLISH_COMPLETE"
    key = sha256_file(clip) + ".mp4"
    listed = boto3.client("s3", endpoint_url=media_env["AWS_ENDPOINT_URL_S3"]).list_objects_v2(Bucket=BUCKET)
    assert [item["Key"] for item in listed["Contents"]] == [f"{PREFIX}/{key}"]
    assert copies(tmp_path, key) in (["worker-1"], ["worker-2"])  # only the worker that made it fetched the object
