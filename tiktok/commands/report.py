"""write today's stats CSVs per account, optionally upload them to S3 (run it daily from cron)

Write today's counts of every connected account (or --account) to REPORTS/YYYY-MM-DD/<username>.csv (one row per
public video) and REPORTS/YYYY-MM-DD/summary.csv (one row per account), with each count's change since the
account's previous saved day. Re-running a day replaces that day's files for the accounts reported and nothing
else. With --s3-uri every file written is uploaded to <prefix>/YYYY-MM-DD/<file name> in the bucket.

Dates: the day is today in UTC. TikTok's Display API returns only current counts and keeps no history, so an
earlier day cannot be reconstructed: --date accepts today, or yesterday to fill a missed run (for accounts with no
report on or after yesterday); such a back-fill records the counts at the time of the run under yesterday's date.
"""

from __future__ import annotations

import argparse

from tiktok.commands import Context
from tiktok.options import command_parser, int_between, setting
from tiktok.report.limits import DEFAULT_JOBS, MAX_JOBS

TYPE_CHECKING = False  # typing's, without loading typing: --help stays quick
if TYPE_CHECKING:
    from datetime import date

EPILOG = """exit codes: 0 all fine; 1 something failed that a re-run will not fix by itself (including an S3
upload failing after boto3's own retries: the local files are kept, re-run the day or copy them yourself);
2 bad arguments, configuration, token file, saved report file, or a --date the history does not allow;
3 an account must be linked again in the app (the others are still reported); 4 a temporary failure (TikTok
rate limit or 5xx that persisted after retries, network): the next run may succeed.
When several happen, the first of 3, 2, 1, 4 wins.

crontab (daily, 23:50 UTC):  50 23 * * *  cd /path/to/project && .venv/bin/python -m tiktok report >> report.log 2>&1"""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = command_parser(subparsers, "report", __doc__, parents=parents, epilog=EPILOG)
    parser.add_argument("--account", action="append", default=[], metavar="@NAME|OPEN_ID",
                        help="only this account: its @name or open_id (repeatable); default every connected account")
    setting(parser, "--reports", env="REPORTS_DIR", metavar="DIR",
            help="reports folder (default $REPORTS_DIR or reports/)")
    parser.add_argument("--date", type=parse_day, metavar="YYYY-MM-DD",
                        help="the report day: today (default, UTC) or yesterday to fill a missed run")
    setting(parser, "--s3-uri", env="REPORTS_S3_URI", metavar="s3://BUCKET/PREFIX",
            help="also upload each file written (default $REPORTS_S3_URI; unset = no upload)")
    setting(parser, "--s3-endpoint-url", env="AWS_ENDPOINT_URL_S3", metavar="URL",
            help="S3-compatible endpoint (default $AWS_ENDPOINT_URL_S3, else AWS)")
    parser.add_argument("--jobs", type=int_between(1, MAX_JOBS, "accounts at once"), default=DEFAULT_JOBS,
                        metavar="N", help=f"accounts read at once, 1-{MAX_JOBS} (default {DEFAULT_JOBS}); every "
                                          "account stays under the Display API's 600 requests a minute per endpoint")
    return parser


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` for argparse (a bad value exits 2 with argparse's message)."""
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def run(opts: argparse.Namespace, ctx: Context) -> int:
    from tiktok.auth.names import resolve_from
    from tiktok.report.run import ReportRequest, write_report

    accounts = tuple(resolve_from(opts.account, ctx.services.store))
    request = ReportRequest(accounts=accounts, day=opts.date, jobs=opts.jobs)
    return write_report(ctx.services, request, clock=ctx.world_clock, sleep=ctx.sleep)  # the emulator's day too
