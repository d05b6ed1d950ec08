"""The store in PostgreSQL (``DATABASE_URL``): the same schema and queries as SQLite, for workers on many machines.

- Connections: a small SQLAlchemy pool over psycopg 3, each connection checked when taken (a restarted server's
  dropped connections are replaced instead of failing a transaction). The stores open on one database in a process
  share it; the last one closed closes its connections. A server that cannot be reached is
  :class:`~tiktok.errors.StoreUnavailable` (exit 4, try later), named without its password.
- Schema: ``python -m tiktok db migrate`` (:func:`migrate`) creates and upgrades it, under an advisory lock, and moves
  the rows of the earlier queue tables (``tiktok_posts``, ``tiktok_post_records``) in, keys and records unchanged.
- Claims, and the account locks of workers: *leases in rows* with a fencing token (:mod:`tiktok.store.leases`),
  renewed by the holder, taken over once they lapse, and checked in the database before every write of a claimed
  post and right before every call that could create one (:meth:`PostgresStore.check_claim`). Unlike the session
  advisory locks of earlier versions, they survive a dropped connection (a restart, ``idle_session_timeout``) and do
  not outlive a hung holder by hours.
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

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tiktok.db.connection import check_url, connect, describe, refused_login, store_engine
from tiktok.errors import StoreError, StoreUnavailable
from tiktok.store import schema
from tiktok.store.leases import Leases, account_name, keeper_for, post_name
from tiktok.store.model import ClaimResult, Post, dumps, lifecycle
from tiktok.store.records import Claim, PostRecord
from tiktok.store.sql import SqlStore

IMPORT_LOCK = 0x74696B696D70  # any constant shared by every importing process
MIGRATE_LOCK = 0x74696B73746F  # the store's migrations, one process at a time
_engines: dict[str, list] = {}  # url -> [engine, how many users hold it]
_engines_lock = threading.Lock()


def take_engine(url: str):
    """This process's SQLAlchemy engine for ``url`` (one pool per URL, shared by every store open on it); each call
    must be matched by :func:`drop_engine`, and the last one closes the pool's connections."""
    check_url(url)
    with _engines_lock:
        held = _engines.get(url)
        if held is None:  # its pool's share of DATABASE_POOL_SIZE: tiktok.db.connection
            held = _engines[url] = [store_engine(url), 0]
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
        self._held: dict[int, str] = {}  # post id -> the name of its lease (tiktok.store.leases)
        self._held_lock = threading.Lock()
        self.leases = Leases(self._write, keeper_for(url, lambda: connect(url, autocommit=True)))

    def _translate(self, exc: SQLAlchemyError) -> StoreError:
        return translate(self.url, exc)

    def _serialize_imports(self, conn) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": IMPORT_LOCK})

    # -- claims: leases in rows (tiktok.store.leases) -----------------------------------------------------------------

    def claim(self, post: Post) -> ClaimResult:
        """Take ``post``'s lease. ClaimLost first when this store took the post's account (a worker) and lost it."""
        self.check_account(post.user_id)
        name = post_name(post.key)
        taken = self.leases.take(name, pid=self.pid, host=self.host)
        if taken.fence is None:
            if taken.earlier:
                row = self._holder_row(post.id)  # an earlier version names its holder in the claims table
                return ClaimResult(holder=Claim(row.pid, row.host, row.started_at) if row is not None else
                                   Claim(pid=0, host="a run of an earlier version", started_at=self.clock()))
            return ClaimResult(holder=taken.holder)
        with self._held_lock:
            self._held[post.id] = name
        return ClaimResult(taken_over=taken.taken_over)

    def release(self, post: Post) -> None:
        """Let go of the claim. Never raises: a lease that cannot be deleted now lapses by itself."""
        with self._held_lock:
            name = self._held.pop(post.id, None)
        if name is not None:
            self.leases.release(name)

    def check_claim(self, post: Post) -> None:
        """Right before a call that could create ``post``: its lease (and its account's, when this store took it)
        renewed now, checked in the database; ClaimLost when this run no longer holds it."""
        with self._held_lock:
            name = self._held.get(post.id)
        with self._write() as conn:
            self.leases.confirm(conn, name or post_name(post.key), post.label)
            account = account_name(post.user_id)
            if self.leases.holds(account):
                self.leases.confirm(conn, account, f"account {post.user_id}")

    def _fence(self, conn, post_id: int) -> None:
        """Every write of a post this store claimed checks first that its lease is still this run's."""
        with self._held_lock:
            name = self._held.get(post_id)
        if name is not None:
            self.leases.check(conn, name, f"post {post_id}")

    def live_claims(self, posts: Iterable[Post]) -> set[int]:
        """The posts whose lease is live now (or an earlier version's run holds)."""
        by_name = {post_name(post.key): post.id for post in posts}
        if not by_name:
            return set()
        with self._read() as conn:
            return {by_name[name] for name in self.leases.live(conn, by_name)}

    # -- accounts: a worker posts one account's queue at a time --------------------------------------------------------

    def take_account(self, open_id: str) -> ClaimResult:
        """Take account ``open_id``'s lease (a worker posting its queue); ``holder`` when another process has it.
        While it is held, every claim and every check before an init of this store checks it too."""
        taken = self.leases.take(account_name(open_id), pid=self.pid, host=self.host)
        if taken.fence is None:
            return ClaimResult(holder=taken.holder or Claim(pid=0, host="a worker of an earlier version",
                                                            started_at=self.clock()))
        return ClaimResult(taken_over=taken.taken_over)

    def check_account(self, open_id: str) -> None:
        """ClaimLost when this store took account ``open_id`` and its lease is no longer this store's."""
        name = account_name(open_id)
        if self.leases.holds(name):
            with self._write() as conn:
                self.leases.check(conn, name, f"account {open_id}")

    def release_account(self, open_id: str) -> None:
        self.leases.release(account_name(open_id))

    def close(self) -> None:
        with self._held_lock:
            self._held.clear()
            closed, self._closed = self._closed, True
        if not closed:
            self.leases.close()
            drop_engine(self.url)


def open_postgres(url: str, *, key: str | None = None, clock: Callable[[], float] | None = None) -> PostgresStore:
    """The store in ``url``; StoreError (run db migrate) when its schema is missing or older than this tool's. Its
    clock is the database server's (:mod:`tiktok.db.clock`: one clock for every machine's schedule) unless given."""
    from tiktok.db.clock import database_clock
    from tiktok.db.migrations import STORE, refusal

    store = PostgresStore(url, key=key, clock=clock or database_clock(url))
    try:
        with store._read() as conn:
            have = schema.current(conn)
    except BaseException:
        store.close()
        raise
    problem = refusal(url, STORE, have, schema.LATEST)  # behind, or ahead past this version (rolling upgrades)
    if problem:
        store.close()
        raise StoreError(problem)
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
    schema.link_every_post(conn)  # the media library's post_media for the posts moved in (migration 3)
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
