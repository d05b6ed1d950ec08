"""show how posting stands: queue age, posts in flight, failures and 429s today, refreshes, the report, workers

The figures of the app's /status/ page and /metrics: how long the oldest due, not-started post has waited, the posts
in flight, the posts that failed or missed their time in the last 24 hours, TikTok's 429 (rate limit) answers in the
last 24 hours and in all, each account's last token refresh, the newest daily report file, and with DATABASE_URL
every worker with its last heartbeat. Times in your time zone (TZ); --json gives them as UTC ISO times.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser

EPILOG = """exit codes (cron can trust them): 0 healthy; 1 a post failed or missed its time in the last 24 hours,
or (DATABASE_URL) no worker is alive or a worker has been silent for WORKER_STALLED_S or more; 3 an account must be
linked again in the app (3 wins over 1); 2 bad configuration or a store or database that cannot be used; 4 the
database cannot be reached now. TikTok's 429s and the queue's age are shown but never fail the status: a run waits
429s out, and a post that waits too long is missed, which does.

crontab (every 15 minutes; cron mails the line printed when the status is not healthy):
*/15 * * * *  cd /path/to/project && .venv/bin/python -m tiktok status >/dev/null || echo "status: exit $?\""""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "status", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object on stdout")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    import json

    from tiktok.logs import echo
    from tiktok.services import token_store
    from tiktok.store.base import open_store
    from tiktok.store.health import gather, lines

    settings = ctx.settings
    store = open_store(settings, clock=ctx.clock)
    try:
        figures = gather(settings, store, token_store(settings, clock=ctx.clock), now=ctx.clock())
    finally:
        store.close()
    if opts.json:
        print(json.dumps(figures.to_json(), indent=2), flush=True)
    else:
        for line in lines(figures):
            echo(ctx.prefix + line)
    return figures.exit_status
