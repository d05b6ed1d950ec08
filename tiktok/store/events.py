"""Events and their deliveries in the post store (``events``, ``deliveries``: store migration 4), one set of queries
for SQLite and PostgreSQL: :class:`EventQueries`, which :class:`~tiktok.store.sql.SqlStore` includes. What an event
says to people, and the channels that carry it, are :mod:`tiktok.alerts`'s; these are the facts and the bookkeeping.

- **Once per event.** An event's ``key`` names what happened (``post-failed:<post key>:a2``: the second attempt of a
  post failed), and it is unique: any number of processes noticing the same thing record one row
  (:meth:`EventQueries.record_event` returns None for the others).
- **A post's events are written with its record**: the transaction that saves a record ending in a failure, a
  publication or a public link also records the event (:func:`post_events` is the rule), so no run, worker or page
  can change a post without its event, nor record it twice.
- **Ids in commit order.** Every event is written under the store's write lock (the change counter's row), so a
  channel's cursor (the last event id it has planned) never skips an event another transaction was still writing.
- **Once per channel.** A delivery row is made per event and channel by whichever process plans first
  (:meth:`EventQueries.plan_deliveries`, from the channel's cursor); sending takes it for a while
  (:meth:`EventQueries.claim_deliveries`: ``holder``, ``held_until``, compare and set), so two processes never send the
  same one; a failed send is tried again from ``next_at``; one whose sender died is taken again once its hold lapses.
- A channel is named by a hash of its URL (:func:`channel_id`): apprise URLs carry passwords and webhooks secrets, and
  neither is ever written to the store. A channel first seen starts at the newest event (:meth:`register_channels`):
  a channel added to the settings is not sent the store's history.

Cost does not grow with history: planning reads past the channel's cursor, claiming reads the due rows of one channel
by index, the events page reads one page by id. The notice's reads (:mod:`tiktok.alerts.notice`) are bounded too:
missed posts not told yet (one range of the posts' ``(open, due_at)`` index, each probed against the events' unique
key, at most a batch), an account's posts published in the last 24 hours and a day's counts by kind (each among
the newest rows of an index: the account's ``(user_id, id)``, the events' ids), and which keys are known already (by
the unique key), so a tick writes only what is new. ``alerts status`` reads a channel's counts and its last failure
(:meth:`EventQueries.delivery_trouble`: among its newest deliveries in one range of the deliveries' index).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select, update

from tiktok.store import schema
from tiktok.store.model import dumps
from tiktok.store.records import PostRecord, State

E = schema.events
D = schema.deliveries
P = schema.posts

# The kinds of events (the values are what stores hold: they never change).
POST_FAILED = "post_failed"              # an attempt ended in a failure a person must look at
POST_NEEDS_PERSON = "post_needs_person"  # it may already be on TikTok: only a person can say to send it again
POST_PUBLISHED = "post_published"        # TikTok published it (PUBLISH_COMPLETE)
POST_IN_INBOX = "post_in_inbox"          # the draft is in the creator's TikTok inbox (SEND_TO_USER_INBOX)
PUBLIC_LINK = "public_link"              # its public link arrived after moderation, after it was published
POST_STUCK = "post_stuck"                # no end after a long while in flight
ACCOUNT_RELINK = "account_relink"        # TikTok refused the account's refresh token: link it again
REFRESH_EXPIRING = "refresh_expiring"    # the account's refresh token runs out soon (30, 7, 1 days)
WORKER_SILENT = "worker_silent"          # a PostgreSQL worker stopped beating
POST_MISSED = "post_missed"              # a scheduled post not started within POST_GRACE of its time: not posted
DAILY_CAP_NEAR = "daily_cap_near"        # an account published nearly TikTok's daily cap of direct posts in 24 h
DAILY_DIGEST = "daily_digest"            # the day's summary (NOTIFY_DIGEST)
KINDS = (POST_FAILED, POST_NEEDS_PERSON, POST_PUBLISHED, POST_IN_INBOX, PUBLIC_LINK, POST_STUCK, ACCOUNT_RELINK,
         REFRESH_EXPIRING, WORKER_SILENT, POST_MISSED, DAILY_CAP_NEAR, DAILY_DIGEST)

PENDING, SENT, GAVE_UP = "pending", "sent", "gave_up"
PLAN_BATCH = 200  # events a channel's plan reads at a time
_CURSOR = "alerts-cursor:"
# The newest events of one account (its (user_id, id) index) that "what did it publish in 24 h" and "was it told in
# 24 h" read: an account makes a few events per post and TikTok lets it post about 15 a day, so a day's events are
# far fewer; were there more, the oldest of the day would go uncounted (a later warning, never a wrong one).
ACCOUNT_SCAN = 500
POSTING_USERS_SCAN = 2000  # the newest events read for the accounts posting through the app in 24 h
# The newest events the daily digest counts (the events' ids): more in 24 h and the counts say "at least".
DIGEST_SCAN = 20_000
_MISSED = "post-missed:"
# A channel's newest deliveries of one state (by next_at: its (channel, state, next_at) index, read backwards) that
# alerts status reads for its last failure and the give-ups of the last day: bounded whatever the channel's history.
TROUBLE_SCAN = 200
# record fields an event never keeps: a sealed upload URL, the token of media published for a pull
_PRIVATE = ("upload_url", "publication")


@dataclass(frozen=True)
class Event:
    """One event as stored: ``data`` holds the facts (for a post's, its ``record`` and ``label``)."""

    id: int
    key: str
    kind: str
    at: float
    user_id: str | None = None
    post_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def record(self) -> PostRecord | None:
        """The post's record as the event saw it (post events), else None."""
        value = self.data.get("record")
        return None if value is None else PostRecord.from_json(value)


@dataclass(frozen=True)
class NewEvent:
    """An event to record: its kind, its unique key and its facts."""

    kind: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    post_id: int | None = None


@dataclass(frozen=True)
class InFlight:
    """A post in flight as the stuck check reads it (:meth:`EventQueries.in_flight_since`): its record without the
    upload URL (so a store holding sealed URLs is read without TOKENS_KEY)."""

    post_id: int
    key: str
    user_id: str
    revision: int
    updated_at: float
    record: PostRecord | None


@dataclass(frozen=True)
class Missed:
    """A post not started whose time passed longer ago than the grace (the Posts page shows it as missed), as the
    *missed* check reads it (:meth:`EventQueries.missed_untold`): its id, key, account, entry revision and due time."""

    post_id: int
    key: str
    user_id: str
    revision: int
    due_at: float


@dataclass(frozen=True)
class KindCounts:
    """Events by kind since a moment (:meth:`EventQueries.counts_since`); ``complete`` False when more events than
    the scan reads happened then (the counts are then "at least")."""

    counts: dict[str, int]
    complete: bool = True


@dataclass(frozen=True)
class Delivery:
    """One event claimed for one channel: ``tries`` before this one."""

    event: Event
    channel: str
    tries: int


@dataclass(frozen=True)
class ChannelTrouble:
    """A channel's failures (:meth:`EventQueries.delivery_trouble`): ``error`` the plain reason of the failure being
    retried (``retry_at``: its next try), else of the newest one given up (``gave_up_at``), None when neither; and
    ``gave_up_since``, how many were given up since the time asked."""

    error: str | None = None
    retry_at: float | None = None
    gave_up_at: float | None = None
    gave_up_since: int = 0


def channel_id(url: str) -> str:
    """How the store names an alert channel: a hash of its URL (the URL itself may hold a password)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def record_facts(record: PostRecord) -> dict[str, Any]:
    """A record as an event keeps it: everything but the upload URL and the publication token."""
    data = record.to_json()
    for name in _PRIVATE:
        data.pop(name, None)
    return data


def post_events(record: PostRecord, *, post_id: int, attempt: int, revision: int,
                published: dict[str, Any] | None) -> list[NewEvent]:
    """The events a saved ``record`` of post ``post_id`` makes (pure; keys make each one once):

    - it may already be on TikTok and no run will send it again by itself (``needs_force``): *needs a person*, once
      per attempt;
    - TikTok refused it for good (``needs_person``): *failed*, once per attempt;
    - a local problem with its entry (a missing file, a field: outcome ``bad_input``): *failed*, once per revision of
      the entry and wording of the problem (runs meet it again on every tick until the entry changes);
    - posted: *published*, once per publish_id (with its link when TikTok gave it at once); in the inbox: *in inbox*;
    - a public link for a post whose *published* event had none (``published`` is that event's data, or None when
      there is none yet): *public link*, once.

    Failures a run retries by itself (rate limits, outages) make none: a post that stays unfinished is *stuck*
    (:mod:`tiktok.alerts`), and an account that must relink has its own event."""
    facts = {"record": record_facts(record), "post_id": post_id, "attempt": attempt}
    base = dict(user_id=record.user_id, post_id=post_id)
    if record.needs_force:
        return [NewEvent(POST_NEEDS_PERSON, f"post-needs-person:{record.key}:a{attempt}", facts, **base)]
    if record.state == State.FAILED and not record.retry_requested:
        if record.outcome == "failed":
            return [NewEvent(POST_FAILED, f"post-failed:{record.key}:a{attempt}", facts, **base)]
        if record.outcome == "bad_input":
            said = hashlib.sha256(f"{record.error}|{record.fail_reason}".encode("utf-8")).hexdigest()[:12]
            return [NewEvent(POST_FAILED, f"post-failed:{record.key}:r{revision}:{said}", facts, **base)]
        return []
    attempt_id = record.publish_id or f"a{attempt}"
    if record.state == State.IN_INBOX:
        return [NewEvent(POST_IN_INBOX, f"post-in-inbox:{record.key}:{attempt_id}", facts, **base)]
    if record.state != State.POSTED:
        return []
    if published is None:
        return [NewEvent(POST_PUBLISHED, f"post-published:{record.key}:{attempt_id}", facts, **base)]
    if record.post_ids and not published.get("record", {}).get("post_ids"):
        return [NewEvent(PUBLIC_LINK, f"public-link:{record.key}:{attempt_id}", facts, **base)]
    return []


def missed_key(post_key: str, revision: int) -> str:
    """The *missed* event's key of a post's entry revision (a person rescheduling or editing it makes a new one):
    :meth:`EventQueries.missed_untold` builds the same in SQL."""
    return f"{_MISSED}{post_key}:r{revision}"


def _published_key(record: PostRecord, attempt: int) -> str:
    return f"post-published:{record.key}:{record.publish_id or f'a{attempt}'}"


# states whose save may make an event (others are skipped without a query)
_NOTABLE = frozenset({State.FAILED, State.POSTED, State.IN_INBOX, State.PENDING_INIT})


def _unsealed_record(text: str | None) -> PostRecord | None:
    """A stored record without its upload URL and publication token (sealed or not), or None when unreadable."""
    if text is None:
        return None
    try:
        data = json.loads(text)
        for name in _PRIVATE:
            data.pop(name, None)
        return PostRecord.from_json(data)
    except (ValueError, TypeError, AttributeError):
        return None


def _event(row) -> Event:
    return Event(id=row.id, key=row.key, kind=row.kind, at=row.at, user_id=row.user_id, post_id=row.post_id,
                 data=json.loads(row.data))


class EventQueries:
    """The events' queries; the class that includes this provides ``_read``, ``_write``, ``_lock_counter``,
    ``_meta``/``_set_meta`` and ``clock`` (:class:`~tiktok.store.sql.SqlStore`)."""

    clock: Callable[[], float]
    _read: Callable[[], ContextManager[Any]]
    _write: Callable[[], ContextManager[Any]]
    _lock_counter: Callable[[Any], None]
    _set_meta: Callable[[Any, str, dict[str, Any]], None]

    # -- recording -------------------------------------------------------------------------------------------------

    def record_event(self, kind: str, key: str, *, user_id: str | None = None, post_id: int | None = None,
                     data: dict[str, Any] | None = None) -> Event | None:
        """Record an event unless one with ``key`` is recorded already (then None: another process noticed it
        first, or this one did earlier)."""
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not an event kind ({', '.join(KINDS)})")
        with self._write() as conn:
            self._lock_counter(conn)
            return self._insert_event(conn, NewEvent(kind, key, data or {}, user_id, post_id))

    def _insert_event(self, conn, new: NewEvent) -> Event | None:
        """Insert ``new`` in ``conn``'s transaction (which holds the write lock) unless its key is there."""
        if conn.execute(select(E.c.id).where(E.c.key == new.key)).first() is not None:
            return None
        at = self.clock()
        event_id = conn.execute(E.insert().values(key=new.key, kind=new.kind, at=at, user_id=new.user_id,
                                                  post_id=new.post_id, data=dumps(new.data))
                                .returning(E.c.id)).scalar_one()
        return Event(event_id, new.key, new.kind, at, new.user_id, new.post_id, dict(new.data))

    def _note_post(self, conn, post_id: int, record: PostRecord) -> None:
        """Record the events ``record`` makes (:func:`post_events`), in the transaction that saves it."""
        if record.state not in _NOTABLE or (record.state == State.PENDING_INIT and not record.needs_force):
            return
        row = conn.execute(select(P.c.revision).where(P.c.id == post_id)).first()
        if row is None:
            return
        attempt = conn.execute(select(func.count()).select_from(schema.attempts)
                               .where(schema.attempts.c.post_id == post_id)).scalar_one() + 1
        published = None
        if record.state == State.POSTED:
            text = conn.execute(select(E.c.data).where(E.c.key == _published_key(record, attempt))).scalar()
            published = None if text is None else json.loads(text)
        for new in post_events(record, post_id=post_id, attempt=attempt, revision=row.revision, published=published):
            self._insert_event(conn, new)

    # -- reading ---------------------------------------------------------------------------------------------------

    def events_page(self, *, before: int | None = None, limit: int = 50, user_id: str | None = None) -> list[Event]:
        """Events newest first: those older than id ``before`` (the next page), of one account when ``user_id``."""
        query = select(E)
        if before is not None:
            query = query.where(E.c.id < before)
        if user_id is not None:
            query = query.where(E.c.user_id == user_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(E.c.id.desc()).limit(limit)).all()
        return [_event(row) for row in rows]

    def event(self, event_id: int) -> Event | None:
        with self._read() as conn:
            row = conn.execute(select(E).where(E.c.id == event_id)).first()
        return None if row is None else _event(row)

    def latest_event_id(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.max(E.c.id))).scalar() or 0

    def in_flight_since(self, before: float, *, limit: int = 100) -> list[InFlight]:
        """Posts in flight (the Posts page's In progress group) whose last change is older than ``before``, oldest
        first, for the *stuck* check (:mod:`tiktok.alerts.notice`): one range of the ``(board, updated_at)`` index."""
        query = (select(P.c.id, P.c.key, P.c.user_id, P.c.revision, P.c.updated_at, P.c.record)
                 .where(P.c.board == "in_progress", P.c.updated_at < before).order_by(P.c.updated_at).limit(limit))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [InFlight(row.id, row.key, row.user_id, row.revision, row.updated_at, _unsealed_record(row.record))
                for row in rows]

    def missed_untold(self, before: float, *, limit: int = 100) -> list[Missed]:
        """Posts not started (open, state queued) that were due before ``before`` and have no *missed* event for
        their revision yet (:func:`missed_key`), oldest first, at most ``limit``: one range of the posts'
        ``(open, due_at)`` index (the range every run reads for its due posts), each row probed against the events'
        unique key, so posts already told cost an index probe and are never read out again."""
        told = exists().where(E.c.key == literal(_MISSED) + P.c.key + literal(":r") + cast(P.c.revision, String))
        query = (select(P.c.id, P.c.key, P.c.user_id, P.c.revision, P.c.due_at)
                 .where(P.c.open == True, P.c.due_at < before, P.c.state == State.QUEUED,  # noqa: E712 (the index)
                        ~told)
                 .order_by(P.c.due_at, P.c.id).limit(limit))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [Missed(row.id, row.key, row.user_id, row.revision, row.due_at) for row in rows]

    def published_since(self, user_id: str, since: float, *, scan: int = ACCOUNT_SCAN) -> list[Event]:
        """``user_id``'s *published* events recorded at or after ``since``, oldest first, among the account's newest
        ``scan`` events (the ``(user_id, id)`` index, read backwards: bounded whatever the account's history)."""
        recent = (select(E).where(E.c.user_id == user_id).order_by(E.c.id.desc()).limit(scan)).subquery()
        query = (select(recent).where(recent.c.kind == POST_PUBLISHED, recent.c.at >= since)
                 .order_by(recent.c.id))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_event(row) for row in rows]

    def posting_users_since(self, since: float, *, scan: int = POSTING_USERS_SCAN) -> set[str]:
        """The accounts with a *published* event recorded at or after ``since``, among the newest ``scan`` events
        (the events' ids, read backwards: bounded whatever the history). An app TikTok has not audited may have 5
        accounts posting through it in 24 hours (``reached_active_user_cap``; issue 25, tiktok.posting.policy)."""
        recent = select(E.c.user_id, E.c.kind, E.c.at).order_by(E.c.id.desc()).limit(scan).subquery()
        query = select(recent.c.user_id).where(recent.c.kind == POST_PUBLISHED, recent.c.at >= since,
                                               recent.c.user_id.is_not(None)).distinct()
        with self._read() as conn:
            return {row.user_id for row in conn.execute(query)}

    def published_after(self, after: int, *, limit: int = 1000) -> list[tuple[int, str]]:
        """(event id, account) of the *published* events after id ``after``, in id order, at most ``limit``: the
        accounts whose count of posts in 24 hours grew since a tick that looked up to ``after`` (the events' ids)."""
        query = (select(E.c.id, E.c.user_id).where(E.c.id > after, E.c.kind == POST_PUBLISHED)
                 .order_by(E.c.id).limit(limit))
        with self._read() as conn:
            return [(row.id, row.user_id) for row in conn.execute(query)]

    def counts_since(self, since: float, *, scan: int = DIGEST_SCAN) -> KindCounts:
        """How many events of each kind were recorded at or after ``since``, among the newest ``scan`` events (the
        events' ids, read backwards); ``complete`` False when the scan ended inside the window."""
        recent = select(E.c.kind, E.c.at).order_by(E.c.id.desc()).limit(scan).subquery()
        with self._read() as conn:
            counts = dict(conn.execute(select(recent.c.kind, func.count()).where(recent.c.at >= since)
                                       .group_by(recent.c.kind)).all())
            read, oldest = conn.execute(select(func.count(), func.min(recent.c.at)).select_from(recent)).one()
        return KindCounts(counts, complete=read < scan or oldest is None or oldest < since)

    def known_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are recorded already (by the unique key: a read, no lock), so a tick that notices the
        same things as the last one writes nothing."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), 500):
                found.update(conn.execute(select(E.c.key).where(E.c.key.in_(wanted[start:start + 500]))).scalars())
        return found

    def record_event_unless_since(self, kind: str, key: str, *, user_id: str, since: float,
                                  data: dict[str, Any] | None = None) -> Event | None:
        """:meth:`record_event`, unless ``user_id`` already has an event of ``kind`` recorded at or after ``since``
        (among its newest :data:`ACCOUNT_SCAN`): checked under the store's write lock, so processes noticing the same
        thing with different keys (a window that moved between their looks) still record one."""
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not an event kind ({', '.join(KINDS)})")
        with self._write() as conn:
            self._lock_counter(conn)
            recent = (select(E.c.kind, E.c.at).where(E.c.user_id == user_id).order_by(E.c.id.desc())
                      .limit(ACCOUNT_SCAN)).subquery()
            if conn.execute(select(recent.c.at).where(recent.c.kind == kind, recent.c.at >= since).limit(1)) \
                    .first() is not None:
                return None
            return self._insert_event(conn, NewEvent(kind, key, data or {}, user_id, None))

    # -- deliveries ------------------------------------------------------------------------------------------------

    def register_channels(self, channels: Iterable[str]) -> None:
        """Start each channel not seen before at the newest event: it is sent what happens from now on."""
        channels = list(channels)
        if not channels:
            return
        with self._write() as conn:
            self._lock_counter(conn)
            newest = conn.execute(select(func.max(E.c.id))).scalar() or 0
            meta = schema.meta
            for channel in channels:
                name = _CURSOR + channel
                if conn.execute(select(meta.c.name).where(meta.c.name == name)).first() is None:
                    conn.execute(meta.insert().values(name=name, value=dumps({"after": newest})))

    def plan_deliveries(self, channel: str, *, kinds: Iterable[str] | None = None, limit: int = PLAN_BATCH) -> int:
        """Make the delivery rows of the events after ``channel``'s cursor (of ``kinds``, when given) and move the
        cursor past them; how many events it read (0: the channel has caught up)."""
        wanted = None if kinds is None else frozenset(kinds)
        with self._write() as conn:
            self._lock_counter(conn)
            meta = schema.meta
            name = _CURSOR + channel
            text = conn.execute(select(meta.c.value).where(meta.c.name == name)).scalar()
            after = 0 if text is None else json.loads(text)["after"]
            rows = conn.execute(select(E.c.id, E.c.kind, E.c.at).where(E.c.id > after)
                                .order_by(E.c.id).limit(limit)).all()
            if not rows:
                return 0
            todo = [{"event_id": row.id, "channel": channel, "state": PENDING, "tries": 0, "next_at": row.at}
                    for row in rows if wanted is None or row.kind in wanted]
            if todo:
                have = {event_id for (event_id,) in conn.execute(select(D.c.event_id).where(
                    D.c.channel == channel, D.c.event_id.in_([item["event_id"] for item in todo])))}
                todo = [item for item in todo if item["event_id"] not in have]
            if todo:
                conn.execute(D.insert(), todo)
            self._set_meta(conn, name, {"after": rows[-1].id})
        return len(rows)

    def claim_deliveries(self, channel: str, *, holder: str, hold_s: float, limit: int = 20) -> list[Delivery]:
        """Take up to ``limit`` pending deliveries of ``channel`` that are due and not held (or whose holder's hold
        lapsed) for ``hold_s`` seconds, oldest first."""
        now = self.clock()
        free = or_(D.c.held_until.is_(None), D.c.held_until < now)
        due = and_(D.c.channel == channel, D.c.state == PENDING, D.c.next_at <= now, free)
        with self._write() as conn:
            self._lock_counter(conn)
            rows = conn.execute(select(D.c.event_id, D.c.tries).where(due).order_by(D.c.next_at, D.c.event_id)
                                .limit(limit)).all()
            taken = []
            for row in rows:
                done = conn.execute(update(D).where(D.c.event_id == row.event_id, due)
                                    .values(holder=holder, held_until=now + hold_s))
                if done.rowcount == 1:
                    taken.append(row)
            events = {} if not taken else {
                r.id: _event(r) for r in conn.execute(select(E).where(E.c.id.in_([t.event_id for t in taken])))}
        return [Delivery(events[row.event_id], channel, row.tries) for row in taken if row.event_id in events]

    def delivery_sent(self, delivery: Delivery, *, holder: str) -> bool:
        """Mark a delivery this process holds as sent; False when its hold lapsed and another took it."""
        return self._end_delivery(delivery, holder, state=SENT, next_at=None, error=None)

    def delivery_failed(self, delivery: Delivery, *, holder: str, retry_at: float | None, error: str) -> bool:
        """Record a failed send: tried again from ``retry_at``, or given up when it is None."""
        return self._end_delivery(delivery, holder, state=PENDING if retry_at is not None else GAVE_UP,
                                  next_at=retry_at, error=error)

    def _end_delivery(self, delivery: Delivery, holder: str, *, state: str, next_at: float | None,
                      error: str | None) -> bool:
        values: dict[str, Any] = {"state": state, "holder": None, "held_until": None, "error": error,
                                  "tries": D.c.tries + 1}
        if next_at is not None:
            values["next_at"] = next_at
        if state != PENDING:
            values["done_at"] = self.clock()
        with self._write() as conn:
            self._lock_counter(conn)
            done = conn.execute(update(D).where(D.c.event_id == delivery.event.id, D.c.channel == delivery.channel,
                                                D.c.holder == holder, D.c.state == PENDING).values(**values))
            return done.rowcount == 1

    def delivery_counts(self, channels: Iterable[str] | None = None) -> dict[str, int]:
        """How many deliveries are pending, sent and given up (of ``channels`` when given)."""
        query = select(D.c.state, func.count()).group_by(D.c.state)
        if channels is not None:
            query = query.where(D.c.channel.in_(list(channels)))
        with self._read() as conn:
            counts = dict(conn.execute(query).all())
        return {state: counts.get(state, 0) for state in (PENDING, SENT, GAVE_UP)}

    def delivery_trouble(self, channel: str, *, since: float, scan: int = TROUBLE_SCAN) -> ChannelTrouble:
        """``channel``'s last failure and its give-ups since ``since``, among its newest ``scan`` pending and
        ``scan`` given-up deliveries (each one range of the ``(channel, state, next_at)`` index, read backwards)."""
        def newest(state: str):
            return (select(D.c.error, D.c.next_at, D.c.done_at).where(D.c.channel == channel, D.c.state == state)
                    .order_by(D.c.next_at.desc()).limit(scan)).subquery()
        pending, given_up = newest(PENDING), newest(GAVE_UP)
        with self._read() as conn:
            retrying = conn.execute(select(pending.c.error, pending.c.next_at).where(pending.c.error.is_not(None))
                                    .order_by(pending.c.next_at.desc()).limit(1)).first()
            last = conn.execute(select(given_up.c.error, given_up.c.done_at)
                                .order_by(given_up.c.done_at.desc()).limit(1)).first()
            recent = conn.execute(select(func.count()).select_from(given_up)
                                  .where(given_up.c.done_at >= since)).scalar_one()
        if retrying is not None:
            return ChannelTrouble(retrying.error, retry_at=retrying.next_at, gave_up_since=recent)
        if last is not None:
            return ChannelTrouble(last.error, gave_up_at=last.done_at, gave_up_since=recent)
        return ChannelTrouble(gave_up_since=recent)
