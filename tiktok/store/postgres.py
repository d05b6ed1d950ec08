"""The store in PostgreSQL (``DATABASE_URL``): the same schema and queries as SQLite, for workers on many machines.

- Connections: a small SQLAlchemy pool over psycopg 3, each connection checked when taken (a restarted server's
  dropped connections are replaced instead of failing a transaction). The stores open on one database in a process
  share it; the last one closed closes its connections. A server that cannot be reached is
  :class:`~tiktok.errors.StoreUnavailable` (exit 4, try later), named without its password.
- Schema: ``python -m tiktok db migrate`` (:func:`migrate`) creates and upgrades it, under an advisory lock, and moves
  the rows of the earlier queue tables (``tiktok_posts``, ``tiktok_post_records``) in, keys and records unchanged.
- Claims: a *session advisory lock* per post on a connection of its own, held while the post is worked on; the
  server drops it the moment that connection ends, so a killed worker's claim is dead at once on any machine. The
  ``claims`` row only says who holds it, for messages. (The lock's name is the one earlier versions used, so old
  and new workers exclude each other during an upgrade.)
- Imports run one at a time: a transaction-level advisory lock.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from tiktok.db.connection import check_url, connect, describe, refused_login
from tiktok.errors import DatabaseError, StoreError, StoreUnavailable
from tiktok.store import schema
from tiktok.store.model import ClaimResult, Post, dumps, lifecycle
from tiktok.store.records import Claim, PostRecord
from tiktok.store.sql import SqlStore

LOCK_SQL = "hashtextextended('tiktok-post:' || %s, 0)"
IMPORT_LOCK = 0x74696B696D70  # any constant shared by every importing process
MIGRATE_LOCK = 0x74696B73746F  # the store's migrations, one process at a time
POOL_SIZE = 5
CONNECT_TIMEOUT_S = 10
_engines: dict[str, list] = {}  # url -> [engine, how many users hold it]
_engines_lock = threading.Lock()


def take_engine(url: str):
    """This process's SQLAlchemy engine for ``url`` (one pool per URL, shared by every store open on it); each call
    must be matched by :func:`drop_engine`, and the last one closes the pool's connections."""
    check_url(url)
    with _engines_lock:
        held = _engines.get(url)
        if held is None:
            dsn = "postgresql+psycopg://" + url.split("://", 1)[1]
            engine = create_engine(dsn, pool_size=POOL_SIZE, max_overflow=10, pool_pre_ping=True,
                                   connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, hide_parameters=True)
            held = _engines[url] = [engine, 0]
        held[1] += 1
        return held[0]


def drop_engine(url: str) -> None:
    with _engines_lock:
        held = _engines.get(url)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _engines[url]
            held[0].dispose()  # a process that opens stores on many databases (tests) keeps no idle connections


@contextmanager
def engine_for(url: str) -> Iterator[Any]:
    """The engine for one task (a migration, a version check), let go after it."""
    engine = take_engine(url)
    try:
        yield engine
    finally:
        drop_engine(url)


def translate(url: str, exc: BaseException) -> StoreError:
    """A database failure in a person's words, naming the database without its password."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    import psycopg

    refused = refused_login(url, cause) if isinstance(cause, psycopg.OperationalError) else None
    if refused:  # a wrong password is not mended by waiting: exit 2, not 4
        return StoreError(refused)
    if isinstance(cause, psycopg.OperationalError) or getattr(exc, "connection_invalidated", False):
        return StoreUnavailable(f"{describe(url)} cannot be reached or went away ({first}); nothing was changed: "
                                "try again later")
    if isinstance(cause, psycopg.errors.UndefinedTable):
        return StoreError(f"{describe(url)} has no post store yet: run python -m tiktok db migrate")
    return StoreError(f"{describe(url)}: {first}; nothing was changed")


class PostgresStore(SqlStore):
    """:class:`~tiktok.store.base.PostStore` in PostgreSQL."""

    def __init__(self, url: str, *, key: str | None = None, clock: Callable[[], float] = time.time) -> None:
        engine = take_engine(url)
        try:
            super().__init__(engine, where=describe(url), key=key, clock=clock)
        except BaseException:  # a TOKENS_KEY that is not a key
            drop_engine(url)
            raise
        self.url = url
        self._closed = False
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._held: dict[int, tuple[str, Any]] = {}  # post id -> (its key, the connection holding its lock)
        self._held_lock = threading.Lock()

    def _translate(self, exc: SQLAlchemyError) -> StoreError:
        return translate(self.url, exc)

    def _serialize_imports(self, conn) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": IMPORT_LOCK})

    def claim(self, post: Post) -> ClaimResult:
        """Take ``post``'s advisory lock on a connection of its own, and say so in the claims row."""
        try:
            conn = connect(self.url, autocommit=True)
        except DatabaseError as exc:
            raise StoreUnavailable(str(exc)) from None
        try:
            got = conn.execute(f"SELECT pg_try_advisory_lock({LOCK_SQL})", (post.key,)).fetchone()[0]
            if not got:
                conn.close()
                row = self._holder_row(post.id)
                holder = Claim(row.pid, row.host, row.started_at) if row is not None else \
                    Claim(pid=0, host="another worker", started_at=self.clock())
                return ClaimResult(holder=holder)
            with self._write() as db:
                previous = self._claim_row(db, post.id, self.pid, self.host)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and type(exc).__module__.startswith("psycopg"):
                raise translate(self.url, exc) from None
            raise
        with self._held_lock:
            self._held[post.id] = (post.key, conn)
        taken = Claim(previous.pid, previous.host, previous.started_at) if previous is not None else None
        return ClaimResult(taken_over=taken)

    def release(self, post: Post) -> None:
        """Let go of the claim; the lock goes with its connection even when the row cannot be written."""
        with self._held_lock:
            key, conn = self._held.pop(post.id, (None, None))
        if conn is None:
            return
        try:
            self._drop_claim_row(post.id, self.pid, self.host)
        except StoreError:
            pass  # the row is only a name; closing the connection below ends the claim itself
        finally:
            _unlock_and_close(conn, key)

    def live_claims(self, posts: Iterable[Post]) -> set[int]:
        """The posts whose advisory lock some session holds now."""
        posts = list(posts)
        if not posts:
            return set()
        by_key = {post.key: post.id for post in posts}
        # pg_locks lists every database of the server: only this database's locks are claims of this store
        query = text("SELECT k FROM unnest(CAST(:keys AS text[])) AS k WHERE EXISTS (SELECT 1 FROM pg_locks l "
                     "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()) AND ((l.classid::bigint << 32) | l.objid::bigint) "
                     "= hashtextextended('tiktok-post:' || k, 0))")
        with self._read() as conn:
            return {by_key[key] for (key,) in conn.execute(query, {"keys": list(by_key)})}

    def close(self) -> None:
        with self._held_lock:
            held = list(self._held.values())
            self._held.clear()
            closed, self._closed = self._closed, True
        for key, conn in held:
            _unlock_and_close(conn, key)
        if not closed:
            drop_engine(self.url)


def _unlock_and_close(conn, key: str) -> None:
    """End a claim now: the server drops a closed session's locks only once its backend has exited, a moment
    after close() returns, and another run looking in that moment would take the post for held."""
    try:
        conn.execute(f"SELECT pg_advisory_unlock({LOCK_SQL})", (key,))
    except Exception:  # noqa: BLE001 - a connection already gone holds nothing
        pass
    finally:
        conn.close()


def open_postgres(url: str, *, key: str | None = None, clock: Callable[[], float] = time.time) -> PostgresStore:
    """The store in ``url``; StoreError (run db migrate) when its schema is missing or older than this tool's."""
    store = PostgresStore(url, key=key, clock=clock)
    try:
        with store._read() as conn:
            have = schema.current(conn)
    except BaseException:
        store.close()
        raise
    if have != schema.LATEST:
        store.close()
        raise StoreError(f"{describe(url)} has post store version {have}, this tool needs {schema.LATEST}: run "
                         "python -m tiktok db migrate")
    return store


def store_version(url: str) -> int:
    """The newest store migration applied in ``url`` (0 before the first ``db migrate``)."""
    try:
        with engine_for(url) as engine, engine.connect() as conn:
            return schema.current(conn)
    except SQLAlchemyError as exc:
        raise translate(url, exc) from None


def migrate(url: str, *, clock: Callable[[], float] = time.time) -> list[schema.Migration]:
    """Create or upgrade the store's tables (one process at a time); on creation, move in the rows of the earlier
    queue tables. Returns the migrations applied now."""
    try:
        with engine_for(url) as engine, engine.connect() as conn:
            with conn.begin():
                conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATE_LOCK})
                applied = schema.upgrade(conn, now=clock())
                if applied and applied[0].version == 1:
                    _move_earlier_queue(conn, clock())
            return applied
    except ValueError as exc:
        raise StoreError(f"{describe(url)} {exc}") from None
    except SQLAlchemyError as exc:
        raise translate(url, exc) from None


def _move_earlier_queue(conn, now: float) -> None:
    """Rows of the first database queue (migration 1's tiktok_posts and tiktok_post_records), with their keys."""
    if not conn.dialect.has_table(conn, "tiktok_posts"):
        return
    posts = schema.posts
    records = {key: record for key, record in conn.execute(text("SELECT key, record FROM tiktok_post_records"))}
    change = 0
    for key, entry, user_id, added, due_at in conn.execute(text(
            "SELECT key, entry, user_id, extract(epoch FROM added_at), extract(epoch FROM post_at) FROM tiktok_posts "
            "ORDER BY position")).all():
        data = records.pop(key, None)
        record = _earlier_record(key, data) if data is not None else None
        change += 1
        conn.execute(posts.insert().values(
            key=key, user_id=user_id, entry=dumps(entry), origin="app", check_caption=False, revision=1,
            due_at=float(due_at) if due_at is not None else None, change=change, created_at=float(added),
            updated_at=now, record=json.dumps(data) if data is not None else None, **_columns(record)))
    for key, data in records.items():  # records whose entry was removed: history, never posted again
        record = _earlier_record(key, data)
        change += 1
        conn.execute(posts.insert().values(
            key=key, user_id=record.user_id, entry=None, origin="earlier", check_caption=False, revision=1,
            change=change, created_at=record.updated_at or now, updated_at=record.updated_at or now,
            record=json.dumps(data), **_columns(record, history=True)))
    conn.execute(schema.counters.update().values(value=change))


def _earlier_record(key: str, data: Any) -> PostRecord:
    try:
        return PostRecord.from_json(data)
    except (TypeError, ValueError, AttributeError):
        raise ValueError(f"cannot move the earlier queue in: the record of key {key} in tiktok_post_records is not "
                         "one this tool wrote (nothing was changed)") from None


def _columns(record: PostRecord | None, *, history: bool = False) -> dict[str, Any]:
    life = lifecycle(record, history=history)
    return {"state": life.state, "board": life.board, "open": life.open, "follow_until": life.follow_until}
