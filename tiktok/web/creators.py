"""The composer's creator_info answers: kept per account for a short time, asked once at a time, and every call
through the request limiter the app's posting runs use.

TikTok allows 20 creator_info queries a minute per user access token (reference 3.1 and 7; ``POSTING_LIMITS``), and
a posting run spends one per post. Without this, every composer page view, upload and form POST asked TikTok on its
own, outside the limiter: 8 composes a minute on an account being posted drew 429s and refused composes (issue 23).
TikTok's content-sharing guidelines ask for creator_info when the post page is rendered (reference 8.4); an answer a
few seconds old is that answer, as the creator's settings change only in the TikTok app. The rules:

- A good answer is used for :data:`FRESH_S` (15 s): by page views, uploads and the form's POST alike, so the POST
  applies every rule with an answer at most 15 s old. That is at most 5 queries in a limiter window per account
  from the composer however fast people compose, leaving 15 of TikTok's 20 for the runs (one per post; inits, 6 a
  minute, pace them) and for retries.
- TikTok's refusal (``spam_risk_too_many_posts``, ``spam_risk_user_banned_from_posting``,
  ``reached_active_user_cap``) is kept :data:`REFUSAL_S` (5 s): enough for a page view and the upload it starts,
  short enough that a person who tries again sees TikTok's new answer. "Link again" and "no answer" are never
  kept: a relink takes effect at once, and a failure is worth asking again.
- One account's questions go one at a time (single flight): requests that arrive while one is being asked wait for
  it and share its answer, whatever it is.
- Every attempt (the retry after a token refresh included) first takes a ``creator_info`` slot from the shared
  limiter (:func:`posting_limiter`): the app's background runner uses the same object on one machine
  (:mod:`tiktok.web.queue_runner`), and with DATABASE_URL the limiter's windows live in PostgreSQL, shared with
  every worker (:func:`tiktok.store.base.shared_limiter`).
- When the limiter has no free slot, or TikTok gives no answer (429, 5xx, no connection), a good answer up to
  :data:`STALE_S` (60 s, one limiter window) old is used instead. With none that recent, the request waits for its
  slot (never longer than the limiter's window, in practice seconds, since the composer's share leaves room):
  our own limiter never refuses a compose.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from flask import Flask

from tiktok.posting.client import CreatorInfo
from tiktok.posting.limits import POSTING_LIMITS
from tiktok.store.base import shared_limiter

log = logging.getLogger(__name__)

KIND = "creator_info"  # the limiter's name for TikTok's creator_info window
FRESH_S = 15.0  # a good answer serves page views, uploads and the form's POST this long
REFUSAL_S = 5.0  # TikTok's refusal (spam_risk_*, reached_active_user_cap) is kept this long
STALE_S = 60.0  # a good answer this old still serves when no slot is free or TikTok gives no answer
CACHE_KEY = "tiktok_creators"
LIMITER_KEY = "tiktok_posting_limiter"
_INSTALL = threading.Lock()  # builds each app's limiter and cache once


class Limiter(Protocol):
    """What :class:`~tiktok.ratelimit.TokenLimiter` and :class:`~tiktok.db.ratelimit.PgLimiter` both offer."""

    limits: dict[str, int]

    def acquire(self, open_id: str, kind: str) -> float: ...

    def calls(self, open_id: str, kind: str) -> int: ...


class Refused(Protocol):
    """Why there is no creator info (the composer's ``Refusal``)."""

    kind: str  # refused (TikTok said no), relink or unavailable (no answer)


Pair = tuple[CreatorInfo | None, Any]  # (creator, None) or (None, a Refused)
Ask = Callable[[Callable[[], object]], Pair]  # ask(take_slot): take_slot() before each attempt


@dataclass(frozen=True)
class Answer:
    """One outcome of creator_info: the creator's info, or why there is none; ``at`` is when it arrived."""

    creator: CreatorInfo | None
    refusal: Refused | None
    at: float

    @property
    def pair(self) -> Pair:
        return self.creator, self.refusal


@dataclass
class _Account:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latest: Answer | None = None  # the last call's outcome
    good: Answer | None = None  # the last call that gave the creator's info
    asked: int = 0  # calls finished: a request that saw fewer when it arrived shares the newest
    waiting: int = 0


class CreatorCache:
    """creator_info answers per account under the module's rules; ``clock`` is the app's (tests inject it)."""

    def __init__(self, limiter: Limiter, clock: Callable[[], float]) -> None:
        self.limiter, self.clock = limiter, clock
        self._accounts: dict[str, _Account] = {}
        self._guard = threading.Lock()

    def answer(self, open_id: str, ask: Ask) -> Pair:
        """``(creator, None)`` or ``(None, refusal)`` for ``open_id``. ``ask(take_slot)`` asks TikTok and maps its
        errors to a refusal with a ``kind``; it calls ``take_slot()`` before each attempt it sends."""
        with self._guard:
            account = self._accounts.setdefault(open_id, _Account())
            seen = account.asked
            account.waiting += 1
        try:
            with account.lock:
                if account.asked > seen and account.latest is not None:
                    return account.latest.pair  # asked while this request waited: share that answer
                kept = self._kept(account, self.clock())
                if kept is not None:
                    return kept.pair
                return self._ask(account, open_id, ask).pair
        finally:
            with self._guard:
                account.waiting -= 1

    def waiting(self, open_id: str) -> int:
        """Requests for ``open_id`` in :meth:`answer` now (the one asking included)."""
        with self._guard:
            account = self._accounts.get(open_id)
            return account.waiting if account is not None else 0

    def _kept(self, account: _Account, now: float) -> Answer | None:
        latest = account.latest
        if latest is None:
            return None
        if latest.creator is not None:
            lifetime = FRESH_S
        else:
            lifetime = REFUSAL_S if latest.refusal is not None and latest.refusal.kind == "refused" else 0.0
        return latest if 0 <= now - latest.at < lifetime else None

    def _recent_good(self, account: _Account) -> Answer | None:
        good = account.good
        return good if good is not None and 0 <= self.clock() - good.at < STALE_S else None

    def _ask(self, account: _Account, open_id: str, ask: Ask) -> Answer:
        recent = self._recent_good(account)
        if recent is not None and self.limiter.calls(open_id, KIND) >= self.limiter.limits[KIND]:
            log.info("creator_info for %s: no free slot in the shared limiter; using the answer from %.0f s ago",
                     open_id, self.clock() - recent.at)
            return recent
        creator, refusal = ask(lambda: self.limiter.acquire(open_id, KIND))
        answer = Answer(creator, refusal, self.clock())
        account.latest, account.asked = answer, account.asked + 1
        if creator is not None:
            account.good = answer
            return answer
        recent = self._recent_good(account)
        if recent is not None and refusal is not None and refusal.kind == "unavailable":
            log.info("creator_info for %s gave no answer; using the answer from %.0f s ago", open_id,
                     self.clock() - recent.at)
            account.latest = recent  # requests that waited for this call share the answer used
            return recent
        return answer


def posting_limiter(app: Flask) -> Limiter:
    """The app's one limiter for TikTok's posting endpoints: its runner's and its composer's (with DATABASE_URL,
    windows kept in PostgreSQL and shared with every worker)."""
    with _INSTALL:
        if LIMITER_KEY not in app.extensions:
            app.extensions[LIMITER_KEY] = shared_limiter(app.extensions["tiktok_services"].settings, POSTING_LIMITS)
        return app.extensions[LIMITER_KEY]


def creators_of(app: Flask) -> CreatorCache:
    """The app's creator_info cache, built on first use with the app's limiter and clock."""
    limiter = posting_limiter(app)
    with _INSTALL:
        if CACHE_KEY not in app.extensions:
            app.extensions[CACHE_KEY] = CreatorCache(limiter, app.config["CLOCK"])
        return app.extensions[CACHE_KEY]
