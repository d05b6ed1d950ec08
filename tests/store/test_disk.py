"""The embedded store on a bad disk: full as a post ends, a read-only folder, a damaged file, a file another program
keeps locked. Each is a clear error naming the file (exit 2 from the command), nothing is lost, no claim outlives its
run, and the next run settles what the failed one left.

Where the machine lets us (root, mount allowed) the disk really is full: a small tmpfs, as the token-disk tests use;
elsewhere the store's own page limit fills it (the same SQLite error). The assertion messages say which ran."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import event

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.config import load_settings
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.errors import StoreError
from tiktok.posting.policy import POSTING_RETRY
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.retry import Runtime
from tiktok.store import sqlite as sqlite_store
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.mounts import mount, read_only_bind, umount

ROOT = Path(__file__).resolve().parents[2]
ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")


@pytest.fixture
def emulator_config():
    return EmulatorConfig(processing_polls=2)  # the post stays PROCESSING for two status fetches


@pytest.fixture
def account(emulator, tmp_path) -> Path:
    tokens = tmp_path / "user_tokens.json"
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, TokenStore(tokens), oauth, ADA, scopes=SCOPES)
    return tokens


def settings_for(emulator, tokens: Path, store: Path):
    return load_settings({"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                          "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                          "TOKENS_FILE": str(tokens), "STORE_FILE": str(store)})


def fill(folder: Path) -> Path:
    """Write into ``folder`` until its disk is full; returns the file to delete to free it again."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
def test_a_disk_that_fills_as_a_post_ends_leaves_it_settled_by_the_next_run(emulator, remote, tmp_path, account):
    disk = tmp_path / "disk"
    disk.mkdir()
    refused = mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk))
    how = "a 16 MiB tmpfs" if refused is None else f"the store's page limit (mount not permitted: {refused})"
    store = None
    try:
        store_path = disk / "tiktok.db"
        store = open_sqlite(store_path)
        video = make_video(tmp_path / "clip.mp4")
        entry = {"user_id": ADA, "video_path": str(video), "description": "end of disk", "privacy": "SELF_ONLY"}
        post = store.add(entry, key=entry_key(entry), due_at=None)
        filled: list[Path] = []

        def sleep(seconds: float) -> None:  # the first wait between status fetches: the disk fills now
            if not filled:
                if refused is None:
                    filled.append(fill(disk))
                else:  # every new connection of the store may grow the file no further
                    with sqlite3.connect(store_path) as conn:
                        pages = conn.execute("PRAGMA page_count").fetchone()[0]
                    event.listen(store.engine, "connect", limit)
                    limit.pages = pages
                    store.engine.dispose()
                    filled.append(store_path)
            remote.advance_clock(seconds)

        def limit(dbapi_conn, _record) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count={limit.pages}")

        def runtime() -> Runtime:
            return Runtime(sleep=sleep, monotonic=lambda: 0.0, rng=random.Random(1), policy=POSTING_RETRY)

        settings = settings_for(emulator, account, store_path)
        lines: list[str] = []
        first = run_queue(store, settings, RunOptions(), hooks=Hooks(say=lines.append, runtime=runtime))
        assert filled, f"[{how}] the disk was never filled: {lines}"
        assert int(first.status) == 2, f"[{how}] {lines}"
        assert any(str(store_path) in line and ("full" in line or "disk" in line) for line in lines), \
            f"[{how}] {lines}"
        (made,) = remote.state()["posts"]
        assert made["status"] == "PUBLISH_COMPLETE", f"[{how}] TikTok has the post"
        assert list((disk / "tiktok.db.claims").glob("*.lock")) == [], f"[{how}] a claim outlived the run"
        assert store.live_claims([post]) == set()

        if refused is None:
            filled[0].unlink()
        else:
            event.remove(store.engine, "connect", limit)
            store.engine.dispose()
        assert store.get(post.id).state == "processing", f"[{how}] the last good write is kept"
        lines.clear()
        second = run_queue(store, settings, RunOptions(), hooks=Hooks(say=lines.append, runtime=runtime))
        assert int(second.status) == 0, f"[{how}] {lines}"
        assert store.get(post.id).state == "posted"
        assert len(remote.state()["posts"]) == 1, f"[{how}] posted twice"
        assert any("resuming" in line for line in lines), lines
    finally:
        if store is not None:
            store.close()
        if refused is None:
            umount(disk)


def upload(tmp_path: Path, emulator, tokens: Path, store: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens), "STORE_FILE": str(store)}
    return subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_read_only_store_folder_exits_2_naming_the_file_and_posts_nothing(emulator, remote, tmp_path, account):
    source, view = tmp_path / "posts", tmp_path / "posts-ro"
    source.mkdir()
    view.mkdir()
    make_video(source / "clip.mp4")
    (source / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": ADA, "video_path": "clip.mp4", "description": "x", "privacy": "SELF_ONLY"}]))
    refused = read_only_bind(source, view)
    if refused is not None:  # without a read-only mount, a folder this (non-root) user may not write
        os.chmod(source, 0o555)
        view = source
    how = "read-only bind mount" if refused is None else f"a read-only folder (mount not permitted: {refused})"
    try:
        done = upload(tmp_path, emulator, account, view / "tiktok.db", view)
        output = done.stdout + done.stderr
        assert done.returncode == 2, f"[{how}] exit {done.returncode}: {output}"
        assert "tiktok.db" in output and "Traceback" not in output, f"[{how}] {output}"
        assert remote.state()["posts"] == [], f"[{how}] something was posted"
    finally:
        if refused is None:
            umount(view)
        else:
            os.chmod(source, 0o755)


@pytest.mark.slow
def test_a_damaged_store_stops_with_exit_2_and_says_how_to_recover_never_to_delete(emulator, remote, tmp_path,
                                                                                   account):
    store = tmp_path / "tiktok.db"
    store.write_bytes(b"this is not a database, it was overwritten by mistake" * 100)
    before = store.read_bytes()
    make_video(tmp_path / "clip.mp4")
    (tmp_path / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": ADA, "video_path": "clip.mp4", "description": "x", "privacy": "SELF_ONLY"}]))
    done = upload(tmp_path, emulator, account, store, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert str(store) in output and "damaged" in output and "backup" in output, output
    assert "delete" not in output.lower() and "move it aside" not in output and "Traceback" not in output
    assert store.read_bytes() == before and remote.state()["posts"] == []


@pytest.mark.slow
def test_a_store_another_program_keeps_locked_is_a_clear_error_and_nothing_changes(tmp_path, monkeypatch):
    path = tmp_path / "tiktok.db"
    store = open_sqlite(path)
    entry = {"user_id": ADA, "video_url": "https://media.example.com/a.mp4"}
    store.add(entry, key=entry_key(entry), due_at=None)
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_S", 0.2)  # the default waits 30 s before saying so
    locked = open_sqlite(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. a backup tool holding the write lock
    try:
        with pytest.raises(StoreError) as raised:
            other = {"user_id": ADA, "video_url": "https://media.example.com/b.mp4"}
            locked.add(other, key=entry_key(other), due_at=None)
        assert str(path) in str(raised.value) and "locked" in str(raised.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.count() == 1 and locked.get(1).entry == entry
    store.close()
    locked.close()


def test_a_new_store_is_private_to_its_user(tmp_path):
    old = os.umask(0o022)
    try:
        store = open_sqlite(tmp_path / "tiktok.db")
        entry = {"user_id": ADA, "video_url": "https://media.example.com/a.mp4"}
        store.add(entry, key=entry_key(entry), due_at=None)
    finally:
        os.umask(old)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.glob("tiktok.db*") if p.is_file()}
    assert modes["tiktok.db"] == "0o600" and all(mode == "0o600" for mode in modes.values()), modes
    store.close()
