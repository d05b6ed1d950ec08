"""Carry out a video plan: re-encode one file to H.264 + AAC in MP4 with PyAV, streaming packet by packet.

Memory stays flat whatever the length: one packet at a time is read, decoded, filtered and encoded, and only the
encoders' own look-ahead (a fixed number of frames) is ever held. FFmpeg's filters do the work: ``fps`` puts the
frames on a constant-rate clock (dropping or repeating frames), ``scale`` resizes with Lanczos, ``format`` makes
8-bit 4:2:0 colour, the form every H.264 player takes. A phone's rotation flag is carried over as it was.
The result is written to a temp file beside the target and renamed into place only once complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.filter

from tiktok.media.doctor.plan import AUDIO_BITRATE, VideoPlan

X264_PRESET = "medium"  # x264's default trade of speed for size
X264_CRF = 23           # x264's default quality; the plan's bitrate caps it (VBV: maxrate, bufsize = 2 s)
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)  # AAC's table
DEFAULT_AUDIO_RATE = 48000


def reencode(source: Path, target: Path, plan: VideoPlan) -> None:
    """Write ``source`` re-encoded as ``plan`` says to ``target`` (replaced whole, or left untouched on error);
    av.FFmpegError when FFmpeg cannot read or write it."""
    rotation = _rotation(source)
    with _temp_beside(target) as temp:
        with av.open(str(source)) as inp, av.open(str(temp), mode="w", format="mp4",
                                                  options={"movflags": "+faststart"}) as out:
            video_in = inp.streams.video[0]
            video_in.thread_type = "AUTO"
            audio_in = inp.streams.audio[0] if inp.streams.audio else None
            video = _video_stream(out, plan, rotation)
            audio = _audio_stream(out, audio_in) if audio_in is not None else None
            graph = _filters(video_in, plan)
            for packet in inp.demux(*(s for s in (video_in, audio_in) if s is not None)):
                for frame in packet.decode():  # an end-of-stream packet drains its decoder
                    if packet.stream is video_in:
                        _encode_filtered(graph, frame, video, out)
                    elif audio is not None:
                        out.mux(audio.encode(frame))
            _encode_filtered(graph, None, video, out)
            out.mux(video.encode(None))
            if audio is not None:
                out.mux(audio.encode(None))
        os.chmod(temp, source.stat().st_mode & 0o777)  # readable by whoever could read the original
        os.replace(temp, target)


@contextmanager
def _temp_beside(target: Path) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)  # gone already once renamed into place


def _rotation(source: Path) -> int:
    """The display rotation (degrees, counter-clockwise) of the first video frame: phones film sideways and flag
    it. Read up front because the output's header, written at the first packet, must carry it."""
    with av.open(str(source)) as inp:
        for frame in inp.decode(video=0):
            return int(frame.rotation or 0)
    return 0


def _video_stream(out: av.container.OutputContainer, plan: VideoPlan, rotation: int):
    stream = out.add_stream("libx264", rate=plan.fps)
    stream.width, stream.height, stream.pix_fmt = plan.width, plan.height, "yuv420p"
    stream.codec_context.time_base = 1 / plan.fps
    stream.options = {"preset": X264_PRESET, "crf": str(X264_CRF), "maxrate": str(plan.bitrate),
                      "bufsize": str(2 * plan.bitrate)}
    if rotation:
        stream.set_display_rotation(rotation)
    return stream


def _audio_stream(out: av.container.OutputContainer, audio_in):
    rate = audio_in.codec_context.sample_rate
    channels = audio_in.codec_context.layout.nb_channels
    stream = out.add_stream("aac", rate=rate if rate in AAC_RATES else DEFAULT_AUDIO_RATE,
                            layout="mono" if channels == 1 else "stereo")
    stream.bit_rate = AUDIO_BITRATE
    return stream


def _filters(video_in, plan: VideoPlan) -> av.filter.Graph:
    graph = av.filter.Graph()
    graph.link_nodes(graph.add_buffer(template=video_in),
                     graph.add("fps", f"fps={plan.fps}"),
                     graph.add("scale", f"w={plan.width}:h={plan.height}:flags=lanczos"),
                     graph.add("format", "pix_fmts=yuv420p"),
                     graph.add("buffersink")).configure()
    return graph


def _encode_filtered(graph: av.filter.Graph, frame, video, out: av.container.OutputContainer) -> None:
    """Push one decoded frame (None: the end) through the filters and encode every frame that comes out."""
    graph.vpush(frame)
    while True:
        try:
            filtered = graph.vpull()
        except (av.BlockingIOError, av.EOFError):
            return
        filtered.pict_type = av.video.frame.PictureType.NONE  # the source's I-frames must not force keyframes
        out.mux(video.encode(filtered))
