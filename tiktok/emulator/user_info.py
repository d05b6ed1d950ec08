"""``GET /v2/user/info/`` (reference §6.1) plus the avatar and profile pages its URLs point at.

``fields`` is required; an unknown field is 400 ``invalid_params`` and a field whose scope was not granted is 400
``scope_permission_missed`` (both name the field; both UNCONFIRMED upstream). ``profile_web_link`` appears only in
the scopes overview, not the user-info table, so it counts as unknown here.
"""

from __future__ import annotations

import hashlib
from html import escape
from urllib.parse import quote

from flask import Blueprint, Response, abort, g, request

from .bearer import require_token
from .catalogue import account_stats
from .config import EmulatedUser
from .envelope import api_error, current_state, ok

bp = Blueprint("user_info", __name__)

USER_INFO_PER_MINUTE = 600  # rate-limit page: 600 requests / minute

FIELD_SCOPES = {
    "open_id": "user.info.basic", "union_id": "user.info.basic", "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic", "avatar_large_url": "user.info.basic", "display_name": "user.info.basic",
    "bio_description": "user.info.profile", "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile", "username": "user.info.profile",
    "follower_count": "user.info.stats", "following_count": "user.info.stats",
    "likes_count": "user.info.stats", "video_count": "user.info.stats",
}


def parse_fields(raw: str | None) -> list[str]:
    """The requested field names in order, without blanks or repeats."""
    return list(dict.fromkeys(f.strip() for f in (raw or "").split(",") if f.strip()))


def field_problem(fields: list[str], granted: tuple[str, ...]) -> tuple[str, str] | None:
    """``(error code, message)`` for the first bad field list, or None when every field may be returned."""
    if not fields:
        return "invalid_params", "The fields parameter is required."
    unknown = [f for f in fields if f not in FIELD_SCOPES]
    if unknown:
        return "invalid_params", f"Invalid fields: {','.join(unknown)}."
    missing = [f for f in fields if FIELD_SCOPES[f] not in granted]
    if missing:
        scopes = ",".join(dict.fromkeys(FIELD_SCOPES[f] for f in missing))
        return "scope_permission_missed", f"Fields {','.join(missing)} need additional scopes: {scopes}."
    return None


def user_fields(user: EmulatedUser, base_url: str) -> dict[str, object]:
    """Every user-info field of ``user``; URLs point at this emulator."""
    avatar = f"{base_url}/_emulator/avatar/{quote(user.open_id)}.svg"
    return {
        "open_id": user.open_id, "union_id": user.union_id, "display_name": user.display_name,
        "avatar_url": avatar, "avatar_url_100": avatar + "?size=100", "avatar_large_url": avatar + "?size=720",
        "bio_description": user.bio_description, "is_verified": user.is_verified, "username": user.username,
        "profile_deep_link": f"{base_url}/_emulator/profile/{quote(user.username)}",
        "follower_count": user.follower_count, "following_count": user.following_count,
        "likes_count": user.likes_count, "video_count": user.video_count,
    }


@bp.get("/v2/user/info/")
@require_token("user.info.basic", limit_per_minute=USER_INFO_PER_MINUTE)
def user_info():
    fields = parse_fields(request.args.get("fields"))
    problem = field_problem(fields, g.grant.scopes)
    if problem:
        return api_error(*problem, 400)
    everything = user_fields(g.user, request.host_url.rstrip("/"))
    everything.update(account_stats(current_state(), g.user))  # counts that grow per emulated day
    return ok({"user": {name: everything[name] for name in fields}})


def avatar_svg(user: EmulatedUser) -> str:
    """A circle in a colour derived from the open_id, with the user's initials."""
    hue = int(hashlib.sha256(user.open_id.encode()).hexdigest()[:4], 16) % 360
    initials = "".join(word[0] for word in user.display_name.split()[:2]).upper() or "?"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">'
            f'<circle cx="50" cy="50" r="50" fill="hsl({hue},65%,50%)"/>'
            f'<text x="50" y="50" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="40" '
            f'fill="#fff">{escape(initials)}</text></svg>')


@bp.get("/_emulator/avatar/<open_id>.svg")
def avatar(open_id: str):
    user = current_state().user(open_id)
    if user is None:
        abort(404)
    return Response(avatar_svg(user), mimetype="image/svg+xml")


@bp.get("/_emulator/profile/<username>")
def profile(username: str):
    user = next((u for u in current_state().config.users if u.username == username), None)
    if user is None:
        abort(404)
    return Response(f'<!doctype html><title>@{escape(user.username)}</title>'
                    f'<p>TikTok emulator - nothing here reaches TikTok</p>'
                    f'<h1>{escape(user.display_name)} (@{escape(user.username)})</h1>', mimetype="text/html")
