"""The emulator's own JSON control API under ``/_emulator/`` (not part of TikTok's API).

Faults are applied in ``apply_fault`` (a ``before_request`` hook) to every path except these control routes.

Everything under ``/_emulator/`` answers only to the emulator's own loopback names (``127.0.0.1``, ``localhost``,
``[::1]`` with its port): a page elsewhere whose name is re-pointed at 127.0.0.1 (DNS rebinding) sends its own Host
and gets 421, with nothing changed (:func:`refuse_foreign_host`).
"""

from __future__ import annotations

import socket
import time

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected

from .envelope import api_error, current_state, oauth_error
from .faults import Fault, fault_from_json
from .moderation import moderation_changes, moderation_view
from .posts import SEND_TO_USER_INBOX
from .processing import user_posted
from .request_log import log_of

bp = Blueprint("control", __name__, url_prefix="/_emulator")

CONTROL_PREFIX = "/_emulator/"
OAUTH_PREFIX = "/v2/oauth/"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _bad(message: str, status: int = 400):
    return jsonify({"error": message}), status


def own_hosts(port: str) -> frozenset[str]:
    """The Host header values the control API answers to when the emulator listens on ``port``."""
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    return frozenset(names | set(LOOPBACK_NAMES) if port == "80" else names)


def refuse_foreign_host():
    """``before_request`` hook: 421 for a ``/_emulator/`` request whose Host is not one of :func:`own_hosts`."""
    if not (request.path + "/").startswith(CONTROL_PREFIX):
        return None
    host = (request.headers.get("Host") or "").strip().lower()
    if host in own_hosts(str(request.environ.get("SERVER_PORT", ""))):
        return None
    return _bad("The emulator's control API answers only to its own loopback address (127.0.0.1, localhost or "
                "[::1] with its port).", 421)


@bp.get("/state")
def state_view():
    return jsonify(current_state().snapshot())


@bp.get("/requests")
def request_log_view():
    """The request log (request_log.py): every request answered, oldest first; ``?after=N`` for those after N."""
    after = request.args.get("after", 0, type=int)
    return jsonify(log_of(current_app).view(after))


@bp.post("/faults")
def add_fault():
    try:
        fault = fault_from_json(request.get_json(silent=True))
    except ValueError as exc:
        return _bad(str(exc))
    current_state().add_fault(fault)
    return jsonify({"faults": current_state().snapshot()["faults"]}), 201


@bp.delete("/faults")
def clear_faults():
    current_state().clear_faults()
    return jsonify({"faults": []})


@bp.get("/clock")
def show_clock():
    """The emulated time: ``now`` (Unix seconds) and the same as ISO 8601 UTC."""
    now = current_state().now()
    return jsonify({"now": now, "iso": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


@bp.post("/clock")
def advance_clock():
    body = request.get_json(silent=True)
    seconds = body.get("advance") if isinstance(body, dict) else None
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        return _bad("advance must be a number of seconds >= 0")
    return jsonify({"now": current_state().advance(float(seconds))})


@bp.get("/moderation")
def show_moderation():
    """The moderation new public posts get: ``delay_s`` (emulator seconds) and ``withhold``."""
    return jsonify(moderation_view(current_state()))


@bp.post("/moderation")
def set_moderation():
    """Change the moderation delay and/or withholding for posts that complete from now on."""
    state = current_state()
    try:
        state.set_moderation(moderation_changes(request.get_json(silent=True)))
    except ValueError as exc:
        return _bad(str(exc))
    return jsonify(moderation_view(state))


@bp.get("/verified_prefixes")
def show_verified_prefixes():
    """The URL prefixes and domains verified for the app (PULL_FROM_URL may use only these)."""
    return jsonify({"verified": list(current_state().config.verified_url_prefixes)})


@bp.post("/verified_prefixes")
def add_verified_prefixes():
    """Verify more prefixes or domains: ``{"add": ["https://media.example.com/tiktok/", "cdn.example.com"]}``."""
    body = request.get_json(silent=True)
    added = body.get("add") if isinstance(body, dict) else None
    if not isinstance(added, list) or not added or not all(isinstance(p, str) for p in added):
        return _bad('send {"add": [prefix, ...]}: URL prefixes ending in / or bare domains')
    try:
        return jsonify({"verified": current_state().add_verified_prefixes(added)})
    except ValueError as exc:
        return _bad(str(exc))


@bp.get("/mode")
def show_mode():
    """The app's mode (``sandbox``, ``unaudited`` or ``audited``) and its sandbox targets (None unless sandbox)."""
    return jsonify(current_state().mode_view())


@bp.post("/mode")
def set_mode():
    """Switch the app's mode: ``{"mode": "unaudited"}``; a sandbox may also name its targets:
    ``{"mode": "sandbox", "sandbox_targets": [open_id, ...]}`` (null: the users marked as targets)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body or set(body) - {"mode", "sandbox_targets"}:
        return _bad('send {"mode": "sandbox" | "unaudited" | "audited"} and/or {"sandbox_targets": [open_id, ...]}')
    state = current_state()
    try:
        state.set_mode(body)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return jsonify(state.mode_view())


@bp.post("/users/<open_id>/privacy")
def set_user_privacy(open_id: str):
    """Make an account private or public, as its owner would in the app: ``{"private": true}``."""
    body = request.get_json(silent=True)
    private = body.get("private") if isinstance(body, dict) else None
    if not isinstance(private, bool):
        return _bad('send {"private": true} or {"private": false}')
    try:
        user = current_state().set_private(open_id, private)
    except KeyError:
        return _bad(f"no emulated user {open_id}", 404)
    return jsonify({"open_id": open_id, "private": user.private_account})


@bp.post("/users/<open_id>/revoke")
def revoke_user(open_id: str):
    state = current_state()
    if state.user(open_id) is None:
        return _bad(f"no emulated user {open_id}", 404)
    return jsonify({"open_id": open_id, "revoked_grants": state.revoke_user(open_id)})


FAIL_REASONS = ("file_format_check_failed", "duration_check_failed", "frame_rate_check_failed",
                "picture_size_check_failed", "internal", "video_pull_failed", "photo_pull_failed",
                "auth_removed", "spam_risk_too_many_posts", "spam_risk_user_banned_from_posting",
                "spam_risk_text", "spam_risk")  # reference 3.5 (publish_cancelled comes from cancel)
BODY_BLOCK_BYTES = 1 << 20  # unit for reading a request body we do not keep


@bp.post("/posts/fail_next")
def fail_next_posts():
    """Queue a fail_reason for the next ``times`` posts created (they end FAILED once their media arrives)."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    reason, times = body.get("fail_reason"), body.get("times", 1)
    if reason not in FAIL_REASONS:
        return _bad(f"fail_reason must be one of {list(FAIL_REASONS)}")
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        return _bad("times must be an integer >= 1")
    state = current_state()
    with state.lock:
        state.posting.forced_fail_reasons.extend([reason] * times)
        queued = list(state.posting.forced_fail_reasons)
    return jsonify({"forced_fail_reasons": queued}), 201


@bp.post("/posts/stick_next")
def stick_next_posts():
    """The "stuck forever" fault: the next ``times`` posts created never reach a terminal state and give no reason
    (they stay PROCESSING_* once their media arrived; processing.py)."""
    body = request.get_json(silent=True)
    times = body.get("times", 1) if isinstance(body, dict) else 1
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        return _bad("times must be an integer >= 1")
    state = current_state()
    with state.lock:
        state.posting.stuck_next += times
        queued = state.posting.stuck_next
    return jsonify({"stuck_next": queued}), 201


@bp.post("/posts/<publish_id>/user_posted")
def post_from_inbox(publish_id: str):
    """The user finished an inbox draft in the app; body may set post_info (e.g. privacy_level, title)."""
    body = request.get_json(silent=True)
    post_info = body.get("post_info", {}) if isinstance(body, dict) else {}
    if not isinstance(post_info, dict):
        return _bad("post_info must be an object")
    state = current_state()
    with state.lock:
        post = state.posts.get(publish_id)
        if post is None:
            return _bad(f"no post {publish_id}", 404)
        if post.status != SEND_TO_USER_INBOX:
            return _bad(f"post is {post.status}, not {SEND_TO_USER_INBOX}", 409)
        user_posted(state, post, post_info)
        return jsonify(post.public())


def consume_body(limit: int | None = None) -> None:
    """Read (and forget) up to ``limit`` bytes of the request body, all of it when None."""
    buffer = memoryview(bytearray(BODY_BLOCK_BYTES))
    left = limit
    try:
        while left is None or left > 0:
            count = request.stream.readinto(buffer if left is None else buffer[:min(left, BODY_BLOCK_BYTES)])
            if not count:
                return
            left = None if left is None else left - count
    except (ClientDisconnected, OSError):
        return


def _drop_connection() -> Response:
    """Shut the socket so the client sees the connection close with no response at all."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone
    # werkzeug's write then fails with a ConnectionError, which it treats as a dropped client
    return Response(b"", status=500)


def fault_response(fault: Fault, path: str) -> Response:
    """The response an answering fault produces, in the shape the path normally uses."""
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
    status = fault.response_status()
    message = fault.message or "Injected by the TikTok emulator."
    if path.startswith(OAUTH_PREFIX):
        return oauth_error(fault.error_code(oauth=True), message, status, headers)
    return api_error(fault.error_code(oauth=False), message, status, headers)


def apply_fault() -> Response | None:
    """``before_request`` hook: consume and act on the next fault queued for this exact path."""
    if request.path.startswith(CONTROL_PREFIX):
        return None
    state = current_state()
    fault = state.take_fault(request.path)
    if fault is None:
        return None
    if fault.delay:
        state.sleep(fault.delay)
    if fault.drop_after_bytes is not None:
        consume_body(fault.drop_after_bytes)
        return _drop_connection()
    if fault.drop:
        return _drop_connection()
    if not fault.answers:
        return None
    consume_body()  # so a client mid-upload reads the answer instead of a reset
    return fault_response(fault, request.path)
