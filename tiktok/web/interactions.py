"""Likes, comments (one level of replies) and bookmarks on transcripts (issue 26, item 4); the store's side is
:mod:`tiktok.store.interactions`.

- Every change is a POST carrying the page's CSRF token. Without JavaScript the answer is a redirect back to the
  page the form was on (``next``, a local path only); ``interactions.js`` sends the same forms with ``Accept:
  application/json`` and gets the new counts, so the page updates in place.
- Only a person can interact (:func:`tiktok.web.people.current_person`): on this machine before anyone signed in,
  the page says to sign in first. A comment is deleted by its author or the owner.
- Comments are plain text: the store cleans them (control and bidi override characters out, at most 2,000
  characters, empty refused with a plain sentence) and the pages escape them, wrap names and text in ``<bdi>`` and
  never turn a link into an ``<a>``.
- **Rate limits** (Flask-Limiter, moving window): every interaction counts against the person
  (:data:`PER_PERSON`) and against the address it came from (:data:`PER_ADDRESS`, looser: a team behind one
  office address shares it). Over a limit the answer is 429 with ``Retry-After`` and "You are doing that too often;
  try again in N seconds" (a page, or JSON for the script). Counts live in this process's memory (SQLite mode and
  PostgreSQL mode alike; PostgreSQL has no storage in the ``limits`` library): with several app processes each
  keeps its own, so a person could reach N times the limit across N processes, and a restart forgets them.
- The feed's counts are one query per page (:func:`interaction_counts`), the thread one query per transcript page;
  "Bookmarked by me" (``/transcripts/?bookmarked=1``) pages by keyset on the bookmark, newest first.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Blueprint, Flask, Response, abort, current_app, flash, jsonify, redirect, render_template, \
    request, url_for
from flask_limiter import Limiter, RequestLimit

from tiktok.errors import StoreError
from tiktok.store.interactions import Counts, Thread
from tiktok.transcription.index import lead_of
from tiktok.transcription.store import Feed, FeedCard, TranscriptRecord, TranscriptsFolderError, TranscriptStore
from tiktok.web.people import current_person
from tiktok.web.post_store import post_store
from tiktok.web.security import address_of, safe_next
from tiktok.web.views import check_csrf

log = logging.getLogger(__name__)
bp = Blueprint("interactions", __name__, url_prefix="/transcripts")

PER_PERSON = "30 per 10 seconds;300 per hour"   # one person's likes, comments, bookmarks and deletes together
PER_ADDRESS = "60 per 10 seconds;600 per hour"  # everyone behind one address together (tiktok.web.security.address_of)
LIMITER = "tiktok_interactions_limiter"
TRANSCRIPTS = "tiktok_transcripts"  # tiktok.web.transcripts.STORE_KEY (that module imports this one)


def register(app: Flask) -> None:
    """Attach the blueprint and its own rate limiter (in this process's memory)."""
    limiter = Limiter(key_func=_address_key, app=app, storage_uri="memory://", strategy="moving-window",
                      on_breach=_too_often, default_limits=[], key_prefix="interactions")
    limiter.limit(PER_PERSON, key_func=_person_key)(bp)
    limiter.limit(PER_ADDRESS, key_func=_address_key)(bp)
    app.extensions[LIMITER] = limiter
    app.register_blueprint(bp)


def _person_key() -> str:
    person = current_person()
    return f"person:{person.open_id}" if person else f"address:{address_of(request.remote_addr)}"


def _address_key() -> str:
    return f"address:{address_of(request.remote_addr)}"


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _too_often(limit: RequestLimit) -> Response:
    wait = max(1, math.ceil(limit.reset_at - time.time()))
    message = f"You are doing that too often; try again in {wait} second{'' if wait == 1 else 's'}."
    return _refusal(message, 429, headers={"Retry-After": str(wait)})


def _refusal(message: str, status: int, headers: dict | None = None) -> Response:
    if _wants_json():
        response = jsonify({"error": message})
    else:
        response = current_app.make_response(render_template("message.html", title="Not done", message=message,
                                                              ok=False))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def transcripts() -> TranscriptStore:
    return current_app.extensions[TRANSCRIPTS]


def _record_or_404(open_id: str, video_id: str) -> TranscriptRecord:
    try:
        record = transcripts().get(open_id, video_id)
    except TranscriptsFolderError:
        record = None
    if record is None:
        abort(404)
    return record


def _person_or_refuse():
    person = current_person()
    if person is None:
        abort(_refusal("Sign in with TikTok first (the People page): likes, comments and bookmarks are a person's.",
                       403))
    return person


def _answer(open_id: str, video_id: str, person_id: str, anchor: str = "") -> Response:
    """The new counts as JSON for the script, else a redirect back to the form's page."""
    if _wants_json():
        counts = post_store().counts([(open_id, video_id)], person_id)[(open_id, video_id)]
        return jsonify({"likes": counts.likes, "comments": counts.comments, "liked": counts.liked,
                        "bookmarked": counts.bookmarked})
    here = url_for("transcripts.transcript", open_id=open_id, video_id=video_id)
    sent = request.form.get("next", "")
    back = safe_next(sent) if sent else here
    if back == "/" and sent != "/":
        back = here  # not a local path (or not plain ASCII): the transcript's own page
    return redirect(back + anchor, 303)


def _interaction(open_id: str, video_id: str):
    check_csrf()
    person = _person_or_refuse()
    _record_or_404(open_id, video_id)
    return person


@bp.post("/<open_id>/<video_id>/like")
def like(open_id: str, video_id: str):
    """``value=1`` likes, ``value=0`` takes the like back."""
    person = _interaction(open_id, video_id)
    post_store().set_like(person.open_id, open_id, video_id, request.form.get("value", "1") != "0")
    return _answer(open_id, video_id, person.open_id)


@bp.post("/<open_id>/<video_id>/bookmark")
def bookmark(open_id: str, video_id: str):
    """``value=1`` bookmarks, ``value=0`` drops the bookmark."""
    person = _interaction(open_id, video_id)
    post_store().set_bookmark(person.open_id, open_id, video_id, request.form.get("value", "1") != "0")
    return _answer(open_id, video_id, person.open_id)


@bp.post("/<open_id>/<video_id>/comments")
def comment(open_id: str, video_id: str):
    """A comment, or with ``parent`` a reply to a top-level comment."""
    person = _interaction(open_id, video_id)
    parent = request.form.get("parent", "")
    try:
        made = post_store().add_comment(person.open_id, open_id, video_id, request.form.get("text", ""),
                                        int(parent) if parent.isdigit() else None)
    except ValueError as exc:
        if _wants_json():
            return _refusal(f"{exc}.", 400)
        flash(f"The comment was not added: {exc}.", "warning")
        return _answer(open_id, video_id, person.open_id, "#comment-form")
    return _answer(open_id, video_id, person.open_id, f"#comment-{made.id}")


@bp.post("/<open_id>/<video_id>/comments/<int:comment_id>/delete")
def delete_comment(open_id: str, video_id: str, comment_id: int):
    person = _interaction(open_id, video_id)
    found = post_store().comment(comment_id)
    if found is None or (found.open_id, found.video_id) != (open_id, video_id):
        abort(404)
    if found.person != person.open_id and not person.is_owner:
        return _refusal("Only the comment's author or the app's owner can delete it.", 403)
    if post_store().delete_comment(comment_id, by=person.open_id, owner=person.is_owner):
        flash("The comment was deleted.", "ok")
    return _answer(open_id, video_id, person.open_id, "#comments")


# -- what the pages show -----------------------------------------------------------------------------------------

def interaction_counts(records) -> dict[tuple[str, str], Counts]:
    """Counts for a page of records, for the person looking: one query; empty while the store cannot be read (the
    pages then show no buttons and no thread, and the transcripts themselves still show)."""
    try:
        person = current_person()
        return post_store().counts([(r.open_id, r.video_id) for r in records], person.open_id if person else None)
    except StoreError as exc:
        log.warning("likes and comments cannot be read: %s", exc)
        return {}


def comment_threads(record: TranscriptRecord) -> list[Thread]:
    return post_store().threads(record.open_id, record.video_id)


def may_delete(comment) -> bool:
    person = current_person()
    return person is not None and (person.is_owner or person.open_id == comment.person)


@bp.app_context_processor
def inject_helpers() -> dict:
    return {"interaction_counts": interaction_counts, "comment_threads": comment_threads,
            "may_delete_comment": may_delete}


def bookmarked_feed(*, before: int | None, after: int | None) -> Feed:
    """A page of the person's bookmarked transcripts, newest bookmark first (one record file and text read per
    card: a page, never the folder); a bookmark whose transcript was deleted is left out."""
    person = current_person()
    if person is None:
        return Feed((), None, None)
    page = post_store().bookmarked(person.open_id, before=before, after=after)
    cards = []
    for open_id, video_id in page.keys:
        record = transcripts().get(open_id, video_id)
        if record is None:
            continue
        lead = ""
        if record.ok:
            try:
                lead = lead_of(transcripts().read(open_id, video_id))
            except FileNotFoundError:
                pass
        cards.append(FeedCard(record, lead))
    return Feed(tuple(cards), page.newer, page.older)
