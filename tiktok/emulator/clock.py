"""A controllable clock: real time plus an offset that tests move forward."""

from __future__ import annotations

import threading
import time
from typing import Callable


class EmulatorClock:
    """``now()`` is ``time_fn() + offset``; ``advance(s)`` moves it forward without sleeping."""

    def __init__(self, time_fn: Callable[[], float] = time.time) -> None:
        self._time_fn = time_fn
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._time_fn() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards) and return the new now."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()
