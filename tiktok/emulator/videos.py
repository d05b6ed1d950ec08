"""``POST /v2/video/list/`` and ``POST /v2/video/query/`` (reference §6.2-6.4), plus control routes for the catalogue.

Both need scope ``video.list`` and a ``fields`` query parameter (body fields are ignored, as TikTok's examples put
them in the query). Choices where TikTok is silent (EMU, reference §6.2, §6.3):
- a missing or unknown field, ``max_count`` outside 1..20, a bad ``cursor`` and more than 20 or no ids are 400
  ``invalid_params`` naming the problem;
- ``cursor`` 0 or absent means "from the newest"; otherwise only videos created strictly before that millisecond;
  the returned cursor is the creation millisecond of the last video on the page (the request's cursor, or 0, when
  the page is empty);
- query returns the caller's own public videos in the order asked, each once; foreign or unknown ids are omitted.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from flask import Blueprint, g, jsonify, request

from .bearer import require_token
from .catalogue import CatalogueVideo, account_stats, emulated_day, public_videos, video_stats
from .config import EmulatedUser
from .envelope import api_error, current_state, ok
from .media_server import COVER_TTL_S, cover_url, embed_link, share_url
from .user_info import parse_fields

bp = Blueprint("videos", __name__)

VIDEO_PER_MINUTE = 600      # rate-limit page: video/list and video/query, 600 requests / minute
MAX_COUNT = 20              # video list docs: max_count "max 20"
DEFAULT_MAX_COUNT = 10      # video list docs: default 10
MAX_QUERY_IDS = 20          # video query docs: "up to 20"
VIDEO_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height",
                "width", "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count",
                "view_count", "is_aigc")  # video object docs (2026-08-24 version adds is_aigc)


class InvalidParams(ValueError):
    """A request the Display API answers with 400 ``invalid_params``."""


def video_object(video: CatalogueVideo, user: EmulatedUser, base_url: str, client_key: str,
                 now_s: float) -> dict[str, Any]:
    """Every documented field of ``video`` as the API shows it at ``now_s``."""
    share = share_url(base_url, user.username, video.id, client_key)
    profile = f"{base_url}/_emulator/profile/{quote(user.username)}"
    handle = escape(user.username)
    embed_html = (f'<blockquote class="tiktok-embed" cite="{escape(share)}" data-video-id="{video.id}" '
                  f'style="max-width: 605px;min-width: 325px;"><section><a target="_blank" title="@{handle}" '
                  f'href="{escape(profile)}">@{handle}</a> {escape(video.title)}</section></blockquote>')
    stats = video_stats(video.id, video.created_day, emulated_day(now_s))
    return {
        "id": video.id, "create_time": video.create_time,
        "cover_image_url": cover_url(base_url, video.id, int(now_s) + COVER_TTL_S),
        "share_url": share, "video_description": video.description, "duration": video.duration,
        "height": video.height, "width": video.width, "title": video.title,
        "embed_html": embed_html, "embed_link": embed_link(base_url, video.id),
        "like_count": stats.like_count, "comment_count": stats.comment_count, "share_count": stats.share_count,
        "view_count": stats.view_count, "is_aigc": video.is_aigc,
    }


def check_fields(fields: list[str]) -> None:
    if not fields:
        raise InvalidParams("The fields parameter is required.")
    unknown = [f for f in fields if f not in VIDEO_FIELDS]
    if unknown:
        raise InvalidParams(f"Invalid fields: {','.join(unknown)}.")


def _whole_number(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidParams(f"{name} must be an integer.")
    return value


def list_params(body: Any) -> tuple[int, int]:
    """``(cursor_ms, max_count)`` from a video/list body; cursor 0 means "from the newest"."""
    if not isinstance(body, dict):
        raise InvalidParams("The request body must be a JSON object.")
    cursor, max_count = _whole_number(body, "cursor"), _whole_number(body, "max_count")
    if cursor is not None and cursor < 0:
        raise InvalidParams("cursor must be a UTC epoch time in milliseconds.")
    if max_count is not None and not 1 <= max_count <= MAX_COUNT:
        raise InvalidParams(f"max_count must be between 1 and {MAX_COUNT}.")
    return cursor or 0, DEFAULT_MAX_COUNT if max_count is None else max_count


def query_ids(body: Any) -> list[str]:
    """The distinct video ids of a video/query body, in order."""
    filters = body.get("filters") if isinstance(body, dict) else None
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidParams("filters.video_ids must be a non-empty list of video id strings.")
    if len(ids) > MAX_QUERY_IDS:
        raise InvalidParams(f"filters.video_ids accepts at most {MAX_QUERY_IDS} ids.")
    return list(dict.fromkeys(ids))


def page_of(videos: list[CatalogueVideo], cursor_ms: int, max_count: int) -> tuple[list[CatalogueVideo], int, bool]:
    """One list page of newest-first ``videos``: ``(page, next cursor, has_more)``."""
    older = [v for v in videos if not cursor_ms or v.create_ms < cursor_ms]
    page = older[:max_count]
    return page, page[-1].create_ms if page else cursor_ms, len(older) > len(page)


def _request_body() -> Any:
    """The JSON body; an empty body counts as ``{}``."""
    if not request.get_data():
        return {}
    return request.get_json(force=True, silent=True)


def _render(videos: list[CatalogueVideo], fields: list[str]) -> list[dict[str, Any]]:
    state = current_state()
    base_url, now = request.host_url.rstrip("/"), state.now()
    return [{name: full[name] for name in fields}
            for full in (video_object(v, g.user, base_url, state.config.client_key, now) for v in videos)]


@bp.post("/v2/video/list/")
@require_token("video.list", limit_per_minute=VIDEO_PER_MINUTE)
def list_videos():
    fields = parse_fields(request.args.get("fields"))
    try:
        check_fields(fields)
        cursor, max_count = list_params(_request_body())
    except InvalidParams as exc:
        return api_error("invalid_params", str(exc), 400)
    page, next_cursor, has_more = page_of(public_videos(current_state(), g.grant.open_id), cursor, max_count)
    return ok({"videos": _render(page, fields), "cursor": next_cursor, "has_more": has_more})


@bp.post("/v2/video/query/")
@require_token("video.list", limit_per_minute=VIDEO_PER_MINUTE)
def query_videos():
    fields = parse_fields(request.args.get("fields"))
    try:
        check_fields(fields)
        wanted = query_ids(_request_body())
    except InvalidParams as exc:
        return api_error("invalid_params", str(exc), 400)
    own = {v.id: v for v in public_videos(current_state(), g.grant.open_id)}
    found = [own[i] for i in wanted if i in own]
    return ok({"videos": _render(found, fields), "cursor": 0, "has_more": False})


def _catalogue_view(user: EmulatedUser) -> dict[str, Any]:
    state = current_state()
    base_url, now = request.host_url.rstrip("/"), state.now()
    videos = [video_object(v, user, base_url, state.config.client_key, now)
              for v in public_videos(state, user.open_id)]
    return {"open_id": user.open_id, "day": emulated_day(now), "stats": account_stats(state, user), "videos": videos}


@bp.get("/_emulator/videos/<open_id>")
def catalogue_view(open_id: str):
    """Control: the user's public videos newest first with every field, plus the user's stats, as of now."""
    user = current_state().user(open_id)
    if user is None:
        return jsonify({"error": f"no emulated user {open_id}"}), 404
    return jsonify(_catalogue_view(user))


@bp.post("/_emulator/videos/<open_id>")
def add_video(open_id: str):
    """Control: add a public video created now (optional JSON ``{"title": ...}``); answers its full object."""
    state = current_state()
    user = state.user(open_id)
    if user is None:
        return jsonify({"error": f"no emulated user {open_id}"}), 404
    body = _request_body()
    title = body.get("title") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(title, (str, type(None))):
        return jsonify({"error": "body must be a JSON object with an optional string title"}), 400
    with state.lock:
        video = state.catalogue.add(user, state.now(), title)
    full = video_object(video, user, request.host_url.rstrip("/"), state.config.client_key, state.now())
    return jsonify({"video": full}), 201
