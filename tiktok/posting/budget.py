"""An account's posting budget: what TikTok still lets it post, worked out from the store's facts at a given time.
Pure (no I/O, no clock of its own): the store gives the attempts (``PostStore.started_since``), the caller gives now.

TikTok refuses, per account over a rolling 24 hours:

- a Direct Post once the account made DAILY_DIRECT_POSTS of them (``spam_risk_too_many_posts``, reference section
  7: about 15 a creator a day);
- an inbox draft while PENDING_DRAFTS drafts are pending (``spam_risk_too_many_pending_share``, reference section
  3.3: 5 in 24 hours);
- for an app TikTok has not audited, a sixth account posting through it (``reached_active_user_cap``:
  :data:`tiktok.posting.policy.UNAUDITED_POSTING_USERS`; the publisher stops that one before its init).

What counts is every attempt TikTok took (it answered the init with a publish_id) or may have taken (the init went
and no answer came), whatever became of the post: TikTok counts accepted inits. This tool cannot see whether the
creator finished a draft in the TikTok app, so every draft sent in 24 hours counts as pending. An attempt's time is
when it was published, or else its last change: never before it started, so room is said to come back no sooner
than it does. Both choices err on the side of waiting, never of a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from tiktok.posting.policy import DAY_S, UNAUDITED_POSTING_USERS
from tiktok.store.model import Started
from tiktok.text import duration, moment
from tiktok.words import details_line

DAILY_DIRECT_POSTS = 15  # reference section 7: about 15 Direct Posts per creator per 24 hours
PENDING_DRAFTS = 5  # reference section 3.3: 5 pending inbox shares per creator per 24 hours
WINDOW_S = DAY_S  # both caps count over a rolling 24 hours
TOO_MANY_POSTS = "spam_risk_too_many_posts"
TOO_MANY_DRAFTS = "spam_risk_too_many_pending_share"


@dataclass(frozen=True)
class Cap:
    """One of TikTok's per-account caps and the attempts it counts now (their times, oldest first)."""

    name: str  # how a sentence names it: "daily Direct Posts"
    code: str  # TikTok's error code when it is exceeded
    limit: int
    times: tuple[float, ...] = ()

    @property
    def used(self) -> int:
        return len(self.times)

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def room_at(self) -> float | None:
        """When one more fits (the attempt that makes room leaves the 24 hours); None: one fits now."""
        if self.left:
            return None
        return self.times[self.used - self.limit] + WINDOW_S

    def took(self, at: float) -> Cap:
        """The cap once one more attempt went at ``at``."""
        return replace(self, times=tuple(sorted((*self.times, at))))


@dataclass(frozen=True)
class Budget:
    """What ``user_id`` may still post at ``now``: its Direct Posts and pending drafts against TikTok's caps, and
    (an unaudited app) how many other accounts posted through the app in 24 hours."""

    user_id: str
    now: float
    direct: Cap
    drafts: Cap
    other_posting_users: int | None = None  # None: the app is audited (or its mode unknown): no such cap

    def cap(self, draft: bool) -> Cap:
        return self.drafts if draft else self.direct

    @property
    def used_up(self) -> bool:
        """No Direct Post fits now (the composer's warning)."""
        return self.direct.left == 0 or self.users_full

    @property
    def users_full(self) -> bool:
        return self.other_posting_users is not None and self.other_posting_users >= UNAUDITED_POSTING_USERS

    def refusal(self, draft: bool, name: str = "") -> str | None:
        """Why TikTok would refuse one more post of this kind now, naming the cap and when room comes back (TikTok's
        code in the details); None when it fits. (The unaudited app's user cap is the publisher's stop.)"""
        cap = self.cap(draft)
        room = cap.room_at
        if room is None:
            return None
        who = name or self.user_id
        return (f"waiting: {who} has used TikTok's cap of {cap.limit} {cap.name} in 24 hours ({cap.used} made in the "
                f"last 24 hours), so nothing was sent; room comes back at {moment(room)} (in "
                f"{duration(room - self.now)}), and a run then posts it ({details_line(cap.code)})")

    def took(self, draft: bool) -> Budget:
        """The budget once one more post of this kind went now."""
        if draft:
            return replace(self, drafts=self.drafts.took(self.now))
        return replace(self, direct=self.direct.took(self.now))

    def warning(self, name: str = "") -> str | None:
        """The composer's line when no Direct Post fits today (None when one does): the cap, when room comes back,
        and whether a draft still fits."""
        who = name or self.user_id
        drafts = f"an inbox draft can still go ({self.drafts.left} of {self.drafts.limit} left)" if self.drafts.left \
            else "no inbox draft fits either"
        room = self.direct.room_at
        if room is not None:
            return (f"{who} has used today's budget: {self.direct.used} of TikTok's {self.direct.limit} Direct Posts "
                    f"in 24 hours. A Direct Post added now waits until {moment(room)}; {drafts}.")
        if self.users_full:
            return (f"{self.other_posting_users} other accounts posted through this app in the last 24 hours, and an "
                    f"app TikTok has not audited may have {UNAUDITED_POSTING_USERS}: a Direct Post from {who} waits "
                    f"until one of them has not posted for 24 hours.")
        return None

    def summary(self) -> str:
        """One line: ``Direct Posts 3 of 15 in 24 h, drafts 0 of 5 in 24 h``, with when room comes back."""
        parts = []
        for cap in (self.direct, self.drafts):
            part = f"{cap.name} {cap.used} of {cap.limit} in 24 h"
            if cap.room_at is not None:
                part += f" (used up; room at {moment(cap.room_at)})"
            parts.append(part)
        if self.other_posting_users is not None:
            part = f"other accounts posting through this unaudited app {self.other_posting_users} of " \
                   f"{UNAUDITED_POSTING_USERS}"
            parts.append(part + (" (used up)" if self.users_full else ""))
        return ", ".join(parts)


def budget(user_id: str, started: Iterable[Started], now: float, *,
           posting_users: set[str] | None = None) -> Budget:
    """``user_id``'s budget at ``now`` from the store's attempts (any accounts'; only its own within 24 hours
    count). ``posting_users``: for an unaudited app, the accounts that published through it in 24 hours."""
    since = now - WINDOW_S
    direct: list[float] = []
    drafts: list[float] = []
    for attempt in started:
        if attempt.user_id == user_id and since < attempt.at <= now:
            (drafts if attempt.draft else direct).append(attempt.at)
    others = None if posting_users is None else len(posting_users - {user_id})
    return Budget(user_id, now, Cap("Direct Posts", TOO_MANY_POSTS, DAILY_DIRECT_POSTS, tuple(sorted(direct))),
                  Cap("drafts", TOO_MANY_DRAFTS, PENDING_DRAFTS, tuple(sorted(drafts))), others)


def budgets(user_ids: Iterable[str], started: Iterable[Started], now: float, *,
            posting_users: set[str] | None = None) -> dict[str, Budget]:
    """:func:`budget` of each of ``user_ids`` from one read of the store's attempts."""
    started = list(started)
    return {uid: budget(uid, started, now, posting_users=posting_users) for uid in user_ids}


def usage(store, user_ids: Iterable[str], now: float, *, app_mode_setting: str | None = None):
    """What ``python -m tiktok doctor`` and the Setup page check (:class:`tiktok.setup_checks.Usage`): each
    account's budget and, for an unaudited app, the accounts that posted through it in 24 hours."""
    from tiktok.posting.policy import app_mode
    from tiktok.setup_checks import Usage

    unaudited = app_mode(app_mode_setting, store.detected_app_mode()).unaudited
    return Usage(account_budgets(store, user_ids, now, app_mode_setting=app_mode_setting),
                 store.posting_users_since(now - WINDOW_S) if unaudited else None, UNAUDITED_POSTING_USERS)


def account_budgets(store, user_ids: Iterable[str], now: float, *, app_mode_setting: str | None = None
                    ) -> dict[str, Budget]:
    """The budgets of ``user_ids`` at ``now`` from ``store`` (a :class:`~tiktok.store.base.PostStore`): one read of
    the attempts of 24 hours and, for an unaudited app (TIKTOK_APP_MODE, or what TikTok's answers showed), one of the
    accounts that posted through it. The one function here that reads, and only through the store it is given."""
    from tiktok.posting.policy import app_mode

    mode = app_mode(app_mode_setting, store.detected_app_mode())
    users = store.posting_users_since(now - WINDOW_S) if mode.unaudited else None
    return budgets(user_ids, store.started_since(now - WINDOW_S), now, posting_users=users)
