"""Chunk plans must satisfy the media transfer guide under both readings of "MB"."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiktok.posting.chunks import (
    DEFAULT_CHUNK_BYTES,
    MAX_CHUNK_BYTES,
    MAX_CHUNKS,
    MAX_FINAL_CHUNK_BYTES,
    MAX_VIDEO_BYTES,
    MIN_CHUNK_BYTES,
    SINGLE_CHUNK_MAX_BYTES,
    Chunk,
    ChunkPlan,
    ChunkPlanError,
    check_plan,
    plan_chunks,
)
from tiktok.errors import TikTokError

GIB = 1024**3


def assert_plan_covers_file(plan: ChunkPlan) -> None:
    """Chunks start at 0, touch without gap or overlap, end at size-1 and obey every size rule."""
    chunks = list(plan.chunks())
    assert len(chunks) == plan.total_chunk_count == plan.video_size // plan.chunk_size
    assert chunks[0].first_byte == 0
    assert chunks[-1].last_byte == plan.video_size - 1
    for before, after in pairwise(chunks):
        assert after.first_byte == before.last_byte + 1
    assert sum(c.length for c in chunks) == plan.video_size
    assert [c.index for c in chunks] == list(range(plan.total_chunk_count))
    for c in chunks[:-1]:
        assert c.length == plan.chunk_size
        assert MIN_CHUNK_BYTES <= c.length <= MAX_CHUNK_BYTES
    assert plan.chunk_size <= chunks[-1].length <= MAX_FINAL_CHUNK_BYTES
    assert check_plan(plan.video_size, plan.chunk_size, plan.total_chunk_count) == []


@settings(max_examples=400, deadline=None)
@given(size=st.integers(1, MAX_VIDEO_BYTES), chunk_size=st.integers(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES))
def test_any_size_and_valid_chunk_size_gives_a_valid_plan(size: int, chunk_size: int) -> None:
    plan = plan_chunks(size, chunk_size)
    assert plan.video_size == size
    assert_plan_covers_file(plan)
    if size > SINGLE_CHUNK_MAX_BYTES and size // chunk_size >= 2:
        assert plan.chunk_size == chunk_size  # the requested size is kept whenever it is valid


@settings(max_examples=200, deadline=None)
@given(size=st.integers(SINGLE_CHUNK_MAX_BYTES + 1, MAX_VIDEO_BYTES),
       chunk_size=st.integers(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES))
def test_floor_count_never_ceil(size: int, chunk_size: int) -> None:
    plan = plan_chunks(size, chunk_size)
    assert plan.total_chunk_count == size // plan.chunk_size
    assert plan.total_chunk_count >= 2
    assert plan.final_chunk_bytes == size - (plan.total_chunk_count - 1) * plan.chunk_size


@pytest.mark.parametrize(("size", "chunk_size", "count", "final"), [
    (1, 1, 1, 1),
    (4_194_304, 4_194_304, 1, 4_194_304),  # the guide's whole-file example
    (5_242_879, 5_242_879, 1, 5_242_879),
    (5_242_880, 5_242_880, 1, 5_242_880),
    (5_242_881, 5_242_881, 1, 5_242_881),
    (50_000_123, 50_000_123, 1, 50_000_123),  # at or under 64 MB we send it whole
    (64_000_000, 64_000_000, 1, 64_000_000),
    (64_000_001, 10_000_000, 6, 14_000_001),
    (67_108_864, 10_000_000, 6, 17_108_864),
    (100_000_000, 10_000_000, 10, 10_000_000),  # exact multiple: 10 chunks, not 11
    (200_000_000, 10_000_000, 20, 10_000_000),
    (300_000_001, 10_000_000, 30, 10_000_001),
    (MAX_VIDEO_BYTES, 10_000_000, 400, 10_000_000),
])
def test_edge_sizes_with_default_chunk(size: int, chunk_size: int, count: int, final: int) -> None:
    plan = plan_chunks(size)
    assert (plan.chunk_size, plan.total_chunk_count, plan.final_chunk_bytes) == (chunk_size, count, final)
    assert_plan_covers_file(plan)


def test_default_chunk_size_is_valid_under_both_readings() -> None:
    assert 5 * 1024**2 <= DEFAULT_CHUNK_BYTES <= 64 * 10**6


@pytest.mark.parametrize(("size", "requested", "expected_chunk", "expected_count"), [
    (64_000_001, MAX_CHUNK_BYTES, 32_000_000, 2),  # floor would give 1 chunk for a > 64 MB file
    (100_000_000, 60_000_000, 50_000_000, 2),
    (127_999_999, 64_000_000, 63_999_999, 2),
    (128_000_000, 64_000_000, 64_000_000, 2),
])
def test_single_chunk_plans_for_big_files_are_split_in_two(
        size: int, requested: int, expected_chunk: int, expected_count: int) -> None:
    plan = plan_chunks(size, requested)
    assert (plan.chunk_size, plan.total_chunk_count) == (expected_chunk, expected_count)
    assert_plan_covers_file(plan)


def test_largest_allowed_file_at_largest_chunk() -> None:
    plan = plan_chunks(MAX_VIDEO_BYTES, MAX_CHUNK_BYTES)
    assert plan.total_chunk_count == 62 <= MAX_CHUNKS
    assert_plan_covers_file(plan)


@pytest.mark.parametrize(("size", "chunk_size", "needle"), [
    (0, DEFAULT_CHUNK_BYTES, "at least 1 byte"),
    (-5, DEFAULT_CHUNK_BYTES, "at least 1 byte"),
    (4 * GIB, DEFAULT_CHUNK_BYTES, "4 GB"),  # 4 GiB is over 4 * 10**9, the reading we keep to
    (MAX_VIDEO_BYTES + 1, DEFAULT_CHUNK_BYTES, "4 GB"),
    (100_000_000, MIN_CHUNK_BYTES - 1, "must lie in"),
    (100_000_000, MAX_CHUNK_BYTES + 1, "must lie in"),
    (100_000_000, 67_108_864, "must lie in"),  # 64 MiB is over 64 * 10**6
])
def test_impossible_requests_raise(size: int, chunk_size: int, needle: str) -> None:
    with pytest.raises(ChunkPlanError, match=needle) as caught:
        plan_chunks(size, chunk_size)
    assert isinstance(caught.value, TikTokError)
    assert str(size) in str(caught.value) or str(chunk_size) in str(caught.value)


def test_doc_example_plan_is_valid_and_ranges_match_the_guide() -> None:
    assert check_plan(50_000_123, 10_000_000, 5) == []
    plan = ChunkPlan(50_000_123, 10_000_000, 5)
    ranges = [c.content_range(plan.video_size) for c in plan.chunks()]
    assert ranges == [
        "bytes 0-9999999/50000123",
        "bytes 10000000-19999999/50000123",
        "bytes 20000000-29999999/50000123",
        "bytes 30000000-39999999/50000123",
        "bytes 40000000-50000122/50000123",
    ]
    assert plan.chunk(4).length == 10_000_123


def test_whole_file_content_range_is_inclusive() -> None:
    plan = plan_chunks(30_567_100)
    assert plan.chunk(0).content_range(30_567_100) == "bytes 0-30567099/30567100"
    assert Chunk(0, 0, 0).length == 1


@pytest.mark.parametrize("index", [-1, 5, 100])
def test_chunk_index_out_of_range(index: int) -> None:
    with pytest.raises(IndexError):
        ChunkPlan(50_000_123, 10_000_000, 5).chunk(index)


def test_chunk_plan_rejects_a_ceil_count() -> None:
    with pytest.raises(ChunkPlanError, match="floor"):
        ChunkPlan(50_000_123, 10_000_000, 6)


@pytest.mark.parametrize(("size", "chunk_size", "count", "needle"), [
    (50_000_123, 10_000_000, 6, "floor"),  # ceil instead of floor
    (4_000_000, 1_000_000, 4, "must go whole"),
    (5_100_000, 5_000_000, 1, "must go whole"),  # under 5 MiB: valid only if MB means 10**6
    (5_300_000, 5_000_000, 1, "below the 5242880-byte minimum"),
    (200_000_000, 4_000_000, 50, "below the 5242880-byte minimum"),
    (200_000_000, 66_666_666, 3, "exceeds the 64000000-byte maximum"),  # valid only if MB means MiB
    (66_000_000, 64_000_000, 1, "2 or more chunks"),
    (20_000_000, 15_000_000, 1, "chunk_size == video_size"),
    (4_294_967_296, 10_000_000, 429, "exceeds the 4000000000-byte maximum"),
    (6_000_000_000, 5_242_880, 1144, "1..1000"),
    (0, 10, 0, "video_size must be positive"),
    (10, 0, 0, "chunk_size must be positive"),
])
def test_check_plan_names_the_broken_rule(size: int, chunk_size: int, count: int, needle: str) -> None:
    problems = check_plan(size, chunk_size, count)
    assert any(needle in p for p in problems), problems


def test_check_plan_flags_an_oversized_final_chunk() -> None:
    # A legal chunk size keeps the final chunk under 2 * chunk_size <= 128 MB, so only an oversized
    # chunk size can push it over.
    problems = check_plan(260_000_000, 130_000_000, 2)
    assert any("exceeds the 64000000-byte maximum" in p for p in problems)
    assert any("final chunk of 130000000 bytes" in p for p in problems)
