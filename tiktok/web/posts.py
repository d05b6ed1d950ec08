"""The Posts page (``/posts/``): every manifest entry and where it stands, updated while something moves.

The manifest and its results file are the queue cron, the CLI and the app share; this page only reads them, and
its actions change them the same ways the CLI would: Retry marks a failed record for another attempt
(``ResultsStore.request_retry``) and kicks the background runner; edit, reschedule and cancel change an entry that
has not started, under the manifest's lock (``ManifestQueue``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)

from tiktok.errors import ConfigError
from tiktok.posting.manifest import ManifestError, load_manifest
from tiktok.posting.results import ResultsFileError, ResultsStore, results_path_for
from tiktok.web import queue_runner
from tiktok.web.board import Board, Card, build_board
from tiktok.web.views import check_csrf, page_error, services

bp = Blueprint("posts", __name__, url_prefix="/posts")

CRON_LINE = "* * * * * cd {folder} && .venv/bin/python upload_to_tiktok.py {manifest}"


def register(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """The page, its actions and the background runner (``QUEUE_TICK_S``: see tiktok.web.queue_runner)."""
    queue_runner.install(app, app.extensions["tiktok_services"].settings, test_config or None)
    app.register_blueprint(bp)


def manifest_path() -> Path:
    return Path(current_app.config["MANIFEST_PATH"])


def results_store() -> ResultsStore:
    settings = services().settings
    return ResultsStore(results_path_for(manifest_path()), key=settings.tokens_key,
                        clock=current_app.config["CLOCK"])


def load_board() -> Board:
    """The board now; ManifestError / ResultsFileError / ConfigError when a file cannot be used."""
    settings = services().settings
    path = manifest_path()
    manifest = load_manifest(path, allow_loopback=settings.emulated)
    records = results_store().load()
    return build_board(manifest, records, services().store.load(), now=current_app.config["CLOCK"](),
                       grace_s=settings.post_grace_s, emulated=settings.emulated, emulator_base=settings.api_base)


def board_or_problem() -> tuple[Board | None, str]:
    """The board, or None and why there is none (no manifest yet is not a problem: the page explains it)."""
    if not manifest_path().exists():
        return None, ""
    try:
        return load_board(), ""
    except (ManifestError, ResultsFileError, ConfigError) as exc:
        return None, str(exc)


@bp.get("/")
def index():
    board, problem = board_or_problem()
    path = manifest_path()
    return render_template("posts.html", board=board, problem=problem, manifest=path,
                           results=results_path_for(path),
                           cron_line=CRON_LINE.format(folder=Path.cwd(), manifest=path))


@bp.get("/board")
def board_fragment():
    """What posts.js swaps in: the groups as HTML, plus each card's state for scripts and tests."""
    board, problem = board_or_problem()
    if board is None:
        return jsonify({"moving": False, "problem": problem, "cards": [], "html": ""})
    return jsonify({"moving": board.moving, "problem": "", "cards": [card.to_json() for card in board.cards],
                    "html": render_template("_posts_board.html", board=board)})


def card_for(key: str) -> tuple[Card | None, str]:
    """The card with this key, or None and a sentence saying why nothing can be done to it."""
    board, problem = board_or_problem()
    if board is None:
        return None, problem or f"There is no manifest at {manifest_path()} yet."
    card = board.card(key)
    if card is None:
        return None, ("That post is no longer in the manifest (it was changed or removed since the page was shown); "
                      "nothing was done.")
    return card, ""


def back(message: str, category: str = "ok"):
    flash(message, category)
    return redirect(url_for("posts.index"))


def not_started(key: str, action: str) -> tuple[Card | None, str]:
    """The card when ``action`` is still allowed for it: not started, and no run holds it right now."""
    card, why = card_for(key)
    if card is None:
        return None, why
    if action not in card.actions:
        return None, f"Entry {card.number} is {card.label.lower()}: it can no longer be {ACTION_PAST[action]}."
    try:
        claimed = key in results_store().claims()
    except ResultsFileError as exc:
        return None, str(exc)
    if claimed:
        return None, f"Entry {card.number} is being posted right now; it can no longer be {ACTION_PAST[action]}."
    return card, ""


ACTION_PAST = {"edit": "edited", "reschedule": "rescheduled", "cancel": "cancelled", "retry": "retried"}


def manifest_queue():
    from tiktok.posting.queue import ManifestQueue, QueueError  # the composer's queue: one writer for the file
    return ManifestQueue(manifest_path()), QueueError


@bp.post("/<key>/retry")
def retry(key: str):
    check_csrf()
    card, why = card_for(key)
    if card is None:
        return back(why, "warning")
    if "retry" not in card.actions:
        return back(f"Entry {card.number} is {card.label.lower()}: there is nothing to retry.", "warning")
    try:
        marked = results_store().request_retry(key)
    except ResultsFileError as exc:
        return back(str(exc), "warning")
    if not marked:
        return back(f"Entry {card.number} has no failed attempt to retry any more; nothing was done.", "warning")
    started = queue_runner.kick(current_app)
    return back(f"Entry {card.number} will be posted again: "
                + ("the runner has started." if started else "the run going on now takes it next."))


@bp.post("/<key>/cancel")
def cancel(key: str):
    check_csrf()
    card, why = not_started(key, "cancel")
    if card is None:
        return back(why, "warning")
    queue, queue_error = manifest_queue()
    try:
        queue.remove(key)
    except queue_error as exc:
        return back(f"Entry {card.number} was not cancelled: {exc}", "warning")
    return back(f"Cancelled entry {card.number} ({card.media}): it is out of the manifest and will not be posted.")


def post_at_from(form: Mapping[str, str]) -> str | None:
    """The post_at text from a datetime-local field and a UTC offset (``+01:00``); None when both are empty.
    ValueError with a person's sentence when they do not make a time."""
    local = (form.get("post_at_local") or "").strip()
    if not local:
        return None
    offset = (form.get("offset") or "").strip() or server_offset()
    try:
        moment = datetime.fromisoformat(f"{local}{offset}")
    except ValueError:
        raise ValueError(f"{local!r} with offset {offset!r} is not a date and time (expected e.g. "
                         "2026-12-03T09:00 and +01:00)") from None
    if moment.tzinfo is None:
        raise ValueError("the time needs a UTC offset such as +01:00")
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def server_offset() -> str:
    text = datetime.now().astimezone().strftime("%z")
    return f"{text[:3]}:{text[3:]}"


@bp.post("/<key>/reschedule")
def reschedule(key: str):
    check_csrf()
    card, why = not_started(key, "reschedule")
    if card is None:
        return back(why, "warning")
    try:
        post_at = post_at_from(request.form)
    except ValueError as exc:
        return back(f"Entry {card.number} was not rescheduled: {exc}.", "warning")
    queue, queue_error = manifest_queue()
    try:
        queue.update(key, {"post_at": post_at})
    except queue_error as exc:
        return back(f"Entry {card.number} was not rescheduled: {exc}", "warning")
    return back(f"Entry {card.number} now posts at {post_at}." if post_at else
                f"Entry {card.number} has no time now: the next run posts it.")


@bp.route("/<key>/edit", methods=["GET", "POST"])
def edit(key: str):
    card, why = not_started(key, "edit")
    if card is None:
        if request.method == "GET":
            return page_error("This post cannot be edited", why, 404)
        check_csrf()
        return back(why, "warning")
    if request.method == "GET":
        return render_template("posts_edit.html", card=card, entry=entry_fields(card), error="",
                               server_offset=server_offset())
    check_csrf()
    try:
        changes = {"description": request.form.get("description", "").strip() or None,
                   "tags": request.form.get("tags", "").replace(",", " ").split() or None,
                   "post_at": post_at_from(request.form)}
    except ValueError as exc:
        return edit_refused(card, f"{exc}.")
    queue, queue_error = manifest_queue()
    try:
        queue.update(key, changes)
    except queue_error as exc:
        return edit_refused(card, str(exc))
    return back(f"Saved entry {card.number}.")


def edit_refused(card: Card, message: str):
    entry = {"description": request.form.get("description", ""), "tags": request.form.get("tags", ""),
             "post_at_local": request.form.get("post_at_local", ""), "offset": request.form.get("offset", "")}
    return render_template("posts_edit.html", card=card, entry=entry, error=message,
                           server_offset=server_offset()), 400


def entry_fields(card: Card) -> dict[str, str]:
    """The edit form's starting values, from the manifest entry behind ``card``."""
    entry = next(e for e in load_manifest(manifest_path(), allow_loopback=services().settings.emulated).entries
                 if e.index + 1 == card.number)
    local, offset = "", ""
    if card.schedule is not None:
        moment = datetime.fromisoformat(card.schedule.given.replace("Z", "+00:00"))
        local, offset = moment.strftime("%Y-%m-%dT%H:%M"), moment.strftime("%z")
        offset = f"{offset[:3]}:{offset[3:]}"
    return {"description": entry.description, "tags": " ".join(f"#{t}" for t in entry.tags),
            "post_at_local": local, "offset": offset}
