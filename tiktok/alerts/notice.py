"""Events the store cannot see by itself, noticed at each alerts tick and recorded with
:meth:`~tiktok.store.events.EventQueries.record_event`, whose unique keys make each one once however many processes
notice it (the app, cron, --watch, every worker):

- **An account must be linked again** (the token store's ``Account.relink_reason`` is set): once per account and
  linking. The key holds when the account was linked and last refreshed, so an account linked again and later lost
  again is a new event, while the same loss seen on every tick is one.
- **A refresh token runs out** in 30, 7 or 1 days (``Account.refresh_expires_at``, as TikTok's
  ``refresh_expires_in`` was stored; refreshing does not extend it, reference 2.3): once per account, threshold and
  token, and only the nearest threshold crossed (an account first seen 5 days before is warned at 7, not 30 too).
- **A post stuck in flight**: in the Posts page's In progress group with no change for longer than
  ALERT_STUCK_AFTER (one indexed read: :meth:`~tiktok.store.events.EventQueries.in_flight_since`): once per post,
  entry revision and attempt (its publish_id).
- **A silent worker** (DATABASE_URL): a row of Procrastinate's ``procrastinate_workers`` whose last heartbeat is
  older than ALERT_WORKER_SILENT_AFTER, by the database's clock: once per worker and last heartbeat (a worker that
  thawed and froze again is a new event). A worker that stopped cleanly removed its row: no event.
- **A scheduled post missed its time**: not started, due longer ago than POST_GRACE (the Posts page's *missed*; no
  run posts it late by itself, :mod:`tiktok.posting.schedule`): once per post and entry revision (a person
  rescheduling or editing it makes a new one). One bounded read of the posts not told yet
  (:meth:`~tiktok.store.events.EventQueries.missed_untold`).
- **The daily cap nearly reached**: TikTok lets a creator make about 15 direct posts in 24 hours, across all apps
  (reference section 7 and its note 32: ``spam_risk_too_many_posts`` past it); ALERT_DAILY_CAP says how many
  (default 15, 0: off). When an account's posts published in the last 24 hours (the store's *published* events:
  :meth:`~tiktok.store.events.EventQueries.published_since`) reach the cap less :data:`CAP_MARGIN` (13 of 15), it
  is told: once per account in any 24 hours (checked under the store's write lock:
  :meth:`~tiktok.store.events.EventQueries.record_event_unless_since`), the key holding the UTC date of the
  window's first post. The count only grows when a post is published, so after a process's first tick (every
  account) only the accounts with a publication since its last tick are looked at.
- **The daily digest** (NOTIFY_DIGEST, a local time of day in TZ; off by default): once a day, at the first tick at
  or after that time, one event keyed with the local date, holding the last 24 hours' events counted by kind
  (:meth:`~tiktok.store.events.EventQueries.counts_since`) and what needs a person now: the accounts to link again
  and the posts in the Posts page's Failed group (failed or missed). A process that starts after that time the same
  day sends it then (one a day, whichever process is first).

The rules are pure functions (:func:`account_events`, :func:`stuck_event`, :func:`worker_event`,
:func:`missed_event`, :func:`cap_event`, :func:`digest_date`, :func:`digest_event`); :class:`Notice` reads what
they need and records what they give, skipping keys the store already holds (one read), so a tick that finds
nothing new writes nothing. A check that cannot run (the token file unreadable, the database away) is one log
line, repeated only when what it says changes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, time as time_of_day, timezone, tzinfo
from typing import Any, Callable, Iterable, Mapping

from tiktok.config import DEFAULT_ALERT_DAILY_CAP, DEFAULT_POST_GRACE_S
from tiktok.store import events as ev
from tiktok.store.events import Event, InFlight, KindCounts, Missed, NewEvent, missed_key, record_facts
from tiktok.text import local_zone

log = logging.getLogger(__name__)

DAY_S = 86400.0
REFRESH_WARN_DAYS = (1, 7, 30)  # issue 24: "refresh token runs out in 30/7/1 days"; the nearest crossed is told
STUCK_BATCH = 100  # stuck posts read per tick (the oldest first); more wait for the next tick
MISSED_BATCH = 100  # missed posts not told yet read per tick (the oldest first); more are told at the next tick
DEFAULT_GRACE_S = DEFAULT_POST_GRACE_S  # POST_GRACE's default: an hour
DEFAULT_DAILY_CAP = DEFAULT_ALERT_DAILY_CAP  # reference section 7: "~15 per 24 h ... shared across all API clients"
CAP_MARGIN = 2  # told at the cap less this: 13 of 15 leaves room for the posts already scheduled that day
CAP_BATCH = 1000  # publications read per tick to find the accounts whose count grew


@dataclass(frozen=True)
class SilentWorker:
    """A row of ``procrastinate_workers`` past the silence limit: its id, name (host:pid, "" when unnamed), last
    heartbeat (epoch seconds) and how long ago that was by the database's clock."""

    id: int
    name: str
    last_heartbeat: float
    silent_s: float


def _who(account: Any) -> dict[str, Any]:
    return {"username": account.username, "display_name": account.display_name, "emulated": bool(account.emulated)}


def account_events(account: Any, now: float) -> list[NewEvent]:
    """The events an account (:class:`tiktok.auth.tokens.Account`) makes at ``now``: *must relink* while its
    relink reason is set, else *refresh token running out* at the nearest of REFRESH_WARN_DAYS it has crossed."""
    open_id = account.open_id
    if account.relink_reason:
        linking = f"{account.linked_at:.0f}.{account.refreshed_at:.0f}"
        return [NewEvent(ev.ACCOUNT_RELINK, f"account-relink:{open_id}:{linking}",
                         {"reason": account.relink_reason, **_who(account)}, user_id=open_id)]
    left = account.refresh_expires_at - now
    if left <= 0:  # already run out: its next refresh fails and it must relink (that event says so)
        return []
    for days in REFRESH_WARN_DAYS:
        if left <= days * DAY_S:
            key = f"refresh-expiring:{open_id}:{days}d:{account.refresh_expires_at:.0f}"
            return [NewEvent(ev.REFRESH_EXPIRING, key, {"days": days, "expires_at": account.refresh_expires_at,
                                                        **_who(account)}, user_id=open_id)]
    return []


def stuck_event(item: InFlight, *, stuck_after_s: float) -> NewEvent:
    """The *stuck* event of a post in flight whose last change (``item.updated_at``) is older than allowed."""
    record = item.record
    attempt = (record.publish_id if record is not None else None) or "init"
    data: dict[str, Any] = {"post_id": item.post_id, "since": item.updated_at, "stuck_after_s": stuck_after_s}
    if record is not None:
        data["record"] = record_facts(record)
    return NewEvent(ev.POST_STUCK, f"post-stuck:{item.key}:r{item.revision}:{attempt}", data,
                    user_id=item.user_id, post_id=item.post_id)


def worker_event(worker: SilentWorker) -> NewEvent:
    """The *worker silent* event of a worker whose heartbeats stopped."""
    return NewEvent(ev.WORKER_SILENT, f"worker-silent:{worker.id}:{worker.last_heartbeat:.0f}",
                    {"worker_id": worker.id, "name": worker.name, "last_heartbeat": worker.last_heartbeat,
                     "silent_s": worker.silent_s})


def missed_event(item: Missed, *, grace_s: float, account: Any = None) -> NewEvent:
    """The *missed* event of a post not started whose time passed more than ``grace_s`` ago (``account``: its
    :class:`~tiktok.auth.tokens.Account` when linked, for its name)."""
    data: dict[str, Any] = {"post_id": item.post_id, "due_at": item.due_at, "grace_s": grace_s}
    if account is not None:
        data.update(_who(account))
    return NewEvent(ev.POST_MISSED, missed_key(item.key, item.revision), data, user_id=item.user_id,
                    post_id=item.post_id)


def cap_threshold(cap: int) -> int:
    """How many posts in 24 hours make the *daily cap near* event: the cap less CAP_MARGIN (at least 1)."""
    return max(1, cap - CAP_MARGIN)


def cap_event(account: Any, published: list[Event], *, cap: int) -> NewEvent | None:
    """The *daily cap near* event of ``account`` when its posts ``published`` in the last 24 hours (oldest first)
    reach :func:`cap_threshold`, else None. Keyed with the UTC date of the window's first post; that it is told
    once in any 24 hours is the store's check (:meth:`Notice._caps`)."""
    if cap <= 0 or len(published) < cap_threshold(cap):
        return None
    first, last = published[0].at, published[-1].at
    day = datetime.fromtimestamp(first, timezone.utc).date().isoformat()
    return NewEvent(ev.DAILY_CAP_NEAR, f"daily-cap-near:{account.open_id}:{day}",
                    {"count": len(published), "cap": cap, "threshold": cap_threshold(cap), "first_at": first,
                     "last_at": last, **_who(account)}, user_id=account.open_id)


def digest_date(now: float, tz: tzinfo, at: time_of_day) -> str | None:
    """The local date (``2027-01-15``) whose digest is due at ``now``: today's once the local time of day in ``tz``
    is ``at`` or later, else None (yesterday's was due yesterday)."""
    local = datetime.fromtimestamp(now, tz)
    return local.date().isoformat() if (local.hour, local.minute) >= (at.hour, at.minute) else None


def digest_event(date: str, now: float, counts: KindCounts, accounts: Mapping[str, Any], *,
                 failed: int) -> NewEvent:
    """The *daily digest* of ``date``: the last 24 hours' events by kind, the accounts to link again now (from the
    token store's ``accounts``) and the posts in the Failed group now (``failed``: failed or missed)."""
    relink = [_who(account) | {"open_id": open_id} for open_id, account in sorted(accounts.items())
              if account.relink_reason]
    emulated = bool(accounts) and all(account.emulated for account in accounts.values())
    return NewEvent(ev.DAILY_DIGEST, f"daily-digest:{date}",
                    {"date": date, "since": now - DAY_S, "until": now, "counts": dict(sorted(counts.counts.items())),
                     "complete": counts.complete, "relink": relink, "failed": failed, "emulated": emulated})


def silent_workers(url: str, silent_after_s: float) -> list[SilentWorker]:
    """Procrastinate's workers whose last heartbeat is older than ``silent_after_s`` by the database's clock
    (:func:`tiktok.db.workers.read_workers`)."""
    from tiktok.db.workers import read_workers

    return [SilentWorker(id=w.id, name=w.name, last_heartbeat=w.last_heartbeat, silent_s=w.silent_s)
            for w in read_workers(url) if w.silent_s > silent_after_s]


class Notice:
    """Reads the token store, the post store and (with ``database_url``) the workers' table, and records the events
    they make (see the module docstring). ``clock`` is this process's time (the database's for workers); ``tz`` the
    zone NOTIFY_DIGEST's time of day is read in (default the machine's: TZ, else /etc/localtime)."""

    def __init__(self, store, tokens=None, *, clock: Callable[[], float] = time.time, stuck_after_s: float,
                 database_url: str | None = None, worker_silent_after_s: float = 300.0,
                 grace_s: float = DEFAULT_GRACE_S, daily_cap: int = DEFAULT_DAILY_CAP,
                 digest_at: time_of_day | None = None, tz: tzinfo | None = None) -> None:
        self.store, self.tokens, self.clock = store, tokens, clock
        self.stuck_after_s = stuck_after_s
        self.database_url = database_url
        self.worker_silent_after_s = worker_silent_after_s
        self.grace_s, self.daily_cap = grace_s, daily_cap
        self.digest_at, self.tz = digest_at, tz
        self._said: dict[str, str] = {}  # check -> the problem last logged (logged again only when it changes)
        self._cap_after: int | None = None  # the last publication's event id the cap check has looked at
        self._digest_done = ""  # the local date whose digest this process knows is recorded

    @classmethod
    def from_settings(cls, settings, store, tokens=None, *, clock: Callable[[], float] = time.time) -> "Notice":
        """The notice of ``settings`` (ALERT_*, POST_GRACE, NOTIFY_DIGEST and TZ; DATABASE_URL for the workers)."""
        alerts = settings.alerts
        return cls(store, tokens, clock=clock, stuck_after_s=alerts.stuck_after_s,
                   database_url=settings.store.database_url, worker_silent_after_s=alerts.worker_silent_after_s,
                   grace_s=settings.posting.post_grace_s, daily_cap=alerts.daily_cap, digest_at=alerts.digest_at,
                   tz=_zone(settings.app.time_zone))

    def run(self) -> list[Event]:
        """Record what is new; the events recorded by this call (those another process recorded first are not)."""
        loaded: list[Mapping[str, Any]] = []

        def load() -> list[Event]:
            loaded.append(self._load())
            return []
        self._attempt("linked accounts", load)
        accounts = loaded[0] if loaded else None  # None: the token store could not be read (said once, above)
        checks: list[tuple[str, Callable[[], list[Event]]]] = [
            ("stuck posts", lambda: self._record(self._stuck())),
            ("missed posts", lambda: self._record(self._missed(accounts or {}))),  # named by open_id, if need be
        ]
        if accounts is not None:
            checks.insert(0, ("accounts", lambda: self._record(self._accounts(accounts))))
            checks.append(("daily cap", lambda: self._caps(accounts)))
            if self.digest_at is not None:
                checks.append(("daily digest", lambda: self._digest(accounts)))
        if self.database_url:
            checks.append(("workers", lambda: self._record(self._workers())))
        recorded: list[Event] = []
        for name, check in checks:
            recorded += self._attempt(name, check)
        return recorded

    def _attempt(self, name: str, check: Callable[[], list[Event]]) -> list[Event]:
        """``check()``, or [] and one log line when it fails (again only when what it says changes)."""
        try:
            found = check()
        except Exception as exc:  # noqa: BLE001 (one check failing leaves the others, and the sending, to run)
            said = f"{type(exc).__name__}: {exc}"
            if self._said.get(name) != said:
                self._said[name] = said
                log.warning("alerts: could not check the %s (%s); the next tick tries again", name, _short(said))
            return []
        self._said.pop(name, None)
        return found

    def _record(self, found: Iterable[NewEvent]) -> list[Event]:
        found = list(found)
        known = self.store.known_keys(new.key for new in found) if found else set()
        made = []
        for new in found:
            if new.key in known:  # recorded at an earlier tick, or by another process: no write
                continue
            event = self.store.record_event(new.kind, new.key, user_id=new.user_id, post_id=new.post_id,
                                            data=new.data)
            if event is not None:
                made.append(event)
        return made

    def _load(self) -> Mapping[str, Any]:
        return {} if self.tokens is None else self.tokens.load()

    def _accounts(self, accounts: Mapping[str, Any]) -> list[NewEvent]:
        now = self.clock()
        return [new for account in accounts.values() for new in account_events(account, now)]

    def _missed(self, accounts: Mapping[str, Any]) -> list[NewEvent]:
        before = self.clock() - self.grace_s
        return [missed_event(item, grace_s=self.grace_s, account=accounts.get(item.user_id))
                for item in self.store.missed_untold(before, limit=MISSED_BATCH)]

    def _caps(self, accounts: Mapping[str, Any]) -> list[Event]:
        """The accounts whose posts in the last 24 hours reached the threshold, told once in any 24 hours."""
        if self.daily_cap <= 0 or not accounts:
            return []
        if self._cap_after is None:  # this process's first look: every account
            after, looked = self.store.latest_event_id(), list(accounts)
        else:  # later: only those that published since (the count grows with nothing else)
            rows = self.store.published_after(self._cap_after, limit=CAP_BATCH)
            after = rows[-1][0] if rows else self._cap_after
            looked = list(dict.fromkeys(user_id for _, user_id in rows if user_id in accounts))
        made = []
        now = self.clock()
        for open_id in looked:
            new = cap_event(accounts[open_id], self.store.published_since(open_id, now - DAY_S), cap=self.daily_cap)
            if new is None or self.store.known_keys([new.key]):
                continue
            event = self.store.record_event_unless_since(new.kind, new.key, user_id=open_id, since=now - DAY_S,
                                                         data=new.data)
            if event is not None:
                made.append(event)
        self._cap_after = after  # only once every account looked at was checked: a failure looks again next tick
        return made

    def _digest(self, accounts: Mapping[str, Any]) -> list[Event]:
        assert self.digest_at is not None
        now = self.clock()
        date = digest_date(now, self.tz or local_zone(), self.digest_at)
        if date is None or date == self._digest_done:
            return []
        if self.store.known_keys([f"daily-digest:{date}"]):  # another process sent today's
            self._digest_done = date
            return []
        failed = self.store.board_counts(missed_before=now - self.grace_s)["failed"]
        made = self._record([digest_event(date, now, self.store.counts_since(now - DAY_S), accounts,
                                          failed=failed)])
        self._digest_done = date
        return made

    def _stuck(self) -> list[NewEvent]:
        before = self.clock() - self.stuck_after_s
        return [stuck_event(item, stuck_after_s=self.stuck_after_s)
                for item in self.store.in_flight_since(before, limit=STUCK_BATCH)]

    def _workers(self) -> list[NewEvent]:
        assert self.database_url is not None
        return [worker_event(worker) for worker in silent_workers(self.database_url, self.worker_silent_after_s)]


def _zone(name: str) -> tzinfo | None:
    """TZ's zone (None: the machine's, :func:`tiktok.text.local_zone`); a name this machine cannot read is the
    machine's zone too, as every other page and message reads it."""
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."

