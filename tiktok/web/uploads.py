"""The composer's uploads, written once (``/posts/new/uploads``): a video comes in slices, each put in its place.

compose.js sends a file in slices of :data:`SLICE_BYTES` (the unit a dropped connection costs), a few at once, and
each slice is written at its offset (``os.pwrite``) into one sparse ``.part`` file in MEDIA_DIR. That file becomes
the upload: no temporary copy, no second write, memory flat at any size.

    POST   /posts/new/uploads?open_id=ID  {"name", "size"}  201 {upload_id, slice_bytes, slices, url}
    PUT    <url>/<index>                  the slice         200 {received, slices}
    GET    <url>                          which arrived     200 {received, slices, missing}
    POST   <url>/finish                   probe and keep    200 the media JSON the composer shows
    DELETE <url>                          abandon           204, the part file removed

A slice's body never sits in memory: the server (tiktok/web/run.py, waitress) reads every request's headers first
and asks :meth:`Uploads.direct_target` whether a ``PUT <url>/<index>`` may go straight to its place: the upload is
in progress, the index is one of its slices, the Content-Length is that slice's length and the ``X-CSRF-Token`` is
the one of the browser that started it. If so, each block the server reads is written at the slice's offset as it
arrives (:class:`Landing`), and the request reaches the app with an empty body and the server's record of what it
wrote (:class:`Landed`, which no header a client sends can stand for); anything else meets the server's limit on
bodies, about a megabyte held in memory, and a bigger one is refused before a byte of it is read. The app then
checks the request like any other (the session's token, the upload's owner) and counts the slice only when the
server wrote it in full: a slice cut off on its way never reaches the app and is sent again, and one whose checks
fail is not counted (the owner's own slice later writes over it). The upload id (128 random bits) is a capability:
it is handed only to the page of the browser session that started the upload, which every request must prove.

Every request carries the page's CSRF token (header ``X-CSRF-Token``). What can refuse an upload is checked when it
starts, before a byte of the file is accepted: the token, the account, the size (TikTok's 4 GB), this browser's
uploads in progress (:data:`UPLOADS_PER_BROWSER`), free space in MEDIA_DIR (what uploads in progress will still
write counted, :data:`DISK_MARGIN_BYTES` kept spare) and creator_info. A slice sent again is written again in the
same place, so a slice lost with a dropped connection is simply sent again: the page asks which arrived and resumes
from there. An upload belongs to the browser session (and account) that started it; one idle for
:data:`IDLE_LIMIT_S` is dropped with its file. A full disk answers 507 with a plain message and removes the part
file. Every answer, refusals and surprises included, is JSON.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request, session, url_for
from werkzeug.exceptions import ClientDisconnected

from tiktok import text
from tiktok.errors import DatabaseError, StoreError
from tiktok.posting.composition import media_name, media_summary
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.media import SUPPORTED_CONTAINERS, MediaError, MediaInfo, probe
from tiktok.web.compose import connected_accounts, creator_for, media_folder, original_name
from tiktok.web.json_errors import answer_in_json

log = logging.getLogger(__name__)
bp = Blueprint("uploads", __name__, url_prefix="/posts/new/uploads")

MiB = 1024 * 1024
# One request's body, and what a dropped connection costs to send again. The server writes it straight into the
# part file (tiktok/web/run.py), so its size costs no memory; a large one keeps the requests per gigabyte few
# (each costs about a millisecond of the app's CPU; at 1 MiB they made a 1 GB upload take twice curl's time).
SLICE_BYTES = 64 * MiB
UPLOADS_PER_BROWSER = 3  # uploads in progress one browser session may hold (a second tab, a file chosen again)
IDLE_LIMIT_S = 3600.0  # an upload with no request for this long is dropped with its part file
DISK_MARGIN_BYTES = 64 * MiB  # kept free in MEDIA_DIR beyond every upload in progress: stores, logs, tokens
CSRF_HEADER = "X-CSRF-Token"
PART_PREFIX, PART_SUFFIX = ".upload-", ".part"  # hidden, and never a media id (tiktok.posting.composition)
EXPIRED = "The page expired or came from another site; reload it and choose the file again."
SLICE_REFUSED = ("This slice cannot be taken: its upload is not in progress (it finished, was abandoned, or was "
                 f"dropped after {text.duration(IDLE_LIMIT_S)} without news), or the slice is not one it expects from "
                 "this page (its number, its length or the page's token is wrong). Choose the file again.")
QUIET = "tiktok.quiet"  # a WSGI environ key: this success needs no access-log line (tiktok.web.run.AccessLog)


class UploadRefused(Exception):
    """An upload request that cannot be served; ``status`` is the HTTP answer, ``details`` go into its JSON."""

    def __init__(self, message: str, status: int, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


# -- the slices' arithmetic (pure) ----------------------------------------------------------------------------------

def slice_count(size: int, slice_bytes: int = SLICE_BYTES) -> int:
    """How many slices a file of ``size`` bytes (at least 1) is sent in; the last may be shorter."""
    return -(-size // slice_bytes)


def slice_span(size: int, slice_bytes: int, index: int) -> tuple[int, int]:
    """Slice ``index``'s (offset, length) in a file of ``size`` bytes; IndexError outside the file."""
    if not 0 <= index < slice_count(size, slice_bytes):
        raise IndexError(index)
    offset = index * slice_bytes
    return offset, min(slice_bytes, size - offset)


# -- uploads in progress ----------------------------------------------------------------------------------------------

@dataclass
class Upload:
    """One upload in progress: whose it is, the file it becomes, and which slices arrived."""

    id: str
    owner: str  # a digest of the browser session's CSRF token
    open_id: str
    name: str  # the person's file name, as the page sent it
    size: int
    path: Path  # the sparse part file in MEDIA_DIR
    max_duration_s: int | None  # the creator's longest video, from creator_info at the start
    touched_at: float
    slice_bytes: int = SLICE_BYTES
    received: set[int] = field(default_factory=set)
    kind: str = "video"  # or "photo": what the page said it sends (a picture's cap and finish: tiktok.web.photos)

    @property
    def slices(self) -> int:
        return slice_count(self.size, self.slice_bytes)

    def missing(self) -> list[int]:
        return [i for i in range(self.slices) if i not in self.received]

    def unwritten_bytes(self) -> int:
        """What this upload will still add to the disk (its part file is sparse until each slice arrives)."""
        return self.size - sum(slice_span(self.size, self.slice_bytes, i)[1] for i in self.received)


class Uploads:
    """Every upload in progress, in memory under one lock (an app has one, in ``app.extensions``)."""

    def __init__(self, clock: Callable[[], float], *, idle_s: float = IDLE_LIMIT_S,
                 per_browser: int = UPLOADS_PER_BROWSER, margin_bytes: int = DISK_MARGIN_BYTES,
                 slice_bytes: int = SLICE_BYTES) -> None:
        self.clock, self.idle_s, self.per_browser, self.margin_bytes = clock, idle_s, per_browser, margin_bytes
        self.slice_bytes = slice_bytes  # for uploads started from now on
        self._lock = threading.Lock()
        self._uploads: dict[str, Upload] = {}

    def admit(self, owner: str, folder: Path, name: str, size: int) -> None:
        """UploadRefused when this browser holds too many uploads or ``folder``'s disk cannot take ``size``."""
        with self._lock:
            self._sweep()
            self._admit(owner, folder, name, size)

    def open(self, owner: str, open_id: str, folder: Path, name: str, size: int,
             max_duration_s: int | None) -> Upload:
        """Admit the upload again (another may have started meanwhile) and make its sparse part file."""
        with self._lock:
            self._sweep()
            self._admit(owner, folder, name, size)
            self._sweep_orphans(folder)
            upload_id = secrets.token_hex(16)
            path = folder / f"{PART_PREFIX}{upload_id}{PART_SUFFIX}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
                try:
                    os.ftruncate(fd, size)  # sparse: blocks are taken as slices arrive
                finally:
                    os.close(fd)
            except OSError as exc:
                path.unlink(missing_ok=True)
                raise write_refusal(exc, folder, name) from None
            upload = Upload(upload_id, owner, open_id, name, size, path, max_duration_s, self.clock(),
                            self.slice_bytes)
            self._uploads[upload_id] = upload
            return upload

    def get(self, owner: str, upload_id: str) -> Upload:
        """This browser's upload ``upload_id`` (now active); UploadRefused 404 when there is none."""
        with self._lock:
            self._sweep()
            upload = self._find(owner, upload_id)
            upload.touched_at = self.clock()
            return upload

    def direct_target(self, path: str, length: int, token: str) -> Landing | None:
        """Where the body of ``PUT path`` may go straight from the server (called with the request's headers, in the
        server's I/O thread, before a byte of the body is read): a :class:`Landing` when ``path`` names a slice of an
        upload in progress, ``length`` (its Content-Length) is that slice's and ``token`` (its ``X-CSRF-Token``) is
        the one of the browser that started it; None otherwise, and the request meets the server's small limit on
        bodies. The app still checks the session before it counts the slice."""
        address = slice_address(path)
        if address is None:
            return None
        upload_id, index = address
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or not hmac.compare_digest(upload.owner, owner_of(token)):
                return None
            try:
                offset, expected = slice_span(upload.size, upload.slice_bytes, index)
            except IndexError:
                return None
            if length != expected:
                return None
            upload.touched_at = self.clock()
            return Landing(upload.id, index, upload.path, offset, length)

    def arrived(self, upload: Upload, index: int) -> int:
        """Note slice ``index`` as written; how many slices have arrived."""
        with self._lock:
            upload.received.add(index)
            upload.touched_at = self.clock()
            return len(upload.received)

    def take(self, owner: str, upload_id: str) -> Upload:
        """The upload, complete, no longer in progress; UploadRefused 409 (naming the missing slices) if not."""
        with self._lock:
            self._sweep()
            upload = self._find(owner, upload_id)
            missing = upload.missing()
            if missing:
                upload.touched_at = self.clock()
                raise UploadRefused(f"{text.count(len(missing), 'slice')} of {upload.name} did not arrive "
                                    f"(the first: {missing[0]}); send them, then finish again.", 409,
                                    missing=missing)
            del self._uploads[upload.id]
            return upload

    def drop(self, upload_id: str, owner: str | None = None) -> bool:
        """Forget the upload and remove its part file (only if it is ``owner``'s, when given); whether it was."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or (owner is not None and not hmac.compare_digest(upload.owner, owner)):
                return False
            del self._uploads[upload_id]
        upload.path.unlink(missing_ok=True)
        return True

    def in_progress(self) -> list[Upload]:
        with self._lock:
            return list(self._uploads.values())

    def _find(self, owner: str, upload_id: str) -> Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or not hmac.compare_digest(upload.owner, owner):
            raise UploadRefused("This upload is not in progress: it finished, was abandoned, or was dropped after "
                                f"{text.duration(self.idle_s)} without news. Choose the file again.", 404)
        return upload

    def _admit(self, owner: str, folder: Path, name: str, size: int) -> None:
        mine = sum(1 for u in self._uploads.values() if u.owner == owner)
        if mine >= self.per_browser:
            raise UploadRefused(f"This browser already has {text.count(mine, 'upload')} in progress, the most it "
                                "may have at once; let one finish (or close the page that sends it), then choose "
                                "the file again.", 429)
        free = shutil.disk_usage(folder).free
        coming = sum(u.unwritten_bytes() for u in self._uploads.values() if u.path.parent == folder)
        usable = free - coming - self.margin_bytes
        if size > usable:
            raise UploadRefused(
                f"There is not enough free space in MEDIA_DIR ({folder}) for {name}: it needs {text.size(size)} "
                f"and {text.size(max(usable, 0))} can be used ({text.size(free)} free, {text.size(coming)} still "
                f"to come for uploads in progress, {text.size(self.margin_bytes)} kept spare). Free some space "
                "there or set MEDIA_DIR to a bigger disk, then choose the file again.", 507)

    def _sweep(self) -> None:
        """Drop every upload idle for longer than the limit, with its part file."""
        stale = self.clock() - self.idle_s
        for upload in [u for u in self._uploads.values() if u.touched_at < stale]:
            del self._uploads[upload.id]
            upload.path.unlink(missing_ok=True)
            log.info("dropped upload %s of %s: idle for %s", upload.id, upload.name, text.duration(self.idle_s))

    def _sweep_orphans(self, folder: Path) -> None:
        """Remove part files no upload in progress owns (left by an app that stopped) once idle past the limit."""
        ours = {u.path.name for u in self._uploads.values()}
        stale = self.clock() - self.idle_s
        for part in folder.glob(f"{PART_PREFIX}*{PART_SUFFIX}"):
            try:
                if part.name not in ours and part.stat().st_mtime < stale:
                    part.unlink()
            except OSError:
                pass  # gone meanwhile, or not ours to remove


# -- slices the server writes as they arrive -----------------------------------------------------------------------

_SLICE_PATH = re.compile(re.escape(bp.url_prefix or "") + r"/([0-9a-f]{32})/([0-9]{1,9})")  # upload ids: token_hex(16)


def slice_address(path: str) -> tuple[str, int] | None:
    """(upload id, slice index) when ``path`` is a slice's address, else None."""
    match = _SLICE_PATH.fullmatch(path)
    return (match.group(1), int(match.group(2))) if match else None


class Landing:
    """One slice's body on its way straight into its upload's part file: the server hands it each block it reads
    (:meth:`take`, in its I/O thread), which is written at the slice's place and counted, never kept. Made only by
    :meth:`Uploads.direct_target`; the request then reaches the app with it (:func:`landed`)."""

    def __init__(self, upload_id: str, index: int, path: Path, offset: int, length: int) -> None:
        self.upload_id, self.index, self.path, self.offset, self.length = upload_id, index, path, offset, length
        self.taken = 0  # bytes of the body read so far: written, or let go after a failed write
        self.error: OSError | None = None  # the first write that failed (a full disk, the upload dropped)

    @property
    def complete(self) -> bool:
        """The whole body was read (whether or not every byte could be written: see :attr:`error`)."""
        return self.taken >= self.length

    def take(self, data: bytes) -> int:
        """Write the part of ``data`` that belongs to this slice at its place; how many bytes that was (what
        follows is the connection's next request). After a failed write the rest is read and let go, so the app
        can still answer on this connection (507 for a full disk)."""
        piece = memoryview(data)[:self.length - self.taken]
        if self.error is None and piece:
            try:
                write_at(self.path, self.offset + self.taken, piece)
            except OSError as exc:
                self.error = exc
        self.taken += len(piece)
        return len(piece)


class Landed(io.BytesIO):
    """The body the app reads of a request whose slice the server wrote as it arrived: empty, with the server's
    record of it (``landing``). Only the server puts one in a request (``wsgi.input``); no header a client sends
    can stand for it."""

    def __init__(self, landing: Landing) -> None:
        super().__init__()
        self.landing = landing


def landed(environ: dict) -> Landing | None:
    """The server's record of this request's slice, when the server wrote its body straight into the part file."""
    body = environ.get("wsgi.input")
    return body.landing if isinstance(body, Landed) else None


def uploads() -> Uploads:
    return current_app.extensions["tiktok_uploads"]


def register(app: Flask) -> None:
    """The upload routes and their uploads in progress (timed by the app's ``CLOCK``)."""
    app.extensions["tiktok_uploads"] = Uploads(app.config["CLOCK"])
    app.register_blueprint(bp)


# -- the routes ---------------------------------------------------------------------------------------------------

@bp.post("")
def start():
    """Check everything that can refuse the upload, then open it: ``{"name", "size"}`` in, its id and URL out."""
    owner = browser()
    open_id = request.args.get("open_id", "")
    if open_id not in {a.open_id for a in connected_accounts()}:
        raise UploadRefused(f'open_id: no connected account has open_id "{open_id}".', 400)
    body = request.get_json(silent=True)
    name, size = announced(body)
    from tiktok.web import photos
    kind = photos.announced_kind(body)
    if kind == photos.PICTURE and photos.size_problem(name, size):
        raise UploadRefused(photos.size_problem(name, size), 413)
    folder = media_folder()
    uploads().admit(owner, folder, name, size)
    creator, refusal = creator_for(open_id)
    if refusal is not None:
        raise UploadRefused(refusal.message, refusal.status)
    upload = uploads().open(owner, open_id, folder, name, size, creator.max_duration_s)
    upload.kind = kind
    log.info("upload %s started: %s, %s for %s", upload.id, upload.name, text.size(size), open_id)
    return jsonify({"upload_id": upload.id, "slice_bytes": upload.slice_bytes, "slices": upload.slices,
                    "url": url_for("uploads.status", upload_id=upload.id)}), 201


@bp.put("/<upload_id>/<index>")
def put_slice(upload_id: str, index: str):
    """Write one slice at its offset (or count the one the server wrote as it arrived); sending a slice again
    writes the same bytes in the same place."""
    upload = uploads().get(browser(), upload_id)
    number = slice_number(index, upload.slices)
    offset, length = slice_span(upload.size, upload.slice_bytes, number)
    landing = landed(request.environ)
    try:
        if landing is None:
            copy_slice(upload, number, offset, length)
        elif (landing.upload_id, landing.index, landing.length) != (upload.id, number, length) \
                or not landing.complete:  # the server landed another slice: never, as its path is this one's
            raise UploadRefused(f"Slice {number} of {upload.name} did not arrive whole; send it again.", 400)
        elif landing.error is not None:
            raise landing.error
    except FileNotFoundError:  # dropped (abandoned, or idle) while this slice was on its way
        raise UploadRefused("This upload was abandoned; choose the file again.", 404) from None
    except OSError as exc:
        uploads().drop(upload.id)
        log.warning("upload %s of %s stopped: %s", upload.id, upload.name, exc)
        raise write_refusal(exc, upload.path.parent, upload.name) from None
    request.environ[QUIET] = True  # no access-log line for each slice that arrived
    return jsonify({"received": uploads().arrived(upload, number), "slices": upload.slices})


COPY_BYTES = 1 << 20  # a slice the server did not land is copied to its place this much at a time


def copy_slice(upload: Upload, number: int, offset: int, length: int) -> None:
    """Copy a slice's body sent to the app itself (chunked, or a server that does not write slices as they arrive)
    to its place, a MiB at a time: memory stays flat whatever the slice size and however many arrive at once. A body
    that ends early or runs long is refused; what it wrote is overwritten when the slice is sent again."""
    if request.content_length is not None and request.content_length != length:
        raise UploadRefused(f"Slice {number} of {upload.name} must be {length} bytes; this one has "
                            f"{request.content_length}.", 400)
    # With the length announced and right, read the body straight from the server: werkzeug's guarding stream would
    # copy it again. Chunked: through that stream, one byte past the length to see a body that runs long.
    announced = request.content_length == length
    source = request.environ["wsgi.input"] if announced else request.stream
    limit = length if announced else length + 1  # never ask a kept-alive connection for a byte it will not send
    arrived = 0
    try:
        while arrived < limit:
            piece = source.read(min(COPY_BYTES, limit - arrived))
            if not piece:
                break
            if arrived + len(piece) <= length:
                write_at(upload.path, offset + arrived, piece)
            arrived += len(piece)
    except ClientDisconnected:
        raise UploadRefused(f"Slice {number} was cut off; send it again.", 400) from None
    if arrived != length:
        raise UploadRefused(f"Slice {number} of {upload.name} must be {length} bytes; {arrived} arrived.", 400)


@bp.get("/<upload_id>")
def status(upload_id: str):
    """Which slices arrived: the page resumes from here after a dropped connection."""
    upload = uploads().get(browser(), upload_id)
    missing = upload.missing()
    return jsonify({"upload_id": upload.id, "slices": upload.slices, "slice_bytes": upload.slice_bytes,
                    "received": upload.slices - len(missing), "missing": missing})


@bp.post("/<upload_id>/finish")
def finish(upload_id: str):
    """Every slice arrived: probe the file and keep it; the same answer the composer always had."""
    upload = uploads().take(browser(), upload_id)
    if upload.open_id not in {a.open_id for a in connected_accounts()}:
        upload.path.unlink(missing_ok=True)
        raise UploadRefused(f'open_id: the account "{upload.open_id}" is no longer connected; nothing was kept.',
                            400)
    from tiktok.web import photos
    if upload.kind == photos.PICTURE or photos.examine(upload.path) is not None:  # a picture, by its bytes
        try:
            return jsonify(photos.keep(upload, upload.path.parent))
        except photos.PictureRefused as exc:
            raise UploadRefused(str(exc), exc.status) from None
    info, name = keep(upload.path, upload.name)
    shown = original_name(upload.name) or name
    upload_finished(info, name, shown, upload.max_duration_s)
    return jsonify({**media_summary(info, upload.max_duration_s), "media_id": name, "original_name": shown,
                    "preview_url": url_for("compose.media", name=name)})


@bp.delete("/<upload_id>")
def abandon(upload_id: str):
    """The page gave up (another file chosen, the page closed): the part file goes now, not in an hour."""
    if not uploads().drop(upload_id, browser()):
        raise UploadRefused("This upload is not in progress; nothing to abandon.", 404)
    return "", 204


def upload_finished(info: MediaInfo, media_id: str, original_name: str,
                    max_duration_s: int | None = None) -> None:
    """Called once an upload is kept under ``media_id`` (``info.path``): its row in the media library, with the
    checks against the creator's longest video. A store that cannot take the row now only costs the row's details:
    the library adopts the file at its next listing, so the upload is not refused for it."""
    from tiktok.media.library import record_upload
    from tiktok.web.post_store import post_store

    log.info("upload kept as %s (%s, %s)", media_id, original_name, text.size(info.size_bytes))
    try:
        record_upload(post_store(), info.path, original=original_name, now=current_app.config["CLOCK"](),
                      info=info, max_duration_s=max_duration_s)
    except (StoreError, DatabaseError) as exc:
        log.warning("the media library could not record %s now (%s); it is adopted at its next listing",
                    media_id, exc)


# -- helpers --------------------------------------------------------------------------------------------------------

def browser() -> str:
    """The browser session behind this request, proven by the page's CSRF token in the header; UploadRefused 400
    otherwise (another site cannot read the token, and cannot send the header without the app's CORS leave)."""
    sent, expected = request.headers.get(CSRF_HEADER, ""), session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise UploadRefused(EXPIRED, 400)
    return owner_of(expected)


def owner_of(token: str) -> str:
    """Who an upload belongs to: a digest of its browser session's CSRF token (the token itself is never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


def announced(body: object) -> tuple[str, int]:
    """The file's name and size from the start's JSON; UploadRefused when missing or over TikTok's limit."""
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or type(body.get("size")) is not int:
        raise UploadRefused('The upload must start with the file\'s name and size in bytes, as JSON: {"name": '
                            '"clip.mp4", "size": 1234}.', 400)
    name, size = body["name"][:1000], body["size"]
    if size <= 0:
        raise UploadRefused("No file arrived: choose a video file.", 400)
    if size > MAX_VIDEO_BYTES:
        raise UploadRefused(f"The file is {size} bytes, over TikTok's 4 GB limit ({MAX_VIDEO_BYTES} bytes).", 413)
    return name, size


def slice_number(index: str, slices: int) -> int:
    if not index.isdigit() or not 0 <= int(index) < slices:  # isdigit: no sign, no spaces
        raise UploadRefused(f"There is no slice {index[:20]!r}: slices are numbered 0 to {slices - 1}.", 400)
    return int(index)


def write_at(path: Path, offset: int, data: bytes | memoryview) -> None:
    """Write ``data`` at ``offset`` in the existing file ``path`` (never created here: a dropped upload stays gone)."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        view = memoryview(data)
        while view:
            if hasattr(os, "pwrite"):
                written = os.pwrite(fd, view, offset)
            else:  # Windows: this request's own descriptor, so seeking races with no one
                os.lseek(fd, offset, os.SEEK_SET)
                written = os.write(fd, view)
            view, offset = view[written:], offset + written
    finally:
        os.close(fd)


def write_refusal(exc: OSError, folder: Path, name: str) -> UploadRefused:
    """A failed write as a plain sentence: 507 for a full disk, else 500 with the system's words."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return UploadRefused(f"The disk holding MEDIA_DIR ({folder}) is full: the upload of {name} stopped and "
                             "what had arrived was removed. Free some space there (or set MEDIA_DIR to a bigger "
                             "disk), then choose the file again.", 507)
    return UploadRefused(f"The upload of {name} could not be written to MEDIA_DIR ({folder}): "
                         f"{exc.strerror or exc}. What had arrived was removed; check the folder, then choose the "
                         "file again.", 500)


def keep(path: Path, original: str) -> tuple[MediaInfo, str]:
    """Probe the received file and give it its final name; a file that is no usable video is deleted."""
    try:
        info = probe(path)
        if info.container not in SUPPORTED_CONTAINERS:
            raise UploadRefused(f"This is a {info.container} file; TikTok takes MP4, MOV or WebM videos.", 422)
    except MediaError as exc:
        path.unlink(missing_ok=True)
        raise UploadRefused(f"This file cannot be read as a video ({exc.reason}).", 422) from None
    except UploadRefused:
        path.unlink(missing_ok=True)
        raise
    name = media_name(secrets.token_hex(16), Path(original.replace("\\", "/")).name, info.container)
    final = path.with_name(name)
    os.replace(path, final)
    log.info("received upload %s (%d bytes)", name, info.size_bytes)
    return replace(info, path=str(final)), name


# -- every answer is JSON -----------------------------------------------------------------------------------------

@bp.errorhandler(UploadRefused)
def refused(exc: UploadRefused):
    return jsonify({"error": str(exc), **exc.details}), exc.status


answer_in_json(bp, "this upload request did not finish")
