"""Connections to the database named by ``DATABASE_URL``, and how it is named in messages (never its password).

One small pool per URL and process (psycopg_pool), so the app's threads, a worker's tasks and a posting run's
threads share a few connections. Connection failures become :class:`~tiktok.errors.DatabaseUnavailable` (transient:
the next run may find the server back), except a server that refuses the login (a wrong or missing password, an
unknown user or database: :func:`refused_login`), which waiting never mends: that is a
:class:`~tiktok.errors.DatabaseError` (exit 2). Everything else the server refuses becomes a DatabaseError with the
server's own words.
"""

from __future__ import annotations

import threading
import re
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import urlsplit

from tiktok.errors import DatabaseError, DatabaseUnavailable

POOL_MAX = 10
CONNECT_TIMEOUT_S = 10
# What libpq says when the server turned the login down (PostgreSQL's English messages; SQLSTATE 28P01, 28000 and
# 3D000, which psycopg does not carry for a failed connection).
_REFUSED = re.compile(r'password authentication failed|no password supplied|no pg_hba\.conf entry|'
                      r'role "[^"]*" does not exist|database "[^"]*" does not exist|authentication failed for user')
_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


def describe(url: str) -> str:
    """``PostgreSQL database "tiktok" on db.example:5432``: the URL without user or password."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "(default)"
    where = parts.hostname or "local socket"
    if parts.port:
        where += f":{parts.port}"
    return f'PostgreSQL database "{name}" on {where}'


def check_url(url: str) -> str:
    """``url`` if it looks like a PostgreSQL URL; DatabaseError naming the problem otherwise (pure)."""
    scheme = urlsplit(url).scheme
    if scheme not in ("postgresql", "postgres"):
        raise DatabaseError(f"DATABASE_URL must start with postgresql:// (got a {scheme or 'schemeless'} URL)")
    return url


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


def connect(url: str, *, autocommit: bool = False):
    """A new connection of its own (for locks held as long as the connection: claims, migrations)."""
    import psycopg

    try:
        return psycopg.connect(check_url(url), autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        refused = refused_login(url, exc)
        if refused:
            raise DatabaseError(refused) from None
        raise DatabaseUnavailable(f"{describe(url)} cannot be reached ({_first_line(exc)})") from None


def pool_for(url: str):
    """This process's pool for ``url`` (made on first use)."""
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            from psycopg_pool import ConnectionPool

            connect(url).close()  # fails at once, with the server's reason, when nothing answers (a pool would wait)

            # check=: each connection is tested when taken, so one the server dropped (a restart) is replaced
            # instead of failing the caller's transaction.
            pool = ConnectionPool(check_url(url), min_size=1, max_size=POOL_MAX, open=False,
                                  kwargs={"connect_timeout": CONNECT_TIMEOUT_S}, name="tiktok",
                                  check=ConnectionPool.check_connection)
            try:
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            except Exception as exc:  # PoolTimeout or OperationalError: the server is not there
                pool.close()
                raise DatabaseUnavailable(f"{describe(url)} cannot be reached ({_first_line(exc)})") from None
            _pools[url] = pool
        return pool


@contextmanager
def transaction(url: str) -> Iterator[Any]:
    """A pooled connection inside one transaction: committed when the block ends, rolled back on an exception."""
    import psycopg

    pool = pool_for(url)
    try:
        with pool.connection() as conn:
            with conn.transaction():
                yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"{describe(url)} went away ({_first_line(exc)})") from None
    except psycopg.errors.UndefinedTable:
        raise DatabaseError(f"{describe(url)} has no tables for this tool yet: run python -m tiktok db migrate") \
            from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
