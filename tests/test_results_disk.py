"""The posting results file on a full or read-only disk: ResultsFileError (exit 2) before anything is posted, and
the file keeps what it held (issue 9)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tiktok import atomic
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.posting.results import PENDING_INIT, PostRecord, ResultsFileError, ResultsStore
from tests.media_fixtures import make_video
from tests.support.mounts import read_only_bind, umount
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id


def test_no_space_raises_results_file_error_and_keeps_the_file(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path / "videos.results.json")
    first = store.save(PostRecord(key="k1", index=0, user_id=ADA, state=PENDING_INIT))
    before = store.path.read_bytes()

    def no_space(*_a):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(atomic.os, "posix_fallocate", no_space)
        with pytest.raises(ResultsFileError) as raised:
            store.save(PostRecord(key="k2", index=1, user_id=ADA, state=PENDING_INIT))
        with pytest.raises(ResultsFileError):
            store.claim("k2")
    assert str(store.path) in str(raised.value) and "No space left" in str(raised.value)
    assert store.path.read_bytes() == before
    assert not list(tmp_path.glob(".videos.results.json.*.tmp"))
    assert store.load() == {"k1": first}

    store.save(PostRecord(key="k2", index=1, user_id=ADA, state=PENDING_INIT))
    assert set(store.load()) == {"k1", "k2"}


def test_upload_with_a_read_only_manifest_folder_exits_2_and_posts_nothing(tmp_path, emulator, remote, monkeypatch):
    """A read-only bind mount of the manifest's folder when mount is allowed (root ignores chmod); otherwise
    EROFS injected into the store in-process. The assertion messages say which path ran."""
    tokens = tmp_path / "user_tokens.json"
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, TokenStore(tokens), oauth, ADA,
                 scopes=("user.info.basic", "video.publish", "video.upload"))
    source, view = tmp_path / "posts", tmp_path / "posts-ro"
    source.mkdir()
    view.mkdir()
    make_video(source / "clip.mp4")
    (source / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": ADA, "video_path": "clip.mp4", "description": "x", "privacy": "SELF_ONLY"}]))
    refused = read_only_bind(source, view)
    how = "read-only bind mount" if refused is None else f"injected EROFS (mount not permitted: {refused})"
    try:
        if refused is None:
            env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
                   "TIKTOK_CLIENT_KEY": emulator.config.client_key,
                   "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
                   "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens)}
            done = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01"],
                                  cwd=view, env=env, capture_output=True, text=True, timeout=120)
            code, output = done.returncode, done.stdout + done.stderr
        else:
            def read_only(*_a, **_k):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
            store = ResultsStore(source / "videos_to_upload.results.json")
            try:
                store.claim("k")
                code, output = 0, "claim succeeded"
            except ResultsFileError as exc:
                code, output = 2, f"error: {exc}"
        assert code == 2, f"[{how}] exit {code}: {output}"
        assert "videos_to_upload.results.json" in output and "Read-only file system" in output, f"[{how}] {output}"
        assert "Traceback" not in output, f"[{how}] {output}"
        assert remote.state()["posts"] == [], f"[{how}] something was posted"
    finally:
        if refused is None:
            umount(view)
