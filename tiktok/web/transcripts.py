"""The Transcripts pages: every transcript with a full-text search, one page per transcript, .txt/.srt downloads.

The folder is the TRANSCRIPTS_DIR setting (default ``transcripts/``), the same place ``python transcribe.py`` writes
to.
"""

from __future__ import annotations

import html
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from markupsafe import Markup

from tiktok.config import Settings
from tiktok.text import moment
from tiktok.transcription.store import QueryError, Snippet, TranscriptRecord, TranscriptsFolderError, \
    TranscriptStore

bp = Blueprint("transcripts", __name__, url_prefix="/transcripts")

STORE_KEY = "tiktok_transcripts"
NON_ACCOUNT_FOLDERS = ("local", "links")  # transcribe_jobs' folders for inputs that are not an account's videos
LIST_PER_PAGE = 100  # the list without a search: newest first, in pages, so no page grows with the folder
DOWNLOAD_TYPES = {"txt": "text/plain; charset=utf-8", "srt": "application/x-subrip; charset=utf-8"}


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


@bp.app_context_processor
def inject_helpers() -> dict:
    return {"retry_command": retry_command, "safe_link": safe_link, "describe_date": describe_date,
            "highlight": highlight}


def _page_error(message: str, status: int):
    return render_template("message.html", title="The transcripts folder cannot be read", message=message,
                           ok=False), status


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    results, problem = None, ""
    try:
        if query:
            try:
                results = store().search(query, page=page)
            except QueryError as exc:
                problem = str(exc)
        records = [] if results is not None else store().list_records()  # a search page lists only its hits
    except TranscriptsFolderError as exc:
        return _page_error(f"{exc}. Set TRANSCRIPTS_DIR to the folder transcribe.py writes to.", 500)
    pages = max(1, -(-len(records) // LIST_PER_PAGE))
    shown = records[(min(page, pages) - 1) * LIST_PER_PAGE:min(page, pages) * LIST_PER_PAGE]
    return render_template("transcripts.html", records=shown, total_records=len(records), list_page=min(page, pages),
                           list_pages=pages, results=results, query=query, problem=problem,
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
    return render_template("transcript.html", record=record, text=text)


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
    return Response(body, mimetype=DOWNLOAD_TYPES[kind],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
