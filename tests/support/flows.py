"""Drive TikTok's consent page and the app's login over real loopback HTTP, as a browser would."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tiktok.auth.oauth import OAuthClient, build_authorize_url
from tiktok.auth.pkce import code_challenge, make_verifier
from tiktok.auth.tokens import Account, TokenStore


class FormParser(HTMLParser):
    """Collects the consent form's action and the values a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.radios: dict[str, list[str]] = {}
        self.checkboxes: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        if tag != "input" or "name" not in a:
            return
        kind = a.get("type", "text")
        if kind == "radio":
            self.radios.setdefault(a["name"], []).append(a.get("value", ""))
            if "checked" in a:
                self.fields.append((a["name"], a.get("value", "")))
        elif kind == "checkbox":
            self.checkboxes.setdefault(a["name"], []).append(a.get("value", ""))
            if "checked" in a and "disabled" not in a:
                self.fields.append((a["name"], a.get("value", "")))
        else:
            self.fields.append((a["name"], a.get("value", "")))


def consent(authorize_url: str, *, open_id: str | None = None, decision: str = "authorize",
            drop_scopes: tuple[str, ...] = (), http: requests.Session | None = None) -> requests.Response:
    """Open TikTok's (the emulator's) consent page and submit it; returns the un-followed 302."""
    http = http or requests.Session()
    page = http.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = FormParser()
    form.feed(page.text)
    data = [(k, v) for k, v in form.fields if not (k == "scope_grant" and v in drop_scopes)]
    if open_id is not None:
        data = [(k, v) for k, v in data if k != "open_id"] + [("open_id", open_id)]
    data.append(("decision", decision))
    target = requests.compat.urljoin(authorize_url, form.action or urlsplit(authorize_url).path)
    return http.post(target, data=data, allow_redirects=False, timeout=10)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class WebClient:
    """A browser-like session against the app served on loopback."""

    url: str
    http: requests.Session = field(default_factory=requests.Session)
    pages: list[str] = field(default_factory=list)

    def get(self, path: str, **kw: Any) -> requests.Response:
        response = self.http.get(self.url + path if path.startswith("/") else path, timeout=15, **kw)
        self.pages.append(response.text)
        return response

    def post_form(self, path: str, data: dict | None = None, **kw: Any) -> requests.Response:
        page = self.get("/")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        response = self.http.post(self.url + path, data={"csrf": token, **(data or {})}, timeout=15, **kw)
        self.pages.append(response.text)
        return response

    def start_login(self, path: str = "/login/", data: dict | None = None) -> str:
        """The emulator authorize URL the app redirects to."""
        if path == "/login/":
            response = self.get(path, allow_redirects=False)
        else:
            response = self.post_form(path, data, allow_redirects=False)
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]

    def login(self, *, open_id: str | None = None, decision: str = "authorize",
              drop_scopes: tuple[str, ...] = ()) -> requests.Response:
        """The whole login; returns the app's answer to the callback (not followed)."""
        authorize_url = self.start_login()
        redirect = consent(authorize_url, open_id=open_id, decision=decision, drop_scopes=drop_scopes)
        assert redirect.status_code == 302, redirect.text[:500]
        return self.get(redirect.headers["Location"], allow_redirects=False)


def link_account(emulator_url: str, store: TokenStore, oauth: OAuthClient, open_id: str,
                 scopes: tuple[str, ...] = ("user.info.basic", "video.list"),
                 redirect_uri: str = "http://127.0.0.1:8000/callback/", now: float | None = None) -> Account:
    """Connect ``open_id`` without the web app: consent, exchange the code, store the tokens."""
    verifier = make_verifier()
    url = build_authorize_url(emulator_url + "/v2/auth/authorize/", client_key=oauth.client_key, scopes=scopes,
                              redirect_uri=redirect_uri, state="s" * 20, code_challenge=code_challenge(verifier))
    redirect = consent(url, open_id=open_id)
    code = query_of(redirect.headers["Location"])["code"]
    grant = oauth.exchange_code(code, redirect_uri=redirect_uri, code_verifier=verifier)
    account = Account.from_grant(grant, time.time() if now is None else now, emulated=True)
    store.put(account)
    return account
