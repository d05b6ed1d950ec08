"""``python upload_to_tiktok.py`` as a person or cron runs it: a real subprocess against the emulator, its posts in
the store beside the token file (``tiktok.db``)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tiktok.emulator.config import default_users
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.flows import link_account

pytestmark = pytest.mark.slow  # each test runs upload_to_tiktok.py in its own process

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")


def link(folder: Path, emulator, users=(ADA, BO), scopes=SCOPES) -> None:
    """Connect ``users`` in the token file of ``folder`` (a second call replaces their grants)."""
    store = TokenStore(folder / "user_tokens.json")
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for open_id in users:
        link_account(emulator.url, store, oauth, open_id, scopes=scopes)


@pytest.fixture
def workdir(tmp_path, emulator):
    link(tmp_path, emulator)
    make_video(tmp_path / "clip.mp4")
    return tmp_path


def run(workdir: Path, emulator, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The command in ``workdir`` against the emulator; ``env`` adds settings (STORE_FILE=..., TOKENS_FILE=...)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(workdir / "user_tokens.json"), **env}
    return subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)


def stored_posts(workdir: Path) -> list:
    """Every post of the store the command used (the default: tiktok.db beside the token file)."""
    store = open_sqlite(workdir / "tiktok.db", migrate=False)
    try:
        return list(store.every_post())
    finally:
        store.close()


def write_manifest(workdir: Path, entries) -> Path:
    path = workdir / "videos_to_upload.json"
    path.write_text(json.dumps(entries) if not isinstance(entries, str) else entries)
    return path


def test_bad_entry_is_reported_by_number_and_field_and_the_others_post(workdir, emulator, remote):
    write_manifest(workdir, [
        {"user_id": ADA, "video_path": "clip.mp4", "description": "first", "privacy": "SELF_ONLY"},
        {"user_id": ADA, "video_path": "clip.mp4", "tags": "not-a-list"},
        {"user_id": BO, "video_path": "clip.mp4", "description": "third", "draft": True},
    ])
    result = run(workdir, emulator, "--json", "--poll-interval", "0.01")
    assert result.returncode == 2, result.stderr  # bad input wins over success
    report = json.loads(result.stdout)
    assert report["emulated"] is True
    assert [(o["status"], o["state"]) for o in report["outcomes"]] == [("done", "posted"), ("done", "inbox")]
    assert any('entry 2' in p and 'field "tags"' in p for p in report["problems"])
    assert "EMULATED: nothing was sent to TikTok" in result.stderr
    assert len(remote.state()["posts"]) == 2
    posts = stored_posts(workdir)  # the bad entry was never imported
    assert [(p.id, p.state, p.source_index) for p in posts] == [(1, "posted", 0), (2, "inbox", 2)]
    assert [o["post_id"] for o in report["outcomes"]] == [1, 2]
    again = run(workdir, emulator, "--json", "--poll-interval", "0.01")  # a re-run posts nothing twice
    assert again.returncode == 2 and 'field "tags"' in again.stderr  # the file's error is said again each run
    assert json.loads(again.stdout)["outcomes"] == []
    assert len(remote.state()["posts"]) == 2 and len(stored_posts(workdir)) == 2


def test_all_posted_exit_0_with_human_lines(workdir, emulator):
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"}])
    result = run(workdir, emulator, "--poll-interval", "0.01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "videos_to_upload.json: 1 new post queued (posts 1)" in result.stdout
    assert "[emulator] [1/1] post 1 for " in result.stdout and "  DONE: posted" in result.stdout


def test_lines_name_an_account_by_its_at_name_when_the_token_store_knows_it(workdir, emulator):
    store = TokenStore(workdir / "user_tokens.json")  # the app keeps the username it read at login
    store.put(replace(store.load()[ADA], username="ada_tests"))
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"},
                             {"user_id": BO, "video_path": "clip.mp4", "privacy": "SELF_ONLY"},
                             {"user_id": ADA, "video_path": "clip.mp4", "description": "missed",
                              "post_at": "2020-01-01T09:00:00Z"}])  # settled without a call: missed
    result = run(workdir, emulator, "--poll-interval", "0.01")
    assert "post 1 for @ada_tests:" in result.stdout and ADA not in result.stdout, result.stdout
    assert "post 3 for @ada_tests:" in result.stdout and "missed" in result.stdout, result.stdout
    assert f"post 2 for {BO}:" in result.stdout  # no name known: its open_id


def test_malformed_manifest_names_the_file_and_line(workdir, emulator):
    write_manifest(workdir, '[{"user_id": "x",\n  "video_path": }]')
    result = run(workdir, emulator)
    assert result.returncode == 2
    assert "videos_to_upload.json: malformed JSON at line 2" in result.stdout


def test_missing_manifest(workdir, emulator):
    result = run(workdir, emulator, "nope.json")
    assert result.returncode == 2 and "nope.json" in result.stdout and "not found" in result.stdout


def test_dry_run_prints_the_plan_and_posts_nothing(workdir, emulator, remote):
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4", "tags": ["a"]},
                             {"user_id": "stranger", "video_path": "clip.mp4"}])
    result = run(workdir, emulator, "--dry-run")
    assert result.returncode == 2  # the stranger has no connected account
    assert "uploaded in 1 chunk" in result.stdout and "privacy SELF_ONLY (the safe default), offered to @" in result.stdout
    assert 'field "user_id"' in result.stdout and "nothing was posted" in result.stdout
    assert "a real run would post it" in result.stdout and "a real run would refuse it" in result.stdout
    assert remote.state()["posts"] == []


def test_relink_needed_exit_3(workdir, emulator, remote):
    remote.revoke_user(ADA)
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4"}])
    result = run(workdir, emulator, "--poll-interval", "0.01")
    assert result.returncode == 3 and "RELINK" in result.stdout


def test_rate_limited_exit_4_the_record_is_kept_and_the_next_run_posts(workdir, emulator, remote):
    remote.inject_fault("/v2/post/publish/creator_info/query/", status=429, error="rate_limit_exceeded",
                        retry_after=3600, times=1)
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4"}])
    result = run(workdir, emulator)
    assert result.returncode == 4 and "  TRY LATER: " in result.stdout
    (post,) = stored_posts(workdir)
    assert (post.record.state, post.record.outcome, post.open) == ("failed", "try_later", True)
    assert remote.state()["posts"] == []
    retried = run(workdir, emulator, "--poll-interval", "0.01")  # retried by itself, no flag needed
    assert retried.returncode == 0 and "  DONE: posted" in retried.stdout
    assert len(remote.state()["posts"]) == 1 and stored_posts(workdir)[0].state == "posted"


def test_help_lists_exit_codes(workdir, emulator):
    result = run(workdir, emulator, "--help")
    assert result.returncode == 0 and "exit codes" in result.stdout and "--dry-run" in result.stdout


def test_no_token_or_secret_is_printed(workdir, emulator):
    write_manifest(workdir, [{"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"}])
    result = run(workdir, emulator, "-v", "--poll-interval", "0.01")
    printed = result.stdout + result.stderr
    accounts = TokenStore(workdir / "user_tokens.json").load().values()
    secrets = [a.access_token for a in accounts] + [a.refresh_token for a in accounts]
    secrets.append(emulator.config.client_secret)
    assert "  DONE: posted" in printed
    assert not [i for i, s in enumerate(secrets) if s in printed], "a secret appeared in the output"
    assert "upload_token=***" in printed  # -v logs the PUT URLs, masked
    assert not re.search(r"upload_token=(?!\*\*\*)", printed)
