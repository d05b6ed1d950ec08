"""Helpers for the emulator tests: PKCE pairs, a consent-form reader and a browser-like OAuth walker."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import requests

from tiktok.emulator import EmulatorServer

REDIRECT_URI = "http://127.0.0.1:8765/callback/"
TIMEOUT = 10


def pkce_pair(encoding: str = "hex") -> tuple[str, str]:
    """A fresh verifier and its S256 challenge, computed here independently of the emulator's code."""
    verifier = secrets.token_urlsafe(48)[:64]
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = digest.hex() if encoding == "hex" else base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return verifier, challenge


class FormParser(HTMLParser):
    """Collects the inputs and buttons of the (single) form on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.buttons: list[dict[str, str | None]] = []
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes.get("action")
        elif tag == "input":
            self.inputs.append(attributes)
        elif tag == "button":
            self.buttons.append(attributes)


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def browser_submit(form: FormParser, button_id: str, *, open_id: str | None = None,
                   untick: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The form fields a browser would POST after choosing a user, unticking scopes and clicking a button."""
    fields: list[tuple[str, str]] = []
    for attrs in form.inputs:
        name, value, kind = attrs.get("name"), attrs.get("value") or "", attrs.get("type")
        if "disabled" in attrs or not name:
            continue
        if kind == "hidden":
            fields.append((name, value))
        elif kind == "checkbox" and "checked" in attrs and value not in untick:
            fields.append((name, value))
        elif kind == "radio" and ((open_id is None and "checked" in attrs) or value == open_id):
            fields.append((name, value))
    button = next(b for b in form.buttons if b.get("id") == button_id)
    fields.append((button["name"], button["value"]))
    return fields


@dataclass
class Callback:
    """Where the emulator sent the browser back to, with the decoded query."""

    location: str
    base: str
    query: dict[str, str]


class OAuthWalker:
    """Walks Login Kit like a browser would, against one running emulator."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = server.url
        self.config = server.config
        self.http = requests.Session()
        self.verifier: str | None = None

    def params(self, **overrides: str | None) -> dict[str, str]:
        """Valid authorize query params (desktop flavour with hex PKCE); None drops a param."""
        verifier, challenge = pkce_pair(self.config.pkce_encoding)
        self.verifier = verifier
        params = {"client_key": self.config.client_key, "response_type": "code",
                  "scope": "user.info.basic,user.info.profile", "redirect_uri": REDIRECT_URI,
                  "state": "st-" + secrets.token_hex(4), "code_challenge": challenge,
                  "code_challenge_method": "S256"}
        params.update(overrides)  # type: ignore[arg-type]
        return {k: v for k, v in params.items() if v is not None}

    def authorize_page(self, params: dict[str, str]) -> requests.Response:
        return self.http.get(self.url + "/v2/auth/authorize/", params=params, allow_redirects=False,
                             timeout=TIMEOUT)

    def consent(self, params: dict[str, str], button: str = "authorize", **choice) -> Callback:
        page = self.authorize_page(params)
        assert page.status_code == 200, page.text
        form = parse_form(page.text)
        response = self.http.post(self.url + form.action, data=browser_submit(form, button, **choice),
                                  allow_redirects=False, timeout=TIMEOUT)
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        parts = urlsplit(location)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return Callback(location, f"{parts.scheme}://{parts.netloc}{parts.path}", query)

    def exchange(self, code: str | None, /, **overrides: str | None) -> requests.Response:
        """Exchange ``code`` (None leaves it out) with the last verifier; keyword None drops a field."""
        data = {"client_key": self.config.client_key, "client_secret": self.config.client_secret,
                "code": code, "grant_type": "authorization_code", "redirect_uri": REDIRECT_URI,
                "code_verifier": self.verifier}
        data.update(overrides)  # type: ignore[arg-type]
        return self.token({k: v for k, v in data.items() if v is not None})

    def refresh(self, refresh_token: str, **overrides: str) -> requests.Response:
        data = {"client_key": self.config.client_key, "client_secret": self.config.client_secret,
                "grant_type": "refresh_token", "refresh_token": refresh_token, **overrides}
        return self.token(data)

    def token(self, data: dict[str, str]) -> requests.Response:
        return self.http.post(self.url + "/v2/oauth/token/", data=data, timeout=TIMEOUT)

    def revoke(self, token: str, **overrides: str) -> requests.Response:
        data = {"client_key": self.config.client_key, "client_secret": self.config.client_secret,
                "token": token, **overrides}
        return self.http.post(self.url + "/v2/oauth/revoke/", data=data, timeout=TIMEOUT)

    def login(self, scope: str = "user.info.basic,user.info.profile", **choice) -> dict:
        """The whole flow; returns the token endpoint's JSON body."""
        callback = self.consent(self.params(scope=scope), **choice)
        response = self.exchange(callback.query["code"])
        assert response.status_code == 200, response.json().get("error")
        return response.json()

    def user_info(self, access_token: str | None, fields: str | None = "open_id,display_name") -> requests.Response:
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        params = {"fields": fields} if fields is not None else {}
        return self.http.get(self.url + "/v2/user/info/", params=params, headers=headers, timeout=TIMEOUT)
