"""``POST /v2/video/list/``, page by page: the one pager that transcription and the report share.

``fields`` goes in the query string and ``cursor``/``max_count`` in the JSON body (reference section 6.2). Pages
come newest first; ``cursor`` is a timestamp that must move back in time while ``has_more`` is true. A cursor
that does not (missing, not a number, repeating or moving forward) would page forever or skip videos, so it is a
``malformed_response`` ServerError, never a silent stop. Each page is fetched through ``fetch`` (the caller's
token handling and retries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tiktok.errors import ServerError

LIST_PATH = "/v2/video/list/"
PAGE_SIZE = 20  # video list docs: max_count "max 20"
MAX_PAGES = 5_000  # 100,000 videos: a guard against a cursor that never ends, far above any real account

FetchPage = Callable[[dict[str, Any]], dict[str, Any]]  # JSON body -> the envelope's ``data``


def video_pages(fetch: FetchPage, *, max_pages: int = MAX_PAGES) -> Iterator[list[dict[str, Any]]]:
    """Each page's video objects (dicts only), newest page first, until ``has_more`` is false."""
    cursor: int | None = None
    for _ in range(max_pages):
        data = fetch({"max_count": PAGE_SIZE, **({"cursor": cursor} if cursor is not None else {})})
        yield [video for video in data.get("videos") or [] if isinstance(video, dict)]
        if not data.get("has_more"):
            return
        cursor = next_cursor(cursor, data.get("cursor"))
    raise ServerError("malformed_response", f"video list still has_more after {max_pages} pages")


def next_cursor(current: int | None, answered: Any) -> int:
    """The cursor for the next page; ServerError when TikTok's does not move back in time."""
    if isinstance(answered, bool) or not isinstance(answered, int) or (current is not None and answered >= current):
        raise ServerError("malformed_response", f"video list says has_more but its cursor {answered!r} does not "
                                                "move back in time")
    return answered
