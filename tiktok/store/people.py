"""The people who use the app and their sign-ins, one set of queries for SQLite and PostgreSQL:
:class:`PeopleQueries`, which :class:`~tiktok.store.sql.SqlStore` includes (issue 26, item 1).

A person signs in with TikTok (Login Kit, ``user.info.basic``); that connects no account for posting. Rules:

- The first person to sign in is the **owner** (only when the caller says this sign-in may claim it: the web layer
  lets a browser on this machine or past APP_PASSWORD claim it); everyone after is **pending** until the owner
  allows them, or a **member** when the owner allowed their open_id beforehand.
- Every change is one write transaction under the store's write lock (the change counter's row), so two people
  signing in at the same moment never make two owners.
- A sign-in is a row keyed by a hash of the random id the cookie holds (the store never holds the id itself); it
  lasts until ``expires_at`` and ends when the row goes: Sign out, or the person's removal.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from sqlalchemy import delete, func, select, update

from tiktok.store import schema

PEOPLE = schema.people
SESSIONS = schema.person_sessions
OWNER, MEMBER, PENDING = "owner", "member", "pending"
ALLOWED = (OWNER, MEMBER)


@dataclass(frozen=True)
class Person:
    open_id: str
    name: str
    avatar: str
    role: str
    created_at: float
    allowed_at: float | None = None

    @property
    def allowed(self) -> bool:
        return self.role in ALLOWED

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def _person(row) -> Person:
    return Person(open_id=row.open_id, name=row.name, avatar=row.avatar, role=row.role,
                  created_at=row.created_at, allowed_at=row.allowed_at)


class PeopleQueries:
    """The people queries; the class that includes this provides ``_read``, ``_write``, ``_lock_counter`` and
    ``clock`` (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]
    _lock_counter: Callable[[Any], None]

    def people(self) -> list[Person]:
        """Everyone, the owner first, then members, then requests, each oldest first."""
        order = {OWNER: 0, MEMBER: 1, PENDING: 2}
        with self._read() as conn:
            rows = conn.execute(select(PEOPLE)).all()
        return sorted((_person(r) for r in rows), key=lambda p: (order.get(p.role, 3), p.created_at, p.open_id))

    def person(self, open_id: str) -> Person | None:
        with self._read() as conn:
            row = conn.execute(select(PEOPLE).where(PEOPLE.c.open_id == open_id)).first()
        return None if row is None else _person(row)

    def allowed_count(self) -> int:
        """How many people may see the app (the owner and the members)."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(PEOPLE)
                                    .where(PEOPLE.c.role.in_(ALLOWED))).scalar_one())

    def sign_in_person(self, open_id: str, name: str, avatar: str, *, may_own: bool) -> Person:
        """Record a sign-in: the first person becomes the owner when ``may_own``; someone known keeps their role
        (their name and avatar are refreshed); anyone else is a pending request."""
        now = self.clock()
        with self._write() as conn:
            self._lock_counter(conn)  # one writer at a time: never two owners
            row = conn.execute(select(PEOPLE).where(PEOPLE.c.open_id == open_id)).first()
            has_owner = conn.execute(select(PEOPLE.c.open_id).where(PEOPLE.c.role == OWNER)).first() is not None
            if row is not None:
                values: dict[str, Any] = {"name": name, "avatar": avatar}
                if row.role == PENDING and not has_owner and may_own:
                    values.update(role=OWNER, allowed_at=now)
                conn.execute(update(PEOPLE).where(PEOPLE.c.open_id == open_id).values(**values))
            else:
                owner = not has_owner and may_own
                conn.execute(PEOPLE.insert().values(open_id=open_id, name=name, avatar=avatar,
                                                    role=OWNER if owner else PENDING, created_at=now,
                                                    allowed_at=now if owner else None))
            row = conn.execute(select(PEOPLE).where(PEOPLE.c.open_id == open_id)).one()
        return _person(row)

    def allow_person(self, open_id: str, *, by: str, name: str = "", avatar: str = "") -> Person:
        """Make ``open_id`` a member: a pending request approved, or someone allowed before they sign in."""
        now = self.clock()
        with self._write() as conn:
            self._lock_counter(conn)
            row = conn.execute(select(PEOPLE).where(PEOPLE.c.open_id == open_id)).first()
            if row is None:
                conn.execute(PEOPLE.insert().values(open_id=open_id, name=name or open_id, avatar=avatar,
                                                    role=MEMBER, created_at=now, allowed_at=now, allowed_by=by))
            elif row.role == PENDING:
                conn.execute(update(PEOPLE).where(PEOPLE.c.open_id == open_id)
                             .values(role=MEMBER, allowed_at=now, allowed_by=by))
            row = conn.execute(select(PEOPLE).where(PEOPLE.c.open_id == open_id)).one()
        return _person(row)

    def remove_person(self, open_id: str) -> bool:
        """Remove a member or a request, and end every sign-in of theirs; the owner cannot be removed (False)."""
        with self._write() as conn:
            self._lock_counter(conn)
            gone = conn.execute(delete(PEOPLE).where(PEOPLE.c.open_id == open_id, PEOPLE.c.role != OWNER)).rowcount
            if gone:
                conn.execute(delete(SESSIONS).where(SESSIONS.c.open_id == open_id))
        return bool(gone)

    # -- sign-ins --------------------------------------------------------------------------------------------------

    def open_person_session(self, open_id: str, *, lifetime_s: float) -> str:
        """A new sign-in for ``open_id``: the random id for the cookie (only its hash is stored)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self._write() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= now))  # expired ones go as new ones come
            conn.execute(SESSIONS.insert().values(digest=session_digest(session_id), open_id=open_id,
                                                  created_at=now, expires_at=now + lifetime_s))
        return session_id

    def session_person(self, session_id: object) -> Person | None:
        """The person an open, unexpired sign-in belongs to, or None."""
        if not isinstance(session_id, str) or not session_id:
            return None
        with self._read() as conn:
            row = conn.execute(select(PEOPLE).join(SESSIONS, SESSIONS.c.open_id == PEOPLE.c.open_id).where(
                SESSIONS.c.digest == session_digest(session_id), SESSIONS.c.expires_at > self.clock())).first()
        return None if row is None else _person(row)

    def end_person_session(self, session_id: object) -> None:
        if isinstance(session_id, str) and session_id:
            with self._write() as conn:
                conn.execute(delete(SESSIONS).where(SESSIONS.c.digest == session_digest(session_id)))
