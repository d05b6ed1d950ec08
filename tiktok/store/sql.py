"""The post store's queries, one set for SQLite and PostgreSQL (SQLAlchemy Core); the two subclasses add how
they connect, how a claim is held and how their errors read (:mod:`.sqlite`, :mod:`.postgres`).

Every method is one transaction. Reads take no lock; writes take the store's write lock (SQLite: ``BEGIN
IMMEDIATE``; PostgreSQL: the row, and the change counter's row) and increase the change number, so the Posts page
can ask for what changed since its last look. Changes that need a post in some state say so in their ``WHERE``
and report a refusal when no row matched (compare and set): see :mod:`.base`.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tiktok.errors import ChangeRefused, StoreError
from tiktok.sealing import cipher_for, is_sealed
from tiktok.store import schema
from tiktok.store.events import EventQueries
from tiktok.store.media import MediaQueries
from tiktok.store.people import PeopleQueries
from tiktok.store.model import EDITABLE, ENDED, HIDDEN, ClaimResult, ImportEntry, ImportResult, Post, dumps, lifecycle
from tiktok.store.model import BOARD_GROUPS, Started
from tiktok.store.records import PostRecord, State
from tiktok.store.interactions import InteractionQueries
from tiktok.store.planner import PlannerQueries
from tiktok.store.shares import ShareQueries
from tiktok.store.status import StatusQueries

P = schema.posts
CHANGE = "change"
# A run may begin an attempt from these (in-flight posts are resumed, never begun again).
STARTABLE = (State.QUEUED, State.FAILED, State.PENDING_INIT)


class SqlStore(MediaQueries, EventQueries, StatusQueries, PeopleQueries, PlannerQueries, ShareQueries,
               InteractionQueries):
    """The shared queries, the media library's, the events' and the status's included (:mod:`.media`,
    :mod:`.events`, :mod:`.status`); subclasses set ``where`` and implement the claim methods and :meth:`_translate`."""

    where: str

    def __init__(self, engine, *, where: str, key: str | None = None, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.where = where
        self.clock = clock
        self._cipher = cipher_for(key)  # ConfigError for a key that is not a Fernet key

    # -- transactions ------------------------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._guard():
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction holding the store's write lock; ``self._bump(conn)`` gives its change number."""
        with self._guard():
            with self.engine.connect() as conn:
                conn.execution_options(tiktok_write=True)
                with conn.begin():
                    yield conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:  # a unique key: the same post added by another process a moment ago
            raise ChangeRefused(f"{self.where} already holds this post (another process added it at the same "
                                "moment); nothing was added") from None
        except SQLAlchemyError as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: SQLAlchemyError) -> StoreError:  # pragma: no cover - each store has its own
        return StoreError(f"{self.where}: {type(exc).__name__}")

    def _lock_counter(self, conn) -> None:
        """Take the change counter's lock without spending a number: a write that may refuse takes it first, so
        every write locks the counter before any post row (no two writers wait for each other in a circle)."""
        counters = schema.counters
        conn.execute(select(counters.c.value).where(counters.c.name == CHANGE).with_for_update())

    def _bump(self, conn) -> int:
        counters = schema.counters
        return conn.execute(update(counters).where(counters.c.name == CHANGE)
                            .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()

    def _serialize_imports(self, conn) -> None:
        """Hook: PostgreSQL takes a transaction lock so two imports run one after the other."""

    # -- rows ------------------------------------------------------------------------------------------------------

    def _post(self, row) -> Post:
        record = self._record_of(row.key, row.record) if row.record is not None else None
        return Post(id=row.id, key=row.key, user_id=row.user_id, entry=json.loads(row.entry) if row.entry else None,
                    origin=row.origin, state=State(row.state), board=row.board, revision=row.revision,
                    change=row.change, created_at=row.created_at, updated_at=row.updated_at, record=record,
                    source=row.source, source_index=row.source_index, media_name=row.media_name, due_at=row.due_at,
                    source_post_at=row.source_post_at, check_caption=bool(row.check_caption), open=bool(row.open))

    def _record_of(self, key: str, text: str) -> PostRecord:
        try:
            data = json.loads(text)
            url = data.get("upload_url")
            if is_sealed(url):
                if self._cipher is None:
                    raise StoreError(f"{self.where} holds encrypted upload URLs but TOKENS_KEY is not set: set it (in "
                                     ".env or the environment) to the key they were written with; nothing was "
                                     "changed")
                data["upload_url"] = self._cipher.open(key, "upload_url", url, owner="record",
                                                       fail=lambda why: StoreError(f"{self.where} {why}"))
            return PostRecord.from_json(data)
        except (ValueError, TypeError, AttributeError):
            raise StoreError(f"{self.where}: the record of post key {key} is not one this tool wrote; nothing was "
                             "changed (restore the store from a backup)") from None

    def _record_text(self, record: PostRecord) -> str:
        data = record.to_json()
        if self._cipher is not None and data.get("upload_url") is not None:
            data["upload_url"] = self._cipher.seal(record.key, "upload_url", data["upload_url"])
        return dumps(data)

    def _record_values(self, record: PostRecord | None, ended: str | None = None, *,
                       history: bool = False) -> dict[str, Any]:
        life = lifecycle(record, ended, history=history)
        return {"state": life.state, "board": life.board, "open": life.open, "follow_until": life.follow_until,
                "record": None if record is None else self._record_text(record)}

    def _one(self, conn, post_id: int) -> Post | None:
        row = conn.execute(select(P).where(P.c.id == post_id)).first()
        return None if row is None else self._post(row)

    # -- posts -----------------------------------------------------------------------------------------------------

    def add(self, entry: dict[str, Any], *, key: str, due_at: float | None, media_name: str | None = None,
            origin: str = "app") -> Post:
        """A new queued post (or a cancelled one with the same content back in the queue). ChangeRefused when the
        store already holds this post."""
        now = self.clock()
        with self._write() as conn:
            return self._add_in(conn, entry, key=key, due_at=due_at, media_name=media_name, origin=origin, now=now)

    def _add_in(self, conn, entry: dict[str, Any], *, key: str, due_at: float | None, media_name: str | None,
                origin: str, now: float) -> Post:
        """:meth:`add` inside the caller's write transaction (the planner's pick-and-add in one)."""
        row = conn.execute(select(P).where(P.c.key == key)).first()
        change = self._bump(conn)
        if row is not None:
            if row.state not in ENDED or row.record is not None:
                raise ChangeRefused(f"{self.where} already holds this post as post {row.id} ({row.state}): the "
                                    "same account, media, caption and settings; nothing was added")
            self._use_media(conn, entry, now)
            conn.execute(update(P).where(P.c.id == row.id).values(
                entry=dumps(entry), due_at=due_at, media_name=media_name, origin=origin,
                revision=row.revision + 1, change=change, updated_at=now, **self._record_values(None)))
            self._link_media(conn, row.id, entry)
            return self._one(conn, row.id)
        self._use_media(conn, entry, now)
        post_id = conn.execute(P.insert().values(
            key=key, user_id=entry["user_id"], entry=dumps(entry), origin=origin, media_name=media_name,
            due_at=due_at, check_caption=False, revision=1, change=change, created_at=now, updated_at=now,
            **self._record_values(None)).returning(P.c.id)).scalar_one()
        self._link_media(conn, post_id, entry, fresh=True)
        return self._one(conn, post_id)

    def get(self, post_id: int) -> Post | None:
        with self._read() as conn:
            return self._one(conn, post_id)

    def find(self, key: str) -> Post | None:
        with self._read() as conn:
            row = conn.execute(select(P).where(P.c.key == key)).first()
        return None if row is None else self._post(row)

    def known_post_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of the post ``keys`` the store holds: one query per 500 keys (an import's "already there")."""
        wanted, found = list(keys), set()
        with self._read() as conn:
            for at in range(0, len(wanted), 500):
                found.update(conn.execute(select(P.c.key).where(P.c.key.in_(wanted[at:at + 500]))).scalars())
        return found

    def open_posts(self, *, now: float, retry_failed: bool = False, user_id: str | None = None,
                   scheduled: bool = True) -> list[Post]:
        """Every post a run must look at, in the order they were queued; without ``scheduled``, not the posts whose
        time is still to come (a run has nothing to do for them yet). Each part is one range of an index, so the
        history (closed posts) is never read."""
        is_open = P.c.open == True  # noqa: E712 - "IS TRUE" would keep the planner off the index
        if scheduled:
            parts = [is_open]
        else:
            parts = [and_(is_open, P.c.due_at.is_(None)), and_(is_open, P.c.due_at <= now)]
        parts.append(P.c.follow_until > now)
        if retry_failed:
            parts.append(and_(P.c.entry.is_not(None), or_(
                P.c.state == State.FAILED, and_(P.c.state == State.PENDING_INIT, P.c.board == "failed"))))
        found: dict[int, Post] = {}
        with self._read() as conn:
            for part in parts:
                query = select(P).where(part)
                if user_id is not None:
                    query = query.where(P.c.user_id == user_id)
                for row in conn.execute(query):
                    if row.id not in found:
                        found[row.id] = self._post(row)
        return [found[post_id] for post_id in sorted(found)]

    def following(self, now: float) -> int:
        """How many published public posts still wait for their public id."""
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(P).where(P.c.follow_until > now)).scalar_one()

    def edit(self, post_id: int, entry: dict[str, Any], *, due_at: float | None, revision: int) -> Post:
        """Replace the entry of a post not started (or failed) that nobody changed since ``revision``."""
        now = self.clock()
        with self._write() as conn:
            change = self._bump(conn)
            done = conn.execute(update(P).where(P.c.id == post_id, P.c.revision == revision,
                                                P.c.state.in_(EDITABLE))
                                .values(entry=dumps(entry), due_at=due_at, revision=revision + 1, change=change,
                                        updated_at=now))
            if done.rowcount != 1:
                raise ChangeRefused(self._why_not(conn, post_id, revision))
            self._use_media(conn, entry, now, verb="changed")
            self._link_media(conn, post_id, entry)
            return self._one(conn, post_id)

    def cancel(self, post_id: int, *, revision: int | None = None) -> Post:
        """End a post not started (or failed): no run posts it; its record stays as history."""
        now = self.clock()
        with self._write() as conn:
            change = self._bump(conn)
            where = [P.c.id == post_id, P.c.state.in_(EDITABLE)]
            if revision is not None:
                where.append(P.c.revision == revision)
            done = conn.execute(update(P).where(*where).values(
                state=State.CANCELLED, board=HIDDEN, open=False, follow_until=None, change=change, updated_at=now))
            if done.rowcount != 1:
                raise ChangeRefused(self._why_not(conn, post_id, revision))
            return self._one(conn, post_id)

    def _why_not(self, conn, post_id: int, revision: int | None) -> str:
        post = self._one(conn, post_id)
        if post is None:
            return f"there is no post {post_id} in {self.where}; nothing was changed"
        if post.state in ENDED:
            return f"post {post_id} was {post.state} meanwhile; nothing was changed"
        if post.state not in EDITABLE:
            return f"a run has started post {post_id} (it is {post.state.replace('_', ' ')}); nothing was changed"
        return f"post {post_id} was changed meanwhile (reload to see it); nothing was changed"

    def still_queued(self, post_id: int, revision: int) -> bool:
        with self._read() as conn:
            row = conn.execute(select(P.c.state, P.c.revision).where(P.c.id == post_id)).first()
        return row is not None and row.state not in ENDED and row.revision == revision

    def count(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(P)).scalar_one()

    # -- records ---------------------------------------------------------------------------------------------------

    def start(self, post_id: int, revision: int, record: PostRecord) -> PostRecord | None:
        """Begin an attempt: store ``record`` (pending_init) if the post is still as the run read it (not ended,
        not edited, not in flight or done); None when it is not. An earlier attempt's record goes to history."""
        now = self.clock()
        record = replace(record, updated_at=now, host=self.host, pid=self.pid)  # which run wrote it last
        with self._write() as conn:
            self._fence(conn, post_id)
            self._lock_counter(conn)
            row = conn.execute(select(P.c.record, P.c.state).where(
                P.c.id == post_id, P.c.revision == revision, P.c.state.in_(STARTABLE)).with_for_update()).first()
            if row is None:
                return None
            change = self._bump(conn)
            if row.record is not None:
                attempts = schema.attempts
                number = conn.execute(select(func.count()).select_from(attempts)
                                      .where(attempts.c.post_id == post_id)).scalar_one() + 1
                conn.execute(attempts.insert().values(post_id=post_id, number=number, record=row.record,
                                                      ended_at=now))
            conn.execute(update(P).where(P.c.id == post_id).values(
                change=change, updated_at=now, check_caption=False, **self._record_values(record)))
            self._note_post(conn, post_id, record)
        return record

    def save(self, post_id: int, record: PostRecord) -> PostRecord:
        """Store the record of a post this run holds (one row; a chunk's progress is one such update)."""
        record = replace(record, updated_at=self.clock(), host=self.host, pid=self.pid)
        with self._write() as conn:
            self._fence(conn, post_id)
            change = self._bump(conn)
            done = conn.execute(update(P).where(P.c.id == post_id, not_(P.c.state.in_(tuple(ENDED)))).values(
                change=change, updated_at=record.updated_at, **self._record_values(record)))
            if done.rowcount:
                self._note_post(conn, post_id, record)
        return record

    def request_retry(self, post_id: int) -> bool:
        """Mark a failed post (or one stopped with its init unanswered) for another attempt by the next run;
        False when it is not such a post any more (retried, posted or started meanwhile)."""
        with self._write() as conn:
            self._lock_counter(conn)
            row = conn.execute(select(P).where(P.c.id == post_id, P.c.state.in_((State.FAILED, State.PENDING_INIT)),
                                               P.c.entry.is_not(None)).with_for_update()).first()
            if row is None or row.record is None:
                return False
            record = self._record_of(row.key, row.record)
            if record.retry_requested or (record.state == State.PENDING_INIT and record.outcome is None):
                return False
            record = replace(record, retry_requested=True, updated_at=self.clock())
            change = self._bump(conn)
            conn.execute(update(P).where(P.c.id == post_id).values(
                change=change, updated_at=record.updated_at, **self._record_values(record)))
            return True

    def attempts(self, post_id: int) -> list[PostRecord]:
        """The records of a post's earlier attempts, oldest first."""
        attempts = schema.attempts
        with self._read() as conn:
            row = conn.execute(select(P.c.key).where(P.c.id == post_id)).first()
            rows = conn.execute(select(attempts.c.record).where(attempts.c.post_id == post_id)
                                .order_by(attempts.c.number)).all()
        return [] if row is None else [self._record_of(row.key, text) for (text,) in rows]

    def every_post(self, batch: int = 500) -> Iterator[Post]:
        """Every post, oldest first, read ``batch`` rows at a time (db import's copy; no page reads this)."""
        last = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(select(P).where(P.c.id > last).order_by(P.c.id).limit(batch)).all()
            if not rows:
                return
            for row in rows:
                yield self._post(row)
            last = rows[-1].id

    def adopt(self, post: Post, *, attempts: list[PostRecord] = ()) -> bool:
        """Copy ``post`` (from another store) in with its record and earlier attempts, under this store's own
        number; False when this store holds its key already (nothing changed)."""
        now = self.clock()
        with self._write() as conn:
            if conn.execute(select(P.c.id).where(P.c.key == post.key)).first() is not None:
                return False
            change = self._bump(conn)
            ended = post.state if post.state in ENDED else None
            post_id = conn.execute(P.insert().values(
                key=post.key, user_id=post.user_id, entry=dumps(post.entry) if post.entry is not None else None,
                origin=post.origin, source=post.source, source_index=post.source_index, media_name=post.media_name,
                source_post_at=post.source_post_at, due_at=post.due_at, check_caption=post.check_caption,
                revision=1, change=change, created_at=post.created_at, updated_at=now,
                **self._record_values(post.record, ended, history=post.entry is None))
                .returning(P.c.id)).scalar_one()
            self._link_media(conn, post_id, post.entry, fresh=True)
            for number, record in enumerate(attempts, 1):
                conn.execute(schema.attempts.insert().values(post_id=post_id, number=number,
                                                             record=self._record_text(record), ended_at=now))
        return True

    # -- manifest imports ------------------------------------------------------------------------------------------

    def last_import(self, source: str) -> dict[str, Any] | None:
        return self._meta(f"manifest:{source}")

    def _meta(self, name: str) -> dict[str, Any] | None:
        with self._read() as conn:
            value = conn.execute(select(schema.meta.c.value).where(schema.meta.c.name == name)).scalar()
        return None if value is None else json.loads(value)

    def _set_meta(self, conn, name: str, value: dict[str, Any]) -> None:
        meta = schema.meta
        done = conn.execute(update(meta).where(meta.c.name == name).values(value=dumps(value)))
        if done.rowcount == 0:
            conn.execute(meta.insert().values(name=name, value=dumps(value)))

    def import_manifest(self, source: str, digest: str, entries: list[ImportEntry], *, orphans: list[PostRecord],
                        legacy: str | None, problems: list[str]) -> ImportResult:
        """Bring one manifest's valid entries in, in one transaction (see :mod:`tiktok.posting.importer`)."""
        now = self.clock()
        result = ImportResult()
        with self._write() as conn:
            self._serialize_imports(conn)
            meta = schema.meta
            names = [f"manifest:{source}"] + ([f"legacy:{legacy}"] if legacy else [])
            known = dict(conn.execute(select(meta.c.name, meta.c.value).where(meta.c.name.in_(names))).all())
            last = json.loads(known[names[0]]) if names[0] in known else None
            if last is not None and last.get("digest") == digest and last.get("problems") == problems and (
                    legacy is None or names[-1] in known):
                result.unchanged = True
                return result
            if legacy and names[-1] in known:  # its records came in with an earlier import
                orphans = []
                entries = [replace(entry, record=None) for entry in entries]
            change = self._bump(conn)
            for entry in entries:
                self._import_one(conn, source, entry, change, now, result)
            keys = [entry.key for entry in entries]
            gone = conn.execute(select(P).where(P.c.source == source, P.c.origin == "manifest",
                                                P.c.state == State.QUEUED, not_(P.c.key.in_(keys)))).all()
            for row in gone:
                conn.execute(update(P).where(P.c.id == row.id).values(
                    state=State.WITHDRAWN, board=HIDDEN, open=False, change=change, updated_at=now))
                result.withdrawn.append(self._post(row))
            for record in orphans:
                if conn.execute(select(P.c.id).where(P.c.key == record.key)).first() is None:
                    conn.execute(P.insert().values(
                        key=record.key, user_id=record.user_id, entry=None, origin="earlier", source=source,
                        check_caption=False, revision=1, change=change, created_at=record.updated_at or now,
                        updated_at=record.updated_at or now, **self._record_values(record, history=True)))
                    result.migrated += 1
            if legacy:
                self._set_meta(conn, names[-1], {"at": now})
            self._set_meta(conn, names[0], {"digest": digest, "problems": problems, "at": now, "legacy": legacy})
        return result

    def _import_one(self, conn, source: str, entry: ImportEntry, change: int, now: float,
                    result: ImportResult) -> None:
        row = conn.execute(select(P).where(P.c.key == entry.key)).first()
        post_at = entry.entry.get("post_at")
        if row is None:
            created = entry.record.updated_at if entry.record is not None and entry.record.updated_at else now
            post_id = conn.execute(P.insert().values(
                key=entry.key, user_id=entry.user_id, entry=dumps(entry.entry), origin="manifest", source=source,
                source_index=entry.index, source_post_at=post_at, due_at=entry.due_at,
                check_caption=entry.record is None, revision=1, change=change, created_at=created, updated_at=now,
                **self._record_values(entry.record)).returning(P.c.id)).scalar_one()
            self._link_media(conn, post_id, entry.entry, fresh=True)
            result.migrated += entry.record is not None
            result.added.append(self._one(conn, post_id))
            return
        values: dict[str, Any] = {}
        if row.source_index != entry.index:
            values["source_index"] = entry.index
        if row.source_post_at != post_at:
            values["source_post_at"] = post_at
        stored = json.loads(row.entry) if row.entry else None
        if row.origin == "manifest" and row.source != source:
            values["source"] = source  # the same post, its manifest reached by another path or moved
            path = entry.entry.get("video_path")
            if stored is not None and path is not None and "video_path" in stored and stored["video_path"] != path:
                stored["video_path"] = path  # a relative video_path: the video moved with its manifest
                values.update(entry=dumps(stored), revision=row.revision + 1)
        if row.state == State.WITHDRAWN and row.record is None and row.origin == "manifest":
            values.update(entry=dumps(entry.entry), due_at=entry.due_at, revision=row.revision + 1,
                          **self._record_values(None))
            result.revived.append(self._post(row))
        elif row.state == State.QUEUED and row.origin == "manifest" and post_at != row.source_post_at:
            stored = {k: v for k, v in (stored or entry.entry).items() if k != "post_at"}
            if post_at is not None:
                stored["post_at"] = post_at
            values.update(entry=dumps(stored), due_at=entry.due_at, revision=row.revision + 1)
            result.rescheduled.append(self._post(row))
        else:
            result.kept += 1
        if entry.record is not None and row.record is None and row.state == State.QUEUED:
            values.update(self._record_values(entry.record))
            result.migrated += 1
        if values:
            conn.execute(update(P).where(P.c.id == row.id).values(change=change, updated_at=now, **values))
        if "entry" in values:
            self._link_media(conn, row.id, json.loads(values["entry"]))

    # -- the Posts page --------------------------------------------------------------------------------------------

    def _missed(self, missed_before: float):
        return and_(P.c.board == "upcoming", P.c.state == State.QUEUED, P.c.due_at.is_not(None),
                    P.c.due_at < missed_before)

    def _group(self, group: str, missed_before: float):
        if group == "failed":
            return or_(P.c.board == "failed", self._missed(missed_before)), [P.c.updated_at.desc(), P.c.id.desc()]
        if group == "upcoming":
            return and_(P.c.board == "upcoming", not_(self._missed(missed_before))), \
                [P.c.due_at.asc().nulls_first(), P.c.id]
        if group == "in_progress":
            return P.c.board == "in_progress", [P.c.id]
        if group == "done":
            return P.c.board == "done", [P.c.updated_at.desc(), P.c.id.desc()]
        raise ValueError(f"no such group {group!r}")

    def board_page(self, group: str, *, missed_before: float, offset: int, limit: int) -> list[Post]:
        where, order = self._group(group, missed_before)
        with self._read() as conn:
            rows = conn.execute(select(P).where(where).order_by(*order).offset(offset).limit(limit))
            return [self._post(row) for row in rows]

    def board_counts(self, *, missed_before: float) -> dict[str, int]:
        with self._read() as conn:
            counts = dict(conn.execute(select(P.c.board, func.count()).where(P.c.board != HIDDEN)
                                       .group_by(P.c.board)).all())
            missed = conn.execute(select(func.count()).select_from(P).where(self._missed(missed_before))) \
                .scalar_one()
        counts = {name: counts.get(name, 0) for name in ("failed", "in_progress", "upcoming", "done")}
        counts["failed"] += missed
        counts["upcoming"] -= missed
        return counts

    def changed_since(self, change: int, *, limit: int) -> list[Post]:
        with self._read() as conn:
            rows = conn.execute(select(P).where(P.c.change > change).order_by(P.c.change).limit(limit))
            return [self._post(row) for row in rows]

    def latest_change(self) -> int:
        counters = schema.counters
        with self._read() as conn:
            return conn.execute(select(counters.c.value).where(counters.c.name == CHANGE)).scalar_one()

    def scheduled_count(self, now: float) -> int:
        """Posts not started whose time is still to come."""
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(P).where(
                P.c.open == True, P.c.due_at > now, P.c.state == State.QUEUED)).scalar_one()  # noqa: E712

    def next_due(self, now: float) -> float | None:
        with self._read() as conn:
            return conn.execute(select(P.c.due_at).where(P.c.open == True, P.c.due_at > now,  # noqa: E712
                                                         P.c.state == State.QUEUED)
                                .order_by(P.c.due_at).limit(1)).scalar()

    def moving(self) -> bool:
        """Whether a post is in flight or waits for a run now (the page polls while one is)."""
        with self._read() as conn:
            return conn.execute(select(P.c.id).where(P.c.board == "in_progress").limit(1)).first() is not None

    def started_since(self, since: float, *, user_id: str | None = None) -> list[Started]:
        """The attempts TikTok's per-account caps count (:class:`Started`) of posts changed at or after ``since``
        (of ``user_id``, or every account's): one range per group of the ``(board, updated_at)`` index, so the read
        grows with the posts of the last day, never with the history. An earlier attempt kept in ``attempts`` (a
        retried post's) is not counted."""
        query = select(P.c.user_id, P.c.record).where(P.c.board.in_((*BOARD_GROUPS, HIDDEN)),
                                                      P.c.updated_at >= since, P.c.record.is_not(None))
        if user_id is not None:
            query = query.where(P.c.user_id == user_id)
        found = []
        with self._read() as conn:
            for row in conn.execute(query):
                record = json.loads(row.record)  # plain fields only: nothing sealed is read
                taken = record.get("publish_id") is not None or record.get("state") == State.PENDING_INIT
                at = record.get("published_at") or record.get("updated_at") or 0.0
                if taken and at >= since:
                    found.append(Started(row.user_id, draft=record.get("privacy") is None, at=at))
        return found

    # -- claims (the subclasses) -----------------------------------------------------------------------------------

    def claim(self, post: Post) -> ClaimResult:  # pragma: no cover - each store has its own
        raise NotImplementedError

    def release(self, post: Post) -> None:  # pragma: no cover
        raise NotImplementedError

    def live_claims(self, posts: Iterable[Post]) -> set[int]:  # pragma: no cover
        raise NotImplementedError

    def check_claim(self, post: Post) -> None:
        """Right before a call that could create ``post``: ClaimLost unless this run still holds its claim. Here
        (SQLite) always true: a ``flock`` claim ends only with its holder; PostgreSQL's leases can lapse."""

    def _fence(self, conn, post_id: int) -> None:
        """Hook at the start of every write of a post's record (``start``, ``save``): PostgreSQL checks there that
        the lease of a post this store claimed is still its own (ClaimLost, nothing written, when not)."""

    def _claim_row(self, conn, post_id: int, pid: int, host: str):
        """Write who holds ``post_id`` now; returns the previous holder's row (a stopped run's), if any."""
        claims = schema.claims
        previous = conn.execute(select(claims).where(claims.c.post_id == post_id)).first()
        if previous is None:
            conn.execute(claims.insert().values(post_id=post_id, pid=pid, host=host, started_at=self.clock()))
        else:
            conn.execute(update(claims).where(claims.c.post_id == post_id)
                         .values(pid=pid, host=host, started_at=self.clock()))
        return previous

    def _holder_row(self, post_id: int):
        claims = schema.claims
        with self._read() as conn:
            return conn.execute(select(claims).where(claims.c.post_id == post_id)).first()

    def _drop_claim_row(self, post_id: int, pid: int, host: str) -> None:
        claims = schema.claims
        with self._write() as conn:
            conn.execute(claims.delete().where(claims.c.post_id == post_id, claims.c.pid == pid,
                                               claims.c.host == host))

    def close(self) -> None:
        self.engine.dispose()
