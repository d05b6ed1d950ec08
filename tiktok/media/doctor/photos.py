"""Read an image's format and size, and write it anew as a JPEG of a given size, with Pillow (pillow-heif adds
HEIC/HEIF, the format iPhones save photos in).

Sizes are as the photo is shown: a camera's EXIF orientation tag that turns it a quarter is applied, so the JPEG
written looks the way the original did and carries no orientation of its own (nor any other metadata: a camera's
location stays out of the post). Transparency is laid on white (JPEG has none). Only the header is read to learn
the size; a JPEG is decoded straight at a reduced scale when it is shrunk (Pillow's draft mode), so a large photo
is never held at full size longer than it must be.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from tiktok.media.doctor.plan import MAX_PHOTO_BYTES

pillow_heif.register_heif_opener()  # Image.open then reads .heic / .heif files too

JPEG_QUALITIES = (90, 80, 70, 60)  # tried in turn until the file fits TikTok's 20 MB; 90 first: no visible loss
QUARTER_TURNS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_ORIENTATION = 0x0112  # the EXIF tag


@dataclass(frozen=True)
class ImageInfo:
    format: str | None  # Pillow's name: JPEG, PNG, WEBP, HEIF, ...; None when not an image Pillow opens
    width: int
    height: int
    frames: int
    size_bytes: int


def read_image(path: Path) -> ImageInfo:
    """What ``path`` is as an image, from its header; ``format`` None when Pillow cannot open it.
    OSError when the file cannot be read at all."""
    size = path.stat().st_size
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(_ORIENTATION) in QUARTER_TURNS:
                width, height = height, width
            return ImageInfo(image.format, width, height, getattr(image, "n_frames", 1), size)
    except (UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError):
        return ImageInfo(None, 0, 0, 0, size)


def write_jpeg(source: Path, target: Path, width: int, height: int) -> None:
    """``source`` as a JPEG of ``width`` x ``height`` (as shown) at ``target``, under TikTok's 20 MB: written to
    a temp file beside it and renamed into place."""
    with Image.open(source) as image:
        image.draft("RGB", _stored(image, width, height))  # JPEG only: decode at 1/2, 1/4 or 1/8 when enough
        picture = _on_white(ImageOps.exif_transpose(image))
    if picture.size != (width, height):
        picture = picture.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        for quality in JPEG_QUALITIES:
            picture.save(name, "JPEG", quality=quality, optimize=True)
            if os.path.getsize(name) <= MAX_PHOTO_BYTES:
                break
        os.chmod(name, source.stat().st_mode & 0o777)  # readable by whoever could read the original
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)


def _stored(image: Image.Image, width: int, height: int) -> tuple[int, int]:
    """The size as stored: a quarter-turned photo's width and height are the other way round in the file."""
    return (height, width) if image.getexif().get(_ORIENTATION) in QUARTER_TURNS else (width, height)


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")
