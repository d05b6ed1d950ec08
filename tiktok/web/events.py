"""The events page (``/events/``): what happened, newest first, in plain words (issue 24).

Each event of the post store (:mod:`tiktok.store.events`: a post failed or published, a public link arrived, an
account must relink, ...) is told the way the alerts tell it (:func:`tiktok.alerts.messages.describe`), accounts named
by ``@name`` where the token store knows them. One page is one indexed read by id (``?before=<id>`` for the older
ones), so the page costs the same with a year of history; ``?account=<open_id>`` shows one account's. Times are
instants the page's script shows in the browser's zone, with the server's zone named for a page without script.
Events hold no secrets (the store drops upload URLs and publication tokens), and TikTok's codes stay in each event's
details line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request, url_for

from tiktok.errors import ConfigError, StoreError, TokenFileError
from tiktok.store.events import Event
from tiktok.text import zone_label
from tiktok.web import attention
from tiktok.web.board import account_name
from tiktok.web.post_store import post_store, time_html

bp = Blueprint("events", __name__, url_prefix="/events")

PAGE_SIZE = 50  # events a page shows


@dataclass(frozen=True)
class Row:
    """One event as the page shows it: the event and its words (title, body, details, link)."""

    event: Event
    message: Any

    @property
    def post_url(self) -> str | None:
        """Where the Posts page shows the event's post (its card's anchor), or None for an account's event."""
        return None if self.event.post_id is None else url_for("posts.index") + f"#post-{self.event.post_id}"


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/")
def index():
    from tiktok.alerts.messages import describe, names_of  # imported when the page is asked

    before = request.args.get("before", type=int)
    account = request.args.get("account") or None
    try:
        known = attention.accounts()
    except (TokenFileError, ConfigError):
        known = {}
    names = names_of(known)  # open_id -> @username or display name, as the alerts name accounts
    choices = {open_id: account_name(a) for open_id, a in known.items()}  # the filter names every account
    zone = zone_label(current_app.config["CLOCK"]())
    try:
        events = post_store().events_page(before=before, limit=PAGE_SIZE + 1, user_id=account)
    except StoreError as exc:
        return render_template("events.html", rows=[], problem=f"{str(exc).rstrip('. ')}.", older=None,
                               account=account, accounts=choices, before=before, zone=zone, time_html=time_html), 503
    rows = [Row(event, describe(event, names)) for event in events[:PAGE_SIZE]]
    older = rows[-1].event.id if len(events) > PAGE_SIZE else None
    return render_template("events.html", rows=rows, problem="", older=older, account=account, accounts=choices,
                           before=before, zone=zone, time_html=time_html)
