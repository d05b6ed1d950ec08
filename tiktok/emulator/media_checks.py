"""Is the received file a video (or photo) TikTok would take? Reference section 5, checked with PyAV.

Each check answers the ``fail_reason`` a post ends with (None when the media passes) plus what was probed.
Video order: container, codec (both ``file_format_check_failed``), frame rate, picture size, duration.
Choices: no minimum video duration is enforced (TikTok documents none; third parties say 3 s), but the duration
must be known. Photos: "max 1080p" is read strictly as the long side <= 1920 px and the short side <= 1080 px;
"20 MB" as 20,000,000 bytes; the format comes from the file's magic bytes (JPEG or WebP; PNG is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from .media_probe import NotAVideo, probe_video

VIDEO_CONTAINERS = ("mp4", "mov", "webm")          # reference 5: MP4, WebM, MOV
VIDEO_CODECS = ("h264", "hevc", "vp8", "vp9")       # reference 5, FFmpeg decoder names
MIN_FPS, MAX_FPS = 23, 60                          # frames per second, reference 5
MIN_SIDE_PX, MAX_SIDE_PX = 360, 4096               # pixels, width and height, reference 5
API_MAX_DURATION_S = 600                           # seconds: the API's 10-minute maximum, reference 5
MAX_PHOTO_BYTES = 20_000_000                       # "20 MB" per image, read as 10**6 (stricter)
MAX_PHOTO_LONG_SIDE_PX, MAX_PHOTO_SHORT_SIDE_PX = 1920, 1080  # "max 1080p", strict reading

FORMAT_FAILED = "file_format_check_failed"
DURATION_FAILED = "duration_check_failed"
FRAME_RATE_FAILED = "frame_rate_check_failed"
PICTURE_SIZE_FAILED = "picture_size_check_failed"


@dataclass(frozen=True)
class Verdict:
    """A media check's outcome: ``fail_reason`` None means it passes."""

    fail_reason: str | None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None


def check_video(path: str | Path, max_duration_s: float) -> Verdict:
    """Check the received video at ``path`` against reference 5 and the creator's maximum duration."""
    try:
        info = probe_video(path)
    except NotAVideo:
        return Verdict(FORMAT_FAILED)
    probed = {"duration_s": info.duration_s, "width": info.width, "height": info.height}
    if info.container not in VIDEO_CONTAINERS or info.codec not in VIDEO_CODECS:
        return Verdict(FORMAT_FAILED, **probed)
    if info.fps is None or not MIN_FPS <= info.fps <= MAX_FPS:
        return Verdict(FRAME_RATE_FAILED, **probed)
    if not (MIN_SIDE_PX <= info.width <= MAX_SIDE_PX and MIN_SIDE_PX <= info.height <= MAX_SIDE_PX):
        return Verdict(PICTURE_SIZE_FAILED, **probed)
    limit = min(max_duration_s, API_MAX_DURATION_S)
    if info.duration_s is None or not 0 < info.duration_s <= limit:
        return Verdict(DURATION_FAILED, **probed)
    return Verdict(None, **probed)


def photo_format(header: bytes) -> str | None:
    """"jpeg" or "webp" from a file's first bytes, else None."""
    if header.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "webp"
    return None


def check_photo(path: str | Path) -> Verdict:
    """Check one received image: JPEG or WebP, at most 20 MB and 1080p."""
    path = Path(path)
    if path.stat().st_size > MAX_PHOTO_BYTES:
        return Verdict(PICTURE_SIZE_FAILED)
    with path.open("rb") as handle:
        if photo_format(handle.read(16)) is None:
            return Verdict(FORMAT_FAILED)
    try:
        with av.open(str(path)) as container:
            width, height = (container.streams.video[0].codec_context.width,
                             container.streams.video[0].codec_context.height)
    except (av.FFmpegError, IndexError):
        return Verdict(FORMAT_FAILED)
    if not width or not height:
        return Verdict(FORMAT_FAILED)
    if max(width, height) > MAX_PHOTO_LONG_SIDE_PX or min(width, height) > MAX_PHOTO_SHORT_SIDE_PX:
        return Verdict(PICTURE_SIZE_FAILED, width=width, height=height)
    return Verdict(None, width=width, height=height)
