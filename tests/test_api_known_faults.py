"""The faults known in tiktok-api-client 0.0.15, tried one by one through the public API: none can happen.

Each row does what met the fault there, with a session whose response hook records every answer the emulator
gives; the emulator is strict (TikTok's rules and codes), and every request must be accepted: 2xx, and ``ok`` in
every envelope. The known faults: a chunk plan one short for sizes just over a chunk boundary; the whole file read
into memory; a draft sent to the Direct Post endpoint; a base64url PKCE challenge on a loopback redirect (TikTok's
desktop flow wants hex); errors only as bare ``Exception``/``HTTPError``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import tiktok
from tiktok import PostOptions, TikTokClient
from tiktok.emulator.config import default_users
from tests.media_fixtures import make_video
from tests.support.flows import consent
from tests.support.posting import padded_video, sha256_file

ADA = default_users()[0].open_id


class Recorder:
    """Every answer the client got: (method, path, HTTP status, envelope error code or None)."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, int, str | None]] = []

    def __call__(self, response: requests.Response, *args, **kwargs) -> None:
        code = None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else error
        path = requests.utils.urlparse(response.request.url).path
        self.answers.append((response.request.method, path, response.status_code, code))

    def refused(self) -> list[tuple[str, str, int, str | None]]:
        return [a for a in self.answers if not 200 <= a[2] < 300 or a[3] not in (None, "ok")]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(emulator, recorder) -> TikTokClient:
    session = requests.Session()
    session.hooks["response"].append(recorder)
    return TikTokClient("emulator-client-key", "emulator-client-secret", "http://127.0.0.1:8765/callback/",
                        api_base=emulator.url, session=session, sleep=lambda s: None)


@pytest.fixture
def tokens(client):
    login = client.start_login()
    return client.finish_login(consent(login.url, open_id=ADA).headers["Location"], login)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("faults") / "clip.mp4", seconds=3.5)


@pytest.mark.parametrize("size", [64_000_001, 70_000_001, 79_999_999])
def test_sizes_just_over_a_boundary_get_an_exact_plan(client, tokens, remote, recorder, tmp_path, size):
    """64,000,001 bytes is just over the single-chunk limit; 70,000,001 one byte over 7 chunks; 79,999,999 one
    byte short of 8. TikTok wants floor(size / chunk_size) chunks, the remainder in the last."""
    video = padded_video(tmp_path / "v.mp4", size)
    upload = client.post_video_file(tokens, video, PostOptions(privacy="SELF_ONLY"))
    assert upload.plan is not None and upload.plan.total_chunk_count == size // upload.plan.chunk_size
    assert client.wait_for_post(tokens, upload).status == "PUBLISH_COMPLETE"
    (post,) = remote.state()["posts"]
    assert post["sha256"] == sha256_file(video) and post["plan"]["video_size"] == size
    puts = [a for a in recorder.answers if a[0] == "PUT"]
    assert len(puts) == upload.plan.total_chunk_count
    assert recorder.refused() == []


UPLOAD_SCRIPT = """
import json, os, sys, tracemalloc
from tiktok import TikTokClient
client = TikTokClient("emulator-client-key", "emulator-client-secret", "http://127.0.0.1:8765/callback/",
                      api_base=os.environ["API_BASE"])
tracemalloc.start()
upload = client.post_video_file(os.environ["ACCESS_TOKEN"], sys.argv[1])
print(json.dumps({"peak": tracemalloc.get_traced_memory()[1], "chunks": upload.next_chunk}))
"""


def test_the_file_is_never_read_into_memory(emulator, tokens, remote, tmp_path):
    """In a process of its own (the emulator here reads whole chunks, as a server may): the client's Python
    allocations stay near its one 1 MiB block buffer while 70 MB go up."""
    video = padded_video(tmp_path / "v.mp4", 70_000_000)
    env = {**os.environ, "API_BASE": emulator.url, "ACCESS_TOKEN": tokens.access_token,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", UPLOAD_SCRIPT, str(video)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["chunks"] == 7 and report["peak"] < 4 * 2**20, report
    assert remote.state()["posts"][0]["sha256"] == sha256_file(video)


def test_a_draft_goes_to_the_inbox_endpoint_without_post_info(client, tokens, remote, recorder, clip):
    upload = client.post_video_file(tokens, clip, PostOptions(caption="ignored for drafts"), to_inbox=True)
    assert client.wait_for_post(tokens, upload).status == "SEND_TO_USER_INBOX"
    inits = [a[1] for a in recorder.answers if a[1].endswith("/init/")]
    assert inits == ["/v2/post/publish/inbox/video/init/"]
    assert remote.state()["posts"][0]["mode"] == "inbox"
    assert recorder.refused() == []


def test_pkce_on_a_loopback_redirect_is_hex(client, emulator, recorder):
    assert emulator.config.pkce_encoding == "hex"  # TikTok's desktop rule, which the emulator enforces
    login = client.start_login()
    assert login.pkce == "hex"
    tokens = client.finish_login(consent(login.url, open_id=ADA).headers["Location"], login)
    assert tokens.open_id == ADA
    assert [a[1] for a in recorder.answers] == ["/v2/oauth/token/"] and recorder.refused() == []


def test_errors_are_typed_with_tiktoks_code_and_log_id(client, tokens, remote, recorder, clip):
    remote.inject_fault("/v2/post/publish/video/init/", status=403, error="spam_risk_too_many_posts")
    with pytest.raises(tiktok.PostingRefused) as refused:
        client.post_video_file(tokens, clip)
    assert refused.value.code == "spam_risk_too_many_posts" and refused.value.log_id
    assert not isinstance(refused.value, requests.HTTPError) and not refused.value.transient
    assert [a[3] for a in recorder.refused()] == ["spam_risk_too_many_posts"]  # the injected one, nothing else
