"""The emulator's own reading of a received video, written apart from the client's on purpose.

If both sides shared one probe, a client bug in telling MP4 from MOV, or in working out a frame rate, would be
accepted by both and no test would notice. So this module reads the container's identity from the bytes
themselves (the ISO ``ftyp`` box's major brand, the EBML header's DocType) and takes the frame rate from the
stream's average rate, falling back to the spacing of the first packets' timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

HEAD_BYTES = 4096          # the ftyp box and the EBML header both sit at the very start of the file
FPS_SAMPLE_PACKETS = 48    # packets read to estimate a frame rate when the stream does not state one
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
EBML_DOCTYPE_ID = b"\x42\x82"


class NotAVideo(Exception):
    """The bytes are not a video FFmpeg can open, or hold no video stream."""


@dataclass(frozen=True)
class Probed:
    container: str        # "mp4", "mov", "webm", or another name TikTok does not take
    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None


def iso_major_brand(head: bytes) -> str | None:
    """The major brand of an ISO base-media file ('isom', 'qt  ', '3gp4', ...), or None without an ftyp box."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    return head[8:12].decode("latin-1")


def read_vint(data: bytes, at: int) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``at``: (value, bytes used), or None when cut off or invalid."""
    if at >= len(data) or data[at] == 0:
        return None
    first = data[at]
    width = 8 - first.bit_length() + 1
    if at + width > len(data):
        return None
    value = first & ((1 << (8 - width)) - 1)
    for byte in data[at + 1:at + width]:
        value = (value << 8) | byte
    return value, width


def ebml_doctype(head: bytes) -> str | None:
    """The DocType of an EBML (Matroska/WebM) header, or None when ``head`` is not one."""
    if not head.startswith(EBML_MAGIC):
        return None
    header_size = read_vint(head, len(EBML_MAGIC))
    if header_size is None:
        return None
    size, used = header_size
    at, end = len(EBML_MAGIC) + used, min(len(head), len(EBML_MAGIC) + used + size)
    while at + 2 < end:  # walk the header's child elements (all have two-byte ids here)
        element_id = head[at:at + 2]
        length = read_vint(head, at + 2)
        if length is None:
            return None
        value_len, len_width = length
        start = at + 2 + len_width
        if element_id == EBML_DOCTYPE_ID:
            return head[start:start + value_len].decode("ascii", "replace")
        at = start + value_len
    return None


def container_of(head: bytes) -> str:
    """What TikTok would call the container, from the file's first bytes alone."""
    brand = iso_major_brand(head)
    if brand is not None:
        if brand == "qt  ":
            return "mov"
        if brand.startswith("3g"):
            return "3gp"
        return "mp4"
    doctype = ebml_doctype(head)
    if doctype is not None:
        return doctype  # "webm" or "matroska"
    return "unknown"


def probe_video(path: str | Path) -> Probed:
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    try:
        with av.open(str(path)) as media:
            if not media.streams.video:
                raise NotAVideo("no video stream")
            stream = media.streams.video[0]
            return Probed(container=container_of(head), codec=stream.codec_context.name,
                          width=stream.codec_context.width, height=stream.codec_context.height,
                          fps=_frame_rate(media, stream), duration_s=_duration(media, stream))
    except (av.FFmpegError, OSError) as bad:
        raise NotAVideo(str(bad)) from None


def _frame_rate(media, stream) -> float | None:
    if stream.average_rate:
        return float(stream.average_rate)
    stamps = []
    for packet in media.demux(stream):
        if packet.pts is not None:
            stamps.append(packet.pts)
        if len(stamps) >= FPS_SAMPLE_PACKETS:
            break
    return fps_from_timestamps(sorted(stamps), stream.time_base)


def fps_from_timestamps(stamps: list[int], time_base) -> float | None:
    """Frames per second from sorted presentation timestamps; None with fewer than two distinct ones."""
    if len(stamps) < 2 or time_base is None or stamps[-1] == stamps[0]:
        return None
    return (len(stamps) - 1) / float((stamps[-1] - stamps[0]) * time_base)


def _duration(media, stream) -> float | None:
    if media.duration is not None:
        return media.duration / 1_000_000  # container durations are in AV_TIME_BASE units (microseconds)
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None
