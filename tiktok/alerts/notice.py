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

The rules are pure functions (:func:`account_events`, :func:`stuck_event`, :func:`worker_event`); :class:`Notice`
reads what they need and records what they give. A check that cannot run (the token file unreadable, the database
away) is one log line, repeated only when what it says changes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from tiktok.store import events as ev
from tiktok.store.events import Event, InFlight, NewEvent, record_facts

log = logging.getLogger(__name__)

DAY_S = 86400.0
REFRESH_WARN_DAYS = (1, 7, 30)  # issue 24: "refresh token runs out in 30/7/1 days"; the nearest crossed is told
STUCK_BATCH = 100  # stuck posts read per tick (the oldest first); more wait for the next tick


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


def silent_workers(url: str, silent_after_s: float) -> list[SilentWorker]:
    """Procrastinate's workers whose last heartbeat is older than ``silent_after_s`` by the database's clock
    (:func:`tiktok.db.workers.read_workers`)."""
    from tiktok.db.workers import read_workers

    return [SilentWorker(id=w.id, name=w.name, last_heartbeat=w.last_heartbeat, silent_s=w.silent_s)
            for w in read_workers(url) if w.silent_s > silent_after_s]


class Notice:
    """Reads the token store, the post store and (with ``database_url``) the workers' table, and records the events
    they make (see the module docstring). ``clock`` is this process's time (the database's for workers)."""

    def __init__(self, store, tokens=None, *, clock: Callable[[], float] = time.time, stuck_after_s: float,
                 database_url: str | None = None, worker_silent_after_s: float = 300.0) -> None:
        self.store, self.tokens, self.clock = store, tokens, clock
        self.stuck_after_s = stuck_after_s
        self.database_url = database_url
        self.worker_silent_after_s = worker_silent_after_s
        self._said: dict[str, str] = {}  # check -> the problem last logged (logged again only when it changes)

    def run(self) -> list[Event]:
        """Record what is new; the events recorded by this call (those another process recorded first are not)."""
        recorded: list[Event] = []
        checks = [("accounts", self._accounts), ("stuck posts", self._stuck)]
        if self.database_url:
            checks.append(("workers", self._workers))
        for name, check in checks:
            try:
                recorded += self._record(check())
                self._said.pop(name, None)
            except Exception as exc:  # noqa: BLE001 (one check failing leaves the others, and the sending, to run)
                said = f"{type(exc).__name__}: {exc}"
                if self._said.get(name) != said:
                    self._said[name] = said
                    log.warning("alerts: could not check the %s (%s); the next tick tries again", name,
                                _short(said))
        return recorded

    def _record(self, found: Iterable[NewEvent]) -> list[Event]:
        made = []
        for new in found:
            event = self.store.record_event(new.kind, new.key, user_id=new.user_id, post_id=new.post_id,
                                            data=new.data)
            if event is not None:
                made.append(event)
        return made

    def _accounts(self) -> list[NewEvent]:
        if self.tokens is None:
            return []
        now = self.clock()
        return [new for account in self.tokens.load().values() for new in account_events(account, now)]

    def _stuck(self) -> list[NewEvent]:
        before = self.clock() - self.stuck_after_s
        return [stuck_event(item, stuck_after_s=self.stuck_after_s)
                for item in self.store.in_flight_since(before, limit=STUCK_BATCH)]

    def _workers(self) -> list[NewEvent]:
        assert self.database_url is not None
        return [worker_event(worker) for worker in silent_workers(self.database_url, self.worker_silent_after_s)]


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."

