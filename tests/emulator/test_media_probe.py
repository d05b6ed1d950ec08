"""The emulator's own media probe: pure byte readers tested directly, and real clips probed end to end.

It must agree with TikTok's rules independently of the client's probe (tiktok.posting.media), so these tests
never import the client's."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.media_fixtures import make_video
from tiktok.emulator.media_checks import FORMAT_FAILED, check_video
from tiktok.emulator.media_probe import (
    NotAVideo, container_of, ebml_doctype, fps_from_timestamps, iso_major_brand, probe_video, read_vint,
)


def ftyp(brand: bytes) -> bytes:
    return (24).to_bytes(4, "big") + b"ftyp" + brand + b"\0\0\0\0" + b"isomiso2"


def ebml(doctype: bytes) -> bytes:
    body = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body


@pytest.mark.parametrize("head, expected", [
    (ftyp(b"isom"), "mp4"),
    (ftyp(b"mp42"), "mp4"),
    (ftyp(b"qt  "), "mov"),
    (ftyp(b"3gp4"), "3gp"),
    (ebml(b"webm"), "webm"),
    (ebml(b"matroska"), "matroska"),
    (b"RIFF\0\0\0\0AVI LIST", "unknown"),
    (b"", "unknown"),
])
def test_container_from_first_bytes(head: bytes, expected: str) -> None:
    assert container_of(head) == expected


def test_brand_needs_an_ftyp_box() -> None:
    assert iso_major_brand(b"\0\0\0\x18moov....") is None
    assert iso_major_brand(ftyp(b"qt  ")) == "qt  "


@pytest.mark.parametrize("data, at, expected", [
    (b"\x81", 0, (1, 1)),
    (b"\x40\x02", 0, (2, 2)),
    (b"\x20\x00\x03", 0, (3, 3)),
    (b"\x00", 0, None),      # no marker bit in the first byte: invalid
    (b"\x40", 0, None),      # cut off
    (b"", 0, None),
])
def test_read_vint(data: bytes, at: int, expected: tuple[int, int] | None) -> None:
    assert read_vint(data, at) == expected


def test_doctype_cut_off_or_missing() -> None:
    assert ebml_doctype(ebml(b"webm")[:9]) is None
    assert ebml_doctype(b"\x1a\x45\xdf\xa3\x84\x42\x86\x81\x01") is None  # a header with no DocType


@pytest.mark.parametrize("stamps, base, expected", [
    ([0, 1, 2, 3], Fraction(1, 30), 30.0),
    ([0, 512, 1024], Fraction(1, 12288), 24.0),
    ([0], Fraction(1, 30), None),
    ([5, 5], Fraction(1, 30), None),
])
def test_fps_from_timestamps(stamps: list[int], base: Fraction, expected: float | None) -> None:
    assert fps_from_timestamps(stamps, base) == expected


@pytest.mark.parametrize("codec, container, expected", [
    ("h264", "mp4", "mp4"), ("h264", "mov", "mov"), ("vp9", "webm", "webm"), ("vp8", "matroska", "matroska"),
])
def test_real_clips(tmp_path: Path, codec: str, container: str, expected: str) -> None:
    path = make_video(tmp_path / f"clip.{container}", codec=codec, container=container, width=360, height=360,
                      fps=24, seconds=1.0, audio=False)
    probed = probe_video(path)
    assert (probed.container, probed.codec, probed.width, probed.height) == (expected, codec, 360, 360)
    assert probed.fps == pytest.approx(24, abs=0.01)
    assert probed.duration_s == pytest.approx(1.0, abs=0.1)


def test_not_a_video(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(NotAVideo):
        probe_video(junk)
    assert check_video(junk, max_duration_s=600).fail_reason == FORMAT_FAILED
