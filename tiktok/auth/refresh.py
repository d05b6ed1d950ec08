"""Refresh what is about to expire, for cron, the workers and the app's /refresh_tokens/ page.

Each account gets one :class:`Outcome`; ``tiktok.exitcodes.exit_status`` folds them into the exit code. A Ctrl-C or
SIGTERM that arrives during an account's refresh is held until its new tokens are written and its outcome is
reported (``on_outcome``), then stops the run (:mod:`tiktok.signals`; main thread only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from tiktok.auth.access import RELINK_WARNING_S, refresh_account
from tiktok.errors import AccountNotFound, RelinkNeeded, TikTokError, TokenFileError
from tiktok.exitcodes import DONE, FAILED, RELINK, SKIPPED, TRY_LATER, outcome_line
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import Account, TokenStore
from tiktok.signals import Hold
from tiktok.text import duration, moment
from tiktok.words import relink, said


@dataclass(frozen=True)
class Outcome:
    """How one account's refresh ended: an outcome word (``status``) and a sentence for people (``detail``)."""

    open_id: str
    label: str
    status: str  # one of tiktok.exitcodes.OUTCOMES
    detail: str


def refresh_accounts(store: TokenStore, oauth: OAuthClient, *, within: float, refresh_all: bool = False,
                     only: Iterable[str] = (), emulated: bool,
                     on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Refresh the accounts whose access token expires within ``within`` seconds (or all of them), calling
    ``on_outcome`` with each account's outcome as soon as it is known."""
    wanted = list(only)
    accounts = store.load()
    for open_id in wanted:
        if open_id not in accounts:
            raise AccountNotFound(open_id, store.path)
    outcomes = []
    for account in [accounts[oid] for oid in (wanted or sorted(accounts))]:
        with Hold():  # a signal held during this account's refresh waits until its outcome is reported too
            outcome = _refresh_one(store, oauth, account, within=within, force=refresh_all, emulated=emulated)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes


def _refresh_one(store: TokenStore, oauth: OAuthClient, account: Account, *, within: float, force: bool,
                 emulated: bool) -> Outcome:
    def outcome(status: str, detail: str, acct: Account = account) -> Outcome:
        return Outcome(acct.open_id, acct.label, status, detail)

    if account.emulated != emulated:
        where = "the emulator" if account.emulated else "TikTok"
        return outcome(SKIPPED, f"linked through {where}; not refreshed while talking to "
                                  f"{'the emulator' if emulated else 'TikTok'}")
    if account.relink_reason:
        return outcome(RELINK, str(relink(account.relink_reason)))
    now = store.clock()
    if not force and not account.access_expires_within(within, now):
        return _after(outcome, account, SKIPPED,
                      f"still fresh: access token valid for {time_left(account.expires_at - now)}", now)
    try:
        refreshed = refresh_account(store, oauth, account.open_id, leeway=within, force=force)
    except RelinkNeeded as exc:
        return outcome(RELINK, str(relink(exc.reason)))
    except TokenFileError:
        raise  # the file itself is unusable (full or read-only disk, wrong key): the whole run stops, exit 2
    except TikTokError as exc:
        return outcome(TRY_LATER if exc.transient else FAILED, f"refresh failed: {said(exc)}")
    now = store.clock()
    return _after(outcome, refreshed, DONE,
                  f"refreshed: access token valid until {moment(refreshed.expires_at)}", now)


def _after(outcome, account: Account, status: str, detail: str, now: float) -> Outcome:
    """RELINK (soon) when the refresh token itself is running out, whatever else happened."""
    if account.refresh_expires_within(RELINK_WARNING_S, now):
        left = time_left(account.refresh_expires_at - now)
        return outcome(RELINK, f"{detail}; relink soon: the refresh token expires in {left} "
                               f"({moment(account.refresh_expires_at)}): log in again in the app before then", account)
    return outcome(status, f"{detail}; refresh token until {moment(account.refresh_expires_at)}", account)


def format_outcome(outcome: Outcome) -> str:
    """One command line for one account's outcome."""
    return outcome_line(outcome.status, outcome.label, outcome.detail)


def time_left(seconds: float) -> str:
    """How long a token is still valid: ``3 days 4 h``, ``42 s``; ``expired`` for zero or less."""
    return duration(seconds) if seconds > 0 else "expired"
