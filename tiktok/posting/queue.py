"""The manifest as a queue the app, the CLI and cron share: add, change or remove one entry, under its lock.

Every change reads the file under ``<manifest>.lock``, changes the parsed JSON, checks the whole result with the
manifest's own validator and writes it atomically (:mod:`tiktok.atomic`), keeping the file's mode. A change that
would leave the changed entry invalid, or make it the same post as another entry, is refused with a message naming
the file and the entry, and the file is left byte for byte as it was. Entries are found by
:func:`tiktok.posting.results.entry_key` (their content, with paths resolved as :func:`load_manifest` resolves them),
never by position, so an edit made by hand between a page load and a click cannot redirect a change to another
entry. Other entries, valid or not, and the ``{"videos": [...]}`` wrapper are written back as they were read.

The Posts page changes an entry only while holding its claim (:mod:`tiktok.web.posts`), so a change and a run that
posts the same entry exclude each other.

Readers (a posting run) read the file without the lock: the atomic replace means they see the old version or the
new, never a mix.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Callable

from tiktok.atomic import atomic_write, held_lock, os_reason, remove_stale_temps
from tiktok.errors import FileProblem
from tiktok.posting.manifest import PostRequest, validate_manifest
from tiktok.posting.results import entry_key

LOCK_TIMEOUT_S = 30.0
NEW_FILE_MODE = 0o644  # a manifest holds no secret; one made by the app is readable like one made in an editor



class QueueError(FileProblem):
    """The manifest cannot be changed as asked; the message says why and that nothing was changed."""


class ManifestQueue:
    def __init__(self, path: str | os.PathLike[str], *, allow_loopback: bool = False) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.allow_loopback = allow_loopback

    def add(self, entry: dict[str, Any]) -> str:
        """Append ``entry`` (a manifest entry as JSON); returns its key. Creates the file when there is none.
        Refused when an entry already makes the same post (the same key: every field alike but ``post_at``)."""
        if not isinstance(entry, dict):
            raise QueueError(self.path, f"a new entry must be a JSON object, got {type(entry).__name__}; nothing "
                                        "was changed")

        def change(items: list[Any]) -> int:
            items.append(dict(entry))
            return len(items) - 1
        return self._change(change, create=True)

    def update(self, key: str, changes: dict[str, Any]) -> str:
        """Set fields of the entry with ``key`` (None removes a field); returns the entry's new key."""
        def change(items: list[Any]) -> int:
            position = self._find(items, key)
            updated = {name: value for name, value in items[position].items() if name not in changes}
            updated.update({name: value for name, value in changes.items() if value is not None})
            items[position] = updated
            return position
        return self._change(change, was=key)

    def remove(self, key: str) -> None:
        """Take the entry with ``key`` out of the manifest."""
        def change(items: list[Any]) -> int:
            del items[self._find(items, key)]
            return -1
        self._change(change)

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _change(self, change: Callable[[list[Any]], int], *, create: bool = False, was: str | None = None) -> str:
        with held_lock(self.lock_path, LOCK_TIMEOUT_S, lambda reason: QueueError(self.path, reason)):
            data = self._read(create)
            items = data["videos"] if isinstance(data, dict) else data
            position = change(items)
            key = self._check(data, position, was)
            self._write(data)
            return key

    def _read(self, create: bool) -> Any:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            if create:
                return []
            raise QueueError(self.path, "does not exist; nothing was changed") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise QueueError(self.path, f"cannot be read ({type(exc).__name__}); nothing was changed") from None
        try:
            data = json.loads(text) if text.strip() else []
        except ValueError as exc:
            raise QueueError(self.path, f"is not valid JSON ({exc}); fix it by hand first, nothing was changed") \
                from None
        items = data.get("videos") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise QueueError(self.path, 'is not a list of entries or {"videos": [...]}; nothing was changed')
        return data

    def _parsed(self, data: Any) -> tuple[dict[int, PostRequest], dict[int, list[str]]]:
        # the folder as load_manifest resolves it, so keys here are the keys runs and the Posts page use
        result = validate_manifest(data, source=str(self.path), base_dir=self.path.absolute().parent,
                                   allow_loopback=self.allow_loopback)
        problems: dict[int, list[str]] = {}
        for problem in result.problems:
            problems.setdefault(-1 if problem.index is None else problem.index, []).append(problem.message)
        return {entry.index: entry for entry in result.entries}, problems

    def _find(self, items: list[Any], key: str) -> int:
        entries, _ = self._parsed(items)
        for position, entry in entries.items():
            if entry_key(entry) == key:
                return position
        raise QueueError(self.path, "has no such entry any more (it was changed or removed meanwhile); nothing "
                                    "was changed")

    def _check(self, data: Any, position: int, was: str | None) -> str:
        """The changed entry's key; QueueError when it is not a valid entry, or became the same post as another
        (``was``: its key before the change; twins already in the file by hand are not this change's doing)."""
        if position < 0:
            return ""
        entries, problems = self._parsed(data)
        if position in problems:
            raise QueueError(self.path, "would get an invalid entry: " + "; ".join(problems[position])
                             + "; nothing was changed")
        key = entry_key(entries[position])
        if key == was:
            return key
        twin = next((index for index, entry in sorted(entries.items())
                     if index != position and entry_key(entry) == key), None)
        if twin is not None:
            raise QueueError(self.path, f"entry {twin + 1} already makes this post (the same account, media, caption "
                                        "and settings; a different post_at does not make a second post); nothing "
                                        "was changed")
        return key

    def _write(self, data: Any) -> None:
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            mode = NEW_FILE_MODE
        try:
            remove_stale_temps(self.path)
            atomic_write(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode=mode)
        except OSError as exc:
            raise QueueError(self.path, f"could not be written ({os_reason(exc)}); it still holds its previous "
                                        "content") from None
