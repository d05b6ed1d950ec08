"""``list_videos`` against the emulator's /v2/video/list/: every page, --limit, --since, and 429s waited out (bounded)."""

from __future__ import annotations

import dataclasses
import random

import pytest
import requests

from tests.support.flows import link_account
from tiktok.auth.access import call_with_token
from tiktok.api import ApiClient
from tiktok.emulator.config import default_users
from tiktok.errors import ScopeError
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.pages import PAGE_SIZE
from tiktok.retry import DISPLAY_RETRY, Runtime
from tiktok.transcription.videolist import LIST_FIELDS, Video, VideoListUnavailable, list_videos

ADA, BO, CY = (u.open_id for u in default_users())


@pytest.fixture
def session():
    return requests.Session()


@pytest.fixture
def lister(emulator, tokens_path, session):
    """``run(open_id, **kw)`` lists through the real client; ``run.calls`` counts API requests."""
    store = TokenStore(tokens_path)
    oauth = OAuthClient(session, api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    api = ApiClient(session, api_base=emulator.url)
    calls: list[str] = []

    def run(open_id: str, scopes=("user.info.basic", "video.list"), sleep=None, **kw) -> list[Video]:
        if store.get(open_id) is None:
            link_account(emulator.url, store, oauth, open_id, scopes=scopes)

        def token_call(fn):
            calls.append(open_id)
            return call_with_token(store, oauth, open_id, fn)
        runtime = Runtime(sleep=sleep or (lambda s: None), rng=random.Random(3),
                          policy=dataclasses.replace(DISPLAY_RETRY, jitter=0.0))  # exact waits to compare
        return list_videos(api, token_call, runtime=runtime, **kw)

    run.calls = calls
    return run


def catalogue(emulator, open_id: str) -> list[dict]:
    return requests.get(f"{emulator.url}/_emulator/videos/{open_id}", timeout=10).json()["videos"]


def test_every_page_is_fetched_newest_first_with_every_field(lister, emulator):
    videos = lister(ADA)
    expected = catalogue(emulator, ADA)
    assert len(expected) == 25 > PAGE_SIZE
    assert [v.id for v in videos] == [v["id"] for v in expected]
    assert len(lister.calls) == 2  # 20 + 5
    assert videos[0].title == expected[0]["title"] and videos[0].share_url == expected[0]["share_url"]
    assert videos[0].username == "ada.creates"
    assert set(LIST_FIELDS) == set(expected[0])  # we ask for every documented field


@pytest.mark.parametrize("limit, pages", [(3, 1), (20, 1), (21, 2), (100, 2)])
def test_limit_stops_early(lister, emulator, limit, pages):
    videos = lister(ADA, limit=limit)
    assert [v.id for v in videos] == [v["id"] for v in catalogue(emulator, ADA)][:limit]
    assert len(lister.calls) == pages


def test_since_keeps_only_newer_videos_and_stops_paging(lister, emulator):
    expected = catalogue(emulator, ADA)
    since = expected[4]["create_time"]
    videos = lister(ADA, since=since)
    assert [v.id for v in videos] == [v["id"] for v in expected if v["create_time"] >= since]
    assert len(videos) == 5 and len(lister.calls) == 1


def test_an_account_without_videos_lists_nothing(lister):
    assert lister(CY) == []


def test_a_429_is_waited_out_with_retry_after(lister, remote, emulator):
    remote.inject_fault("/v2/video/list/", status=429, error="rate_limit_exceeded", retry_after=7)
    waits: list[float] = []
    videos = lister(BO, sleep=waits.append)
    assert waits == [7]
    assert [v.id for v in videos] == [v["id"] for v in catalogue(emulator, BO)]


def test_a_persistent_429_gives_a_clear_error_after_bounded_backoff(lister, remote):
    remote.inject_fault("/v2/video/list/", status=429, error="rate_limit_exceeded", times=DISPLAY_RETRY.max_attempts)
    waits: list[float] = []
    with pytest.raises(VideoListUnavailable) as caught:
        lister(BO, sleep=waits.append)
    assert waits == [DISPLAY_RETRY.base_delay_s * 2 ** n for n in range(DISPLAY_RETRY.max_attempts - 1)]
    assert "rate-limited (HTTP 429)" in str(caught.value) and "run again later" in str(caught.value)
    assert caught.value.transient


def test_a_retry_after_too_long_to_wait_stops_at_once(lister, remote):
    remote.inject_fault("/v2/video/list/", status=429, error="rate_limit_exceeded", retry_after=3600)
    waits: list[float] = []
    with pytest.raises(VideoListUnavailable):
        lister(BO, sleep=waits.append)
    assert waits == []


def test_a_missing_scope_is_not_retried(lister):
    waits: list[float] = []
    with pytest.raises(ScopeError):
        lister(BO, scopes=("user.info.basic",), sleep=waits.append)
    assert waits == []
