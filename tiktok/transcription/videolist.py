"""Every video of one account through ``POST /v2/video/list/``, page by page, with rate limits waited out (bounded).

``fields`` goes in the query string and ``cursor``/``max_count`` in the JSON body (reference section 6.2). Pages come
newest first, so ``since`` stops the paging at the first older video. A 429 (or a 5xx / dropped connection) is
retried after ``Retry-After`` or a doubling backoff, at most ``max_attempts`` times per page; then
``VideoListUnavailable`` says so plainly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from tiktok.api import ApiClient
from tiktok.errors import RateLimited, TikTokError

LIST_PATH = "/v2/video/list/"
PAGE_SIZE = 20  # video list docs: max_count "max 20"
LIST_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height",
               "width", "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count",
               "view_count", "is_aigc")  # video object docs: every documented field
MAX_ATTEMPTS = 4  # per page, including the first try
BASE_BACKOFF_S = 2.0  # first wait when TikTok sends no Retry-After; doubles each time
MAX_WAIT_S = 120.0  # a longer Retry-After is not waited out: the run stops and says to try later

T = TypeVar("T")
TokenCall = Callable[[Callable[[str], T]], T]  # runs ``fn(access_token)`` with a fresh token (call_with_token)


class VideoListUnavailable(TikTokError):
    """TikTok kept refusing the video list (rate limit or server trouble); a later run may work."""

    transient = True


@dataclass(frozen=True)
class Video:
    """The parts of a Display API video object the transcriber uses."""

    id: str
    create_time: int | None
    title: str
    description: str
    share_url: str
    duration: int | None

    @property
    def username(self) -> str:
        """The ``@name`` part of the share URL (``https://www.tiktok.com/@name/video/<id>``), or ""."""
        first = unquote(urlsplit(self.share_url).path).lstrip("/").split("/", 1)[0]
        return first[1:] if first.startswith("@") else ""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Video:
        create_time = data.get("create_time")
        duration = data.get("duration")
        return cls(id=str(data.get("id") or ""), create_time=create_time if isinstance(create_time, int) else None,
                   title=str(data.get("title") or ""), description=str(data.get("video_description") or ""),
                   share_url=str(data.get("share_url") or ""), duration=duration if isinstance(duration, int) else None)


def list_videos(api: ApiClient, token_call: TokenCall, *, limit: int | None = None, since: float | None = None,
                sleep: Callable[[float], None] = time.sleep, max_attempts: int = MAX_ATTEMPTS) -> list[Video]:
    """The account's videos, newest first: all of them, at most ``limit``, or those created at/after ``since``."""
    videos: list[Video] = []
    cursor: int | None = None
    while limit is None or len(videos) < limit:
        data = _page(api, token_call, cursor, sleep, max_attempts)
        page = [Video.from_api(v) for v in data.get("videos") or [] if isinstance(v, dict)]
        fresh = [v for v in page if since is None or (v.create_time or 0) >= since]
        videos.extend(fresh)
        next_cursor = data.get("cursor")
        if (not data.get("has_more") or len(fresh) < len(page) or not page
                or not isinstance(next_cursor, int) or next_cursor == cursor):
            break  # no more pages, reached older videos, or TikTok's cursor would repeat this page forever
        cursor = next_cursor
    return videos if limit is None else videos[:limit]


def _page(api: ApiClient, token_call: TokenCall, cursor: int | None, sleep: Callable[[float], None],
          max_attempts: int) -> dict[str, Any]:
    body: dict[str, Any] = {"max_count": PAGE_SIZE}
    if cursor is not None:
        body["cursor"] = cursor
    params = {"fields": ",".join(LIST_FIELDS)}
    for attempt in range(1, max_attempts + 1):
        try:
            return token_call(lambda token: api.call("POST", LIST_PATH, token, params=params, json=body))
        except TikTokError as exc:
            if not exc.transient:
                raise
            wait = wait_before_retry(exc, attempt)
            if attempt == max_attempts or wait > MAX_WAIT_S:
                raise VideoListUnavailable(_give_up_message(exc, attempt)) from None
            sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


def wait_before_retry(exc: TikTokError, attempt: int) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): TikTok's Retry-After, else a doubling backoff."""
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return exc.retry_after
    return BASE_BACKOFF_S * 2 ** (attempt - 1)


def _give_up_message(exc: TikTokError, attempts: int) -> str:
    what = "rate-limited (HTTP 429)" if isinstance(exc, RateLimited) else "unavailable"
    return (f"TikTok's video list was {what} after {attempts} attempt(s): {exc}; the videos could not be listed, "
            "run again later")
