"""The daily report (:func:`write_report`): today's counts of every connected account as CSV files, optionally
copied to S3. ``python -m tiktok report`` and the workers' daily job both call it.

For each account: a fresh token (refreshed as needed), user info (with stats when ``user.info.stats`` was granted)
and every public video, compared with the account's previous saved day (``csvfiles``). The day's files are written
atomically once every account was read; then each written file is uploaded when an S3 URI is set. One line per
account and per uploaded file; a progress bar only on a terminal.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from tqdm import tqdm

from tiktok.errors import AccountNotFound, ConfigError
from tiktok.exitcodes import DONE, FAILED, ExitStatus, exit_status, outcome_line
from tiktok.logs import inert
from tiktok.report.daily import AccountOutcome, date_problem, report_account, utc_day, write_outcomes
from tiktok.report.fetch import REPORT_RETRY, DisplayReader, display_limiter
from tiktok.report.limits import DEFAULT_JOBS
from tiktok.report.s3 import S3URIError, UploadOutcome, parse_s3_uri, upload_reports
from tiktok.retry import Runtime
from tiktok.services import Services, build_services
from tiktok.auth.tokens import Account


@dataclass(frozen=True)
class ReportRequest:
    """Which report to write; where it goes (REPORTS_DIR, REPORTS_S3_URI, AWS_ENDPOINT_URL_S3) is in the settings."""

    accounts: tuple[str, ...] = ()  # open_ids; empty: every connected account
    day: date | None = None  # None: today (UTC); yesterday fills a missed run
    jobs: int = DEFAULT_JOBS  # accounts read at once


def write_report(services: Services, request: ReportRequest = ReportRequest(), *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 say: Callable[[str], None] | None = None) -> ExitStatus:
    """Write the day's report of ``request``'s accounts, upload it when an S3 URI is set; one line per account and
    per uploaded file; the exit status. A day or S3 URI that cannot be used is a ConfigError before anything is
    read or written; an unknown account is AccountNotFound."""
    write = say or (lambda line: tqdm.write(line, file=sys.stdout))
    say = lambda line: write(inert(line, newlines=False))  # noqa: E731 - names and errors come from TikTok
    settings = services.settings.report
    emulated = services.settings.tiktok.emulated
    today = utc_day(clock())
    day = request.day or today
    problem = date_problem(day, today) or _s3_problem(settings.s3_uri)
    if problem:
        raise ConfigError(problem)
    prefix = "[emulator] " if emulated else ""
    accounts = _chosen(services, request.accounts)
    if not accounts:
        say(f"{prefix}no connected accounts in {services.settings.store.tokens_path}; log in with the app first")
    readers = thread_readers(services, Runtime(sleep=sleep, rng=random.Random(), policy=REPORT_RETRY))
    root = settings.reports_dir
    with tqdm(total=len(accounts), desc="report", unit="account", disable=None, leave=False) as bar:
        bar_lock = threading.Lock()

        def one(account: Account) -> AccountOutcome:
            outcome = report_account(readers(), root, day, account, emulated=emulated, backfill=day < today)
            with bar_lock:
                bar.update(1)
            return outcome
        outcomes = in_parallel(one, accounts, request.jobs)
    outcomes, written = write_outcomes(root, day, outcomes)
    for outcome in outcomes:
        say(prefix + format_outcome(outcome))
    uri = settings.s3_uri
    uploads = upload_reports(written, uri, endpoint_url=settings.s3_endpoint_url) if uri and written else []
    for upload in uploads:
        say(prefix + format_upload(upload, uri or ""))
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
        return f"--s3-uri / $REPORTS_S3_URI: {exc}"
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

