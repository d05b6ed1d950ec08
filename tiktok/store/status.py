"""The post store's part of the status figures (``python -m tiktok status``, ``/status/``, ``/metrics``), one set of
queries for SQLite and PostgreSQL: :class:`StatusQueries`, which :class:`~tiktok.store.sql.SqlStore` includes. What
the figures mean and how they are shown is :mod:`tiktok.store.health`'s.

- **The queue** is read from the posts' derived columns, each count one range of an index (``board`` with
  ``due_at`` or ``updated_at``), so it costs the same with a year of history: the oldest post that is due and not
  started yet (``queued``, due within the grace period), the posts in flight (the Posts page's In progress group),
  the posts that failed or missed their time since a moment.
- **TikTok's 429s** (``rate_limit_exceeded``) are counted where every process that talks to TikTok can add to them:
  rows of the store's small named values (``tiktok_store_meta``), one per hour (``status:429:h:<hour>``, kept
  :data:`KEEP_HOURS`) and a running total (``status:429:total``), each a JSON ``{"count": n}``. Adding is one
  write transaction under the store's write lock (the change counter's row), so two processes never lose a count.
- **The TikTok app's mode** as TikTok's answers showed it (issue 25: ``unaudited`` after the first
  ``unaudited_client_can_only_post_to_private_accounts``, ``sandbox`` after a login refused with
  ``non_sandbox_target``): one row ``app_mode``, ``{"mode": ..., "code": ..., "at": epoch}``; TIKTOK_APP_MODE, when
  set, wins over it (:func:`tiktok.posting.policy.app_mode`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from sqlalchemy import and_, delete, func, or_, select, update

from tiktok.store import schema
from tiktok.store.model import dumps
from tiktok.store.records import State

P = schema.posts
META = schema.meta
RATE_PREFIX = "status:429:"
RATE_TOTAL = RATE_PREFIX + "total"
RATE_HOUR = RATE_PREFIX + "h:"  # + the hour since the epoch (epoch seconds // 3600)
HOUR_S = 3600
APP_MODE = "app_mode"
KEEP_HOURS = 48  # hourly counts older than this go when a new one is added (the figures read the last 24 h)


@dataclass(frozen=True)
class QueueFigures:
    """The queue at one moment: ``oldest_due_at`` is when the longest-waiting due, not-started post became due
    (its ``created_at`` for a post with no time), None when none waits; the rest are counts."""

    oldest_due_at: float | None
    due: int          # due and not started (within the grace period)
    in_flight: int    # started and not ended: init sent, uploading, processing
    failed: int       # on the Failed list whose last change is at or after ``since``
    missed: int       # not started, their time more than the grace period ago but at or after ``since``


class StatusQueries:
    """The status queries; the class that includes this provides ``_read``, ``_write``, ``_lock_counter`` and
    ``clock`` (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]
    _lock_counter: Callable[[Any], None]

    def queue_figures(self, *, now: float, grace_s: float, since: float) -> QueueFigures:
        """The queue as it stands at ``now`` (one read transaction); ``grace_s`` is POST_GRACE: a post due longer
        ago than that is missed, not due."""
        waiting = and_(P.c.board == "upcoming", P.c.state == State.QUEUED)
        due = and_(waiting, or_(P.c.due_at.is_(None), and_(P.c.due_at <= now, P.c.due_at >= now - grace_s)))
        with self._read() as conn:
            oldest = conn.execute(select(func.min(func.coalesce(P.c.due_at, P.c.created_at))).where(due)).scalar()
            due_count = conn.execute(select(func.count()).select_from(P).where(due)).scalar_one()
            in_flight = conn.execute(select(func.count()).select_from(P)
                                     .where(P.c.board == "in_progress")).scalar_one()
            failed = conn.execute(select(func.count()).select_from(P)
                                  .where(P.c.board == "failed", P.c.updated_at >= since)).scalar_one()
            missed = conn.execute(select(func.count()).select_from(P).where(
                waiting, P.c.due_at < now - grace_s, P.c.due_at >= since)).scalar_one()
        return QueueFigures(oldest_due_at=None if oldest is None else float(oldest), due=int(due_count),
                            in_flight=int(in_flight), failed=int(failed), missed=int(missed))

    # -- TikTok's 429s ---------------------------------------------------------------------------------------------

    def count_rate_limited(self, n: int = 1) -> None:
        """Add ``n`` answers of TikTok's ``rate_limit_exceeded`` at the store's clock; hourly counts older than
        KEEP_HOURS go at the same time."""
        hour = int(self.clock() // HOUR_S)
        with self._write() as conn:
            self._lock_counter(conn)  # every writer of these rows holds it: read, add, write is never interleaved
            for name in (RATE_TOTAL, f"{RATE_HOUR}{hour}"):
                held = conn.execute(select(META.c.value).where(META.c.name == name)).scalar()
                if held is None:
                    conn.execute(META.insert().values(name=name, value=dumps({"count": n})))
                else:
                    count = int(json.loads(held).get("count", 0)) + n
                    conn.execute(update(META).where(META.c.name == name).values(value=dumps({"count": count})))
            old = [name for name in conn.execute(select(META.c.name).where(META.c.name.like(f"{RATE_HOUR}%")))
                   .scalars() if int(name[len(RATE_HOUR):]) < hour - KEEP_HOURS]
            if old:
                conn.execute(delete(META).where(META.c.name.in_(old)))

    def rate_limited(self, *, since: float) -> tuple[int, int]:
        """(429s counted in the hours from the one holding ``since`` on, 429s counted ever)."""
        first = int(since // HOUR_S)
        with self._read() as conn:
            rows = conn.execute(select(META.c.name, META.c.value).where(META.c.name.like(f"{RATE_PREFIX}%"))).all()
        recent = total = 0
        for name, value in rows:
            count = int(json.loads(value).get("count", 0))
            if name == RATE_TOTAL:
                total = count
            elif name.startswith(RATE_HOUR) and int(name[len(RATE_HOUR):]) >= first:
                recent += count
        return recent, total

    # -- the TikTok app's mode as detected ----------------------------------------------------------------------

    def detected_app_mode(self) -> dict[str, Any] | None:
        """What TikTok's answers showed of the app's mode: ``{"mode", "code", "at"}``, or None when nothing yet."""
        with self._read() as conn:
            held = conn.execute(select(META.c.value).where(META.c.name == APP_MODE)).scalar()
        return None if held is None else json.loads(held)

    def record_app_mode(self, mode: str, code: str) -> bool:
        """Keep ``mode`` as TikTok's answer ``code`` showed it, at the store's clock; False when it was kept
        already (so the caller says so once)."""
        with self._write() as conn:
            self._lock_counter(conn)
            held = conn.execute(select(META.c.value).where(META.c.name == APP_MODE)).scalar()
            if held is not None and json.loads(held).get("mode") == mode:
                return False
            value = dumps({"mode": mode, "code": code, "at": self.clock()})
            if held is None:
                conn.execute(META.insert().values(name=APP_MODE, value=value))
            else:
                conn.execute(update(META).where(META.c.name == APP_MODE).values(value=value))
        return True
