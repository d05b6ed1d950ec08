"""The database schema as numbered migrations; ``python -m tiktok db migrate`` applies the missing ones in order.

Each migration runs in its own transaction together with its row in ``tiktok_schema_migrations``, so a failed one
leaves nothing behind and the next ``migrate`` tries it again. ``migrate`` first takes a session advisory lock, so
any number of processes (every worker starting, say) may run it at once: one applies, the others wait and then find
nothing to do. Never edit a migration that has shipped; add the next number.

**Rolling upgrades.** Workers of two versions run side by side while machines are upgraded one by one, so a tool
works with a database *ahead* of it when the newer migrations allow it. Each migration says so itself:
``compatible_from`` is the oldest tool schema (a tool's :data:`LATEST`) that still works once it is applied; None,
the default, means only tools that know it (an older worker stops, asking to be updated). ``migrate`` writes every
declaration into ``tiktok_schema_compat`` before applying anything, so an older tool, which knows none of the newer
migrations, reads there whether it may go on (:func:`track`). The post store's migrations (:mod:`tiktok.store.schema`,
the "store" track) follow the same rule through the same table. A change older workers cannot live with (dropping
what they read) ships as two migrations a release apart: the one that stops needing it, then, once no worker runs
the version before, the one that drops it, ``compatible_from`` naming the first.

**Procrastinate's own schema.** Migration 2 installs the ``schema.sql`` of the Procrastinate pinned in
requirements.txt (3.10.0, whose newest migration file is :data:`PROCRASTINATE_BASE`). Procrastinate ships later
changes as SQL files named ``{xx.yy.zz}_{ab}_{pre|post}_{what}.sql`` (its "Migrate the Procrastinate schema" how-to):
a ``pre`` file goes in *before* any worker runs release xx.yy.zz (older code works with it), a ``post`` file once no
worker runs an older release (older files without the word are ``post``). So an upgrade of Procrastinate adds, in
the release that pins it, a migration of that version's ``pre`` files (:func:`procrastinate`, ``compatible_from`` the
previous schema), and in the next release one of its ``post`` files; :func:`uncovered` lists the installed files no
migration applies yet (a test keeps it empty, so a version bump cannot forget them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tiktok.db.connection import connect, describe, transaction
from tiktok.errors import DatabaseError

MIGRATE_LOCK = 0x74696B746F6B  # any constant shared by every migrating process ("tiktok" in hex)
SCHEMA, STORE = "schema", "store"  # the two tracks: these migrations, and the post store's (tiktok.store.schema)
MIGRATE = "python -m tiktok db migrate"
PROCRASTINATE_BASE = "03.04.00"  # the newest migration file included in Procrastinate 3.10.0's schema.sql
_PROCRASTINATE_FILE = re.compile(r"(\d\d\.\d\d\.\d\d)_(\d\d)_(?:(pre|post)_)?.*\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: Callable[[], str]  # read when applied, so importing this module reads no package data
    #: the oldest tool schema (a tool's LATEST) that still works once this is applied; None: this very version
    compatible_from: int | None = None


def _procrastinate_schema() -> str:
    from procrastinate.schema import SchemaManager
    return SchemaManager.get_schema()


# -- Procrastinate's migration files --------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class ProcrastinateFile:
    version: str   # "03.05.00": the Procrastinate release it belongs to
    serial: str    # "01": its place among that release's files (pre files come first)
    phase: str     # "pre": before that release's code runs; "post": once no older code runs
    path: Path


def procrastinate_files(folder: Path | None = None) -> list[ProcrastinateFile]:
    """Procrastinate's migration files (default: the installed package's), in the order they are applied: by
    release, then serial number; a file named without pre/post is a post file (Procrastinate's how-to)."""
    if folder is None:
        from procrastinate.schema import SchemaManager
        folder = Path(SchemaManager.get_migrations_path())
    files = []
    for path in folder.glob("*.sql"):
        match = _PROCRASTINATE_FILE.fullmatch(path.name)
        if match:
            files.append(ProcrastinateFile(match[1], match[2], match[3] or "post", path))
    return sorted(files)


def procrastinate(version: str, phase: str, folder: Path | None = None) -> Callable[[], str]:
    """A migration's SQL: Procrastinate's ``phase`` ("pre" or "post") files of release ``version``, in order, read
    when the migration is applied."""
    if phase not in ("pre", "post"):
        raise ValueError(f"phase is pre or post, not {phase!r}")

    def sql() -> str:
        chosen = [f for f in procrastinate_files(folder) if f.version == version and f.phase == phase]
        if not chosen:
            raise DatabaseError(f"the installed Procrastinate has no {phase} migrations for {version}: install the "
                                "version requirements.txt pins")
        return "\n".join(f.path.read_text(encoding="utf-8") for f in chosen)

    sql.procrastinate = (version, phase)  # type: ignore[attr-defined]  # read by uncovered()
    return sql


def uncovered(migrations: Sequence[Migration] | None = None, folder: Path | None = None) -> list[str]:
    """The installed Procrastinate's migration files newer than :data:`PROCRASTINATE_BASE` that no migration
    applies, except the post files of the newest release (they wait for the next release of this tool)."""
    migrations = MIGRATIONS if migrations is None else migrations
    covered = {getattr(m.sql, "procrastinate", None) for m in migrations}
    files = [f for f in procrastinate_files(folder) if f.version > PROCRASTINATE_BASE]
    newest = max((f.version for f in files), default=None)
    return [f.path.name for f in files
            if (f.version, f.phase) not in covered and not (f.phase == "post" and f.version == newest)]


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

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS tiktok_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tiktok_schema_compat (track text NOT NULL, version integer NOT NULL,
    compatible_from integer NOT NULL, PRIMARY KEY (track, version));
"""


# -- the state of a track ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Track:
    """One track's versions: ``have`` in the database, ``latest`` this tool's, ``works_from`` the oldest tool schema
    the database still works with (the largest ``compatible_from`` of what is applied)."""

    name: str
    have: int
    latest: int
    works_from: int

    @property
    def state(self) -> str:
        """current, behind (run migrate), ahead (a newer tool migrated; this one works with it), or too new."""
        if self.have < self.latest:
            return "behind"
        if self.have == self.latest:
            return "current"
        return "ahead" if self.works_from <= self.latest else "too new"

    @property
    def usable(self) -> bool:
        return self.state in ("current", "ahead")


def works_from(declared: dict[int, int], have: int) -> int:
    """The oldest tool schema a database at ``have`` works with: every applied version counts as its declared
    ``compatible_from``, or as itself when none was declared (pure)."""
    return max((min(declared.get(v, v), v) for v in range(1, have + 1)), default=0)


def track(url: str, name: str, have: int, latest: int) -> Track:
    """``name``'s state in ``url`` for a tool at ``latest`` (reads the declarations of the migrations applied)."""
    declared: dict[int, int] = {}
    if have > latest:
        with transaction(url) as conn:
            if conn.execute("SELECT to_regclass('tiktok_schema_compat') IS NOT NULL").fetchone()[0]:
                declared = dict(conn.execute("SELECT version, compatible_from FROM tiktok_schema_compat "
                                             "WHERE track = %s", (name,)).fetchall())
    return Track(name, have, latest, works_from(declared, have))


def refusal(url: str, name: str, have: int, latest: int) -> str | None:
    """None when this tool (``latest``) works with ``name`` at ``have``; else the sentence saying why not and what
    to do."""
    state = track(url, name, have, latest) if have != latest else Track(name, have, latest, have)
    what = "post store" if name == STORE else "schema"
    if state.state == "behind":
        return f"{describe(url)} has {what} version {have}, this tool needs {latest}: run {MIGRATE} first"
    if state.state == "too new":
        return (f"{describe(url)} has {what} version {have}, which a newer version of this tool made and this one "
                f"(at {latest}) cannot work with (it needs a tool at {state.works_from} or later): update this tool")
    return None


# -- migrating -----------------------------------------------------------------------------------------------------

def applied_versions(conn) -> list[int]:
    exists = conn.execute("SELECT to_regclass('tiktok_schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT version FROM tiktok_schema_migrations ORDER BY version")]


def pending(applied: list[int], migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
    """The migrations still to apply, in order (pure)."""
    done = set(applied)
    return [m for m in migrations if m.version not in done]


def declare(conn, name: str, declarations: Iterable[tuple[int, int | None]]) -> None:
    """Record ``(version, compatible_from)`` of a track's migrations for older tools to read; a declaration made is
    never changed (a shipped migration is never edited)."""
    for version, oldest in declarations:
        if oldest is not None:
            conn.execute("INSERT INTO tiktok_schema_compat (track, version, compatible_from) VALUES (%s, %s, %s) "
                         "ON CONFLICT DO NOTHING", (name, version, oldest))


def migrate(url: str, migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
    """Apply every missing migration; returns those applied now (empty when the schema was current, or ahead of
    this tool and still usable by it). DatabaseError when it is ahead and this tool cannot work with it."""
    import psycopg

    latest = migrations[-1].version
    conn = connect(url, autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(BOOKKEEPING)
        with conn.transaction():
            declare(conn, SCHEMA, ((m.version, m.compatible_from) for m in migrations))
        have = max(applied_versions(conn), default=0)
        if have > latest:
            problem = refusal(url, SCHEMA, have, latest)
            if problem:
                raise DatabaseError(problem)
            return []
        applied = []
        for migration in pending(applied_versions(conn), migrations):
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


def declare_store(url: str, declarations: Iterable[tuple[int, int | None]]) -> None:
    """Record the post store's migrations' declarations (``db migrate`` does, before applying them)."""
    conn = connect(url, autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(BOOKKEEPING)
        with conn.transaction():
            declare(conn, STORE, declarations)
    finally:
        conn.close()


def schema_version(url: str) -> int:
    """The newest migration applied (0 for an empty database)."""
    with transaction(url) as conn:
        return max(applied_versions(conn), default=0)
