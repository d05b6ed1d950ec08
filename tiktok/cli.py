"""``python -m tiktok``: commands for cron and the shell.

    refresh    refresh access tokens that are about to expire (run it hourly from cron)
    post       post what is due in videos_to_upload.json (the same as upload_to_tiktok.py; cron every minute)
    db         PostgreSQL backend (DATABASE_URL): migrate the schema, import the JSON files
    worker     run jobs from PostgreSQL: posts, token refresh, the daily report (any number, any machines)
    queue      list the post queue and the jobs in PostgreSQL
    accounts   list the connected accounts and when their tokens expire
    report     write today's stats CSVs per account, optionally upload them to S3 (run it daily from cron)
    tokens     encrypt, decrypt or re-key the token file in place (TOKENS_KEY, TOKENS_NEW_KEY)
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

from tiktok.exitcodes import PRECEDENCE_HELP, ExitStatus
from tiktok.options import int_between, verbosity_options
from tiktok.report import cli as report_cli

DEFAULT_WITHIN = "90m"  # hourly cron: anything expiring before the run after next gets refreshed now

EPILOG = """exit codes: 0 all fine; 1 a refresh failed; 2 bad arguments, configuration or token file;
3 an account must be linked again in the app (or soon will); 4 a temporary failure (network, TikTok error), the
next run may succeed. """ + PRECEDENCE_HELP + """ 130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM: a
token refresh under way is finished and its new tokens saved before the command stops.

crontab (hourly):  0 * * * *  cd /path/to/project && .venv/bin/python -m tiktok refresh >> refresh.log 2>&1"""


DB_EPILOG = """exit codes: 0 done (or nothing to do; status: the schema is current); 2 DATABASE_URL missing or
unusable, the schema behind (status: run migrate), or a file to import unusable or holding invalid entries (the valid
ones are imported); 4 the database server cannot be reached (try later)."""

WORKER_EPILOG = """settings (environment or .env): DATABASE_URL (required), TOKENS_KEY (when the tokens are encrypted),
WORKER_DISPATCH_CRON (default every 10 s), WORKER_REFRESH_CRON (every 10 min), WORKER_REFRESH_WITHIN (90m),
WORKER_REPORT_CRON (50 23 * * *, UTC), WORKER_STALLED_S (30), WORKER_HEARTBEAT_S (10).

exit codes: 0 stopped by a signal; 2 DATABASE_URL missing or the schema not migrated; 4 the database cannot be
reached."""

TOKENS_EPILOG = """keys: TOKENS_KEY is the key the file is (or will be) encrypted with; TOKENS_NEW_KEY, for rotate-key
only, is the key to encrypt it with from now on. Make a key with
  .venv/bin/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
After rotate-key, put the new key in TOKENS_KEY (and remove TOKENS_NEW_KEY) before anything else reads the file.
Every other command (refresh, accounts, report, the app) reads an encrypted file with TOKENS_KEY.

exit codes: 0 done (or nothing to do); 2 a key is missing or wrong, or the token file is unusable; the file is then
left unchanged."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tiktok", description="TikTok account tools.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    common = verbosity_options()
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    refresh = commands.add_parser(
        "refresh", parents=[common], help="refresh access tokens that expire soon (for cron)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Refresh the access tokens of connected accounts that expire within --within, keep the "
                    "rotated refresh tokens, and warn when an account must be linked again. One line per account.")
    scope = refresh.add_mutually_exclusive_group()
    scope.add_argument("--within", default=DEFAULT_WITHIN, metavar="DURATION",
                       help=f"refresh tokens expiring within this long, e.g. 90m, 2h, 1d (default {DEFAULT_WITHIN})")
    scope.add_argument("--all", action="store_true", help="refresh every account now")
    refresh.add_argument("--account", action="append", default=[], metavar="OPEN_ID",
                         help="only this account (repeatable)")

    commands.add_parser("post", add_help=False, help="import videos_to_upload.json and post what is due, like "
                        "upload_to_tiktok.py (python -m tiktok post --help)")
    commands.add_parser("accounts", parents=[common], help="list connected accounts and their token deadlines")
    db = commands.add_parser(
        "db", parents=[common], help="PostgreSQL backend (DATABASE_URL): migrate the schema, import the JSON files",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=DB_EPILOG,
        description="With DATABASE_URL=postgresql://... every command and the app keep accounts, tokens and the posts "
                    "in PostgreSQL instead of the token file and the embedded store. migrate creates or upgrades the "
                    "schema (safe to run any time, from several machines at once); status shows the schema version; "
                    "import moves user_tokens.json, the embedded store's posts (tiktok.db) and a manifest into the "
                    "database (safe to run twice).")
    db.add_argument("action", choices=("migrate", "status", "import"))
    db.add_argument("--manifest", type=Path, default=None, metavar="FILE",
                    help="import: the manifest to import (default MANIFEST_FILE, or videos_to_upload.json)")
    worker = commands.add_parser(
        "worker", parents=[common], help="run jobs from PostgreSQL (DATABASE_URL): posts, refresh, report",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=WORKER_EPILOG,
        description="Run jobs until Ctrl-C or SIGTERM: scheduled and due posts (one account's in order, accounts in "
                    "parallel), token refresh every 10 minutes, the daily report at 23:50 UTC. Start any number, on "
                    "any machines, with the same DATABASE_URL (and TOKENS_KEY if the tokens are encrypted); a worker "
                    "that dies leaves its post to another, which resumes it.")
    worker.add_argument("--concurrency", type=int_between(1, 64, "jobs at once"), default=4, metavar="N",
                        help="jobs this worker runs at once (default 4)")
    commands.add_parser("queue", parents=[common], help="list the post queue and its jobs in PostgreSQL")
    report_cli.add_parser(commands, [common])
    tokens = commands.add_parser(
        "tokens", parents=[common], help="encrypt, decrypt or re-key the token file in place",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TOKENS_EPILOG,
        description="Migrate the token file (TOKENS_FILE) in place, under its lock, with one atomic write. Only the "
                    "access and refresh tokens are encrypted (Fernet: authenticated encryption); account names and "
                    "deadlines stay readable. Keys are read from the environment or .env, never from the command "
                    "line (a command line is visible to every user of the machine).")
    tokens.add_argument("action", choices=("encrypt", "decrypt", "rotate-key"),
                        help="encrypt: write it encrypted with TOKENS_KEY; decrypt: open it with TOKENS_KEY and write "
                             "it plain; rotate-key: open it with TOKENS_KEY (the old key) and write it with "
                             "TOKENS_NEW_KEY")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["post"]:  # the posting command has its own parser: the same code path as upload_to_tiktok.py
        from tiktok.posting.cli import main as post_main
        return post_main(argv[1:], prog="python -m tiktok post")
    parser = build_parser()
    args = parser.parse_args(argv)
    from tiktok.logs import configure_logging, echo  # after parsing: --help and bad arguments stay instant
    from tiktok.signals import Interrupted, stop_on_signals

    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    # Ctrl-C and SIGTERM end a command with a line and 130 / 143, never a traceback; the worker stops its own way
    with nullcontext() if args.command == "worker" else stop_on_signals():
        try:
            return _dispatch(args)
        except Interrupted as stop:
            echo(f"interrupted by {stop.name}: stopped before it finished (exit {stop.exit_code})", file=sys.stderr)
            return stop.exit_code


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; the errors every command shares become one line and exit 2 (or 4)."""
    from tiktok.config import load_settings
    from tiktok.errors import AccountNotFound, ConfigError, DatabaseError, ResultsFileError, StoreError, TokenFileError
    from tiktok.logs import echo

    try:
        settings = load_settings()
        if args.command == "db":
            return _db(args, settings)
        if args.command == "worker":
            from tiktok.jobs.worker import run_worker
            logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)  # one line per job
            return run_worker(settings, args.concurrency)
        if args.command == "queue":
            from tiktok.jobs.worker import list_queue
            return list_queue(settings)
        from tiktok.services import build_services

        services = build_services(settings)
        if args.command == "refresh":
            return _refresh(args, services)
        if args.command == "report":
            from tiktok.report.run import command

            return command(args, services)
        if args.command == "tokens":
            from tiktok.config import read_environment

            return _tokens(args, services, read_environment().get("TOKENS_NEW_KEY", "").strip() or None)
        return _accounts(services)
    except (ConfigError, TokenFileError, AccountNotFound, DatabaseError, StoreError, ResultsFileError) as exc:
        echo(f"error: {exc}", file=sys.stderr, newlines=True)  # our own messages may span lines
        if getattr(exc, "transient", False):
            return ExitStatus.TRY_LATER
        return ExitStatus.BAD_INPUT


def _refresh(args: argparse.Namespace, services) -> int:
    from tiktok.auth.refresh import Outcome, format_outcome, refresh_accounts
    from tiktok.exitcodes import exit_status
    from tiktok.logs import echo
    from tiktok.options import parse_duration
    from tiktok.signals import Interrupted

    try:
        within = parse_duration(args.within)
    except ValueError as exc:
        echo(f"error: --within: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    settings = services.settings
    prefix = "[emulator] " if settings.emulated else ""
    done: list[Outcome] = []

    def report(outcome: Outcome) -> None:  # each line as soon as its account is done: cron's log shows progress
        done.append(outcome)
        echo(prefix + format_outcome(outcome))

    try:
        refresh_accounts(services.store, services.oauth, within=within, refresh_all=args.all, only=args.account,
                         emulated=settings.emulated, on_outcome=report)
    except Interrupted as stop:
        echo(f"interrupted by {stop.name} after {len(done)} account(s), each listed above; no refresh was cut short "
             "(one under way was finished and its new tokens saved first). Run it again for the rest "
             f"(exit {stop.exit_code})", file=sys.stderr)
        return stop.exit_code
    if not done:
        echo(f"no connected accounts in {settings.tokens_path}; log in with the app first")
    return exit_status(done)


def _accounts(services) -> int:
    from tiktok.auth.refresh import describe_duration, format_time
    from tiktok.logs import echo

    now = services.store.clock()
    accounts = services.store.load()
    if not accounts:
        print(f"no connected accounts in {services.settings.tokens_path}")
    for account in sorted(accounts.values(), key=lambda a: a.label):
        where = "emulator" if account.emulated else "TikTok"
        echo(f"{account.label} [{where}] scopes={','.join(account.scopes)} "  # names come from TikTok
             f"access={describe_duration(account.expires_at - now)} "
             f"refresh-until={format_time(account.refresh_expires_at)}"
             + (f" RELINK NEEDED: {account.relink_reason}" if account.relink_reason else ""))
    return ExitStatus.OK


def _tokens(args: argparse.Namespace, services, new_key: str | None) -> int:
    """``tokens encrypt|decrypt|rotate-key``: one outcome line, the file named, never a key or token."""
    from tiktok.errors import ConfigError
    from tiktok.exitcodes import DONE, SKIPPED, outcome_line

    store, settings = services.store, services.settings
    where = str(store.path)
    before = store.encryption()  # opens the file with TOKENS_KEY: a wrong or missing key stops here
    if not settings.tokens_key:
        raise ConfigError(f"{where}: tokens {args.action} needs TOKENS_KEY (in .env or the environment)"
                          + ("" if args.action != "rotate-key" else ": the key the file is encrypted with now"))
    if args.action == "encrypt":
        if before is not None:
            print(outcome_line(SKIPPED, where, "already encrypted with TOKENS_KEY"))
            return ExitStatus.OK
        changed = store.migrate(settings.tokens_key)
        detail = "access and refresh tokens are now encrypted with TOKENS_KEY"
    elif args.action == "decrypt":
        changed = store.migrate(None)
        detail = "written plain: the tokens are readable by anyone who can read the file; unset TOKENS_KEY"
    else:
        if not new_key:
            raise ConfigError("tokens rotate-key needs TOKENS_NEW_KEY (in .env or the environment): the key to "
                              "encrypt the file with from now on")
        if new_key == settings.tokens_key:
            raise ConfigError("TOKENS_NEW_KEY is the same key as TOKENS_KEY")
        changed = store.migrate(new_key)
        detail = "re-encrypted with TOKENS_NEW_KEY: put that key in TOKENS_KEY now and remove TOKENS_NEW_KEY"
    if not changed:
        empty = not store.load() if settings.database_url else not store.target.exists()
        print(outcome_line(SKIPPED, where, "no tokens stored yet" if empty else "already plain"))
        return ExitStatus.OK
    print(outcome_line(DONE, where, detail))
    return ExitStatus.OK


def _db(args: argparse.Namespace, settings) -> int:
    """``db migrate|status|import``: one line per step, the database named without its password."""
    from tiktok.errors import ConfigError
    from tiktok.exitcodes import DONE, SKIPPED, outcome_line

    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set: set it (in .env or the environment) to postgresql://USER:PASSWORD"
                          "@HOST:PORT/DATABASE to use the PostgreSQL backend")
    from tiktok.db.connection import describe
    from tiktok.db.migrations import LATEST, migrate, schema_version

    from tiktok.store import postgres, schema as store_schema

    where = describe(settings.database_url)
    if args.action == "migrate":
        applied = migrate(settings.database_url)
        for migration in applied:
            print(outcome_line(DONE, where, f"migration {migration.version}: {migration.name}"))
        store_applied = postgres.migrate(settings.database_url)
        for migration in store_applied:
            print(outcome_line(DONE, where, f"post store migration {migration.version}: {migration.name}"))
        if not applied and not store_applied:
            print(outcome_line(SKIPPED, where, f"schema already at version {LATEST}, post store at version "
                                               f"{store_schema.LATEST}"))
        return ExitStatus.OK
    if args.action == "status":
        version = schema_version(settings.database_url)
        store_version = postgres.store_version(settings.database_url)
        current = version == LATEST and store_version == store_schema.LATEST
        state = "current" if current else "behind: run python -m tiktok db migrate"
        print(f"{where}: schema version {version} of {LATEST}, post store version {store_version} of "
              f"{store_schema.LATEST} ({state})")
        return ExitStatus.OK if current else ExitStatus.BAD_INPUT
    from tiktok.posting.dbimport import import_files
    return import_files(settings, args.manifest)
