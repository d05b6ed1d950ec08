"""Share links: a read-only link to one transcript, one set of queries for SQLite and PostgreSQL:
:class:`ShareQueries`, which :class:`~tiktok.store.sql.SqlStore` includes (issue 26, item 5).

Rules:

- A link's token is 32 random bytes (``secrets.token_urlsafe``, 256 bits: unguessable); the store keeps only its
  SHA-256, so a copy of the database opens no transcript. The token is shown once, when the link is made.
- A link names one transcript (its account folder and video id, as :mod:`tiktok.transcription.store` keys it) and
  the person who made it. It opens until it is revoked; a revoked link and a token never made look the same
  (:meth:`ShareQueries.shared` returns None for both, after the same one-row lookup and a constant-time compare).
- Only the person who made a link, or the owner, revokes it (:meth:`ShareQueries.revoke_share`, one conditional
  write, so the rule holds however many requests race).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from sqlalchemy import select, update

from tiktok.store import schema

SHARES = schema.share_links
TOKEN_BYTES = 32  # 256 bits: the issue asks for at least 128
_NO_DIGEST = "0" * 64  # compared against when no row matched, so a miss costs what a hit does


@dataclass(frozen=True)
class ShareLink:
    id: int
    open_id: str
    video_id: str
    created_by: str
    created_at: float
    revoked_at: float | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def share_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _link(row) -> ShareLink:
    return ShareLink(id=row.id, open_id=row.open_id, video_id=row.video_id, created_by=row.created_by,
                     created_at=row.created_at, revoked_at=row.revoked_at)


class ShareQueries:
    """The share-link queries; the class that includes this provides ``_read``, ``_write`` and ``clock``."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]

    def create_share(self, open_id: str, video_id: str, *, created_by: str) -> tuple[str, ShareLink]:
        """A new link to the transcript ``open_id``/``video_id``: its token (shown once; only its hash is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._write() as conn:
            conn.execute(SHARES.insert().values(digest=share_digest(token), open_id=open_id, video_id=video_id,
                                                created_by=created_by, created_at=self.clock()))
            row = conn.execute(select(SHARES).where(SHARES.c.digest == share_digest(token))).one()
        return token, _link(row)

    def shared(self, token: object) -> ShareLink | None:
        """The live link ``token`` opens, or None (revoked, or never made: the same work either way)."""
        digest = share_digest(token) if isinstance(token, str) else _NO_DIGEST
        with self._read() as conn:
            row = conn.execute(select(SHARES).where(SHARES.c.digest == digest)).first()
        found = hmac.compare_digest(row.digest if row is not None else _NO_DIGEST, digest)
        return _link(row) if found and row is not None and row.revoked_at is None else None

    def share_link(self, share_id: int) -> ShareLink | None:
        with self._read() as conn:
            row = conn.execute(select(SHARES).where(SHARES.c.id == share_id)).first()
        return None if row is None else _link(row)

    def shares_of(self, open_id: str, video_id: str, *, made_by: str | None = None) -> list[ShareLink]:
        """The live links to one transcript, oldest first; only those ``made_by`` made when given."""
        query = select(SHARES).where(SHARES.c.open_id == open_id, SHARES.c.video_id == video_id,
                                     SHARES.c.revoked_at.is_(None))
        if made_by is not None:
            query = query.where(SHARES.c.created_by == made_by)
        with self._read() as conn:
            return [_link(row) for row in conn.execute(query.order_by(SHARES.c.id))]

    def revoke_share(self, share_id: int, *, by: str, owner: bool = False) -> bool:
        """Revoke a live link when ``by`` made it or is the owner; False when nothing was revoked."""
        rules = [SHARES.c.id == share_id, SHARES.c.revoked_at.is_(None)]
        if not owner:
            rules.append(SHARES.c.created_by == by)
        with self._write() as conn:
            done = conn.execute(update(SHARES).where(*rules).values(revoked_at=self.clock())).rowcount
        return bool(done)

    def revoke_shares_of(self, open_id: str, video_id: str) -> int:
        """Revoke every live link to one transcript (it was deleted); how many."""
        with self._write() as conn:
            return conn.execute(update(SHARES).where(SHARES.c.open_id == open_id, SHARES.c.video_id == video_id,
                                                     SHARES.c.revoked_at.is_(None))
                                .values(revoked_at=self.clock())).rowcount
