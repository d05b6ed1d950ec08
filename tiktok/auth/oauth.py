"""TikTok Login Kit v2: the authorize URL, and the token, refresh and revoke calls.

URL and body builders are pure; ``OAuthClient`` takes the ``requests.Session`` it uses so tests point it at the
emulator. The token endpoint takes form-encoded bodies only and answers with a flat object, not the API envelope;
its errors can arrive with HTTP 200, so success is decided by the presence of ``access_token``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

import requests

from tiktok.api import DEFAULT_TIMEOUT
from tiktok.errors import OAuthError, TransportError



def build_authorize_url(auth_url: str, *, client_key: str, scopes: Iterable[str], redirect_uri: str,
                        state: str, code_challenge: str | None = None, force_consent: bool = True) -> str:
    """The browser URL of TikTok's consent page. Scopes are comma-separated, as TikTok wants."""
    params: dict[str, str] = {
        "client_key": client_key,
        "scope": ",".join(scopes),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    if force_consent:
        params["disable_auto_auth"] = "1"  # always show the consent page, so people can pick another account
    return f"{auth_url}?{urlencode(params)}"


def split_scopes(value: str | None) -> tuple[str, ...]:
    """Scopes from TikTok's comma-separated form (``scope`` in token answers, ``scopes`` on the callback)."""
    return tuple(s.strip() for s in (value or "").split(",") if s.strip())


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint returned. Lifetimes are relative seconds, as TikTok sends them."""

    open_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    refresh_expires_in: int
    scopes: tuple[str, ...]

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> "TokenGrant":
        try:
            return cls(open_id=str(body["open_id"]), access_token=str(body["access_token"]),
                       refresh_token=str(body["refresh_token"]), expires_in=int(body["expires_in"]),
                       refresh_expires_in=int(body["refresh_expires_in"]),
                       scopes=split_scopes(body.get("scope")))
        except (KeyError, TypeError, ValueError) as exc:
            raise OAuthError("malformed_response", f"token answer lacks a usable {exc}") from None


class OAuthClient:
    """Calls /v2/oauth/token/ and /v2/oauth/revoke/ for one registered app."""

    def __init__(self, session: requests.Session, *, api_base: str, client_key: str, client_secret: str,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self._session = session
        self._base = api_base.rstrip("/")
        self.client_key = client_key
        self._client_secret = client_secret
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"OAuthClient(api_base={self._base!r}, client_key={self.client_key!r}, client_secret=***)"

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str | None) -> TokenGrant:
        """Trade the callback's (already URL-decoded) code for tokens."""
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return TokenGrant.from_response(self._post("/v2/oauth/token/", form))

    def refresh(self, refresh_token: str) -> TokenGrant:
        """Rotate: the answer's refresh token replaces the one sent, which stops working at once."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return TokenGrant.from_response(self._post("/v2/oauth/token/", form))

    def revoke(self, access_token: str) -> None:
        """Revoke the grant behind ``access_token`` at TikTok."""
        self._post("/v2/oauth/revoke/", {"token": access_token}, expect_token=False)

    def _post(self, path: str, form: dict[str, str], *, expect_token: bool = True) -> dict[str, Any]:
        data = {"client_key": self.client_key, "client_secret": self._client_secret, **form}
        try:
            response = self._session.post(
                self._base + path, data=data, timeout=self._timeout,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-cache"})
        except requests.RequestException as exc:
            raise TransportError.on("POST", self._base, path, exc) from None
        body = _json_or_empty(response)
        if isinstance(body.get("error"), str) and body["error"]:
            raise OAuthError(body["error"], str(body.get("error_description") or ""),
                             log_id=body.get("log_id"), http_status=response.status_code)
        if response.status_code >= 400 or (expect_token and "access_token" not in body):
            raise OAuthError("server_error" if response.status_code >= 500 else "malformed_response",
                             f"HTTP {response.status_code} from {path}", http_status=response.status_code)
        return body


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    if not response.content.strip():
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
