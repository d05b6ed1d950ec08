"""The public Python API (``from tiktok import ...``) against the emulator over real loopback HTTP.

Every call goes through ``TikTokClient`` exactly as a caller's script would; only the person's clicks on TikTok's
consent page are made by ``tests.support.flows.consent``, and media for URL pulls come from a loopback host."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import tiktok
from tiktok import (
    AuthError, MediaError, OAuthError, PostNotFinished, PostOptions, PrivacyNotOffered, RateLimited, TikTokClient,
    TokenFile, Tokens, UploadInterrupted,
)
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.emulator.posts import PostingSettings
from tests.emulator.posting_helpers import make_image, start_media_host
from tests.media_fixtures import make_video
from tests.support.flows import consent
from tests.support.posting import padded_video, sha256_file

ADA, BO, CY = (u.open_id for u in default_users())
KEY, SECRET = "emulator-client-key", "emulator-client-secret"
REDIRECT = "http://127.0.0.1:8765/callback/"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(emulator, clock) -> TikTokClient:
    return TikTokClient(KEY, SECRET, REDIRECT, api_base=emulator.url, clock=clock, sleep=clock.sleep)


def log_in(client: TikTokClient, open_id: str = ADA) -> Tokens:
    login = client.start_login()
    answer = consent(login.url, open_id=open_id)
    assert answer.status_code == 302, answer.text[:300]
    return client.finish_login(answer.headers["Location"], login)


@pytest.fixture
def tokens(client) -> Tokens:
    return log_in(client)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=3.5)


def posts(remote) -> list[dict]:
    return remote.state()["posts"]


def test_the_package_lists_and_documents_every_public_name():
    assert "TikTokClient" in tiktok.__all__ and "__version__" in tiktok.__all__
    assert sorted(tiktok.__all__) == sorted({"__version__", *tiktok._EXPORTS}) and len(set(tiktok.__all__)) == len(
        tiktok.__all__)
    for name in tiktok.__all__:
        value = getattr(tiktok, name)
        doc = (value.__doc__ or "").strip()
        assert name == "__version__" or (doc and not doc.startswith(f"{name}(")), f"{name} has no docstring"
    public_methods = [m for m in vars(TikTokClient) if not m.startswith("_")]
    assert len(public_methods) >= 15
    assert all((getattr(TikTokClient, m).__doc__ or "").strip() for m in public_methods)
    with pytest.raises(AttributeError):
        tiktok.no_such_name  # noqa: B018


def test_login_on_loopback_uses_a_hex_s256_challenge_and_keeps_the_lifetimes(client, clock, emulator):
    login = client.start_login()
    query = parse_qs(urlsplit(login.url).query)
    assert login.pkce == "hex" and re.fullmatch(r"[0-9a-f]{64}", query["code_challenge"][0])
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [login.state]
    assert login.code_verifier not in login.url and login.code_verifier not in repr(login)
    tokens = client.finish_login(consent(login.url, open_id=ADA).headers["Location"], login)
    assert tokens.open_id == ADA and "video.publish" in tokens.scopes
    assert tokens.expires_at == clock.now + emulator.config.access_ttl  # from expires_in, counted from the answer
    assert tokens.refresh_expires_at == clock.now + emulator.config.refresh_ttl
    assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)


@pytest.fixture
def web_app_emulator(emulator):
    """The emulator as a web app's registration: an https redirect URI and RFC 7636's base64url PKCE."""
    emulator.reset(EmulatorConfig(redirect_uris=["https://app.example.com/tiktok/callback/"],
                                  pkce_encoding="base64url"))
    return emulator


def test_a_web_redirect_uri_uses_rfc7636_base64url(web_app_emulator, clock):
    client = TikTokClient(KEY, SECRET, "https://app.example.com/tiktok/callback/", api_base=web_app_emulator.url,
                          clock=clock)
    login = client.start_login()
    challenge = parse_qs(urlsplit(login.url).query)["code_challenge"][0]
    assert login.pkce == "base64url" and re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)
    tokens = client.finish_login(consent(login.url, open_id=BO).headers["Location"], login)
    assert tokens.open_id == BO


def test_an_answer_to_another_login_or_a_refusal_is_an_oauth_error(client):
    first, second = client.start_login(), client.start_login()
    to_first = consent(first.url, open_id=ADA).headers["Location"]
    with pytest.raises(OAuthError) as mismatch:
        client.finish_login(to_first, second)
    assert mismatch.value.error == "state_mismatch"
    declined = consent(second.url, decision="deny").headers["Location"]
    with pytest.raises(OAuthError) as refused:
        client.finish_login(declined, second)
    assert refused.value.error == "access_denied"
    assert client.finish_login(to_first, first).open_id == ADA  # the first login is still good


def test_a_refresh_rotates_the_refresh_token_and_the_old_one_dies(client, tokens, clock):
    clock.now += 3600
    fresh = client.refresh(tokens)
    assert fresh.open_id == ADA and fresh.refresh_token != tokens.refresh_token
    assert fresh.access_token != tokens.access_token and fresh.expires_at > tokens.expires_at
    with pytest.raises(OAuthError) as dead:
        client.refresh(tokens)
    assert dead.value.error == "invalid_grant" and dead.value.log_id
    assert client.creator_info(fresh).username


def test_revoke_ends_the_grant(client, tokens):
    client.revoke(tokens)
    with pytest.raises(AuthError) as refused:
        client.creator_info(tokens)
    assert refused.value.code == "access_token_invalid" and refused.value.log_id
    with pytest.raises(OAuthError):
        client.refresh(tokens)


def test_errors_carry_tiktoks_code_and_log_id(client, tokens, remote):
    remote.inject_fault("/v2/post/publish/creator_info/query/", status=429, error="rate_limit_exceeded",
                        retry_after=7)
    with pytest.raises(RateLimited) as limited:
        client.creator_info(tokens)
    error = limited.value
    assert (error.code, error.retry_after, error.transient) == ("rate_limit_exceeded", 7, True) and error.log_id
    assert isinstance(error, tiktok.APIError) and isinstance(error, tiktok.TikTokError)


def test_a_video_file_goes_up_in_chunks_with_progress_and_ends_published(client, tokens, remote, tmp_path, clock):
    video = padded_video(tmp_path / "big.mp4", 70_000_000)
    seen: list[tuple[int, int]] = []
    upload = client.post_video_file(tokens, video, PostOptions(caption="Seventy", tags=("big",),
                                                               privacy="PUBLIC_TO_EVERYONE"),
                                    on_progress=lambda sent, total: seen.append((sent, total)))
    assert upload.complete and not upload.to_inbox
    assert upload.plan is not None and upload.plan.total_chunk_count == 7
    assert seen[-1] == (70_000_000, 70_000_000) and all(t == 70_000_000 for _, t in seen)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)  # never goes back
    statuses: list[str] = []
    final = client.wait_for_post(tokens, upload, on_status=lambda s: statuses.append(s.status))
    assert final.status == "PUBLISH_COMPLETE" and final.post_ids
    assert statuses[0] == "PROCESSING_UPLOAD" and clock.slept == [2.0, 3.0]  # bounded back-off, not a busy loop
    (post,) = posts(remote)
    assert post["sha256"] == sha256_file(video) and post["plan"]["total_chunk_count"] == 7
    assert post["post_info"]["title"] == "Seventy #big"
    assert post["post_info"]["disable_comment"] is True  # off unless asked for (content-sharing guidelines)


def test_an_interrupted_upload_resumes_where_it_stopped(client, tokens, remote, tmp_path):
    video = padded_video(tmp_path / "v.mp4", 70_000_000)
    armed: list[bool] = []

    def cut_after_the_first_chunk(sent: int, total: int) -> None:
        if sent >= 10_000_000 and not armed:
            armed.append(True)
            remote.inject_fault("/upload/video/", status=503, times=100)

    with pytest.raises(UploadInterrupted) as stopped:
        client.post_video_file(tokens, video, chunk_size=10_000_000, on_progress=cut_after_the_first_chunk)
    upload = stopped.value.upload
    assert stopped.value.transient and 1 <= upload.next_chunk < 7 and not upload.complete
    remote.clear_faults()
    done = client.resume_upload(upload, video)
    assert done.complete and client.wait_for_post(tokens, done).status == "PUBLISH_COMPLETE"
    (post,) = posts(remote)
    assert post["sha256"] == sha256_file(video)


def test_a_draft_goes_to_the_inbox(client, tokens, remote, clip):
    upload = client.post_video_file(tokens, clip, to_inbox=True)
    assert client.wait_for_post(tokens, upload).status == "SEND_TO_USER_INBOX"
    (post,) = posts(remote)
    assert post["mode"] == "inbox" and "post_info" not in post or not post.get("post_info")


def test_a_privacy_the_creator_is_not_offered_is_refused_before_any_post(client, remote, clip):
    cy = log_in(client, CY)  # a private account: public posts are not offered
    with pytest.raises(PrivacyNotOffered):
        client.post_video_file(cy, clip, PostOptions(privacy="PUBLIC_TO_EVERYONE"))
    assert posts(remote) == []


def test_a_video_longer_than_the_creator_may_post_is_refused_before_any_post(client, remote, emulator, clip):
    emulator.config.posting[BO] = PostingSettings(max_video_post_duration_sec=3)  # Bo's 60 s needs a long clip
    bo = log_in(client, BO)
    with pytest.raises(MediaError, match="over this creator's 3 s limit") as refused:
        client.post_video_file(bo, clip)
    assert str(refused.value).count(str(clip)) == 1
    assert posts(remote) == []


def test_url_pull_and_photo_posts(client, tokens, remote, emulator, clip, tmp_path):
    images = {f"/photos/{i}.jpg": make_image(tmp_path / f"{i}.jpg", "mjpeg") for i in range(2)}
    host = start_media_host({"/media/clip.mp4": clip, **images})
    try:
        emulator.config.verified_url_prefixes.extend([host.url + "/media/", host.url + "/photos/"])
        pulled = client.post_video_url(tokens, host.url + "/media/clip.mp4", PostOptions(caption="pulled"))
        assert client.wait_for_post(tokens, pulled).status == "PUBLISH_COMPLETE"
        photos = client.post_photos(tokens, [host.url + p for p in images],
                                    PostOptions(caption="two", title="Photos", privacy="SELF_ONLY"), cover_index=1)
        assert client.wait_for_post(tokens, photos).status == "PUBLISH_COMPLETE"
        draft = client.post_photos(tokens, [host.url + p for p in images], to_inbox=True)
        assert client.wait_for_post(tokens, draft).status == "SEND_TO_USER_INBOX"
    finally:
        host.server.shutdown()
    kinds = [(p["kind"], p["source"] if p["kind"] != "photo" else p["mode"]) for p in posts(remote)]
    assert kinds == [("video", "PULL_FROM_URL"), ("photo", "direct"), ("photo", "inbox")]


def test_waiting_gives_up_after_its_timeout_with_the_last_status(client, tokens, clip, emulator, clock):
    emulator.config.processing_polls = 1000
    upload = client.post_video_file(tokens, clip)
    with pytest.raises(PostNotFinished) as late:
        client.wait_for_post(tokens, upload, timeout_s=120)
    assert late.value.last is not None and late.value.last.status == "PROCESSING_UPLOAD" and late.value.transient
    assert clock.slept[:3] == [2.0, 3.0, 4.5] and max(clock.slept) == 15.0  # grew to the cap, no further
    assert sum(clock.slept) <= 120


def test_waiting_rides_out_a_rate_limited_check(client, tokens, clip, remote):
    upload = client.post_video_file(tokens, clip)
    remote.inject_fault("/v2/post/publish/status/fetch/", status=429, error="rate_limit_exceeded", times=2)
    assert client.wait_for_post(tokens, upload).status == "PUBLISH_COMPLETE"


def test_videos_are_listed_page_by_page(client, tokens):
    videos = list(client.videos(tokens))
    assert len(videos) == 25 and len({v.id for v in videos}) == 25  # Ada: more than one 20-video page
    assert [v.create_time for v in videos] == sorted((v.create_time for v in videos), reverse=True)
    assert all(v.share_url and v.view_count is not None for v in videos)
    assert [v.id for v in client.videos(tokens, fields=("title",), limit=3)] == [v.id for v in videos[:3]]


def test_a_token_file_keeps_the_tokens_and_fresh_tokens_refreshes_under_its_lock(client, tokens, tmp_path, clock):
    accounts = TokenFile(tmp_path / "user_tokens.json", clock=clock)
    client.keep(accounts, tokens, username="ada.creates")
    assert client.fresh_tokens(accounts, ADA).access_token == tokens.access_token  # far from expiry: no refresh
    clock.now = tokens.expires_at - 60  # within the ten minutes' leeway
    fresh = client.fresh_tokens(accounts, ADA)
    assert fresh.refresh_token != tokens.refresh_token
    kept = accounts.get(ADA)
    assert kept is not None and kept.refresh_token == fresh.refresh_token and kept.username == "ada.creates"
    assert (tmp_path / "user_tokens.json").stat().st_mode & 0o777 == 0o600


def test_any_keeper_gets_the_rotated_tokens(client, tokens, clock):
    class Memory:
        def __init__(self) -> None:
            self.accounts: dict = {}

        def get(self, open_id):
            return self.accounts.get(open_id)

        def put(self, account) -> None:
            self.accounts[account.open_id] = account

    keeper = Memory()
    client.keep(keeper, tokens)
    clock.now = tokens.expires_at + 1
    fresh = client.fresh_tokens(keeper, ADA)
    assert keeper.accounts[ADA].refresh_token == fresh.refresh_token != tokens.refresh_token


def test_timeouts_and_the_session_are_the_callers(emulator, clock, remote):
    session = requests.Session()
    session.headers["X-Caller"] = "mine"
    client = TikTokClient(KEY, SECRET, REDIRECT, api_base=emulator.url, session=session, timeout=(1.0, 0.2),
                          clock=clock)
    tokens = log_in(client)
    remote.inject_fault("/v2/post/publish/creator_info/query/", delay=1.0)
    with pytest.raises(tiktok.TransportError):
        client.creator_info(tokens)  # the 0.2 s read timeout, not the default 30 s


def test_secrets_stay_out_of_reprs(client, tokens):
    assert SECRET not in repr(client) and "***" in repr(client)
    with pytest.raises(ValueError, match="client_key and client_secret"):
        TikTokClient("", "", REDIRECT)
