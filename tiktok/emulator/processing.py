"""What happens to a post after its media arrived: the verdict, the processing polls, the terminal state.

The media check runs as soon as the last byte arrives (the final chunk PUT or the end of a download) and its verdict
is held back: the post stays PROCESSING_UPLOAD / PROCESSING_DOWNLOAD for ``config.processing_polls`` status
fetches, and the next fetch reveals the terminal state (0 polls: terminal at once). Every function here expects
``state.lock`` to be held.

Terminal states: direct -> PUBLISH_COMPLETE, inbox -> SEND_TO_USER_INBOX, FAILED when the check failed or a fail
reason was forced. A post made while the "stuck forever" fault was queued (``/_emulator/posts/stick_next``) never
gets there: its media arrives and is counted, then it stays PROCESSING_UPLOAD / PROCESSING_DOWNLOAD with no
fail_reason however often it is polled (reference 8.5, OBSERVED: posts "that stay in a PROCESSING_* state for 30+
minutes with no fail_reason and never turn FAILED"); only a failed download (``*_pull_failed``) still ends it.
``publicaly_available_post_id`` gets one 19-digit id only for PUBLIC_TO_EVERYONE posts, once
their moderation is over (``moderation.py``). Media files are kept for video posts that succeeded (the read side serves
them) and deleted otherwise.
"""

from __future__ import annotations

import os
import secrets

from .moderation import start_review
from .posts import FAILED, PUBLISH_COMPLETE, SEND_TO_USER_INBOX, Post
from .state import EmulatorState

POST_ID_BASE = 7 * 10**18  # post ids are 19-digit int64s (reference 3.5); 7xxx... like TikTok's


def new_post_id() -> int:
    """A 19-digit post id (above 2**53, so JSON clients that use floats lose digits)."""
    return POST_ID_BASE + secrets.randbelow(10**18)


def new_publish_id(prefix: str) -> str:
    """A publish_id such as ``v_pub_file~v2.7301234567890123456`` (prefixes per reference 10.2)."""
    return f"{prefix}{POST_ID_BASE + secrets.randbelow(10**18)}"


def take_forced_fail_reason(state: EmulatorState) -> str | None:
    """The fail_reason queued by the control API for the next post, if any."""
    reasons = state.posting.forced_fail_reasons
    return reasons.pop(0) if reasons else None


def take_stuck(state: EmulatorState) -> bool:
    """True when the next post is to be stuck forever (one queued "stick" is used up)."""
    if state.posting.stuck_next <= 0:
        return False
    state.posting.stuck_next -= 1
    return True


def success_status(post: Post) -> str:
    return PUBLISH_COMPLETE if post.mode == "direct" else SEND_TO_USER_INBOX


def transfer_finished(state: EmulatorState, post: Post, fail_reason: str | None) -> None:
    """The media is all here and checked (``fail_reason`` from the check); start the processing polls."""
    if post.terminal:
        return  # cancelled meanwhile
    post.transfer_done = True
    if post.stuck:
        return  # no outcome is ever decided: it stays PROCESSING_* with no reason
    reason = post.forced_fail_reason or fail_reason
    post.outcome = (FAILED, reason) if reason else (success_status(post), None)
    post.polls_left = state.config.processing_polls
    if post.polls_left == 0:
        settle(state, post)


def on_status_poll(state: EmulatorState, post: Post) -> None:
    """One status fetch: count down the processing polls, then reveal the outcome."""
    if post.terminal or not post.transfer_done or post.stuck:
        return
    if post.polls_left > 0:
        post.polls_left -= 1
    else:
        settle(state, post)


def settle(state: EmulatorState, post: Post) -> None:
    """Move the post to its decided terminal state."""
    status, reason = post.outcome or (FAILED, "internal")
    if status == FAILED:
        fail(post, reason or "internal")
        return
    post.status, post.completed_at = status, state.now()
    if post.mode == "direct" and post.privacy_level == "PUBLIC_TO_EVERYONE":
        start_review(state, post, new_post_id())
    if post.kind != "video":
        discard_media(post)


def fail(post: Post, reason: str) -> None:
    """End the post FAILED with ``reason`` and drop its media."""
    post.status, post.fail_reason = FAILED, reason
    discard_media(post)


def user_posted(state: EmulatorState, post: Post, post_info: dict) -> None:
    """The user finished an inbox draft in the app: SEND_TO_USER_INBOX -> PUBLISH_COMPLETE."""
    post.post_info = {**post.post_info, **post_info}
    post.status, post.completed_at = PUBLISH_COMPLETE, state.now()
    if post.privacy_level == "PUBLIC_TO_EVERYONE":
        start_review(state, post, new_post_id())


def discard_media(post: Post) -> None:
    if post.media_path:
        try:
            os.remove(post.media_path)
        except FileNotFoundError:
            pass
        post.media_path = None
