"""The emulator's request log: every request it answers, with its method, path, time and the client's User-Agent.

Tests read it through the control API (``GET /_emulator/requests``, :meth:`EmulatorRemote.requests`) to tell which
process sent what: the tool's HTTP sessions name their process in the User-Agent (``tiktok-local-tool/<version>
pid/<pid>``). The log keeps the last :data:`LIMIT` requests (a deque), so a long benchmark cannot grow it without
bound; ``dropped`` says how many older ones fell out. Nothing secret is kept: no query string, header or body but
the User-Agent.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any, Callable

from flask import Flask, Response, current_app, g, request

EXTENSION_KEY = "tiktok_emulator_requests"
LIMIT = 20_000  # requests kept; each entry is a few hundred bytes, so the log stays under about 10 MB


class RequestLog:
    """The last ``limit`` requests, oldest first, each numbered from 1 in the order they arrived."""

    def __init__(self, limit: int = LIMIT, clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.clock = clock
        self.total = 0

    def add(self, method: str, path: str, user_agent: str) -> dict[str, Any]:
        """Note one request; the entry is returned so its answer's status can be filled in when it is sent."""
        with self._lock:
            entry = {"n": next(self._numbers), "method": method, "path": path, "at": self.clock(),
                     "user_agent": user_agent, "status": None}
            self._entries.append(entry)
            self.total += 1
            return entry

    def view(self, after: int = 0) -> dict[str, Any]:
        """The kept entries numbered above ``after``, and how many requests fell out of the log so far."""
        with self._lock:
            entries = [dict(e) for e in self._entries if e["n"] > after]
            return {"requests": entries, "total": self.total, "dropped": self.total - len(self._entries)}


def log_of(app: Flask) -> RequestLog:
    return app.extensions[EXTENSION_KEY]


def note_request() -> None:
    """``before_request`` hook (the first): every request, control calls and refused ones included."""
    g.logged_request = log_of(current_app).add(request.method, request.path, request.headers.get("User-Agent", ""))


def note_answer(response: Response) -> Response:
    """``after_request`` hook: the status of the answer sent (None stays for a request that broke the emulator)."""
    entry = g.get("logged_request")
    if entry is not None:
        entry["status"] = response.status_code
    return response


def install(app: Flask, limit: int = LIMIT) -> RequestLog:
    log = RequestLog(limit)
    app.extensions[EXTENSION_KEY] = log
    app.before_request(note_request)
    app.after_request(note_answer)
    return log
