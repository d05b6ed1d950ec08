"""Read one account's current counts from the Display API: user info (stats when granted) and every public video.

Every call goes through :func:`tiktok.auth.access.call_with_token` (fresh token, one refresh on 401) and is retried on a
transient failure (429 ``rate_limit_exceeded``, 5xx, no answer) with bounded backoff from :class:`RetryPolicy`;
sleep and jitter come from an injected :class:`Runtime`, so tests never wait. A failure that persists propagates as
the typed error (``exc.transient`` tells "try later" from the rest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from tiktok.auth.access import call_with_token
from tiktok.api import STATS_USER_FIELDS, USER_INFO_PATH
from tiktok.errors import ServerError
from tiktok.report.snapshot import AccountStats, VideoStats
from tiktok.pages import LIST_PATH, video_pages
from tiktok.ratelimit import TokenLimiter
from tiktok.retry import DISPLAY_RETRY, GaveUp, Runtime, call_with_retry
from tiktok.services import Services
from tiktok.auth.tokens import Account

VIDEO_FIELDS = ("id", "title", "video_description", "create_time", "duration",
                "view_count", "like_count", "comment_count", "share_count")  # video object, reference 6.4
REPORT_RETRY = DISPLAY_RETRY
# Display API: 600 requests per minute per endpoint (reference section 7; per token or per app is UNCONFIRMED, so a
# run keeps each account under it and the default --jobs keeps the whole run far below it).
DISPLAY_LIMITS = {USER_INFO_PATH: 600, LIST_PATH: 600}


def display_limiter(**options) -> TokenLimiter:
    """The one limiter a report run shares between its worker threads."""
    return TokenLimiter(DISPLAY_LIMITS, **options)

@dataclass(frozen=True)
class AccountReading:
    """What the API said about one account now; ``stats`` is None when ``user.info.stats`` was not granted."""

    open_id: str
    username: str | None
    stats: AccountStats | None
    videos: tuple[VideoStats, ...]


class DisplayReader:
    """Reads accounts through one app's services; ``runtime`` supplies sleep, jitter and the retry policy.

    One reader per worker thread (each with its own HTTP session); ``limiter`` is shared by all of them."""

    def __init__(self, services: Services, runtime: Runtime, limiter: TokenLimiter | None = None) -> None:
        self._services = services
        self._runtime = runtime
        self._limiter = limiter

    def _call(self, open_id: str, path: str, request: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """``request(access_token)`` for the endpoint at ``path`` (its rate limit), with a fresh token and retries."""
        svc = self._services
        def once() -> dict[str, Any]:
            if self._limiter is not None:  # every attempt, retries included, takes a slot
                self._limiter.acquire(open_id, path)
            return call_with_token(svc.store, svc.oauth, open_id, request)
        try:
            return call_with_retry(once, self._runtime)
        except GaveUp as gave_up:
            raise gave_up.last from None  # the typed error; its ``transient`` says "try later"

    def read(self, account: Account) -> AccountReading:
        """User info and every public video of ``account``, newest first."""
        username, stats = self.user(account)
        return AccountReading(open_id=account.open_id, username=username, stats=stats,
                              videos=tuple(self.videos(account.open_id)))

    def user(self, account: Account) -> tuple[str | None, AccountStats | None]:
        """The username (profile scope) and the stats (stats scope) the grant allows."""
        profile, with_stats = "user.info.profile" in account.scopes, "user.info.stats" in account.scopes
        fields = ["open_id", *(["username"] if profile else []), *(STATS_USER_FIELDS if with_stats else [])]
        api = self._services.api
        user = self._call(account.open_id, USER_INFO_PATH, lambda token: api.user_info(token, fields))
        username = str(user.get("username") or "") or account.username or None
        if not with_stats:
            return username, None
        counts = {name: _count(user, name) for name in STATS_USER_FIELDS}
        return username, AccountStats(open_id=account.open_id, username=username, **counts)

    def videos(self, open_id: str) -> list[VideoStats]:
        """Every page of ``/v2/video/list/`` (cursor and has_more), each video once."""
        api = self._services.api
        seen: dict[str, VideoStats] = {}
        fetch = lambda body: self._call(open_id, LIST_PATH,  # noqa: E731
                                        lambda token: api.video_page(token, VIDEO_FIELDS, body))
        for page in video_pages(fetch):
            for item in page:
                video = video_from_api(item)
                seen.setdefault(video.video_id, video)
        return list(seen.values())


def video_from_api(item: Any) -> VideoStats:
    """A video object (reference 6.4) as counts; the title falls back to the description when empty."""
    if not isinstance(item, dict) or not item.get("id"):
        raise ServerError("malformed_response", "video list returned a video without an id")
    return VideoStats(video_id=str(item["id"]), title=str(item.get("title") or item.get("video_description") or ""),
                      create_time=_count(item, "create_time"), duration=_count(item, "duration"),
                      view_count=_count(item, "view_count"), like_count=_count(item, "like_count"),
                      comment_count=_count(item, "comment_count"), share_count=_count(item, "share_count"))


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServerError("malformed_response", f"{name} is {type(value).__name__}, not a whole number")
    return value
