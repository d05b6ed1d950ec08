"""refresh access tokens that expire soon (run it hourly from cron)

Refresh the access tokens of connected accounts that expire within --within, keep the rotated refresh tokens,
and warn when an account must be linked again. One line per account.
"""

from __future__ import annotations

import argparse
import sys

from tiktok.commands import Context
from tiktok.exitcodes import PRECEDENCE_HELP
from tiktok.options import command_parser, duration

DEFAULT_WITHIN = "90m"  # hourly cron: anything expiring before the run after next gets refreshed now

EPILOG = """exit codes: 0 all fine; 1 a refresh failed; 2 bad arguments, configuration or token file;
3 an account must be linked again in the app (or soon will); 4 a temporary failure (network, TikTok error), the
next run may succeed. """ + PRECEDENCE_HELP + """ 130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM: a
token refresh under way is finished and its new tokens saved before the command stops.

crontab (hourly):  0 * * * *  cd /path/to/project && .venv/bin/python -m tiktok refresh >> refresh.log 2>&1"""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "refresh", __doc__, parents=parents, epilog=EPILOG)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--within", type=duration, default=DEFAULT_WITHIN, metavar="DURATION",
                       help=f"refresh tokens expiring within this long, e.g. 90m, 2h, 1d (default {DEFAULT_WITHIN})")
    scope.add_argument("--all", action="store_true", help="refresh every account now")
    parser.add_argument("--account", action="append", default=[], metavar="@NAME|OPEN_ID",
                        help="only this account: its @name or open_id (repeatable)")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.auth.names import resolve_from
    from tiktok.auth.refresh import Outcome, format_outcome, refresh_accounts
    from tiktok.exitcodes import exit_status
    from tiktok.logs import echo
    from tiktok.signals import Interrupted

    services = ctx.services
    done: list[Outcome] = []

    def report(outcome: Outcome) -> None:  # each line as soon as its account is done: cron's log shows progress
        done.append(outcome)
        echo(ctx.prefix + format_outcome(outcome))

    try:
        refresh_accounts(services.store, services.oauth, within=opts.within, refresh_all=opts.all,
                         only=resolve_from(opts.account, services.store), emulated=ctx.settings.tiktok.emulated,
                         on_outcome=report)
    except Interrupted as stop:
        echo(f"interrupted by {stop.name} after {len(done)} account(s), each listed above; no refresh was cut short "
             "(one under way was finished and its new tokens saved first). Run it again for the rest "
             f"(exit {stop.exit_code})", file=sys.stderr)
        return stop.exit_code
    if not done:
        echo(f"no connected accounts in {ctx.settings.store.tokens_path}; log in with the app first")
    return exit_status(done)
