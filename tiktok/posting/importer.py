"""A manifest (``videos_to_upload.json``) is an input: each import brings its entries into the store, idempotently.

- Each valid entry is one post, keyed by its content (:func:`tiktok.store.records.entry_key`). A relative
  ``video_path`` counts as written (normalised) and belongs to the manifest's folder, symlinks and ``..`` resolved;
  an absolute one counts resolved. So the same manifest reached by another spelling, through a symlinked folder, or
  after its folder moved imports the same posts, and importing twice adds nothing.
- An entry that left the manifest before it started is withdrawn; a started or finished post stays in history
  whatever happens to the file. Nothing composed in the app is ever touched by an import.
- A ``post_at`` changed in the file since the last import reschedules a post not started; a time changed in the
  app is kept while the file's stays the same.
- An earlier version's results file beside the manifest (``<name>.results.json``) is read once and its records move
  in with their entries (posted stays posted, an interrupted upload resumes, a sealed upload URL is opened with
  TOKENS_KEY and sealed again for its post); records of entries no longer in the file stay as history. The old file
  is never changed.
- A manifest read before, byte for byte, costs one hash and one row read: the app's tick runs this every 30 s.
- Into the media store (``media``: every import when MEDIA_STORE is a bucket, :func:`manifest_media`; always for
  ``db import``): each local file goes into the store (:func:`tiktok.media.store.import_file`: content-keyed, so
  the same bytes are one object) and the stored entry names it by ``video_media`` instead of its ``video_path``, so a
  worker on any machine can post it. The post's key is still the entry's as written (the path counted as above), so
  an entry matches its post whatever the store holds, and an edited ``post_at`` still reschedules it. A post already
  in the media store keeps its object (nothing is read again), a queued or failed post of an earlier import that
  still names a local file gets it moved in (its entry edited, compare-and-set), and a posted one is left alone. A
  file that cannot be read is an error for its entry (a new entry is not imported, a queued post keeps its path),
  and the next import looks again even when the manifest is unchanged. The manifest file itself is never rewritten.
  A store that cannot be reached or used stops the import (MediaStoreError) before anything is written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tiktok.config import Settings
from tiktok.errors import ChangeRefused, FileProblem
from tiktok.media.store import MediaStore, MediaStoreSettings, import_file, lazy_media_store
from tiktok.posting.manifest import ManifestProblem, PostRequest, parse_manifest, read_manifest, validate_manifest
from tiktok.store.base import EDITABLE, ImportEntry, ImportResult, Post, PostStore
from tiktok.store.legacy import read_results, results_path_for
from tiktok.store.records import DELIVERED, PostRecord, State, entry_key

# Said with every entry left out (or kept on its path) because its file could not be put into the media store: an
# import whose last run said it looks again even when the manifest is unchanged.
AWAITING_FILE = "the next import puts it into the media store once the file can be read"


@dataclass
class ManifestImport:
    """One import's outcome: what changed in the store, and the file's errors and warnings as messages."""

    source: Path
    result: ImportResult
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    media_put: int = 0  # local files read into the media store by this import
    media_moved: int = 0  # posts of earlier imports whose entry now names the media store instead of a local file


def media_store_for(settings: Settings) -> Callable[[], MediaStore]:
    """The media store of ``settings`` (MEDIA_STORE), opened on first use."""
    return lazy_media_store(MediaStoreSettings.from_settings(settings))


def manifest_media(settings: Settings) -> Callable[[], MediaStore] | None:
    """Where every import puts a manifest's local files: MEDIA_STORE's bucket; None with the default folder store
    (posts then read the files where they are, as one machine can; ``db import`` moves them into MEDIA_DIR)."""
    return media_store_for(settings) if settings.media.store != "folder" else None


def keyed(entry: PostRequest, folder: Path, given_folder: Path) -> tuple[str, str, dict]:
    """(key, the key earlier versions gave it, the entry as stored) for one entry whose paths are as written."""
    data = entry.to_entry()
    if entry.video_path is None:
        key = entry_key(data)
        return key, key, data
    written = entry.video_path
    if written.is_absolute():
        counted = str(written.resolve())
        stored = counted
        legacy = str(written)
    else:
        counted = os.path.normpath(written.as_posix())
        stored = os.path.normpath(folder / written)
        legacy = str(given_folder / written)
    return (entry_key({**data, "video_path": counted}), entry_key({**data, "video_path": legacy}),
            {**data, "video_path": stored})


def import_manifest(store: PostStore, path: str | os.PathLike[str], *, allow_loopback: bool,
                    tokens_key: str | None, media: Callable[[], MediaStore] | None = None,
                    again: bool = False, verified: tuple[str, ...] = ()) -> ManifestImport:
    """Import the manifest at ``path`` (see the module docstring), its local files into ``media`` when given;
    ``again`` reads it in full even when it is unchanged (``db import``); ``verified``: VERIFIED_URL_PREFIXES, which
    a pulled URL must lie under (none: not checked). ManifestError when it cannot be read or is
    not JSON; ResultsFileError when an earlier results file beside it cannot be; StoreError from the store;
    MediaStoreError from the media store."""
    given = Path(path)
    source = given.resolve()
    raw = read_manifest(source)
    digest = hashlib.sha256(raw).hexdigest()
    results = results_path_for(given)
    last = store.last_import(str(source))
    if last is not None and last.get("digest") == digest and (last.get("legacy") or not results.exists()) \
            and not again and not (media is not None and _awaiting(last)):
        return _replayed(source, last)
    checked = validate_manifest(parse_manifest(given, raw), source=str(given), base_dir=None,
                                allow_loopback=allow_loopback, verified=verified)
    problems = [problem.message for problem in checked.problems]
    warnings = [warning.message for warning in checked.warnings]
    earlier = read_results(results, key=tokens_key) if results.exists() else {}
    moves = _IntoMedia(store, media(), str(given)) if media is not None else None
    entries: list[ImportEntry] = []
    first: dict[str, int] = {}
    for entry in checked.entries:
        key, legacy, stored = keyed(entry, source.parent, given.absolute().parent)
        if key in first:
            warnings.append(f"{given}: entry {entry.index + 1} is the same post as entry {first[key] + 1} (every "
                            "field alike but post_at): it is posted once")
            continue
        first[key] = entry.index
        record = earlier.pop(legacy, None) or earlier.pop(key, None)
        if moves is not None and entry.video_path is not None:
            moved = moves.entry(entry, key, stored, record)
            if moved is None:
                continue
            stored = moved
        entries.append(ImportEntry(key=key, user_id=entry.user_id, entry=stored, index=entry.index,
                                   due_at=entry.due_at, record=replace(record, key=key) if record else None))
    if moves is not None:
        problems += moves.problems
    result = store.import_manifest(str(source), digest, entries, orphans=list(earlier.values()),
                                   legacy=str(results.resolve()) if results.exists() else None,
                                   problems=[f"error: {p}" for p in problems] + [f"warning: {w}" for w in warnings])
    imported = ManifestImport(source=source, result=result, problems=problems, warnings=warnings)
    if moves is not None:
        imported.media_put, imported.media_moved = len(moves.keys), moves.move_queued()
    return imported


def in_media(entry: dict[str, Any], key: str) -> dict[str, Any]:
    """A stored entry naming the media store's object ``key`` (``video_media``) instead of its local file."""
    return {**{name: value for name, value in entry.items() if name != "video_path"}, "video_media": key}


class _IntoMedia:
    """One import's moves of local files into the media store (see the module docstring): each file read once."""

    def __init__(self, posts: PostStore, media: MediaStore, source: str) -> None:
        self.posts, self.media, self.source = posts, media, source
        self.keys: dict[str, str] = {}  # a local file (resolved) -> its media key
        self.problems: list[str] = []
        self.queued: list[tuple[int, str]] = []  # (post id, media key): earlier posts still naming a local file

    def entry(self, entry: PostRequest, key: str, stored: dict[str, Any],
              record: PostRecord | None) -> dict[str, Any] | None:
        """The entry to store for one manifest entry with a ``video_path``; None when it is left out."""
        post = self.posts.find(key)
        if post is not None and post.entry is not None and post.entry.get("video_media"):
            return in_media(stored, post.entry["video_media"])  # moved in by an earlier import: nothing is read
        if _delivered(record) or (post is not None and not _may_post_again(post)):
            return stored  # posted, or under way from its local file: nothing more is sent from this entry
        media_key = self._put(entry, stored["video_path"], kept=post is not None)
        if media_key is None:
            return None if post is None else stored
        if post is not None and post.state in EDITABLE and post.origin == "manifest":
            self.queued.append((post.id, media_key))
        return in_media(stored, media_key)

    def move_queued(self) -> int:
        """Edit the queued or failed posts of earlier imports to name their media (each only if nobody changed it
        since it was read: a run that started it meanwhile posts it from its file); how many were moved."""
        moved = 0
        for post_id, media_key in self.queued:
            post = self.posts.get(post_id)
            if post is None or post.state not in EDITABLE or not post.entry or "video_path" not in post.entry:
                continue
            try:
                self.posts.edit(post_id, in_media(post.entry, media_key), due_at=post.due_at, revision=post.revision)
                moved += 1
            except ChangeRefused:
                continue
        return moved

    def _put(self, entry: PostRequest, path: str, *, kept: bool) -> str | None:
        resolved = os.path.realpath(path)
        if resolved not in self.keys:
            try:
                self.keys[resolved] = import_file(self.media, path)
            except FileProblem as exc:
                what = "its post keeps the local path for now" if kept else "not imported"
                self.problems.append(f"{self.source}: entry {entry.index + 1} (user_id {entry.user_id!r}): field "
                                     f'"video_path": {exc}; {what}: {AWAITING_FILE}')
                return None
        return self.keys[resolved]


def _delivered(record: PostRecord | None) -> bool:
    return record is not None and record.state in DELIVERED


def _may_post_again(post: Post) -> bool:
    """A post a later run may send from its entry: not started, withdrawn before it started, or failed."""
    return post.state in EDITABLE or (post.state == State.WITHDRAWN and post.record is None)


def _awaiting(last: dict) -> bool:
    """The last import left an entry out (or on its path) because its file could not be read."""
    return any(AWAITING_FILE in line for line in last.get("problems") or [])


def _replayed(source: Path, last: dict) -> ManifestImport:
    """An unchanged manifest: nothing to do but say its problems again (cron's log shows them every run)."""
    lines = last.get("problems") or []
    return ManifestImport(source=source, result=ImportResult(unchanged=True),
                          problems=[line[len("error: "):] for line in lines if line.startswith("error: ")],
                          warnings=[line[len("warning: "):] for line in lines if line.startswith("warning: ")])


def request_of(entry: dict, *, source: str, allow_loopback: bool) -> tuple[PostRequest | None, list[ManifestProblem]]:
    """A stored entry as a PostRequest (checked by the manifest's own rules), or None and why not."""
    checked = validate_manifest([entry], source=source, allow_loopback=allow_loopback)
    return (checked.entries[0] if checked.entries else None), checked.problems
