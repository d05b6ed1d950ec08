"""PULL_FROM_URL for videos and photos: URL ownership, the emulator's own download, redirects, cancel, photo checks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.emulator.posting_helpers import (
    CY,
    MediaHost,
    Poster,
    direct_body,
    login,
    make_image,
    sha256_file,
    start_media_host,
    url_source,
)
from tests.media_fixtures import make_video, padded_mp4
from tiktok.emulator.pull import url_is_verified


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pull-media")
    clip = make_video(folder / "clip.mp4")
    files = {
        "/media/clip.mp4": clip,
        "/media/big.mp4": padded_mp4(clip, folder / "big.mp4", 3_000_000),
        "/media/photo.jpg": make_image(folder / "photo.jpg", "mjpeg"),
        "/media/photo.webp": make_image(folder / "photo.webp", "libwebp"),
        "/media/photo.png": make_image(folder / "photo.png", "png"),
        "/media/huge.jpg": make_image(folder / "huge.jpg", "mjpeg", 2048, 1080),
        "/elsewhere/clip.mp4": clip,
    }
    media = start_media_host(files)
    yield media
    media.release.set()
    media.server.shutdown()


@pytest.fixture
def server(make_emulator, host, tmp_path):
    host.release.clear()
    return make_emulator(media_dir=str(tmp_path / "media"), processing_polls=0,
                         verified_url_prefixes=[host.url + "/media/", host.url + "/redirect/media/",
                                                host.url + "/slow/"])


@pytest.fixture
def poster(server) -> Poster:
    return Poster(server.url, login(server))


def wait_transfer(server, publish_id: str, timeout: float = 5.0) -> None:
    """Wait (briefly, for the download thread) until the post's bytes are all in or it ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server.state.lock:
            post = server.state.posts[publish_id]
            if post.transfer_done or post.terminal:
                return
        time.sleep(0.005)
    raise AssertionError(f"{publish_id} still downloading")


@pytest.mark.parametrize("url, verified, expected", [
    ("https://cdn.example.com/v.mp4", ["cdn.example.com"], True),
    ("https://video.static.example.com/v.mp4", ["static.example.com"], True),       # subdomain of a domain
    ("https://example.com/v.mp4", ["static.example.com"], False),                   # parent is not covered
    ("https://notstatic.example.com/v.mp4", ["static.example.com"], False),
    ("http://cdn.example.com/v.mp4", ["cdn.example.com"], False),                   # https only
    ("https://example.com/videos/user/123/a.mp4", ["https://example.com/videos/user/"], True),
    ("https://example.com/videos/2023/user/123/a.mp4", ["https://example.com/videos/user/"], False),
    ("https://example.com/videos/userx/a.mp4", ["https://example.com/videos/user/"], False),
    ("https://example.com.evil.net/videos/user/a.mp4", ["https://example.com/videos/user/"], False),
    ("https://1.2.3.4/v.mp4", ["1.2.3.4"], False),                                   # IP hosts never
    ("https://user:pw@cdn.example.com/v.mp4", ["cdn.example.com"], False),
    ("http://127.0.0.1:9000/media/a.mp4", ["http://127.0.0.1:9000/media/"], True),   # testing allowance
    ("http://127.0.0.1:9000/other/a.mp4", ["http://127.0.0.1:9000/media/"], False),
    ("http://127.0.0.1:9000/media/a.mp4", ["127.0.0.1"], False),
    ("http://10.0.0.1:9000/media/a.mp4", ["http://10.0.0.1:9000/media/"], False),
    ("ftp://cdn.example.com/v.mp4", ["cdn.example.com"], False),
])
def test_url_ownership_rules(url, verified, expected):
    assert url_is_verified(url, verified) is expected


@pytest.mark.slow
def test_video_pull_completes_with_matching_sha256(server, host, poster):
    data = poster.ok_data(poster.video_init(direct_body(url_source(host.url + "/media/big.mp4"))))
    assert data["publish_id"].startswith("v_pub_url~v2.") and "upload_url" not in data
    wait_transfer(server, data["publish_id"])
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert done == {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [], "downloaded_bytes": 3_000_000}
    post = server.state.posts[data["publish_id"]]
    assert post.sha256 == sha256_file(host.files["/media/big.mp4"]) == sha256_file(Path(post.media_path))
    assert (post.width, post.height) == (360, 640)


def test_inbox_video_pull_ends_in_the_inbox(server, host, poster):
    data = poster.ok_data(poster.inbox_init({"source_info": url_source(host.url + "/media/clip.mp4")}))
    assert data["publish_id"].startswith("v_inbox_url~v2.")
    wait_transfer(server, data["publish_id"])
    assert poster.ok_data(poster.status(data["publish_id"]))["status"] == "SEND_TO_USER_INBOX"


def test_processing_polls_hold_the_download_state(make_emulator, host, tmp_path):
    server = make_emulator(media_dir=str(tmp_path), processing_polls=2, verified_url_prefixes=[host.url + "/media/"])
    poster = Poster(server.url, login(server))
    data = poster.ok_data(poster.video_init(direct_body(url_source(host.url + "/media/clip.mp4"))))
    wait_transfer(server, data["publish_id"])
    statuses = [poster.ok_data(poster.status(data["publish_id"]))["status"] for _ in range(3)]
    assert statuses == ["PROCESSING_DOWNLOAD", "PROCESSING_DOWNLOAD", "PUBLISH_COMPLETE"]


@pytest.mark.parametrize("path", ["/elsewhere/clip.mp4", "/media"])
def test_unverified_prefix_is_refused_at_init(server, host, poster, path):
    response = poster.video_init(direct_body(url_source(host.url + path)))
    assert response.status_code == 403 and response.json()["error"]["code"] == "url_ownership_unverified"
    assert server.state.posts == {}


@pytest.mark.parametrize("path", ["/redirect/media/clip.mp4", "/media/missing.mp4"])
def test_redirect_or_missing_media_fails_the_pull(server, host, poster, path):
    data = poster.ok_data(poster.video_init(direct_body(url_source(host.url + path))))
    wait_transfer(server, data["publish_id"])
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert (done["status"], done["fail_reason"]) == ("FAILED", "video_pull_failed")


def test_cancel_while_downloading_then_not_cancellable(server, host, poster):
    data = poster.ok_data(poster.video_init(direct_body(url_source(host.url + "/slow/clip.mp4"))))
    deadline = time.monotonic() + 5
    while server.state.posts[data["publish_id"]].bytes_received == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    downloading = poster.ok_data(poster.status(data["publish_id"]))
    assert downloading["status"] == "PROCESSING_DOWNLOAD" and downloading["downloaded_bytes"] > 0
    cancelled = poster.cancel(data["publish_id"])
    assert cancelled.status_code == 200 and cancelled.json()["error"]["code"] == "ok"
    assert "data" not in cancelled.json()
    host.release.set()
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert (done["status"], done["fail_reason"]) == ("FAILED", "publish_cancelled")
    again = poster.cancel(data["publish_id"])
    assert again.status_code == 400 and again.json()["error"]["code"] == "publish_not_cancellable"


# ---- photos ----

def photo_body(host: MediaHost, paths: list[str], mode: str = "DIRECT_POST", cover: int = 0, **post_info) -> dict:
    info = {"title": "Holiday", "description": "Three photos #trip"}
    if mode == "DIRECT_POST":
        info.update(privacy_level="SELF_ONLY", brand_content_toggle=False, brand_organic_toggle=False)
    info.update(post_info)
    return {"media_type": "PHOTO", "post_mode": mode, "post_info": info,
            "source_info": {"source": "PULL_FROM_URL", "photo_images": [host.url + p for p in paths],
                            "photo_cover_index": cover}}


@pytest.mark.parametrize("mode, status", [("DIRECT_POST", "PUBLISH_COMPLETE"), ("MEDIA_UPLOAD", "SEND_TO_USER_INBOX")])
def test_photo_post(server, host, poster, mode, status):
    body = photo_body(host, ["/media/photo.jpg", "/media/photo.webp"], mode, cover=1)
    data = poster.ok_data(poster.content_init(body))
    assert data["publish_id"].startswith("p_pub_url~v2.")
    wait_transfer(server, data["publish_id"])
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert done["status"] == status
    post = server.state.posts[data["publish_id"]]
    assert (post.kind, post.mode) == ("photo", "direct" if mode == "DIRECT_POST" else "inbox")
    assert post.bytes_received == sum(host.files[p].stat().st_size for p in ("/media/photo.jpg", "/media/photo.webp"))


@pytest.mark.parametrize("path, reason", [
    ("/media/photo.png", "file_format_check_failed"),
    ("/media/clip.mp4", "file_format_check_failed"),
    ("/media/huge.jpg", "picture_size_check_failed"),
    ("/redirect/media/photo.jpg", "photo_pull_failed"),
])
def test_photo_failures(server, host, poster, path, reason):
    data = poster.ok_data(poster.content_init(photo_body(host, ["/media/photo.jpg", path])))
    wait_transfer(server, data["publish_id"])
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert (done["status"], done["fail_reason"]) == ("FAILED", reason)


def _set(where: str | None, **values):
    return lambda body: (body[where] if where else body).update(values)


@pytest.mark.parametrize("mode, change, field", [
    ("DIRECT_POST", _set(None, media_type="VIDEO"), "media_type"),
    ("DIRECT_POST", _set(None, post_mode="DIRECT POST"), "post_mode"),
    ("DIRECT_POST", _set("source_info", photo_cover_index=2), "photo_cover_index"),
    ("DIRECT_POST", _set("source_info", photo_images=[]), "photo_images"),
    ("DIRECT_POST", _set("source_info", photo_images=["https://cdn.example.com/a.jpg"] * 36), "photo_images"),
    ("DIRECT_POST", _set("source_info", source="FILE_UPLOAD"), "source_info.source"),
    ("DIRECT_POST", _set("post_info", title="x" * 91), "post_info.title"),
    ("DIRECT_POST", _set("post_info", description="x" * 4001), "post_info.description"),
    ("MEDIA_UPLOAD", _set("post_info", privacy_level="SELF_ONLY"), "post_info.privacy_level"),
])
def test_photo_body_errors_name_the_field(host, poster, mode, change, field):
    body = photo_body(host, ["/media/photo.jpg", "/media/photo.webp"], mode)
    change(body)
    response = poster.content_init(body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_param"
    assert field in response.json()["error"]["message"]


def test_photo_privacy_caps_and_ownership(server, host):
    private = Poster(server.url, login(server, CY))
    mismatch = private.content_init(photo_body(host, ["/media/photo.jpg"], privacy_level="PUBLIC_TO_EVERYONE"))
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (403, "privacy_level_option_mismatch")
    poster = Poster(server.url, login(server))
    foreign = photo_body(host, ["/media/photo.jpg"])
    foreign["source_info"]["photo_images"].append(host.url + "/elsewhere/clip.mp4")
    assert poster.content_init(foreign).json()["error"]["code"] == "url_ownership_unverified"
    direct_only = Poster(server.url, login(server, scope="user.info.basic,video.upload"))
    refused = direct_only.content_init(photo_body(host, ["/media/photo.jpg"]))
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "scope_not_authorized")
    direct_only.ok_data(direct_only.content_init(photo_body(host, ["/media/photo.jpg"], "MEDIA_UPLOAD")))
