"""The status figures: how the queue, the accounts, the report and the workers stand now, gathered once into a
:class:`Figures` that ``python -m tiktok status`` prints (lines or ``--json``), ``/status/`` shows and ``/metrics``
gives Prometheus. Each figure has one source:

=====================  =========================================================================================
queue age              the oldest post due and not started yet (due within POST_GRACE): how long it has waited
in flight              posts started and not ended (init sent, uploading, processing): the Posts page's In progress
failures, last day     posts on the Failed list changed in the last 24 hours, and posts that missed their time then
TikTok 429s            answers of ``rate_limit_exceeded`` every process met (:func:`rate_limit_counter`), last 24 h
                       (by the hour) and in all: counted in the post store (:mod:`tiktok.store.status`)
last refresh           each account's ``refreshed_at`` in the token store, and whether it must be linked again
last report            the newest day folder of REPORTS_DIR holding a CSV, and its newest file's time
workers                (DATABASE_URL) Procrastinate's ``procrastinate_workers``: each worker's last heartbeat, alive
                       while it is younger than WORKER_STALLED_S (the workers' own rule)
=====================  =========================================================================================

:attr:`Figures.exit_status` is the status command's exit code, so cron can trust it: 0 healthy; 1 a post failed or
missed its time in the last 24 hours, or (DATABASE_URL) no worker is alive or one has gone silent; 3 an account must
be linked again (3 wins over 1). It lives in the store layer so that both the app and the commands may import it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from tiktok.config import Settings
from tiktok.exitcodes import ExitStatus, combine

log = logging.getLogger(__name__)

DAY_S = 24 * 3600  # "the last day" of the failures and 429s
DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")  # the report's layout: REPORTS_DIR/YYYY-MM-DD/<account>.csv


@dataclass(frozen=True)
class AccountFigure:
    """One connected account: its name (@username when known), when its tokens were last refreshed (None when the
    token store never recorded it), until when its refresh token lasts, and why it must be linked again ("")."""

    open_id: str
    name: str
    refreshed_at: float | None
    refresh_expires_at: float
    relink_reason: str = ""

    @property
    def relink_needed(self) -> bool:
        return bool(self.relink_reason)


@dataclass(frozen=True)
class ReportFigure:
    """The newest daily report on disk: its day, the newest of its files' times, and its folder."""

    day: str
    written_at: float
    folder: str


@dataclass(frozen=True)
class WorkerFigure:
    """One of Procrastinate's workers (DATABASE_URL): its id, name (host:pid, "" when never named), last heartbeat
    (epoch seconds), how long ago that was by the database's clock, jobs running, and alive (heard within
    WORKER_STALLED_S)."""

    id: int
    name: str
    last_heartbeat: float
    silent_s: float
    running: int
    alive: bool


@dataclass(frozen=True)
class Figures:
    """Everything the status shows, at one moment ``at`` (epoch seconds)."""

    at: float
    store: str                       # where the posts are: the SQLite file or the database (no password)
    oldest_due_at: float | None      # since when the longest-waiting due, not-started post has waited
    due: int
    in_flight: int
    failed_last_day: int
    missed_last_day: int
    rate_limited_last_day: int
    rate_limited_total: int
    accounts: tuple[AccountFigure, ...]
    report: ReportFigure | None
    workers: tuple[WorkerFigure, ...] | None  # None: no DATABASE_URL (no workers to ask about)
    stalled_s: float                 # WORKER_STALLED_S

    @property
    def queue_age_s(self) -> float | None:
        """How long the oldest due, not-started post has waited; None when none waits."""
        return None if self.oldest_due_at is None else max(0.0, self.at - self.oldest_due_at)

    @property
    def problems(self) -> list[tuple[ExitStatus, str]]:
        """Why the status is not healthy, one plain sentence each with the exit code it stands for; empty when all
        is well."""
        from tiktok.text import count, duration

        found: list[tuple[ExitStatus, str]] = []
        if self.failed_last_day:
            found.append((ExitStatus.FAILED, f"{count(self.failed_last_day, 'post')} failed in the last 24 hours: "
                                             "the Posts page lists them under Failed, with what to do"))
        if self.missed_last_day:
            its, them = ("its", "it") if self.missed_last_day == 1 else ("their", "them")
            found.append((ExitStatus.FAILED, f"{count(self.missed_last_day, 'post')} missed {its} time in the last "
                                             f"24 hours (no run posted {them} within POST_GRACE): give {them} a new "
                                             "time on the Posts page"))
        for account in self.accounts:
            if account.relink_needed:
                found.append((ExitStatus.RELINK_NEEDED, f"{account.name} must be linked again in the app "
                                                        "(Relink on the accounts page)"))
        if self.workers is not None:
            if not any(w.alive for w in self.workers):
                found.append((ExitStatus.FAILED, "no worker is running: posts wait until one starts "
                                                 "(python -m tiktok worker)"))
            for w in self.workers:
                if not w.alive:
                    found.append((ExitStatus.FAILED, f"worker {w.name or w.id} has been silent for "
                                                     f"{duration(w.silent_s)} (WORKER_STALLED_S is "
                                                     f"{duration(self.stalled_s)}): stopped, frozen or cut off"))
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def exit_status(self) -> ExitStatus:
        """0 healthy; 1 a failure or missed post in the last day, or a silent or missing worker; 3 a relink (3 wins
        over 1): the status command's exit code."""
        return combine(code for code, _ in self.problems)

    def to_json(self) -> dict[str, Any]:
        """The figures for machines (``--json``): instants as UTC ISO strings, durations in seconds."""
        from tiktok.text import utc_iso

        def iso(epoch: float | None) -> str | None:
            return None if epoch is None else utc_iso(epoch)

        return {
            "at": iso(self.at), "healthy": self.healthy, "exit_status": int(self.exit_status),
            "problems": [text for _, text in self.problems], "store": self.store,
            "queue": {"age_s": self.queue_age_s, "oldest_due_at": iso(self.oldest_due_at), "due": self.due,
                      "in_flight": self.in_flight},
            "last_day": {"failed": self.failed_last_day, "missed": self.missed_last_day,
                         "rate_limited": self.rate_limited_last_day},
            "rate_limited_total": self.rate_limited_total,
            "accounts": [{"open_id": a.open_id, "name": a.name, "refreshed_at": iso(a.refreshed_at),
                          "refresh_expires_at": iso(a.refresh_expires_at), "relink_needed": a.relink_needed}
                         for a in self.accounts],
            "report": None if self.report is None else {**asdict(self.report),
                                                        "written_at": iso(self.report.written_at)},
            "workers": None if self.workers is None else [
                {**asdict(w), "last_heartbeat": iso(w.last_heartbeat)} for w in self.workers],
            "worker_stalled_s": self.stalled_s,
        }


def gather(settings: Settings, store, tokens, *, now: float | None = None) -> Figures:
    """The figures from ``store`` (the post store), ``tokens`` (the token store), the report folder and, with
    DATABASE_URL, Procrastinate's workers, at ``now`` (default: the post store's clock). A store or database that
    cannot be used raises its typed error (StoreError, DatabaseError): the status cannot be told then."""
    now = store.clock() if now is None else now
    since = now - DAY_S
    queue = store.queue_figures(now=now, grace_s=settings.posting.post_grace_s, since=since)
    rate_recent, rate_total = store.rate_limited(since=since)
    url = settings.store.database_url
    return Figures(
        at=now, store=store.where, oldest_due_at=queue.oldest_due_at, due=queue.due, in_flight=queue.in_flight,
        failed_last_day=queue.failed, missed_last_day=queue.missed, rate_limited_last_day=rate_recent,
        rate_limited_total=rate_total, accounts=account_figures(tokens.load().values()),
        report=last_report(settings.report.reports_dir),
        workers=read_workers(url, settings.worker.stalled_s) if url else None, stalled_s=settings.worker.stalled_s)


def account_figures(accounts) -> tuple[AccountFigure, ...]:
    """The accounts by name: @username when known, else the display name, else the open_id."""
    figures = [AccountFigure(open_id=a.open_id, name=f"@{a.username}" if a.username else a.display_name or a.open_id,
                             refreshed_at=a.refreshed_at or None, refresh_expires_at=a.refresh_expires_at,
                             relink_reason=a.relink_reason) for a in accounts]
    return tuple(sorted(figures, key=lambda a: (a.name.lower(), a.open_id)))


def last_report(root: Path) -> ReportFigure | None:
    """The newest day folder under ``root`` (REPORTS_DIR) that holds a CSV, and its newest file's time; None when
    there is none (or the folder cannot be read)."""
    try:
        days = sorted((p for p in Path(root).iterdir() if DAY_FOLDER.fullmatch(p.name) and p.is_dir()), reverse=True)
    except OSError:
        return None
    for day in days:
        try:
            times = [f.stat().st_mtime for f in day.glob("*.csv")]
        except OSError:
            continue
        if times:
            return ReportFigure(day=day.name, written_at=max(times), folder=str(day))
    return None


def read_workers(url: str, stalled_s: float) -> tuple[WorkerFigure, ...]:
    """Every worker in Procrastinate's ``procrastinate_workers``, oldest first (:func:`tiktok.db.workers.read_workers`),
    alive when heard from within ``stalled_s``. DatabaseError (run db migrate) when the tables are missing,
    DatabaseUnavailable when the server cannot be reached."""
    from tiktok.db.workers import read_workers as rows

    return tuple(WorkerFigure(id=w.id, name=w.name, last_heartbeat=w.last_heartbeat, silent_s=w.silent_s,
                              running=w.running, alive=w.alive(stalled_s)) for w in rows(url))


def lines(figures: Figures) -> list[str]:
    """The figures as the status command prints them: times in the person's zone, zone named."""
    from tiktok.text import count, duration, moment, relative

    at = figures.at
    problems = figures.problems
    out = [f"status at {moment(at, seconds=True)}: "
           + ("healthy" if not problems else f"{count(len(problems), 'problem')} (exit {int(figures.exit_status)})"),
           f"posts in {figures.store}"]
    if figures.oldest_due_at is None:
        out.append("queue: no post is due and waiting")
    else:
        out.append(f"queue: {count(figures.due, 'post')} due and not started; the oldest has waited "
                   f"{duration(figures.queue_age_s or 0)} (due since {moment(figures.oldest_due_at)})")
    out.append(f"in flight: {count(figures.in_flight, 'post')}")
    out.append(f"last 24 hours: {count(figures.failed_last_day, 'post')} failed, "
               f"{figures.missed_last_day:,} missed their time; TikTok's rate limit answered "
               f"{count(figures.rate_limited_last_day, 'call')} with 429 ({figures.rate_limited_total:,} in all)")
    if not figures.accounts:
        out.append("accounts: none connected")
    for account in figures.accounts:
        refreshed = ("never refreshed" if account.refreshed_at is None else
                     f"last refreshed {moment(account.refreshed_at)} ({relative(account.refreshed_at, at)})")
        line = f"account {account.name}: {refreshed}; refresh token until {moment(account.refresh_expires_at)}"
        out.append(line + ("; MUST BE LINKED AGAIN in the app" if account.relink_needed else ""))
    if figures.report is None:
        out.append("last report: none written yet (python -m tiktok report)")
    else:
        out.append(f"last report: {figures.report.day}, written {moment(figures.report.written_at)} "
                   f"({relative(figures.report.written_at, at)}) in {figures.report.folder}")
    if figures.workers is not None:
        alive = sum(1 for w in figures.workers if w.alive)
        out.append(f"workers: {count(len(figures.workers), 'worker')}, {alive} alive (silent for "
                   f"{duration(figures.stalled_s)} or more is stale, WORKER_STALLED_S)")
        for w in figures.workers:
            out.append(f"  worker {w.id} {w.name or '(no name)'}: {'alive' if w.alive else 'STALE'}, last heartbeat "
                       f"{moment(w.last_heartbeat, seconds=True)}, {duration(w.silent_s)} ago"
                       + (f", running {count(w.running, 'job')}" if w.running else ""))
    out.extend(f"problem: {text}" for _, text in problems)
    return out


def rate_limit_counter(settings: Settings) -> Callable[[Exception], None]:
    """What :class:`tiktok.api.ApiClient` calls on every answer of TikTok's rate limit (429 ``rate_limit_exceeded``):
    one more in the post store ``settings`` name, which every process shares (the SQLite file, or the database). The
    store is opened for the count and closed after (429s are rare: the request limiter keeps calls under TikTok's
    limits). A count that cannot be written is logged and dropped: counting never changes what the call does."""

    def count(_error: Exception) -> None:
        from tiktok.store.base import open_store

        try:
            store = open_store(settings)
            try:
                store.count_rate_limited()
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - the 429 goes on to be waited out or reported whatever happens here
            log.warning("a 429 from TikTok was not counted for the status figures: %s", exc)
    return count
