"""The media library page (``/media/``): every file uploads left in MEDIA_DIR, with a thumbnail, its original name,
size, duration, TikTok's checks and the posts that use it; "Use in a new post" opens the composer with the file, and
"Delete" removes one no queued, in-flight or failed post uses. The rules are :mod:`tiktok.media.library`'s; the
app's background runner calls :func:`clean_media` before each round, which cleans at most once an hour.

Files without a row (kept before the library existed) are adopted each time the page is listed. Thumbnails are made
once, on the first request for them, and served from MEDIA_DIR's hidden ``.thumbs`` folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, send_file, url_for

from tiktok.config import Settings
from tiktok.errors import StoreError
from tiktok.media import library
from tiktok.posting.composition import is_media_id
from tiktok.store.media import MediaFile, MediaUse
from tiktok.store.records import State
from tiktok.text import count, duration, size
from tiktok.web.post_store import post_store, store_of, time_html
from tiktok.web.views import check_csrf, page_error, services

log = logging.getLogger(__name__)
bp = Blueprint("media", __name__, url_prefix="/media")

PAGE_SIZE = 48  # files a page shows
LAST_CLEAN = "tiktok_media_last_clean"  # app.extensions: when the runner last cleaned (the app's clock)
STATE_WORDS = {State.QUEUED: "queued", State.PENDING_INIT: "starting", State.UPLOADING: "uploading",
               State.PROCESSING: "processing", State.POSTED: "posted", State.IN_INBOX: "in the inbox",
               State.FAILED: "failed", State.CANCELLED: "cancelled", State.WITHDRAWN: "withdrawn"}


@dataclass(frozen=True)
class Row:
    """One file as the page shows it."""

    media: MediaFile
    uses: tuple[MediaUse, ...]

    @property
    def title(self) -> str:
        return library.shown_name(self.media)

    @property
    def held(self) -> bool:
        return any(use.holds for use in self.uses)

    @property
    def composable(self) -> bool:
        """The composer takes it ("Use in a new post"): a video upload it could have kept itself."""
        return self.media.kind == "video" and is_media_id(self.media.name)

    @property
    def problems(self) -> list[str]:
        return list(self.media.checks.get("problems") or ())

    def removed_after(self, keep_s: float | None) -> float | None:
        """When the cleanup may remove it, as things stand: None while a post holds it (or with cleanup off)."""
        if keep_s is None or self.held:
            return None
        return max([self.media.last_used_at, *(use.updated_at for use in self.uses)]) + keep_s


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def folder() -> Path:
    return Path(services().settings.media_dir).resolve()


def now() -> float:
    return current_app.config["CLOCK"]()


# -- pages -----------------------------------------------------------------------------------------------------------

@bp.get("/")
def index():
    page = max(1, request.args.get("page", 1, type=int))
    store = post_store()
    try:
        library.adopt(store, folder())
    except OSError as exc:  # a folder that cannot be read: the rows already kept are still listed
        log.warning("could not look for new files in %s: %s", folder(), exc)
    files = store.media_files(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    uses = store.media_uses([media.name for media in files])
    rows = [Row(media, tuple(uses.get(media.name, ()))) for media in files]
    total, total_bytes = store.media_totals()
    keep_s = services().settings.media.keep_unused_s
    return render_template("media.html", rows=rows, page=page, more=page * PAGE_SIZE < total, total=total,
                           total_size=size(total_bytes), folder=folder(), now=now(),
                           keep_s=keep_s, keep=duration(keep_s) if keep_s is not None else None, words=STATE_WORDS,
                           size=size, duration=duration, count=count, time_html=time_html, post_link=post_link)


@bp.get("/<name>/thumb.jpg")
def thumb(name: str):
    """The file's thumbnail (a small JPEG, made on the first request); 404 when the file or its picture is gone."""
    if not library.is_library_name(name):
        abort(404)
    path = library.thumbnail(folder(), name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=86400)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.get("/<name>/file")
def file(name: str):
    """The file itself (Range requests work, so a video player can seek)."""
    path = folder() / name
    if not library.is_library_name(name) or not path.is_file():
        abort(404)
    return send_file(path, conditional=True)


@bp.post("/<name>/delete")
def delete(name: str):
    check_csrf()
    store = post_store()
    media = store.media_file(name) if library.is_library_name(name) else None
    if media is None or media.removed_at is not None:
        return page_error("No such file", f"The media library holds no file {name}; nothing was deleted.", 404)
    label = library.shown_name(media)
    try:
        removal = library.remove(store, folder(), name)
    except OSError as exc:
        return page_error("Not deleted", f"{label} is marked removed, but {folder() / name} could not be deleted "
                                         f"({exc.strerror or exc}): the next media cleanup tries again.", 500)
    if removal.reason == "held":
        posts = ", ".join(f"post {use.post_id} ({STATE_WORDS[use.state]})" for use in removal.held_by)
        return page_error("Not deleted", f"{label} is used by {posts}: a file that a queued, scheduled, "
                                         "in-flight or failed post uses cannot be deleted. Cancel those posts first, "
                                         "or wait until they are posted; nothing was deleted.", 409)
    if not removal.removed:
        return page_error("No such file", f"{label} was removed a moment ago; nothing else was deleted.", 404)
    flash(f"Deleted {label} ({size(media.size_bytes)}).", "ok")
    return redirect(url_for("media.index"))


def post_link(use: MediaUse) -> str | None:
    """Where the Posts page shows the post (its group's page), or None for a hidden one (cancelled, withdrawn)."""
    if use.board not in ("upcoming", "in_progress", "failed", "done"):
        return None
    return url_for("posts.index", group=use.board) + f"#post-{use.post_id}"


@bp.app_template_global()
def media_thumb(name: str | None) -> str | None:
    """For a post card: the thumbnail URL of a library file that is still there, else None."""
    if not name or not library.is_library_name(name) or not (folder() / name).is_file():
        return None
    return url_for("media.thumb", name=name)


# -- the composer and the runner -------------------------------------------------------------------------------------

def prefill(name: str) -> tuple[str, str | None]:
    """For ``/posts/new?media=NAME``: the media id to put in the form and its original name (or ("", None))."""
    if not is_media_id(name):
        return "", None
    media = post_store().media_file(name)
    if media is not None and media.removed_at is not None:
        return "", None
    return name, media.original if media is not None else None


def clean_media(app: Flask, settings: Settings, clock: Callable[[], float]) -> str | None:
    """The runner's cleanup: at most once an hour (:data:`tiktok.media.library.CLEAN_EVERY_S`); a line for the log,
    or None when it was not due. A store or folder that cannot be used is logged, never raised (posting goes on)."""
    at = clock()
    if not library.clean_due(app.extensions.get(LAST_CLEAN), at):
        return None
    app.extensions[LAST_CLEAN] = at
    where = Path(settings.media_dir).resolve()
    try:
        cleaned = library.clean(store_of(app), where, now=at, keep_s=settings.media.keep_unused_s)
    except (StoreError, OSError) as exc:
        log.warning("media cleanup of %s did not run: %s", where, exc)
        return None
    for problem in cleaned.failed:
        log.warning("media cleanup: %s could not be deleted; the next cleanup tries again", problem)
    line = (f"media cleanup: removed {count(len(cleaned.removed), 'unused upload')} "
            f"({size(cleaned.freed_bytes)}) from {where}")
    if cleaned.removed:  # quiet logs (issue 24): an hourly cleanup that removed nothing is not news
        log.info("%s", line)
    return line

