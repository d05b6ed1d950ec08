"""Where the post queue lives: the manifest file with its results file beside it, or PostgreSQL (``DATABASE_URL``).

Both give the same things, so the runner, the Posts page and the composer never ask which one they use:
``read()`` (the entries as a validated ManifestResult), ``contains(key)`` (is that entry still queued, now),
``results()`` (records and claims) and ``editor()`` (add, update, remove one entry, validated, under a lock).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Protocol

from tiktok.config import Settings
from tiktok.posting.manifest import ManifestResult, load_manifest
from tiktok.posting.results import ResultsStore, entry_key, results_path_for


class PostQueue(Protocol):
    where: str  # what messages name: the manifest's path, or the database

    def read(self) -> ManifestResult: ...

    def contains(self, key: str) -> bool: ...

    def results(self, clock: Callable[[], float] = time.time) -> Any: ...

    def editor(self) -> Any: ...


class FileQueue:
    """``videos_to_upload.json`` and ``videos_to_upload.results.json`` beside it."""

    def __init__(self, manifest: str | Path, *, allow_loopback: bool = False, key: str | None = None) -> None:
        self.manifest = Path(manifest)
        self.where = str(self.manifest)
        self.allow_loopback = allow_loopback
        self.key = key

    def read(self) -> ManifestResult:
        return load_manifest(self.manifest, allow_loopback=self.allow_loopback)

    def contains(self, key: str) -> bool:
        """Whether an entry with this key is in the file now (it is read again: it may have changed)."""
        return any(entry_key(entry) == key for entry in self.read().entries)

    def results(self, clock: Callable[[], float] = time.time) -> ResultsStore:
        return ResultsStore(results_path_for(self.manifest), key=self.key, clock=clock)

    def editor(self):
        from tiktok.posting.queue import ManifestQueue
        return ManifestQueue(self.manifest, allow_loopback=self.allow_loopback)


def open_queue(settings: Settings, manifest: str | Path | None = None) -> PostQueue:
    """The database queue when DATABASE_URL is set, else the manifest file (``manifest``, or MANIFEST_FILE)."""
    if settings.database_url:
        from tiktok.posting.pg_queue import PgQueue
        return PgQueue(settings.database_url, allow_loopback=settings.emulated, key=settings.tokens_key)
    return FileQueue(manifest if manifest is not None else settings.manifest_path, allow_loopback=settings.emulated,
                     key=settings.tokens_key)
