"""The one retry engine: policy as data, one loop, and the rule that a retry never posts twice.

Every caller that retries (posting calls, chunk PUTs, the report's reads, the video-list pager) goes through
:func:`call_with_retry`. What may be retried is decided by :func:`may_retry`:

- only an error whose ``transient`` flag is set (429, 5xx, no answer) is tried again;
- a call that may create a post (``idempotent=False``) is retried only when TikTok refused it *before* doing any
  work (HTTP 429 ``rate_limit_exceeded``); after a 5xx or a lost answer the post may exist, so the caller stops
  and says so instead of sending it again.

Waits honour ``Retry-After`` (never shortened by jitter); one longer than ``max_retry_after_s`` is not waited
out. Jitter comes from an injected ``random.Random`` and sleeping from an injected function, so tests never sleep.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from tiktok.errors import RateLimited, TikTokError

Sleep = Callable[[float], None]
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6             # per request (a chunk, a status poll), including the first try
    base_delay_s: float = 1.0         # first backoff; doubles each attempt
    max_delay_s: float = 60.0         # cap on one backoff
    max_retry_after_s: float = 300.0  # a longer Retry-After than this is not waited out: stop, try later
    jitter: float = 0.25              # +/- fraction of the backoff
    rate_limit_floor_s: float = 0.0   # least wait after a 429 that names no Retry-After

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random, *,
              rate_limited: bool = False) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return retry_after  # the server said when; do not shorten it with jitter
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        wait = max(0.0, backoff * (1 + self.jitter * (2 * rng.random() - 1)))
        return max(wait, self.rate_limit_floor_s) if rate_limited else wait


# The Display API allows 600 requests a minute (reference 7): a short backoff clears a burst; a longer ban is
# "try later". Used by the report's reads and by transcription's video listing.
DISPLAY_RETRY = RetryPolicy(max_attempts=4, base_delay_s=2.0, max_delay_s=30.0, max_retry_after_s=120.0)


@dataclass
class Runtime:
    """Time, sleep and randomness for code that waits; tests swap in controlled ones."""

    sleep: Sleep = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class GaveUp(TikTokError):
    """Retrying stopped while the failure was still transient: attempts ran out, or the wait asked was too long.

    ``last`` is the final error; a later run may succeed."""

    transient = True

    def __init__(self, last: Exception, attempts: int, *, wait_too_long: float | None = None) -> None:
        self.last, self.attempts, self.wait_too_long = last, attempts, wait_too_long
        why = (f"TikTok asked to wait {wait_too_long:.0f} s" if wait_too_long is not None
               else f"still failing after {attempts} attempt(s)")
        super().__init__(f"{why}: {last}")


def retry_after_of(exc: Exception) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, (int, float)) else None


def may_retry(exc: Exception, *, idempotent: bool = True) -> bool:
    """May the same request be sent again after ``exc``? (See the module docstring for the rule.)"""
    if not getattr(exc, "transient", False):
        return False
    return idempotent or isinstance(exc, RateLimited)


def call_with_retry(action: Callable[[], T], runtime: Runtime, *, idempotent: bool = True,
                    retryable: Callable[[Exception], bool] | None = None) -> T:
    """``action()``, tried again under ``runtime.policy`` while :func:`may_retry` (or ``retryable``) allows.

    An error that may not be retried propagates unchanged; one that may, but cannot be waited out any more,
    becomes :class:`GaveUp` (chained to it)."""
    policy = runtime.policy
    allowed = retryable or (lambda exc: may_retry(exc, idempotent=idempotent))
    attempt = 1
    while True:
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - filtered by ``allowed``; everything else re-raised as it is
            if not allowed(exc):
                raise
            retry_after = retry_after_of(exc)
            if retry_after is not None and retry_after > policy.max_retry_after_s:
                raise GaveUp(exc, attempt, wait_too_long=retry_after) from exc
            if attempt >= policy.max_attempts:
                raise GaveUp(exc, attempt) from exc
            runtime.sleep(policy.delay(attempt, retry_after, runtime.rng,
                                       rate_limited=isinstance(exc, RateLimited)))
            attempt += 1
