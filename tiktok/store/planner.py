"""The planner's part of the post store (issue 27: posting slots and the calendar feed), one set of queries for
SQLite and PostgreSQL: :class:`PlannerQueries`, which :class:`~tiktok.store.sql.SqlStore` includes.

- **An account's slots** are one row of the store's small named values (``tiktok_store_meta``) per account,
  ``slots:<open_id>``: ``{"slots": "Mon-Fri 18:00, Sat 11:00", "zone": "Europe/Berlin" or ""}`` (what
  :mod:`tiktok.posting.slots` reads; "" means TZ). No migration: ``meta`` has held named values since version 1.
- **An account's post times in a window** (:meth:`PlannerQueries.post_times`): the ``due_at`` of its posts that are
  scheduled, in flight or done (not cancelled, withdrawn or failed) in ``[start, end)``: three ranges of the
  ``board, due_at`` index, never a scan of every post.
- **The schedule** for the calendar feed (:meth:`PlannerQueries.scheduled_posts`): every post not started that has a
  time (the Posts page's Upcoming group and the missed ones), in time order: one range of the same index.
- **The calendar's posts in a range** (:meth:`PlannerQueries.calendar_posts`, the ``/calendar/`` page): every post
  shown on a board (scheduled, in flight, posted, failed) whose time falls in ``[start, end)``, one account's or
  all: its ``due_at``, or for a post that had none (posted at once) its last change. Ranges of the ``board, due_at``
  and ``board, updated_at`` indexes, only the columns an event needs: never every post, never whole records.
- **The calendar feed's token** is kept as its SHA-256 only (``calendar_feed``: ``{"sha256": hex, "at": epoch}``),
  so reading the store does not give the feed away; removing the row revokes it.
"""

from __future__ import annotations

import json
from typing import Any, Callable, ContextManager, NamedTuple

from sqlalchemy import Select, Text, and_, cast, delete, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from tiktok.store import schema
from tiktok.store.model import Post
from tiktok.store.records import State

P = schema.posts
META = schema.meta
SLOTS_PREFIX = "slots:"
FEED = "calendar_feed"
TAKING = ("upcoming", "in_progress", "done")  # boards whose posts take a slot and count towards a day's cap
SHOWN = ("upcoming", "in_progress", "done", "failed")  # boards the calendar shows (not hidden: cancelled, withdrawn)
UNTIMED = ("done", "failed")  # boards where a post without a time shows at its last change (posted or failed then)


class CalendarPost(NamedTuple):
    """One post as the calendar shows it: its time (``due_at``, or its last change when it had none)."""

    id: int
    user_id: str
    state: str
    board: str
    at: float
    revision: int
    caption: str
    has_entry: bool


class PlannerQueries:
    """The planner's queries; the class that includes this provides ``_read``, ``_write``, ``_set_meta``,
    ``_lock_counter``, ``_post`` and ``clock`` (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]
    _set_meta: Callable[[Any, str, dict[str, Any]], None]
    _lock_counter: Callable[[Any], None]
    _post: Callable[[Any], Post]
    _add_in: Callable[..., Post]

    # -- slots -----------------------------------------------------------------------------------------------------

    def account_slots(self, user_id: str) -> dict[str, str] | None:
        """The account's slots as kept (``{"slots", "zone"}``), None when it has none."""
        return self._named(SLOTS_PREFIX + user_id)

    def set_account_slots(self, user_id: str, slots: str | None, zone: str = "") -> None:
        """Keep the account's slots text (already checked by :func:`tiktok.posting.slots.parse`); None removes
        them."""
        with self._write() as conn:
            self._lock_counter(conn)  # two writers of a new row never both insert it
            if slots is None:
                conn.execute(delete(META).where(META.c.name == SLOTS_PREFIX + user_id))
            else:
                self._set_meta(conn, SLOTS_PREFIX + user_id, {"slots": slots, "zone": zone})

    def post_times(self, user_id: str, start: float, end: float) -> list[float]:
        """The times of the account's posts that take a slot, in ``[start, end)``, in order."""
        with self._read() as conn:
            return _times(conn, user_id, start, end)

    def add_in_slot(self, user_id: str, pick: Callable[[Callable[[float, float], list[float]]], float],
                    make: Callable[[float], tuple[dict[str, Any], str]], *, media_name: str | None = None,
                    origin: str = "app") -> Post:
        """Pick the account's slot and add the post at it in ONE write transaction, so two adds at the same moment
        never pick the same slot: ``pick(taken)`` chooses the time from the account's post times (``taken(start,
        end)``, read inside the transaction; it raises ValueError when there is none) and ``make(at)`` gives the
        entry and key to add at it. The write lock is taken first (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the
        change counter's row, ``FOR UPDATE``), so the second add reads the first one's post once it is committed."""
        with self._write() as conn:
            self._lock_counter(conn)
            at = pick(lambda start, end: _times(conn, user_id, start, end))
            entry, key = make(at)
            return self._add_in(conn, entry, key=key, due_at=at, media_name=media_name, origin=origin,
                                now=self.clock())

    # -- the calendar --------------------------------------------------------------------------------------------

    def calendar_posts(self, start: float, end: float, *, user_id: str | None = None) -> list[CalendarPost]:
        """The posts shown on a board whose time is in ``[start, end)`` (``user_id``'s or all), in time order."""
        with self._read() as conn:
            rows = conn.execute(calendar_query(start, end, user_id=user_id, dialect=conn.dialect.name)).all()
        return [CalendarPost(post_id, user, state, board, float(at), revision, caption or "(no caption)", bool(entry))
                for post_id, user, state, board, at, revision, caption, entry in rows]

    # -- the calendar feed -----------------------------------------------------------------------------------------

    def scheduled_posts(self) -> list[Post]:
        """Every post not started that has a time, in time order (the calendar feed's events)."""
        with self._read() as conn:
            rows = conn.execute(select(P).where(P.c.board == "upcoming", P.c.state == State.QUEUED,
                                                P.c.due_at.is_not(None)).order_by(P.c.due_at, P.c.id))
            return [self._post(row) for row in rows]

    def feed_token_digest(self) -> str | None:
        """The SHA-256 (hex) of the calendar feed's live token, None when there is none."""
        held = self._named(FEED)
        return None if held is None else held.get("sha256")

    def set_feed_token_digest(self, digest: str | None) -> None:
        """Keep ``digest`` as the feed's token (the one before stops working); None revokes the feed."""
        with self._write() as conn:
            self._lock_counter(conn)
            if digest is None:
                conn.execute(delete(META).where(META.c.name == FEED))
            else:
                self._set_meta(conn, FEED, {"sha256": digest, "at": self.clock()})

    def _named(self, name: str) -> dict[str, Any] | None:
        with self._read() as conn:
            held = conn.execute(select(META.c.value).where(META.c.name == name)).scalar()
        return None if held is None else json.loads(held)


def calendar_query(start: float, end: float, *, user_id: str | None = None, dialect: str = "sqlite") -> Select:
    """:meth:`PlannerQueries.calendar_posts`' statement: two index ranges (``board, due_at`` for posts with a time,
    ``board, updated_at`` for posted or failed ones without), the account a filter on what they give; the caption
    read from the entry by the database (a month of every account is some 12,600 rows)."""
    timed = and_(P.c.board.in_(SHOWN), P.c.due_at >= start, P.c.due_at < end)
    untimed = and_(P.c.board.in_(UNTIMED), P.c.due_at.is_(None), P.c.updated_at >= start, P.c.updated_at < end)
    caption = func.coalesce(_entry_text("title", dialect), _entry_text("description", dialect),
                            func.nullif(P.c.media_name, ""))
    query = select(P.c.id, P.c.user_id, P.c.state, P.c.board, func.coalesce(P.c.due_at, P.c.updated_at),
                   P.c.revision, caption, P.c.entry.is_not(None)).where(or_(timed, untimed))
    query = query if user_id is None else query.where(P.c.user_id == user_id)
    return query.order_by(func.coalesce(P.c.due_at, P.c.updated_at), P.c.id)


def _entry_text(field: str, dialect: str):
    """A text field of the stored entry (JSON text), read by the database; NULL when missing or empty."""
    if dialect == "postgresql":
        return func.nullif(cast(P.c.entry, JSONB)[field].astext, "")
    return func.nullif(cast(func.json_extract(P.c.entry, f"$.{field}"), Text), "")


def _times(conn, user_id: str, start: float, end: float) -> list[float]:
    """The times of the account's posts that take a slot, in ``[start, end)``, in order (``board, due_at``)."""
    return [float(at) for at in conn.execute(
        select(P.c.due_at).where(P.c.board.in_(TAKING), P.c.due_at >= start, P.c.due_at < end,
                                 P.c.user_id == user_id).order_by(P.c.due_at)).scalars()]
