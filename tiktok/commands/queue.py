"""list the post queue and its jobs in PostgreSQL (DATABASE_URL), each failure with its reason and where it was met

Counts first: posts open (due now, scheduled, in progress, to try again), failed and done today, and jobs by
status. Then every post a run still looks at and every failed post, a failure with its reason in plain words, the
machine and process that met it and when (TikTok's code, message and log_id on a "details" line), and the jobs
waiting, running (on which worker) or failed (with their post's reason).
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """exit codes: 0 listed; 2 DATABASE_URL missing or the database not migrated; 4 the database cannot be
reached. python -m tiktok workers lists the workers."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    return command_parser(subparsers, "queue", __doc__, parents=parents, epilog=EPILOG)


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.jobs.worker import list_queue

    return list_queue(ctx.settings)
