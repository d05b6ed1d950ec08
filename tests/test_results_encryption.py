"""TOKENS_KEY also seals the posting results file's upload URLs at rest (``<manifest>.results.json``).

The end-to-end tests run ``upload_to_tiktok.py`` as a real subprocess against the emulator (as tests/test_upload_cli.py
does) with an encrypted token file (as tests/test_token_encryption.py sets it up); the rest drive ResultsStore.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.errors import ConfigError
from tiktok.posting.results import UPLOADING, PostRecord, ResultsFileError, ResultsStore
from tests.media_fixtures import make_video
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")
KEY, OTHER_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
URL = "https://open-upload.tiktokapis.com/upload/video/?upload_id=7&upload_token=s3cr3t-upload-token"
URL_MARKS = ("upload_token=", "/upload/")  # what the emulator's (and TikTok's) upload URLs contain


@pytest.fixture
def workdir(tmp_path, emulator):
    store = TokenStore(tmp_path / "user_tokens.json", key=KEY)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    make_video(tmp_path / "clip.mp4")
    (tmp_path / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": ADA, "video_path": "clip.mp4", "privacy": "SELF_ONLY"}]))
    return tmp_path


def run(workdir: Path, emulator, key: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(workdir / "user_tokens.json"),
           **({"TOKENS_KEY": key} if key is not None else {})}
    return subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01"],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def assert_no_url(text: str) -> None:
    assert not [mark for mark in URL_MARKS if mark in text], "an upload URL appears in the results file"


def record(key: str = "k1", url: str | None = URL) -> PostRecord:
    return PostRecord(key=key, index=0, user_id=ADA, state=UPLOADING, publish_id="p-" + key, upload_url=url,
                      upload_url_expires_at=1e10, plan={"chunk_size": 10, "total_chunk_count": 1})


def test_an_interrupted_upload_keeps_its_url_sealed_and_resumes_with_the_key(workdir, emulator, remote):
    results = workdir / "videos_to_upload.results.json"
    remote.inject_fault("/upload/video/", status=429, error="rate_limit_exceeded", retry_after=3600, times=1)
    first = run(workdir, emulator, KEY)
    assert first.returncode == 4 and "TRY LATER" in first.stdout, first.stdout + first.stderr
    text = results.read_text()
    assert_no_url(text)
    data = json.loads(text)
    assert data["encryption"] == "fernet:v1"
    (stored,) = data["records"].values()
    assert stored["state"] == UPLOADING and stored["upload_url"].startswith("fernet:v1:")
    (opened,) = ResultsStore(results, key=KEY).load().values()
    assert "upload_token=" in opened.upload_url and "/upload/" in opened.upload_url  # opened on read
    assert oct(results.stat().st_mode & 0o777) == oct(0o600)

    before = results.read_bytes()
    for key, why in ((OTHER_KEY, "another key"), (None, "TOKENS_KEY is not set")):
        refused = run(workdir, emulator, key)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert why in refused.stdout and f"{results.name}: " in refused.stdout, refused.stdout
        assert "Traceback" not in refused.stderr
        assert results.read_bytes() == before, f"a run with key {key is not None} changed the results file"
    assert remote.state()["posts"] == [] or all(p["status"] != "PUBLISH_COMPLETE" for p in remote.state()["posts"])

    resumed = run(workdir, emulator, KEY)
    assert resumed.returncode == 0 and "  DONE: posted" in resumed.stdout, resumed.stdout + resumed.stderr
    assert "resum" in resumed.stdout, resumed.stdout
    assert len(remote.state()["posts"]) == 1
    assert_no_url(results.read_text())
    again = run(workdir, emulator, KEY)  # a re-run posts nothing twice
    assert again.returncode == 0 and "already posted" in again.stdout, again.stdout + again.stderr
    assert len(remote.state()["posts"]) == 1


def test_a_malformed_key_exits_2_without_echoing_it(workdir, emulator):
    result = run(workdir, emulator, "hunter2-not-a-key")
    assert result.returncode == 2 and "not a Fernet key" in result.stdout + result.stderr, result.stdout
    assert "hunter2" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_sealed_at_rest_and_opened_on_read(tmp_path):
    path = tmp_path / "videos.results.json"
    store = ResultsStore(path, key=KEY)
    store.save(record("k1"))
    store.save(record("k2", url=None))
    text = path.read_text()
    assert_no_url(text)
    data = json.loads(text)
    assert data["encryption"] == "fernet:v1" and data["records"]["k2"]["upload_url"] is None
    assert store.get("k1").upload_url == URL and store.get("k2").upload_url is None
    assert ResultsStore(path, key=KEY).load() == store.load()

    before = path.read_bytes()
    with pytest.raises(ResultsFileError, match="TOKENS_KEY is not set") as no_key:
        ResultsStore(path).load()
    with pytest.raises(ResultsFileError, match="another key") as wrong:
        ResultsStore(path, key=OTHER_KEY).save(record("k3"))
    assert str(path) in str(no_key.value) and str(path) in str(wrong.value)
    assert path.read_bytes() == before  # never overwritten


def test_a_url_moved_to_another_record_does_not_open(tmp_path):
    path = tmp_path / "videos.results.json"
    store = ResultsStore(path, key=KEY)
    store.save(record("k1"))
    store.save(record("k2", url=URL.replace("7", "8")))
    data = json.loads(path.read_text())
    data["records"]["k2"]["upload_url"] = data["records"]["k1"]["upload_url"]
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match="sealed for another record"):
        store.load()


def test_a_plain_file_reads_with_the_key_and_is_sealed_at_the_next_write(tmp_path):
    path = tmp_path / "videos.results.json"
    ResultsStore(path).save(record("k1"))
    assert URL in path.read_text()  # without a key nothing changes: plain as before
    keyed = ResultsStore(path, key=KEY)
    assert keyed.get("k1").upload_url == URL
    assert URL in path.read_text()  # reading alone writes nothing
    keyed.save(record("k2", url=None))
    assert_no_url(path.read_text())
    assert keyed.get("k1").upload_url == URL


def test_a_key_that_is_not_a_fernet_key_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a Fernet key"):
        ResultsStore(tmp_path / "videos.results.json", key="hunter2-not-a-key")
