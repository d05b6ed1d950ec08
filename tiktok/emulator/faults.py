"""Injected faults: the next N requests to one exact path fail in a chosen way.

A fault may delay (real seconds, before anything else), drop the TCP connection without a response, or answer with a
status and error. Defaults: an ``error`` without ``status`` answers HTTP 500; a ``status`` without ``error`` uses the
usual code for that status. ``status=200`` with an error emulates TikTok's HTTP-200-with-error answers.
``retry_after`` adds a Retry-After header to an answering fault; a fault with neither status nor error only delays
(or drops). ``drop_after_bytes`` reads that many request-body bytes and then drops the connection (a chunk PUT
cut off mid-body).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

_API_CODES = {401: "access_token_invalid", 403: "spam_risk_too_many_posts", 429: "rate_limit_exceeded"}
_OAUTH_CODES = {400: "invalid_request", 401: "invalid_client", 503: "temporarily_unavailable"}


@dataclass
class Fault:
    """One queued fault; ``times`` counts down as requests consume it."""

    path: str
    times: int = 1
    status: int | None = None
    error: str | None = None
    message: str | None = None
    retry_after: float | None = None
    drop: bool = False
    delay: float = 0.0
    drop_after_bytes: int | None = None

    @property
    def answers(self) -> bool:
        """Whether this fault replaces the normal response (otherwise it only delays)."""
        return self.status is not None or self.error is not None

    def response_status(self) -> int:
        return self.status if self.status is not None else 500

    def error_code(self, oauth: bool) -> str:
        """The error string to send: the given one, else a usual one for the status and response shape."""
        if self.error:
            return self.error
        status = self.response_status()
        if oauth:
            return _OAUTH_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
        return _API_CODES.get(status, "internal_error" if status >= 500 else "invalid_params")

    def public(self) -> dict[str, Any]:
        return asdict(self)


def fault_from_json(body: Any) -> Fault:
    """Build a Fault from the control API's JSON body; ValueError names the bad field."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - set(Fault.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    try:
        fault = Fault(**body)
    except TypeError:
        raise ValueError("path is required") from None
    if not isinstance(fault.path, str) or not fault.path.startswith("/"):
        raise ValueError("path must be an absolute path such as /v2/oauth/token/")
    if not isinstance(fault.times, int) or fault.times < 1:
        raise ValueError("times must be an integer >= 1")
    if fault.status is not None and (not isinstance(fault.status, int) or not 100 <= fault.status <= 599):
        raise ValueError("status must be an HTTP status code")
    if not isinstance(fault.delay, (int, float)) or fault.delay < 0:
        raise ValueError("delay must be a number of seconds >= 0")
    if fault.retry_after is not None and (not isinstance(fault.retry_after, (int, float)) or fault.retry_after < 0):
        raise ValueError("retry_after must be a number of seconds >= 0")
    if fault.drop_after_bytes is not None and (not isinstance(fault.drop_after_bytes, int)
                                               or isinstance(fault.drop_after_bytes, bool)
                                               or fault.drop_after_bytes < 0):
        raise ValueError("drop_after_bytes must be an integer >= 0")
    return fault


class FaultQueue:
    """Faults per path, first in first out; not thread-safe on its own (EmulatorState holds the lock)."""

    def __init__(self) -> None:
        self._by_path: dict[str, deque[Fault]] = {}

    def add(self, fault: Fault) -> None:
        self._by_path.setdefault(fault.path, deque()).append(fault)

    def take(self, path: str) -> Fault | None:
        """Consume one use of the oldest fault for ``path``; returns a copy describing this use."""
        queue = self._by_path.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return Fault(**{**asdict(fault), "times": 1})

    def clear(self) -> None:
        self._by_path.clear()

    def public(self) -> list[dict[str, Any]]:
        return [f.public() for queue in self._by_path.values() for f in queue]
