"""list the workers PostgreSQL knows (DATABASE_URL), their last heartbeat and whether they are alive

Each worker Procrastinate has registered: its name (host:pid), its last heartbeat in your time zone, and alive or
stale: a worker silent for WORKER_STALLED_S (default 30 s) or more is stopped, frozen or cut off, and the other
workers retry its jobs.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """exit codes: 0 listed (even when no worker is running); 2 DATABASE_URL missing or the database not
migrated; 4 the database cannot be reached."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    return command_parser(subparsers, "workers", __doc__, parents=parents, epilog=EPILOG)


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.jobs.worker import list_workers

    return list_workers(ctx.settings)
