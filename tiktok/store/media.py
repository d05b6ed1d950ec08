"""The media library's rows in the post store (``media`` and ``post_media``, store migration 3), one set of queries
for SQLite and PostgreSQL: :class:`MediaQueries`, which :class:`~tiktok.store.sql.SqlStore` includes. The rules (what
may go, when, and the files themselves) are :mod:`tiktok.media.library`'s; these are the questions and the changes.

- A file is *held* while a post that may still need it names it: queued (scheduled or not), in flight, or failed (a
  person may retry it). Held files are never removed, by the cleanup or by a person (:data:`HOLDING`).
- A post names its files in ``post_media``, written in the transaction that writes its entry
  (:meth:`MediaQueries._link_media`); the check before a removal also reads the entries of the live posts, so a post
  written without links (by a tool from before migration 3, during a rolling upgrade) holds its file all the same.
- Removing is a compare and set under the store's write lock: the row is marked ``removed_at`` only when no post holds
  it (and, for the cleanup, none used it lately), then the caller deletes the file. Adding or editing a post takes the
  same lock, refuses a file marked removed and marks the others used (:meth:`MediaQueries._use_media`), so a compose
  at the moment of a cleanup either holds the file first or is refused with a sentence: never queued without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable

from sqlalchemy import exists, func, or_, select, update

from tiktok.errors import ChangeRefused
from tiktok.store import schema
from tiktok.store.model import dumps, media_names
from tiktok.store.records import State

M = schema.media
PM = schema.post_media
P = schema.posts
# A post in one of these states may still send its file to TikTok: its files are held.
HOLDING = frozenset({State.QUEUED, State.PENDING_INIT, State.UPLOADING, State.PROCESSING, State.FAILED})
LIVE_BOARDS = ("upcoming", "in_progress", "failed")  # the boards of the posts in HOLDING (their entries are read)
IN_BATCH = 500  # names per IN (...) list


@dataclass(frozen=True)
class MediaFile:
    """One file of the library as the store holds it (``checks``: what probing found and TikTok's checks said)."""

    name: str
    kind: str  # video or photo
    size_bytes: int
    created_at: float
    last_used_at: float
    original: str | None = None
    origin: str = "upload"  # upload: the composer's (the cleanup removes it once unused); stored: a media store key
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    removed_at: float | None = None

    @property
    def label(self) -> str:
        """How messages name it: the person's name for it, else the stored name."""
        return self.original or self.name


@dataclass(frozen=True)
class MediaUse:
    """A post that names a file: enough for the library page and its messages (no record is opened)."""

    post_id: int
    state: State
    board: str
    user_id: str
    due_at: float | None
    updated_at: float

    @property
    def holds(self) -> bool:
        return self.state in HOLDING


@dataclass(frozen=True)
class Removal:
    """What :meth:`MediaQueries.remove_media` did: ``removed``, or why not (``held_by`` the posts that hold it;
    ``reason``: held, used (lately, for the cleanup) or gone (no such file, or already removed))."""

    removed: bool
    reason: str = ""
    held_by: tuple[MediaUse, ...] = ()


class MediaQueries:
    """The library's queries; the class that includes this provides ``_read``, ``_write``, ``_lock_counter`` and
    ``clock`` (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]
    _lock_counter: Callable[[Any], None]

    # -- the files -------------------------------------------------------------------------------------------------

    def add_media(self, media: MediaFile, *, fill: bool = False) -> bool:
        """Keep the row of a new file (an upload, or a file found in MEDIA_DIR); False when the name has one. With
        ``fill`` (the upload's own record), a row adopted a moment before without an original name gets the
        upload's name and checks."""
        with self._write() as conn:
            self._lock_counter(conn)
            if conn.execute(select(M.c.name).where(M.c.name == media.name)).first() is not None:
                if fill:
                    conn.execute(update(M).where(M.c.name == media.name, M.c.original.is_(None),
                                                 M.c.removed_at.is_(None))
                                 .values(original=media.original, checks=dumps(media.checks)))
                return False
            conn.execute(M.insert().values(
                name=media.name, original=media.original, kind=media.kind, origin=media.origin,
                size_bytes=media.size_bytes,
                duration_s=media.duration_s, width=media.width, height=media.height, checks=dumps(media.checks),
                created_at=media.created_at, last_used_at=media.last_used_at))
            return True

    def media_file(self, name: str) -> MediaFile | None:
        with self._read() as conn:
            row = conn.execute(select(M).where(M.c.name == name)).first()
        return None if row is None else _media(row)

    def media_files(self, *, offset: int, limit: int) -> list[MediaFile]:
        """One page of the files not removed, newest first."""
        with self._read() as conn:
            rows = conn.execute(select(M).where(M.c.removed_at.is_(None))
                                .order_by(M.c.created_at.desc(), M.c.name).offset(offset).limit(limit)).all()
        return [_media(row) for row in rows]

    def media_totals(self) -> tuple[int, int]:
        """(files, bytes) of the files not removed."""
        with self._read() as conn:
            count, size = conn.execute(select(func.count(), func.coalesce(func.sum(M.c.size_bytes), 0))
                                       .where(M.c.removed_at.is_(None))).one()
        return int(count), int(size)

    def media_known(self, names: Iterable[str]) -> set[str]:
        """Which of ``names`` have a row (removed ones included)."""
        names, known = list(names), set()
        with self._read() as conn:
            for start in range(0, len(names), IN_BATCH):
                part = names[start:start + IN_BATCH]
                known.update(conn.execute(select(M.c.name).where(M.c.name.in_(part))).scalars())
        return known

    def media_uses(self, names: Iterable[str]) -> dict[str, list[MediaUse]]:
        """The posts whose entries name each of ``names``, newest first (one indexed query per page)."""
        names = list(names)
        found: dict[str, list[MediaUse]] = {name: [] for name in names}
        with self._read() as conn:
            for start in range(0, len(names), IN_BATCH):
                for row in conn.execute(uses_query(names[start:start + IN_BATCH])):
                    found[row.name].append(_use(row))
        return found

    # -- removing --------------------------------------------------------------------------------------------------

    def unused_media(self, before: float, *, limit: int = 100) -> list[str]:
        """Uploads not removed, unused since ``before``: last used before it, and no post names them that holds them
        or changed since (the cleanup's candidates; :meth:`remove_media` checks each again). Only uploads: their
        random names are never used again, whereas a media store key comes back with the same bytes."""
        recent = exists().where(PM.c.name == M.c.name, PM.c.post_id == P.c.id,
                                or_(P.c.state.in_(HOLDING), P.c.updated_at >= before))
        with self._read() as conn:
            return list(conn.execute(select(M.c.name).where(M.c.removed_at.is_(None), M.c.origin == "upload",
                                                            M.c.last_used_at < before, ~recent)
                                     .order_by(M.c.last_used_at).limit(limit)).scalars())

    def remove_media(self, name: str, *, before: float | None = None) -> Removal:
        """Mark ``name`` removed unless a post holds it (and, with ``before``, unless it was used since); the
        caller deletes the file once this returned ``removed``. One transaction under the write lock."""
        now = self.clock()
        with self._write() as conn:
            self._lock_counter(conn)
            row = conn.execute(select(M).where(M.c.name == name).with_for_update()).first()
            if row is None or row.removed_at is not None:
                return Removal(False, "gone")
            held = self._holders(conn, name)
            if held:
                return Removal(False, "held", tuple(held))
            if before is not None and (row.last_used_at >= before or conn.execute(
                    select(P.c.id).join(PM, PM.c.post_id == P.c.id)
                    .where(PM.c.name == name, P.c.updated_at >= before).limit(1)).first() is not None):
                return Removal(False, "used")
            conn.execute(update(M).where(M.c.name == name).values(removed_at=now))
            return Removal(True)

    def removed_media(self, *, limit: int = 500) -> list[MediaFile]:
        """Files marked removed (their rows stay a while: see :mod:`tiktok.media.library`), oldest first."""
        with self._read() as conn:
            rows = conn.execute(select(M).where(M.c.removed_at.is_not(None)).order_by(M.c.removed_at)
                                .limit(limit)).all()
        return [_media(row) for row in rows]

    def forget_media(self, names: Iterable[str]) -> int:
        """Drop the rows of removed files (never of one not removed); how many went."""
        names = list(names)
        if not names:
            return 0
        with self._write() as conn:
            done = conn.execute(M.delete().where(M.c.name.in_(names), M.c.removed_at.is_not(None)))
            return done.rowcount

    def _holders(self, conn, name: str) -> list[MediaUse]:
        """The posts that hold ``name``: linked to it, or live with an entry that names it (a post written without
        links, by an older version during a rolling upgrade)."""
        linked = select(*_USE_COLUMNS).join(PM, PM.c.post_id == P.c.id).where(PM.c.name == name,
                                                                              P.c.state.in_(HOLDING))
        named = select(*_USE_COLUMNS).where(P.c.board.in_(LIVE_BOARDS), P.c.state.in_(HOLDING),
                                            P.c.entry.contains(name, autoescape=True))
        found = {row.id: _use(row) for query in (linked, named) for row in conn.execute(query)}
        return [found[post_id] for post_id in sorted(found)]

    # -- with a post's entry (called by the post store's writes) ----------------------------------------------------

    def _use_media(self, conn, entry: dict[str, Any], now: float, *, verb: str = "added") -> None:
        """Before a post naming library files is added or edited: refuse a file marked removed (ChangeRefused), and
        mark the others used now. The caller holds the write lock (the counter's), as :meth:`remove_media` does."""
        names = media_names(entry)
        if not names:
            return
        rows = conn.execute(select(M.c.name, M.c.original, M.c.removed_at).where(M.c.name.in_(names))).all()
        gone = [row for row in rows if row.removed_at is not None]
        if gone:
            label = gone[0].original or gone[0].name
            raise ChangeRefused(f"the file {label} was removed from the media library (no post used it for too "
                                f"long, or a person deleted it): choose the file again; nothing was {verb}")
        if rows:
            conn.execute(update(M).where(M.c.name.in_([row.name for row in rows])).values(last_used_at=now))

    def _link_media(self, conn, post_id: int, entry: dict[str, Any] | None, *, fresh: bool = False) -> None:
        """Write which files the entry names (``fresh``: a post inserted now, with no links yet)."""
        names = media_names(entry)
        if not fresh:
            conn.execute(PM.delete().where(PM.c.post_id == post_id))
        if names:
            conn.execute(PM.insert(), [{"post_id": post_id, "name": name} for name in names])


_USE_COLUMNS = (P.c.id, P.c.state, P.c.board, P.c.user_id, P.c.due_at, P.c.updated_at)


def uses_query(names: list[str]):
    """The posts that name any of ``names``: one query over post_media's (name, post_id) index and posts' key."""
    return (select(PM.c.name, *_USE_COLUMNS).join(P, P.c.id == PM.c.post_id).where(PM.c.name.in_(names))
            .order_by(P.c.id.desc()))


def _use(row) -> MediaUse:
    return MediaUse(post_id=row.id, state=State(row.state), board=row.board, user_id=row.user_id, due_at=row.due_at,
                    updated_at=row.updated_at)


def _media(row) -> MediaFile:
    return MediaFile(name=row.name, original=row.original, kind=row.kind, origin=row.origin, size_bytes=row.size_bytes,
                     duration_s=row.duration_s, width=row.width, height=row.height,
                     checks=json.loads(row.checks) if row.checks else {}, created_at=row.created_at,
                     last_used_at=row.last_used_at, removed_at=row.removed_at)
