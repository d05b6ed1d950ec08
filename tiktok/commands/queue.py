"""list the post queue and its jobs in PostgreSQL (DATABASE_URL)"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    return command_parser(subparsers, "queue", __doc__, parents=parents)


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.jobs.worker import list_queue

    return list_queue(ctx.settings)
