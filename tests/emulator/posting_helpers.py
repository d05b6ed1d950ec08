"""Helpers for the posting tests: a thin HTTP client for the posting endpoints, media files and a media host."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from tests.emulator.emulator_helpers import OAuthWalker
from tests.media_fixtures import make_video
from tiktok.emulator.serving import RunningServer, serve_in_thread

TIMEOUT = 10
ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"      # public account
BO = "0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68"       # public, max 60 s, stitches off
CY = "e51a7d90-2c4b-4b6f-9e03-8a1d5c7f2b49"       # private account
ALL_SCOPES = "user.info.basic,video.publish,video.upload"
BASE = "/v2/post/publish/"


def login(server, open_id: str = ADA, scope: str = ALL_SCOPES) -> str:
    """A fresh access token of ``open_id`` with ``scope``, through the real consent and token flow."""
    return OAuthWalker(server).login(scope=scope, open_id=open_id)["access_token"]


def direct_body(source: dict[str, Any], privacy: str = "SELF_ONLY", **post_info: Any) -> dict[str, Any]:
    return {"post_info": {"privacy_level": privacy, "brand_content_toggle": False, **post_info},
            "source_info": source}


def file_source(video_size: int, chunk_size: int | None = None, count: int | None = None) -> dict[str, Any]:
    chunk = chunk_size if chunk_size is not None else video_size
    return {"source": "FILE_UPLOAD", "video_size": video_size, "chunk_size": chunk,
            "total_chunk_count": count if count is not None else video_size // chunk}


def url_source(url: str) -> dict[str, Any]:
    return {"source": "PULL_FROM_URL", "video_url": url}


@dataclass
class Poster:
    """Calls the posting endpoints of one emulator with one access token."""

    url: str
    token: str = field(repr=False)  # never in a failure message
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    def call(self, endpoint: str, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json; charset=UTF-8"}
        return self.http.post(self.url + BASE + endpoint, json=body, headers=headers, timeout=TIMEOUT, **kwargs)

    def creator_info(self) -> requests.Response:
        return self.call("creator_info/query/")

    def video_init(self, body: dict[str, Any]) -> requests.Response:
        return self.call("video/init/", body)

    def inbox_init(self, body: dict[str, Any]) -> requests.Response:
        return self.call("inbox/video/init/", body)

    def content_init(self, body: dict[str, Any]) -> requests.Response:
        return self.call("content/init/", body)

    def status(self, publish_id: str) -> requests.Response:
        return self.call("status/fetch/", {"publish_id": publish_id})

    def cancel(self, publish_id: str) -> requests.Response:
        return self.call("cancel/", {"publish_id": publish_id})

    def ok_data(self, response: requests.Response) -> dict[str, Any]:
        body = response.json()
        assert response.status_code == 200 and body["error"]["code"] == "ok", body["error"]
        return body["data"]

    def until_terminal(self, publish_id: str, polls: int = 10) -> dict[str, Any]:
        """Fetch status until it leaves the processing states; returns the last ``data``."""
        for _ in range(polls):
            data = self.ok_data(self.status(publish_id))
            if not data["status"].startswith("PROCESSING"):
                return data
        raise AssertionError(f"{publish_id} still {data['status']} after {polls} polls")


def put_chunk(upload_url: str, data: bytes, first: int, total: int, *, mime: str = "video/mp4",
              headers: dict[str, str] | None = None) -> requests.Response:
    """One chunk PUT with correct headers unless ``headers`` overrides them."""
    sent = {"Content-Type": mime, "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}"}
    sent.update(headers or {})
    return requests.put(upload_url, data=data, headers=sent, timeout=TIMEOUT)


def upload_all(upload_url: str, path: Path, chunk_size: int, count: int) -> list[requests.Response]:
    """PUT every chunk of ``path`` per the plan, in order; returns the responses."""
    size = path.stat().st_size
    responses = []
    with path.open("rb") as handle:
        for index in range(count):
            first = index * chunk_size
            length = size - first if index == count - 1 else chunk_size
            responses.append(put_chunk(upload_url, handle.read(length), first, size))
    return responses


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_image(path: Path, codec: str, width: int = 640, height: int = 480) -> Path:
    """A flat image file: codec ``mjpeg`` (JPEG), ``libwebp`` (WebP) or ``png``."""
    import av

    fmt, pix = {"mjpeg": ("image2", "yuvj420p"), "libwebp": ("webp", "yuv420p"), "png": ("image2", "rgb24")}[codec]
    with av.open(str(path), "w", format=fmt) as output:
        stream = output.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, pix
        frame = av.VideoFrame(width, height, "rgb24").reformat(format=pix)
        output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


@dataclass
class MediaHost:
    """A loopback server for PULL_FROM_URL tests: ``files`` by path, ``/redirect/...`` answers 302, ``/slow/...``
    sends one block then waits for ``release``."""

    files: dict[str, Path] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    server: RunningServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path.startswith("/redirect/"):
            response = Response(status=302, headers={"Location": self.url + path.replace("/redirect", "", 1)})
        elif path.startswith("/slow/"):
            response = Response(self._slow(), mimetype="video/mp4")
        elif path in self.files:
            response = Response(self.files[path].read_bytes(), mimetype="application/octet-stream")
        else:
            response = Response(b"not here", status=404)
        return response(environ, start_response)

    def _slow(self):
        yield b"\0" * 65536
        self.release.wait(TIMEOUT)
        yield b"\0" * 65536


def start_media_host(files: dict[str, Path] | None = None) -> MediaHost:
    host = MediaHost(files=dict(files or {}))
    host.server = serve_in_thread(host)
    return host


def base_video(tmp_path_factory, name: str = "base", **options: Any) -> Path:
    """A small real video made once per session per ``name``."""
    folder = tmp_path_factory.getbasetemp() / "posting-videos"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.{options.get('container', 'mp4')}"
    return path if path.exists() else make_video(path, **options)
