"""The bearer-token gate every API endpoint shares (reference §6.5, §7, §8.1).

Order: token (missing, malformed, unknown, expired on the emulator clock, revoked -> 401 ``access_token_invalid``),
then scopes (the token holds none of the endpoint's scopes -> 401 ``scope_not_authorized``), then the rate limit
(429 ``rate_limit_exceeded``). Rate-limit windows are per access token and per ``limit_key`` (the endpoint name by
default); TikTok leaves the Display API's dimension UNCONFIRMED and documents per-token for posting.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

from flask import g, request

from . import ids
from .envelope import api_error, current_state

_BEARER_RE = re.compile(r"^Bearer ([\x21-\x7e]+)$", re.IGNORECASE)  # RFC 6750: the scheme is case-insensitive
RATE_LIMIT_MESSAGE = "The API rate limit was exceeded. Please try again later."


def bearer_token(header: str | None) -> str | None:
    """The token from an ``Authorization: Bearer <token>`` header, or None when absent or malformed."""
    match = _BEARER_RE.match(header or "")
    return match.group(1) if match else None


def _invalid_token(message: str):
    return api_error("access_token_invalid", message, 401)


def require_token(*scopes: str, limit_per_minute: int | None = None, limit_key: str | None = None) -> Callable:
    """Decorate a view: check the bearer token, any-of ``scopes`` and the rate limit; sets ``g.grant``, ``g.user``.

    Also sets ``g.access_token_sha256`` (a fingerprint later endpoints may key ownership on).
    """
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            state = current_state()
            token = bearer_token(request.headers.get("Authorization"))
            if token is None:
                return _invalid_token("The access token is missing or malformed.")
            with state.lock:
                grant = state.tokens.live_access(token, state.now())
            if grant is None:
                return _invalid_token("The access token is invalid or not found in the request.")
            if scopes and not set(scopes) & set(grant.scopes):
                return api_error("scope_not_authorized",
                                 f"The user did not authorize the scope required for completing this request: "
                                 f"{','.join(scopes)}.", 401)
            fingerprint = ids.fingerprint(token)
            key = (limit_key or request.endpoint, fingerprint)
            if limit_per_minute is not None and not state.allow_request(key, limit_per_minute):
                return api_error("rate_limit_exceeded", RATE_LIMIT_MESSAGE, 429)
            g.grant, g.user, g.access_token_sha256 = grant, state.user(grant.open_id), fingerprint
            return view(*args, **kwargs)
        return wrapper
    return decorate
