"""The posting init endpoints: Direct Post video, inbox (draft) video and photo content (reference 3.2-3.4).

Validation order (reference 3.2, EMU): bearer token (401), scope (401), per-token rate limit (429), Content-Type
and body schema (400 ``invalid_param`` naming the field, ``post_schema.py``), caps and audit state (403), privacy
option (403), URL ownership (403 ``url_ownership_unverified``), chunk plan (400 ``invalid_params``). The cap checks
and the creation of the post happen under one lock, so concurrent inits cannot overshoot a cap.

For photo posts the token must hold either scope to get past the gate; the scope the chosen ``post_mode`` needs
(DIRECT_POST: video.publish, MEDIA_UPLOAD: video.upload) is checked right after, before the rest of the body.
A JSON body must come with ``Content-Type: application/json`` (any charset parameter), else 400 invalid_param.
"""

from __future__ import annotations

import os
import secrets
import threading
from typing import Any

from flask import Blueprint, Response, g, request

from . import ids
from .bearer import require_token
from .creator_info import refuse_direct_post, refuse_inbox_post
from .envelope import api_error, current_state, ok
from .post_schema import Refusal, check_chunk_plan, direct_video_body, inbox_video_body, invalid, photo_body
from .posts import PROCESSING_DOWNLOAD, PROCESSING_UPLOAD, Post, UploadSession
from .processing import new_publish_id, take_forced_fail_reason, take_stuck
from .pull import start_pull, url_is_verified
from .state import EmulatorState
from .upload_host import UPLOAD_PATH

bp = Blueprint("publish", __name__)

INIT_PER_MINUTE = 6  # reference 7: every init endpoint, 6 requests / minute per user access token
PREFIXES = {  # reference 10.2
    ("video", "direct", "FILE_UPLOAD"): "v_pub_file~v2.", ("video", "direct", "PULL_FROM_URL"): "v_pub_url~v2.",
    ("video", "inbox", "FILE_UPLOAD"): "v_inbox_file~v2.", ("video", "inbox", "PULL_FROM_URL"): "v_inbox_url~v2.",
    ("photo", "direct", "PULL_FROM_URL"): "p_pub_url~v2.", ("photo", "inbox", "PULL_FROM_URL"): "p_pub_url~v2.",
}
URL_UNVERIFIED = ("url_ownership_unverified", "The URL's domain or prefix is not verified for this app.")
SCOPE_MESSAGE = "The user did not authorize the scope required for completing this request: {}."


def json_body() -> dict[str, Any]:
    """The request's JSON object; Refusal 400 invalid_param otherwise."""
    if request.mimetype != "application/json":
        raise invalid("Content-Type must be application/json; charset=UTF-8.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _refusal_response(refusal: Refusal) -> Response:
    return api_error(refusal.code, refusal.message, refusal.status, refusal.headers)


def _check_urls(state: EmulatorState, urls: list[str]) -> None:
    if not all(url_is_verified(url, state.config.verified_url_prefixes) for url in urls):
        raise Refusal(*URL_UNVERIFIED, 403)


def _new_post(state: EmulatorState, kind: str, mode: str, source: dict[str, Any], post_info: dict[str, Any],
              plan: dict[str, int] | None) -> Post:
    key = (kind, mode, source["source"])
    status = PROCESSING_UPLOAD if source["source"] == "FILE_UPLOAD" else PROCESSING_DOWNLOAD
    post = Post(publish_id=new_publish_id(PREFIXES[key]), open_id=g.user.open_id, kind=kind, mode=mode,
                source=source["source"], status=status, created_at=state.now(), post_info=dict(post_info),
                plan=plan, forced_fail_reason=take_forced_fail_reason(state), stuck=take_stuck(state))
    state.posts[post.publish_id] = post
    if mode == "direct":
        state.posting.record_direct_post(post.open_id, state.now())
    return post


def _open_upload(state: EmulatorState, post: Post) -> str:
    """Create the upload session and its empty media file; returns the upload URL."""
    token = secrets.token_urlsafe(24)
    upload_id = str(state.posting.serial() * 1_000_003 + secrets.randbelow(1_000_000))
    os.makedirs(state.media_dir, exist_ok=True)
    path = os.path.join(state.media_dir, post.publish_id.replace("~", "_") + ".bin")
    open(path, "wb").close()
    post.media_path = path
    state.posting.uploads[upload_id] = UploadSession(upload_id, post.publish_id, ids.fingerprint(token),
                                                     state.now() + state.config.upload_url_ttl, path)
    return f"{request.host_url.rstrip('/')}{UPLOAD_PATH}?upload_id={upload_id}&upload_token={token}"


def _start(state: EmulatorState, post: Post, urls: list[str] | None) -> dict[str, str]:
    """Open the upload or start the download; the init response's ``data``."""
    if urls is None:
        return {"publish_id": post.publish_id, "upload_url": _open_upload(state, post)}
    cancel = threading.Event()
    state.posting.cancel_events[post.publish_id] = cancel
    start_pull(state, post, urls, cancel)
    return {"publish_id": post.publish_id}


def _refuse_for_mode(state, mode: str, post_info: dict) -> None:
    """Caps, bans and audit rules: Direct Post and inbox uploads are refused for different reasons."""
    if mode == "direct":
        refuse_direct_post(state, g.user, post_info.get("privacy_level"))
        _refuse_branded_self_only(state, post_info)
    else:
        refuse_inbox_post(state, g.user)


def _video_init(mode: str) -> Response:
    state = current_state()
    try:
        body = json_body()
        post_info, source = direct_video_body(body) if mode == "direct" else ({}, inbox_video_body(body))
        with state.lock:
            _refuse_for_mode(state, mode, post_info)
            pull = source["source"] == "PULL_FROM_URL"
            if pull:
                _check_urls(state, [source["video_url"]])
            plan = None if pull else check_chunk_plan(source)
            post = _new_post(state, "video", mode, source, post_info, plan)
            data = _start(state, post, [source["video_url"]] if pull else None)
    except Refusal as refusal:
        return _refusal_response(refusal)
    return ok(data)


def _refuse_branded_self_only(state: EmulatorState, post_info: dict[str, Any]) -> None:
    if (state.config.reject_branded_self_only and post_info.get("brand_content_toggle")
            and post_info.get("privacy_level") == "SELF_ONLY"):
        raise invalid("Branded content cannot be posted with privacy_level SELF_ONLY.")


@bp.post("/v2/post/publish/video/init/")
@require_token("video.publish", limit_per_minute=INIT_PER_MINUTE)
def video_init() -> Response:
    return _video_init("direct")


@bp.post("/v2/post/publish/inbox/video/init/")
@require_token("video.upload", limit_per_minute=INIT_PER_MINUTE)
def inbox_video_init() -> Response:
    return _video_init("inbox")


@bp.post("/v2/post/publish/content/init/")
@require_token("video.publish", "video.upload", limit_per_minute=INIT_PER_MINUTE)
def content_init() -> Response:
    state = current_state()
    try:
        body = json_body()
        _require_mode_scope(body.get("post_mode"))
        mode_name, post_info, source = photo_body(body)
        mode = "direct" if mode_name == "DIRECT_POST" else "inbox"
        if "is_aigc" in body:
            post_info = {**post_info, "is_aigc": body["is_aigc"]}
        with state.lock:
            _refuse_for_mode(state, mode, post_info)
            _check_urls(state, source["photo_images"])
            post = _new_post(state, "photo", mode, source, post_info, None)
            data = _start(state, post, list(source["photo_images"]))
    except Refusal as refusal:
        return _refusal_response(refusal)
    return ok(data)


def _require_mode_scope(post_mode: object) -> None:
    needed = {"DIRECT_POST": "video.publish", "MEDIA_UPLOAD": "video.upload"}.get(post_mode)  # type: ignore[arg-type]
    if needed and needed not in g.grant.scopes:
        raise Refusal("scope_not_authorized", SCOPE_MESSAGE.format(needed), 401)
