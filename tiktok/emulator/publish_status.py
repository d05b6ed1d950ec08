"""``POST /v2/post/publish/status/fetch/`` and ``POST /v2/post/publish/cancel/`` (reference 3.5, 3.6).

A publish_id belongs to the user who created it: any live token of that user may fetch its status (a client that
refreshed its token mid-upload keeps polling); another user's token gets 400
``token_not_authorized_for_specified_publish_id``. ``uploaded_bytes`` is sent for FILE_UPLOAD and
``downloaded_bytes`` for PULL_FROM_URL (byte counts); ``fail_reason`` only when FAILED. Each fetch counts one
processing poll (``processing.py``).

Cancel works only while a PULL_FROM_URL download is still running (not once its bytes are all in and processing
started), answers ``{"error": ...}`` with no ``data`` (as documented), and ends the post FAILED
``publish_cancelled``. No rate limit is applied to cancel (none documented).
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from .bearer import require_token
from .envelope import api_error, current_state, ok
from .post_schema import Refusal, invalid
from .posts import FAILED, PROCESSING_DOWNLOAD, Post
from .processing import fail, on_status_poll
from .publish import json_body
from .state import EmulatorState

bp = Blueprint("publish_status", __name__)

STATUS_PER_MINUTE = 30  # reference 3.5: 30 requests / minute per user access token


def status_data(post: Post) -> dict[str, object]:
    """The status fetch's ``data`` for ``post``."""
    data: dict[str, object] = {"status": post.status, "publicaly_available_post_id": list(post.post_ids)}
    data["uploaded_bytes" if post.source == "FILE_UPLOAD" else "downloaded_bytes"] = post.bytes_received
    if post.status == FAILED:
        data["fail_reason"] = post.fail_reason
    return data


def _owned_post(state: EmulatorState) -> Post:
    """The post named by the body's publish_id, if it belongs to this token's user (call under the lock)."""
    publish_id = json_body().get("publish_id")
    if not isinstance(publish_id, str) or not publish_id:
        raise invalid("publish_id is required and must be a string.")
    post = state.posts.get(publish_id)
    if post is None:
        raise Refusal("invalid_publish_id", "The publish_id does not exist.", 400)
    if post.open_id != g.user.open_id:
        raise Refusal("token_not_authorized_for_specified_publish_id",
                      "The publish_id belongs to another user.", 400)
    return post


@bp.post("/v2/post/publish/status/fetch/")
@require_token("video.upload", "video.publish", limit_per_minute=STATUS_PER_MINUTE)
def status_fetch() -> Response:
    state = current_state()
    try:
        with state.lock:
            post = _owned_post(state)
            on_status_poll(state, post)
            data = status_data(post)
    except Refusal as refusal:
        return api_error(refusal.code, refusal.message, refusal.status)
    return ok(data)


@bp.post("/v2/post/publish/cancel/")
@require_token("video.upload", "video.publish")
def cancel() -> Response:
    state = current_state()
    try:
        with state.lock:
            post = _owned_post(state)
            if post.status != PROCESSING_DOWNLOAD or post.transfer_done:
                raise Refusal("publish_not_cancellable", "This publish can no longer be cancelled.", 400)
            state.posting.cancel_events[post.publish_id].set()
            fail(post, "publish_cancelled")
    except Refusal as refusal:
        return api_error(refusal.code, refusal.message, refusal.status)
    return jsonify({"error": {"code": "ok", "message": "", "log_id": state.log_id()}})
