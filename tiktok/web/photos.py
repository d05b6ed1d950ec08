"""The composer's photos: what happens to a picture uploaded through ``/posts/new/uploads``, and to the photos a
post form names.

A picture comes in slices like a video (tiktok/web/uploads.py; the page says ``"kind": "photo"`` when it starts, so
the smaller cap :data:`MAX_PICTURE_BYTES` applies). At the finish its bytes decide what it is: Pillow (pillow-heif
for HEIC) reads its header. A picture is made fit for TikTok by the media doctor's
:func:`~tiktok.media.doctor.fix_photo` (PNG, HEIC and the other formats TikTok refuses become JPEG; anything over
1080p, 1920 px long and 1080 px short, is resized with its aspect ratio kept; anything over 20 MB is written anew),
and what TikTok takes as it is stays as it is. The result is kept in MEDIA_DIR under an upload name
(``<32 hex>-<name>.jpg``, :func:`tiktok.posting.composition.media_name`) with its row in the media library (kind
photo, and what was changed); the original is not kept: TikTok never gets it, the person still has it, and a
picture over TikTok's limits can be ten times the size of what is posted. The answer names the photo and says in
plain words what was changed and why (TikTok refuses a whole carousel for one bad photo without saying which:
Postiz #1875).

When the form is posted, :func:`kept_photos` finds each photo it names (by its upload name, in order) and the key it
will have in the media store (the SHA-256 of its bytes: nothing is stored before every rule passed), and
:func:`store_photos` puts them into the configured store (the folder, or S3) for the entry's ``photo_media``.

Decoding a picture costs memory in proportion to its pixels, so a picture over :data:`MAX_PICTURE_PIXELS` is refused
before it is decoded, and at most :data:`CONVERSIONS_AT_ONCE` are converted at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import current_app, url_for
from PIL import Image, UnidentifiedImageError

from tiktok import text
from tiktok.errors import DatabaseError, StoreError
from tiktok.media.doctor import fix_photo
from tiktok.media.doctor.plan import MAX_PHOTOS, Change
from tiktok.media.store import media_key
from tiktok.posting.composition import media_name

log = logging.getLogger(__name__)

MAX_PICTURE_BYTES = 200_000_000  # our cap on one picture upload, before conversion: a 48-megapixel PNG fits
MAX_PICTURE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485  # Pillow's own decompression-bomb guard, about 89.5 Mpx
CONVERSIONS_AT_ONCE = 2  # pictures decoded at once by one app: a 89 Mpx picture holds about 270 MB while converted
KEPT_FORMATS = {"JPEG": "jpg", "WEBP": "webp"}  # what TikTok takes as it is (reference 5), and the kept suffix
PICTURE = "photo"
_converting = threading.BoundedSemaphore(CONVERSIONS_AT_ONCE)


class PictureRefused(Exception):
    """A picture that cannot be kept; ``status`` is the HTTP answer (uploads.py answers it as its own refusals)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Picture:
    """What a file's header says: Pillow's format name and the size as stored (``format`` None: too large to
    open safely, ``width`` then the pixel count Pillow gave up at)."""

    format: str | None
    width: int
    height: int


@dataclass(frozen=True)
class KeptPhoto:
    """A photo the composer kept: its upload name, file, original name and the key the media store gives it."""

    media_id: str
    path: Path
    original: str
    key: str

    @property
    def stored_name(self) -> str:
        """The name the store keeps for display (and the published URL shows): the original's, with the kept
        file's suffix (``beach.png`` converted is ``beach.jpg``)."""
        return f"{Path(self.original).stem or 'photo'}{self.path.suffix}"


# -- the upload's start and finish ------------------------------------------------------------------------------------

def announced_kind(body: object) -> str:
    """``photo`` when the page said it sends a picture (``"kind": "photo"``), else ``video``."""
    return PICTURE if isinstance(body, dict) and body.get("kind") == PICTURE else "video"


def size_problem(name: str, size: int) -> str | None:
    """Why a picture of ``size`` bytes is not taken (over :data:`MAX_PICTURE_BYTES`), or None."""
    if size <= MAX_PICTURE_BYTES:
        return None
    return (f"{name} is {text.size(size)} ({size:,} bytes), over the {MAX_PICTURE_BYTES:,} bytes this app takes for "
            "one picture (TikTok shows photos at 1080p and takes at most 20 MB after conversion): export a smaller "
            "copy and choose it.")


def examine(path: Path) -> Picture | None:
    """The picture ``path`` holds, from its header alone, or None when Pillow (with pillow-heif) reads no picture
    there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused by size below, never decoded
        try:
            with Image.open(path) as image:
                return Picture(image.format, *image.size)
        except Image.DecompressionBombError:
            return Picture(None, 0, 0)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            return None


def keep(upload: Any, folder: Path) -> dict[str, Any]:
    """Finish a picture upload (``upload``: uploads.py's Upload, its part file complete): converted when TikTok
    would refuse it, kept under an upload name in ``folder``, recorded in the media library; the answer for the
    page. PictureRefused when it is not a picture the composer takes. The part file is gone afterwards either way."""
    shown = upload.name.replace("\\", "/").rsplit("/", 1)[-1] or "photo"
    fixed = None
    try:
        picture = _taken(upload, shown)
        with _converting:
            fixed = fix_photo(upload.path, out_dir=folder)
        if fixed.problem:
            raise PictureRefused(f"{shown} {fixed.verdict}. Nothing was kept; choose another file.", 422)
        suffix = "jpg" if fixed.output else KEPT_FORMATS.get(picture.format or "", "jpg")
        final = folder / media_name(secrets.token_hex(16), shown, suffix)
        os.replace(fixed.file, final)
    except BaseException:
        if fixed is not None and fixed.output is not None:
            fixed.output.unlink(missing_ok=True)
        raise
    finally:
        upload.path.unlink(missing_ok=True)  # the original, when converted: TikTok never gets it
    changes = [said(change) for change in fixed.changes]
    width, height = _size_of(final)
    size_bytes = final.stat().st_size
    record(final, shown, changes)
    log.info("picture %s kept as %s (%s)%s", shown, final.name, text.size(size_bytes),
             f": {'; '.join(changes)}" if changes else "")
    return summary(final.name, shown, width, height, size_bytes, changes)


def _taken(upload: Any, shown: str) -> Picture:
    """The picture the upload holds; PictureRefused when it holds none, was sent as a video, or is too large."""
    picture = examine(upload.path)
    if picture is not None and upload.kind != PICTURE:
        raise PictureRefused(f"{shown} is a picture, not a video: choose it under Photos, where the app makes it "
                             "fit for TikTok.", 422)
    if picture is None:
        raise PictureRefused(f"{shown} is not a picture this app can read (JPEG, PNG, HEIC, WebP, GIF and the other "
                             "formats Pillow opens): choose a photo.", 422)
    if picture.format is None or picture.width * picture.height > MAX_PICTURE_PIXELS:
        raise PictureRefused(f"{shown} has more than {MAX_PICTURE_PIXELS / 1e6:.0f} megapixels, more than this app "
                             "converts safely: export a smaller copy (TikTok shows photos at 1080p) and choose it.",
                             413)
    return picture


def record(path: Path, original: str, changes: list[str]) -> None:
    """The library's row of a kept photo, with what was changed (shown again when the form comes back). A store
    that cannot take the row now costs only the row's details: the library adopts the file at its next listing."""
    from tiktok.media.library import describe
    from tiktok.web.post_store import post_store

    try:
        media = describe(path, original=original, created_at=current_app.config["CLOCK"]())
        post_store().add_media(replace(media, checks={**media.checks, "changes": changes}), fill=True)
    except (StoreError, DatabaseError) as exc:
        log.warning("the media library could not record %s now (%s); it is adopted at its next listing",
                    path.name, exc)


def said(change: Change) -> str:
    """One change in plain words: what it was, what it became, and TikTok's rule."""
    if change.what == "format":
        return f"converted from {change.before} to {change.after} ({change.why})"
    if change.what == "size":
        before, after = (side.replace("x", " × ") for side in (change.before, change.after))
        return f"resized from {before} to {after} px ({change.why})"
    if change.what == "file size":
        return f"written anew as a smaller JPEG: it was {change.before} ({change.why})"
    return str(change)


def summary(media_id: str, original: str, width: int, height: int, size_bytes: int,
            changes: list[str]) -> dict[str, Any]:
    """What the page shows about a kept photo: its names, size, what was changed, its thumbnail and the file."""
    line = (f"{original} was changed for TikTok: {'; '.join(changes)}." if changes
            else f"{original}: TikTok takes it as it is.")
    return {"kind": PICTURE, "media_id": media_id, "original_name": original, "width": width, "height": height,
            "size_bytes": size_bytes, "changes": changes, "summary": line,
            "thumb_url": url_for("media.thumb", name=media_id), "preview_url": url_for("media.file", name=media_id)}


def _size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


# -- the post form ------------------------------------------------------------------------------------------------

def photo_ids(form) -> list[str]:
    """The kept photos a form names, in order (``photo_ids``: upload names separated by spaces)."""
    return (form.get("photo_ids") or "").split()[:MAX_PHOTOS + 1]  # one more than allowed: "too many" is said


def is_photo_id(name: str) -> bool:
    """An upload name this module could have given a photo (never a path, never hidden)."""
    from tiktok.media.library import is_upload_name, kind_of

    return is_upload_name(name) and kind_of(name) == PICTURE and name.rsplit(".", 1)[-1] in KEPT_FORMATS.values()


def kept_photos(ids: list[str], folder: Path) -> list[KeptPhoto | None]:
    """Each named photo as kept in ``folder`` with its store key, or None where a name is malformed or its file
    gone (removed by the cleanup, or never uploaded here)."""
    from tiktok.media.library import RANDOM_PREFIX
    from tiktok.web.post_store import post_store

    found: list[KeptPhoto | None] = []
    for media_id in ids:
        path = folder / media_id
        if not is_photo_id(media_id) or not path.is_file():
            found.append(None)
            continue
        row = post_store().media_file(media_id)
        if row is not None and row.removed_at is not None:
            found.append(None)
            continue
        original = row.original if row is not None and row.original else RANDOM_PREFIX.sub("", media_id)
        photo = KeptPhoto(media_id, path, original, "")
        found.append(replace(photo, key=media_key(_sha256(path), photo.stored_name)))
    return found


def shown_photos(photos: list[KeptPhoto | None]) -> list[dict[str, Any]]:
    """The page's list when the form comes back: each kept photo as the upload answered it."""
    from tiktok.web.post_store import post_store

    shown = []
    for photo in photos:
        if photo is None:
            continue
        row = post_store().media_file(photo.media_id)
        changes = list((row.checks.get("changes") if row is not None else None) or [])
        width, height = _size_of(photo.path)
        shown.append(summary(photo.media_id, photo.original, width, height, photo.path.stat().st_size, changes))
    return shown


def store_photos(entry: dict[str, Any], photos: list[KeptPhoto], store) -> dict[str, Any]:
    """The entry with its photos put into the media store ``store`` (by content: putting one twice stores it once),
    ``photo_media`` naming the keys the store gave. MediaStoreError when the store cannot take one."""
    keys = [store.put_file(photo.path, name=photo.stored_name) for photo in photos]
    return {**entry, "photo_media": keys}


def label(photos: list[KeptPhoto]) -> str:
    """How the post's card names its media: ``3 photos: beach.png, IMG_0002.HEIC, tall.png`` (cut short)."""
    names = ", ".join(photo.original for photo in photos)
    line = f"{text.count(len(photos), 'photo')}: {names}"
    return line if len(line) <= 120 else line[:119] + "…"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
