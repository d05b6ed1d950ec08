"""Helpers for posting tests: real videos of exact (sparse) sizes, and time that advances the emulator's clock."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
from pathlib import Path

from tiktok.posting.policy import POSTING_RETRY
from tiktok.retry import Runtime
from tests.media_fixtures import make_video, padded_mp4


def padded_video(path: Path, size: int, *, seconds: float = 3.0) -> Path:
    """A real MP4 of exactly ``size`` bytes: a tiny clip followed by a sparse ``free`` box."""
    clip = make_video(path.with_suffix(".clip.mp4"), seconds=seconds)
    try:
        return padded_mp4(clip, path, size)
    finally:
        clip.unlink()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(4 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class EmulatedTime:
    """The client's sleep and monotonic clock, where sleeping moves the emulator's clock instead of waiting."""

    def __init__(self, remote) -> None:
        self.remote = remote
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if seconds > 0:
            self.remote.advance_clock(seconds)

    def monotonic(self) -> float:
        return self.now

    def runtime(self, **policy) -> Runtime:
        return Runtime(sleep=self.sleep, monotonic=self.monotonic, rng=random.Random(7),
                       policy=dataclasses.replace(POSTING_RETRY, **policy))  # the production policy


def file_size(path: Path) -> int:
    return os.stat(path).st_size


def cut_off_after(remote, sent_bytes: int):
    """A progress hook for a run: once ``sent_bytes`` have gone up, the emulator refuses every further chunk
    (503), so the upload stops part way with what TikTok holds recorded; ``remote.clear_faults()`` ends it."""
    state = {"armed": False}

    def progress(label, total):
        def update(n):
            update.sent += n
            if not state["armed"] and update.sent >= sent_bytes:
                state["armed"] = True
                remote.inject_fault("/upload/video/", status=503, times=50)
        update.sent = 0
        return update
    return progress
