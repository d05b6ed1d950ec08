"""run jobs from PostgreSQL (DATABASE_URL): posts, token refresh, the daily report

Run jobs until Ctrl-C or SIGTERM: scheduled and due posts (one account's in order, accounts in parallel), token
refresh every 10 minutes, the daily report at 23:50 UTC, alerts (NOTIFY_URLS, WEBHOOK_URLS) every minute and as
each post ends. Start any number, on any machines, with the same DATABASE_URL (and TOKENS_KEY if the tokens are
encrypted); a worker that dies leaves its post to another, which resumes it.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser, int_between

OWN_SIGNALS = True  # Ctrl-C and SIGTERM: stop taking jobs, let the running ones end, exit 0
DEFAULT_CONCURRENCY = 4  # jobs at once in one worker (threads: posting waits on the network, not the CPU)

EPILOG = """settings (environment or .env): DATABASE_URL (required), TOKENS_KEY (when the tokens are encrypted),
WORKER_DISPATCH_CRON (default every 10 s), WORKER_REFRESH_CRON (every 10 min), WORKER_REFRESH_WITHIN (90m),
WORKER_REPORT_CRON (50 23 * * *, UTC), WORKER_ALERTS_CRON (every minute), WORKER_STALLED_S (30),
WORKER_HEARTBEAT_S (10).

exit codes: 0 stopped by a signal; 2 DATABASE_URL missing or the schema not migrated; 4 the database cannot be
reached."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "worker", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("--concurrency", type=int_between(1, 64, "jobs at once"), default=DEFAULT_CONCURRENCY,
                        metavar="N", help=f"jobs this worker runs at once (default {DEFAULT_CONCURRENCY})")
    return parser


def run(opts: argparse.Namespace, ctx: Context) -> int:
    import logging

    from tiktok.jobs.worker import run_worker

    logging.getLogger().setLevel(logging.DEBUG if opts.verbose else logging.INFO)  # one line per job
    return run_worker(ctx.settings, opts.concurrency)
