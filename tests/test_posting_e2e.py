"""Posting end to end: the real client over loopback HTTP against the strict emulator, each post held in the post
store as a run would hold it (``store.add``, then ``Publisher.publish``).

Waits never sleep: the client's sleep moves the emulator's clock (tests/support/posting.EmulatedTime).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import requests

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.emulator.posts import PostingSettings
from tiktok.posting.importer import request_of
from tiktok.posting.manifest import PostRequest
from tiktok.auth.oauth import OAuthClient
from tiktok.api import ApiClient
from tiktok.posting.client import PostingClient
from tiktok.posting.publisher import Outcome, Publisher
from tiktok.auth.tokens import TokenStore
from tiktok.posting.transfer import upload_session
from tiktok.store.base import Post
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tiktok.words import WORDS
from tests.emulator.posting_helpers import make_image, start_media_host
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import EmulatedTime, cut_off_after, padded_video, sha256_file

ADA, BO, CY = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload", "video.list")


class Harness:
    """Connected accounts, a post store and a publisher wired to the emulator."""

    def __init__(self, emulator, remote, tmp_path: Path, posts) -> None:
        self.emulator, self.remote, self.tmp, self.posts = emulator, remote, tmp_path, posts
        self.tokens = TokenStore(tmp_path / "user_tokens.json")
        session = requests.Session()
        self.oauth = OAuthClient(session, api_base=emulator.url, client_key=emulator.config.client_key,
                                 client_secret=emulator.config.client_secret)
        self.posting = PostingClient(ApiClient(session, api_base=emulator.url))
        self.time = EmulatedTime(remote)
        self.lines: list[str] = []
        for open_id in (ADA, BO, CY):
            link_account(emulator.url, self.tokens, self.oauth, open_id, scopes=SCOPES)

    def publisher(self, **kw) -> Publisher:
        options = dict(runtime=self.time.runtime(), poll_interval_s=3.0, say=self.lines.append)
        options.update(kw)
        return Publisher(tokens=self.tokens, oauth=self.oauth, posting=self.posting, upload_session=upload_session(),
                         posts=self.posts, emulated=True, **options)

    def queued(self, entry: dict) -> tuple[Post, PostRequest]:
        """The store's post for ``entry`` (added on first sight, as the composer adds one), and its request."""
        request, problems = request_of(entry, source="test entry", allow_loopback=True)
        assert request is not None, [p.message for p in problems]
        stored = request.to_entry()
        key = entry_key(stored)
        post = self.posts.find(key) or self.posts.add(stored, key=key, due_at=request.due_at)
        return post, request

    def post(self, entries: list[dict], **kw) -> list[Outcome]:
        publisher = self.publisher(**kw)
        return [publisher.publish(*self.queued(entry)) for entry in entries]

    def emulated_posts(self) -> list[dict]:
        return self.remote.state()["posts"]


@pytest.fixture
def harness(emulator, remote, tmp_path, post_store) -> Harness:
    """On SQLite and on PostgreSQL (the store_kind parameter): every post below is made alike on both."""
    return Harness(emulator, remote, tmp_path, post_store)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4")


SIZES = [
    pytest.param(None, id="small-real-clip"),
    pytest.param(5_242_879, id="just-under-5MiB"),
    pytest.param(5_242_880, id="exactly-5MiB"),
    pytest.param(64_000_000, id="exactly-64MB-one-chunk"),
    pytest.param(64_000_001, id="just-over-64MB"),
    pytest.param(100_000_000, id="exact-multiple-of-chunk"),
    pytest.param(300_000_001, id="300MB-sparse"),
]


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_direct_post_from_file_arrives_byte_for_byte(harness, clip, tmp_path, size):
    video = clip if size is None else padded_video(tmp_path / "big.mp4", size)
    outcomes = harness.post([{"user_id": ADA, "video_path": str(video), "description": "hello",
                              "tags": ["test"], "privacy": "PUBLIC_TO_EVERYONE"}])
    assert [(o.status, o.state) for o in outcomes] == [("done", "posted")], outcomes
    (post,) = harness.emulated_posts()
    size = video.stat().st_size
    assert post["status"] == "PUBLISH_COMPLETE" and post["bytes_received"] == size
    assert post["sha256"] == sha256_file(video)
    plan = post["plan"]
    assert plan["video_size"] == size and plan["total_chunk_count"] == size // plan["chunk_size"]
    assert (plan["total_chunk_count"] == 1) == (size <= 64_000_000)
    assert outcomes[0].post_ids, "a public direct post gets its public id"


def test_draft_goes_to_the_inbox_without_post_info(harness, clip):
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(clip), "draft": True}])
    assert (outcome.status, outcome.state) == ("done", "inbox")
    (post,) = harness.emulated_posts()
    assert post["mode"] == "inbox" and post["status"] == "SEND_TO_USER_INBOX"
    assert post["sha256"] == sha256_file(clip)


def test_pull_from_url(harness, clip, emulator):
    host = start_media_host({"/media/clip.mp4": clip})
    try:
        emulator.config.verified_url_prefixes.append(host.url + "/media/")
        (outcome,) = harness.post([{"user_id": ADA, "video_url": host.url + "/media/clip.mp4",
                                    "privacy": "SELF_ONLY", "description": "pulled"}])
    finally:
        host.server.shutdown()
    assert (outcome.status, outcome.state) == ("done", "posted"), outcome
    (post,) = harness.emulated_posts()
    assert post["source"] == "PULL_FROM_URL" and post["sha256"] == sha256_file(clip)
    assert outcome.post_ids == ()  # SELF_ONLY posts never get a public id


def test_pull_from_an_unverified_url_is_refused_clearly(harness, clip):
    (outcome,) = harness.post([{"user_id": ADA, "video_url": "http://127.0.0.1:9/elsewhere/clip.mp4"}])
    assert outcome.status == "failed" and outcome.error_code == "url_ownership_unverified"
    assert harness.emulated_posts() == []


def test_photo_post(harness, tmp_path, emulator):
    images = {f"/photos/{i}.jpg": make_image(tmp_path / f"{i}.jpg", "mjpeg") for i in range(3)}
    host = start_media_host(images)
    try:
        emulator.config.verified_url_prefixes.append(host.url + "/photos/")
        (outcome,) = harness.post([{"user_id": ADA, "photo_urls": [host.url + p for p in images],
                                    "photo_cover_index": 1, "title": "Three", "description": "photos",
                                    "privacy": "PUBLIC_TO_EVERYONE"}])
    finally:
        host.server.shutdown()
    assert (outcome.status, outcome.state) == ("done", "posted"), outcome
    (post,) = harness.emulated_posts()
    assert post["kind"] == "photo" and post["status"] == "PUBLISH_COMPLETE"


@pytest.mark.slow
def test_chunk_dropped_mid_body_is_resent_and_the_post_completes_once(harness, tmp_path, remote):
    video = padded_video(tmp_path / "v.mp4", 70_000_000)  # 7 chunks
    armed = {"done": False}

    def progress(label, total):
        def update(n):
            if not armed["done"] and update.sent >= 25_000_000:
                armed["done"] = True  # the next PUT is cut off half-way through its body
                remote.inject_fault("/upload/video/", drop_after_bytes=4_000_000)
            update.sent += n
        update.sent = 0
        return update

    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(video), "privacy": "SELF_ONLY"}],
                              progress=progress)
    assert armed["done"] and (outcome.status, outcome.state) == ("done", "posted"), outcome
    (post,) = harness.emulated_posts()
    assert remote.state()["faults"] == []  # the drop was consumed by a PUT
    assert any(0.75 <= s <= 1.25 for s in harness.time.slept)  # and the chunk was retried after a backoff
    assert post["sha256"] == sha256_file(video)


@pytest.mark.slow
def test_5xx_with_retry_after_on_a_chunk_is_waited_out(harness, tmp_path, remote):
    video = padded_video(tmp_path / "v.mp4", 30_000_000)
    remote.inject_fault("/upload/video/", status=503, retry_after=7, times=2)
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(video), "privacy": "SELF_ONLY"}])
    assert (outcome.status, outcome.state) == ("done", "posted")
    assert harness.time.slept[:2] == [7, 7]  # Retry-After honoured exactly, no real sleeping
    assert len(harness.emulated_posts()) == 1 and harness.emulated_posts()[0]["sha256"] == sha256_file(video)


def test_429_on_init_is_waited_out_without_a_second_post(harness, clip, remote):
    remote.inject_fault("/v2/post/publish/video/init/", status=429, error="rate_limit_exceeded", times=2)
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY"}])
    assert (outcome.status, outcome.state) == ("done", "posted")
    assert len(harness.emulated_posts()) == 1
    assert min(harness.time.slept[:2]) >= 10  # TikTok sends no Retry-After: we wait at least 10 s


@pytest.mark.slow
def test_access_token_expiring_mid_run_is_refreshed(harness, clip, remote):
    original = harness.time.sleep
    expired = {"done": False}

    def sleep_and_expire(seconds):
        original(seconds)
        if not expired["done"]:
            expired["done"] = True
            remote.advance_clock(7200)  # TikTok's clock passes the access token's 2-hour life while we poll

    harness.time.sleep = sleep_and_expire
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY"}])
    assert expired["done"] and (outcome.status, outcome.state) == ("done", "posted"), outcome
    assert len(harness.emulated_posts()) == 1
    assert remote.state()["tokens"]["rotated"] >= 1


@pytest.mark.slow
def test_interrupted_upload_resumes_on_the_next_run_and_finished_posts_are_skipped(harness, tmp_path, remote):
    video = padded_video(tmp_path / "v.mp4", 70_000_000)  # 7 chunks of 10 MB
    entry = {"user_id": ADA, "video_path": str(video), "privacy": "SELF_ONLY"}
    progress = cut_off_after(remote, 30_000_000)

    (first,) = harness.post([entry], progress=progress, runtime=harness.time.runtime(max_attempts=2))
    assert first.status == "try_later" and "re-run to resume" in first.detail
    held = harness.posts.get(first.post_id).record
    assert held.state == "uploading" and held.publish_id == first.publish_id
    remote.clear_faults()
    resumed: list[int] = []

    def follow(label, total):
        return resumed.append

    (second,) = harness.post([entry], progress=follow)
    assert (second.status, second.state) == ("done", "posted"), second
    assert second.publish_id == first.publish_id  # resumed: never a second init
    assert resumed[0] == 30_000_000 and sum(resumed[1:]) == 40_000_000  # from the chunk TikTok held, none again
    posts = harness.emulated_posts()
    assert len(posts) == 1 and posts[0]["sha256"] == sha256_file(video)
    assert posts[0]["bytes_received"] == video.stat().st_size
    assert any(f"post {first.post_id}: resuming {first.publish_id}" in line for line in harness.lines)
    (third,) = harness.post([entry])
    assert (third.status, third.state) == ("skipped", "posted") and "already posted" in third.detail
    assert len(harness.emulated_posts()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(
    posting={BO: PostingSettings(max_video_post_duration_sec=2)})])
def test_bad_entries_are_reported_and_the_others_still_post(harness, clip, tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    short = make_video(tmp_path / "short.mp4", seconds=1.0)
    huge = padded_video(tmp_path / "huge.mp4", 4_000_000_001)
    entries = [
        {"user_id": ADA, "video_path": str(tmp_path / "missing.mp4")},
        {"user_id": ADA, "video_path": str(not_video)},
        {"user_id": ADA, "video_path": str(short)},
        {"user_id": BO, "video_path": str(clip)},  # 3 s is over Bo's 2-second maximum
        {"user_id": ADA, "video_path": str(huge)},
        {"user_id": "no-such-account", "video_path": str(clip)},
        {"user_id": CY, "video_path": str(clip), "privacy": "PUBLIC_TO_EVERYONE"},  # private account
        {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY"},  # the good one
    ]
    outcomes = harness.post(entries)
    statuses = [o.status for o in outcomes]
    assert statuses == ["bad_input"] * 7 + ["done"], [(o.status, o.detail) for o in outcomes]
    details = [o.detail for o in outcomes]
    assert "missing.mp4" in details[0]
    assert "notes.mp4" in details[1]
    assert "short.mp4" in details[2] and "short" in details[2].lower()
    assert "clip.mp4" in details[3] and "2" in details[3]
    assert "huge.mp4" in details[4]
    assert 'field "user_id"' in details[5]
    assert 'field "privacy"' in details[6] and "PUBLIC_TO_EVERYONE" in details[6]
    assert len(harness.emulated_posts()) == 1


def test_default_privacy_is_self_only_and_said(harness, clip):
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(clip)}])
    assert (outcome.status, outcome.state) == ("done", "posted")
    assert harness.emulated_posts()[0]["privacy_level"] == "SELF_ONLY"
    assert any("privacy SELF_ONLY" in line for line in harness.lines)


def test_relink_needed_and_a_refused_creator_give_clear_outcomes(harness, clip, remote):
    remote.revoke_user(BO)
    (outcome,) = harness.post([{"user_id": BO, "video_path": str(clip), "privacy": "SELF_ONLY"}])
    assert outcome.status == "relink"  # plain words first, TikTok's code and log_id in a trailing part
    assert outcome.detail.startswith(WORDS["invalid_grant"] + " (code invalid_grant; ")
    assert harness.emulated_posts() == []


def test_the_store_records_publish_id_and_status(harness, clip, store_kind, tmp_path):
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY"}])
    post = harness.posts.get(outcome.post_id)
    assert outcome.label == f"post {post.id}"
    assert (post.state, post.board, post.open) == ("posted", "done", False)
    record = post.record
    assert record.publish_id == outcome.publish_id and record.state == "posted"
    assert record.status == "PUBLISH_COMPLETE" and record.upload_url is None  # nothing left to resume
    assert harness.posts.open_posts(now=harness.tokens.clock()) == []  # later runs never look at it again
    if store_kind == "sqlite":
        assert stat.S_IMODE((tmp_path / "tiktok.db").stat().st_mode) == 0o600  # records can hold upload URLs


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/upload/video/", "/v2/post/publish/status/fetch/"])
def test_429_with_retry_after_is_honoured_and_the_post_completes_once(harness, tmp_path, remote, path):
    video = padded_video(tmp_path / "v.mp4", 20_000_000)
    remote.inject_fault(path, status=429, error="rate_limit_exceeded", retry_after=42, times=1)
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(video), "privacy": "SELF_ONLY"}])
    assert (outcome.status, outcome.state) == ("done", "posted"), outcome
    assert 42 in harness.time.slept
    (post,) = harness.emulated_posts()
    assert post["sha256"] == sha256_file(video)


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(daily_post_cap=1)])
def test_daily_cap_sent_with_http_200_stops_before_any_init(harness, clip):
    outcomes = harness.post([{"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY"},
                             {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "2"}])
    assert [o.status for o in outcomes] == ["done", "try_later"]
    assert outcomes[1].error_code == "spam_risk_too_many_posts"  # creator_info answered HTTP 200 with this code
    assert len(harness.emulated_posts()) == 1


def test_a_broken_file_is_refused_before_any_call_to_tiktok(harness, tmp_path, caplog):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 5000)  # looks like an MP4, is not a video
    caplog.set_level("INFO", logger="werkzeug")
    caplog.clear()
    (outcome,) = harness.post([{"user_id": ADA, "video_path": str(broken), "privacy": "SELF_ONLY"}])
    assert outcome.status == "bad_input" and "broken.mp4" in outcome.detail
    assert not [r for r in caplog.records if "/v2/" in r.getMessage()], "an API call was made for a broken file"
