"""What needs a person, on every page (issue 24: failures and relinks were easy to miss): a count in the navigation
and a banner naming each account that must be linked again and how many posts need attention (failed, or missed
their time: the Posts page's first group), with a Relink button per account and a link to that group.

Cheap by rule: a page that shows the banner reads the token store once and the post store's group counts once
(:meth:`~tiktok.store.model.PostStore.board_counts`, one indexed count), whatever the history; the Posts page and
the banner share both reads (:func:`accounts`, :func:`board_counts`, kept on ``flask.g`` for the request). The
template asks for it (``attention()`` in base.html), so the card fragments the Posts page's script fetches read
nothing. Accounts are named as people know them (``@username``, else the display name), never by open_id.

Nothing is shown to a visitor the password gate has not let in (APP_PASSWORD), and a store that cannot be read shows
no banner rather than breaking the page that says so (the app's error pages extend base.html too).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, request, session

from tiktok.auth.tokens import Account
from tiktok.errors import ConfigError, DatabaseError, StoreError, TokenFileError
from tiktok.web.board import account_name, must_relink
from tiktok.web.post_store import post_store

UNREADABLE = (StoreError, TokenFileError, ConfigError, DatabaseError)  # the page says so itself; the banner is quiet
REFUSED = "TikTok no longer accepts its sign-in"  # TikTok refused the refresh token (Account.relink_reason)
RAN_OUT = "its sign-in with TikTok ran out"  # the refresh token's own lifetime ended


@dataclass(frozen=True)
class Relink:
    """An account that must be linked again: its open_id (for the Relink form only), how pages name it, and why."""

    open_id: str
    name: str
    why: str = REFUSED


@dataclass(frozen=True)
class Attention:
    """What the banner and the navigation's count say; empty when nothing needs a person."""

    relink: tuple[Relink, ...] = ()
    posts: int = 0  # the Posts page's "Needs attention" group: failed, or missed their time

    @property
    def count(self) -> int:
        return len(self.relink) + self.posts

    def __bool__(self) -> bool:
        return self.count > 0


NOTHING = Attention()


def attention_of(accounts: dict[str, Account], counts: dict[str, int] | None, now: float) -> Attention:
    """The banner's facts from the token store's accounts and the post store's group counts (pure)."""
    relink = tuple(sorted((Relink(a.open_id, account_name(a), REFUSED if a.relink_reason else RAN_OUT)
                           for a in accounts.values() if must_relink(a, now)), key=lambda r: r.name.lower()))
    return Attention(relink=relink, posts=(counts or {}).get("failed", 0))


def now() -> float:
    return current_app.config["CLOCK"]()


def accounts() -> dict[str, Account]:
    """The connected accounts, read once per request (the banner and every card of the Posts page name them)."""
    if "tiktok_accounts" not in g:
        g.tiktok_accounts = current_app.extensions["tiktok_services"].store.load()
    return g.tiktok_accounts


def board_counts() -> dict[str, int]:
    """The Posts page's group counts, read once per request (a post missed beyond POST_GRACE counts as failed)."""
    if "tiktok_board_counts" not in g:
        grace_s = current_app.extensions["tiktok_services"].settings.post_grace_s
        g.tiktok_board_counts = post_store().board_counts(missed_before=now() - grace_s)
    return g.tiktok_board_counts


def let_in() -> bool:
    """Whether this request may see the app's own facts (the password gate, when one is set, let it in)."""
    from tiktok.web.people import SIGN_IN_ENDPOINTS, may_see
    if request.endpoint in SIGN_IN_ENDPOINTS or not may_see():  # a person not signed in or not allowed yet
        return False
    if "tiktok_password_gate" not in current_app.extensions:
        return True
    if request.endpoint == "security.app_login":
        return False
    return current_app.extensions["tiktok_password_gate"].sign_ins.is_open(session.get("sign_in"))


def current() -> Attention:
    """This request's attention (computed on the first call, then kept): what base.html shows."""
    if "tiktok_attention" in g:
        return g.tiktok_attention
    found = NOTHING
    if let_in():
        try:
            known = accounts()
        except UNREADABLE:
            known = {}
        try:
            counts = board_counts()
        except UNREADABLE:
            counts = None
        found = attention_of(known, counts, now())
    g.tiktok_attention = found
    return found


def has_endpoint(name: str) -> bool:
    """Whether the app has a page at endpoint ``name`` (the navigation links a page another part may not add)."""
    return name in current_app.view_functions


def install(app: Flask) -> None:
    """Give every template ``attention()`` and ``has_endpoint(name)``; nothing is read until a page asks."""

    @app.context_processor
    def attention_globals() -> dict:
        return {"attention": current, "has_endpoint": has_endpoint}
