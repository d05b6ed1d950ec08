"""ChunkReader and the retry policy, tested directly (the HTTP flow is tested against the emulator)."""

import io
import os
import random

import pytest

from tiktok.retry import RetryPolicy
from tiktok.posting.transfer import ChunkReader, received_bytes


@pytest.fixture
def fd(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    handle = os.open(path, os.O_RDONLY)
    yield handle
    os.close(handle)


def test_reader_yields_exactly_its_window_and_reports_progress(fd):
    seen = []
    reader = ChunkReader(fd, 1000, 3000, seen.append)
    data = b"".join(bytes(block) for block in iter(lambda: reader.read(700), b""))
    assert data == (bytes(range(256)) * 40)[1000:4000]
    assert sum(seen) == 3000 and max(seen) <= 700


def test_rewind_takes_progress_back(fd):
    seen = []
    reader = ChunkReader(fd, 0, 5000, seen.append)
    reader.read(1234)
    reader.rewind()
    assert sum(seen) == 0 and reader.tell() == 0
    assert bytes(reader.read()) == (bytes(range(256)) * 40)[:5000]


def test_length_is_what_requests_sends_as_content_length(fd):
    from requests.utils import super_len
    reader = ChunkReader(fd, 10, 7000)
    assert super_len(reader) == 7000
    reader.read(100)
    assert super_len(reader) == 6900
    reader.seek(0, io.SEEK_END)
    assert bytes(reader.read(10)) == b""


@pytest.mark.parametrize("header, expected", [
    ("bytes 0-9999999/50000123", 10_000_000), ("bytes 0-50000122/50000123", 50_000_123),
    (None, None), ("garbage", None),
])
def test_received_bytes_from_content_range(header, expected):
    assert received_bytes(header) == expected


def test_retry_after_wins_over_backoff():
    assert RetryPolicy().delay(3, 7.0, random.Random(1)) == 7.0


def test_backoff_doubles_with_bounded_jitter_and_a_cap():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=10, jitter=0.25)
    rng = random.Random(5)
    for attempt, nominal in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(50)]
        assert all(nominal * 0.75 <= d <= nominal * 1.25 for d in delays)
        assert len(set(delays)) > 1  # jittered, so parallel clients do not retry in lockstep
