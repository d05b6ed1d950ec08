"""Video covers through a small caching proxy: ``/covers/<video_id>``.

TikTok's ``cover_image_url`` expires (the video object docs: "TTL 6 hours") and must not be hot-linked, so the app
fetches each cover itself, with the tool's HTTP session (:func:`tiktok.services.http_session`), keeps the bytes on
disk (``<cache>/tiktok-tool/covers``, bounded) and serves them with cache headers. It never proxies a URL it is
given: only the cover URL the video list gave for that video id (:meth:`CoverCache.remember`), so a request cannot
make the app fetch anything else (no SSRF). Only images are kept (the Content-Type must say image and the bytes must
start like a JPEG, PNG, WebP or GIF), at most ``MAX_COVER_BYTES`` each; anything else, an expired URL or an
unreachable host gives a placeholder SVG that is not cached.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import requests
from flask import Blueprint, Flask, Response, abort, current_app, request

from tiktok.atomic import atomic_write
from tiktok.config import Settings

log = logging.getLogger(__name__)
bp = Blueprint("covers", __name__)

EXTENSION = "tiktok_covers"
MAX_COVER_BYTES = 2_000_000  # a TikTok cover is a JPEG of tens of kB; anything this big is not a cover
MAX_CACHE_BYTES = 200_000_000  # the folder is trimmed (oldest first) to stay under this
MAX_KNOWN = 50_000  # video ids whose cover URL is remembered (oldest forgotten first)
FETCH_TIMEOUT_S = 10.0  # connect and each read
MAX_AGE_S = 7 * 86_400  # browsers keep a cover a week: a video's cover does not change
VIDEO_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
         (b"GIF89a", "image/gif"))
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="640" viewBox="0 0 360 640">'
    '<rect width="360" height="640" fill="#d9dce1"/>'
    '<path d="M150 270 L230 320 L150 370 Z" fill="#8a9099"/>'
    '<text x="180" y="430" font-family="sans-serif" font-size="22" fill="#5b616b" text-anchor="middle">'
    'No cover</text></svg>')


def image_type(data: bytes) -> str | None:
    """The image type the bytes start with (JPEG, PNG, GIF, WebP), else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


class CoverCache:
    """The cover URLs the video lists gave (in memory) and the covers fetched from them (on disk)."""

    def __init__(self, folder: Path, session: requests.Session, *, max_bytes: int = MAX_CACHE_BYTES,
                 max_cover_bytes: int = MAX_COVER_BYTES) -> None:
        self.folder = Path(folder)
        self.session = session
        self.max_bytes = max_bytes
        self.max_cover_bytes = max_cover_bytes
        self._urls: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, video_id: str, url: str) -> None:
        """Note the cover URL the video list gave for ``video_id`` (the only URL fetched for it)."""
        if not VIDEO_ID.fullmatch(video_id) or not url.startswith(("https://", "http://")):
            return
        with self._lock:
            self._urls[video_id] = url
            self._urls.move_to_end(video_id)
            while len(self._urls) > MAX_KNOWN:
                self._urls.popitem(last=False)

    def known(self, video_id: str) -> bool:
        """True when a video list named this video (now, or before a restart and its cover was kept)."""
        if not VIDEO_ID.fullmatch(video_id):
            return False
        with self._lock:
            if video_id in self._urls:
                return True
        return self._file(video_id).is_file()

    def get(self, video_id: str) -> tuple[bytes, str] | None:
        """The cover's bytes and type, from disk or fetched now; None when it cannot be had."""
        cached = self._read(video_id)
        if cached is not None:
            return cached
        with self._lock:
            url = self._urls.get(video_id)
        data = self._fetch(video_id, url) if url else None
        if data is None:
            return None
        self._keep(video_id, data)
        return data, image_type(data) or "application/octet-stream"

    def _file(self, video_id: str) -> Path:
        return self.folder / f"{video_id}.cover"

    def _read(self, video_id: str) -> tuple[bytes, str] | None:
        try:
            data = self._file(video_id).read_bytes()
        except OSError:
            return None
        kind = image_type(data)
        return (data, kind) if kind else None

    def _fetch(self, video_id: str, url: str) -> bytes | None:
        try:
            with self.session.get(url, timeout=FETCH_TIMEOUT_S, stream=True) as response:
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if response.status_code != 200 or not kind.startswith("image/"):
                    log.info("cover of video %s not fetched: HTTP %s, %s", video_id, response.status_code,
                             kind or "no Content-Type")
                    return None
                data = b""
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > self.max_cover_bytes:
                        log.info("cover of video %s not kept: larger than %d bytes", video_id, self.max_cover_bytes)
                        return None
        except requests.RequestException as exc:
            log.info("cover of video %s not fetched: %s", video_id, type(exc).__name__)
            return None
        if image_type(data) is None:
            log.info("cover of video %s not kept: not a JPEG, PNG, WebP or GIF image", video_id)
            return None
        return data

    def _keep(self, video_id: str, data: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self._file(video_id), data)
            self._trim()
        except OSError as exc:  # a full or read-only disk: the cover is still served, just not kept
            log.warning("cover of video %s not kept in %s: %s", video_id, self.folder, exc.strerror or exc)

    def _trim(self) -> None:
        """Delete the oldest covers until the folder holds at most ``max_bytes``."""
        files = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(".cover"):
                stat = entry.stat()
                files.append((stat.st_mtime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            total -= size


def register(app: Flask, settings: Settings) -> None:
    """Attach ``/covers/`` and its cache (in the user's cache folder, XDG_CACHE_HOME)."""
    from tiktok.services import http_session
    app.extensions[EXTENSION] = CoverCache(settings.app.cache_dir / "tiktok-tool" / "covers", http_session())
    app.register_blueprint(bp)


def covers() -> CoverCache:
    return current_app.extensions[EXTENSION]


@bp.get("/covers/<video_id>")
def cover(video_id: str):
    cache = covers()
    if not cache.known(video_id):
        abort(404)
    found = cache.get(video_id)
    if found is None:  # expired, unreachable or not an image: a placeholder, asked for again next time
        return Response(PLACEHOLDER_SVG, mimetype="image/svg+xml", headers={"Cache-Control": "no-store",
                                                                            "X-Cover": "placeholder"})
    data, kind = found
    response = Response(data, mimetype=kind, headers={"Cache-Control": f"private, max-age={MAX_AGE_S}",
                                                      "X-Cover": "cached"})
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return response.make_conditional(request)
