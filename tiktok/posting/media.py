"""Check a local video against TikTok's media requirements (reference section 5) before any API call.

``probe`` reads only the container header and the first packets (through PyAV's bundled FFmpeg), never the
whole file; ``check_video`` is pure and lists every limit the video breaks.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import av

from tiktok.posting.chunks import MAX_VIDEO_BYTES
from tiktok.errors import FileProblem

SUPPORTED_CONTAINERS = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}  # ref 4.2 and 5
SUPPORTED_CODECS = {"h264": "H.264", "hevc": "H.265", "vp8": "VP8", "vp9": "VP9"}  # FFmpeg names; ref 5
MIN_FPS = 23  # frames per second, reference 5
MAX_FPS = 60  # frames per second, reference 5
MIN_SIDE_PX = 360  # pixels, each of width and height, reference 5
MAX_SIDE_PX = 4096  # pixels, each of width and height, reference 5
MIN_DURATION_S = 3.0  # seconds; UNCONFIRMED: TikTok documents no minimum, third parties report 3 s
MAX_DURATION_S = 600.0  # seconds; the API maximum (10 min), reference 5
_HEADER_BYTES = 64  # enough to hold an EBML header's DocType


class MediaError(FileProblem):
    """The file cannot be inspected as a video at all (names the file)."""


@dataclass(frozen=True)
class MediaInfo:
    """What probe found; ``container`` is mp4, mov or webm when supported, else FFmpeg's own format name."""

    container: str
    video_codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    size_bytes: int
    has_audio: bool
    path: str = ""


def probe(path: str | Path) -> MediaInfo:
    """Inspect the video at ``path``; MediaError when it is missing, unreadable or not a video."""
    path = Path(path)
    size = _regular_file_size(path)
    try:
        with av.open(str(path), mode="r") as container:
            return _describe(path, size, container)
    except av.FFmpegError as bad:
        raise MediaError(path, f"not a video FFmpeg can read ({bad.strerror or type(bad).__name__})") from None
    except OSError as bad:
        raise MediaError(path, f"cannot read: {bad.strerror}") from None


def _regular_file_size(path: Path) -> int:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except OSError as bad:
        raise MediaError(path, f"cannot read: {bad.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise MediaError(path, "not a regular file")
    if info.st_size == 0:
        raise MediaError(path, "empty file, not a video")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "cannot read: permission denied")
    return info.st_size


def _describe(path: Path, size: int, container: av.container.InputContainer) -> MediaInfo:
    if not container.streams.video:
        raise MediaError(path, f"not a video: no video stream in this {container.format.name} file")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return MediaInfo(
        container=_container_name(path, container),
        video_codec=stream.codec_context.name,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        fps=float(rate) if rate else None,
        duration_s=_duration_s(container, stream),
        size_bytes=size,
        has_audio=bool(container.streams.audio),
        path=str(path),
    )


def _duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _container_name(path: Path, container: av.container.InputContainer) -> str:
    # FFmpeg reports one demuxer for MP4 and MOV, and one for WebM and Matroska; the brand and DocType tell apart.
    name = container.format.name
    if name.startswith("mov,mp4"):
        brand = container.metadata.get("major_brand", "").strip()
        return "mov" if brand == "qt" else "3gp" if brand.startswith("3g") else "mp4"
    if name.startswith("matroska"):
        with path.open("rb") as handle:
            return _ebml_doctype(handle.read(_HEADER_BYTES)) or "matroska"
    return name


def _ebml_doctype(header: bytes) -> str | None:
    """The DocType string ("webm" or "matroska") of an EBML header, or None."""
    at = header.find(b"\x42\x82")  # DocType element id
    if at < 0 or at + 2 >= len(header) or not header[at + 2] & 0x80:
        return None  # missing, or a size longer than one byte, which no real DocType needs
    length = header[at + 2] & 0x7F
    return header[at + 3:at + 3 + length].decode("ascii", "replace") or None


def check_video(info: MediaInfo, *, max_duration_s: float | None = None) -> list[str]:
    """Every TikTok video requirement ``info`` breaks; ``max_duration_s`` is creator_info's
    ``max_video_post_duration_sec`` when known."""
    where = f"{info.path}: " if info.path else ""
    problems = _format_problems(info) + _picture_problems(info) + _length_problems(info, max_duration_s)
    return [where + problem for problem in problems]


def _format_problems(info: MediaInfo) -> list[str]:
    problems = []
    if info.container not in SUPPORTED_CONTAINERS:
        problems.append(f"container {info.container!r} is not supported (use MP4, MOV or WebM)")
    if info.video_codec not in SUPPORTED_CODECS:
        problems.append(f"video codec {info.video_codec!r} is not supported (use H.264, H.265, VP8 or VP9)")
    if info.size_bytes > MAX_VIDEO_BYTES:
        problems.append(f"file is {info.size_bytes} bytes, over the 4 GB limit ({MAX_VIDEO_BYTES} bytes)")
    return problems


def _picture_problems(info: MediaInfo) -> list[str]:
    problems = []
    if info.fps is None:
        problems.append("frame rate unknown")
    elif not MIN_FPS <= info.fps <= MAX_FPS:
        problems.append(f"frame rate {info.fps:g} fps is outside {MIN_FPS}-{MAX_FPS} fps")
    for side, pixels in (("width", info.width), ("height", info.height)):
        if not MIN_SIDE_PX <= pixels <= MAX_SIDE_PX:
            problems.append(f"{side} {pixels} px is outside {MIN_SIDE_PX}-{MAX_SIDE_PX} px")
    return problems


def _length_problems(info: MediaInfo, max_duration_s: float | None) -> list[str]:
    seconds = info.duration_s
    if seconds is None:
        return ["duration unknown"]
    problems = []
    if seconds < MIN_DURATION_S:
        problems.append(f"duration {seconds:.2f} s is under the {MIN_DURATION_S:g} s minimum")
    if seconds > MAX_DURATION_S:
        problems.append(f"duration {seconds:.2f} s is over the API's {MAX_DURATION_S:g} s maximum")
    if max_duration_s is not None and seconds > max_duration_s:
        problems.append(f"duration {seconds:.2f} s is over this creator's {max_duration_s:g} s limit "
                        "(max_video_post_duration_sec)")
    return problems


def mime_type(info: MediaInfo) -> str:
    """The Content-Type for the chunk PUTs; MediaError when the container is not one TikTok takes."""
    try:
        return SUPPORTED_CONTAINERS[info.container]
    except KeyError:
        raise MediaError(info.path, f"container {info.container!r} has no TikTok upload MIME type") from None
