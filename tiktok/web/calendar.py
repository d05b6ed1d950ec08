"""``/calendar/``: every post on a month or week calendar (issue 27, item 1), one account's or all, in the
browser's time zone, drawn by the vendored EventCalendar widget (``assets/vendor/event-calendar``, MIT) from
``assets/calendar.js``.

- **Events** come from ``/calendar/events?start=&end=&account=`` (epoch seconds, the visible range; ``account`` an
  open_id or @name): one range-bounded, index-backed store query (:meth:`~tiktok.store.planner.PlannerQueries.
  calendar_posts`), never every post; a range longer than :data:`MAX_RANGE_DAYS` is refused.
- **Moving** a post (``POST /calendar/move``, a drag on the calendar) is the Posts page's Reschedule: the same
  checks (:func:`tiktok.web.posts.editable`: a post a run has started is refused), the time must be to come, and the
  store writes only if the post still has the revision the calendar showed (its claim on the change); on refusal
  the widget puts the event back and says why.
- **TikTok's daily cap**: a move that would give the account more than
  :data:`~tiktok.posting.budget.DAILY_DIRECT_POSTS` posts on that day (in the browser's zone) is refused with the
  reason (reference section 7, ``spam_risk_too_many_posts``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from tiktok.auth.names import UnknownAccountName, resolve_account
from tiktok.errors import ChangeRefused, StoreError, TokenFileError
from tiktok.posting.budget import DAILY_DIRECT_POSTS, TOO_MANY_POSTS
from tiktok.posting.policy import DAY_S
from tiktok.posting.schedule import check_future
from tiktok.store.planner import CalendarPost
from tiktok.text import local_zone, zone_label
from tiktok.web.post_store import post_store
from tiktok.web.views import check_csrf, services
from tiktok.words import details_line

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

MAX_RANGE_DAYS = 62  # a month view shows six weeks; a longer range is not a view of this page


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def _now() -> float:
    """The schedule's now: in emulated mode the emulator's (``WORLD_CLOCK``, :mod:`tiktok.clock`)."""
    config = current_app.config
    return config.get("WORLD_CLOCK", config["CLOCK"])()


def _accounts() -> list:
    try:
        return sorted(services().store.load().values(), key=lambda a: a.label)
    except TokenFileError:
        return []


def _names(accounts) -> dict[str, str]:
    return {a.open_id: (f"@{a.username}" if getattr(a, "username", None) else a.label) for a in accounts}


def _account(accounts) -> str | None:
    """The ``account`` argument as an open_id (None: all accounts); UnknownAccountName for a name nobody has."""
    value = (request.values.get("account") or "").strip()
    return resolve_account(value, accounts, option="Account") if value else None


@bp.get("/")
def index():
    accounts = _accounts()
    try:
        chosen = _account(accounts)
    except UnknownAccountName as exc:
        chosen, problem = None, f"{exc} Showing every account."
    else:
        problem = ""
    return render_template("calendar.html", accounts=accounts, names=_names(accounts), chosen=chosen or "",
                           problem=problem, cap=DAILY_DIRECT_POSTS)


@bp.get("/events")
def events():
    """The posts in ``[start, end)`` as the widget's events (JSON)."""
    try:
        start, end = float(request.args["start"]), float(request.args["end"])
    except (KeyError, ValueError):
        return jsonify({"problem": "start and end must be times in epoch seconds."}), 400
    if not 0 <= end - start <= MAX_RANGE_DAYS * DAY_S:
        return jsonify({"problem": f"The range must end after it starts and span at most {MAX_RANGE_DAYS} days."}), \
            400
    accounts = _accounts()
    try:
        user_id = _account(accounts)
        posts = post_store().calendar_posts(start, end, user_id=user_id)
    except UnknownAccountName as exc:
        return jsonify({"problem": str(exc)}), 404
    except StoreError as exc:
        return jsonify({"problem": f"{exc}."}), 503
    names = _names(accounts)
    body = json.dumps({"events": [event_of(post, names) for post in posts]}, separators=(",", ":"))
    return current_app.response_class(body, mimetype="application/json")  # unsorted keys: 12,600 events a month


def event_of(post: CalendarPost, names: dict[str, str]) -> dict:
    """One post as calendar.js turns it into the widget's event (its link: the page's ``data-edit-url`` for a
    movable one, else its group on the Posts page)."""
    return {"id": post.id, "at": post.at, "title": f"{names.get(post.user_id, post.user_id)}: {post.caption[:80]}",
            "state": post.state, "board": post.board, "revision": post.revision,
            "movable": post.has_entry and post.board == "upcoming" and post.state == "queued"}


def _zone(name: str) -> tzinfo:
    """The browser's zone (IANA name), or the machine's when it sent none; ValueError for a name unknown here."""
    if not name:
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"the time zone {name[:60]!r} is not one this machine knows") from None


def over_cap(post, at: float, zone: tzinfo) -> str:
    """Why a move to ``at`` would break TikTok's daily cap for the account that day in ``zone`` ("" if it would
    not): the day already holds DAILY_DIRECT_POSTS of its posts, this one not counted."""
    local = datetime.fromtimestamp(at, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = midnight.timestamp(), (midnight + timedelta(days=1)).timestamp()  # wall clock: 23 to 25 hours
    times = post_store().post_times(post.user_id, start, end)
    if post.due_at is not None and post.due_at in times:
        times.remove(post.due_at)  # the post itself, already on that day
    if len(times) < DAILY_DIRECT_POSTS:
        return ""
    account = _names(_accounts()).get(post.user_id, post.user_id)
    return (f"{account} already has {len(times)} posts on {local:%A %d %B}, TikTok's daily cap of "
            f"{DAILY_DIRECT_POSTS} Direct Posts a creator; choose another day. "
            + details_line(code=TOO_MANY_POSTS))


@bp.post("/move")
def move():
    """Reschedule one post to ``at`` (epoch seconds), as the Posts page's Reschedule does; JSON either way."""
    from tiktok.web.posts import editable, revision_of, said, save_entry

    check_csrf()
    form = request.form
    post_id = form.get("post", type=int)
    if post_id is None:
        return refused("The move did not say which post it is; reload the page and try again.", 400)
    try:
        post = post_store().get(post_id)
        why = editable(post, post_id, "reschedule")
        if why:
            return refused(why, 409)
        at = float(form.get("at", ""))
        zone = _zone(form.get("zone", ""))
        post_at = datetime.fromtimestamp(at, zone).isoformat(timespec="seconds")
        check_future(post_at, _now())
        cap = over_cap(post, at, zone)
        if cap:
            return refused(f"Post {post_id} was not moved: {cap} Nothing was changed.", 409)
        moved = save_entry(post, {"post_at": post_at}, revision_of(form, post_id))
    except (ValueError, OverflowError) as exc:
        return refused(f"Post {post_id} was not moved: {said(exc)}", 400)
    except (ChangeRefused, StoreError) as exc:
        return refused(f"Post {post_id} was not moved: {said(exc)}", 409)
    when = datetime.fromtimestamp(at, zone)
    return jsonify({"ok": True, "message": f"Post {post_id} now posts at {when:%a %d %b %Y, %H:%M} "
                                           f"{zone_label(at, zone)}.", "revision": moved.revision, "at": moved.due_at})


def refused(message: str, status: int):
    return jsonify({"ok": False, "message": message}), status
