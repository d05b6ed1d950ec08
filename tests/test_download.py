"""yt-dlp downloads over loopback: a direct mp4, an HTML page carrying the video, and the ways it fails."""

from __future__ import annotations

import io
import socket

import pytest
from flask import Flask, abort, request, send_file
from yt_dlp.networking.common import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError

from tests.media_fixtures import make_video
from tiktok.transcription.download import (
    AccessDenied,
    DownloadFailed,
    ExtractorOutdated,
    IPBlocked,
    LoginRequired,
    NetworkError,
    UnsupportedURL,
    VideoNotFound,
    classify_url,
    download_video,
    error_from_download,
)
from tiktok.emulator.serving import serve_in_thread

TIMEOUT_S = 5.0
PAGE = """<!doctype html><html><head><title>Morning at the harbour</title>
<meta property="og:video" content="{base}/media/clip.mp4"></head>
<body><video src="/media/clip.mp4"></video></body></html>"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=0.5, width=64, height=112)


@pytest.fixture
def host(clip):
    """A loopback video host; ``hits`` lists the paths it was asked for."""
    app = Flask(__name__)
    hits: list[str] = []

    app.before_request(lambda: hits.append(request.path) and None)
    app.add_url_rule("/media/clip.mp4", "clip", lambda: send_file(clip, mimetype="video/mp4"))
    app.add_url_rule("/@creator/video/7300000000000000001", "page",
                     lambda: PAGE.format(base=request.host_url.rstrip("/")))
    app.add_url_rule("/@creator/video/7300000000000000002", "empty", lambda: "<html><body>no video</body></html>")
    app.add_url_rule("/media/private.mp4", "forbidden", lambda: abort(403))
    app.add_url_rule("/media/broken.mp4", "broken", lambda: abort(500))
    with serve_in_thread(app) as server:
        server.hits = hits
        yield server


@pytest.fixture
def refused_url() -> str:
    with socket.socket() as sock:  # bound then closed: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/media/clip.mp4"


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir()] if folder.exists() else []


def test_a_direct_mp4_url_is_downloaded_with_progress(host, clip, tmp_path):
    seen: list[tuple[int, int | None]] = []
    path = download_video(f"{host.url}/media/clip.mp4", tmp_path / "dl", timeout_s=TIMEOUT_S,
                          progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "dl" / "clip.mp4"
    assert path.read_bytes() == clip.read_bytes()
    assert leftovers(tmp_path / "dl") == ["clip.mp4"]  # the private work folder is gone
    assert seen and seen[-1] == (clip.stat().st_size, clip.stat().st_size)


def test_an_html_page_with_og_video_is_followed_to_the_file(host, clip, tmp_path):
    url = f"{host.url}/@creator/video/7300000000000000001"
    path = download_video(url, tmp_path, timeout_s=TIMEOUT_S, trusted_hosts={f"127.0.0.1:{host.port}"},
                          name="7300000000000000001")
    assert path == tmp_path / "7300000000000000001.mp4"
    assert path.read_bytes() == clip.read_bytes()
    assert "/@creator/video/7300000000000000001" in host.hits and "/media/clip.mp4" in host.hits


def test_a_404_is_video_not_found_and_leaves_nothing(host, tmp_path):
    with pytest.raises(VideoNotFound) as caught:
        download_video(f"{host.url}/media/gone.mp4", tmp_path, timeout_s=TIMEOUT_S)
    assert "HTTP 404" in caught.value.reason
    assert not caught.value.transient
    assert leftovers(tmp_path) == []


def test_a_403_is_access_denied(host, tmp_path):
    with pytest.raises(AccessDenied) as caught:
        download_video(f"{host.url}/media/private.mp4", tmp_path, timeout_s=TIMEOUT_S)
    assert "403" in caught.value.reason and caught.value.transient
    assert leftovers(tmp_path) == []


def test_a_5xx_is_a_transient_network_error(host, tmp_path):
    with pytest.raises(NetworkError) as caught:
        download_video(f"{host.url}/media/broken.mp4", tmp_path, timeout_s=TIMEOUT_S)
    assert "HTTP 500" in caught.value.reason and caught.value.transient


def test_a_refused_port_is_a_transient_network_error(refused_url, tmp_path):
    with pytest.raises(NetworkError) as caught:
        download_video(refused_url, tmp_path, timeout_s=TIMEOUT_S)
    assert "could not be reached" in caught.value.reason
    assert caught.value.transient
    assert refused_url in str(caught.value)
    assert leftovers(tmp_path) == []


def test_a_page_without_a_video_says_so(host, tmp_path):
    url = f"{host.url}/@creator/video/7300000000000000002"
    with pytest.raises(UnsupportedURL, match="no video was found"):
        download_video(url, tmp_path, timeout_s=TIMEOUT_S, trusted_hosts={f"127.0.0.1:{host.port}"})
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/clip.mp4", "https://example.com/about.html",
                                 "file:///etc/passwd"])
def test_bad_input_is_refused_before_any_request(host, tmp_path, url):
    with pytest.raises(UnsupportedURL):
        download_video(url, tmp_path / "dl", timeout_s=TIMEOUT_S)
    assert host.hits == []
    assert not (tmp_path / "dl").exists()


def test_an_untrusted_page_url_is_refused_before_any_request(host, tmp_path):
    with pytest.raises(UnsupportedURL):
        download_video(f"{host.url}/@creator/video/7300000000000000001", tmp_path, timeout_s=TIMEOUT_S)
    assert host.hits == []


@pytest.mark.parametrize("url, expected", [
    ("https://www.tiktok.com/@scout2015/video/6718335390845095173", "tiktok"),
    ("https://www.tiktok.com/@user.name-1/video/7300000000000000001?is_from_webapp=1", "tiktok"),
    ("https://www.tiktok.com/embed/6718335390845095173", "tiktok"),
    ("https://vm.tiktok.com/ZMe1abcd/", "tiktok"),
    ("https://vt.tiktok.com/ZS8abcdef/", "tiktok"),
    ("https://www.tiktok.com/t/ZT8abcdef/", "tiktok"),
    ("https://www.tiktok.com/@scout2015", "unknown"),  # a profile, not a video
    ("https://www.tiktok.com/tag/cats", "unknown"),
    ("https://cdn.example.com/videos/clip.MP4", "media"),
    ("http://127.0.0.1:8000/files/talk.m4a?sig=abc", "media"),
    ("https://example.com/watch?v=clip.mp4", "unknown"),  # the extension must be on the path
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "unknown"),
    ("ftp://example.com/clip.mp4", "unknown"),
    ("/home/me/clip.mp4", "unknown"),
    ("", "unknown"),
])
def test_classify_url(url, expected):
    assert classify_url(url) == expected


def test_classify_url_trusts_named_hosts_as_tiktok():
    url = "http://127.0.0.1:5555/@creator/video/1"
    assert classify_url(url) == "unknown"
    assert classify_url(url, trusted_hosts={"127.0.0.1:5555"}) == "tiktok"
    assert classify_url(url, trusted_hosts={"127.0.0.1:5556"}) == "unknown"


URL = "https://www.tiktok.com/@u/video/1"


@pytest.mark.parametrize("message, cause, expected, words", [
    ("ERROR: [TikTok] 1: Your IP address is blocked from accessing this post", None, IPBlocked, "IP address"),
    ("ERROR: [TikTok] 1: You do not have permission to view this post. Log into an account that has access. "
     "Use --cookies-from-browser or --cookies for the authentication.", None, LoginRequired, "private"),
    ("ERROR: [TikTok] 1: TikTok is requiring login for access to this content", None, LoginRequired, "logged-in"),
    ("ERROR: [TikTok] 1: This post may not be comfortable for some audiences. Log in for access", None,
     LoginRequired, "age-restricted"),
    ("ERROR: [TikTok] 1: Unable to extract webpage video data; please report this issue", None, ExtractorOutdated,
     "upgrade yt-dlp"),
    ("ERROR: [TikTok] 1: Unexpected response from webpage request", None, ExtractorOutdated, "upgrade yt-dlp"),
    ("ERROR: [TikTok] 1: Unable to extract universal data for rehydration", None, ExtractorOutdated, "upgrade"),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", None, AccessDenied, "403"),
    ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found", None, VideoNotFound, "404"),
    ("ERROR: [generic] x: Unable to download webpage: [Errno 111] Connection refused",
     TransportError("refused"), NetworkError, "could not be reached"),
    ("ERROR: [generic] x: Read timed out.", None, NetworkError, "timed out"),
    ("ERROR: Unsupported URL: https://example.com/", None, UnsupportedURL, "no video"),
    ("ERROR: something new and strange", None, DownloadFailed, "something new and strange"),
    ("ERROR: weird", TransportError("weird"), NetworkError, "could not be reached"),
])
def test_download_errors_map_to_plain_reasons(message, cause, expected, words):
    error = error_from_download(URL, message, cause)
    assert type(error) is expected
    assert words in error.reason
    assert error.url == URL and not error.reason.startswith("ERROR")
    assert error.detail and not error.detail.startswith("ERROR:")


def test_an_http_error_cause_decides_by_its_status():
    cause = HTTPError(Response(io.BytesIO(b""), URL, {}, status=410, reason="Gone"))
    error = error_from_download(URL, "ERROR: [generic] x: Unable to download webpage", cause)
    assert type(error) is VideoNotFound and "HTTP 410" in error.reason
