"""Video covers through a small caching proxy: ``/covers/<video_id>``.

TikTok's ``cover_image_url`` expires (the video object docs: "TTL 6 hours") and must not be hot-linked, so the app
fetches each cover itself, with the tool's HTTP session (:func:`tiktok.services.http_session`), keeps the bytes on
disk (``<cache>/tiktok-tool/covers``, bounded) and serves them with cache headers. It never proxies a URL it is
given: only the cover URL a video list gave for that video id (:meth:`CoverCache.remember`), so a request cannot
make the app fetch anything else (no SSRF). Those URLs, with the account each came from, are kept across restarts
in the transcripts folder (:class:`tiktok.transcription.covermap.CoverMap`), so the feed's covers show after a
restart without listing the account again; a kept URL that TikTok answers with a 4xx (expired) is replaced by one
``video/query`` call for that video (reference §6.3), at most once per ``REFRESH_EVERY_S`` per video. Only images
are kept (the Content-Type must say image and the bytes must start like a JPEG, PNG, WebP or GIF), at most
``MAX_COVER_BYTES`` each; anything else, an unreachable host or a video TikTok no longer returns gives a placeholder
SVG that is not cached.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import requests
from flask import Blueprint, Flask, Response, abort, current_app, request

from tiktok.atomic import atomic_write
from tiktok.config import Settings
from tiktok.errors import TikTokError
from tiktok.transcription.covermap import CoverMap, query_cover

log = logging.getLogger(__name__)
bp = Blueprint("covers", __name__)

EXTENSION = "tiktok_covers"
MAX_COVER_BYTES = 2_000_000  # a TikTok cover is a JPEG of tens of kB; anything this big is not a cover
MAX_CACHE_BYTES = 200_000_000  # the folder is trimmed (oldest first) to stay under this
MAX_KNOWN = 50_000  # video ids whose cover URL is remembered in memory (oldest forgotten first)
REFRESH_EVERY_S = 300.0  # an expired cover URL is asked for again (video/query) at most this often per video
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


Refresh = Callable[[str, str], str]  # (open_id, video_id) -> a fresh cover URL, "" when there is none


class CoverCache:
    """The cover URLs the video lists gave (in memory, and in ``kept`` when given) and the covers fetched from them
    (on disk); ``refresh`` asks TikTok for a fresh URL when a kept one has expired."""

    def __init__(self, folder: Path, session: requests.Session, *, max_bytes: int = MAX_CACHE_BYTES,
                 max_cover_bytes: int = MAX_COVER_BYTES, kept: CoverMap | None = None,
                 refresh: Refresh | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = Path(folder)
        self.session = session
        self.max_bytes = max_bytes
        self.max_cover_bytes = max_cover_bytes
        self.kept = kept
        self.refresh = refresh
        self.clock = clock
        self._urls: OrderedDict[str, tuple[str, str]] = OrderedDict()  # video id -> (open_id, url)
        self._refreshed: dict[str, float] = {}  # video id -> when its URL was last asked for again
        self._lock = threading.Lock()

    def remember(self, video_id: str, url: str, open_id: str = "") -> None:
        """Note the cover URL a video list gave for ``video_id`` (the only URL fetched for it)."""
        self.remember_all(open_id, [(video_id, url)])

    def remember_all(self, open_id: str, covers: list[tuple[str, str]]) -> None:
        """Note ``(video_id, cover_url)`` of one listing of ``open_id``'s videos, and keep them (one write)."""
        usable = [(v, u) for v, u in covers if VIDEO_ID.fullmatch(v) and u.startswith(("https://", "http://"))]
        with self._lock:
            for video_id, url in usable:
                self._urls[video_id] = (open_id, url)
                self._urls.move_to_end(video_id)
            while len(self._urls) > MAX_KNOWN:
                self._urls.popitem(last=False)
        if self.kept is not None and open_id and usable:
            self.kept.remember(open_id, usable)

    def known(self, video_id: str) -> bool:
        """True when a video list named this video (now, or before a restart: its URL or its cover was kept)."""
        if not VIDEO_ID.fullmatch(video_id):
            return False
        return self._file(video_id).is_file() or self._source(video_id) is not None

    def get(self, video_id: str) -> tuple[bytes, str] | None:
        """The cover's bytes and type, from disk or fetched now (with a fresh URL if the kept one expired); None
        when it cannot be had."""
        cached = self._read(video_id)
        if cached is not None:
            return cached
        open_id, url = self._source(video_id) or ("", "")
        data, status = self._fetch(video_id, url) if url else (None, None)
        if data is None and status is not None and 400 <= status < 500 and open_id:
            fresh = self._refresh(open_id, video_id)
            data = self._fetch(video_id, fresh)[0] if fresh else None
        if data is None:
            return None
        self._keep(video_id, data)
        return data, image_type(data) or "application/octet-stream"

    def _source(self, video_id: str) -> tuple[str, str] | None:
        with self._lock:
            found = self._urls.get(video_id)
        if found is None and self.kept is not None:
            row = self.kept.get(video_id)
            found = (row.open_id, row.url) if row is not None else None
        return found

    def _refresh(self, open_id: str, video_id: str) -> str:
        """One ``video/query`` for a fresh URL, unless this video's was asked for within ``REFRESH_EVERY_S``."""
        now = self.clock()
        with self._lock:
            if self.refresh is None or now - self._refreshed.get(video_id, -REFRESH_EVERY_S) < REFRESH_EVERY_S:
                return ""
            self._refreshed[video_id] = now
            if len(self._refreshed) > MAX_KNOWN:
                self._refreshed.pop(next(iter(self._refreshed)))
        try:
            url = self.refresh(open_id, video_id)
        except TikTokError as exc:  # a relink, a rate limit: the placeholder, and the reason in the log
            log.info("cover of video %s not refreshed: %s", video_id, type(exc).__name__)
            return ""
        if url:
            self.remember(video_id, url, open_id)
        return url

    def _file(self, video_id: str) -> Path:
        return self.folder / f"{video_id}.cover"

    def _read(self, video_id: str) -> tuple[bytes, str] | None:
        try:
            data = self._file(video_id).read_bytes()
        except OSError:
            return None
        kind = image_type(data)
        return (data, kind) if kind else None

    def _fetch(self, video_id: str, url: str) -> tuple[bytes | None, int | None]:
        """The image at ``url`` and the HTTP status (None: no answer)."""
        try:
            with self.session.get(url, timeout=FETCH_TIMEOUT_S, stream=True) as response:
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if response.status_code != 200 or not kind.startswith("image/"):
                    log.info("cover of video %s not fetched: HTTP %s, %s", video_id, response.status_code,
                             kind or "no Content-Type")
                    return None, response.status_code
                data = b""
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > self.max_cover_bytes:
                        log.info("cover of video %s not kept: larger than %d bytes", video_id, self.max_cover_bytes)
                        return None, response.status_code
        except requests.RequestException as exc:
            log.info("cover of video %s not fetched: %s", video_id, type(exc).__name__)
            return None, None
        if image_type(data) is None:
            log.info("cover of video %s not kept: not a JPEG, PNG, WebP or GIF image", video_id)
            return None, 200
        return data, 200

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
    """Attach ``/covers/`` and its cache (in the user's cache folder, XDG_CACHE_HOME); the URLs are kept in the
    transcripts folder (TRANSCRIPTS_DIR), and an expired one is refreshed with the account's token."""
    from tiktok.services import http_session
    app.extensions[EXTENSION] = CoverCache(settings.app.cache_dir / "tiktok-tool" / "covers", http_session(),
                                           kept=CoverMap(settings.transcription.transcripts_dir),
                                           refresh=_query_cover)
    app.register_blueprint(bp)


def _query_cover(open_id: str, video_id: str) -> str:
    from tiktok.auth.access import call_with_token
    from tiktok.web.views import services

    svc = services()
    return query_cover(svc.api, lambda fn: call_with_token(svc.store, svc.oauth, open_id, fn), video_id)


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
