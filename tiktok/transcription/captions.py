"""A TikTok video's own captions through yt-dlp, tried before paying AssemblyAI for a transcript.

yt-dlp's TikTok extractor reads the captions TikTok lists in the video page's embedded JSON
(``video.subtitleInfos``, or ``video.cla_info.caption_infos``) as subtitles. We ask it for subtitles only
(``skip_download``: the video itself is not fetched), WebVTT preferred, in the language yt-dlp picks by default
(English when offered, else the first listed) unless ``languages`` names others (yt-dlp's ``--sub-langs`` patterns).

In emulator mode the share pages live on the emulator's ``host:port`` rather than www.tiktok.com, so the same
extractor runs under a subclass that only changes where the page is fetched from (:func:`emulator_extractor`);
every other step (page parsing, subtitle selection, the caption download) is yt-dlp's own code.

Trouble here never fails a video: without captions, the caller transcribes, and a page that cannot be loaded fails
there with the download's own plain-words reason.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.extractor.tiktok import TikTokIE

from tiktok.transcription.download import CollectingLogger, classify_url, ydl_options
from tiktok.transcription.subtitles import parse_subtitles, plain_text, render_srt, render_vtt

log = logging.getLogger(__name__)

SOURCE_CAPTIONS = "tiktok-captions"  # TranscriptRecord.source when the text came from TikTok's captions
SUBTITLE_FORMATS = "vtt/srt/best"    # yt-dlp --sub-format: WebVTT first, it is what TikTok's web pages offer


@dataclass(frozen=True)
class Captions:
    """A caption track as the transcript store keeps it."""

    language: str  # as TikTok names it, e.g. "eng-US"
    text: str
    srt: str
    vtt: str


def fetch_captions(url: str, work_dir: str | Path, *, timeout_s: float,
                   trusted_hosts: frozenset[str] | set[str] = frozenset(),
                   languages: list[str] | None = None) -> Captions | None:
    """The video's captions when TikTok offers some with words in them, else None (also when anything failed)."""
    if classify_url(url, trusted_hosts=trusted_hosts) != "tiktok":
        return None  # a media file or a local file has no caption track
    work = Path(work_dir)
    logger = CollectingLogger()
    options = {**ydl_options(work, timeout_s, logger, None), "skip_download": True, "writesubtitles": True,
               "subtitlesformat": SUBTITLE_FORMATS, "allowed_extractors": ["TikTok", "vm.tiktok"],
               "ignore_no_formats_error": True}  # captions are wanted even when no video format is playable
    if languages:
        options["subtitleslangs"] = languages
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            ie_key = _register_emulator_extractor(ydl, url, trusted_hosts)
            info = ydl.extract_info(url, download=True, ie_key=ie_key)
    except yt_dlp.utils.DownloadError as exc:
        log.info("no captions for %s (transcribing instead): %s", url, exc)
        return None
    return _read_captions(info)


def emulator_extractor(host: str) -> type[TikTokIE]:
    """yt-dlp's TikTok extractor for share pages served by the emulator at ``host`` ("127.0.0.1:PORT")."""
    base = f"http://{host}"

    class EmulatedTikTokIE(TikTokIE):
        IE_NAME = "tiktok:emulator"
        _VALID_URL = rf"https?://{re.escape(host)}/@(?P<user_id>[\w.-]+)/video/(?P<id>\d+)"
        _WEBPAGE_HOST = f"{base}/"

        @staticmethod
        def _create_url(user_id: str | None, video_id: str) -> str:
            return f"{base}/@{user_id or '_'}/video/{video_id}"

    return EmulatedTikTokIE


def _register_emulator_extractor(ydl: yt_dlp.YoutubeDL, url: str,
                                 trusted_hosts: frozenset[str] | set[str]) -> str | None:
    """For an emulator URL, add the emulator extractor and return its key (so the generic one never takes it)."""
    if TikTokIE.suitable(url):
        return None
    host = next((h for h in trusted_hosts if emulator_extractor(h).suitable(url)), None)
    if host is None:
        return None
    extractor = emulator_extractor(host)
    ydl.add_info_extractor(extractor())
    return extractor.ie_key()


def _read_captions(info: dict[str, Any] | None) -> Captions | None:
    for language, track in ((info or {}).get("requested_subtitles") or {}).items():
        path = Path(track.get("filepath") or "")
        if not path.is_file():
            continue
        cues = parse_subtitles(path.read_text(encoding="utf-8", errors="replace"))
        if cues:
            return Captions(language=language, text=plain_text(cues), srt=render_srt(cues), vtt=render_vtt(cues))
    return None
