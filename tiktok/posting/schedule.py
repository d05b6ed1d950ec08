"""When a manifest entry may be posted: its ``post_at`` against now and the grace period. Pure.

An entry with no ``post_at`` is due at once. One whose time has come is due while it is at most ``grace_s`` late;
later than that it is *missed*: a run reports it and does not post it, because a post meant for Monday 9:00 that
goes out on Wednesday (the machine was off, cron was broken) is rarely what anyone wants. ``--force`` or a new
``post_at`` posts it. The rule applies only to entries not started yet: an entry whose upload or status is in flight
is resumed whatever its time says.
"""

from __future__ import annotations

from typing import Literal

from tiktok.config import DEFAULT_POST_GRACE_S

DEFAULT_GRACE_S = DEFAULT_POST_GRACE_S  # an hour (POST_GRACE's default): cron every 5 minutes, or a laptop waking up

When = Literal["due", "scheduled", "missed"]


def when(due_at: float | None, now: float, grace_s: float = DEFAULT_GRACE_S) -> When:
    """``scheduled`` before ``due_at``, ``due`` from then until ``grace_s`` after it, ``missed`` later."""
    if due_at is None:
        return "due"
    if due_at > now:
        return "scheduled"
    return "due" if now - due_at <= grace_s else "missed"


def next_due(due_ats: list[float | None], now: float) -> float | None:
    """The earliest time still to come among ``due_ats`` (what ``--watch`` sleeps until), or None."""
    future = [t for t in due_ats if t is not None and t > now]
    return min(future) if future else None
