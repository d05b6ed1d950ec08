"""The shared sliding-window limiter (tiktok.ratelimit): the pure wait rule, and real threads under one limit."""

from __future__ import annotations

import threading
from collections import deque

import pytest

from tiktok.ratelimit import TokenLimiter, wait_for_slot


class FakeTime:
    """A clock that only moves when a waiting caller "sleeps"."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            self.now += seconds


def test_wait_for_slot_is_zero_under_the_limit_and_the_oldest_stamp_s_expiry_at_it():
    stamps = deque([10.0, 20.0, 30.0])
    assert wait_for_slot(stamps, 4, 40.0, 61.0) == 0.0
    assert wait_for_slot(stamps, 3, 40.0, 61.0) == pytest.approx(31.0)  # 10 + 61 - 40
    assert wait_for_slot(stamps, 3, 71.0, 61.0) == 0.0  # the call at 10 left the window
    assert list(stamps) == [20.0, 30.0]


def test_the_limit_plus_one_call_waits_a_whole_window_plus_margin():
    t = FakeTime()
    limiter = TokenLimiter({"init": 6}, window_s=60, margin_s=1, clock=t.clock, sleep=t.sleep)
    waits = [limiter.acquire("alice", "init") for _ in range(6)]
    assert waits == [0.0] * 6 and t.slept == []
    assert limiter.acquire("alice", "init") == pytest.approx(61.0)
    assert limiter.calls("alice", "init") == 1  # the burst left the window while the seventh waited
    assert limiter.waited_s == pytest.approx(61.0)


def test_windows_are_per_account_and_per_kind():
    t = FakeTime()
    limiter = TokenLimiter({"init": 1, "status": 2}, clock=t.clock, sleep=t.sleep)
    for open_id in ("alice", "bob"):
        assert limiter.acquire(open_id, "init") == 0.0
        assert limiter.acquire(open_id, "status") == 0.0
        assert limiter.acquire(open_id, "status") == 0.0
    assert t.slept == []
    with pytest.raises(ValueError, match="no limit for 'upload'"):
        limiter.acquire("alice", "upload")


def test_bad_limits_are_refused():
    for kwargs in ({"limits": {}}, {"limits": {"init": 0}}, {"limits": {"init": 1}, "window_s": 0},
                   {"limits": {"init": 1}, "margin_s": -1}):
        with pytest.raises(ValueError):
            TokenLimiter(**kwargs)


def test_threads_sharing_one_limiter_never_exceed_the_limit_in_any_window():
    t = FakeTime()
    limiter = TokenLimiter({"status": 5}, window_s=60, margin_s=0, clock=t.clock, sleep=t.sleep)
    granted: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            limiter.acquire("alice", "status")
            with lock:
                granted.append(t.clock())
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(granted) == 20
    granted.sort()
    for i, stamp in enumerate(granted):  # any 60 s window holds at most 5 calls
        assert sum(1 for other in granted[i:] if other - stamp < 60) <= 5


def test_real_time_waiting_threads_wake_when_a_slot_frees():
    limiter = TokenLimiter({"init": 1}, window_s=0.05, margin_s=0)
    limiter.acquire("alice", "init")
    done = threading.Event()
    thread = threading.Thread(target=lambda: (limiter.acquire("alice", "init"), done.set()))
    thread.start()
    assert done.wait(5)
    assert limiter.waited_s > 0
