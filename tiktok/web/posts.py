"""The Posts page (``/posts/``): every manifest entry and where it stands, updated while something moves.

The manifest and its results file are the queue cron, the CLI and the app share; this page only reads them, and
its actions change them the same ways the CLI would: Retry marks a failed record for another attempt
(``ResultsStore.request_retry``) and kicks the background runner; edit, reschedule and cancel change an entry that
has not started, under the manifest's lock (``ManifestQueue``). Whether the entry has started (a record) or is
claimed by a live run is checked twice: before the form is taken at all, and again under the manifest's lock just
before the write, so a run that claimed it in between still wins and nothing is changed.

A missing manifest is the empty page; a manifest, results or token file that cannot be used is a sentence naming
it, never an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for

from tiktok.errors import ConfigError, TokenFileError
from tiktok.posting.fields import Bad, parse_post_at
from tiktok.posting.manifest import ManifestError, PostRequest, load_manifest
from tiktok.posting.queue import ManifestQueue, QueueError
from tiktok.posting.results import ResultsFileError, ResultsStore, claim_is_live, entry_key, results_path_for
from tiktok.web import queue_runner
from tiktok.web.board import Board, Card, build_board
from tiktok.web.views import check_csrf, page_error, services

bp = Blueprint("posts", __name__, url_prefix="/posts")

CRON_LINE = "* * * * * cd {folder} && .venv/bin/python upload_to_tiktok.py {manifest}"
PAST_SLACK_S = 60  # datetime-local has minute resolution: the minute we are in still counts as now
ACTION_PAST = {"edit": "edited", "reschedule": "rescheduled", "cancel": "cancelled", "retry": "retried"}
UNUSABLE = (ManifestError, ResultsFileError, ConfigError, TokenFileError)


def register(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """The page, its actions and the background runner (``QUEUE_TICK_S``: see tiktok.web.queue_runner)."""
    queue_runner.install(app, app.extensions["tiktok_services"].settings, test_config or None)
    app.register_blueprint(bp)
    from tiktok.web.compose import bp as compose; app.register_blueprint(compose)  # the composer, /posts/new


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


def results_store() -> ResultsStore:
    return ResultsStore(results_path_for(manifest_path()), key=services().settings.tokens_key,
                        clock=current_app.config["CLOCK"])


def manifest_queue() -> ManifestQueue:
    return ManifestQueue(manifest_path(), allow_loopback=services().settings.emulated)


def load_board() -> Board:
    """The board now; ManifestError / ResultsFileError / ConfigError / TokenFileError when a file cannot be used."""
    settings = services().settings
    manifest = load_manifest(manifest_path(), allow_loopback=settings.emulated)
    records = results_store().load()
    return build_board(manifest, records, services().store.load(), now=now(), grace_s=settings.post_grace_s,
                       emulated=settings.emulated, emulator_base=settings.api_base)


def board_or_problem() -> tuple[Board | None, str]:
    """The board, or None and why there is none (no manifest yet is not a problem: the page explains it)."""
    if not manifest_path().exists():
        return None, ""
    try:
        return load_board(), ""
    except UNUSABLE as exc:
        return None, f"{exc}. Nothing was changed; fix the file (or move it aside), then reload this page."


# -- the page ----------------------------------------------------------------------------------------------------

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


def started_reason(store: ResultsStore, key: str) -> str:
    """Why entry ``key`` can no longer be changed ("" when it can): a run recorded it, or a live run claimed it."""
    record = store.get(key)
    if record is not None and record.state != "new":
        return f"a run has started it (it is {record.state})"
    claim = store.claims().get(key)
    if claim is not None and claim_is_live(claim, host=store.host, now=now(), alive=store.alive,
                                           started=store.started, timeout_s=store.claim_timeout_s):
        return f"a run is posting it right now ({claim.describe()})"
    return ""


def not_started(key: str, action: str) -> tuple[Card | None, str]:
    """The card when ``action`` is still allowed for it: not started, and no run holds it right now."""
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


def guard_for(card: Card, action: str):
    """The same check again, under the manifest's lock, right before the write (see the module docstring)."""
    store = results_store()

    def guard(key: str) -> None:
        try:
            reason = started_reason(store, key)
        except ResultsFileError as exc:
            raise QueueError(manifest_path(), f"{exc}; nothing was changed") from None
        if reason:
            raise QueueError(manifest_path(), f"entry {card.number} can no longer be {ACTION_PAST[action]}: "
                                              f"{reason}; nothing was changed")
    return guard


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
        manifest_queue().remove(key, guard=guard_for(card, "cancel"))
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
        manifest_queue().update(key, {"post_at": post_at}, guard=guard_for(card, "reschedule"))
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
        manifest_queue().update(key, changes, guard=guard_for(card, "edit"))
    except QueueError as exc:
        return edit_refused(card, f"Not saved: {exc}")
    return back(f"Saved entry {card.number}.")


def manifest_entry(key: str) -> PostRequest | None:
    manifest = load_manifest(manifest_path(), allow_loopback=services().settings.emulated)
    return next((e for e in manifest.entries if entry_key(e) == key), None)


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
