"""``POST /v2/post/publish/creator_info/query/`` (reference 3.1) and the posting policy it reports.

The same policy functions gate the init endpoints: who may post (ban, daily cap, unaudited-app rules, active-user
cap), which privacy levels a creator is offered and whether pending drafts are full. Call them under
``state.lock``.

Choices where the docs leave room:
- creator_info answers the cap/ban codes with HTTP 200 (documented "intentional"); the init endpoints answer 403.
- Only an unaudited app (``config.app_mode``) has the private-account, SELF_ONLY and 5-users rules (reference 8.3);
  a sandbox app posts as an audited one (its limits on public posts are UNCONFIRMED, reference 8.2).
- An unaudited app still sees the account's full privacy options here (OBSERVED upstream; some write-ups say only
  SELF_ONLY): the init endpoints then refuse anything but SELF_ONLY, which is the stricter combination for clients.
- The daily cap counts every accepted direct-post init (video or photo) in the last 24 h on the emulator clock,
  whatever became of the post; pending drafts are inbox posts of the last 24 h neither posted nor failed.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, g, request

from .bearer import require_token
from .config import EmulatedUser
from .envelope import api_error, current_state, ok
from .post_schema import Refusal
from .posts import pending_shares
from .state import EmulatorState

bp = Blueprint("creator_info", __name__)

CREATOR_INFO_PER_MINUTE = 20  # reference 3.1: 20 requests / minute per user access token
PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]      # reference 3.1
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]    # reference 3.1

BANNED = ("spam_risk_user_banned_from_posting", "This user is banned from posting.")
TOO_MANY_POSTS = ("spam_risk_too_many_posts", "The daily post cap for this creator was reached.")
ACTIVE_USER_CAP = ("reached_active_user_cap", "The app's daily quota of active publishing users was reached.")
UNAUDITED = ("unaudited_client_can_only_post_to_private_accounts",
             "Unaudited clients can only post to private accounts, with privacy_level SELF_ONLY.")
PENDING_SHARES = ("spam_risk_too_many_pending_share", "This user has too many pending inbox shares.")
PRIVACY_MISMATCH = ("privacy_level_option_mismatch",
                    "privacy_level is missing or not one of the creator's privacy_level_options.")


def privacy_options(user: EmulatedUser) -> list[str]:
    """The privacy levels creator_info offers this account."""
    return list(PRIVATE_OPTIONS if user.private_account else PUBLIC_OPTIONS)


def daily_cap(state: EmulatorState, open_id: str) -> int:
    settings = state.config.posting_settings(open_id)
    return settings.daily_post_cap if settings.daily_post_cap is not None else state.config.daily_post_cap


def _cap_problem(state: EmulatorState, user: EmulatedUser) -> tuple[str, str] | None:
    """Ban, daily cap and (unaudited apps) active-user cap, in that order."""
    now = state.now()
    if state.config.posting_settings(user.open_id).banned_from_posting:
        return BANNED
    if state.posting.direct_posts_today(user.open_id, now) >= daily_cap(state, user.open_id):
        return TOO_MANY_POSTS
    active = state.posting.active_users_today(now)
    unaudited = state.config.app_mode == "unaudited"
    if unaudited and user.open_id not in active and len(active) >= state.config.unaudited_user_cap:
        return ACTIVE_USER_CAP
    return None


def refuse_direct_post(state: EmulatorState, user: EmulatedUser, privacy_level: object) -> None:
    """Raise the 403 Refusal a direct post (video or photo) meets at init, if any; privacy last."""
    problem = _cap_problem(state, user)
    unaudited_refusal = not user.private_account or privacy_level not in (None, "SELF_ONLY")
    if problem is None and state.config.app_mode == "unaudited" and unaudited_refusal:
        problem = UNAUDITED
    if problem is None and privacy_level not in privacy_options(user):
        problem = PRIVACY_MISMATCH
    if problem:
        raise Refusal(*problem, 403)


def refuse_inbox_post(state: EmulatorState, user: EmulatedUser) -> None:
    """Raise the 403 Refusal an inbox (draft) post meets at init, if any."""
    if state.config.posting_settings(user.open_id).banned_from_posting:
        raise Refusal(*BANNED, 403)
    if pending_shares(state.posts, user.open_id, state.now()) >= state.config.pending_share_cap:
        raise Refusal(*PENDING_SHARES, 403)


def creator_data(user: EmulatedUser, state: EmulatorState, base_url: str) -> dict[str, object]:
    """creator_info's ``data`` for ``user``; private accounts always have duet and stitch disabled."""
    settings = state.config.posting_settings(user.open_id)
    return {
        "creator_avatar_url": f"{base_url}/_emulator/avatar/{quote(user.open_id)}.svg",
        "creator_username": user.username,
        "creator_nickname": user.display_name,
        "privacy_level_options": privacy_options(user),
        "comment_disabled": settings.comment_disabled,
        "duet_disabled": settings.duet_disabled or user.private_account,
        "stitch_disabled": settings.stitch_disabled or user.private_account,
        "max_video_post_duration_sec": settings.max_video_post_duration_sec,
    }


@bp.post("/v2/post/publish/creator_info/query/")
@require_token("video.publish", limit_per_minute=CREATOR_INFO_PER_MINUTE)
def creator_info():
    state = current_state()
    with state.lock:
        problem = _cap_problem(state, g.user)
    if problem:
        return api_error(*problem, 200)  # reference 3.1: "200 (intentional)"
    return ok(creator_data(g.user, state, request.host_url.rstrip("/")))
