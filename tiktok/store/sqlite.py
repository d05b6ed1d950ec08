"""The embedded store: one SQLite file (``STORE_FILE``, default ``tiktok.db`` beside the token file).

- Created on first use with mode 0600 (records can hold upload URLs), in WAL mode with ``synchronous=FULL``, so a
  commit that returned survives a power cut, readers never wait for writers, and a write waits its turn for up to
  ``BUSY_TIMEOUT_S``. Every write transaction starts with ``BEGIN IMMEDIATE`` (the write lock first), so two
  writers never deadlock halfway.
- Migrated on first use: :func:`tiktok.store.schema.upgrade` under the write lock, so two processes starting at
  once apply each migration once.
- Claims are ``flock`` locks on one file per post in ``<store>.claims/``, held as long as the claim: the kernel drops
  a killed run's lock with its process, so whether a claim is live never depends on a clock, a pid or a boot time.
  A released claim's file is removed while still locked; a claimant that opened it before checks, once it holds
  the lock, that the file it locked is still the one at that path, and tries again if not. Two claimants in one
  process (the app's runner and its Posts page) exclude each other too: flock belongs to the open file.
- Errors name the file and say what to do: a full disk, a read-only folder, a damaged or locked file stop the
  command with exit 2 (the app answers 503) and leave the file as it was. No message ever advises deleting it:
  the store is what keeps posts from being made twice.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from tiktok.errors import StoreError
from tiktok.store import schema
from tiktok.store.model import ClaimResult, Post
from tiktok.store.records import Claim
from tiktok.store.sql import SqlStore

BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another's short transaction before the store says "locked"
FILE_MODE = 0o600
RECOVER = ("restore it from a backup, or move it back if it was moved; keep the file itself: it is every post's "
           "history, and without it the tool cannot tell which posts were already made")


class SqliteStore(SqlStore):
    """:class:`~tiktok.store.base.PostStore` in one SQLite file."""

    def __init__(self, path: Path, *, key: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        super().__init__(_engine(self.path), where=str(self.path.absolute()), key=key, clock=clock)
        self.claims_dir = self.path.with_name(self.path.name + ".claims")
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._held: dict[int, int] = {}  # post id -> the open, locked file descriptor of its claim
        self._held_lock = threading.Lock()

    def _translate(self, exc: SQLAlchemyError) -> StoreError:
        return translate(self.path, exc)

    # -- claims ----------------------------------------------------------------------------------------------------

    def claim(self, post: Post) -> ClaimResult:
        fd = self._lock(post.id)
        if fd is None:
            row = self._holder_row(post.id)
            holder = Claim(row.pid, row.host, row.started_at) if row is not None else \
                Claim(pid=0, host="another run", started_at=self.clock())
            return ClaimResult(holder=holder)
        try:
            with self._write() as conn:
                previous = self._claim_row(conn, post.id, self.pid, self.host)
        except BaseException:
            self._unlock(post.id, fd)
            raise
        with self._held_lock:
            self._held[post.id] = fd
        taken = Claim(previous.pid, previous.host, previous.started_at) if previous is not None else None
        return ClaimResult(taken_over=taken)

    def release(self, post: Post) -> None:
        """Let go of the claim. The lock goes even when the store cannot be written (a full disk as a post
        ends): a claim nobody can clear never stays behind; the row naming its holder is then only stale."""
        with self._held_lock:
            fd = self._held.pop(post.id, None)
        if fd is None:
            return
        try:
            self._drop_claim_row(post.id, self.pid, self.host)
        finally:
            self._unlock(post.id, fd)

    def live_claims(self, posts: Iterable[Post]) -> set[int]:
        """The posts some run holds right now (a shared lock is tried on each: a held claim refuses it)."""
        live = set()
        for post in posts:
            path = self._lock_path(post.id)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"{path}: cannot be read ({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                live.add(post.id)
            finally:
                os.close(fd)
        return live

    def _lock_path(self, post_id: int) -> Path:
        return self.claims_dir / f"{post_id}.lock"

    def _lock(self, post_id: int) -> int | None:
        """An open descriptor holding post_id's claim lock, or None when another holder has it."""
        path = self._lock_path(post_id)
        while True:
            try:
                self.claims_dir.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            except OSError as exc:
                raise StoreError(f"{self.claims_dir}: cannot hold a claim there ({exc.strerror}); nothing was "
                                 "posted") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)  # a releaser removed that file after we opened it: lock the one there now

    def _unlock(self, post_id: int, fd: int) -> None:
        try:
            os.unlink(self._lock_path(post_id))
        except OSError:
            pass  # a read-only folder keeps the file; the lock still goes with the descriptor
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._held_lock:
            held = list(self._held.items())
            self._held.clear()
        for post_id, fd in held:
            self._unlock(post_id, fd)
        super().close()


def _engine(path: Path):
    engine = create_engine(f"sqlite:///{path}", poolclass=QueuePool, pool_size=4, max_overflow=16,
                           connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin() below says BEGIN, not the driver
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("tiktok_write") else "BEGIN")

    return engine


def translate(path: Path, exc: BaseException) -> StoreError:
    """A SQLite failure as a person's sentence naming the file (pure but for reading the error)."""
    cause = getattr(exc, "orig", exc)
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"{path}: is locked by another program for more than {BUSY_TIMEOUT_S:.0f} s (a backup "
                          "tool or a long transaction?); nothing was changed: try again once it is done")
    if "full" in lowered:
        return StoreError(f"{path}: the disk is full ({text}); nothing was changed: free some space in "
                          f"{path.parent} and run again")
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered or "permission" in lowered:
        return StoreError(f"{path}: cannot be written ({text}): check that {path.parent} exists and this user may "
                          "write to it and to the file; nothing was changed")
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StoreError(f"{path}: is damaged ({text}); nothing was changed: {RECOVER}")
    if isinstance(cause, sqlite3.Error) and "no such table" in lowered:
        return StoreError(f"{path}: is not a store this tool made ({text}); nothing was changed: {RECOVER}")
    return StoreError(f"{path}: cannot be used ({text}); nothing was changed")


def open_sqlite(path: Path, *, key: str | None = None, migrate: bool = True,
                clock: Callable[[], float] = time.time) -> SqliteStore:
    """The store in ``path``, created (mode 0600) and migrated when ``migrate``; StoreError naming the file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise StoreError(f"{path}: its folder {path.parent} does not exist; create it or set STORE_FILE")
    try:  # made only when missing (O_EXCL): never open and close an fd on a file this process may have open
        # already, as that drops the process's POSIX locks on it and lets another process delete the WAL under its
        # connections (sqlite.org "How To Corrupt", 2.2); an existing file on a read-only mount is still read
        if not path.exists():
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot be opened ({exc.strerror}): check that this user may write to "
                         f"{path.parent}; nothing was changed") from None
    store = SqliteStore(path, key=key, clock=clock)
    try:
        with store._guard():
            with store.engine.connect() as conn:
                conn.execution_options(tiktok_write=migrate)
                with conn.begin():
                    if migrate:
                        schema.upgrade(conn, now=clock())
                    elif schema.current(conn) != schema.LATEST:
                        raise StoreError(f"{path}: has store version {schema.current(conn)}, this tool needs "
                                         f"{schema.LATEST}")
    except ValueError as exc:
        store.close()
        raise StoreError(f"{path}: {exc}") from None
    except BaseException:
        store.close()
        raise
    return store
