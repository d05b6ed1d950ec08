"""PostgreSQL backend (DATABASE_URL): migrate the schema, move the local files and posts in

With DATABASE_URL=postgresql://... every command and the app keep accounts, tokens and the posts in PostgreSQL
instead of the token file and the embedded store. migrate creates or upgrades the schema (safe to run any time, from
several machines at once); status shows the schema version; import moves user_tokens.json, the embedded store's
posts (tiktok.db) and a manifest into the database (safe to run twice).
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """status says current, behind (run migrate), or ahead: a newer version of this tool migrated the
database, during a rolling upgrade; this version goes on working with it unless the newer migrations say otherwise.

exit codes: 0 done (or nothing to do; status: the schema is current, or ahead and usable by this version); 2
DATABASE_URL missing or unusable, the schema behind (status: run migrate) or too new for this version (update it),
or a file to import unusable or holding invalid entries (the valid ones are imported); 4 the database server cannot
be reached (try later)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "db", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("action", choices=("migrate", "status", "import"))
    parser.add_argument("--manifest", default=None, metavar="FILE",
                        help="import: the manifest to import (default MANIFEST_FILE, or videos_to_upload.json)")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    """One line per step, the database named without its password."""
    from tiktok.errors import ConfigError
    from tiktok.exitcodes import ExitStatus

    url = ctx.settings.store.database_url
    if not url:
        raise ConfigError("DATABASE_URL is not set: set it (in .env or the environment) to postgresql://USER:PASSWORD"
                          "@HOST:PORT/DATABASE to use the PostgreSQL backend")
    from tiktok.db.connection import describe, size_pools
    from tiktok.jobs.worker import schema_tracks

    size_pools(ctx.settings.store)
    where = describe(url)
    if opts.action == "migrate":
        return _migrate(url, where)
    if opts.action == "status":
        schema, store = schema_tracks(url)
        state = _state(schema, store)
        print(f"{where}: schema version {schema.have} of {schema.latest}, post store version {store.have} of "
              f"{store.latest} ({STATES[state]})")
        return ExitStatus.OK if state in ("current", "ahead") else ExitStatus.BAD_INPUT
    from pathlib import Path

    from tiktok.posting.dbimport import import_files
    return import_files(ctx.settings, Path(opts.manifest) if opts.manifest else None)


STATES = {
    "current": "current",
    "behind": "behind: run python -m tiktok db migrate",
    "ahead": "ahead: a newer version of this tool migrated it, and this version works with it",
    "too new": "ahead: a newer version of this tool migrated it past what this version can work with: update this "
               "tool",
}


def _state(*tracks) -> str:
    """The database's state over both tracks: the worst of them."""
    states = {found.state for found in tracks}
    return next(state for state in ("too new", "behind", "ahead", "current") if state in states)


def _migrate(url: str, where: str) -> int:
    """Our migrations, then the post store's; a track ahead of this tool is left as it is (a rolling upgrade)."""
    from tiktok.db.migrations import STORE, declare_store, migrate, refusal
    from tiktok.errors import DatabaseError
    from tiktok.exitcodes import DONE, SKIPPED, ExitStatus, outcome_line
    from tiktok.jobs.worker import schema_tracks
    from tiktok.store import postgres, schema as store_schema

    applied = migrate(url)  # DatabaseError when the schema is ahead and this tool cannot work with it
    for migration in applied:
        print(outcome_line(DONE, where, f"migration {migration.version}: {migration.name}"))
    declare_store(url, ((m.version, getattr(m, "compatible_from", None)) for m in store_schema.MIGRATIONS))
    store_have = postgres.store_version(url)
    store_applied = []
    if store_have > store_schema.LATEST:
        problem = refusal(url, STORE, store_have, store_schema.LATEST)
        if problem:
            raise DatabaseError(problem)
    else:
        store_applied = postgres.migrate(url)
    for step in store_applied:
        print(outcome_line(DONE, where, f"post store migration {step.version}: {step.name}"))
    if not applied and not store_applied:
        schema, store = schema_tracks(url)
        ahead = " (ahead of this version of the tool, which works with it)" if _state(schema, store) == "ahead" else ""
        print(outcome_line(SKIPPED, where, f"schema already at version {schema.have}, post store at version "
                                           f"{store.have}{ahead}"))
    return ExitStatus.OK
