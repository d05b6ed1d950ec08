"""What a video object's URLs point at: share pages, the embed player, generated mp4 media and cover JPEGs.

Seeded videos get a real clip generated with PyAV on first request (flat colour and a sine tone, both derived from
the video id, so two videos never download the same bytes) and cached in a temporary folder that lives as long as
the emulator app; posted videos are served from the file the upload produced. Share pages carry ``og:video`` and a
``<video src>`` so yt-dlp's generic extractor downloads the clip over loopback, and, like TikTok's web pages, the
video as JSON in ``<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">`` (``webapp.video-detail`` ->
``itemInfo.itemStruct``), the part yt-dlp's TikTok extractor reads. A captioned video lists its auto-generated
captions there in ``video.subtitleInfos`` (``LanguageCodeName``, ``Url``, ``Format: webvtt``, ``Source: ASR``), and the
caption file is served as WebVTT. Cover and caption URLs expire like TikTok's (``x-expires``, six hours after they
were handed out) and then answer 403.
"""

from __future__ import annotations

import array
import json
import math
import mimetypes
import os
import tempfile
import threading
from fractions import Fraction
from html import escape
from pathlib import Path
from urllib.parse import quote, urlencode

import av
from flask import Blueprint, Response, abort, current_app, request, send_file

from .catalogue import CAPTION_LANGUAGE, CatalogueVideo, caption_cues, emulated_day, find_video, hashed, video_stats
from .envelope import current_state

bp = Blueprint("media_server", __name__)

COVER_TTL_S = 6 * 3600      # video object docs: cover_image_url "TTL 6 hours"
CAPTION_TTL_S = COVER_TTL_S  # EMU: TikTok's caption URLs carry an expiry too; the same six hours as covers
UNIVERSAL_DATA_ID = "__UNIVERSAL_DATA_FOR_REHYDRATION__"  # the script element yt-dlp's TikTok extractor reads
MEDIA_FPS = 24              # media requirements: 23-60 fps
AUDIO_RATE_HZ = 16_000
AUDIO_FRAME_SAMPLES = 1024  # AAC's frame size
COVER_SIZE = (180, 320)     # width, height: a quarter of the 360x640 clip
_CACHE_KEY = "tiktok_emulator_media"
_cache_lock = threading.Lock()


def share_url(base_url: str, username: str, video_id: str, client_key: str) -> str:
    """Like TikTok's ``https://www.tiktok.com/@user/video/<id>?utm_campaign=tt4d_open_api&utm_source=<key>``."""
    query = urlencode({"utm_campaign": "tt4d_open_api", "utm_source": client_key})
    return f"{base_url}/@{quote(username)}/video/{video_id}?{query}"


def media_url(base_url: str, video_id: str) -> str:
    return f"{base_url}/_emulator/media/{video_id}.mp4"


def cover_url(base_url: str, video_id: str, expires_s: int) -> str:
    return f"{base_url}/_emulator/cover/{video_id}.jpg?x-expires={expires_s}"


def caption_url(base_url: str, video_id: str, expires_s: int) -> str:
    return f"{base_url}/_emulator/captions/{video_id}.vtt?x-expires={expires_s}"


def embed_link(base_url: str, video_id: str) -> str:
    return f"{base_url}/player/v1/{video_id}"


def clip_colour(video_id: str) -> tuple[int, int, int]:
    """The flat Y, U, V values of a video's frames."""
    return hashed(video_id, "y", 60, 200), hashed(video_id, "u", 40, 216), hashed(video_id, "v", 40, 216)


def tone_hz(video_id: str) -> int:
    return hashed(video_id, "tone", 220, 880)


def write_clip(path: Path, video: CatalogueVideo) -> None:
    """An H.264/AAC mp4 of ``video``'s duration and size: its colour with a brightening ramp, and its tone."""
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=MEDIA_FPS)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        sound = output.add_stream("aac", rate=AUDIO_RATE_HZ, layout="mono")
        luma, u, v = clip_colour(video.id)
        for index in range(max(1, video.duration) * MEDIA_FPS):
            frame = av.VideoFrame(video.width, video.height, "yuv420p")
            for plane, value in zip(frame.planes, ((luma + index) % 256, u, v)):
                plane.update(bytes([value]) * plane.buffer_size)
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        _write_tone(output, sound, tone_hz(video.id), max(1, video.duration) * AUDIO_RATE_HZ)
        output.mux(sound.encode(None))


def _write_tone(output: av.container.OutputContainer, stream: av.audio.stream.AudioStream, frequency: int,
                samples: int) -> None:
    step = 2 * math.pi * frequency / AUDIO_RATE_HZ
    for start in range(0, samples, AUDIO_FRAME_SAMPLES):
        count = min(AUDIO_FRAME_SAMPLES, samples - start)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
        frame.sample_rate, frame.pts = AUDIO_RATE_HZ, start
        wave = array.array("f", (0.3 * math.sin(step * (start + k)) for k in range(count))).tobytes()
        frame.planes[0].update(wave.ljust(frame.planes[0].buffer_size, b"\0"))
        output.mux(stream.encode(frame))


def cover_jpeg(video_id: str) -> bytes:
    """A small JPEG in the video's colour."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = COVER_SIZE
    codec.pix_fmt, codec.time_base = "yuvj420p", Fraction(1, 1)
    frame = av.VideoFrame(*COVER_SIZE, "yuvj420p")
    for plane, value in zip(frame.planes, clip_colour(video_id)):
        plane.update(bytes([value]) * plane.buffer_size)
    return b"".join(bytes(packet) for packet in codec.encode(frame) + codec.encode(None))


class MediaCache:
    """Generated clips on disk and covers in memory, made once per video id."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="tiktok-emulator-media-")
        self._lock = threading.Lock()  # one generation at a time: parallel downloads of one id must not race
        self._covers: dict[str, bytes] = {}

    def clip(self, video: CatalogueVideo) -> Path:
        path = Path(self._folder.name) / f"{video.id}-{video.duration}s-{video.width}x{video.height}.mp4"
        with self._lock:
            if not path.exists():
                partial = path.with_suffix(".part")
                write_clip(partial, video)
                os.replace(partial, path)  # a reader never sees half a file
        return path

    def cover(self, video_id: str) -> bytes:
        with self._lock:
            if video_id not in self._covers:
                self._covers[video_id] = cover_jpeg(video_id)
            return self._covers[video_id]


def media_cache() -> MediaCache:
    """This app's cache (kept across state resets: the media depend only on the video)."""
    with _cache_lock:
        if _CACHE_KEY not in current_app.extensions:
            current_app.extensions[_CACHE_KEY] = MediaCache()
        return current_app.extensions[_CACHE_KEY]


def _video_or_404(video_id: str) -> CatalogueVideo:
    video = find_video(current_state(), video_id)
    if video is None:
        abort(404)
    return video


def item_struct(video: CatalogueVideo, username: str, base_url: str, now_s: float) -> dict[str, object]:
    """The video as TikTok's web page embeds it (``itemInfo.itemStruct``): the fields yt-dlp's TikTok extractor
    reads for formats, metadata and subtitles."""
    stats = video_stats(video.id, video.created_day, emulated_day(now_s))
    media, cover = media_url(base_url, video.id), cover_url(base_url, video.id, int(now_s) + COVER_TTL_S)
    details: dict[str, object] = {"id": video.id, "width": video.width, "height": video.height,
                                  "duration": video.duration, "playAddr": media, "cover": cover}
    if video.captions:
        expires = int(now_s) + CAPTION_TTL_S
        vtt = caption_vtt(video, username)
        details["subtitleInfos"] = [{
            "LanguageID": "2", "LanguageCodeName": CAPTION_LANGUAGE, "Url": caption_url(base_url, video.id, expires),
            "UrlExpire": str(expires), "Format": "webvtt", "Version": "1", "Source": "ASR",
            "Size": str(len(vtt.encode()))}]
    return {"id": video.id, "desc": video.description, "createTime": str(video.create_time),
            "author": {"id": video.open_id, "uniqueId": username, "nickname": username}, "video": details,
            "stats": {"playCount": stats.view_count, "diggCount": stats.like_count,
                      "commentCount": stats.comment_count, "shareCount": stats.share_count}}


def universal_data(video: CatalogueVideo, username: str, base_url: str, now_s: float) -> str:
    """The JSON of the page's rehydration script, with ``<`` escaped so no string can close the element."""
    data = {"__DEFAULT_SCOPE__": {"webapp.video-detail": {
        "statusCode": 0, "statusMsg": "", "itemInfo": {"itemStruct": item_struct(video, username, base_url, now_s)}}}}
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def caption_vtt(video: CatalogueVideo, username: str) -> str:
    """The video's captions as WebVTT."""
    def stamp(ms: int) -> str:
        return f"{ms // 3_600_000:02}:{ms // 60_000 % 60:02}:{ms // 1000 % 60:02}.{ms % 1000:03}"
    return "WEBVTT\n\n" + "".join(f"{stamp(start)} --> {stamp(end)}\n{text}\n\n"
                                   for start, end, text in caption_cues(video, username))


def share_page(video: CatalogueVideo, username: str, base_url: str, now_s: float) -> str:
    """An HTML page for one video with the tags yt-dlp's generic extractor looks for and TikTok's embedded JSON."""
    media, cover = media_url(base_url, video.id), cover_url(base_url, video.id, int(now_s) + COVER_TTL_S)
    title = escape(video.title or f"Video {video.id}")
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="og:title" content="{title}">'
            f'<meta property="og:description" content="{escape(video.description)}">'
            f'<meta property="og:video" content="{media}"><meta property="og:video:type" content="video/mp4">'
            f'<meta property="og:video:width" content="{video.width}">'
            f'<meta property="og:video:height" content="{video.height}">'
            f'<meta property="og:image" content="{escape(cover)}"></head><body>'
            f'<p>TikTok emulator - nothing here reaches TikTok</p><h1>@{escape(username)}</h1>'
            f'<video src="{media}" poster="{escape(cover)}" width="{video.width}" height="{video.height}" controls '
            f'playsinline></video><p>{escape(video.description)}</p>'
            f'<script id="{UNIVERSAL_DATA_ID}" type="application/json">'
            f'{universal_data(video, username, base_url, now_s)}</script></body></html>')


@bp.get("/@<username>/video/<video_id>")
def share(username: str, video_id: str):
    state = current_state()
    video = _video_or_404(video_id)
    owner = state.user(video.open_id)
    if owner is None or owner.username != username:
        abort(404)
    return Response(share_page(video, username, request.host_url.rstrip("/"), state.now()), mimetype="text/html")


@bp.get("/player/v1/<video_id>")
def player(video_id: str):
    video = _video_or_404(video_id)
    state = current_state()
    owner = state.user(video.open_id)
    username = owner.username if owner else ""
    return Response(share_page(video, username, request.host_url.rstrip("/"), state.now()), mimetype="text/html")


@bp.get("/_emulator/media/<video_id>.mp4")
def media(video_id: str):
    video = _video_or_404(video_id)
    if video.media_path:
        if not os.path.isfile(video.media_path):
            abort(404)  # the posted file is gone (the emulator's media folder was cleaned)
        mimetype = mimetypes.guess_type(video.media_path)[0] or "video/mp4"
        return send_file(video.media_path, mimetype=mimetype, conditional=True)
    return send_file(media_cache().clip(video), mimetype="video/mp4", conditional=True)


@bp.get("/_emulator/captions/<video_id>.vtt")
def captions(video_id: str):
    video = _video_or_404(video_id)
    owner = current_state().user(video.open_id)
    if not video.captions or owner is None:
        abort(404)
    if not _unexpired(request.args.get("x-expires", "")):
        return Response("caption URL expired; load the video's page again for a fresh one", status=403,
                        mimetype="text/plain")
    return Response(caption_vtt(video, owner.username), mimetype="text/vtt")


def _unexpired(expires: str) -> bool:
    return expires.isdigit() and int(expires) >= current_state().now()


@bp.get("/_emulator/cover/<video_id>.jpg")
def cover(video_id: str):
    video = _video_or_404(video_id)
    if not _unexpired(request.args.get("x-expires", "")):
        return Response("cover URL expired; query the video again for a fresh one", status=403,
                        mimetype="text/plain")
    return Response(media_cache().cover(video.id), mimetype="image/jpeg")
