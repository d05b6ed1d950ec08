"""Media checks on real tiny clips made by PyAV, and the pure limit table on MediaInfo values."""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.media_fixtures import make_sparse_file, make_video
from tiktok.errors import TikTokError
from tiktok.posting.media import MediaError, MediaInfo, check_video, mime_type, probe


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 3 s 360x640 H.264 + AAC MP4."""
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4")


def test_valid_clip_probes_and_passes(clip: Path) -> None:
    info = probe(clip)
    assert (info.container, info.video_codec, info.width, info.height) == ("mp4", "h264", 360, 640)
    assert info.fps == pytest.approx(30)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert info.size_bytes == clip.stat().st_size
    assert info.has_audio and info.path == str(clip)
    assert check_video(info) == []
    assert mime_type(info) == "video/mp4"


@pytest.mark.slow
@pytest.mark.parametrize(("codec", "container", "name", "mime"), [
    ("h264", "mov", "mov", "video/quicktime"),
    ("vp9", "webm", "webm", "video/webm"),
    ("vp8", "webm", "webm", "video/webm"),
    ("hevc", "mp4", "mp4", "video/mp4"),
])
def test_other_supported_formats(tmp_path: Path, codec: str, container: str, name: str, mime: str) -> None:
    path = make_video(tmp_path / f"clip.{container}", codec=codec, container=container, width=360, height=360,
                      fps=24)
    info = probe(path)
    assert (info.container, info.video_codec) == (name, codec)
    assert check_video(info) == []
    assert mime_type(info) == mime


def test_matroska_is_not_webm(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "clip.mkv", container="matroska", fps=24))
    assert info.container == "matroska"
    assert any("container 'matroska' is not supported" in p for p in check_video(info))
    with pytest.raises(MediaError, match="no TikTok upload MIME type"):
        mime_type(info)


def test_unsupported_codec(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "clip.mp4", codec="mpeg4", fps=24))
    assert check_video(info) == [f"{info.path}: video codec 'mpeg4' is not supported (use H.264, H.265, VP8 or VP9)"]


def test_no_audio_is_fine(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "silent.mp4", audio=False))
    assert not info.has_audio
    assert check_video(info) == []


@pytest.mark.parametrize(("options", "needle"), [
    ({"seconds": 1.0}, "duration 1.00 s is under the 3 s minimum"),
    ({"width": 160, "height": 120}, "width 160 px is outside 360-4096 px"),
    ({"width": 360, "height": 200}, "height 200 px is outside 360-4096 px"),
    ({"fps": 15}, "frame rate 15 fps is outside 23-60 fps"),
])
def test_real_clips_that_break_a_limit(tmp_path: Path, options: dict[str, float], needle: str) -> None:
    path = make_video(tmp_path / "bad.mp4", **options)
    problems = check_video(probe(path))
    assert f"{path}: {needle}" in problems, problems


def test_real_clip_longer_than_creator_limit(tmp_path: Path) -> None:
    path = make_video(tmp_path / "long.mp4", seconds=4.0, fps=24, audio=False)
    info = probe(path)
    assert check_video(info, max_duration_s=5) == []
    assert check_video(info, max_duration_s=3) == [
        f"{path}: duration 4.00 s is over this creator's 3 s limit (max_video_post_duration_sec)"]


GOOD = MediaInfo(container="mp4", video_codec="h264", width=1080, height=1920, fps=30.0, duration_s=30.0,
                 size_bytes=10_000_000, has_audio=True, path="v.mp4")


@pytest.mark.parametrize(("changes", "max_duration_s", "needle"), [
    ({"duration_s": 2.99}, None, "under the 3 s minimum"),
    ({"duration_s": 600.5}, None, "over the API's 600 s maximum"),
    ({"duration_s": 301.0}, 300, "over this creator's 300 s limit"),
    ({"duration_s": None}, None, "duration unknown"),
    ({"fps": 22.9}, None, "outside 23-60 fps"),
    ({"fps": 60.5}, None, "outside 23-60 fps"),
    ({"fps": None}, None, "frame rate unknown"),
    ({"width": 359}, None, "width 359 px"),
    ({"height": 4097}, None, "height 4097 px"),
    ({"size_bytes": 4_000_000_001}, None, "over the 4 GB limit"),
    ({"container": "avi"}, None, "container 'avi' is not supported"),
    ({"video_codec": "av1"}, None, "video codec 'av1' is not supported"),
])
def test_limits_table(changes: dict[str, object], max_duration_s: float | None, needle: str) -> None:
    problems = check_video(replace(GOOD, **changes), max_duration_s=max_duration_s)
    assert len(problems) == 1 and needle in problems[0] and problems[0].startswith("v.mp4: "), problems


@pytest.mark.parametrize("changes", [
    {"duration_s": 3.0}, {"duration_s": 600.0}, {"fps": 23.0}, {"fps": 23.976}, {"fps": 60.0},
    {"width": 360, "height": 4096}, {"size_bytes": 4_000_000_000}, {"container": "webm", "video_codec": "vp9"},
    {"container": "mov", "video_codec": "hevc"},
])
def test_limits_boundaries_pass(changes: dict[str, object]) -> None:
    assert check_video(replace(GOOD, **changes)) == []


def test_creator_limit_at_boundary_passes() -> None:
    assert check_video(replace(GOOD, duration_s=300.0), max_duration_s=300) == []


def _text_file(path: Path) -> Path:
    path.write_text("this is not a video\n" * 50)
    return path


def _random_bytes(path: Path) -> Path:
    path.write_bytes(random.Random(1234).randbytes(64_000))
    return path


def _audio_only(path: Path) -> Path:
    import av  # an M4A with one AAC stream: a real media file, but not a video

    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=8000, layout="mono")
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate, frame.pts = 8000, 0
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(("make", "needle"), [
    (_text_file, "not a video FFmpeg can read"),
    (_random_bytes, "not a video"),
    (_audio_only, "not a video: no video stream"),
    (lambda p: p, "file not found"),
    (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
    (lambda p: (p.mkdir(), p)[1], "not a regular file"),
])
def test_probe_refuses_non_videos(tmp_path: Path, make: object, needle: str) -> None:
    path = make(tmp_path / "thing.mp4")  # type: ignore[operator]
    with pytest.raises(MediaError, match=needle) as caught:
        probe(path)
    assert isinstance(caught.value, TikTokError)
    assert caught.value.path == str(path) and str(caught.value).startswith(f"{path}: ")


def test_large_sparse_file_fails_fast(tmp_path: Path) -> None:
    path = make_sparse_file(tmp_path / "zeros.mp4", 5 * 1024**3)
    started = time.monotonic()
    with pytest.raises(MediaError, match="not a video") as caught:
        probe(path)
    # Reading 5 GiB of zeros would take many seconds; the probe stops after FFmpeg's small probe window.
    assert time.monotonic() - started < 2.0
    assert str(path) in str(caught.value)
    assert os.stat(path).st_blocks * 512 < 1024**2  # the fixture really is sparse, so disk use stays tiny
