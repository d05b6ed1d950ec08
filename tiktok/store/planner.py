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
- **The calendar feed's token** is kept as its SHA-256 only (``calendar_feed``: ``{"sha256": hex, "at": epoch}``),
  so reading the store does not give the feed away; removing the row revokes it.
"""

from __future__ import annotations

import json
from typing import Any, Callable, ContextManager

from sqlalchemy import delete, select

from tiktok.store import schema
from tiktok.store.model import Post
from tiktok.store.records import State

P = schema.posts
META = schema.meta
SLOTS_PREFIX = "slots:"
FEED = "calendar_feed"
TAKING = ("upcoming", "in_progress", "done")  # boards whose posts take a slot and count towards a day's cap


class PlannerQueries:
    """The planner's queries; the class that includes this provides ``_read``, ``_write``, ``_set_meta``,
    ``_lock_counter``, ``_post`` and ``clock`` (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]
    _set_meta: Callable[[Any, str, dict[str, Any]], None]
    _lock_counter: Callable[[Any], None]
    _post: Callable[[Any], Post]

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
            return [float(at) for at in conn.execute(
                select(P.c.due_at).where(P.c.board.in_(TAKING), P.c.due_at >= start, P.c.due_at < end,
                                         P.c.user_id == user_id).order_by(P.c.due_at)).scalars()]

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

