"""``python -m tiktok report``'s options and help, kept light so ``--help`` loads nothing heavy (see ``run``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date

from tiktok.exitcodes import ExitStatus
from tiktok.options import int_between, verbosity_options

REPORTS_DIR_ENV = "REPORTS_DIR"
DEFAULT_REPORTS_DIR = "reports"
S3_URI_ENV = "REPORTS_S3_URI"  # read when --s3-uri is not given
S3_ENDPOINT_ENV = "AWS_ENDPOINT_URL_S3"  # boto3's own variable for the S3 endpoint
DEFAULT_JOBS = 4  # accounts read at once: ~4x faster on a slow network, far under the Display API's 600/min
MAX_JOBS = 32

DESCRIPTION = """Write today's counts of every connected account (or --account) to
REPORTS/YYYY-MM-DD/<username>.csv (one row per public video) and REPORTS/YYYY-MM-DD/summary.csv (one row per
account), with each count's change since the account's previous saved day. Re-running a day replaces that day's
files for the accounts reported and nothing else. With --s3-uri every file written is uploaded to
<prefix>/YYYY-MM-DD/<file name> in the bucket.

Dates: the day is today in UTC. TikTok's Display API returns only current counts and keeps no history, so an
earlier day cannot be reconstructed: --date accepts today, or yesterday to fill a missed run (for accounts with no
report on or after yesterday); such a back-fill records the counts at the time of the run under yesterday's date."""

EPILOG = """exit codes: 0 all fine; 1 something failed that a re-run will not fix by itself (including an S3
upload failing after boto3's own retries: the local files are kept, re-run the day or copy them yourself);
2 bad arguments, configuration, token file, saved report file, or a --date the history does not allow;
3 an account must be linked again in the app (the others are still reported); 4 a temporary failure (TikTok
rate limit or 5xx that persisted after retries, network): the next run may succeed.
When several happen, the first of 3, 2, 1, 4 wins.

crontab (daily, 23:50 UTC):  50 23 * * *  cd /path/to/project && .venv/bin/python -m tiktok report >> report.log 2>&1"""


def add_parser(commands: argparse._SubParsersAction, parents: Sequence[argparse.ArgumentParser]) -> None:
    """The ``report`` subcommand and its options."""
    report = commands.add_parser("report", parents=list(parents), help="write today's stats CSVs (for cron)",
                                 description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--account", action="append", default=[], metavar="OPEN_ID",
                        help="only this account (repeatable); default every connected account")
    report.add_argument("--reports", metavar="DIR",
                        help=f"reports folder (default ${REPORTS_DIR_ENV} or {DEFAULT_REPORTS_DIR}/)")
    report.add_argument("--date", type=parse_day, metavar="YYYY-MM-DD",
                        help="the report day: today (default, UTC) or yesterday to fill a missed run")
    report.add_argument("--s3-uri", metavar="s3://BUCKET/PREFIX",
                        help=f"also upload each file written (default ${S3_URI_ENV}; unset = no upload)")
    report.add_argument("--s3-endpoint-url", metavar="URL",
                        help=f"S3-compatible endpoint (default ${S3_ENDPOINT_ENV}, else AWS)")
    report.add_argument("--jobs", type=int_between(1, MAX_JOBS, "accounts at once"), default=DEFAULT_JOBS,
                        metavar="N", help=f"accounts read at once, 1-{MAX_JOBS} (default {DEFAULT_JOBS}); every "
                                          "account stays under the Display API's 600 requests a minute per "
                                          "endpoint")


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` for argparse (a bad value exits 2 with argparse's message)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """``python -m tiktok report ARGS`` in-process, with the clock and sleep injectable (tests)."""
    parser = argparse.ArgumentParser(prog="python -m tiktok")
    add_parser(parser.add_subparsers(dest="command", required=True), [verbosity_options()])
    try:
        args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as exc:  # --help or an argparse error: keep argparse's code (0 or 2)
        return int(exc.code or 0)
    from tiktok.config import load_settings
    from tiktok.errors import AccountNotFound, ConfigError, DatabaseError, TokenFileError
    from tiktok.logs import configure_logging

    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        from tiktok.report.run import command  # the heavy part loads only once the arguments parse
        from tiktok.services import build_services

        return command(args, build_services(load_settings()), clock=clock, sleep=sleep)
    except (ConfigError, TokenFileError, AccountNotFound, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.TRY_LATER if exc.transient else ExitStatus.BAD_INPUT
