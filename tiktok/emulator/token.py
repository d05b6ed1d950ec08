"""``POST /v2/oauth/token/`` and ``POST /v2/oauth/revoke/`` (reference §2).

Both take form-encoded bodies only; any other Content-Type (JSON included) is ``invalid_request`` "The request
parameters are malformed.". Check order: body shape, required ``client_key`` / ``client_secret`` / ``grant_type``,
client authentication (``invalid_client``, 401), grant type, the grant's own required parameters, then the grant.

Choices (UNCONFIRMED upstream):
- A code is consumed by the first well-formed exchange that passes client authentication, even if it fails later.
- A PKCE mismatch is ``invalid_request`` "Code verifier or code challenge is invalid." (observed wording).
- Revoke takes an access token only (expired ones of the same client count, since the grant is what gets revoked),
  answers HTTP 200 with ``{}`` and revokes the whole grant; an unknown token is 400 ``invalid_request``.
"""

from __future__ import annotations

import hmac
from typing import Mapping

from flask import Blueprint, request

from .envelope import current_state, oauth_error, oauth_ok
from .grants import TokenRequestError
from .pkce import verifier_matches

bp = Blueprint("oauth", __name__)

MALFORMED = "The request parameters are malformed."
REDIRECT_MISMATCH = "Redirect_uri is not matched with the uri when requesting code."
PKCE_INVALID = "Code verifier or code challenge is invalid."
FORM_TYPE = "application/x-www-form-urlencoded"


def _form() -> Mapping[str, str] | None:
    """The form body, or None when the request is not form-encoded."""
    return request.form if request.mimetype == FORM_TYPE else None


def _require(form: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not form.get(name):
            raise TokenRequestError("invalid_request", f"Missing required parameter: {name}.")


def _authenticate(form: Mapping[str, str]) -> None:
    config = current_state().config
    key_ok = hmac.compare_digest(form["client_key"].encode(), config.client_key.encode())
    secret_ok = hmac.compare_digest(form["client_secret"].encode(), config.client_secret.encode())
    if not (key_ok and secret_ok):
        raise TokenRequestError("invalid_client", "Client key or client secret is invalid.")


def _exchange_code(form: Mapping[str, str]) -> dict[str, object]:
    _require(form, "code", "redirect_uri")
    state = current_state()
    with state.lock:
        now = state.now()
        pending = state.tokens.take_code(form["code"], form["client_key"], now)
        if form["redirect_uri"] != pending.redirect_uri:
            raise TokenRequestError("invalid_request", REDIRECT_MISMATCH)
        if pending.code_challenge is not None and not verifier_matches(
                form.get("code_verifier"), pending.code_challenge, state.config.pkce_encoding):
            raise TokenRequestError("invalid_request", PKCE_INVALID)
        return state.tokens.create_grant(pending, now).body()


def _refresh(form: Mapping[str, str]) -> dict[str, object]:
    _require(form, "refresh_token")
    state = current_state()
    with state.lock:
        return state.tokens.refresh(form["refresh_token"], form["client_key"], state.now()).body()


GRANT_HANDLERS = {"authorization_code": _exchange_code, "refresh_token": _refresh}


@bp.post("/v2/oauth/token/")
def token():
    form = _form()
    if form is None:
        return oauth_error("invalid_request", MALFORMED)
    try:
        _require(form, "client_key", "client_secret", "grant_type")
        _authenticate(form)
        handler = GRANT_HANDLERS.get(form["grant_type"])
        if handler is None:
            raise TokenRequestError("unsupported_grant_type", "The grant type is not supported.")
        return oauth_ok(handler(form))
    except TokenRequestError as exc:
        return oauth_error(exc.error, exc.description)


@bp.post("/v2/oauth/revoke/")
def revoke():
    form = _form()
    if form is None:
        return oauth_error("invalid_request", MALFORMED)
    try:
        _require(form, "client_key", "client_secret", "token")
        _authenticate(form)
        state = current_state()
        with state.lock:
            found = state.tokens.grant_for_access(form["token"])
            if found is None or found[0].client_key != form["client_key"]:
                raise TokenRequestError("invalid_request", "The token is invalid.")
            state.tokens.revoke_grant(found[0])
        return oauth_ok({})
    except TokenRequestError as exc:
        return oauth_error(exc.error, exc.description)
