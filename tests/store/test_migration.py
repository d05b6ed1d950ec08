"""Moving from the earlier version's files to the store: its manifest and results file are imported once, posted
entries stay posted and are never posted again, an interrupted upload resumes (its sealed upload URL opened with
TOKENS_KEY), records of entries no longer in the file stay as history, and the old files are left untouched.

``tests/fixtures/legacy`` holds a manifest and a results file that the previous version's own code wrote (its
ResultsStore, TOKENS_KEY set, so the upload URLs are sealed); the live test makes the earlier-format pair around a
real interrupted upload on the emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tiktok.api import ApiClient
from tiktok.auth.access import call_with_token
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.errors import ResultsFileError
from tiktok.posting.chunks import plan_chunks
from tiktok.posting.client import PostingClient, file_source_info
from tiktok.posting.importer import import_manifest
from tiktok.posting.transfer import send_chunks, upload_session
from tiktok.sealing import Cipher
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tests.support.flows import link_account
from tests.support.posting import padded_video, sha256_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "legacy"
LEGACY_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # the TOKENS_KEY the fixture was written with
ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")


@pytest.fixture
def legacy(tmp_path) -> Path:
    for name in ("videos_to_upload.json", "videos_to_upload.results.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path / "videos_to_upload.json"


def test_the_previous_versions_files_come_in_with_every_record(legacy, tmp_path):
    results = legacy.with_name("videos_to_upload.results.json")
    before = (legacy.read_bytes(), results.read_bytes())
    store = open_sqlite(tmp_path / "tiktok.db", key=LEGACY_KEY)
    imported = import_manifest(store, legacy, allow_loopback=False, tokens_key=LEGACY_KEY)
    assert imported.result.migrated == 5 and len(imported.result.added) == 4 and imported.problems == []
    posts = {post.entry.get("description", "photo") if post.entry else post.key: post for post in store.every_post()}
    assert posts["posted by the old version"].state == "posted"
    assert posts["failed for good"].record.fail_reason == "spam_risk_text" and \
        posts["failed for good"].record.needs_person
    assert posts["init answer lost"].record.needs_force  # may exist at TikTok: never sent again by itself
    never = next(p for p in posts.values() if p.entry and "photo_urls" in p.entry)
    assert never.record is None and never.state == "queued"
    history = {key: post for key, post in posts.items() if post.origin == "earlier"}
    assert sorted(post.state for post in history.values()) == ["posted", "uploading"]
    uploading = next(p for p in history.values() if p.state == "uploading")
    assert uploading.record.upload_url.endswith("upload_token=secret-token")  # opened, then sealed again
    with store.engine.connect() as conn:
        raw = " ".join(r[0] for r in conn.exec_driver_sql("SELECT record FROM tiktok_store_posts "
                                                           "WHERE record IS NOT NULL"))
    assert "secret-token" not in raw
    open_ids = {p.id for p in store.open_posts(now=1_795_000_100.0)}
    assert posts["posted by the old version"].id not in open_ids and posts["failed for good"].id not in open_ids
    assert (legacy.read_bytes(), results.read_bytes()) == before  # the old files stay as a backup
    again = import_manifest(store, legacy, allow_loopback=False, tokens_key=LEGACY_KEY)
    assert again.result.unchanged and store.count() == 6
    store.close()


def test_without_the_key_nothing_is_imported_and_the_message_says_what_to_set(legacy, tmp_path):
    store = open_sqlite(tmp_path / "tiktok.db")
    with pytest.raises(ResultsFileError, match="TOKENS_KEY is not set") as raised:
        import_manifest(store, legacy, allow_loopback=False, tokens_key=None)
    assert "secret-token" not in str(raised.value) and store.count() == 0
    store.close()


IMPORT = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from tiktok.posting.importer import import_manifest
from tiktok.store.sqlite import open_sqlite
store = open_sqlite(Path({store!r}), key={key!r})
sys.stdin.readline()
import_manifest(store, Path({manifest!r}), allow_loopback=False, tokens_key={key!r})
print(store.count())
"""


@pytest.mark.slow
def test_two_processes_migrating_at_once_bring_each_record_in_once(legacy, tmp_path):
    script = IMPORT.format(root=str(ROOT), store=str(tmp_path / "tiktok.db"), key=LEGACY_KEY, manifest=str(legacy))
    runs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:  # all three opened the store; now they import together
        run.stdin.write("go\n")
        run.stdin.flush()
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [out.strip() for out, _ in outputs] == ["6", "6", "6"], [err for _, err in outputs]
    store = open_sqlite(tmp_path / "tiktok.db", key=LEGACY_KEY)
    assert sorted(p.state for p in store.every_post()) == ["failed", "pending_init", "posted", "posted", "queued",
                                                             "uploading"]
    store.close()


@pytest.mark.slow
def test_an_upload_the_previous_version_left_half_done_resumes_with_no_second_init(emulator, remote, tmp_path):
    """The earlier-format pair around a real interrupted upload: chunk 1 of 3 sent, its upload URL sealed with
    TOKENS_KEY; a posted entry beside it; then ``upload_to_tiktok.py`` of this version, twice."""
    tokens = tmp_path / "user_tokens.json"
    session = requests.Session()
    oauth = OAuthClient(session, api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    store = TokenStore(tokens, key=LEGACY_KEY)
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    video = padded_video(tmp_path / "big.mp4", 30_000_000)
    plan = plan_chunks(video.stat().st_size, 10_000_000)
    posting = PostingClient(ApiClient(session, api_base=emulator.url))
    creator = call_with_token(store, oauth, ADA, posting.creator_info)
    init = call_with_token(store, oauth, ADA, lambda token: posting.init_video(
        token, file_source_info(plan), {"title": "resumed", "privacy_level": "SELF_ONLY", "disable_comment": False,
                                        "disable_duet": False, "disable_stitch": False,
                                        "brand_content_toggle": False, "brand_organic_toggle": False}))

    class Stop(Exception):
        pass

    def stop_after_first(next_index: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        send_chunks(upload_session(), init.upload_url, video, plan, "video/mp4", on_chunk=stop_after_first)
    manifest = tmp_path / "videos_to_upload.json"
    entries = [{"user_id": ADA, "video_path": "big.mp4", "description": "resumed", "privacy": "SELF_ONLY"},
               {"user_id": ADA, "video_path": "big.mp4", "description": "posted before", "privacy": "SELF_ONLY"}]
    manifest.write_text(json.dumps(entries, indent=2))
    old_keys = [entry_key({**e, "video_path": str(tmp_path / "big.mp4")}) for e in entries]  # the old key rule
    cipher = Cipher(LEGACY_KEY)
    records = {
        old_keys[0]: {"key": old_keys[0], "index": 0, "user_id": ADA, "state": "uploading",
                      "publish_id": init.publish_id, "upload_url": cipher.seal(old_keys[0], "upload_url",
                                                                               init.upload_url),
                      "upload_url_expires_at": 4_102_444_800.0, "next_chunk": 1,
                      "plan": {"video_size": plan.video_size, "chunk_size": plan.chunk_size,
                               "total_chunk_count": plan.total_chunk_count},
                      "status": None, "fail_reason": None, "post_ids": [], "error": None, "log_id": None,
                      "emulated": True, "updated_at": 1_795_000_000.0, "privacy": "SELF_ONLY",
                      "username": creator.username, "published_at": None, "outcome": None,
                      "retry_requested": False},
        old_keys[1]: {"key": old_keys[1], "index": 1, "user_id": ADA, "state": "posted",
                      "publish_id": "v_pub_file~v2.earlier", "upload_url": None, "upload_url_expires_at": None,
                      "next_chunk": 3, "plan": None, "status": "PUBLISH_COMPLETE", "fail_reason": None,
                      "post_ids": [], "error": None, "log_id": None, "emulated": True,
                      "updated_at": 1_795_000_000.0, "privacy": "SELF_ONLY", "username": creator.username,
                      "published_at": 1_795_000_000.0, "outcome": "done", "retry_requested": False},
    }
    results = tmp_path / "videos_to_upload.results.json"
    results.write_text(json.dumps({"encryption": "fernet:v1", "records": records, "version": 1}, indent=2,
                                  sort_keys=True) + "\n")
    os.chmod(results, 0o600)
    before = results.read_bytes()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "TOKENS_KEY": LEGACY_KEY,
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens)}
    command = [sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01", "--json"]
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "2 records moved in from an earlier version's results file" in first.stderr
    assert "resuming" in first.stderr
    (made,) = remote.state()["posts"]  # the init above; nothing else was ever sent
    assert made["publish_id"] == init.publish_id and made["status"] == "PUBLISH_COMPLETE"
    assert made["bytes_received"] == plan.video_size and made["sha256"] == sha256_file(video)
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and json.loads(second.stdout)["outcomes"] == [], second.stderr
    assert len(remote.state()["posts"]) == 1 and results.read_bytes() == before
    assert "secret" not in first.stderr + second.stderr and init.upload_url not in first.stderr


def test_a_results_file_sealed_with_another_key_imports_nothing_and_is_left_as_it_is(legacy, tmp_path):
    from cryptography.fernet import Fernet

    results = legacy.with_name("videos_to_upload.results.json")
    before = results.read_bytes()
    other = Fernet.generate_key().decode()
    store = open_sqlite(tmp_path / "tiktok.db", key=other)
    with pytest.raises(ResultsFileError, match="another key") as raised:
        import_manifest(store, legacy, allow_loopback=False, tokens_key=other)
    assert str(results) in str(raised.value) and "secret-token" not in str(raised.value)
    assert store.count() == 0 and results.read_bytes() == before
    store.close()
