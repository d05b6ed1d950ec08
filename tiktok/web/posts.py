"""The Posts page (``/posts/``): every manifest entry and where it stands, updated while something moves.

The queue (the manifest and its results file, or the database with DATABASE_URL: :func:`open_queue`) is the one
cron, the CLI, the workers and the app share; this page only reads it, and its actions change it the same ways the
CLI would: Retry marks a failed record for another attempt (``request_retry``) and kicks the background runner;
edit, reschedule and cancel change an entry that has not started (the queue's editor, under its lock). They hold
the entry's *claim* while they check and write, exactly as a run holds it while posting: a run that has the claim
makes the page refuse, and a run that claims the entry after the page changed it finds the change (the publisher
checks the entry is still queued as read), so an entry is never posted in a form the person just changed.

A missing manifest is the empty page; a manifest, results or token file (or a database) that cannot be used is a
sentence naming it, never an error page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for

from tiktok.errors import ConfigError, DatabaseError, TokenFileError
from tiktok.posting.backend import FileQueue, PostQueue, open_queue
from tiktok.posting.fields import Bad, parse_post_at
from tiktok.posting.manifest import ManifestError, PostRequest
from tiktok.posting.queue import QueueError
from tiktok.posting.results import ResultsFileError, entry_key, results_path_for
from tiktok.web import queue_runner
from tiktok.web.board import Board, Card, build_board
from tiktok.web.views import check_csrf, page_error, services

bp = Blueprint("posts", __name__, url_prefix="/posts")

CRON_LINE = "* * * * * cd {folder} && .venv/bin/python upload_to_tiktok.py {manifest}"
PAST_SLACK_S = 60  # datetime-local has minute resolution: the minute we are in still counts as now
ACTION_PAST = {"edit": "edited", "reschedule": "rescheduled", "cancel": "cancelled", "retry": "retried"}
UNUSABLE = (ManifestError, ResultsFileError, ConfigError, TokenFileError, DatabaseError)


def register(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """The page, its actions and the background runner (``QUEUE_TICK_S``: see tiktok.web.queue_runner)."""
    queue_runner.install(app, app.extensions["tiktok_services"].settings, test_config or None)
    app.register_blueprint(bp)
    from tiktok.web.compose import bp as compose
    app.register_blueprint(compose)  # the composer, /posts/new


# -- times from the forms (pure) ---------------------------------------------------------------------------------

def post_at_from(local: str, offset: str, *, zone: tzinfo | None = None) -> str | None:
    """The ``post_at`` text for a datetime-local value and a UTC offset (``+01:00``, which posts.js fills in);
    None when ``local`` is empty. Without an offset the time is read in ``zone`` (default: the server's zone, at
    that date, so daylight saving is right). ValueError with a person's sentence when they make no time."""
    local, offset = local.strip(), offset.strip()
    if not local:
        return None
    try:
        moment = datetime.fromisoformat(f"{local}{offset}")
    except ValueError:
        raise ValueError(f"{local!r} with UTC offset {offset!r} is not a date and time (expected e.g. "
                         "2026-12-03T09:00 and +01:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def check_future(post_at: str, now: float) -> None:
    """ValueError when ``post_at`` is in the past (before the minute we are in)."""
    try:
        due_at = parse_post_at(post_at).timestamp()
    except Bad as bad:
        raise ValueError(f"post_at {bad}") from None
    if due_at + PAST_SLACK_S <= now:
        raise ValueError(f"{post_at} is in the past: choose a time to come")


def tags_from(text: str) -> list[str]:
    """``"#bread, baking"`` -> ``["bread", "baking"]``: the edit form's tags as the manifest keeps them."""
    return [tag.lstrip("#") for tag in text.replace(",", " ").split() if tag.lstrip("#")]


def offset_text(moment: datetime) -> str:
    text = moment.strftime("%z")
    return f"{text[:3]}:{text[3:]}" if text else ""


# -- reading the files -------------------------------------------------------------------------------------------

def manifest_path() -> Path:
    return Path(current_app.config["MANIFEST_PATH"])


def now() -> float:
    return current_app.config["CLOCK"]()


def post_queue() -> PostQueue:
    return open_queue(services().settings, manifest_path())


def results_store():
    return post_queue().results(clock=current_app.config["CLOCK"])


def manifest_queue():
    return post_queue().editor()


def load_board() -> Board:
    """The board now; ManifestError / ResultsFileError / ConfigError / TokenFileError / DatabaseError when the
    queue cannot be used."""
    settings = services().settings
    queue = post_queue()
    manifest = queue.read()
    records = queue.results(clock=current_app.config["CLOCK"]).load()
    return build_board(manifest, records, services().store.load(), now=now(), grace_s=settings.post_grace_s,
                       emulated=settings.emulated, emulator_base=settings.api_base)


def board_or_problem() -> tuple[Board | None, str]:
    """The board, or None and why there is none (no manifest yet is not a problem: the page explains it)."""
    queue = post_queue()
    if isinstance(queue, FileQueue) and not queue.manifest.exists():
        return None, ""
    try:
        return load_board(), ""
    except UNUSABLE as exc:
        return None, f"{exc}. Nothing was changed; fix the file (or move it aside), then reload this page."


# -- the page ----------------------------------------------------------------------------------------------------

@bp.get("/")
def index():
    board, problem = board_or_problem()
    queue = post_queue()
    if isinstance(queue, FileQueue):
        where, results = str(queue.manifest), str(results_path_for(queue.manifest))
        cron_line = CRON_LINE.format(folder=Path.cwd(), manifest=queue.manifest)
    else:  # the database: workers post it (python -m tiktok worker); no cron line
        where, results, cron_line = queue.where, "the same database", "python -m tiktok worker"
    return render_template("posts.html", board=board, problem=problem, manifest=where, results=results,
                           cron_line=cron_line, database=not isinstance(queue, FileQueue),
                           wake_in_ms=wake_in_ms(board) if board is not None else None)


def wake_in_ms(board: Board) -> int | None:
    """Milliseconds until the next scheduled card comes due (posts.js looks again then), or None."""
    due = board.next_due_at
    return None if due is None else max(0, int((due - now()) * 1000))


@bp.get("/board")
def board_fragment():
    """What posts.js swaps in: the groups as HTML, plus each card's state for scripts and tests."""
    board, problem = board_or_problem()
    if board is None:
        return jsonify({"moving": False, "problem": problem, "cards": [], "html": ""})
    return jsonify({"moving": board.moving, "problem": "", "wake_in_ms": wake_in_ms(board),
                    "cards": [card.to_json() for card in board.cards],
                    "html": render_template("_posts_board.html", board=board)})


# -- the actions -------------------------------------------------------------------------------------------------

def card_for(key: str) -> tuple[Card | None, str]:
    """The card with this key, or None and a sentence saying why nothing can be done to it."""
    board, problem = board_or_problem()
    if board is None:
        return None, problem or f"There is no manifest at {manifest_path()} yet; nothing was done."
    card = board.card(key)
    if card is None:
        return None, ("That post is no longer in the manifest (it was changed or removed since the page was shown); "
                      "nothing was done.")
    return card, ""


def back(message: str, category: str = "ok"):
    flash(message, category)
    return redirect(url_for("posts.index"))


def started_reason(store, key: str) -> str:
    """Why entry ``key`` can no longer be changed ("" when it can): a run recorded it. (A run holding it right now is
    found when the change takes the claim: :func:`holding`.)"""
    record = store.get(key)
    if record is not None and record.state != "new":
        return f"a run has started it (it is {record.state})"
    return ""


class Refused(Exception):
    """The change cannot be made now; the message says why (nothing was changed)."""

    @property
    def sentence(self) -> str:
        text = str(self)
        return f"{text[:1].upper()}{text[1:]}."


@contextmanager
def holding(card: Card, action: str) -> Iterator[None]:
    """Hold entry ``card.key``'s claim while it is checked and changed, as a run holds it while posting. Refused
    when a run holds it, has started it, or the results cannot be read."""
    cannot = f"entry {card.number} can no longer be {ACTION_PAST[action]}"
    store = results_store()
    try:
        holder, _ = store.claim(card.key)
    except (ResultsFileError, DatabaseError) as exc:
        raise Refused(f"{exc}; nothing was changed") from None
    if holder is not None:
        raise Refused(f"{cannot}: a run is posting it right now ({holder.describe()}); nothing was changed")
    try:
        reason = started_reason(store, card.key)
        if reason:
            raise Refused(f"{cannot}: {reason}; nothing was changed")
        yield
    finally:
        store.release(card.key)


def not_started(key: str, action: str) -> tuple[Card | None, str]:
    """The card when ``action`` is still allowed for it: not started (a run holding it right now is found when the
    change takes the claim: :func:`holding`)."""
    card, why = card_for(key)
    if card is None:
        return None, why
    if action not in card.actions:
        return None, f"Entry {card.number} is {card.label.lower()}: it can no longer be {ACTION_PAST[action]}."
    try:
        reason = started_reason(results_store(), key)
    except ResultsFileError as exc:
        return None, f"{exc}; nothing was done."
    if reason:
        return None, f"Entry {card.number} can no longer be {ACTION_PAST[action]}: {reason}."
    return card, ""


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
        return back(f"{exc}; nothing was done.", "warning")
    if not marked:
        return back(f"Entry {card.number} was not retried: it has no failed attempt to retry any more, or a run is "
                    "working on it right now; nothing was done.", "warning")
    started = queue_runner.kick(current_app)
    return back(f"Entry {card.number} will be posted again: "
                + ("the runner has started." if started else "the run going on now takes it next."))


@bp.post("/<key>/cancel")
def cancel(key: str):
    check_csrf()
    card, why = not_started(key, "cancel")
    if card is None:
        return back(why, "warning")
    try:
        with holding(card, "cancel"):
            manifest_queue().remove(key)
    except Refused as exc:
        return back(exc.sentence, "warning")
    except QueueError as exc:
        return back(f"Entry {card.number} was not cancelled: {exc}", "warning")
    return back(f"Cancelled entry {card.number} ({card.media}): it is out of the manifest and will not be posted.")


@bp.post("/<key>/reschedule")
def reschedule(key: str):
    check_csrf()
    card, why = not_started(key, "reschedule")
    if card is None:
        return back(why, "warning")
    try:
        post_at = post_at_from(request.form.get("post_at_local", ""), request.form.get("offset", ""))
        if post_at is None:
            raise ValueError("no new time was given")
        check_future(post_at, now())
    except ValueError as exc:
        return back(f"Entry {card.number} was not rescheduled: {exc}; nothing was changed.", "warning")
    try:
        with holding(card, "reschedule"):
            manifest_queue().update(key, {"post_at": post_at})
    except Refused as exc:
        return back(exc.sentence, "warning")
    except QueueError as exc:
        return back(f"Entry {card.number} was not rescheduled: {exc}", "warning")
    return back(f"Entry {card.number} now posts at {post_at}.")


@bp.route("/<key>/edit", methods=["GET", "POST"])
def edit(key: str):
    if request.method == "POST":
        check_csrf()
    card, why = not_started(key, "edit")
    if card is None:
        if request.method == "GET":
            return page_error("This post cannot be edited", why, 404 if "no longer in the manifest" in why else 409)
        return back(why, "warning")
    entry = manifest_entry(key)
    if request.method == "GET":
        return render_template("posts_edit.html", card=card, entry=entry_fields(entry), error="",
                               server_offset=offset_text(datetime.now().astimezone()))
    form = request.form
    try:
        post_at = post_at_from(form.get("post_at_local", ""), form.get("offset", ""))
        if post_at is not None and not same_time(post_at, entry):  # an unchanged time may be past (missed, due)
            check_future(post_at, now())
    except ValueError as exc:
        return edit_refused(card, f"Not saved: {exc}.")
    changes = {"description": form.get("description", "").strip() or None,
               "tags": tags_from(form.get("tags", "")) or None, "post_at": post_at}
    try:
        with holding(card, "edit"):
            manifest_queue().update(key, changes)
    except Refused as exc:
        return back(exc.sentence, "warning")
    except QueueError as exc:
        return edit_refused(card, f"Not saved: {exc}")
    return back(f"Saved entry {card.number}.")


def manifest_entry(key: str) -> PostRequest | None:
    return next((e for e in post_queue().read().entries if entry_key(e) == key), None)


def same_time(post_at: str, entry: PostRequest | None) -> bool:
    return entry is not None and entry.due_at is not None and parse_post_at(post_at).timestamp() == entry.due_at


def edit_refused(card: Card, message: str):
    form = request.form
    entry = {"description": form.get("description", ""), "tags": form.get("tags", ""),
             "post_at_local": form.get("post_at_local", ""), "offset": form.get("offset", "")}
    return render_template("posts_edit.html", card=card, entry=entry, error=message,
                           server_offset=offset_text(datetime.now().astimezone())), 400


def entry_fields(entry: PostRequest | None) -> dict[str, str]:
    """The edit form's starting values, from the manifest entry (the time as it was written, with its offset)."""
    if entry is None:
        return {"description": "", "tags": "", "post_at_local": "", "offset": ""}
    local, offset = "", ""
    if entry.post_at is not None:
        moment = parse_post_at(entry.post_at)
        local, offset = moment.strftime("%Y-%m-%dT%H:%M"), offset_text(moment)
    return {"description": entry.description, "tags": " ".join(f"#{t}" for t in entry.tags),
            "post_at_local": local, "offset": offset}
