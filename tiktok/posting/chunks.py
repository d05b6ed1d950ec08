"""Chunk planning for FILE_UPLOAD, per TikTok's media transfer guide (reference section 4.1).

The guide never says whether "MB" means 10**6 or 2**20 bytes, so every bound below takes whichever reading is
stricter: a plan that passes here is valid under both. ``plan_chunks`` makes plans; ``check_plan`` lists every
rule a declared plan breaks, so callers and tests can check plans they did not make.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tiktok.errors import TikTokError
from tiktok.posting.limits import (  # noqa: F401 - re-exported: the chunk rules read as one module
    DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MAX_CHUNKS, MAX_FINAL_CHUNK_BYTES, MAX_VIDEO_BYTES, MIN_CHUNK_BYTES,
    SINGLE_CHUNK_MAX_BYTES,
)


class ChunkPlanError(TikTokError):
    """No valid chunk plan exists for this size, or the requested chunk size is out of bounds."""


@dataclass(frozen=True)
class Chunk:
    """One PUT: bytes ``first_byte`` to ``last_byte`` of the file, both inclusive."""

    index: int
    first_byte: int
    last_byte: int

    @property
    def length(self) -> int:
        """Number of bytes in the chunk (the PUT's Content-Length)."""
        return self.last_byte - self.first_byte + 1

    def content_range(self, total: int) -> str:
        """The PUT's Content-Range header value; the end is inclusive (reference section 9, trap 17)."""
        return f"bytes {self.first_byte}-{self.last_byte}/{total}"


@dataclass(frozen=True)
class ChunkPlan:
    """A video split into ``total_chunk_count`` chunks of ``chunk_size``; the last one takes the remainder."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def __post_init__(self) -> None:
        # Only the geometry is enforced here; TikTok's limits are check_plan's job, so the doc's own
        # example plans can be built and inspected.
        if self.video_size <= 0 or self.chunk_size <= 0:
            raise ChunkPlanError(f"video_size and chunk_size must be positive, got {self.video_size} and "
                                 f"{self.chunk_size}")
        if self.total_chunk_count != self.video_size // self.chunk_size:
            raise ChunkPlanError(f"total_chunk_count must be floor({self.video_size} / {self.chunk_size}) = "
                                 f"{self.video_size // self.chunk_size}, got {self.total_chunk_count}")

    @property
    def final_chunk_bytes(self) -> int:
        """Length of the last chunk, which absorbs the remainder."""
        return self.video_size - (self.total_chunk_count - 1) * self.chunk_size

    def chunk(self, index: int) -> Chunk:
        """The chunk at 0-based ``index``."""
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(f"chunk index {index} outside 0..{self.total_chunk_count - 1}")
        first = index * self.chunk_size
        last = self.video_size - 1 if index == self.total_chunk_count - 1 else first + self.chunk_size - 1
        return Chunk(index, first, last)

    def chunks(self) -> Iterator[Chunk]:
        """Every chunk in upload order (computed on demand)."""
        return (self.chunk(i) for i in range(self.total_chunk_count))

    def problems(self) -> list[str]:
        """Rules this plan breaks; empty when TikTok should accept it."""
        return check_plan(self.video_size, self.chunk_size, self.total_chunk_count)


def check_plan(video_size: int, chunk_size: int, total_chunk_count: int) -> list[str]:
    """Every rule of the media transfer guide that a declared plan breaks (empty = valid), strict reading."""
    if video_size <= 0:
        return [f"video_size must be positive, got {video_size}"]
    if chunk_size <= 0:
        return [f"chunk_size must be positive, got {chunk_size}"]
    problems = []
    if video_size > MAX_VIDEO_BYTES:
        problems.append(f"video_size {video_size} exceeds the {MAX_VIDEO_BYTES}-byte maximum")
    expected = video_size // chunk_size
    if total_chunk_count != expected:
        problems.append(f"total_chunk_count must be floor(video_size / chunk_size) = {expected}, "
                        f"got {total_chunk_count}")
    if not 1 <= total_chunk_count <= MAX_CHUNKS:
        problems.append(f"total_chunk_count must be 1..{MAX_CHUNKS}, got {total_chunk_count}")
    if video_size < MIN_CHUNK_BYTES and chunk_size != video_size:
        problems.append(f"a video under {MIN_CHUNK_BYTES} bytes must go whole: chunk_size must equal "
                        f"video_size {video_size}, got {chunk_size}")
    if video_size >= MIN_CHUNK_BYTES and chunk_size < MIN_CHUNK_BYTES:
        problems.append(f"chunk_size {chunk_size} is below the {MIN_CHUNK_BYTES}-byte minimum")
    if chunk_size > MAX_CHUNK_BYTES:
        problems.append(f"chunk_size {chunk_size} exceeds the {MAX_CHUNK_BYTES}-byte maximum")
    if total_chunk_count == 1 and video_size > SINGLE_CHUNK_MAX_BYTES:
        problems.append(f"a video over {SINGLE_CHUNK_MAX_BYTES} bytes must be sent in 2 or more chunks")
    elif total_chunk_count == 1 == expected and MIN_CHUNK_BYTES <= video_size != chunk_size:
        # UNCONFIRMED rule (reference 4.1): TikTok reportedly expects chunk_size == video_size for one chunk.
        problems.append(f"a single-chunk upload must declare chunk_size == video_size {video_size}, "
                        f"got {chunk_size}")
    if total_chunk_count == expected >= 1:
        final = video_size - (total_chunk_count - 1) * chunk_size
        if final > MAX_FINAL_CHUNK_BYTES:
            problems.append(f"final chunk of {final} bytes exceeds the {MAX_FINAL_CHUNK_BYTES}-byte maximum")
    return problems


def plan_chunks(video_size: int, chunk_size: int = DEFAULT_CHUNK_BYTES) -> ChunkPlan:
    """Plan the upload of ``video_size`` bytes, preferring ``chunk_size`` for files that need several chunks.

    Files up to SINGLE_CHUNK_MAX_BYTES go whole. Larger ones use ``chunk_size``, adjusted deterministically
    when it would break a rule: a size giving a single chunk becomes ``video_size // 2`` (two chunks), and one
    giving more than MAX_CHUNKS chunks becomes ``ceil(video_size / MAX_CHUNKS)``. ``chunk_size`` must lie in
    [MIN_CHUNK_BYTES, MAX_CHUNK_BYTES] even when the file goes whole, so a bad setting shows up on any file.
    """
    _check_inputs(video_size, chunk_size)
    if video_size <= SINGLE_CHUNK_MAX_BYTES:
        return ChunkPlan(video_size, video_size, 1)
    size = chunk_size
    if video_size // size < 2:
        size = video_size // 2  # video_size < 2 * MAX_CHUNK_BYTES here, so this stays within bounds
    if video_size // size > MAX_CHUNKS:
        size = -(-video_size // MAX_CHUNKS)
    plan = ChunkPlan(video_size, size, video_size // size)
    problems = plan.problems()
    if problems:
        raise ChunkPlanError(f"no valid chunk plan for {video_size} bytes: {'; '.join(problems)}")
    return plan


def _check_inputs(video_size: int, chunk_size: int) -> None:
    if video_size <= 0:
        raise ChunkPlanError(f"video size must be at least 1 byte, got {video_size}")
    if video_size > MAX_VIDEO_BYTES:
        raise ChunkPlanError(f"video of {video_size} bytes is over TikTok's 4 GB limit "
                             f"({MAX_VIDEO_BYTES} bytes, the decimal reading)")
    if not MIN_CHUNK_BYTES <= chunk_size <= MAX_CHUNK_BYTES:
        raise ChunkPlanError(f"chunk size {chunk_size} must lie in [{MIN_CHUNK_BYTES}, {MAX_CHUNK_BYTES}] bytes")
