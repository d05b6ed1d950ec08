"""Retry policy as data: how long to wait before attempt ``n``, honouring ``Retry-After``.

Jitter comes from an injected ``random.Random`` and sleeping from an injected function, so tests never sleep.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6          # per request (a chunk, a status poll), including the first try
    base_delay_s: float = 1.0      # first backoff
    max_delay_s: float = 60.0      # cap on one backoff
    max_retry_after_s: float = 300.0  # a longer Retry-After than this is not waited out: the run stops, try later
    jitter: float = 0.25           # +/- fraction of the delay

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return retry_after  # the server said when; do not shorten it with jitter
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return max(0.0, backoff * (1 + self.jitter * (2 * rng.random() - 1)))


@dataclass
class Runtime:
    """Time, sleep and randomness for code that waits; tests swap in controlled ones."""

    sleep: Sleep = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
