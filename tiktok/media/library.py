"""The media library: the files uploads leave in MEDIA_DIR, what they are, which posts use them, and when they go.

An upload's file is named ``<32 random hex digits>-<its name's safe part>.<ext>`` (:func:`is_upload_name`); its row
in the post store (:mod:`tiktok.store.media`) says what it is and when it was last used. The upload calls
:func:`record_upload` when it keeps a file; a file found in MEDIA_DIR without a row (kept by an earlier version) is
adopted the next time the library is listed or cleaned (:func:`adopt`), as if uploaded when it was last written.
The folder media store's objects in MEDIA_DIR (``<sha-256>.<ext>``, :mod:`tiktok.media.store`: what ``db import``
moves in) are listed too, with the posts that name them, and a person may delete one no post holds; the cleanup
leaves them alone (the same bytes come back under the same key, so "unused" says less about them).

The rules (the README's "Media library"):

- **Held** files are never removed: a file a queued (scheduled or not), in-flight or failed post uses (a failed post
  can be retried). Deleting one from the page is refused with the posts that hold it.
- **Unused** files go after MEDIA_KEEP_UNUSED_DAYS (default 3 days): an upload no post ever used, counted from its
  upload (or from the last time a post was added or edited with it), and a file whose posts all ended (posted, in the
  inbox, cancelled or withdrawn), counted from the last change of those posts. 0 keeps every upload.
- :func:`clean` does it: ``python -m tiktok media clean``, and the app's background runner once an hour
  (:data:`CLEAN_EVERY_S`). Each removal is one store transaction that checks again that no post holds the file and
  marks its row removed, then the file and its thumbnail are deleted; adding a post refuses a file marked removed
  (:meth:`~tiktok.store.media.MediaQueries._use_media`), so a compose at the same moment is either in first (and the
  file stays) or refused with a sentence (never queued without its file). Marked rows are dropped a day later
  (:data:`REMOVED_ROWS_KEEP_S`), once the file is gone.

Thumbnails are small JPEGs (a frame of a video, through PyAV; the picture itself for a photo) made once, on first
request, in MEDIA_DIR's hidden ``.thumbs`` folder, and removed with their file.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from tiktok.media.store import KEY, FolderStore, MediaStoreError
from tiktok.posting.composition import media_summary
from tiktok.posting.media import MediaError, MediaInfo, probe
from tiktok.store.media import MediaFile, Removal

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = ("mp4", "mov", "webm")  # what the composer keeps (tiktok.posting.media.SUPPORTED_CONTAINERS)
PHOTO_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "heic", "heif")  # pictures, as the media doctor reads them
# An upload's stored name: 32 random hex digits, then any safe rest (the original name's safe part, a fixed copy's
# suffix), then a known extension; never a path, never hidden.
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}(?:[-.][A-Za-z0-9_.-]{0,160})?\.(?:%s)"
                         % "|".join(VIDEO_EXTENSIONS + PHOTO_EXTENSIONS))
RANDOM_PREFIX = re.compile(r"^[0-9a-f]{32}-(?=.)")  # an upload name's random part, before the original's
THUMBS = ".thumbs"  # MEDIA_DIR's hidden folder of thumbnails
THUMB_PX = 320  # a thumbnail's longer side, pixels (the page shows them at most 160 CSS px wide, on 2x screens)
THUMB_QUALITY = 80  # JPEG quality of thumbnails
THUMB_AT_S = 1.0  # a video's thumbnail is its frame at this time (the first frames are often black), when longer
CLEAN_EVERY_S = 3600.0  # the app's runner cleans at most this often
REMOVED_ROWS_KEEP_S = 86400.0  # a removed file's row stays a day: a compose that read the file then is refused
ORIENTATION = 0x0112  # the EXIF orientation tag
CANDIDATES = 100  # files one clean looks at each time round (it goes round until none is left)


@dataclass
class Cleaned:
    """What :func:`clean` did."""

    removed: list[MediaFile] = field(default_factory=list)
    adopted: int = 0
    failed: list[str] = field(default_factory=list)  # files whose row is marked removed but that could not be deleted

    @property
    def freed_bytes(self) -> int:
        return sum(media.size_bytes for media in self.removed)


def is_upload_name(name: str) -> bool:
    """Whether ``name`` is a file name an upload could have (no folders, not hidden)."""
    return UPLOAD_NAME.fullmatch(name) is not None


def is_library_name(name: str) -> bool:
    """An upload's name, or a folder media store key: the files the library lists (never a path)."""
    return is_upload_name(name) or KEY.fullmatch(name) is not None


def shown_name(media: MediaFile) -> str:
    """How pages and lines name a file: the person's name for it, else its stored name without an upload's random
    prefix (``clip.mp4`` for ``d644...eb-clip.mp4``)."""
    return media.original or RANDOM_PREFIX.sub("", media.name)


def kind_of(name: str) -> str:
    """video or photo, from the name's extension."""
    return "photo" if name.rsplit(".", 1)[-1].lower() in PHOTO_EXTENSIONS else "video"


# -- rows ------------------------------------------------------------------------------------------------------------

def record_upload(store, path: str | Path, *, original: str | None, now: float, info: MediaInfo | None = None,
                  max_duration_s: int | None = None) -> MediaFile:
    """Keep the library's row of an upload just kept as ``path`` (in MEDIA_DIR, under an :func:`is_upload_name`):
    its original name, what probing found (``info``: the upload's own probe, else the file is probed here) and the
    checks' result against the creator's longest video (``max_duration_s``). The upload calls this once the file has
    its final name; a row the name has already is kept as it is. Returns the row."""
    path = Path(path)
    media = describe(path, original=original, created_at=now, info=info, max_duration_s=max_duration_s)
    if not store.add_media(media, fill=True):  # adopted by a listing meanwhile: named now
        return store.media_file(media.name) or media
    return media


def describe(path: Path, *, original: str | None, created_at: float, info: MediaInfo | None = None,
             max_duration_s: int | None = None) -> MediaFile:
    """The row of the file at ``path``: a video probed (PyAV) and checked, a photo measured (Pillow); a file that
    cannot be read gets a row all the same, its problem in its checks (so it is listed, and can be deleted)."""
    kind = kind_of(path.name)
    base = MediaFile(name=path.name, kind=kind, size_bytes=path.stat().st_size, created_at=created_at,
                     last_used_at=created_at, original=original,
                     origin="upload" if is_upload_name(path.name) else "stored")
    if kind == "photo":
        try:
            width, height, image_format = _picture_size(path)
        except (OSError, ValueError) as bad:
            return replace(base, checks={"problems": [f"not a picture that can be read ({bad})"]})
        return replace(base, width=width, height=height, checks={"format": image_format, "problems": []})
    try:
        info = info or probe(path)
    except MediaError as bad:
        return replace(base, checks={"problems": [f"cannot be read as a video ({bad.reason})"]})
    return replace(base, size_bytes=info.size_bytes, duration_s=info.duration_s, width=info.width,
                   height=info.height, checks=media_summary(info, max_duration_s))


def adopt(store, folder: Path) -> int:
    """Give every upload in ``folder`` that has no row one (a file kept before the library existed, or by code
    that did not record it), dated by its last change; how many were adopted."""
    names = sorted(entry.name for entry in _entries(folder) if is_library_name(entry.name))
    known = store.media_known(names) if names else set()
    adopted = 0
    for name in names:
        if name in known:
            continue
        path = folder / name
        try:
            media = describe(path, original=_stored_name(folder, name), created_at=path.stat().st_mtime)
        except FileNotFoundError:
            continue  # removed meanwhile
        adopted += store.add_media(media)
    return adopted


def _stored_name(folder: Path, name: str) -> str | None:
    """A folder media store object's original name (its metadata), None for an upload or when it has none."""
    if is_upload_name(name):
        return None
    try:
        return FolderStore(folder).stat(name).name
    except MediaStoreError:
        return None


def _entries(folder: Path) -> Iterator[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    yield entry
    except FileNotFoundError:
        return


# -- removing --------------------------------------------------------------------------------------------------------

def remove(store, folder: Path, name: str, *, before: float | None = None) -> Removal:
    """Remove ``name`` unless a post holds it (``before``: the cleanup's, unless it was used since): the store marks
    its row in one transaction, then its file and thumbnail are deleted."""
    removal = store.remove_media(name, before=before)
    if removal.removed:
        delete_files(folder, name)
    return removal


def delete_files(folder: Path, name: str) -> None:
    """Delete a removed file (a store object with its metadata) and its thumbnail; OSError when the file cannot be
    deleted (a missing one is fine)."""
    if is_upload_name(name):
        (folder / name).unlink(missing_ok=True)
    elif is_library_name(name):
        try:
            FolderStore(folder).delete(name)
        except MediaStoreError as exc:
            raise OSError(str(exc)) from None
    thumb_path(folder, name).unlink(missing_ok=True)


def clean(store, folder: Path, *, now: float, keep_s: float | None) -> Cleaned:
    """Remove the uploads unused for ``keep_s`` seconds (None: none), after adopting the files without a row; then
    delete what earlier removals left on disk, and drop the rows of files removed more than a day ago."""
    folder = Path(folder)
    cleaned = Cleaned(adopted=adopt(store, folder) if folder.is_dir() else 0)
    if keep_s is not None:
        cutoff, seen = now - keep_s, set()
        while True:
            names = [name for name in store.unused_media(cutoff, limit=CANDIDATES) if name not in seen]
            if not names:
                break
            for name in names:
                seen.add(name)
                media = store.media_file(name)
                try:
                    removal = remove(store, folder, name, before=cutoff)
                except OSError as exc:
                    cleaned.failed.append(f"{folder / name}: {exc.strerror or exc}")
                    continue
                if removal.removed and media is not None:
                    cleaned.removed.append(media)
    _tidy(store, folder, now, cleaned)
    return cleaned


def _tidy(store, folder: Path, now: float, cleaned: Cleaned) -> None:
    forget = []
    for media in store.removed_media():
        try:
            delete_files(folder, media.name)
        except OSError as exc:
            cleaned.failed.append(f"{folder / media.name}: {exc.strerror or exc}")
            continue
        if media.removed_at is not None and media.removed_at < now - REMOVED_ROWS_KEEP_S:
            forget.append(media.name)
    store.forget_media(forget)


def unused(store, *, now: float, keep_s: float, limit: int = 1000) -> list[MediaFile]:
    """The uploads :func:`clean` would remove now (``media clean --dry-run``), oldest use first."""
    found = (store.media_file(name) for name in store.unused_media(now - keep_s, limit=limit))
    return [media for media in found if media is not None]


def listing(store, batch: int = 200) -> Iterator[str]:
    """``media list``: one line per file, newest first: its name, facts and the posts that use it."""
    from tiktok.text import duration, size

    offset = 0
    while True:
        files = store.media_files(offset=offset, limit=batch)
        if not files:
            return
        uses = store.media_uses([media.name for media in files])
        for media in files:
            facts = [media.kind, size(media.size_bytes)]
            if media.duration_s:
                facts.append(duration(media.duration_s))
            if media.width and media.height:
                facts.append(f"{media.width}x{media.height}")
            problems = media.checks.get("problems") or []
            facts.append(f"TikTok would refuse it: {'; '.join(problems)}" if problems else "TikTok's checks pass")
            used = ", ".join(f"post {use.post_id} ({use.state.replace('_', ' ')})" for use in uses[media.name])
            shown = f"{media.original} ({media.name})" if media.original else media.name
            yield f"{shown}: {', '.join(facts)}; {'used by ' + used if used else 'no post uses it'}"
        offset += batch


def clean_due(last: float | None, now: float) -> bool:
    """Whether the app's runner cleans now: never yet, or :data:`CLEAN_EVERY_S` since the last time (pure)."""
    return last is None or now - last >= CLEAN_EVERY_S or now < last


# -- thumbnails ------------------------------------------------------------------------------------------------------

def thumb_path(folder: Path, name: str) -> Path:
    return Path(folder) / THUMBS / f"{name}.jpg"


def thumbnail(folder: Path, name: str) -> Path | None:
    """The thumbnail of ``folder / name`` (made once, then read from disk), or None when the file is gone or has no
    picture to show. ``name`` must be an :func:`is_library_name` (ValueError otherwise: never a path)."""
    if not is_library_name(name):
        raise ValueError(f"{name!r} is not the name of a library file")
    source, target = Path(folder) / name, thumb_path(folder, name)
    if target.is_file():
        return target
    if not source.is_file():
        return None
    try:
        image = _picture(source) if kind_of(name) == "photo" else _frame(source)
    except (OSError, ValueError, MediaError) as bad:
        log.info("no thumbnail for %s: %s", source, bad)
        return None
    if image is None:
        return None
    image.thumbnail((THUMB_PX, THUMB_PX))
    target.parent.mkdir(mode=0o700, exist_ok=True)
    _write_jpeg(image.convert("RGB"), target)
    return target


def _write_jpeg(image, target: Path) -> None:
    """Write beside the target, then rename into place: a request at the same moment reads a whole file or none."""
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".thumb-", suffix=".part", delete=False)
    try:
        with handle:
            image.save(handle, "JPEG", quality=THUMB_QUALITY)
        os.replace(handle.name, target)
    finally:
        Path(handle.name).unlink(missing_ok=True)


def _frame(path: Path):
    """A video's frame at about THUMB_AT_S (the first one of a shorter video) as a Pillow image, turned upright."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            duration = float(container.duration or 0) / 1_000_000  # av.time_base: microseconds
            if duration > 2 * THUMB_AT_S:
                container.seek(int(THUMB_AT_S * 1_000_000))  # the keyframe at or before it
            for frame in container.decode(stream):
                image = frame.to_image()
                rotation = int(getattr(frame, "rotation", 0) or 0)
                return image.rotate(rotation, expand=True) if rotation % 360 else image
    except av.FFmpegError as bad:
        raise MediaError(path, f"not a video FFmpeg can read ({bad.strerror or type(bad).__name__})") from None
    return None


def _picture(path: Path):
    from PIL import Image, ImageOps

    _heif()
    with _readable(Image), Image.open(path) as image:
        image.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at a smaller scale
        return ImageOps.exif_transpose(image).copy()


def _picture_size(path: Path) -> tuple[int, int, str]:
    """(width, height) as shown (EXIF orientation applied) and the format, from the header alone."""
    from PIL import Image

    _heif()
    with _readable(Image), Image.open(path) as image:
        width, height = image.size
        if image.getexif().get(ORIENTATION) in (5, 6, 7, 8):  # a quarter turn: the sides swap
            width, height = height, width
        return width, height, (image.format or "").lower()


@contextmanager
def _readable(image_module) -> Iterator[None]:
    """Pillow's refusal of a picture too large to open safely, as the ValueError the callers expect."""
    try:
        yield
    except image_module.DecompressionBombError as bad:
        raise ValueError(str(bad)) from None


def _heif() -> None:
    """Let Pillow read HEIC (pillow-heif, a dependency of the media doctor)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - pinned in requirements.txt
        return
    register_heif_opener()
