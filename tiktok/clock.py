"""The time this process goes by: the machine's in real mode, the emulator's in emulated mode (issue 27, item 7).

The TikTok emulator keeps a clock that tests and demos move forward (``POST /_emulator/clock``). In emulated mode
everything that asks "what time is it?" of the world (the report's day, a posting run's and the app's runner's
schedule, the composer's, the slots' and the import's now: ``ctx.world_clock``, the app's ``WORLD_CLOCK``) asks
:func:`clock_for`, so moving the emulator a day on writes the next day's report and makes tomorrow's posts due: the
emulated world keeps one time. Real mode never asks anyone: ``time.time``.

Leases, holds and expiry (claims, alert deliveries, sign-in windows) keep the machine's clock (or PostgreSQL's): they
measure how long a process has really held something, and a jump of the emulator must not end a hold another
process still has (two processes would then send one alert twice).

Asking the emulator on every call would cost a round trip in hot loops, so :class:`EmulatorClock` learns the offset
between the emulator's ``now`` and this machine's ``time.time()`` (the emulator's reading taken as the middle of the
round trip), keeps it for ``RELEARN_S`` and returns ``time.time() + offset``: a call is an addition, at most one
loopback request a ``RELEARN_S``. An emulator that cannot be asked leaves the last offset (0 at first) and is asked
again ``RELEARN_S`` later; an API base that answers but has no emulator clock (a proxy to TikTok) is never asked
again. The same shape as :class:`tiktok.db.clock.DatabaseClock`, the database's clock in PostgreSQL mode.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tiktok.config import Settings

log = logging.getLogger(__name__)

RELEARN_S = 1.0  # the emulator's offset is asked again this often: a test's "advance a day" is seen within it
TIMEOUT_S = 2.0  # loopback: an emulator slower than this is busy; the last offset is kept
CLOCK_PATH = "/_emulator/clock"  # tiktok.emulator.control: {"now": epoch seconds, "iso": ...}


class EmulatorClock:
    """``time.time()`` on the emulator's clock at ``base_url`` (epoch seconds); ``local``, ``monotonic`` and
    ``get`` (``requests.get``'s shape) are injected by tests."""

    def __init__(self, base_url: str, *, local: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, relearn_s: float = RELEARN_S,
                 get: Callable[..., Any] | None = None) -> None:
        self.url = base_url.rstrip("/") + CLOCK_PATH
        self.local, self.monotonic, self.relearn_s = local, monotonic, relearn_s
        self.offset = 0.0  # the emulator's clock minus this machine's, seconds
        self.asked = 0  # how many times the emulator was asked (tests check the cache)
        self._get = get
        self._next = float("-inf")  # monotonic time of the next look
        self._gone = False  # the API base has no emulator clock: never ask again
        self._tried = False  # until the first answer (or failure) every caller waits for it
        self._lock = threading.Lock()

    def __call__(self) -> float:
        if not self._gone and self.monotonic() >= self._next and self._lock.acquire(blocking=not self._tried):
            try:
                if self.monotonic() >= self._next:
                    self.learn()
            finally:
                self._lock.release()
        return self.local() + self.offset

    def learn(self) -> float | None:
        """Ask the emulator for its time now; the new offset, or None (the last one kept) when it cannot say."""
        self._next, self._tried = self.monotonic() + self.relearn_s, True
        self.asked += 1
        get = self._get or _requests_get()
        try:
            before = self.local()
            response = get(self.url, timeout=TIMEOUT_S)
            after = self.local()
            if getattr(response, "status_code", 200) == 404:
                self._gone = True
                log.warning("%s answers 404: the API base is not the TikTok emulator, so this process keeps the "
                            "machine's clock", self.url)
                return None
            response.raise_for_status()
            now = float(response.json()["now"])
        except Exception as exc:  # noqa: BLE001 - not started yet, busy, or a body without "now": ask again soon
            log.debug("could not read the emulator's clock at %s: %s", self.url, type(exc).__name__)
            return None
        self.offset = now - (before + after) / 2
        return self.offset


def _requests_get():
    import requests  # only in emulated mode: a real run never pays for it here

    return requests.get


@functools.cache
def emulator_clock(base_url: str) -> EmulatorClock:
    """This process's clock for the emulator at ``base_url`` (one per address, shared by every page and run)."""
    return EmulatorClock(base_url)


def schedule_clock(settings: Settings, fallback: Callable[[], float]) -> Callable[[], float]:
    """The clock a posting run's schedule goes by: the emulator's in emulated mode with the SQLite store, else
    ``fallback``, the store's own. With DATABASE_URL that is the database server's (:mod:`tiktok.db.clock`, which
    warns of a machine clock far from it), the one clock the workers' dispatch goes by on every machine."""
    return clock_for(settings) if settings.tiktok.emulated and not settings.store.database_url else fallback


def clock_for(settings: Settings) -> Callable[[], float]:
    """The clock of a process with ``settings``: the emulator's when they are emulated, else ``time.time``."""
    if not settings.tiktok.emulated:
        return time.time
    return emulator_clock(settings.tiktok.api_base)
