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
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from tiktok.posting.manifest import ManifestProblem, PostRequest, parse_manifest, read_manifest, validate_manifest
from tiktok.store.base import ImportEntry, ImportResult, PostStore
from tiktok.store.legacy import read_results, results_path_for
from tiktok.store.records import entry_key


@dataclass
class ManifestImport:
    """One import's outcome: what changed in the store, and the file's errors and warnings as messages."""

    source: Path
    result: ImportResult
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
                    tokens_key: str | None) -> ManifestImport:
    """Import the manifest at ``path`` (see the module docstring). ManifestError when it cannot be read or is not
    JSON; ResultsFileError when an earlier results file beside it cannot be; StoreError from the store."""
    given = Path(path)
    source = given.resolve()
    raw = read_manifest(source)
    digest = hashlib.sha256(raw).hexdigest()
    results = results_path_for(given)
    last = store.last_import(str(source))
    if last is not None and last.get("digest") == digest and (last.get("legacy") or not results.exists()):
        return _replayed(source, last)
    checked = validate_manifest(parse_manifest(given, raw), source=str(given), base_dir=None,
                                allow_loopback=allow_loopback)
    problems = [problem.message for problem in checked.problems]
    warnings = [warning.message for warning in checked.warnings]
    earlier = read_results(results, key=tokens_key) if results.exists() else {}
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
        entries.append(ImportEntry(key=key, user_id=entry.user_id, entry=stored, index=entry.index,
                                   due_at=entry.due_at, record=replace(record, key=key) if record else None))
    result = store.import_manifest(str(source), digest, entries, orphans=list(earlier.values()),
                                   legacy=str(results.resolve()) if results.exists() else None,
                                   problems=[f"error: {p}" for p in problems] + [f"warning: {w}" for w in warnings])
    return ManifestImport(source=source, result=result, problems=problems, warnings=warnings)


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
