"""A TikTok video's own captions through yt-dlp, tried before paying AssemblyAI for a transcript.

yt-dlp's TikTok extractor reads the captions TikTok lists in the video page's embedded JSON
(``video.subtitleInfos``, or ``video.cla_info.caption_infos``) as subtitles. We ask it for subtitles only
(``skip_download``: the video itself is not fetched), WebVTT preferred, in the language yt-dlp picks by default
(English when offered, else the first listed) unless ``languages`` names others (yt-dlp's ``--sub-langs`` patterns).

In emulator mode the share pages live on the emulator's ``host:port`` rather than www.tiktok.com, so the same
extractor runs under a subclass that only changes where the page is fetched from
(:func:`tiktok.transcription.download.emulator_extractor`); every other step (page parsing, subtitle selection, the
caption download) is yt-dlp's own code. The page is read once for the captions and the download
(:class:`~tiktok.transcription.download.VideoPage`).

Trouble here never fails a video: without captions, the caller transcribes, and a page that cannot be loaded fails
there with the download's own plain-words reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiktok.transcription.download import DownloadFailed, VideoPage, classify_url
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
                   languages: list[str] | None = None, page: VideoPage | None = None) -> Captions | None:
    """The video's captions when TikTok offers some with words in them, else None (also when anything failed).
    ``page``: the video's page as the download will use it (:class:`~tiktok.transcription.download.VideoPage`), so
    the page is read once for both; without it the page is read here for the captions alone."""
    if classify_url(url, trusted_hosts=trusted_hosts) != "tiktok":
        return None  # a media file or a local file has no caption track
    own = page is None
    page = page if page is not None else VideoPage(url, timeout_s=timeout_s, trusted_hosts=trusted_hosts)
    options: dict[str, Any] = {"skip_download": True, "writesubtitles": True, "subtitlesformat": SUBTITLE_FORMATS,
                               "ignore_no_formats_error": True}  # captions are wanted even with no playable format
    if languages:
        options["subtitleslangs"] = languages
    try:
        info = page.process(Path(work_dir), **options)
    except DownloadFailed as exc:
        log.info("no captions for %s (transcribing instead): %s", url, exc)
        return None
    finally:
        if own:
            page.close()
    return _read_captions(info)


def _read_captions(info: dict[str, Any] | None) -> Captions | None:
    for language, track in ((info or {}).get("requested_subtitles") or {}).items():
        path = Path(track.get("filepath") or "")
        if not path.is_file():
            continue
        cues = parse_subtitles(path.read_text(encoding="utf-8", errors="replace"))
        if cues:
            return Captions(language=language, text=plain_text(cues), srt=render_srt(cues), vtt=render_vtt(cues))
    return None
