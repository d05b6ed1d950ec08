"""list the connected accounts, when their tokens expire, and what TikTok still lets each post today

Each account's budget: its Direct Posts in the last 24 hours against TikTok's daily cap (15), its drafts against
the 5 pending inbox drafts TikTok allows, and for an app TikTok has not audited the 5 accounts that may post through
it; a run leaves a post that would break a cap waiting (try later) until room comes back."""

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
    from tiktok.errors import StoreError
    from tiktok.posting.budget import account_budgets
    from tiktok.store.base import open_store
    from tiktok.text import moment

    store = ctx.services.store
    now = store.clock()
    accounts = store.load()
    if not accounts:
        echo(f"no connected accounts in {ctx.settings.store.tokens_path}")
        return ExitStatus.OK
    budgets, unread = {}, ""
    settings = ctx.settings
    if settings.store.database_url or settings.store_path.exists():  # listing accounts never creates the store
        try:
            posts = open_store(settings, migrate=False, clock=ctx.clock)
            try:
                budgets = account_budgets(posts, accounts, ctx.clock(), app_mode_setting=settings.tiktok.app_mode)
            finally:
                posts.close()
        except StoreError as exc:  # the accounts are still listed; the budget line says why it is missing
            unread = f"not counted: the post store cannot be read ({exc})"
    for account in sorted(accounts.values(), key=lambda a: a.label):
        where = "emulator" if account.emulated else "TikTok"
        echo(f"{account.label} [{where}] scopes={','.join(account.scopes)} "  # names come from TikTok
             f"access={time_left(account.expires_at - now)} "
             f"refresh-until={moment(account.refresh_expires_at)}"
             + (f" RELINK NEEDED: {account.relink_reason}" if account.relink_reason else ""))
        if account.open_id in budgets:
            echo(f"  budget: {budgets[account.open_id].summary()}")
        elif unread:
            echo(f"  budget: {unread}")
    return ExitStatus.OK
