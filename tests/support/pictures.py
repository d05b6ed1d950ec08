"""Pictures people choose for a photo post, made with Pillow and pillow-heif: a 4000×3000 PNG, an iPhone-style HEIC and
the 1086×1448 picture of Postiz #1875. Each is a flat colour with a block of another (so two are never the same
bytes and a resize shows), small on disk however many pixels it has."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pillow_heif
from PIL import Image, ImageDraw


def picture(width: int, height: int, colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill=(250, 240, 200))
    return image


def png(path: Path, width: int, height: int, colour: tuple[int, int, int] = (20, 110, 190)) -> Path:
    picture(width, height, colour).save(path, "PNG", optimize=True)
    return path


def jpeg(path: Path, width: int, height: int, colour: tuple[int, int, int] = (200, 80, 40)) -> Path:
    picture(width, height, colour).save(path, "JPEG", quality=85)
    return path


def heic(path: Path, width: int, height: int, colour: tuple[int, int, int] = (40, 150, 90)) -> Path:
    pillow_heif.from_pillow(picture(width, height, colour)).save(path, quality=50)
    return path


def the_three(folder: Path) -> list[Path]:
    """The issue's three: a 4000×3000 PNG, a HEIC (1512×2016, half an iPhone's) and a 1086×1448 PNG."""
    return [png(folder / "beach.png", 4000, 3000), heic(folder / "IMG_0002.HEIC", 1512, 2016),
            png(folder / "tall.png", 1086, 1448, (150, 40, 120))]


def sha256_of(*paths: Path) -> str:
    """The SHA-256 of the files' bytes one after another (what the emulator records for a photo post)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()
