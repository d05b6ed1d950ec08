"""One clock for schedules in PostgreSQL mode: the database server's (issue 22).

Workers on many machines decide "is this post due?" against one clock, the server's, so a machine whose own clock
runs fast never posts early (one 120 s fast posted 114 s early when each worker read its own). Asking the server on
every call would cost a round trip, so :class:`DatabaseClock` learns the offset between the server's
``clock_timestamp()`` and this machine's ``time.time()`` with one query (the server's reading taken as the middle
of the round trip, as NTP does), keeps it for ``RELEARN_S`` and returns ``time.time() + offset``: a call is an
addition, and a machine whose clock is stepped (NTP, a laptop waking up) is followed within minutes.

A machine more than ``WARN_S`` off logs a warning naming the database (never its password) when the offset is
learned, so whoever runs it can fix it; the schedule is right either way. When the server cannot be asked, the
last offset is kept (0 before the first answer) and it is asked again ``RETRY_S`` later: the store's own calls say
what is wrong with the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tiktok.db.connection import connect, describe
from tiktok.errors import TikTokError

log = logging.getLogger(__name__)

RELEARN_S = 300.0  # the offset is asked again this often (one query on a short connection)
RETRY_S = 10.0  # after the server could not be asked
WARN_S = 5.0  # a machine's clock this far from the server's is worth a warning
_clocks: dict[str, "DatabaseClock"] = {}
_clocks_lock = threading.Lock()


class DatabaseClock:
    """``time.time()`` on the database server's clock (epoch seconds); ``local`` and ``monotonic`` are injected by
    tests."""

    def __init__(self, url: str, *, local: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, relearn_s: float = RELEARN_S,
                 retry_s: float = RETRY_S, warn_s: float = WARN_S) -> None:
        self.url = url
        self.local, self.monotonic = local, monotonic
        self.relearn_s, self.retry_s, self.warn_s = relearn_s, retry_s, warn_s
        self.offset = 0.0  # the server's clock minus this machine's, seconds
        self.learned = False
        self._next = float("-inf")  # monotonic time of the next look
        self._lock = threading.Lock()

    def __call__(self) -> float:
        # One thread asks; until the first answer the others wait for it, after that they go on with the last offset.
        if self.monotonic() >= self._next and self._lock.acquire(blocking=not self.learned):
            try:
                if self.monotonic() >= self._next:  # not asked meanwhile by the thread this one waited for
                    self.learn()
            finally:
                self._lock.release()
        return self.local() + self.offset

    def learn(self) -> float | None:
        """Ask the server for its time now; the new offset, or None (the last one kept) when it cannot be asked."""
        try:
            offset = self._measure()
        except Exception as exc:  # noqa: BLE001 - unreachable, or psycopg's error mid-query: ask again soon
            self._next = self.monotonic() + self.retry_s
            said = str(exc) if isinstance(exc, TikTokError) else type(exc).__name__  # ours never hold the password
            log.debug("could not read the clock of %s: %s", describe(self.url), said)
            return None
        self.offset, self.learned = offset, True
        self._next = self.monotonic() + self.relearn_s
        if abs(offset) > self.warn_s:
            log.warning("this machine's clock is %.1f s %s the clock of %s: schedules follow the database's clock, "
                        "so posts still go out on time, but set this machine's clock right (NTP: timedatectl "
                        "set-ntp true)", abs(offset), "ahead of" if offset < 0 else "behind", describe(self.url))
        return offset

    def _measure(self) -> float:
        conn = connect(self.url, autocommit=True)
        try:
            before = self.local()
            (server,) = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
            after = self.local()
        finally:
            conn.close()
        return float(server) - (before + after) / 2


def database_clock(url: str) -> DatabaseClock:
    """This process's clock for the database at ``url`` (one per URL, shared by every store and job)."""
    with _clocks_lock:
        clock = _clocks.get(url)
        if clock is None:
            clock = _clocks[url] = DatabaseClock(url)
        return clock
