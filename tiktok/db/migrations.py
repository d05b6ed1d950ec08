"""The database schema as numbered migrations; ``python -m tiktok db migrate`` applies the missing ones in order.

Each migration runs in its own transaction together with its row in ``tiktok_schema_migrations``, so a failed one
leaves nothing behind and the next ``migrate`` tries it again. ``migrate`` first takes a session advisory lock, so
any number of processes (every worker starting, say) may run it at once: one applies, the others wait and then find
nothing to do. Never edit a migration that has shipped; add the next number.

Migration 2 installs Procrastinate's own schema (its job, worker and periodic-task tables) at the version pinned in
requirements.txt; a later Procrastinate upgrade adds a migration that applies its ``sql/migrations`` files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tiktok.db.connection import connect, describe
from tiktok.errors import DatabaseError

MIGRATE_LOCK = 0x74696B746F6B  # any constant shared by every migrating process ("tiktok" in hex)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: Callable[[], str]  # read when applied, so importing this module reads no package data


def _procrastinate_schema() -> str:
    from procrastinate.schema import SchemaManager
    return SchemaManager.get_schema()


TABLES_V1 = """
CREATE TABLE tiktok_accounts (
    open_id       text PRIMARY KEY,
    profile       jsonb NOT NULL,          -- every Account field but the two tokens
    access_token  text NOT NULL,           -- sealed (fernet:v1:...) when TOKENS_KEY is set
    refresh_token text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tiktok_posts (
    key       text PRIMARY KEY,             -- posting.results.entry_key: the entry's content, post_at left out
    position  bigserial UNIQUE,             -- the queue's order, like a manifest's list order
    entry     jsonb NOT NULL,               -- the manifest entry as JSON
    user_id   text NOT NULL,
    post_at   timestamptz,
    added_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tiktok_posts_user ON tiktok_posts (user_id, position);
CREATE TABLE tiktok_post_records (
    key        text PRIMARY KEY,
    record     jsonb NOT NULL,              -- posting.results.PostRecord; upload_url sealed when TOKENS_KEY is set
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tiktok_post_claims (
    key        text PRIMARY KEY,
    lock_id    bigint NOT NULL,             -- the session advisory lock that makes the claim live
    pid        integer NOT NULL,
    host       text NOT NULL,
    started_at double precision NOT NULL
);
CREATE TABLE tiktok_rate_calls (          -- the shared limiter's sliding windows (db.ratelimit)
    open_id text NOT NULL,
    kind    text NOT NULL,
    at      double precision NOT NULL
);
CREATE INDEX tiktok_rate_calls_window ON tiktok_rate_calls (open_id, kind, at);
"""

MIGRATIONS = (
    Migration(1, "accounts, post queue, records, claims, rate windows", lambda: TABLES_V1),
    Migration(2, "Procrastinate 3.10 job tables", _procrastinate_schema),
)
LATEST = MIGRATIONS[-1].version


def applied_versions(conn) -> list[int]:
    exists = conn.execute("SELECT to_regclass('tiktok_schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT version FROM tiktok_schema_migrations ORDER BY version")]


def pending(applied: list[int]) -> list[Migration]:
    """The migrations still to apply, in order (pure)."""
    done = set(applied)
    return [m for m in MIGRATIONS if m.version not in done]


def migrate(url: str) -> list[Migration]:
    """Apply every missing migration; returns those applied now (empty when the schema was current)."""
    import psycopg

    conn = connect(url, autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS tiktok_schema_migrations (version integer PRIMARY KEY, "
                     "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        newer = [v for v in applied_versions(conn) if v > LATEST]
        if newer:
            raise DatabaseError(f"{describe(url)} has schema version {max(newer)}, newer than this tool's {LATEST}: "
                                "update the tool instead of migrating")
        applied = []
        for migration in pending(applied_versions(conn)):
            try:
                with conn.transaction():
                    conn.execute(migration.sql())
                    conn.execute("INSERT INTO tiktok_schema_migrations (version, name) VALUES (%s, %s)",
                                 (migration.version, migration.name))
            except psycopg.Error as exc:
                raise DatabaseError(f"{describe(url)}: migration {migration.version} ({migration.name}) failed "
                                    f"and was rolled back: {str(exc).strip().splitlines()[0]}") from None
            applied.append(migration)
        return applied
    finally:
        conn.close()


def schema_version(url: str) -> int:
    """The newest migration applied (0 for an empty database)."""
    conn = connect(url, autocommit=True)
    try:
        return max(applied_versions(conn), default=0)
    finally:
        conn.close()
