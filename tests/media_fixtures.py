"""Generate tiny real video clips with PyAV for tests (no system ffmpeg needed)."""

from __future__ import annotations

import struct

from pathlib import Path

import av

# Our short codec names -> PyAV encoder names.
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "h265": "libx265", "vp8": "libvpx", "vp9": "libvpx-vp9",
             "mpeg4": "mpeg4"}
# Audio encoder and sample rate each container can hold.
_AUDIO = {"webm": ("libopus", 48_000), "matroska": ("libopus", 48_000)}
_DEFAULT_AUDIO = ("aac", 8_000)
_AUDIO_FRAME_SAMPLES = 960


def make_video(path: str | Path, *, seconds: float = 3.0, width: int = 360, height: int = 640, fps: int = 30,
               codec: str = "h264", container: str = "mp4", audio: bool = True) -> Path:
    """Write a clip of flat grey frames (and silence when ``audio``) to ``path``; returns the path."""
    path = Path(path)
    with av.open(str(path), mode="w", format=container) as output:
        video = output.add_stream(_ENCODERS.get(codec, codec), rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec in ("hevc", "h265"):
            video.options = {"x265-params": "log-level=none"}  # keep x265's banner out of test output
        sound = output.add_stream(*_AUDIO.get(container, _DEFAULT_AUDIO), layout="mono") if audio else None
        _write_frames(output, video, round(seconds * fps))
        if sound is not None:
            _write_silence(output, sound, round(seconds * sound.rate))
        for stream in (video, sound):
            if stream is not None:
                output.mux(stream.encode(None))
    return path


def _write_frames(output: av.container.OutputContainer, stream: av.video.stream.VideoStream, count: int) -> None:
    for index in range(count):
        frame = av.VideoFrame(stream.width, stream.height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(index * 7) % 256]) * plane.buffer_size)  # change each frame so it is not empty
        frame.pts = index
        output.mux(stream.encode(frame))


def _write_silence(output: av.container.OutputContainer, stream: av.audio.stream.AudioStream, samples: int) -> None:
    written = 0
    while written < samples:
        count = min(_AUDIO_FRAME_SAMPLES, samples - written)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
        frame.sample_rate, frame.pts = stream.rate, written
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        written += count
        output.mux(stream.encode(frame))


def make_sparse_file(path: str | Path, size: int) -> Path:
    """A file of ``size`` zero bytes that takes no disk space (a hole)."""
    path = Path(path)
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def padded_mp4(source: Path, target: Path, size: int) -> Path:
    """``source`` plus a trailing MP4 ``free`` box whose body is a sparse hole: a valid MP4 of exactly ``size``
    bytes that uses almost no disk."""
    data = source.read_bytes()
    pad = size - len(data)
    assert 8 <= pad < 2**32, "size must leave room for the free box header and fit its 32-bit size"
    with target.open("wb") as handle:
        handle.write(data + struct.pack(">I", pad) + b"free")
        handle.truncate(size)  # the rest stays a hole and reads as zeros
    return target
