"""The emulator's own JSON control API under ``/_emulator/`` (not part of TikTok's API).

Faults are applied in ``apply_fault`` (a ``before_request`` hook) to every path except these control routes.
"""

from __future__ import annotations

import socket

from flask import Blueprint, Response, jsonify, request

from .envelope import api_error, current_state, oauth_error
from .faults import Fault, fault_from_json

bp = Blueprint("control", __name__, url_prefix="/_emulator")

CONTROL_PREFIX = "/_emulator/"
OAUTH_PREFIX = "/v2/oauth/"


def _bad(message: str, status: int = 400):
    return jsonify({"error": message}), status


@bp.get("/state")
def state_view():
    return jsonify(current_state().snapshot())


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


@bp.post("/clock")
def advance_clock():
    body = request.get_json(silent=True)
    seconds = body.get("advance") if isinstance(body, dict) else None
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        return _bad("advance must be a number of seconds >= 0")
    return jsonify({"now": current_state().advance(float(seconds))})


@bp.post("/users/<open_id>/revoke")
def revoke_user(open_id: str):
    state = current_state()
    if state.user(open_id) is None:
        return _bad(f"no emulated user {open_id}", 404)
    return jsonify({"open_id": open_id, "revoked_grants": state.revoke_user(open_id)})


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
    if fault.drop:
        return _drop_connection()
    return fault_response(fault, request.path) if fault.answers else None
