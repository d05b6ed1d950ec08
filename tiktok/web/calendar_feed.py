"""``/calendar/feed/<token>.ics``: the schedule as a read-only iCalendar feed (issue 27, item 4; RFC 5545).

A calendar app (Google Calendar, Apple Calendar, Thunderbird) subscribes to the address and cannot sign in, so the
route is open whatever APP_PASSWORD says (``PUBLIC_ENDPOINTS`` in :mod:`tiktok.web.security`); the token in the
address is what guards it: 32 random bytes (``secrets.token_urlsafe``), shown once when made (``python -m tiktok
slots feed --new``), kept only as its SHA-256 in the store (:mod:`tiktok.store.planner`) and compared in constant
time. Making a new one or ``--revoke`` ends the old one: its address then answers 404, the same answer as an address
that never was. The Host allow-list still applies.

One ``VEVENT`` per scheduled post (not started, with a time), each once: its account (@name when known), its
caption, its time in UTC, and a UID made from the post's store id (stable across edits and reloads, so a calendar
app moves the event instead of adding another). Built with the ``icalendar`` library, not by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from flask import Blueprint, Flask, Response, abort, current_app
from icalendar import Calendar, Event

from tiktok.errors import TikTokError
from tiktok.store.model import Post
from tiktok.web.post_store import store_of

bp = Blueprint("calendar_feed", __name__)
TOKEN_BYTES = 32           # 256 bits: unguessable
EVENT_MINUTES = 15         # how long each post's event shows in a calendar (a post is a moment)
UID_DOMAIN = "tiktok-tool.invalid"  # RFC 5545 suggests UID@domain; .invalid never clashes with a real host
CAPTION_CHARS = 200        # a summary line, not the whole caption (the description holds it)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_feed_token(store) -> str:
    """A new token for the feed, kept hashed in ``store``; the one before stops working. Shown once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    store.set_feed_token_digest(digest(token))
    return token


def revoke_feed_token(store) -> bool:
    """End the feed's token; False when there was none."""
    had = store.feed_token_digest() is not None
    store.set_feed_token_digest(None)
    return had


def token_matches(store, token: str) -> bool:
    kept = store.feed_token_digest()
    return kept is not None and hmac.compare_digest(kept, digest(token))


def feed_path(token: str) -> str:
    return f"/calendar/feed/{token}.ics"


def caption_of(post: Post) -> str:
    entry = post.entry or {}
    return str(entry.get("title") or entry.get("description") or post.media_name or "(no caption)")


def feed_ics(posts: Iterable[Post], *, name_of: Callable[[str], str], now: float) -> bytes:
    """The iCalendar text of ``posts``: one event each, its time in UTC."""
    cal = Calendar()
    cal.add("prodid", "-//tiktok-tool//posting schedule//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "TikTok posting schedule")
    stamp = datetime.fromtimestamp(now, timezone.utc)
    for post in posts:
        at = datetime.fromtimestamp(float(post.due_at or 0), timezone.utc)
        caption, account = caption_of(post), name_of(post.user_id)
        event = Event()
        event.add("uid", f"post-{post.id}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", at)
        event.add("dtend", at + timedelta(minutes=EVENT_MINUTES))
        event.add("summary", f"{account}: {caption[:CAPTION_CHARS]}")
        event.add("description", f"Account: {account}\nCaption: {caption}")
        event.add("categories", [account])
        cal.add_component(event)
    return cal.to_ical()


def _names() -> Callable[[str], str]:
    try:
        accounts = current_app.extensions["tiktok_services"].store.load()
    except TikTokError:  # an unreadable token store: accounts named by open_id, as AccountNames does
        accounts = {}
    names = {a.open_id: f"@{a.username}" for a in accounts.values() if getattr(a, "username", None)}
    return lambda open_id: names.get(open_id, open_id)


@bp.route("/calendar/feed/<token>.ics", methods=["GET"])
def calendar_feed(token: str) -> Response:
    store = store_of(current_app)
    if not token_matches(store, token):
        abort(404)
    body = feed_ics(store.scheduled_posts(), name_of=_names(), now=current_app.config["CLOCK"]())
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the address is the secret
    return response
