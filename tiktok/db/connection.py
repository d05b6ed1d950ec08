"""Connections to the database named by ``DATABASE_URL``, how many one process opens, and how the database is named
in messages (never its password).

**The budget.** A process opens at most ``DATABASE_POOL_SIZE`` connections (:func:`size_pools`, :class:`Budget`;
default 6, so 8 workers and the app hold 54 of a default server's 100), in three pools: Procrastinate's (the
worker's job queue, :func:`queue_pool_options`; the app's hand-overs, :func:`pool_for`), the post store's
(:func:`store_engine`, SQLAlchemy) and the accounts' (:func:`transaction`: the tokens, the shared request limiter
and other short reads). A thread that finds a pool busy waits for a connection (at most ``POOL_WAIT_S``). Beside
the pools only short-lived connections are opened (:func:`connect`: a migration's session lock, a pool's first
check, a look at the server's clock). Each connection carries ``application_name`` ``tiktok <host>:<pid>``, with
`` one-off`` after it for those of :func:`connect`, so ``pg_stat_activity`` tells which process holds what.

**Failures.** Connection failures become :class:`~tiktok.errors.DatabaseUnavailable` (transient: the next run may find
the server back), except a server that refuses the login (a wrong or missing password, an unknown user or database:
:func:`refused_login`), which waiting never mends: that is a :class:`~tiktok.errors.DatabaseError` (exit 2).
Everything else the server refuses becomes a DatabaseError with the server's own words.

**The URL** is read once, as libpq reads it (:mod:`tiktok.dburl`): every connection is made by psycopg from the URL
itself (SQLAlchemy gets its connections through ``creator``, so its own URL parser, which reads a ``#`` or ``/`` in
a password differently, never sees it), and a URL that would be misread is a ConfigError that quotes none of it.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from tiktok.config import DEFAULT_DATABASE_POOL_SIZE, StoreSettings
from tiktok.dburl import parse_database_url
from tiktok.errors import ConfigError, DatabaseError, DatabaseUnavailable

QUEUE_CONNECTIONS = 2  # Procrastinate's share: fetching jobs, heartbeats and finishing jobs; the dispatcher's defers
CONNECT_TIMEOUT_S = 10
POOL_WAIT_S = 60  # a thread waits this long for a busy pool (a token refresh holds one while TikTok answers)
# What libpq says when the server turned the login down (PostgreSQL's English messages; SQLSTATE 28P01, 28000 and
# 3D000, which psycopg does not carry for a failed connection).
_REFUSED = re.compile(r'password authentication failed|no password supplied|no pg_hba\.conf entry|'
                      r'role "[^"]*" does not exist|database "[^"]*" does not exist|authentication failed for user')
_budgets: dict[str, "Budget"] = {}  # url -> this process's budget, set before the pools are made
_pools: dict[tuple[str, str], Any] = {}  # (url, "accounts" | "queue") -> psycopg_pool.ConnectionPool
_lock = threading.Lock()


@dataclass(frozen=True)
class Budget:
    """How ``total`` connections (DATABASE_POOL_SIZE) are shared in one process: QUEUE_CONNECTIONS for Procrastinate,
    the rest halved between the accounts' pool and the post store's (the store gets the odd one)."""

    total: int = DEFAULT_DATABASE_POOL_SIZE

    def __post_init__(self) -> None:
        if self.total < 4:
            raise ValueError(f"a budget of {self.total} connections leaves a pool without any (at least 4)")

    @property
    def queue(self) -> int:
        return QUEUE_CONNECTIONS

    @property
    def accounts(self) -> int:
        return (self.total - self.queue) // 2

    @property
    def store(self) -> int:
        return self.total - self.queue - self.accounts


def describe(url: str) -> str:
    """``PostgreSQL database "tiktok" on db.example:5432``: the URL without user or password."""
    try:
        return parse_database_url(url).describe()
    except ConfigError:
        return "the PostgreSQL database of DATABASE_URL"


def check_url(url: str) -> str:
    """``url`` if libpq and urllib read it alike; ConfigError naming the problem (and none of the URL) otherwise."""
    parse_database_url(url)
    return url


def application_name(*, pooled: bool = True) -> str:
    """``tiktok <host>:<pid>`` (a connection of the pools) or ``tiktok <host>:<pid> one-off`` (:func:`connect`):
    which process a connection belongs to, and whether the budget counts it, in ``pg_stat_activity``."""
    name = f"tiktok {socket.gethostname()}:{os.getpid()}"[:54]
    return name if pooled else f"{name} one-off"  # at most 63 characters: NAMEDATALEN - 1


def _connect_kwargs(*, pooled: bool = True) -> dict[str, Any]:
    return {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": application_name(pooled=pooled)}


# -- the budget ----------------------------------------------------------------------------------------------------

def size_pools(store: StoreSettings) -> None:
    """Let this process open at most DATABASE_POOL_SIZE connections to DATABASE_URL; pools made afterwards are sized
    from it (one made before keeps its size, so whoever holds the settings calls this before opening anything:
    tiktok.store.base, the worker)."""
    if store.database_url:
        sized = Budget(store.database_pool_size)
        with _lock:
            _budgets[store.database_url] = sized


def budget(url: str) -> Budget:
    """This process's budget for ``url`` (the default until :func:`size_pools`)."""
    return _budgets.get(url) or Budget()


def queue_pool_options(url: str) -> dict[str, Any]:
    """Keyword arguments of ``procrastinate.PsycopgConnector`` (its pool is psycopg_pool's): Procrastinate's share."""
    return {"conninfo": check_url(url), "min_size": 1, "max_size": budget(url).queue, "kwargs": _connect_kwargs(),
            "name": "procrastinate", "timeout": POOL_WAIT_S}


# -- connections ---------------------------------------------------------------------------------------------------

def connect(url: str, *, autocommit: bool = False):
    """A new connection of its own, outside the pools (a migration's session lock, a one-off look)."""
    import psycopg

    try:
        return psycopg.connect(check_url(url), autocommit=autocommit, **_connect_kwargs(pooled=False))
    except psycopg.OperationalError as exc:
        raise _connect_error(url, exc) from None


def store_engine(url: str):
    """A new SQLAlchemy engine for the post store (its caller keeps one per URL): ``budget(url).store`` connections,
    none beyond; each is checked when taken, so one a restarted server dropped is replaced instead of failing the
    caller's transaction."""
    import psycopg
    from sqlalchemy import create_engine

    check_url(url)
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(url, **_connect_kwargs()),
                         pool_size=budget(url).store, max_overflow=0, pool_timeout=POOL_WAIT_S, pool_pre_ping=True,
                         hide_parameters=True)


def pool_for(url: str):
    """This process's psycopg pool for Procrastinate used without a worker (the app handing posts over):
    Procrastinate's share of the budget, made on first use."""
    return _pool(url, "queue")


def _pool(url: str, kind: str):
    with _lock:
        pool = _pools.get((url, kind))
        if pool is None:
            from psycopg_pool import ConnectionPool

            connect(url).close()  # fails at once, with the server's reason, when nothing answers (a pool would wait)
            # check=: each connection is tested when taken, so one the server dropped (a restart) is replaced
            # instead of failing the caller's transaction.
            pool = ConnectionPool(check_url(url), min_size=1, max_size=getattr(budget(url), kind), open=False,
                                  kwargs=_connect_kwargs(), name=f"tiktok-{kind}", timeout=POOL_WAIT_S,
                                  check=ConnectionPool.check_connection)
            try:
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            except Exception as exc:  # PoolTimeout or OperationalError: the server is not there
                pool.close()
                raise DatabaseUnavailable(f"{describe(url)} cannot be reached ({_first_line(exc)})") from None
            _pools[(url, kind)] = pool
        return pool


def close_pools(url: str) -> None:
    """Close this process's pools for ``url`` (each keeps a connection open until closed): a process that is done
    with a database, such as a test that served an app on a throwaway one."""
    with _lock:
        pools = [_pools.pop(key) for key in [k for k in _pools if k[0] == url]]
    for pool in pools:
        pool.close()


@contextmanager
def transaction(url: str) -> Iterator[Any]:
    """A connection of the accounts' pool inside one transaction: committed when the block ends, rolled back on an
    exception."""
    import psycopg
    from psycopg_pool import PoolTimeout

    pool = _pool(url, "accounts")
    try:
        with pool.connection() as conn:
            with conn.transaction():
                yield conn
    except PoolTimeout:
        raise DatabaseUnavailable(f"{describe(url)}: every connection of this process's pool stayed busy for "
                                  f"{POOL_WAIT_S} s; raise DATABASE_POOL_SIZE if this happens often") from None
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"{describe(url)} went away ({_first_line(exc)})") from None
    except psycopg.errors.UndefinedTable:
        raise DatabaseError(f"{describe(url)} has no tables for this tool yet: run python -m tiktok db migrate") \
            from None


def refused_login(url: str, exc: BaseException) -> str | None:
    """A sentence for a connection failure that is the server turning the login down (wrong or missing password,
    unknown user or database), naming the database but never the password; None for any other failure."""
    pgconn = getattr(exc, "pgconn", None)  # never shown: its repr holds the password
    text = str(exc)
    match = _REFUSED.search(text)
    if match is None and not getattr(pgconn, "needs_password", False):
        return None
    said = match.group(0) if match else "no password supplied"
    return (f"{describe(url)} refused the login ({said}): check the user name, password and database name in "
            "DATABASE_URL; trying again will not help")


def _connect_error(url: str, exc: BaseException) -> DatabaseError:
    refused = refused_login(url, exc)
    if refused:
        return DatabaseError(refused)
    return DatabaseUnavailable(f"{describe(url)} cannot be reached ({_first_line(exc)})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
