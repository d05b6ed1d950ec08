"""Client-side sliding-window limits, so a run never sends a call TikTok would refuse with 429.

TikTok counts calls per endpoint over a sliding minute (reference section 7): 600 for each Display API endpoint,
6 inits, 20 creator_info queries and 30 status fetches per user access token for posting. A run with several
worker threads shares one :class:`TokenLimiter`, so the threads together stay under each limit.

Windows are keyed by ``(open_id, kind)`` rather than by token: a refresh mid-run hands out a new token, and
TikTok may well count per user, so the account is the stricter key. Each window is ``window_s + margin_s`` long on
our side; the margin covers the time between our acquire and the request reaching TikTok, so our window is never
tighter than theirs. A 429 that still happens is waited out by :mod:`tiktok.retry`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Mapping

WINDOW_S = 60.0
MARGIN_S = 1.0


def wait_for_slot(stamps: deque[float], limit: int, now: float, span_s: float) -> float:
    """Seconds until one more call may go, given the calls made so far (``stamps``, oldest first); 0 means now.

    Drops the stamps that have left the window, so ``stamps`` never grows past ``limit``."""
    while stamps and now - stamps[0] >= span_s:
        stamps.popleft()
    if len(stamps) < limit:
        return 0.0
    return stamps[0] + span_s - now


def check_limits(limits: Mapping[str, int], window_s: float, margin_s: float) -> None:
    """ValueError unless the window is positive, the margin not negative and every limit at least 1."""
    if window_s <= 0 or margin_s < 0 or not limits or any(n < 1 for n in limits.values()):
        raise ValueError("a limiter needs window_s > 0, margin_s >= 0 and limits of at least 1")


class TokenLimiter:
    """Sliding-window limiter keyed by ``(open_id, kind)``; :meth:`acquire` blocks until the call may be sent.

    ``clock`` and ``sleep`` are injectable: with ``sleep=None`` a waiting thread waits on the condition (real
    time); with a ``sleep`` function it releases the lock, calls ``sleep(seconds)`` and looks again, so tests move
    a fake clock forward in it and never wait."""

    def __init__(self, limits: Mapping[str, int], window_s: float = WINDOW_S, margin_s: float = MARGIN_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        check_limits(limits, window_s, margin_s)
        self.limits = dict(limits)
        self.window_s, self.margin_s = float(window_s), float(margin_s)
        self.clock, self.sleep = clock, sleep
        self._stamps: dict[tuple[str, str], deque[float]] = {}
        self._cond = threading.Condition()
        self.waited_s = 0.0  # total time calls spent waiting for a slot: what the limits cost this run

    @property
    def span_s(self) -> float:
        """Our window: TikTok's plus the margin."""
        return self.window_s + self.margin_s

    def acquire(self, open_id: str, kind: str) -> float:
        """Take a slot for one ``kind`` call as ``open_id``, waiting as long as needed; returns the seconds waited."""
        limit = self.limits.get(kind)
        if limit is None:
            raise ValueError(f"no limit for {kind!r} (known: {', '.join(sorted(self.limits))})")
        with self._cond:
            stamps = self._stamps.setdefault((open_id, kind), deque())
            start = self.clock()
            while True:
                now = self.clock()
                wait = wait_for_slot(stamps, limit, now, self.span_s)
                if wait <= 0:
                    stamps.append(now)
                    self.waited_s += now - start
                    return now - start
                if self.sleep is None:
                    self._cond.wait(wait)
                    continue
                self._cond.release()
                try:
                    self.sleep(wait)
                finally:
                    self._cond.acquire()

    def calls(self, open_id: str, kind: str) -> int:
        """How many ``kind`` calls of ``open_id`` fall in the current window (for tests and reports)."""
        with self._cond:
            now = self.clock()
            return sum(1 for stamp in self._stamps.get((open_id, kind), ()) if now - stamp < self.span_s)
