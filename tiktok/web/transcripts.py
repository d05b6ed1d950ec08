"""The Transcripts pages: a feed of every transcript (newest first, cards with cover, account, title, date and the
start of the text; filtered by account and by a full-text search), one page per transcript with its cover,
.txt/.srt/.vtt downloads, a title to edit and a delete with a confirm step (issue 26, items 3 and 5).

The feed reads the search index (tiktok.transcription.index), never the record files, a page at a time by keyset
(``?before=``/``?after=`` row cursors), so a page costs the same at 10,000 transcripts as at 10. The folder is the
TRANSCRIPTS_DIR setting (default ``transcripts/``), the same place ``python transcribe.py`` writes to. Covers come
from ``/covers/<video_id>`` (tiktok.web.covers); a card whose cover cannot be had shows the placeholder under it.
"""

from __future__ import annotations

import html
import shlex
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from tiktok.config import Settings
from tiktok.text import moment
from tiktok.transcription.store import QueryError, Snippet, TranscriptRecord, TranscriptsFolderError, \
    TranscriptStore
from tiktok.web.interactions import bookmarked_feed
from tiktok.web.post_store import post_store
from tiktok.web.views import check_csrf

bp = Blueprint("transcripts", __name__, url_prefix="/transcripts")

STORE_KEY = "tiktok_transcripts"
NON_ACCOUNT_FOLDERS = ("local", "links")  # transcribe_jobs' folders for inputs that are not an account's videos
DOWNLOAD_TYPES = {"txt": "text/plain; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
                  "vtt": "text/vtt; charset=utf-8"}  # text/vtt: the WebVTT spec's registered type
MAX_CURSOR = 2**63 - 1  # a row id (SQLite INTEGER PRIMARY KEY)


def register(app: Flask, settings: Settings) -> None:
    """Attach the blueprint and the store of the transcripts folder (TRANSCRIPTS_DIR)."""
    folder = str(settings.transcription.transcripts_dir)
    app.config["TRANSCRIPTS_DIR"] = folder
    app.extensions[STORE_KEY] = TranscriptStore(folder)
    app.register_blueprint(bp)


def store() -> TranscriptStore:
    return current_app.extensions[STORE_KEY]


def highlight(snippet: Snippet) -> Markup:
    """The snippet's text HTML-escaped, with each match wrapped in <mark> (offsets index the raw text)."""
    parts, last = [], 0
    for start, end in snippet.matches:
        parts += [html.escape(snippet.text[last:start]), "<mark>", html.escape(snippet.text[start:end]), "</mark>"]
        last = end
    parts.append(html.escape(snippet.text[last:]))
    return Markup("".join(parts))  # every piece of text above went through html.escape


def retry_command(record: TranscriptRecord) -> str:
    """What to run to try a failed video again (failed and unfinished videos are retried without --force)."""
    if record.open_id in NON_ACCOUNT_FOLDERS or record.open_id.startswith("@"):
        return f".venv/bin/python transcribe.py {shlex.quote(record.source_url)}"
    return f".venv/bin/python transcribe.py --account {shlex.quote(record.open_id)}"


def safe_link(url: str) -> str | None:
    """``url`` when it is an http(s) link (never a ``javascript:`` one), else None."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def describe_date(record: TranscriptRecord) -> str:
    return moment(record.created_time) if record.created_time else ""


def card_date(record: TranscriptRecord) -> str:
    """When the video was posted, else (a file or a link) when its transcript was saved, saying which."""
    if record.created_time:
        return moment(record.created_time)
    try:
        return "saved " + moment(datetime.fromisoformat(str(record.saved_at)).timestamp())
    except ValueError:
        return ""


def cover_url(record: TranscriptRecord) -> str:
    """The video's cover through the app's caching proxy (tiktok.web.covers), never TikTok's expiring URL."""
    return "/covers/" + quote(record.video_id, safe="")


@bp.app_context_processor
def inject_helpers() -> dict:
    return {"retry_command": retry_command, "safe_link": safe_link, "describe_date": describe_date,
            "highlight": highlight, "cover_url": cover_url, "card_date": card_date}


def _page_error(message: str, status: int):
    return render_template("message.html", title="The transcripts folder cannot be read", message=message,
                           ok=False), status


def _cursor(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and int(value) <= MAX_CURSOR else None


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()
    account = request.args.get("account", "").strip() or None
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    bookmarked = request.args.get("bookmarked") == "1" and not query
    results, feed, problem = None, None, ""
    try:
        if query:
            try:
                results = store().search(query, page=page, account=account)
            except QueryError as exc:
                problem = str(exc)
        if results is None and bookmarked:  # "Bookmarked by me": the store's keyset over bookmarks
            feed = bookmarked_feed(before=_cursor("before"), after=_cursor("after"))
        elif results is None:  # a search page lists only its hits
            feed = store().feed(before=_cursor("before"), after=_cursor("after"), account=account)
    except QueryError as exc:  # the index is being built by another process
        return _page_error(f"{exc}.", 503)
    except TranscriptsFolderError as exc:
        return _page_error(f"{exc}. Set TRANSCRIPTS_DIR to the folder transcribe.py writes to.", 500)
    return render_template("transcripts.html", feed=feed, results=results, query=query, problem=problem,
                           account=account or "", accounts=(results or feed).accounts, bookmarked=bookmarked,
                           folder=current_app.config["TRANSCRIPTS_DIR"])


def _record_or_404(open_id: str, video_id: str) -> TranscriptRecord:
    try:
        record = store().get(open_id, video_id)
    except TranscriptsFolderError:
        record = None
    if record is None:
        abort(404)
    return record


@bp.get("/<open_id>/<video_id>/")
def transcript(open_id: str, video_id: str):
    record = _record_or_404(open_id, video_id)
    text = None
    if record.ok:
        try:
            text = store().read(open_id, video_id)
        except (FileNotFoundError, TranscriptsFolderError):
            text = None
    return render_template("transcript.html", record=record, text=text, confirm_delete=False)


@bp.post("/<open_id>/<video_id>/title")
def edit_title(open_id: str, video_id: str):
    check_csrf()
    _record_or_404(open_id, video_id)
    try:
        record = store().set_title(open_id, video_id, request.form.get("title", ""))
    except (ValueError, FileNotFoundError, TranscriptsFolderError) as exc:
        flash(f"The title was not changed: {exc}.", "warning")
    else:
        flash(f"The title is now “{record.title}”.", "ok")
    return redirect(url_for("transcripts.transcript", open_id=open_id, video_id=video_id))


@bp.route("/<open_id>/<video_id>/delete", methods=["GET", "POST"])
def delete(open_id: str, video_id: str):
    """GET asks to confirm (naming what goes); POST (with the form's CSRF token) removes the files and the row."""
    record = _record_or_404(open_id, video_id)
    if request.method == "GET":
        return render_template("transcript.html", record=record, text=None, confirm_delete=True)
    check_csrf()
    try:
        store().delete(open_id, video_id)
    except TranscriptsFolderError as exc:
        flash(f"The transcript was not deleted: {exc}.", "warning")
        return redirect(url_for("transcripts.transcript", open_id=open_id, video_id=video_id))
    post_store().revoke_shares_of(open_id, video_id)  # its share links end with it (tiktok.web.shares)
    flash(f"Deleted the transcript of “{record.title or record.video_id}” (its .txt, .srt, .vtt and record).", "ok")
    return redirect(url_for("transcripts.index"))


@bp.get("/<open_id>/<video_id>.<kind>")
def download(open_id: str, video_id: str, kind: str):
    if kind not in DOWNLOAD_TYPES:
        abort(404)
    record = _record_or_404(open_id, video_id)
    try:
        body = store().read(open_id, video_id, kind)
    except (FileNotFoundError, TranscriptsFolderError):
        abort(404)
    name = Path(store().path(record.open_id, record.video_id, kind)).name
    return Response(body, content_type=DOWNLOAD_TYPES[kind],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
