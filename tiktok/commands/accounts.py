"""list the connected accounts and when their tokens expire"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    return command_parser(subparsers, "accounts", __doc__, parents=parents)


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.auth.refresh import time_left
    from tiktok.exitcodes import ExitStatus
    from tiktok.logs import echo
    from tiktok.text import moment

    store = ctx.services.store
    now = store.clock()
    accounts = store.load()
    if not accounts:
        echo(f"no connected accounts in {ctx.settings.store.tokens_path}")
    for account in sorted(accounts.values(), key=lambda a: a.label):
        where = "emulator" if account.emulated else "TikTok"
        echo(f"{account.label} [{where}] scopes={','.join(account.scopes)} "  # names come from TikTok
             f"access={time_left(account.expires_at - now)} "
             f"refresh-until={moment(account.refresh_expires_at)}"
             + (f" RELINK NEEDED: {account.relink_reason}" if account.relink_reason else ""))
    return ExitStatus.OK
