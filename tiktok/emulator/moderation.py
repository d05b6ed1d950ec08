"""Moderation of public posts: the post id TikTok publishes only once a post cleared review (reference 3.5, 9).

A post that becomes PUBLISH_COMPLETE with ``PUBLIC_TO_EVERYONE`` gets its id at once, but the status fetch's
``publicaly_available_post_id`` (and so the video list, video query and share page, which read ``Post.post_ids``)
shows it only ``moderation_delay_s`` emulator seconds later, and never when ``withhold_post_ids`` is set: TikTok's
review takes "usually < 1 min, sometimes hours" and the id is often never returned. Non-public posts never show an
id. The delay and the withholding are decided when a post completes: changing them at runtime (``POST
/_emulator/moderation``) affects the posts that complete afterwards, so a withheld post stays withheld for good.
"""

from __future__ import annotations

import math
from typing import Any

from .posts import Post
from .state import EmulatorState

CONTROL_FIELDS = {"delay_s": "moderation_delay_s", "withhold": "withhold_post_ids"}  # control body -> config field


def start_review(state: EmulatorState, post: Post, post_id: int) -> None:
    """``post`` just completed in public: its id is published after the review (call under ``state.lock``)."""
    post.pending_post_id = post_id
    completed = post.completed_at if post.completed_at is not None else state.now()
    post.public_at = None if state.config.withhold_post_ids else completed + state.config.moderation_delay_s
    if post.public_at is not None:
        state.posting.under_review.add(post.publish_id)
    state.release_public_ids()  # no delay: public at once, as before moderation was emulated


def moderation_changes(body: Any) -> dict[str, Any]:
    """The config changes a ``POST /_emulator/moderation`` body asks for; ValueError with the reason otherwise."""
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object such as {"delay_s": 30, "withhold": false}')
    unknown = sorted(set(body) - set(CONTROL_FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; expected delay_s and/or withhold")
    delay, withhold = body.get("delay_s"), body.get("withhold")
    if "delay_s" in body and not is_delay(delay):
        raise ValueError("delay_s must be a finite number of seconds >= 0")
    if "withhold" in body and not isinstance(withhold, bool):
        raise ValueError("withhold must be true or false")
    return {CONTROL_FIELDS[name]: float(value) if name == "delay_s" else value for name, value in body.items()}


def is_delay(value: Any) -> bool:
    """A usable moderation delay: a finite number of seconds >= 0 (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value >= 0)


def moderation_view(state: EmulatorState) -> dict[str, Any]:
    """What the control API answers: the settings new public posts get."""
    return {"delay_s": state.config.moderation_delay_s, "withhold": state.config.withhold_post_ids}
