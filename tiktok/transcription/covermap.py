"""Which cover URL TikTok last gave for each video, kept across restarts (issue 26): the /covers/ proxy's map.

TikTok's ``cover_image_url`` expires (the video object docs: "TTL 6 hours"), so the proxy (tiktok.web.covers) keeps
the bytes it fetched; but a cover not fetched yet needs the URL of the last listing, and the account it came from to
ask again. Every listing (the Videos page and ``transcribe --account``) writes a row per video: its id, the account's
open_id, the cover URL and when it was listed, in ``<TRANSCRIPTS_DIR>/.covers.sqlite3`` (mode 0600, beside the
search index and shared as the transcripts folder is: the workers, the app and ``transcribe`` see the same rows).
The table is bounded: at most ``MAX_ROWS``, those listed longest ago go first. When a kept URL has expired, one
``video/query`` call for that id (reference §6.3) gives a fresh one (:func:`query_cover`), never a whole new listing.

A folder where the file cannot be written (read-only, a full disk) leaves the map in memory only, as before: the
covers still show while the process runs, and a warning says why they will not after a restart.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from tiktok.api import ApiClient

log = logging.getLogger(__name__)

MAP_NAME = ".covers.sqlite3"
MAP_MODE = 0o600
MAX_ROWS = 50_000  # video ids whose cover URL is kept (listed longest ago forgotten first)
BUSY_TIMEOUT_S = 10.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS covers (video_id TEXT PRIMARY KEY, open_id TEXT NOT NULL, url TEXT NOT NULL,
                                   listed_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS covers_by_age ON covers (listed_at);
"""


@dataclass(frozen=True)
class Cover:
    """A video's cover URL as a listing gave it, the account it came from, and when (Unix seconds)."""

    video_id: str
    open_id: str
    url: str
    listed_at: float


class CoverMap:
    """The rows of ``<root>/.covers.sqlite3``; in memory only when that file cannot be used."""

    def __init__(self, root: str | os.PathLike[str], *, max_rows: int = MAX_ROWS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(root) / MAP_NAME
        self.max_rows = max_rows
        self.clock = clock
        self._memory: dict[str, Cover] = {}  # used only once the file failed
        self._failed = False
        self._lock = threading.Lock()

    def remember(self, open_id: str, covers: Iterable[tuple[str, str]]) -> int:
        """Keep ``(video_id, cover_url)`` of one listing of ``open_id``'s videos (one transaction); how many."""
        now = self.clock()
        rows = [Cover(video_id, open_id, url, now) for video_id, url in covers
                if video_id and url.startswith(("https://", "http://"))]  # never another scheme: the proxy fetches it
        if not rows:
            return 0
        if not self._failed:
            try:
                with self._open() as db, db:
                    db.executemany("INSERT INTO covers VALUES (?, ?, ?, ?) ON CONFLICT (video_id) DO UPDATE SET "
                                   "open_id = excluded.open_id, url = excluded.url, listed_at = excluded.listed_at",
                                   [(c.video_id, c.open_id, c.url, c.listed_at) for c in rows])
                    db.execute("DELETE FROM covers WHERE video_id IN (SELECT video_id FROM covers "
                               "ORDER BY listed_at DESC LIMIT -1 OFFSET ?)", (self.max_rows,))
                return len(rows)
            except (OSError, sqlite3.Error) as exc:
                self._fail(exc)
        with self._lock:
            for cover in rows:
                self._memory.pop(cover.video_id, None)
                self._memory[cover.video_id] = cover
            while len(self._memory) > self.max_rows:
                self._memory.pop(next(iter(self._memory)))
        return len(rows)

    def get(self, video_id: str) -> Cover | None:
        """The kept row of ``video_id``, or None."""
        if not self._failed and self.path.exists():
            try:
                with self._open() as db:
                    row = db.execute("SELECT video_id, open_id, url, listed_at FROM covers WHERE video_id = ?",
                                     (video_id,)).fetchone()
                return Cover(*row) if row else None
            except (OSError, sqlite3.Error) as exc:
                self._fail(exc)
        with self._lock:
            return self._memory.get(video_id)

    def __len__(self) -> int:
        if not self._failed and self.path.exists():
            with self._open() as db:
                return db.execute("SELECT count(*) FROM covers").fetchone()[0]
        return len(self._memory)

    def _open(self) -> closing[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, MAP_MODE))
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        db.executescript(SCHEMA)
        return closing(db)

    def _fail(self, exc: BaseException) -> None:
        self._failed = True
        log.warning("cover URLs are kept in memory only: %s cannot be used (%s); covers of videos not listed "
                    "again since a restart will show a placeholder", self.path, getattr(exc, "strerror", None) or exc)


def query_cover(api: ApiClient, token_call: Callable, video_id: str) -> str:
    """A fresh ``cover_image_url`` for one video of the token's account: one ``video/query`` call (reference §6.3);
    "" when TikTok no longer returns the video (deleted, made private)."""
    data = token_call(lambda token: api.video_query(token, ("id", "cover_image_url"), [video_id]))
    videos = data.get("videos") if isinstance(data.get("videos"), list) else []
    return next((str(v.get("cover_image_url") or "") for v in videos
                 if isinstance(v, dict) and str(v.get("id")) == video_id), "")
