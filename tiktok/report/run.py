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
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from tiktok.atomic import atomic_write
from tiktok.config import load_settings, read_environment
from tiktok.errors import AccountNotFound, ConfigError, RelinkNeeded, ScopeError, TikTokError, TokenFileError
from tiktok.exitcodes import ExitStatus, combine
from tiktok.logs import configure_logging
from tiktok.report import csvfiles
from tiktok.report.csvfiles import AccountDay, ReportFileError
from tiktok.report.fetch import REPORT_RETRY, AccountReading, DisplayReader
from tiktok.report.s3 import S3_URI_ENV, S3URIError, UploadOutcome, parse_s3_uri, upload_reports
from tiktok.report.snapshot import VIDEO_COLUMNS, AccountStats, video_rows
from tiktok.retry import Runtime
from tiktok.services import Services, build_services
from tiktok.tokens import Account

REPORTS_DIR_ENV = "REPORTS_DIR"
DEFAULT_REPORTS_DIR = "reports"
S3_ENDPOINT_ENV = "AWS_ENDPOINT_URL_S3"  # boto3's own variable for the S3 endpoint

Status = Literal["written", "skipped", "relink", "bad-input", "failed", "retry"]
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


@dataclass(frozen=True)
class AccountOutcome:
    """One account's result; ``day`` holds what to write when ``status`` is ``written``."""

    open_id: str
    label: str
    status: Status
    detail: str
    day: AccountDay | None = None


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


def date_problem(day: date, today: date) -> str | None:
    """Why ``day`` cannot be reported on ``today``, or None."""
    if day > today:
        return f"--date {day} is after today ({today}, UTC)"
    if day < today - timedelta(days=1):
        return (f"--date {day}: TikTok's Display API returns only current counts and keeps no history, so only "
                f"today ({today}) or yesterday (to fill a missed run) can be reported")
    return None


def utc_day(epoch_s: float) -> date:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).date()


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


def report_account(reader: DisplayReader, root: Path, day: date, account: Account, *, emulated: bool,
                   backfill: bool) -> AccountOutcome:
    """Read one account and compare it with its previous saved day; nothing is written here."""
    def outcome(status: Status, detail: str, prepared: AccountDay | None = None) -> AccountOutcome:
        return AccountOutcome(account.open_id, account.label, status, detail, prepared)

    if account.emulated != emulated:
        where, now = ("the emulator", "TikTok") if account.emulated else ("TikTok", "the emulator")
        return outcome("skipped", f"linked through {where}; not reported while talking to {now}")
    if account.relink_reason:
        return outcome("relink", f"log in again in the app: {account.relink_reason}")
    if "video.list" not in account.scopes:
        return outcome("relink", "the video.list scope was not granted; log in again in the app and allow it")
    try:
        reading = reader.read(account)
    except RelinkNeeded as exc:
        return outcome("relink", f"log in again in the app: {exc.reason}")
    except ScopeError as exc:
        return outcome("relink", f"TikTok refused a scope ({exc}); log in again in the app and allow it")
    except TikTokError as exc:
        if exc.transient:
            return outcome("retry", f"{exc} persisted after retries; nothing written for it, try later")
        return outcome("failed", f"could not read the account: {exc}")
    if reading.username and not account.username:  # linked without the profile scope's name: name it now
        account = replace(account, username=reading.username)
    if backfill and (later := _reported_since(root, day, account.open_id, {reading.username, account.username})):
        return outcome("bad-input", f"already has a report for {later}; a back-fill only fills a missed day")
    try:
        prepared = prepare_day(root, day, reading)
    except ReportFileError as exc:
        return outcome("bad-input", f"an earlier report cannot be read: {exc}")
    return outcome("written", describe(prepared, reading, backfill), prepared)


def _reported_since(root: Path, day: date, open_id: str, usernames: set[str | None]) -> date | None:
    """The first day on or after ``day`` that already has a CSV for this account (under any of its names)."""
    for saved in csvfiles.report_days(root):
        folder = csvfiles.day_dir(root, saved)
        if saved >= day and any(csvfiles.find_account_file(folder, open_id, name or None) for name in usernames):
            return saved
    return None


def prepare_day(root: Path, day: date, reading: AccountReading) -> AccountDay:
    """The rows to write; without stats the summary row is None (the account gets no summary line)."""
    if reading.stats is not None:
        return csvfiles.build_account_day(root, day, reading.stats, reading.videos)
    # Only open_id and username of this placeholder reach the video rows; its counts are never written.
    who = AccountStats(reading.open_id, reading.username, 0, 0, 0, 0)
    previous = csvfiles.load_previous(root, day, reading.open_id, reading.username)
    return AccountDay(account=who, video_rows=video_rows(day, who, reading.videos, previous), summary_row=None)


def describe(prepared: AccountDay, reading: AccountReading, backfill: bool) -> str:
    """The detail of a written account's line (the file name is added once written)."""
    parts = [f"{len(reading.videos)} videos"]
    row = prepared.summary_row
    if row is None:
        parts.append("no follower counts (user.info.stats not granted; relink to include them)")
    else:
        change = row["follower_count_change"]
        since = f" ({change:+d} since {row['previous_date']})" if change is not None else " (first report)"
        parts.append(f"{row['follower_count']} followers{since}")
    if backfill:
        parts.append("back-filled with the counts of now, the API keeps no history")
    return "; ".join(parts)


def write_outcomes(root: Path, day: date, outcomes: list[AccountOutcome]) -> tuple[list[AccountOutcome], list[Path]]:
    """Write the day's files for every account read; returns updated outcomes and the paths written."""
    ready = [o.day for o in outcomes if o.status == "written"]
    if not ready:
        return outcomes, []
    try:
        paths, summary = write_files(root, day, ready)
    except ReportFileError as exc:
        return _mark(outcomes, "bad-input", f"nothing written for {day}: {exc}"), []
    except (OSError, ValueError) as exc:
        return _mark(outcomes, "failed", f"nothing written for {day}: {exc}"), []
    updated = [_with_file(o, paths[o.open_id]) if o.status == "written" else o for o in outcomes]
    return updated, [*paths.values(), *([summary] if summary else [])]


def write_files(root: Path, day: date, days: list[AccountDay]) -> tuple[dict[str, Path], Path | None]:
    """Each account's CSV by open_id, and the summary (None when no account had stats)."""
    with_stats = [d for d in days if d.summary_row is not None]
    paths: dict[str, Path] = {}
    summary = None
    if with_stats:
        written = csvfiles.write_day(root, day, with_stats)
        paths.update({d.account.open_id: p for d, p in zip(with_stats, written)})
        summary = written[-1]
    folder = csvfiles.day_dir(root, day)
    for item in days:
        if item.summary_row is None:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / csvfiles.account_file_name(item.account.open_id, item.account.username)
            atomic_write(path, csvfiles.render_csv(VIDEO_COLUMNS, item.video_rows), mode=csvfiles.FILE_MODE)
            paths[item.account.open_id] = path
    return {d.account.open_id: paths[d.account.open_id] for d in days}, summary


def _mark(outcomes: list[AccountOutcome], status: Status, detail: str) -> list[AccountOutcome]:
    return [AccountOutcome(o.open_id, o.label, status, detail) if o.status == "written" else o for o in outcomes]


def _with_file(outcome: AccountOutcome, path: object) -> AccountOutcome:
    return AccountOutcome(outcome.open_id, outcome.label, outcome.status, f"{path}: {outcome.detail}", outcome.day)


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
    from tiktok.cli import build_parser  # cli imports this module for the subcommand

    try:
        args = build_parser().parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as exc:  # --help or an argparse error: keep argparse's code (0 or 2)
        return int(exc.code or 0)
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return command(args, build_services(load_settings()), clock=clock, sleep=sleep)
    except (ConfigError, TokenFileError, AccountNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
