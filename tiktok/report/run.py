"""``python -m tiktok report``: today's counts of every connected account as CSV files, optionally copied to S3.

For each account: a fresh token (refreshed as needed), user info (with stats when ``user.info.stats`` was granted)
and every public video, compared with the account's previous saved day (``csvfiles``). The day's files are written
atomically once every account was read; then each written file is uploaded when an S3 URI is set. One line per
account and per uploaded file; a progress bar only on a terminal.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from tqdm import tqdm

from tiktok.config import load_settings, read_environment
from tiktok.errors import AccountNotFound, ConfigError, TokenFileError
from tiktok.exitcodes import ExitStatus, combine
from tiktok.logs import configure_logging, verbosity_options
from tiktok.report.daily import AccountOutcome, date_problem, report_account, utc_day, write_outcomes
from tiktok.report.fetch import REPORT_RETRY, DisplayReader
from tiktok.report.s3 import S3_URI_ENV, S3URIError, UploadOutcome, parse_s3_uri, upload_reports
from tiktok.retry import Runtime
from tiktok.services import Services, build_services
from tiktok.auth.tokens import Account

REPORTS_DIR_ENV = "REPORTS_DIR"
DEFAULT_REPORTS_DIR = "reports"
S3_ENDPOINT_ENV = "AWS_ENDPOINT_URL_S3"  # boto3's own variable for the S3 endpoint

STATUS_EXIT = {"relink": ExitStatus.RELINK_NEEDED, "bad-input": ExitStatus.BAD_INPUT, "failed": ExitStatus.FAILED,
               "retry": ExitStatus.TRY_LATER}

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


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` for argparse (a bad value exits 2 with argparse's message)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-20") from None


def command(args: argparse.Namespace, services: Services, *, clock: Callable[[], float] = time.time,
            sleep: Callable[[float], None] = time.sleep, say: Callable[[str], None] | None = None) -> int:
    """Run the parsed ``report`` command; returns the exit code."""
    say = say or (lambda line: tqdm.write(line, file=sys.stdout))
    env = read_environment()
    today = utc_day(clock())
    day = args.date or today
    root = Path(args.reports or env.get(REPORTS_DIR_ENV) or DEFAULT_REPORTS_DIR)
    s3_uri = args.s3_uri or env.get(S3_URI_ENV) or None
    problem = date_problem(day, today) or _s3_problem(s3_uri)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    prefix = "[emulator] " if services.settings.emulated else ""
    accounts = _chosen(services, args.account)
    if not accounts:
        say(f"{prefix}no connected accounts in {services.settings.tokens_path}; log in with the app first")
    reader = DisplayReader(services, Runtime(sleep=sleep, rng=random.Random(), policy=REPORT_RETRY))
    outcomes = [report_account(reader, root, day, account, emulated=services.settings.emulated,
                               backfill=day < today)
                for account in tqdm(accounts, desc="report", unit="account", disable=None, leave=False)]
    outcomes, written = write_outcomes(root, day, outcomes)
    for outcome in outcomes:
        say(prefix + format_outcome(outcome))
    endpoint = args.s3_endpoint_url or env.get(S3_ENDPOINT_ENV) or None  # also from .env, which boto3 ignores
    uploads = upload_reports(written, s3_uri, endpoint_url=endpoint) if s3_uri and written else []
    for upload in uploads:
        say(prefix + format_upload(upload, s3_uri))
    return exit_status(outcomes, uploads)


def _s3_problem(uri: str | None) -> str | None:
    if uri is None:
        return None
    try:
        parse_s3_uri(uri)
    except S3URIError as exc:
        return f"--s3-uri / ${S3_URI_ENV}: {exc}"
    return None


def _chosen(services: Services, wanted: Sequence[str]) -> list[Account]:
    """The accounts to report, in open_id order; AccountNotFound (exit 2) for an unknown --account."""
    accounts = services.store.load()
    for open_id in wanted:
        if open_id not in accounts:
            raise AccountNotFound(open_id, services.store.path)
    return [accounts[open_id] for open_id in (list(dict.fromkeys(wanted)) or sorted(accounts))]


_LABELS = {"written": "WROTE", "skipped": "SKIPPED", "relink": "RELINK", "bad-input": "REFUSED",
           "failed": "FAILED", "retry": "TRY-LATER"}


def format_outcome(outcome: AccountOutcome) -> str:
    return f"{_LABELS[outcome.status]:<9} {outcome.label}: {outcome.detail}"


def format_upload(upload: UploadOutcome, uri: str) -> str:
    if upload.ok:
        bucket, _ = parse_s3_uri(uri)
        return f"{'UPLOADED':<9} {upload.path} -> s3://{bucket}/{upload.key}"
    return f"{'NOT-UPLOADED':<9} {upload.path}: {upload.error}; the local file is kept"


def exit_status(outcomes: Sequence[AccountOutcome], uploads: Sequence[UploadOutcome] = ()) -> ExitStatus:
    """Relink > bad input > failed > try later; a failed upload counts as failed."""
    codes = [STATUS_EXIT.get(o.status, ExitStatus.OK) for o in outcomes]
    return combine(codes + [ExitStatus.FAILED for u in uploads if not u.ok])


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """``python -m tiktok report ARGS`` in-process, with the clock and sleep injectable (tests)."""
    parser = argparse.ArgumentParser(prog="python -m tiktok")
    add_parser(parser.add_subparsers(dest="command", required=True), [verbosity_options()])
    try:
        args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as exc:  # --help or an argparse error: keep argparse's code (0 or 2)
        return int(exc.code or 0)
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return command(args, build_services(load_settings()), clock=clock, sleep=sleep)
    except (ConfigError, TokenFileError, AccountNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
