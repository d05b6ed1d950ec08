"""Likes, comments (one level of replies) and bookmarks on transcripts, one set of queries for SQLite and
PostgreSQL: :class:`InteractionQueries`, which :class:`~tiktok.store.sql.SqlStore` includes (issue 26, item 4).

A transcript is named by its account's open_id and its video id, as the transcripts folder and its pages name it
(``/transcripts/<open_id>/<video_id>/``, :mod:`tiktok.transcription.store`). Rules:

- A like and a bookmark are one row per person and transcript: liking twice is one like (an insert that does
  nothing on conflict, so two clicks at once never fail either).
- A comment is plain text, cleaned by :func:`clean_comment` (control and bidi override characters removed, at most
  :data:`MAX_COMMENT_CHARS`); an empty one is refused. A reply answers a top-level comment of the same transcript,
  never a reply (one level, as in TikNote).
- A comment is deleted by its author or the owner: its text goes, the row stays marked, so replies keep their
  place under "comment deleted".
- The counts for a page of cards are one query (:meth:`InteractionQueries.counts`), never one per card; "bookmarked
  by me" is paged by keyset on the bookmark's id, newest first, so a page costs the same at any number of them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterable

from sqlalchemy import and_, case, delete, func, literal, select, tuple_, union_all, update

from tiktok.store import schema

LIKES, COMMENTS, BOOKMARKS, PEOPLE = schema.likes, schema.comments, schema.bookmarks, schema.people
MAX_COMMENT_CHARS = 2_000  # a comment's length cap (characters, after cleaning)
PER_PAGE = 20  # bookmarks per page, as the feed (tiktok.transcription.index.PER_PAGE)
# Unicode's explicit directional formatting characters (UAX #9, 2.1-2.2): an override can make a comment's text read
# backwards or spill its direction into the page around it. Letters' own direction is left alone.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
KEEP = frozenset("\n")  # the one control character a comment keeps: its line breaks

Key = tuple[str, str]  # (open_id, video_id)


@dataclass(frozen=True)
class Counts:
    """What a card shows about one transcript, for the person looking."""

    likes: int = 0
    comments: int = 0
    liked: bool = False
    bookmarked: bool = False


@dataclass(frozen=True)
class Comment:
    id: int
    open_id: str
    video_id: str
    person: str
    name: str  # the person's display name (their open_id once they are gone from the people table)
    parent_id: int | None
    text: str
    at: float
    deleted: bool


@dataclass(frozen=True)
class Thread:
    """A top-level comment and its replies, oldest first."""

    comment: Comment
    replies: tuple[Comment, ...]


@dataclass(frozen=True)
class BookmarkPage:
    """A page of one person's bookmarks, newest first; ``newer``/``older``: the cursors either side, or None."""

    keys: tuple[Key, ...]
    newer: int | None
    older: int | None


def clean_comment(text: str) -> str:
    """A comment as stored: line breaks kept (CRLF as LF), every other control, format-override and bidi character
    removed, ends trimmed; ValueError (a plain sentence) when nothing is left or it is too long."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(c for c in text if c in KEEP or (c not in BIDI_CONTROLS and unicodedata.category(c) not in
                                                       ("Cc", "Cs")))
    kept = kept.strip()
    if not kept:
        raise ValueError("The comment is empty; type something to say")
    if len(kept) > MAX_COMMENT_CHARS:
        raise ValueError(f"The comment is {len(kept):,} characters long; at most {MAX_COMMENT_CHARS:,} fit")
    return kept


def _comment(row) -> Comment:
    return Comment(id=row.id, open_id=row.open_id, video_id=row.video_id, person=row.person,
                   name=row.name or row.person, parent_id=row.parent_id, text=row.text, at=row.at,
                   deleted=row.deleted_at is not None)


class InteractionQueries:
    """The interaction queries; the class that includes this provides ``_read``, ``_write`` and ``clock``
    (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]

    # -- likes and bookmarks ---------------------------------------------------------------------------------------

    def set_like(self, person: str, open_id: str, video_id: str, on: bool) -> bool:
        """Like (``on``) or unlike a transcript; True when that changed something."""
        return self._toggle(LIKES, person, open_id, video_id, on)

    def set_bookmark(self, person: str, open_id: str, video_id: str, on: bool) -> bool:
        """Bookmark (``on``) or drop the bookmark; True when that changed something."""
        return self._toggle(BOOKMARKS, person, open_id, video_id, on)

    def _toggle(self, table, person: str, open_id: str, video_id: str, on: bool) -> bool:
        mine = and_(table.c.person == person, table.c.open_id == open_id, table.c.video_id == video_id)
        with self._write() as conn:
            if not on:
                return bool(conn.execute(delete(table).where(mine)).rowcount)
            values = {"person": person, "open_id": open_id, "video_id": video_id, "at": self.clock()}
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            added = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.person)
            return conn.execute(added).first() is not None

    def counts(self, keys: Iterable[Key], person: str | None) -> dict[Key, Counts]:
        """Likes, live comments, and whether ``person`` liked and bookmarked each transcript: one query for the
        whole page (a UNION of three grouped counts over the page's keys)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        me = person or ""

        def grouped(table, kind: str, where, mine):
            return (select(literal(kind).label("kind"), table.c.open_id, table.c.video_id,
                           func.count().label("n"), func.sum(case((mine, 1), else_=0)).label("mine"))
                    .where(tuple_(table.c.open_id, table.c.video_id).in_(keys), *where)
                    .group_by(table.c.open_id, table.c.video_id))

        query = union_all(grouped(LIKES, "like", (), LIKES.c.person == me),
                          grouped(COMMENTS, "comment", (COMMENTS.c.deleted_at.is_(None),), COMMENTS.c.person == me),
                          grouped(BOOKMARKS, "bookmark", (BOOKMARKS.c.person == me,), BOOKMARKS.c.person == me))
        found: dict[Key, dict[str, Any]] = {}
        with self._read() as conn:
            for row in conn.execute(query):
                facts = found.setdefault((row.open_id, row.video_id), {})
                if row.kind == "like":
                    facts.update(likes=int(row.n), liked=bool(row.mine))
                elif row.kind == "comment":
                    facts["comments"] = int(row.n)
                else:
                    facts["bookmarked"] = bool(row.n)
        return {key: Counts(**found.get(key, {})) for key in keys}

    def bookmarked(self, person: str, *, before: int | None = None, after: int | None = None,
                   per_page: int = PER_PAGE) -> BookmarkPage:
        """A page of ``person``'s bookmarks, newest first, before (older than) or after (newer than) a cursor."""
        B = BOOKMARKS
        query = select(B.c.id, B.c.open_id, B.c.video_id).where(B.c.person == person)
        if after is not None:
            query = query.where(B.c.id > after).order_by(B.c.id.asc())
        elif before is not None:
            query = query.where(B.c.id < before).order_by(B.c.id.desc())
        else:
            query = query.order_by(B.c.id.desc())
        newer = older = None
        with self._read() as conn:
            rows = conn.execute(query.limit(per_page + 1)).all()
            more = len(rows) > per_page
            rows = sorted(rows[:per_page], key=lambda r: r.id, reverse=True)
            if rows:
                first, last = rows[0].id, rows[-1].id  # newest and oldest on this page
                if after is not None:
                    has_newer, has_older = more, self._any(conn, person, B.c.id < last)
                else:
                    has_newer = before is not None and self._any(conn, person, B.c.id > first)
                    has_older = more
                newer, older = (first if has_newer else None), (last if has_older else None)
        return BookmarkPage(tuple((r.open_id, r.video_id) for r in rows), newer, older)

    @staticmethod
    def _any(conn, person: str, where) -> bool:
        B = BOOKMARKS
        return conn.execute(select(B.c.id).where(B.c.person == person, where).limit(1)).first() is not None

    # -- comments --------------------------------------------------------------------------------------------------

    def add_comment(self, person: str, open_id: str, video_id: str, text: str,
                    parent_id: int | None = None) -> Comment:
        """Add a comment, or a reply to a top-level comment of the same transcript; ValueError (a plain sentence)
        for an empty or overlong text, or a parent that is not such a comment."""
        text = clean_comment(text)
        with self._write() as conn:
            if parent_id is not None:
                parent = conn.execute(select(COMMENTS).where(COMMENTS.c.id == parent_id)).first()
                if parent is None or (parent.open_id, parent.video_id) != (open_id, video_id) \
                        or parent.deleted_at is not None:
                    raise ValueError("The comment you answered is gone; reload the page")
                if parent.parent_id is not None:
                    raise ValueError("Replies go under a top-level comment only; answer that comment instead")
            new_id = conn.execute(COMMENTS.insert().values(open_id=open_id, video_id=video_id, person=person,
                                                           parent_id=parent_id, text=text, at=self.clock())
                                  .returning(COMMENTS.c.id)).scalar_one()
            row = conn.execute(self._comments_query().where(COMMENTS.c.id == new_id)).one()
        return _comment(row)

    def comment(self, comment_id: int) -> Comment | None:
        with self._read() as conn:
            row = conn.execute(self._comments_query().where(COMMENTS.c.id == comment_id)).first()
        return None if row is None else _comment(row)

    def delete_comment(self, comment_id: int, *, by: str, owner: bool) -> bool:
        """Delete a live comment when ``by`` wrote it or is the ``owner``; True when it was deleted."""
        allowed = literal(True) if owner else COMMENTS.c.person == by
        with self._write() as conn:
            done = conn.execute(update(COMMENTS).where(COMMENTS.c.id == comment_id, COMMENTS.c.deleted_at.is_(None),
                                                       allowed).values(text="", deleted_at=self.clock()))
        return bool(done.rowcount)

    def threads(self, open_id: str, video_id: str) -> list[Thread]:
        """A transcript's comments, oldest first, each with its replies; a deleted comment stays only while a live
        reply hangs under it, and deleted replies go."""
        with self._read() as conn:
            rows = conn.execute(self._comments_query().where(COMMENTS.c.open_id == open_id,
                                                             COMMENTS.c.video_id == video_id)
                                .order_by(COMMENTS.c.id)).all()
        comments = [_comment(r) for r in rows]
        replies: dict[int, list[Comment]] = {}
        for c in comments:
            if c.parent_id is not None and not c.deleted:
                replies.setdefault(c.parent_id, []).append(c)
        return [Thread(c, tuple(replies.get(c.id, ()))) for c in comments
                if c.parent_id is None and (not c.deleted or replies.get(c.id))]

    @staticmethod
    def _comments_query():
        return (select(COMMENTS, PEOPLE.c.name).select_from(COMMENTS)
                .outerjoin(PEOPLE, PEOPLE.c.open_id == COMMENTS.c.person))


__all__ = ["BookmarkPage", "Comment", "Counts", "InteractionQueries", "MAX_COMMENT_CHARS", "Thread", "clean_comment"]
