"""TikTok's per-token limits held across every process and machine: the sliding windows live in PostgreSQL.

The same rule as :class:`tiktok.ratelimit.TokenLimiter` (and its pure :func:`~tiktok.ratelimit.wait_for_slot`), with
the calls of the current window kept as rows of ``tiktok_rate_calls``. One acquire is one short transaction that
takes a transaction-scoped advisory lock for its ``(open_id, kind)``, drops the rows that left the window, counts the
rest and either records the call or learns how long to wait; it never holds the lock while waiting. Time is the
database server's clock (``clock_timestamp()``), so workers whose own clocks differ still share one window. Each
transaction borrows a connection of the process's accounts pool (:func:`~tiktok.db.connection.transaction`, within
``DATABASE_POOL_SIZE``) and gives it back before any wait.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Mapping

from tiktok.db.connection import transaction
from tiktok.ratelimit import MARGIN_S, WINDOW_S, check_limits, wait_for_slot


class PgLimiter:
    def __init__(self, url: str, limits: Mapping[str, int], window_s: float = WINDOW_S, margin_s: float = MARGIN_S,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        check_limits(limits, window_s, margin_s)
        self.url, self.limits, self.sleep = url, dict(limits), sleep
        self.span_s = float(window_s) + float(margin_s)
        self.waited_s = 0.0

    def acquire(self, open_id: str, kind: str) -> float:
        """Take a slot for one ``kind`` call as ``open_id``, waiting as long as needed; returns the seconds waited."""
        limit = self.limits.get(kind)
        if limit is None:
            raise ValueError(f"no limit for {kind!r} (known: {', '.join(sorted(self.limits))})")
        waited = 0.0
        while True:
            wait = self._try(open_id, kind, limit)
            if wait <= 0:
                self.waited_s += waited
                return waited
            self.sleep(wait)
            waited += wait

    def _try(self, open_id: str, kind: str, limit: int) -> float:
        with transaction(self.url) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"rate:{open_id}:{kind}",))
            now = float(conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])
            conn.execute("DELETE FROM tiktok_rate_calls WHERE open_id = %s AND kind = %s AND at <= %s",
                         (open_id, kind, now - self.span_s))
            stamps = deque(row[0] for row in conn.execute(
                "SELECT at FROM tiktok_rate_calls WHERE open_id = %s AND kind = %s ORDER BY at", (open_id, kind)))
            wait = wait_for_slot(stamps, limit, now, self.span_s)
            if wait <= 0:
                conn.execute("INSERT INTO tiktok_rate_calls (open_id, kind, at) VALUES (%s, %s, %s)",
                             (open_id, kind, now))
            return wait

    def calls(self, open_id: str, kind: str) -> int:
        """How many ``kind`` calls of ``open_id`` fall in the current window (all processes)."""
        with transaction(self.url) as conn:
            return conn.execute("SELECT count(*) FROM tiktok_rate_calls WHERE open_id = %s AND kind = %s AND "
                                "at > extract(epoch FROM clock_timestamp()) - %s",
                                (open_id, kind, self.span_s)).fetchone()[0]
