"""Sliding 60-second windows (reference §7), keyed by whatever the caller chooses.

Only accepted requests are counted: a request refused with 429 does not extend the wait (UNCONFIRMED upstream).
No Retry-After or rate-limit headers are sent: TikTok documents none.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 60.0  # rate-limit page: "one-minute sliding window"


class SlidingWindowLimiter:
    """Per-key request timestamps; not thread-safe on its own (EmulatorState holds the lock)."""

    def __init__(self, window: float = WINDOW_S) -> None:
        self.window = window
        self._hits: dict[tuple, deque[float]] = {}

    def allow(self, key: tuple, limit: int, now: float) -> bool:
        """Record a hit for ``key`` at ``now`` unless ``limit`` hits already fall inside the window."""
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

