"""Response shapes: the ``{data, error}`` API envelope and the flat OAuth error (reference §0.2, §0.3).

OAuth HTTP statuses are undocumented upstream (UNCONFIRMED); we send 401 for ``invalid_client`` and 400 for every
other OAuth error. API errors send ``"data": {}``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from .state import EmulatorState

EXTENSION_KEY = "tiktok_emulator"
OAUTH_STATUS = {"invalid_client": 401}  # everything else: 400


def current_state() -> EmulatorState:
    """The EmulatorState of the app handling this request."""
    return current_app.extensions[EXTENSION_KEY]


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def ok(data: Any, status: int = 200) -> Response:
    """A successful envelope: ``error.code == "ok"``."""
    return _json({"data": data, "error": {"code": "ok", "message": "", "log_id": current_state().log_id()}}, status)


def api_error(code: str, message: str, http_status: int, headers: dict[str, str] | None = None) -> Response:
    """A failed envelope with empty ``data``."""
    error = {"code": code, "message": message, "log_id": current_state().log_id()}
    return _json({"data": {}, "error": error}, http_status, headers)


def oauth_error(error: str, description: str, http_status: int | None = None,
                headers: dict[str, str] | None = None) -> Response:
    """The token/revoke endpoints' flat error object."""
    status = http_status if http_status is not None else OAUTH_STATUS.get(error, 400)
    body = {"error": error, "error_description": description, "log_id": current_state().log_id()}
    return _json(body, status, {"Cache-Control": "no-store", **(headers or {})})


def oauth_ok(body: dict[str, Any]) -> Response:
    """A successful token/revoke answer; tokens must never be cached."""
    return _json(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})
