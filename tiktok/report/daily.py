"""One report day: the date rules, reading and comparing each account, and writing the day's CSV files."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from tiktok.atomic import atomic_write
from tiktok.exitcodes import BAD_INPUT, DONE, FAILED, RELINK, SKIPPED, TRY_LATER
from tiktok.errors import RelinkNeeded, ScopeError, TikTokError
from tiktok.report import csvfiles
from tiktok.report.csvfiles import AccountDay, ReportFileError
from tiktok.report.fetch import AccountReading, DisplayReader
from tiktok.report.snapshot import VIDEO_COLUMNS, AccountStats, video_rows
from tiktok.auth.tokens import Account
from tiktok.words import relink, said



@dataclass(frozen=True)
class AccountOutcome:
    """One account's result; ``day`` holds what to write when ``status`` is DONE."""

    open_id: str
    label: str
    status: str
    detail: str
    day: AccountDay | None = None


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


def report_account(reader: DisplayReader, root: Path, day: date, account: Account, *, emulated: bool,
                   backfill: bool) -> AccountOutcome:
    """Read one account and compare it with its previous saved day; nothing is written here."""
    def outcome(status: str, detail: str, prepared: AccountDay | None = None) -> AccountOutcome:
        return AccountOutcome(account.open_id, account.label, status, detail, prepared)

    if account.emulated != emulated:
        where, now = ("the emulator", "TikTok") if account.emulated else ("TikTok", "the emulator")
        return outcome(SKIPPED, f"linked through {where}; not reported while talking to {now}")
    if account.relink_reason:
        return outcome(RELINK, str(relink(account.relink_reason)))
    if "video.list" not in account.scopes:
        return outcome(RELINK, "the video.list scope was not granted; log in again in the app and allow it")
    try:
        reading = reader.read(account)
    except RelinkNeeded as exc:
        return outcome(RELINK, str(relink(exc.reason)))
    except ScopeError as exc:
        return outcome(RELINK, str(said(exc)))
    except TikTokError as exc:
        if exc.transient:
            return outcome(TRY_LATER, f"{exc} persisted after retries; nothing written for it, try later")
        return outcome(FAILED, f"could not read the account: {said(exc)}")
    if reading.username and not account.username:  # linked without the profile scope's name: name it now
        account = replace(account, username=reading.username)
    if backfill and (later := _reported_since(root, day, account.open_id, {reading.username, account.username})):
        return outcome(BAD_INPUT, f"already has a report for {later}; a back-fill only fills a missed day")
    try:
        prepared = prepare_day(root, day, reading)
    except ReportFileError as exc:
        return outcome(BAD_INPUT, f"an earlier report cannot be read: {exc}")
    return outcome(DONE, describe(prepared, reading, backfill), prepared)


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
    ready = [o.day for o in outcomes if o.status == DONE]
    if not ready:
        return outcomes, []
    try:
        paths, summary = write_files(root, day, ready)
    except ReportFileError as exc:
        return _mark(outcomes, BAD_INPUT, f"nothing written for {day}: {exc}"), []
    except (OSError, ValueError) as exc:
        return _mark(outcomes, FAILED, f"nothing written for {day}: {exc}"), []
    updated = [_with_file(o, paths[o.open_id]) if o.status == DONE else o for o in outcomes]
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


def _mark(outcomes: list[AccountOutcome], status: str, detail: str) -> list[AccountOutcome]:
    return [AccountOutcome(o.open_id, o.label, status, detail) if o.status == DONE else o for o in outcomes]


def _with_file(outcome: AccountOutcome, path: object) -> AccountOutcome:
    return AccountOutcome(outcome.open_id, outcome.label, outcome.status, f"{path}: {outcome.detail}", outcome.day)
