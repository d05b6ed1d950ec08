"""The post queue in PostgreSQL: entries, their records and their claims, with the file queue's interface.

- Entries (``tiktok_posts``) are manifest entries as JSON in queue order, keyed by their content
  (:func:`~tiktok.posting.results.entry_key`); reading them goes through the manifest's own validator, so a run sees
  the same ``ManifestResult`` as from a file. Video paths are absolute: every worker must see the file at that path.
- Records (``tiktok_post_records``) are :class:`~tiktok.posting.results.PostRecord` as JSON, the upload URL sealed
  with ``TOKENS_KEY`` like the results file's.
- Claims hold a *session advisory lock* per entry on a connection of their own for as long as the entry is posted.
  The server releases it the moment that connection ends, so a killed worker's claim is dead at once, on any
  machine: the next worker takes it over and resumes the post from its record (never a second init for an upload in
  flight). The ``tiktok_post_claims`` row only says who holds it (pid, host, since when), for messages and pages.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from tiktok.db.connection import connect, describe, transaction
from tiktok.posting.manifest import ManifestResult, validate_manifest
from tiktok.posting.queue import QueueError
from tiktok.posting.results import FAILED, PENDING_INIT, Claim, PostRecord, ResultsFileError, entry_key
from tiktok.sealing import cipher_for, is_sealed

LOCK_SQL = "hashtextextended('tiktok-post:' || %s, 0)"


class PgResultsStore:
    """:class:`~tiktok.posting.results.ResultsStore`'s interface over ``tiktok_post_records`` and advisory locks."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, key: str | None = None,
                 pid: int | None = None, host: str | None = None) -> None:
        self.url = url
        self.path = describe(url)
        self.clock = clock
        self._cipher = cipher_for(key)
        self.pid = os.getpid() if pid is None else pid
        self.host = socket.gethostname() if host is None else host
        self._held: dict[str, Any] = {}  # key -> the connection holding its advisory lock
        self._held_lock = threading.Lock()

    # -- records ---------------------------------------------------------------------------------------------------

    def load(self) -> dict[str, PostRecord]:
        with transaction(self.url) as conn:
            rows = conn.execute("SELECT key, record FROM tiktok_post_records").fetchall()
        return {key: self._record(key, data) for key, data in rows}

    def get(self, key: str) -> PostRecord | None:
        with transaction(self.url) as conn:
            row = conn.execute("SELECT record FROM tiktok_post_records WHERE key = %s", (key,)).fetchone()
        return None if row is None else self._record(key, row[0])

    def exists_but_empty(self) -> bool:
        return False  # an emptied results *file* hides earlier posts; rows cannot vanish that way

    def save(self, record: PostRecord, **changes: Any) -> PostRecord:
        updated = replace(record, **changes, updated_at=self.clock())
        with transaction(self.url) as conn:
            self._upsert(conn, updated)
        return updated

    def put(self, record: PostRecord) -> None:
        """Store ``record`` exactly as given (its own updated_at): the import of a results file."""
        with transaction(self.url) as conn:
            self._upsert(conn, record)

    def request_retry(self, key: str) -> bool:
        with transaction(self.url) as conn:
            row = conn.execute("SELECT record FROM tiktok_post_records WHERE key = %s FOR UPDATE", (key,)).fetchone()
            if row is None:
                return False
            record = self._record(key, row[0])
            if record.state not in (FAILED, PENDING_INIT) or record.retry_requested or self._live(conn, key):
                return False
            self._upsert(conn, replace(record, retry_requested=True, updated_at=self.clock()))
            return True

    # -- claims ----------------------------------------------------------------------------------------------------

    def claim(self, key: str) -> tuple[Claim | None, Claim | None]:
        """Take ``key``'s advisory lock on a connection of its own. ``(holder, None)`` when another session holds
        it (nothing changed); ``(None, dead)`` when it is ours now, ``dead`` being a killed holder's leftover row."""
        with self._held_lock:
            if key in self._held:
                return None, None
        conn = connect(self.url, autocommit=True)
        try:
            got = conn.execute(f"SELECT pg_try_advisory_lock({LOCK_SQL})", (key,)).fetchone()[0]
            row = conn.execute("SELECT pid, host, started_at FROM tiktok_post_claims WHERE key = %s",
                               (key,)).fetchone()
            previous = Claim(*row) if row else None
            if not got:
                conn.close()
                return previous or Claim(pid=0, host="another worker", started_at=self.clock()), None
            conn.execute(f"INSERT INTO tiktok_post_claims (key, lock_id, pid, host, started_at) VALUES "
                         f"(%s, {LOCK_SQL}, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET pid = EXCLUDED.pid, "
                         "host = EXCLUDED.host, started_at = EXCLUDED.started_at",
                         (key, key, self.pid, self.host, self.clock()))
        except Exception:
            conn.close()
            raise
        with self._held_lock:
            self._held[key] = conn
        return None, previous

    def release(self, key: str) -> None:
        with self._held_lock:
            conn = self._held.pop(key, None)
        if conn is None:
            return
        try:
            conn.execute("DELETE FROM tiktok_post_claims WHERE key = %s AND pid = %s AND host = %s",
                         (key, self.pid, self.host))
            conn.execute(f"SELECT pg_advisory_unlock({LOCK_SQL})", (key,))
        finally:
            conn.close()

    def claims(self) -> dict[str, Claim]:
        """The live claims: rows whose advisory lock some session holds now."""
        with transaction(self.url) as conn:
            rows = conn.execute("SELECT c.key, c.pid, c.host, c.started_at FROM tiktok_post_claims c WHERE EXISTS ("
                                "SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND "
                                "((l.classid::bigint << 32) | l.objid::bigint) = c.lock_id)").fetchall()
        return {key: Claim(pid, host, started_at) for key, pid, host, started_at in rows}

    def _live(self, conn, key: str) -> bool:
        return conn.execute(f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                            f"((classid::bigint << 32) | objid::bigint) = {LOCK_SQL})", (key,)).fetchone()[0]

    # -- rows ------------------------------------------------------------------------------------------------------

    def _upsert(self, conn, record: PostRecord) -> None:
        data = record.to_json()
        if self._cipher is not None and data.get("upload_url") is not None:
            data["upload_url"] = self._cipher.seal(record.key, "upload_url", data["upload_url"])
        conn.execute("INSERT INTO tiktok_post_records (key, record) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                     "SET record = EXCLUDED.record, updated_at = now()", (record.key, json.dumps(data)))

    def _record(self, key: str, data: dict[str, Any]) -> PostRecord:
        value = {**data, "post_ids": tuple(data.get("post_ids") or ())}
        url = value.get("upload_url")
        if is_sealed(url):
            if self._cipher is None:
                raise ResultsFileError(self.path, "holds encrypted upload URLs but TOKENS_KEY is not set: set it to "
                                                  "the key they were written with; nothing was changed")
            value["upload_url"] = self._cipher.open(key, "upload_url", url, owner="record",
                                                    fail=lambda why: ResultsFileError(self.path, why))
        try:
            return PostRecord(**value)
        except TypeError:
            raise ResultsFileError(self.path, f"record {key} is not one this tool wrote") from None


class PgQueue:
    """The queue's entries in PostgreSQL: read as a manifest, changed one entry at a time (the editor)."""

    def __init__(self, url: str, *, allow_loopback: bool = False, key: str | None = None) -> None:
        self.url = url
        self.where = describe(url)
        self.allow_loopback = allow_loopback
        self.key = key

    def read(self) -> ManifestResult:
        with transaction(self.url) as conn:
            rows = conn.execute("SELECT entry FROM tiktok_posts ORDER BY position").fetchall()
        return validate_manifest([row[0] for row in rows], source=self.where, allow_loopback=self.allow_loopback)

    def contains(self, key: str) -> bool:
        """Whether the entry with this key is still queued (one row looked up, not the whole queue read)."""
        with transaction(self.url) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM tiktok_posts WHERE key = %s)", (key,)).fetchone()[0]

    def results(self, clock: Callable[[], float] = time.time) -> PgResultsStore:
        return PgResultsStore(self.url, key=self.key, clock=clock)

    def editor(self) -> "PgQueue":
        return self

    def add(self, entry: dict[str, Any]) -> str:
        key, user_id, post_at = self._checked(entry)
        with transaction(self.url) as conn:
            inserted = conn.execute("INSERT INTO tiktok_posts (key, entry, user_id, post_at) VALUES (%s, %s, %s, %s) "
                                    "ON CONFLICT (key) DO NOTHING", (key, json.dumps(entry), user_id, post_at))
            if inserted.rowcount == 0:
                raise QueueError(self.where, "already holds this entry (every field alike); nothing was added")
        return key

    def update(self, key: str, changes: dict[str, Any]) -> str:
        with transaction(self.url) as conn:
            row = conn.execute("SELECT entry FROM tiktok_posts WHERE key = %s FOR UPDATE", (key,)).fetchone()
            if row is None:
                raise QueueError(self.where, "has no such entry any more (it was changed or removed meanwhile); "
                                             "nothing was changed")
            entry = {name: value for name, value in row[0].items() if name not in changes}
            entry.update({name: value for name, value in changes.items() if value is not None})
            new_key, user_id, post_at = self._checked(entry)
            conn.execute("UPDATE tiktok_posts SET key = %s, entry = %s, user_id = %s, post_at = %s WHERE key = %s",
                         (new_key, json.dumps(entry), user_id, post_at, key))
        return new_key

    def remove(self, key: str) -> None:
        with transaction(self.url) as conn:
            if conn.execute("DELETE FROM tiktok_posts WHERE key = %s", (key,)).rowcount == 0:
                raise QueueError(self.where, "has no such entry any more; nothing was changed")

    def _checked(self, entry: dict[str, Any]) -> tuple[str, str, datetime | None]:
        """(key, user_id, post_at) of a valid entry; QueueError with the validator's words otherwise."""
        result = validate_manifest([entry], source=self.where, allow_loopback=self.allow_loopback)
        if result.problems:
            raise QueueError(self.where, "would get an invalid entry: " + "; ".join(p.message for p in
                                                                                   result.problems)
                             + "; nothing was changed")
        parsed = result.entries[0]
        if parsed.video_path is not None and not parsed.video_path.is_absolute():
            raise QueueError(self.where, f'field "video_path": {parsed.video_path} must be an absolute path in the '
                                         "database queue (every worker reads the file at that path)")
        post_at = datetime.fromisoformat(parsed.post_at.replace("Z", "+00:00")) if parsed.post_at else None
        return entry_key(parsed), parsed.user_id, post_at

