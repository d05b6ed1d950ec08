"""Calls to TikTok's envelope endpoints (Display API, Content Posting API).

Success is ``error.code == "ok"``, whatever the HTTP status says: TikTok sends some refusals with HTTP 200.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import requests

from tiktok.errors import RateLimited, ServerError, TransportError, error_from_envelope
from tiktok.pages import LIST_PATH

DEFAULT_TIMEOUT = (5.0, 30.0)  # seconds: connect, read; for every call to TikTok

BASIC_USER_FIELDS = ("open_id", "union_id", "avatar_url", "display_name")
PROFILE_USER_FIELDS = ("username", "bio_description", "is_verified", "profile_deep_link")
STATS_USER_FIELDS = ("follower_count", "following_count", "likes_count", "video_count")
USER_INFO_PATH = "/v2/user/info/"
QUERY_PATH = "/v2/video/query/"  # reference 6.3: the named videos of the token's user, fields as in video.list


def user_fields_for(scopes: Iterable[str]) -> tuple[str, ...]:
    """The user-info fields these granted scopes allow us to ask for."""
    granted = set(scopes)
    fields = list(BASIC_USER_FIELDS)
    if "user.info.profile" in granted:
        fields += PROFILE_USER_FIELDS
    if "user.info.stats" in granted:
        fields += STATS_USER_FIELDS
    return tuple(fields)


class ApiClient:
    """One app's view of the v2 API; every call names the access token it acts with."""

    def __init__(self, session: requests.Session, *, api_base: str,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 on_rate_limited: Callable[[RateLimited], None] | None = None) -> None:
        self._session = session
        self._on_rate_limited = on_rate_limited  # told of every 429 (the status figures count them)
        self._base = api_base.rstrip("/")
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"ApiClient(api_base={self._base!r})"

    def call(self, method: str, path: str, access_token: str, *, params: dict[str, str] | None = None,
             json: Any = None) -> dict[str, Any]:
        """Send one request and return the envelope's ``data``; raise the typed error otherwise."""
        return self.call_logged(method, path, access_token, params=params, json=json)[0]

    def call_logged(self, method: str, path: str, access_token: str, *, params: dict[str, str] | None = None,
                    json: Any = None) -> tuple[dict[str, Any], str | None]:
        """:meth:`call`, and TikTok's ``log_id`` for the answer (a status that reports a failed post needs it)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        if json is not None:
            headers["Content-Type"] = "application/json; charset=UTF-8"
        try:
            response = self._session.request(method, self._base + path, params=params, json=json,
                                             headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise TransportError.on(method, self._base, path, exc) from None
        try:
            body = response.json()
        except ValueError:
            raise ServerError("malformed_response", f"HTTP {response.status_code} from {path} is not JSON",
                              http_status=response.status_code) from None
        error = error_from_envelope(response.status_code, body, response.headers.get("Retry-After"))
        if error is not None:
            if isinstance(error, RateLimited) and self._on_rate_limited is not None:
                self._on_rate_limited(error)
            raise error
        data = body.get("data")
        envelope_error = body.get("error") if isinstance(body.get("error"), dict) else {}
        log_id = envelope_error.get("log_id")
        return (data if isinstance(data, dict) else {}), (str(log_id) if log_id else None)

    def user_info(self, access_token: str, fields: Iterable[str] = BASIC_USER_FIELDS) -> dict[str, Any]:
        """``/v2/user/info/`` with only the named fields."""
        data = self.call("GET", USER_INFO_PATH, access_token, params={"fields": ",".join(fields)})
        user = data.get("user")
        return user if isinstance(user, dict) else {}

    def video_page(self, access_token: str, fields: Iterable[str], body: dict[str, Any]) -> dict[str, Any]:
        """One page of ``/v2/video/list/``: ``fields`` in the query, ``cursor``/``max_count`` in ``body``
        (:func:`tiktok.pages.video_pages` makes the bodies)."""
        return self.call("POST", LIST_PATH, access_token, params={"fields": ",".join(fields)}, json=body)

    def video_query(self, access_token: str, fields: Iterable[str], video_ids: Iterable[str]) -> dict[str, Any]:
        """``/v2/video/query/``: the named videos of the token's user (at most 20 ids), ``fields`` in the query."""
        return self.call("POST", QUERY_PATH, access_token, params={"fields": ",".join(fields)},
                         json={"filters": {"video_ids": list(video_ids)}})
