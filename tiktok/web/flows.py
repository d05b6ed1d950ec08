"""Logins in progress: each one's OAuth ``state`` and PKCE verifier, kept server-side.

A browser may have several logins in progress (a second tab, a page that requests ``/login/`` again): each
is found by the state TikTok sends back, bound to the browser that started it (a random id in its session
cookie), single-use and good for ``ttl`` seconds. A browser keeps at most ``per_browser`` of them: past that
its newest one is replaced, so its oldest (the one a person is most likely finishing) survive any number of
new starts, and one browser cannot push out another browser's logins. When ``limit`` logins are in progress
in all, new starts are refused rather than any login in progress dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from tiktok.auth.pkce import make_verifier

FLOW_TTL_S = 600  # 10 minutes at TikTok's consent page
PER_BROWSER = 8  # logins in progress one browser keeps
MAX_PENDING = 10_000  # in all; about 2 MB
_ENDED_REMEMBERED = 10_000  # finished or expired states, so a replay is told which


class StateError(Exception):
    """The callback's state cannot be trusted; ``kind`` is missing, reused, expired, replaced or mismatched."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class TooManyLogins(Exception):
    """``limit`` logins are in progress; a new one must wait until some finish or expire."""


@dataclass(frozen=True)
class PendingLogin:
    state: str = field(repr=False)
    verifier: str = field(repr=False)
    browser: str = field(repr=False)
    created_at: float
    relink_open_id: str | None = None
    purpose: str = "account"  # or "person": a person signing in to the app (tiktok.web.people), no account linked


def _key(state: str) -> bytes:
    """Logins are looked up by a hash of their state, so lookup time says nothing about the state itself."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).digest()


class LoginFlows:
    def __init__(self, *, ttl: float = FLOW_TTL_S, clock: Callable[[], float] = time.time,
                 token: Callable[[int], str] = secrets.token_urlsafe, per_browser: int = PER_BROWSER,
                 limit: int = MAX_PENDING) -> None:
        self._ttl = ttl
        self._clock = clock
        self._token = token
        self._per_browser = per_browser
        self._limit = limit
        self._lock = threading.Lock()
        self._pending: OrderedDict[bytes, PendingLogin] = OrderedDict()  # oldest first
        self._by_browser: dict[str, list[bytes]] = {}  # oldest first
        self._ended: OrderedDict[bytes, str] = OrderedDict()  # "used" or "expired", so the answer says which

    def new_browser_id(self) -> str:
        """A random id for a browser's session cookie, binding its logins to it."""
        return self._token(16)

    def start(self, browser: str, relink_open_id: str | None = None, *, purpose: str = "account") -> PendingLogin:
        """A new login for ``browser``: the state and verifier to send to TikTok."""
        pending = PendingLogin(state=self._token(32), verifier=make_verifier(self._token), browser=browser,
                               created_at=self._clock(), relink_open_id=relink_open_id, purpose=purpose)
        key = _key(pending.state)
        with self._lock:
            self._forget_expired()
            mine = self._by_browser.get(browser, [])
            if len(mine) >= self._per_browser:
                self._end(mine[-1], "replaced")
                self._drop(mine[-1])  # the newest; the ones started before it stay
            elif len(self._pending) >= self._limit:
                raise TooManyLogins(f"{self._limit} logins are in progress.")
            self._pending[key] = pending
            self._by_browser.setdefault(browser, []).append(key)
        return pending

    def finish(self, browser: str | None, state: str | None) -> PendingLogin:
        """Consume the login ``state`` names; raises :class:`StateError` when it cannot be trusted."""
        if not state:
            raise StateError("missing", "The answer from TikTok carried no state parameter.")
        key = _key(state)
        with self._lock:
            pending = self._pending.get(key)
            # Only the browser that started a login may finish it; another browser's attempt leaves it alone.
            found = pending is not None and bool(browser) and hmac.compare_digest(pending.browser, browser)
            expired = found and self._clock() - pending.created_at > self._ttl
            if found:
                self._drop(key)
                self._end(key, "expired" if expired else "used")
            ended = self._ended.get(key)
            has_any = bool(browser and self._by_browser.get(browser))
        if not found:
            if ended == "used":
                raise StateError("reused", "This login answer was already used; each one works once.")
            if ended == "expired":
                raise StateError("expired", self._too_long())
            if ended == "replaced":
                raise StateError("replaced", f"This browser started more than {self._per_browser} logins at once, "
                                             "and a newer one took this one's place.")
            if has_any:
                raise StateError("mismatched", "The state in TikTok's answer does not match any login this "
                                               "browser started.")
            raise StateError("missing", "This browser has no login in progress (it may have been started in "
                                        "another browser, the app may have restarted, or cookies are blocked).")
        if expired:
            raise StateError("expired", self._too_long())
        return pending

    def in_progress(self, browser: str) -> int:
        with self._lock:
            return len(self._by_browser.get(browser, ()))

    def _drop(self, key: bytes) -> None:
        pending = self._pending.pop(key)
        mine = self._by_browser[pending.browser]
        mine.remove(key)
        if not mine:
            del self._by_browser[pending.browser]

    def _end(self, key: bytes, how: str) -> None:
        self._ended[key] = how
        while len(self._ended) > _ENDED_REMEMBERED:
            self._ended.popitem(last=False)

    def _forget_expired(self) -> None:
        cutoff = self._clock() - self._ttl
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if oldest.created_at >= cutoff:
                break
            self._drop(key)
            self._end(key, "expired")

    def _too_long(self) -> str:
        return f"The login took longer than {int(self._ttl // 60)} minutes."
