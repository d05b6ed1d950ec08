"""Every video of one account for transcription, through the shared pager (:mod:`tiktok.pages`).

Pages come newest first, so ``since`` stops the paging at the first older video. Each page goes through the retry
engine with the Display API policy (429, 5xx and dropped connections waited out, bounded); when it gives up,
``VideoListUnavailable`` says so plainly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from tiktok.api import ApiClient
from tiktok.errors import RateLimited, TikTokError
from tiktok.pages import video_pages
from tiktok.retry import DISPLAY_RETRY, GaveUp, Runtime, call_with_retry

LIST_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height",
               "width", "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count",
               "view_count", "is_aigc")  # video object docs: every documented field

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
    cover_url: str = ""  # cover_image_url: expires (TTL 6 hours per the video object docs); never hot-linked
    view_count: int | None = None
    like_count: int | None = None
    comment_count: int | None = None
    share_count: int | None = None

    @property
    def username(self) -> str:
        """The ``@name`` part of the share URL (``https://www.tiktok.com/@name/video/<id>``), or ""."""
        first = unquote(urlsplit(self.share_url).path).lstrip("/").split("/", 1)[0]
        return first[1:] if first.startswith("@") else ""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Video:
        def number(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        return cls(id=str(data.get("id") or ""), create_time=number("create_time"),
                   title=str(data.get("title") or ""), description=str(data.get("video_description") or ""),
                   share_url=str(data.get("share_url") or ""), duration=number("duration"),
                   cover_url=str(data.get("cover_image_url") or ""), view_count=number("view_count"),
                   like_count=number("like_count"), comment_count=number("comment_count"),
                   share_count=number("share_count"))


def list_videos(api: ApiClient, token_call: TokenCall, *, limit: int | None = None, since: float | None = None,
                runtime: Runtime | None = None) -> list[Video]:
    """The account's videos, newest first: all of them, at most ``limit``, or those created at/after ``since``."""
    runtime = runtime or Runtime(policy=DISPLAY_RETRY)
    def fetch(body: dict[str, Any]) -> dict[str, Any]:
        try:
            return call_with_retry(
                lambda: token_call(lambda token: api.video_page(token, LIST_FIELDS, body)),
                runtime)
        except GaveUp as gave_up:
            raise VideoListUnavailable(_give_up_message(gave_up)) from None

    videos: list[Video] = []
    for page in video_pages(fetch):
        fresh = [v for v in map(Video.from_api, page) if since is None or (v.create_time or 0) >= since]
        videos.extend(fresh)
        if len(fresh) < len(page) or (limit is not None and len(videos) >= limit):
            break  # reached older videos, or enough of them
    return videos if limit is None else videos[:limit]


def _give_up_message(gave_up: GaveUp) -> str:
    last = gave_up.last
    what = "rate-limited (HTTP 429)" if isinstance(last, RateLimited) else "unavailable"
    tried = (f"asked to wait {gave_up.wait_too_long:.0f} s" if gave_up.wait_too_long is not None
             else f"after {gave_up.attempts} attempt(s)")
    return (f"TikTok's video list was {what} ({tried}): {last}; the videos could not be listed, "
            "run again later")
