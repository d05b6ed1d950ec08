"""The one place that chooses where things are kept; the post store's values, rules and interface live in
:mod:`tiktok.store.model` and are re-exported here for callers.

Posts, their history and their claims live in one store: SQLite by default (one file beside the token file), or
PostgreSQL when ``DATABASE_URL`` is set. :func:`open_store` is the only code that looks at which; everything else
uses :class:`PostStore` and never asks which one it has (``tests/test_import_rules.py`` reads the code for that).
The same goes for the accounts' token store (:func:`open_token_store`) and the request limiter shared by a run
(:func:`shared_limiter`).

A post's life (``Post.state``)::

    queued ──> pending_init ──> uploading ──> processing ──> posted | inbox
      │  ╲           │              │              │
      │   ╲          └──────────────┴──────────────┴──> failed ──> (a retry) pending_init ...
      │    ╲
      ╰─> cancelled (a person)    withdrawn (gone from its manifest before it started)

Every change is one transaction on one row; a change that needs a post in a given state says so in its ``WHERE``
(compare and set), so a Posts-page edit and a run starting the same post can never both win.
"""

from __future__ import annotations

from typing import Callable

from tiktok.config import Settings
from tiktok.store.model import (  # noqa: F401 - the store's values, re-exported: callers import them from here
    BOARD_GROUPS, EDITABLE, ENDED, HIDDEN, ClaimResult, ImportEntry, ImportResult, Lifecycle, Post, PostStore,
    dumps, lifecycle,
)


def open_store(settings: Settings, *, migrate: bool = True, clock: Callable[[], float] | None = None) -> PostStore:
    """The post store ``settings`` ask for: PostgreSQL with DATABASE_URL (its schema comes from ``python -m tiktok
    db migrate``), else the SQLite file STORE_FILE, created and migrated on first use (``migrate``)."""
    extra = {} if clock is None else {"clock": clock}
    if settings.database_url:
        from tiktok.db.connection import size_pools
        from tiktok.store.postgres import open_postgres
        size_pools(settings.store)  # DATABASE_POOL_SIZE, before the first pool is made
        return open_postgres(settings.database_url, key=settings.tokens_key, **extra)
    from tiktok.store.sqlite import open_sqlite
    return open_sqlite(settings.store_path, key=settings.tokens_key, migrate=migrate, **extra)


def open_token_store(settings: Settings, *, clock=None):
    """The accounts' store: the token file (the design card's), or PostgreSQL when DATABASE_URL is set."""
    extra = {} if clock is None else {"clock": clock}
    if settings.database_url:
        from tiktok.auth.pg_store import PgTokenStore
        from tiktok.db.connection import size_pools
        size_pools(settings.store)
        return PgTokenStore(settings.database_url, key=settings.tokens_key, **extra)
    from tiktok.auth.tokens import TokenStore
    return TokenStore(settings.tokens_path, key=settings.tokens_key, **extra)


def token_store_where(settings: Settings, store) -> str:
    """How messages name where the accounts are: the token file's full path, or the database."""
    return str(store.path) if settings.database_url else str(settings.tokens_path.resolve())


def shared_limiter(settings: Settings, limits):
    """One request limiter for a run's threads; with DATABASE_URL one for every process on every machine."""
    if settings.database_url:
        from tiktok.db.connection import size_pools
        from tiktok.db.ratelimit import PgLimiter
        size_pools(settings.store)
        return PgLimiter(settings.database_url, limits)
    from tiktok.ratelimit import TokenLimiter
    return TokenLimiter(limits)
