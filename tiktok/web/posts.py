"""The Posts page (``/posts/``): every post of the store and where it stands, updated while something moves.

The store (SQLite by default, PostgreSQL with DATABASE_URL) is the one cron, the CLI, the workers and the app
share; this page reads one page of each group (needs attention first, newest first in Done), and its script asks
``/posts/board?since=N`` for the cards that changed since its last look, never the whole queue. Its actions change
one post the way the CLI would: Retry marks a failed post for another attempt and starts it (the background runner
on one machine; with DATABASE_URL it hands the post to the workers, and the page says when no worker is running);
edit, reschedule and cancel change a post not started (or failed), and only if nobody changed it since the page
showed it (the form carries the post's revision; the store compares it in the same statement that writes). A run
that read the post before the change finds it changed when it starts the attempt, so a post is never made in a form
the person just changed.

Posts are named by their stable id everywhere (``post 17``: URLs, messages, the CLI's lines). A store that cannot be
used is a sentence naming it (503), never an error page with a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from tiktok.errors import ChangeRefused, ConfigError, StoreError, TokenFileError
from tiktok.posting.composition import parse_tags
from tiktok.posting.importer import request_of
from tiktok.posting.schedule import check_future, form_post_at
from tiktok.store.base import BOARD_GROUPS, EDITABLE, ENDED, Post, PostStore
from tiktok.store.records import State
from tiktok.text import local_zone, utc_iso, zone_label
from tiktok.web import attention, queue_runner
from tiktok.web.post_store import install as install_store
from tiktok.web.post_store import post_store, time_html
from tiktok.web.board import PAGE_SIZE, Board, Card, build_board, post_card
from tiktok.web.views import check_csrf, page_error, services

bp = Blueprint("posts", __name__, url_prefix="/posts")

CRON_LINE = "* * * * * cd {folder} && .venv/bin/python upload_to_tiktok.py"
ACTION_PAST = {"edit": "edited", "reschedule": "rescheduled", "cancel": "cancelled", "retry": "retried"}
DELTA_LIMIT = 200  # cards one poll may carry; more than that and the page loads the board afresh


def register(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """The page, its actions, the store (opened on first use) and the background runner (``QUEUE_TICK_S``)."""
    install_store(app)
    queue_runner.install(app, app.extensions["tiktok_services"].settings, test_config or None)
    app.register_blueprint(bp)
    from tiktok.web.compose import bp as compose
    app.register_blueprint(compose)  # the composer, /posts/new


def now() -> float:
    return current_app.config["CLOCK"]()


# -- times -------------------------------------------------------------------------------------------------------

# -- the board ---------------------------------------------------------------------------------------------------

def card_for_post(post: Post) -> Card:
    settings = services().settings
    request_, problems = (request_of(post.entry, source=post.label, allow_loopback=settings.emulated)
                          if post.entry is not None else (None, []))
    waiting = post.record is None and post.state == State.QUEUED
    return post_card(post, request_, accounts(), now=now(), grace_s=settings.post_grace_s,
                     emulated=settings.emulated, emulator_base=settings.api_base,
                     problem="; ".join(p.message for p in problems),
                     missing=missing_media(post.entry, settings) if waiting else ())


def missing_media(entry: Mapping[str, Any] | None, settings) -> tuple[str, ...]:
    """The local media files a post not started names that are no longer there: its ``video_path``, and with the
    folder media store (MEDIA_STORE=folder, the default) its ``video_media`` / ``photo_media`` objects in MEDIA_DIR.
    One stat per file of a card on the page; an S3 store's objects are not asked for (a request per card)."""
    if not entry:
        return ()
    paths = [entry.get("video_path")]
    if settings.media.store == "folder":
        folder = Path(settings.media.media_dir)
        paths += [folder / key for key in (entry.get("video_media"), *(entry.get("photo_media") or ()))
                  if isinstance(key, str) and key and "/" not in key and key not in (".", "..")]
    return tuple(str(path) for path in paths if path and not os.path.isfile(path))


def accounts():
    """The connected accounts, read once per request and shared with the banner (every card names its account)."""
    return attention.accounts()


def load_board(group: str | None = None, page: int = 1) -> Board:
    """One page of each group (or of ``group`` alone); StoreError / TokenFileError / ConfigError when unusable."""
    settings = services().settings
    store = post_store()
    change = store.latest_change()
    missed_before = now() - settings.post_grace_s
    totals = dict(attention.board_counts())  # read once per request: the banner shows the same count
    names = (group,) if group else BOARD_GROUPS
    pages = {name: [card_for_post(post) for post in store.board_page(
        name, missed_before=missed_before, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)] for name in names}
    if group:
        totals = {name: (count if name == group else 0) for name, count in totals.items()}
    last = store.last_import(str(settings.manifest_path.resolve()))
    problems = tuple(line.split(": ", 1)[1] for line in (last or {}).get("problems") or ()
                     if line.startswith("error: "))
    unread = queue_runner.runner_of(current_app).import_problem
    problems = (unread, *problems) if unread else problems
    return build_board(pages, totals, page=page, problems=problems, emulated=settings.emulated, change=change,
                       next_due_at=store.next_due(now()), busy=still_moving(store))


def still_moving(store: PostStore) -> bool:
    """Whether the page should keep looking: a post in flight, one due now (a run is about to take it), or a
    published public post whose link TikTok has not released yet. Three indexed reads, whatever the page shows."""
    at = now()
    if store.moving() or store.following(at):
        return True
    grace_s = services().settings.post_grace_s
    first = store.board_page("upcoming", missed_before=at - grace_s, offset=0, limit=1)  # due times first
    return bool(first) and (first[0].due_at is None or first[0].due_at <= at or first[0].record is not None)


def board_or_problem(group: str | None = None, page: int = 1) -> tuple[Board | None, str]:
    try:
        return load_board(group, page), ""
    except (StoreError, TokenFileError, ConfigError) as exc:
        return None, said(exc)


def wake_in_ms(board: Board) -> int | None:
    """Milliseconds until the next scheduled card comes due (posts.js looks again then), or None."""
    due = board.next_due_at
    return None if due is None else max(0, int((due - now()) * 1000))


@bp.get("/")
def index():
    group = request.args.get("group")
    if group not in (None, *BOARD_GROUPS):
        return page_error("No such group", f"The Posts page has no group {group!r}.", 404)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    board, problem = board_or_problem(group, page)
    settings = services().settings
    cron_line = "python -m tiktok worker" if settings.database_url else CRON_LINE.format(folder=Path.cwd())
    where = post_store_where()
    return render_template("posts.html", board=board, problem=problem, manifest=str(settings.manifest_path),
                           store=where, cron_line=cron_line, database=bool(settings.database_url), group=group,
                           no_worker=board is not None and queue_runner.workers_missing(current_app),
                           group_page=group, page=page, zone=zone_text(),
                           wake_in_ms=wake_in_ms(board) if board is not None else None), \
        200 if board is not None else 503


def post_store_where() -> str:
    """Where the posts are kept, as messages name it (also when the store cannot be opened)."""
    try:
        return post_store().where
    except StoreError:
        settings = services().settings
        return "the PostgreSQL database (DATABASE_URL)" if settings.database_url else str(settings.store_path)


@bp.get("/board")
def board_fragment():
    """What posts.js asks while it follows the page: with ``since``, only the cards changed since that change
    number (each with its group and HTML; ``removed`` for cancelled and withdrawn ones); without, the whole first
    page of every group. A success writes no access-log line: the page asks every 2 s while something moves."""
    from tiktok.web.uploads import QUIET

    request.environ[QUIET] = True  # quiet logs (issue 24): its refusals and failures are still logged
    since = request.args.get("since", type=int)
    try:
        store = post_store()
        change = store.latest_change()
        if since is not None and since <= change:
            changed = store.changed_since(since, limit=DELTA_LIMIT + 1)
            if len(changed) <= DELTA_LIMIT:
                return jsonify(delta(store, changed, change))
    except (StoreError, TokenFileError, ConfigError) as exc:
        return jsonify({"moving": False, "problem": said(exc), "cards": [], "html": ""}), 503
    board, problem = board_or_problem()
    if board is None:
        return jsonify({"moving": False, "problem": problem, "cards": [], "html": ""}), 503
    return jsonify({"full": True, "change": board.change, "moving": board.moving, "problem": "",
                    "wake_in_ms": wake_in_ms(board), "counts": {g.name: g.total for g in board.groups},
                    "cards": [card.to_json() for card in board.cards],
                    "html": render_template("_posts_board.html", board=board)})


def delta(store: PostStore, changed: list[Post], change: int) -> dict[str, Any]:
    cards, removed = [], []
    for post in changed:
        if post.board == "hidden":
            removed.append(post.id)
            continue
        card = card_for_post(post)
        cards.append({**card.to_json(), "sort": card.sort_key,
                      "html": render_template("_post_card.html", c=card)})
    settings = services().settings
    counts = store.board_counts(missed_before=now() - settings.post_grace_s) if changed else None
    due = store.next_due(now())
    return {"full": False, "change": change, "cards": cards, "removed": removed, "counts": counts, "problem": "",
            "moving": still_moving(store), "wake_in_ms": None if due is None else max(0, int((due - now()) * 1000))}


# -- the actions -------------------------------------------------------------------------------------------------

def said(exc: Exception) -> str:
    """An error as the end of a sentence for the page, saying once that nothing was changed."""
    text = str(exc).rstrip(". ")
    if "nothing was changed" not in text.lower():
        text += "; nothing was changed"
    return text + "."


def back(message: str | Markup, category: str = "ok"):
    flash(message, category)
    return redirect(url_for("posts.index"))


def the_post(post_id: int) -> Post | None:
    return post_store().get(post_id)


def revision_of(form, post_id: int) -> int:
    """The revision of the post the form was shown with; ChangeRefused when the form does not say."""
    try:
        return int(form.get("revision", ""))
    except ValueError:
        raise ChangeRefused(f"the form did not say which version of post {post_id} it changes (reload the page and "
                            "try again); nothing was changed") from None


def editable(post: Post | None, post_id: int, action: str) -> str:
    """Why ``action`` cannot be done to the post now ("" when it can, as far as the page can tell)."""
    if post is None or post.state in ENDED:
        return f"Post {post_id} is no longer in the queue; nothing was done."
    if post.entry is None:
        return f"Post {post_id} is history kept from an earlier version; it cannot be {ACTION_PAST[action]}."
    if post.state not in EDITABLE:
        return f"Post {post_id} can no longer be {ACTION_PAST[action]}: a run has started it (it is " \
               f"{post.state.replace('_', ' ')}); nothing was changed."
    if post.record is not None and action == "reschedule":
        return f"Post {post_id} failed, so it has no time to change: Retry posts it again as soon as a run takes " \
               "it; nothing was changed."
    return ""


@bp.post("/<int:post_id>/retry")
def retry(post_id: int):
    check_csrf()
    try:
        marked = post_store().request_retry(post_id)
        post = the_post(post_id) if marked else None
    except StoreError as exc:
        return back(f"Post {post_id} was not retried: {said(exc)}", "warning")
    if post is None:
        return back(f"Post {post_id} was not retried: it has no failed attempt to retry any more, or a run is working "
                    "on it right now; nothing was done.", "warning")
    return back(f"Post {post_id} will be posted again: {queue_runner.start_post(current_app, post.key)}.")


@bp.post("/<int:post_id>/cancel")
def cancel(post_id: int):
    check_csrf()
    try:
        why = editable(the_post(post_id), post_id, "cancel")
        if why:
            return back(why, "warning")
        post_store().cancel(post_id, revision=revision_of(request.form, post_id))
    except (ChangeRefused, StoreError) as exc:
        return back(f"Post {post_id} was not cancelled: {said(exc)}", "warning")
    return back(f"Cancelled post {post_id}: it will not be posted (it stays in the store's history).")


@bp.post("/<int:post_id>/reschedule")
def reschedule(post_id: int):
    check_csrf()
    try:
        post = the_post(post_id)
        why = editable(post, post_id, "reschedule")
        if why:
            return back(why, "warning")
        post_at = form_post_at(request.form)
        if post_at is None:
            raise ValueError("no new time was given")
        check_future(post_at, now())
    except ValueError as exc:
        return back(f"Post {post_id} was not rescheduled: {said(exc)}", "warning")
    except StoreError as exc:
        return back(f"Post {post_id} was not rescheduled: {said(exc)}", "warning")
    try:
        save_entry(post, {"post_at": post_at}, revision_of(request.form, post_id))
    except (ChangeRefused, StoreError) as exc:
        return back(f"Post {post_id} was not rescheduled: {said(exc)}", "warning")
    return back(Markup("Post {} now posts at ").format(post_id) + time_html(
        datetime.fromisoformat(post_at).timestamp()) + ".")


def save_entry(post: Post, changes: dict[str, Any], revision: int) -> Post:
    """The post's entry with ``changes`` (None removes a field), checked as a manifest entry, stored if nobody
    changed the post since ``revision``. ChangeRefused naming what is wrong."""
    entry = {name: value for name, value in (post.entry or {}).items() if name not in changes}
    entry.update({name: value for name, value in changes.items() if value is not None})
    settings = services().settings
    checked, problems = request_of(entry, source=post.label, allow_loopback=settings.emulated)
    if checked is None:
        raise ChangeRefused("; ".join(p.message for p in problems) + "; nothing was changed")
    return post_store().edit(post.id, entry, due_at=checked.due_at, revision=revision)


@bp.route("/<int:post_id>/edit", methods=["GET", "POST"])
def edit(post_id: int):
    if request.method == "POST":
        check_csrf()
    try:
        post = the_post(post_id)
    except StoreError as exc:
        return page_error("The post store cannot be used", said(exc), 503)
    why = editable(post, post_id, "edit")
    if why:
        if request.method == "GET":
            gone = post is None or post.state in ENDED
            return page_error("This post cannot be edited", why, 404 if gone else 409)
        return back(why, "warning")
    card = card_for_post(post)
    if request.method == "GET":
        return render_template("posts_edit.html", card=card, entry=entry_fields(post), error="",
                               timed=post.record is None, zone=zone_text())
    form = request.form
    try:
        changes = {"description": form.get("description", "").strip() or None,
                   "tags": parse_tags(form.get("tags", "")) or None}
    except ValueError as exc:
        return edit_refused(card, post, f"Not saved: {said(exc)}")
    if post.record is None:  # a failed post has no time to change: Retry posts it again
        try:
            post_at = form_post_at(form)
            if post_at is not None and not same_time(post_at, post):  # an unchanged time may be past (missed, due)
                check_future(post_at, now())
        except ValueError as exc:
            return edit_refused(card, post, f"Not saved: {said(exc)}")
        changes["post_at"] = post_at
    try:
        save_entry(post, changes, revision_of(form, post_id))
    except (ChangeRefused, StoreError) as exc:
        return edit_refused(card, post, f"Not saved: {said(exc)}")
    if post.record is not None:
        return back(f"Saved post {post_id}. It is still failed: press Retry to post it with these changes.")
    return back(f"Saved post {post_id}.")


def zone_text() -> str:
    """The machine's zone as the pages name it without script: ``Europe/Berlin (UTC+01:00)``, or ``UTC``."""
    return zone_label(now())


def same_time(post_at: str, post: Post) -> bool:
    return post.due_at is not None and datetime.fromisoformat(post_at).timestamp() == post.due_at


def edit_refused(card: Card, post: Post, message: str):
    """The edit form again, as it was sent, with why it was not saved."""
    form = request.form
    entry = {"description": form.get("description", ""), "tags": form.get("tags", ""),
             "post_at_local": form.get("post_at_local", ""), "post_at_iso": ""}
    return render_template("posts_edit.html", card=card, entry=entry, error=message, timed=post.record is None,
                           zone=zone_text()), 400


def entry_fields(post: Post) -> dict[str, str]:
    """The edit form's starting values: the time in the machine's zone (posts.js shows it in the browser's)."""
    entry = post.entry or {}
    local, iso = "", ""
    if post.due_at is not None:
        local, iso = f"{datetime.fromtimestamp(post.due_at, local_zone()):%Y-%m-%dT%H:%M}", utc_iso(post.due_at)
    return {"description": entry.get("description", ""), "tags": " ".join(f"#{t}" for t in entry.get("tags", ())),
            "post_at_local": local, "post_at_iso": iso}

