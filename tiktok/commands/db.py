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

EPILOG = """exit codes: 0 done (or nothing to do; status: the schema is current); 2 DATABASE_URL missing or
unusable, the schema behind (status: run migrate), or a file to import unusable or holding invalid entries (the valid
ones are imported); 4 the database server cannot be reached (try later)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "db", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("action", choices=("migrate", "status", "import"))
    parser.add_argument("--manifest", default=None, metavar="FILE",
                        help="import: the manifest to import (default MANIFEST_FILE, or videos_to_upload.json)")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    """One line per step, the database named without its password."""
    from tiktok.errors import ConfigError
    from tiktok.exitcodes import DONE, SKIPPED, ExitStatus, outcome_line

    url = ctx.settings.store.database_url
    if not url:
        raise ConfigError("DATABASE_URL is not set: set it (in .env or the environment) to postgresql://USER:PASSWORD"
                          "@HOST:PORT/DATABASE to use the PostgreSQL backend")
    from tiktok.db.connection import describe
    from tiktok.db.migrations import LATEST, migrate, schema_version
    from tiktok.store import postgres, schema as store_schema

    where = describe(url)
    if opts.action == "migrate":
        applied = migrate(url)
        for migration in applied:
            print(outcome_line(DONE, where, f"migration {migration.version}: {migration.name}"))
        store_applied = postgres.migrate(url)
        for migration in store_applied:
            print(outcome_line(DONE, where, f"post store migration {migration.version}: {migration.name}"))
        if not applied and not store_applied:
            print(outcome_line(SKIPPED, where, f"schema already at version {LATEST}, post store at version "
                                               f"{store_schema.LATEST}"))
        return ExitStatus.OK
    if opts.action == "status":
        version, store_version = schema_version(url), postgres.store_version(url)
        current = version == LATEST and store_version == store_schema.LATEST
        state = "current" if current else "behind: run python -m tiktok db migrate"
        print(f"{where}: schema version {version} of {LATEST}, post store version {store_version} of "
              f"{store_schema.LATEST} ({state})")
        return ExitStatus.OK if current else ExitStatus.BAD_INPUT
    from pathlib import Path

    from tiktok.posting.dbimport import import_files
    return import_files(ctx.settings, Path(opts.manifest) if opts.manifest else None)
