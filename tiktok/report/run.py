"""``python -m tiktok report``: today's counts of every connected account as CSV files, optionally copied to S3.

For each account: a fresh token (refreshed as needed), user info (with stats when ``user.info.stats`` was granted)
and every public video, compared with the account's previous saved day (``csvfiles``). The day's files are written
atomically once every account was read; then each written file is uploaded when an S3 URI is set. One line per
account and per uploaded file; a progress bar only on a terminal.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from tiktok.config import read_environment
from tiktok.errors import AccountNotFound
from tiktok.exitcodes import DONE, FAILED, ExitStatus, exit_status, outcome_line
from tiktok.logs import inert
from tiktok.report.daily import AccountOutcome, date_problem, report_account, utc_day, write_outcomes
from tiktok.report.fetch import REPORT_RETRY, DisplayReader, display_limiter
from tiktok.report.cli import DEFAULT_JOBS, DEFAULT_REPORTS_DIR, REPORTS_DIR_ENV, S3_ENDPOINT_ENV, S3_URI_ENV
from tiktok.report.s3 import S3URIError, UploadOutcome, parse_s3_uri, upload_reports
from tiktok.retry import Runtime
from tiktok.services import Services, build_services
from tiktok.auth.tokens import Account

def command(args: argparse.Namespace, services: Services, *, clock: Callable[[], float] = time.time,
            sleep: Callable[[float], None] = time.sleep, say: Callable[[str], None] | None = None) -> int:
    """Run the parsed ``report`` command; returns the exit code."""
    write = say or (lambda line: tqdm.write(line, file=sys.stdout))
    say = lambda line: write(inert(line, newlines=False))  # noqa: E731 - names and errors come from TikTok
    env = read_environment()
    today = utc_day(clock())
    day = args.date or today
    root = Path(args.reports or env.get(REPORTS_DIR_ENV) or DEFAULT_REPORTS_DIR)
    s3_uri = args.s3_uri or env.get(S3_URI_ENV) or None
    problem = date_problem(day, today) or _s3_problem(s3_uri)
    if problem:
        print(f"error: {inert(problem, newlines=False)}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    prefix = "[emulator] " if services.settings.emulated else ""
    accounts = _chosen(services, args.account)
    if not accounts:
        say(f"{prefix}no connected accounts in {services.settings.tokens_path}; log in with the app first")
    readers = thread_readers(services, Runtime(sleep=sleep, rng=random.Random(), policy=REPORT_RETRY))
    with tqdm(total=len(accounts), desc="report", unit="account", disable=None, leave=False) as bar:
        bar_lock = threading.Lock()

        def one(account: Account) -> AccountOutcome:
            outcome = report_account(readers(), root, day, account, emulated=services.settings.emulated,
                                     backfill=day < today)
            with bar_lock:
                bar.update(1)
            return outcome
        outcomes = in_parallel(one, accounts, getattr(args, "jobs", DEFAULT_JOBS))
    outcomes, written = write_outcomes(root, day, outcomes)
    for outcome in outcomes:
        say(prefix + format_outcome(outcome))
    endpoint = args.s3_endpoint_url or env.get(S3_ENDPOINT_ENV) or None  # also from .env, which boto3 ignores
    uploads = upload_reports(written, s3_uri, endpoint_url=endpoint) if s3_uri and written else []
    for upload in uploads:
        say(prefix + format_upload(upload, s3_uri))
    return exit_status([*outcomes, *(FAILED for u in uploads if not u.ok)])  # a failed upload counts as failed


def thread_readers(services: Services, runtime: Runtime) -> Callable[[], DisplayReader]:
    """Each worker thread's own reader: its own HTTP session (a requests.Session is not shared between threads),
    the one token store (file-locked, so refreshes stay safe) and one limiter for the whole run."""
    limiter, local = display_limiter(), threading.local()
    main = threading.get_ident()

    def reader() -> DisplayReader:
        if getattr(local, "reader", None) is None:
            own = services if threading.get_ident() == main else build_services(services.settings,
                                                                                store=services.store)
            local.reader = DisplayReader(own, runtime, limiter)
        return local.reader
    return reader


def in_parallel(work: Callable[[Account], AccountOutcome], accounts: Sequence[Account],
                jobs: int) -> list[AccountOutcome]:
    """``work`` for every account, ``jobs`` at a time; the outcomes in the accounts' order whatever ends first."""
    if jobs <= 1 or len(accounts) <= 1:
        return [work(account) for account in accounts]
    with ThreadPoolExecutor(max_workers=min(jobs, len(accounts)), thread_name_prefix="report") as pool:
        return list(pool.map(work, accounts))


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


def format_outcome(outcome: AccountOutcome) -> str:
    return outcome_line(outcome.status, outcome.label, outcome.detail)


def format_upload(upload: UploadOutcome, uri: str) -> str:
    if upload.ok:
        bucket, _ = parse_s3_uri(uri)
        return outcome_line(DONE, str(upload.path), f"uploaded to s3://{bucket}/{upload.key}")
    return outcome_line(FAILED, str(upload.path), f"not uploaded: {upload.error}; the local file is kept")

