"""Chunk uploads read the environment's proxy settings once per upload and still go through them (a proxy that a
person set for their network must never be bypassed to save a lookup per chunk)."""

from __future__ import annotations

import random
import socket

import pytest
import requests

from tiktok.api import ApiClient
from tiktok.auth.access import call_with_token
from tiktok.auth.oauth import OAuthClient
from tiktok.emulator.config import default_users
from tiktok.posting.chunks import plan_chunks
from tiktok.posting.client import PostingClient, file_source_info
from tiktok.posting.transfer import UploadError, send_chunks, upload_session
from tiktok.retry import RetryPolicy, Runtime
from tests.media_fixtures import make_video
from tests.support.flows import link_account

pytestmark = pytest.mark.slow  # uploads through a real proxy on loopback

ADA = default_users()[0].open_id


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.parametrize("through_proxy", [False, True])
def test_an_upload_goes_through_the_environments_proxy(emulator, remote, store, tmp_path, monkeypatch,
                                                       through_proxy):
    session = requests.Session()
    oauth = OAuthClient(session, api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, store, oauth, ADA, scopes=("user.info.basic", "video.upload"))
    video = make_video(tmp_path / "clip.mp4")
    plan = plan_chunks(video.stat().st_size, 10_000_000)
    posting = PostingClient(ApiClient(session, api_base=emulator.url))
    init = call_with_token(store, oauth, ADA, lambda token: posting.init_video(token, file_source_info(plan), None))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    if through_proxy:  # a proxy nobody answers at: the upload must try it, and so fail
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    else:
        monkeypatch.delenv("HTTP_PROXY", raising=False)
        monkeypatch.delenv("http_proxy", raising=False)
    uploads = upload_session()
    runtime = Runtime(sleep=lambda s: None, monotonic=lambda: 0.0, rng=random.Random(1),
                      policy=RetryPolicy(max_attempts=2))
    if through_proxy:
        with pytest.raises(UploadError):
            send_chunks(uploads, init.upload_url, video, plan, "video/mp4", runtime=runtime)
        monkeypatch.delenv("HTTP_PROXY")  # the test's own look at the emulator goes direct
        (post,) = remote.state()["posts"]
        assert post["bytes_received"] == 0
    else:
        send_chunks(uploads, init.upload_url, video, plan, "video/mp4", runtime=runtime)
        (post,) = remote.state()["posts"]
        assert post["bytes_received"] == video.stat().st_size
    assert uploads.trust_env is True  # the session is left as it was given
