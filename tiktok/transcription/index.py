"""The transcripts' full-text index: SQLite FTS5 (Python's own sqlite3, no server) kept in step with the folder.

The files under ``transcripts/`` stay the source of truth; the index is a cache of them in
``<root>/.search-index.sqlite3`` and can be deleted at any time. Before each search the index checks the folder:
the root and every account folder are ``stat``-ed, and only a folder whose mtime changed is scanned again (the
store writes every file by rename, which always changes its folder's mtime). The folder's mtime is read before
it is scanned, so a file written during a scan is seen by the next search; every ``FULL_SCAN_S`` all files' sizes
and mtimes are compared too, for a file edited in place. A missing, corrupt or older-format index is rebuilt
(mode 0600); one that cannot be written beside the transcripts (read-only folder) lives in the user's cache.

Two processes refreshing at once are kept apart by SQLite's write lock (``BEGIN IMMEDIATE``): the second waits,
then finds the work done, because what is stale is decided again inside the transaction.

Results are bounded: a page of hits (``per_page``), each with at most a few snippets of text around its matches,
newest video first. A search reads no transcript file: the record and text come from the index.

The feed (``latest``) reads only the ``docs`` table: the record (title, date, account, video id), the account's
@name and the first ``LEAD_CHARS`` of the text, newest first, a page at a time by keyset (``id < before``: row ids
sort by date, see ``free_id``), so a page costs the same at any depth and at any size of the folder. Format 4 added
those columns; an index of an older format is rebuilt from the files when it is opened.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import time
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, ContextManager, Iterator

from tiktok.config import cache_home
from tiktok.transcription.snippets import Snippet, make_snippets

log = logging.getLogger(__name__)
INDEX_NAME = ".search-index.sqlite3"
SCHEMA_VERSION = 4  # 4: username, lead text and the folder index, for the feed
PER_PAGE = 20
LEAD_CHARS = 240  # the text a feed card shows before its link: a bounded slice, whatever the transcript's length
BUSY_TIMEOUT_S = 30.0
FULL_SCAN_S = 300.0  # every file's size and mtime are compared this often, for edits that keep the folder's mtime
INDEX_MODE = 0o600
SQLITE_BUSY, SQLITE_LOCKED = 5, 6
MARK_START, MARK_END = "\x02", "\x03"  # never in transcript text (control characters are not speech)
SLOTS = 1024  # row ids per second of creation time
MAX_KEY = (2**63 - 1) // SLOTS - 1
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_WORDLIKE = re.compile(r"\w")

SCHEMA = f"""
CREATE TABLE folders (name TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE docs (id INTEGER PRIMARY KEY, folder TEXT NOT NULL, video_id TEXT NOT NULL, signature TEXT NOT NULL,
                   record TEXT NOT NULL, username TEXT NOT NULL DEFAULT '', lead TEXT NOT NULL DEFAULT '',
                   UNIQUE (folder, video_id));
CREATE INDEX docs_by_folder ON docs (folder);
CREATE INDEX docs_by_username ON docs (username);
CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize = "unicode61 remove_diacritics 2", prefix = "2 3");
PRAGMA user_version = {SCHEMA_VERSION};
"""


class QueryError(ValueError):
    """A search that cannot run (no word in it, or the index is held by another process's long rebuild); the
    message is for the person who typed it."""


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked/busy": another process holds the index, nothing is wrong with it."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in str(exc))


def fts_query(text: str) -> str | None:
    """The FTS5 MATCH expression for what a person typed, or None when it holds no word to look for.

    Every term is quoted, so nothing typed is read as FTS5 syntax (AND, NEAR, column filters, parentheses) and no
    input can make a query error. ``"two words"`` is a phrase; ``word*`` a prefix; all terms must occur."""
    parts = []
    for phrase, bare in _TERM.findall(text):
        term, prefix = (phrase, False) if phrase else (bare.rstrip("*"), bare.endswith("*"))
        term = term.replace('"', " ").strip()
        if not _WORDLIKE.search(term):
            continue
        parts.append(f'"{term}"' + ("*" if prefix else ""))
    return " ".join(parts) or None


def marked_spans(marked: str) -> tuple[str, Iterator[tuple[int, int]]]:
    """The text of an FTS5 ``highlight()`` without its markers, and the (start, end) offsets they enclosed.

    The offsets come lazily, first to last: snippets stop reading them once their windows are full, so a word
    found thousands of times in a long transcript costs no more than one found a few times."""
    text = marked.replace(MARK_START, "").replace(MARK_END, "")

    def spans() -> Iterator[tuple[int, int]]:
        removed, at = 0, 0
        while (start := marked.find(MARK_START, at)) != -1:
            end = marked.find(MARK_END, start)
            if end == -1:
                return
            yield start - removed, end - removed - 1
            removed += 2
            at = end + 1
    return text, spans()


@dataclass(frozen=True)
class IndexedHit:
    """One search hit: the record as saved (its JSON) and the snippets around its matches."""

    record: dict
    snippets: tuple[Snippet, ...]


@dataclass(frozen=True)
class SearchPage:
    hits: tuple[IndexedHit, ...]
    total: int  # transcripts matching, over every page
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True)
class FeedItem:
    """One card of the feed: the record as saved, its row id (the keyset cursor) and the start of its text."""

    id: int
    record: dict
    lead: str


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed, newest first; ``newer``/``older`` are the cursors of the pages either side (or None)."""

    items: tuple[FeedItem, ...]
    newer: int | None
    older: int | None


@dataclass(frozen=True)
class FileSig:
    folder: str
    video_id: str
    signature: str  # the .json's and .txt's size and mtime: any rewrite changes it


class TranscriptIndex:
    """The index of one transcripts folder. Cheap to create; every call opens its own connection (threads)."""

    def __init__(self, root: str | os.PathLike[str], path: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.path = Path(path) if path is not None else self.root / INDEX_NAME
        self.clock = clock
        self._held: sqlite3.Connection | None = None  # the connection of ``reading()``, while inside it

    # -- searching --------------------------------------------------------------------------------------------

    def search(self, query: str, *, page: int = 1, per_page: int = PER_PAGE, folder: str | None = None) -> SearchPage:
        """One page of the completed transcripts matching ``query``, newest video first, of one account ``folder``
        when given. QueryError for no words."""
        match = fts_query(query)
        if match is None:
            raise QueryError("type a word to look for (punctuation alone matches nothing)")
        page = max(1, page)
        if not self.root.is_dir():
            return SearchPage((), 0, page, per_page)
        where, args = ("fts MATCH ? AND docs.folder = ?", (match, folder)) if folder else ("fts MATCH ?", (match,))
        with self._fresh() as db:
            total = db.execute(f"SELECT count(*) FROM fts JOIN docs ON docs.id = fts.rowid WHERE {where}",
                               args).fetchone()[0]
            rows = db.execute(
                f"SELECT docs.record, highlight(fts, 1, '{MARK_START}', '{MARK_END}') FROM fts "
                f"JOIN docs ON docs.id = fts.rowid WHERE {where} ORDER BY fts.rowid DESC LIMIT ? OFFSET ?",
                (*args, per_page, (page - 1) * per_page)).fetchall()
        hits = []
        for record, marked in rows:
            text, spans = marked_spans(marked)
            hits.append(IndexedHit(json.loads(record), make_snippets(text, spans)))
        return SearchPage(tuple(hits), total, page, per_page)

    # -- the feed ---------------------------------------------------------------------------------------------

    def latest(self, *, before: int | None = None, after: int | None = None, folder: str | None = None,
               per_page: int = PER_PAGE) -> FeedPage:
        """A page of every transcript (completed or not), newest first, read from the index alone: the page just
        older than cursor ``before``, or just newer than ``after``, or the newest; of one account ``folder``."""
        if not self.root.is_dir():
            return FeedPage((), None, None)
        where: list[str] = ["folder = ?"] if folder else []
        args: list[str | int] = [folder] if folder else []
        backwards = after is not None and before is None
        if after is not None and backwards:
            where.append("id > ?")
            args.append(after)
        elif before is not None:
            where.append("id < ?")
            args.append(before)
        sql = (f"SELECT id, record, lead FROM docs {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY id {'ASC' if backwards else 'DESC'} LIMIT ?")
        with self._fresh() as db:
            rows = db.execute(sql, (*args, per_page + 1)).fetchall()
        more = len(rows) > per_page
        if backwards and not more:  # back at the newest: show the first page whole
            return self.latest(folder=folder, per_page=per_page)
        rows = rows[:per_page]
        if backwards:
            rows.reverse()
        items = tuple(FeedItem(row_id, json.loads(record), lead) for row_id, record, lead in rows)
        if not items:
            return FeedPage((), None, None)
        newer_exists = backwards or before is not None
        older_exists = backwards or more
        return FeedPage(items, items[0].id if newer_exists else None, items[-1].id if older_exists else None)

    def accounts(self) -> list[tuple[str, str]]:
        """(folder, @name or "") of every account folder the index holds, for the feed's filter."""
        if not self.root.is_dir():
            return []
        with self._fresh() as db:
            return db.execute("SELECT name, coalesce((SELECT username FROM docs WHERE folder = name AND username != '' "
                              "LIMIT 1), '') FROM folders ORDER BY name").fetchall()

    def folder_of(self, username: str) -> str | None:
        """The account folder of the transcripts saved under @``username`` (without the @), or None."""
        if not self.root.is_dir():
            return None
        with self._fresh() as db:
            row = db.execute("SELECT folder FROM docs WHERE username = ? LIMIT 1", (username,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Answer every call inside from one connection, brought in step with the folder once: a page asks the
        index several questions, and each connection costs about a millisecond."""
        if self._held is not None or not self.root.is_dir():
            yield
            return
        with self._fresh() as db:
            self._held = db
            try:
                yield
            finally:
                self._held = None

    def _fresh(self) -> ContextManager[sqlite3.Connection]:
        """A connection after bringing the index in step with the folder (or, when another process holds it, to
        what it holds now)."""
        if self._held is not None:
            return nullcontext(self._held)
        try:
            db = self._connection()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            raise QueryError("the search index is being built by another process; try again in a moment") from None
        try:
            self._refresh_on(db)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                db.close()
                raise
            log.warning("transcript index busy (another process is updating it); reading what it holds now")
        return closing(db)

    # -- keeping it fresh ---------------------------------------------------------------------------------------

    def reindex(self, folder: str, video_id: str) -> None:
        """Bring one transcript's row in step with its files now (after an edit or a delete by this app), rather
        than at the next folder check: a rename within the file system's timestamp tick can keep the folder's
        mtime."""
        present = {sig.video_id: sig for sig in scan_folder(self.root / folder, folder)}
        with self._open() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if video_id in present:
                    self._put(db, present[video_id])
                else:
                    self._drop(db, folder, video_id)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def refresh(self) -> int:
        """Bring the index in step with the folder; returns how many transcripts were (re)indexed or dropped."""
        with self._open() as db:
            return self._refresh_on(db)

    def _refresh_on(self, db: sqlite3.Connection) -> int:
        if not self._stale_folders(db):
            return 0
        db.execute("BEGIN IMMEDIATE")  # one writer; whoever waited re-decides below what is still stale
        try:
            changed = self._apply(db, self._stale_folders(db))
            if self._full_scan_due(db):
                db.execute("INSERT OR REPLACE INTO meta VALUES ('full_scan', ?)", (self.clock(),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    def _stale_folders(self, db: sqlite3.Connection) -> dict[str, int | None]:
        """Account folders whose mtime differs from the index's (None: the folder is gone); every folder when a
        full scan is due, which then re-reads only the files whose size or mtime changed."""
        known = dict(db.execute("SELECT name, mtime_ns FROM folders"))
        now = dict(account_folders(self.root))
        everything = self._full_scan_due(db)
        stale: dict[str, int | None] = {name: mtime for name, mtime in now.items()
                                        if everything or known.get(name) != mtime}
        stale.update({name: None for name in known if name not in now})
        return stale

    def _full_scan_due(self, db: sqlite3.Connection) -> bool:
        row = db.execute("SELECT value FROM meta WHERE key = 'full_scan'").fetchone()
        return row is None or not 0 <= self.clock() - row[0] < FULL_SCAN_S

    def _apply(self, db: sqlite3.Connection, stale: dict[str, int | None]) -> int:
        changed = 0
        for folder, mtime in stale.items():
            indexed = dict(db.execute("SELECT video_id, signature FROM docs WHERE folder = ?", (folder,)))
            present = {sig.video_id: sig for sig in scan_folder(self.root / folder, folder)} if mtime else {}
            for video_id in indexed.keys() - present.keys():
                changed += self._drop(db, folder, video_id)
            for video_id, sig in present.items():
                if indexed.get(video_id) != sig.signature:
                    changed += self._put(db, sig)
            if mtime is None:
                db.execute("DELETE FROM folders WHERE name = ?", (folder,))
            else:
                db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?)", (folder, mtime))
        return changed

    def _drop(self, db: sqlite3.Connection, folder: str, video_id: str) -> int:
        row = db.execute("SELECT id FROM docs WHERE folder = ? AND video_id = ?", (folder, video_id)).fetchone()
        if row is None:
            return 0
        db.execute("DELETE FROM fts WHERE rowid = ?", row)
        db.execute("DELETE FROM docs WHERE id = ?", row)
        return 1

    def _put(self, db: sqlite3.Connection, sig: FileSig) -> int:
        """Index one transcript: a completed record with its text; anything else is only remembered as seen."""
        self._drop(db, sig.folder, sig.video_id)
        folder = self.root / sig.folder
        record = read_json(folder / f"{sig.video_id}.json")
        body = read_text(folder / f"{sig.video_id}.txt") if record and record.get("status") == "completed" else None
        doc_id = free_id(db, newest_key(record or {}))
        account = (record or {}).get("account")
        username = account.get("username") if isinstance(account, dict) else None
        db.execute("INSERT INTO docs (id, folder, video_id, signature, record, username, lead) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (doc_id, sig.folder, sig.video_id, sig.signature, json.dumps(record or {}),
                    username if isinstance(username, str) else "", lead_of(body or "")))
        if body is not None:
            db.execute("INSERT INTO fts (rowid, title, body) VALUES (?, ?, ?)",
                       (doc_id, str(record.get("title") or ""), body))
        return 1

    # -- the database file --------------------------------------------------------------------------------------

    def _open(self) -> closing[sqlite3.Connection]:
        return closing(self._connection())

    def _connection(self) -> sqlite3.Connection:
        """A connection to a usable index: created when missing, rebuilt when corrupt or of another version."""
        for rebuilt in (False, True):  # a second pass only after dropping a corrupt copy or moving to the cache
            try:
                db = self._connect(self.path)
                try:
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    if version != SCHEMA_VERSION:
                        self._create(db, version)
                    return db
                except BaseException:
                    db.close()
                    raise
            except sqlite3.DatabaseError as exc:
                if rebuilt or is_busy(exc):  # busy: another process is building it, so it must not be dropped
                    raise
                self._discard()  # a cache: a corrupt copy is dropped and built again from the files
            except OSError:
                if rebuilt:
                    raise
                self.path = fallback_path(self.root)  # the transcripts folder is read-only: keep it in our cache
        raise AssertionError("unreachable")

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        if not path.parent.is_dir():
            raise FileNotFoundError(2, "no such folder", str(path.parent))
        if not os.access(path.parent, os.W_OK) and not os.access(path, os.W_OK):
            raise PermissionError(13, "read-only folder", str(path.parent))
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, INDEX_MODE))  # SQLite's -wal/-shm copy this mode
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    def _create(self, db: sqlite3.Connection, version: int) -> None:
        """Make the tables (dropping an older format's: the index is rebuilt from the files)."""
        db.execute("PRAGMA journal_mode = WAL")  # readers never wait for a refresh; kept in the file from now on
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:  # another process just did it
                db.execute("COMMIT")
                return
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "AND name NOT LIKE 'fts_%' AND name NOT LIKE 'sqlite_%'").fetchall():
                db.execute(f'DROP TABLE IF EXISTS "{name}"')
            for statement in filter(str.strip, SCHEMA.split(";")):
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass


def lead_of(text: str, limit: int = LEAD_CHARS) -> str:
    """The start of a transcript for its card: whitespace folded, cut at a word boundary within ``limit``."""
    flat = " ".join(text[:limit * 2].split())
    if len(flat) <= limit and len(text) <= limit * 2:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[:cut if cut > limit // 2 else limit] + "…"


def newest_key(record: dict) -> int:
    """When the video was made (its create_time), else when its transcript was saved: results list newest first."""
    created = record.get("created_time")
    if isinstance(created, int) and not isinstance(created, bool) and created > 0:
        return created
    try:
        return int(datetime.fromisoformat(str(record.get("saved_at"))).timestamp())
    except (TypeError, ValueError):
        return 0


def free_id(db: sqlite3.Connection, key: int) -> int:
    """A row id that sorts by ``key``: ``key * SLOTS`` plus the first slot not taken by a video of the same second.

    FTS5 walks its matches in row-id order, so ``ORDER BY rowid DESC LIMIT n`` reads n matches, not all of them:
    a common word costs the same as a rare one (bm25's ``ORDER BY rank`` would score every match first)."""
    base = max(0, min(key, MAX_KEY)) * SLOTS
    taken = db.execute("SELECT max(id) FROM docs WHERE id BETWEEN ? AND ?", (base, base + SLOTS - 1)).fetchone()[0]
    if taken is None:
        return base
    if taken + 1 < base + SLOTS:
        return taken + 1
    return db.execute("SELECT coalesce(max(id), 0) + 1 FROM docs").fetchone()[0]  # 1,024 in one second: past them


def account_folders(root: Path) -> Iterator[tuple[str, int]]:
    """(name, mtime_ns) of every account folder under ``root``."""
    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            yield entry.name, entry.stat().st_mtime_ns


def scan_folder(folder: Path, name: str) -> list[FileSig]:
    """Every video in one account folder with its files' signature (size and mtime of .json and .txt)."""
    stats: dict[str, dict[str, str]] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        stem, dot, kind = entry.name.rpartition(".")
        if dot and kind in ("json", "txt") and not stem.startswith("."):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            stats.setdefault(stem, {})[kind] = f"{st.st_size}:{st.st_mtime_ns}"
    return [FileSig(name, video_id, f"{kinds.get('json', '-')}/{kinds.get('txt', '-')}")
            for video_id, kinds in stats.items() if "json" in kinds]


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable or half-replaced: not indexed now; its next rewrite changes the folder's mtime
    return data if isinstance(data, dict) else None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def fallback_path(root: Path) -> Path:
    """Where the index of a read-only transcripts folder lives: the user's own cache folder (mode 0700), one file
    per transcripts folder (never a guessable name in the shared temp folder)."""
    cache = cache_home() / "tiktok-tool"
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache / f"transcripts-{digest}{INDEX_NAME}"
