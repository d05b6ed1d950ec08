"""What the media doctor would change, decided from what was probed alone: pure, no file is opened here.

A video plan says what to re-encode and why, from a :class:`tiktok.posting.media.MediaInfo`: TikTok's rules are
reference section 5 (containers MP4/WebM/MOV, codecs H.264/H.265/VP8/VP9, 23-60 fps, 360-4096 px a side, at most
4 GB, the API's 10 minutes and the creator's ``max_video_post_duration_sec``), the same numbers
:func:`tiktok.posting.media.check_video` checks. A re-encode always writes H.264 + AAC in MP4 (TikTok's
recommended container and codec); what re-encoding cannot fix (too short, too long, a shape no scaling brings
inside the limits) is listed and nothing is attempted.

A photo plan says how to bring one image inside section 5's photo rules: JPEG or WebP (no PNG), "max 1080p"
(read as the emulator reads it, strictly: the long side at most 1920 px and the short side at most 1080 px), at
most 20 MB (20,000,000 bytes); section 3.4: at most 35 photos a post.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.media import (MAX_DURATION_S, MAX_FPS, MAX_SIDE_PX, MIN_DURATION_S, MIN_FPS, MIN_SIDE_PX,
                                  SUPPORTED_CODECS, SUPPORTED_CONTAINERS, MediaInfo)

TARGET_CONTAINER, TARGET_CODEC = "mp4", "h264"  # reference 5: MP4 and H.264 are the recommended ones
CAPPED_FPS = Fraction(30)  # our choice: a rate outside 23-60 fps (or unknown) becomes 30, which every player takes
# Common rates a measured rate is snapped to when within 0.5 %: 29.97 stays 30000/1001, not 2997/100.
STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(50), Fraction(60000, 1001), Fraction(60))
SNAP_TOLERANCE = 0.005
BITS_PER_PIXEL = 0.1  # our choice: the video bitrate cap per pixel and frame (1080x1920 at 30 fps: 6.2 Mb/s)
MIN_VIDEO_BITRATE = 1_000_000  # bits per second: the cap never goes below this
MAX_VIDEO_BITRATE = 20_000_000  # bits per second: 10 minutes at this rate is 1.5 GB, far under the 4 GB limit
AUDIO_BITRATE = 128_000  # bits per second, AAC
STILL_IMAGE_FORMATS = ("image2", "gif", "apng", "webp")  # FFmpeg demuxers (and *_pipe ones) for pictures
SIZE_BUDGET = 0.9  # a re-encode made to fit the 4 GB limit aims at 90 % of it: the rate cap is not exact

PHOTO_FORMATS = {"JPEG": "JPEG", "WEBP": "WebP"}  # reference 5 (Pillow's format names); PNG is refused
FORMAT_NAMES = {"HEIF": "HEIC", "WEBP": "WebP"}  # Pillow's names as people know them (pillow-heif says HEIF)
MAX_PHOTO_BYTES = 20_000_000  # reference 5: "20 MB" per image, read as 10**6 bytes (the smaller)
MAX_PHOTO_LONG_SIDE_PX, MAX_PHOTO_SHORT_SIDE_PX = 1920, 1080  # reference 5: "max 1080p", read strictly
MAX_PHOTOS = 35  # reference 3.4: photo_images holds up to 35 URLs


@dataclass(frozen=True)
class Change:
    """One thing the doctor changes: ``what`` (container, codec, frame rate, size, bitrate, format), from
    ``before`` to ``after``, and ``why``: the rule it broke (``required``), or why it comes with a fix that other
    changes made necessary."""

    what: str
    before: str
    after: str
    why: str
    required: bool = True

    def __str__(self) -> str:
        return f"{self.what} {self.before} -> {self.after}: {self.why}"


@dataclass(frozen=True)
class VideoPlan:
    """What to do with one video. Nothing to do when ``changes`` is empty; not fixable when ``unfixable`` names
    a problem (then nothing is attempted). Targets are what a re-encode writes."""

    changes: tuple[Change, ...] = ()
    unfixable: tuple[str, ...] = ()
    fps: Fraction = CAPPED_FPS
    width: int = 0
    height: int = 0
    bitrate: int = MAX_VIDEO_BITRATE  # the video bitrate cap, bits per second

    @property
    def fixable(self) -> bool:
        return not self.unfixable

    @property
    def needed(self) -> bool:
        return bool(self.changes) and self.fixable


def plan_video(info: MediaInfo, *, max_duration_s: float | None = None) -> VideoPlan:
    """What re-encoding ``info``'s video must change for TikTok to take it; ``max_duration_s`` is creator_info's
    ``max_video_post_duration_sec`` when known. A video TikTok takes as it is gets no changes."""
    if info.width <= 0 or info.height <= 0:
        return VideoPlan(unfixable=("not a video: FFmpeg finds no picture in it",))
    if info.container in STILL_IMAGE_FORMATS or info.container.endswith("_pipe"):
        return VideoPlan(unfixable=(f"not a video: a still image ({info.container})",))
    unfixable = _length_problems(info.duration_s, max_duration_s)
    width, height, size_problem = fit_sides(info.width, info.height)
    if size_problem:
        unfixable.append(size_problem)
    fps, fps_change = _frame_rate(info.fps)
    bitrate = video_bitrate(width, height, fps, info.duration_s)
    candidates = (_container_change(info), _codec_change(info), fps_change, _size_change(info, width, height),
                  _bitrate_change(info, bitrate))
    changes = tuple(change for change in candidates if change is not None)
    if not any(change.required for change in changes):
        changes = ()  # TikTok takes it as it is: a re-encode would only cost quality and time
    return VideoPlan(changes, tuple(unfixable), fps, width, height, bitrate)


def _length_problems(seconds: float | None, max_duration_s: float | None) -> list[str]:
    """What no re-encode fixes: the doctor never cuts or stretches what was filmed. An unknown duration is left to
    the re-encode (an MP4 states it) and the result is checked again."""
    if seconds is None:
        return []
    limit = min(MAX_DURATION_S, max_duration_s) if max_duration_s else MAX_DURATION_S
    if seconds < MIN_DURATION_S:
        return [f"duration {seconds:.2f} s is under the {MIN_DURATION_S:g} s minimum: make a longer clip"]
    if seconds > limit:
        whose = "this creator's" if limit != MAX_DURATION_S else "the API's"
        return [f"duration {seconds:.2f} s is over {whose} {limit:g} s limit: cut it shorter first"]
    return []


def fit_sides(width: int, height: int) -> tuple[int, int, str | None]:
    """Even sides inside 360-4096 px with the same aspect ratio, scaling up or down as little as needed; a third
    value says why it cannot be done (the ratio is wider than 4096:360)."""
    scale = 1.0
    if max(width, height) > MAX_SIDE_PX:
        scale = MAX_SIDE_PX / max(width, height)
    elif min(width, height) < MIN_SIDE_PX:
        scale = MIN_SIDE_PX / min(width, height)
    if max(width, height) * scale > MAX_SIDE_PX + 0.5 or min(width, height) * scale < MIN_SIDE_PX - 0.5:
        return width, height, (f"picture size {width}x{height} has sides too far apart to fit {MIN_SIDE_PX}-"
                               f"{MAX_SIDE_PX} px each without cropping: crop it first")
    return _even(width * scale), _even(height * scale), None


def _even(pixels: float) -> int:
    """The nearest even number inside the limits (H.264 with 4:2:0 colour needs even sides)."""
    return min(MAX_SIDE_PX, max(MIN_SIDE_PX, 2 * round(pixels / 2)))


def _frame_rate(fps: float | None) -> tuple[Fraction, Change | None]:
    if fps is None:
        return CAPPED_FPS, Change("frame rate", "unknown", _rate_text(CAPPED_FPS), "TikTok needs a known frame "
                                  f"rate of {MIN_FPS}-{MAX_FPS} fps")
    if not MIN_FPS <= fps <= MAX_FPS:
        return CAPPED_FPS, Change("frame rate", f"{fps:g} fps", _rate_text(CAPPED_FPS),
                                  f"TikTok takes {MIN_FPS}-{MAX_FPS} fps")
    return snap_rate(fps), None


def snap_rate(fps: float) -> Fraction:
    """``fps`` as an exact rate: the nearest standard one when within 0.5 %, else the nearest fraction with a
    denominator of at most 1001."""
    nearest = min(STANDARD_RATES, key=lambda rate: abs(fps - rate))
    if abs(fps - nearest) <= nearest * SNAP_TOLERANCE:
        return nearest
    return Fraction(fps).limit_denominator(1001)


def _rate_text(rate: Fraction) -> str:
    return f"{float(rate):.3g} fps"


def _container_change(info: MediaInfo) -> Change | None:
    if info.container == TARGET_CONTAINER:
        return None
    if info.container not in SUPPORTED_CONTAINERS:
        return Change("container", info.container, "mp4", "not a container TikTok takes (MP4, MOV, WebM)")
    return Change("container", info.container, "mp4", "re-encoded as MP4, TikTok's recommended container",
                  required=False)


def _codec_change(info: MediaInfo) -> Change | None:
    if info.video_codec == TARGET_CODEC:
        return None
    if info.video_codec not in SUPPORTED_CODECS:
        return Change("codec", info.video_codec, "h264", "not a codec TikTok takes (H.264, H.265, VP8, VP9)")
    return Change("codec", info.video_codec, "h264", "re-encoded as H.264, TikTok's recommended codec",
                  required=False)


def _size_change(info: MediaInfo, width: int, height: int) -> Change | None:
    if (width, height) == (info.width, info.height):
        return None
    before, after = f"{info.width}x{info.height}", f"{width}x{height}"
    if all(MIN_SIDE_PX <= side <= MAX_SIDE_PX for side in (info.width, info.height)):
        return Change("size", before, after, "odd sides made even for H.264", required=False)
    return Change("size", before, after, f"TikTok takes {MIN_SIDE_PX}-{MAX_SIDE_PX} px a side; scaled, aspect "
                                         "ratio kept")


def video_bitrate(width: int, height: int, fps: Fraction, duration_s: float | None) -> int:
    """The video bitrate cap, bits per second: ``BITS_PER_PIXEL`` of the picture rate within 1-20 Mb/s, and low
    enough that the whole file stays under 90 % of the 4 GB limit."""
    rate = int(min(MAX_VIDEO_BITRATE, max(MIN_VIDEO_BITRATE, width * height * float(fps) * BITS_PER_PIXEL)))
    if duration_s:
        rate = min(rate, int(MAX_VIDEO_BYTES * SIZE_BUDGET * 8 / duration_s) - AUDIO_BITRATE)
    return max(rate, 1)


def _bitrate_change(info: MediaInfo, bitrate: int) -> Change | None:
    if info.size_bytes <= MAX_VIDEO_BYTES:
        return None
    return Change("bitrate", f"{info.size_bytes:,} bytes", f"at most {bitrate / 1e6:.1f} Mb/s",
                  f"TikTok takes files up to {MAX_VIDEO_BYTES:,} bytes")


@dataclass(frozen=True)
class PhotoPlan:
    """What to do with one image: keep it (no ``changes``), write it as JPEG at ``width`` x ``height``, or nothing
    when ``unfixable`` says why."""

    changes: tuple[Change, ...] = ()
    unfixable: str | None = None
    width: int = 0
    height: int = 0

    @property
    def needed(self) -> bool:
        return bool(self.changes) and self.unfixable is None


def plan_photo(image_format: str | None, width: int, height: int, size_bytes: int, *,
               frames: int = 1) -> PhotoPlan:
    """How to bring an image (Pillow's ``format`` name, its size in pixels as shown, its file size) inside
    TikTok's photo rules; ``frames`` over 1 is an animation, of which the first frame is kept. A changed photo is
    always written as JPEG."""
    if image_format is None or width <= 0 or height <= 0:
        return PhotoPlan(unfixable="not an image this tool can read (JPEG, WebP, PNG, HEIC and the other formats "
                                   "Pillow opens)", width=width, height=height)
    new_width, new_height = fit_photo(width, height)
    changes = []
    if image_format not in PHOTO_FORMATS:
        name = FORMAT_NAMES.get(image_format, image_format)
        changes.append(Change("format", name, "JPEG", f"TikTok takes JPEG or WebP photos, not {name}"))
    elif frames > 1:
        changes.append(Change("format", f"animated {PHOTO_FORMATS[image_format]}", "JPEG",
                              "a photo post shows still images: the first frame is kept"))
    if (new_width, new_height) != (width, height):
        changes.append(Change("size", f"{width}x{height}", f"{new_width}x{new_height}",
                              f"TikTok takes photos up to 1080p, {MAX_PHOTO_SHORT_SIDE_PX} px on the short side and "
                              f"{MAX_PHOTO_LONG_SIDE_PX} on the long; aspect ratio kept"))
    if size_bytes > MAX_PHOTO_BYTES:
        changes.append(Change("file size", f"{size_bytes:,} bytes", "a new JPEG",
                              f"TikTok takes photos up to {MAX_PHOTO_BYTES:,} bytes"))
    if changes and image_format == "WEBP" and changes[0].what != "format":
        changes.insert(0, Change("format", "WebP", "JPEG", "a changed photo is written as JPEG", required=False))
    return PhotoPlan(changes=tuple(changes), width=new_width, height=new_height)


def fit_photo(width: int, height: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio whose long side is at most 1920 px and short side at most
    1080 px (rounded down, never under 1 px)."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, MAX_PHOTO_LONG_SIDE_PX / long_side, MAX_PHOTO_SHORT_SIDE_PX / short_side)
    if scale >= 1.0:
        return width, height
    return max(1, math.floor(width * scale + 1e-9)), max(1, math.floor(height * scale + 1e-9))
