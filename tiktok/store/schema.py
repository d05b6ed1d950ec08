"""The store's one schema, for SQLite and PostgreSQL alike (SQLAlchemy Core), and its numbered migrations.

Tables (every name starts with ``tiktok_store_``, so the store can share a PostgreSQL database with anything):

- ``posts``: one row per post, whatever made it (the composer, a manifest import, an earlier results file). The row
  holds the entry (a manifest entry as JSON), the record of its attempt (:class:`~tiktok.store.records.PostRecord`
  as JSON, its upload URL sealed with TOKENS_KEY) and columns derived from both, so that every question a run or a
  page asks is one indexed query: ``open`` (a run must look at it), ``follow_until`` (a public id to look for),
  ``board`` (its group on the Posts page), ``due_at`` and ``change`` (the store's change number at its last write).
- ``attempts``: the records of a post's earlier attempts, moved there when it is tried again.
- ``claims``: who holds a post's claim in SQLite, for messages; whether a claim is live is its ``flock``'s business.
- ``leases`` (PostgreSQL): claims on posts and locks on accounts as rows that outlive a dropped connection: holder,
  fencing token and expiry by the database's clock (:mod:`tiktok.store.leases`). Created in SQLite too (one schema),
  where nothing uses it.
- ``media`` (migration 3): the media library's files, one row per file kept in MEDIA_DIR (a composer upload's name
  there, or a media store key), its original name, what probing it found and the checks' result, when it was last
  used, and ``removed_at`` once the cleanup or a person removed it (kept a while, so a post composed from the file at
  that moment is refused: :mod:`tiktok.store.media`).
- ``post_media`` (migration 3): which files each post's entry names (:func:`tiktok.store.model.media_names`),
  written with the entry, so "which posts use this file" is one indexed query.
- ``events`` (migration 4): what happened that a person should hear of (a post failed, published or got its public
  link, an account must be linked again, ...), one row per event, its ``key`` unique so that any number of processes
  noticing the same thing record it once (:mod:`tiktok.store.events`).
- ``deliveries`` (migration 4): one row per event and alert channel (an apprise URL or a webhook, named by a hash,
  never by the URL): pending, sent or given up, its tries and when it may be tried next, and who holds it while it is
  sent, so each event goes out once per channel whichever process sends it.
- ``people`` (migration 5): who uses the app, signed in with TikTok (Login Kit, ``user.info.basic``): open_id,
  name, avatar, role (owner, member or pending: a request the owner has not answered), when they first signed in
  and when they were allowed (:mod:`tiktok.store.people`).
- ``person_sessions`` (migration 5): a person's sign-ins, by a hash of the random id their cookie holds, until
  when; Sign out deletes the row, so a copy of the cookie stops working.
- ``likes``, ``comments``, ``bookmarks`` (migration 6): what people do with a transcript (:mod:`tiktok.store.interactions`),
  each naming the transcript by its account's open_id and its video id (the transcripts folder's and its pages' key).
  A like and a bookmark are one row per person and transcript; a comment has a parent (one level of replies) and is
  marked deleted rather than removed, so a thread keeps its shape.
- ``share_links`` (migration 7): read-only links to one transcript each, by a hash of the link's token: which
  transcript (account folder and video id), who made it, when, and when it was revoked (:mod:`tiktok.store.shares`).
- ``counters``: the change number, increased by every write transaction.
- ``meta``: small named values (what a manifest held at its last import, which results files were migrated).
- ``version``: the migrations applied.

Migrations are numbered and never edited once shipped; each runs in the transaction that records it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import (
    BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, select,
)

from tiktok.store.model import media_names

metadata = MetaData()
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite's INTEGER PRIMARY KEY is its row id

posts = Table(
    "tiktok_store_posts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),   # records.entry_key: what is posted
    Column("user_id", Text, nullable=False),
    Column("entry", Text),                                    # the manifest entry as JSON (None: history only)
    Column("origin", String(16), nullable=False),             # app, manifest or earlier
    Column("source", Text),                                   # the manifest it came from (resolved path)
    Column("source_index", Integer),                          # its position there at the last import (0-based)
    Column("source_post_at", Text),                           # post_at as that manifest last said it
    Column("media_name", Text),                               # the file name the person uploaded
    Column("state", String(16), nullable=False),              # records.State
    Column("board", String(16), nullable=False),              # base.BOARD_GROUPS, or hidden
    Column("open", Boolean, nullable=False),                  # a run has something to do for it
    Column("due_at", Float),                                  # post_at as epoch seconds
    Column("follow_until", Float),                            # look for its public id until then
    Column("check_caption", Boolean, nullable=False),         # look for the caption on TikTok before its first post
    Column("record", Text),                                   # records.PostRecord as JSON
    Column("revision", Integer, nullable=False),              # increased by every change to the entry
    Column("change", BigInteger, nullable=False),             # the store's change number at the last write
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("tiktok_store_posts_open_due", posts.c.open, posts.c.due_at)  # a run's work: open and due now
Index("tiktok_store_posts_follow", posts.c.follow_until)
Index("tiktok_store_posts_change", posts.c.change)
Index("tiktok_store_posts_board_updated", posts.c.board, posts.c.updated_at)
Index("tiktok_store_posts_board_due", posts.c.board, posts.c.due_at, posts.c.id)
Index("tiktok_store_posts_source", posts.c.source, posts.c.state)

claims = Table(
    "tiktok_store_claims", metadata,
    Column("post_id", Id, primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("started_at", Float, nullable=False),
)

leases = Table(  # tiktok.store.leases: a lease is live while lease_until is ahead of the database's clock
    "tiktok_store_leases", metadata,
    Column("name", Text, primary_key=True),                   # tiktok-post:<key> or tiktok-account:<open_id>
    Column("holder", String(32), nullable=False),             # the holding process's random id
    Column("fence", BigInteger, nullable=False),              # fencing token: from FENCE, new on every take
    Column("lease_until", Float, nullable=False),             # epoch seconds by the database's clock
    Column("pid", Integer, nullable=False),                   # who holds it, for messages
    Column("host", Text, nullable=False),
    Column("process", Text),                                  # machine and start time: is the holder still running
    Column("taken_at", Float, nullable=False),                # the database's clock
)
FENCE = "tiktok_store_lease_fence"  # PostgreSQL sequence: every take draws a larger fencing token

attempts = Table(  # earlier attempts' records, kept when a post is tried again (history is never lost)
    "tiktok_store_attempts", metadata,
    Column("post_id", Id, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("record", Text, nullable=False),
    Column("ended_at", Float, nullable=False),
)

counters = Table(
    "tiktok_store_counters", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

meta = Table(
    "tiktok_store_meta", metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

media = Table(  # the media library (tiktok.store.media, tiktok.media.library)
    "tiktok_store_media", metadata,
    Column("name", Text, primary_key=True),                   # the file's name in MEDIA_DIR (an upload's media id)
    Column("original", Text),                                 # the name the person's file had
    Column("kind", String(16), nullable=False),               # video or photo
    Column("origin", String(16), nullable=False),             # upload (the composer's) or stored (a media store key)
    Column("size_bytes", BigInteger, nullable=False),
    Column("duration_s", Float),
    Column("width", Integer),
    Column("height", Integer),
    Column("checks", Text),                                   # what probing found and TikTok's checks said, as JSON
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),            # uploaded, or named by a post added or edited
    Column("removed_at", Float),                              # the cleanup or a person removed the file
)
Index("tiktok_store_media_listed", media.c.removed_at, media.c.created_at)  # the library page, newest first
Index("tiktok_store_media_used", media.c.removed_at, media.c.last_used_at)  # the cleanup's candidates

post_media = Table(  # the files a post's entry names: one row per (post, file name)
    "tiktok_store_post_media", metadata,
    Column("post_id", Id, primary_key=True),
    Column("name", Text, primary_key=True),
)
Index("tiktok_store_post_media_name", post_media.c.name, post_media.c.post_id)

events = Table(  # tiktok.store.events: what happened, for alerts, webhooks and the events page
    "tiktok_store_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),   # in commit order: written under the store's write lock
    Column("key", Text, nullable=False, unique=True),         # what makes two notices the same event
    Column("kind", String(32), nullable=False),               # tiktok.store.events.KINDS
    Column("at", Float, nullable=False),
    Column("user_id", Text),                                  # the account it is about, when one
    Column("post_id", Id),                                    # the post it is about, when one
    Column("data", Text, nullable=False),                     # the facts, as JSON (no secrets)
)
Index("tiktok_store_events_user", events.c.user_id, events.c.id)

deliveries = Table(  # one event to one alert channel
    "tiktok_store_deliveries", metadata,
    Column("event_id", Id, primary_key=True),
    Column("channel", String(64), primary_key=True),          # a hash of the channel's URL (tiktok.store.events)
    Column("state", String(16), nullable=False),              # pending, sent or gave_up
    Column("tries", Integer, nullable=False),
    Column("next_at", Float, nullable=False),                 # a pending delivery may be tried from then on
    Column("holder", String(32)),                             # the sending process's random id, while it sends
    Column("held_until", Float),
    Column("error", Text),                                    # the last failure, in words (never the URL)
    Column("done_at", Float),
)
Index("tiktok_store_deliveries_due", deliveries.c.channel, deliveries.c.state, deliveries.c.next_at)

people = Table(  # tiktok.store.people: who uses the app (not the accounts it posts as)
    "tiktok_store_people", metadata,
    Column("open_id", Text, primary_key=True),               # TikTok's open_id of the person for this app
    Column("name", Text, nullable=False),                     # display name (user.info.basic)
    Column("avatar", Text, nullable=False),                   # avatar URL, shown through the CSP's img-src
    Column("role", String(16), nullable=False),               # owner, member or pending
    Column("created_at", Float, nullable=False),              # first signed in, or allowed before that
    Column("allowed_at", Float),                              # the owner allowed them (None while pending)
    Column("allowed_by", Text),                               # the owner's open_id
)
Index("tiktok_store_people_role", people.c.role, people.c.created_at)

person_sessions = Table(  # a person's sign-ins: the cookie holds a random id, the store its hash
    "tiktok_store_person_sessions", metadata,
    Column("digest", String(64), primary_key=True),           # sha256 hex of the cookie's id
    Column("open_id", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
Index("tiktok_store_person_sessions_person", person_sessions.c.open_id)

share_links = Table(  # tiktok.store.shares: read-only links to one transcript each (migration 7)
    "tiktok_store_share_links", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),  # sha256 hex of the link's token (never the token)
    Column("open_id", Text, nullable=False),                  # the transcript: its account folder ...
    Column("video_id", Text, nullable=False),                 # ... and its video id (tiktok.transcription.store)
    Column("created_by", Text, nullable=False),               # the person's open_id
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),                              # None while the link opens
)
Index("tiktok_store_share_links_transcript", share_links.c.open_id, share_links.c.video_id)

likes = Table(  # tiktok.store.interactions: one row per person and transcript
    "tiktok_store_likes", metadata,
    Column("person", Text, primary_key=True),                 # the person's open_id (tiktok_store_people)
    Column("open_id", Text, primary_key=True),                # the transcript: its account's open_id ...
    Column("video_id", Text, primary_key=True),               # ... and its video id
    Column("at", Float, nullable=False),
)
Index("tiktok_store_likes_transcript", likes.c.open_id, likes.c.video_id)

comments = Table(  # a comment, or a reply to a top-level one (parent_id)
    "tiktok_store_comments", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("open_id", Text, nullable=False),
    Column("video_id", Text, nullable=False),
    Column("person", Text, nullable=False),
    Column("parent_id", Id),                                  # None: top level; else a top-level comment's id
    Column("text", Text, nullable=False),                     # plain text, cleaned (emptied once deleted)
    Column("at", Float, nullable=False),
    Column("deleted_at", Float),
)
Index("tiktok_store_comments_transcript", comments.c.open_id, comments.c.video_id, comments.c.id)

bookmarks = Table(  # one row per person and transcript; the id orders "bookmarked by me", newest first
    "tiktok_store_bookmarks", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("person", Text, nullable=False),
    Column("open_id", Text, nullable=False),
    Column("video_id", Text, nullable=False),
    Column("at", Float, nullable=False),
    UniqueConstraint("person", "open_id", "video_id", name="tiktok_store_bookmarks_one"),
)
Index("tiktok_store_bookmarks_person", bookmarks.c.person, bookmarks.c.id)
Index("tiktok_store_bookmarks_transcript", bookmarks.c.open_id, bookmarks.c.video_id)

version = Table(
    "tiktok_store_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("applied_at", Float, nullable=False),
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[..., None]  # (SQLAlchemy connection) -> None, inside the migration's transaction
    # the oldest tool store version that still works once this is applied (tiktok.db.migrations); None: only tools
    # that know this migration
    compatible_from: int | None = None


def _create_v1(conn) -> None:
    for table in (posts, claims, attempts, counters, meta):  # as shipped: each later table is its own migration's
        table.create(conn)
    conn.execute(counters.insert().values(name="change", value=0))


def _create_v2(conn) -> None:
    leases.create(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"CREATE SEQUENCE {FENCE}")


def _create_v3(conn) -> None:
    media.create(conn)
    post_media.create(conn)
    link_every_post(conn)


def _create_v4(conn) -> None:
    events.create(conn)
    deliveries.create(conn)


def _create_v5(conn) -> None:
    people.create(conn)
    person_sessions.create(conn)


def _create_v6(conn) -> None:
    for table in (likes, comments, bookmarks):
        table.create(conn)


def _create_v7(conn) -> None:
    share_links.create(conn)


def link_every_post(conn, batch: int = 500) -> None:
    """Write ``post_media`` for every post that has an entry (migration 3, and posts moved in from elsewhere)."""
    last = 0
    while True:
        rows = conn.execute(select(posts.c.id, posts.c.entry).where(posts.c.id > last, posts.c.entry.is_not(None))
                            .order_by(posts.c.id).limit(batch)).all()
        if not rows:
            return
        links = [{"post_id": row.id, "name": name} for row in rows for name in media_names(json.loads(row.entry))]
        if links:
            conn.execute(post_media.delete().where(post_media.c.post_id.in_([row.id for row in rows])))
            conn.execute(post_media.insert(), links)
        last = rows[-1].id


MIGRATIONS = (
    Migration(1, "posts, claims, counters, meta", _create_v1),
    Migration(2, "leases: claims and account locks that outlive a connection", _create_v2),
    # additive: a tool at store version 2 goes on working (it writes no post_media rows; the cleanup also reads the
    # entries of live posts, so a file such a tool queued is kept all the same)
    Migration(3, "media library: media, post_media", _create_v3, compatible_from=2),
    # additive: older tools go on working; they record no events (their posts' changes are not alerted)
    Migration(4, "events and their deliveries to alert channels", _create_v4, compatible_from=3),
    # additive: older tools go on working; they neither read nor write people
    Migration(5, "people and their sign-ins", _create_v5, compatible_from=4),
    # additive: older tools go on working; they neither read nor write likes, comments or bookmarks
    Migration(6, "likes, comments and bookmarks on transcripts", _create_v6, compatible_from=5),
    # additive: older tools go on working; they neither make nor open share links
    Migration(7, "share links to one transcript each", _create_v7, compatible_from=6),
)
LATEST = MIGRATIONS[-1].version


def applied(conn) -> set[int]:
    """The versions applied (empty for a store never migrated)."""
    if not conn.dialect.has_table(conn, version.name):
        return set()
    return {row[0] for row in conn.execute(version.select().with_only_columns(version.c.version))}


def upgrade(conn, *, now: float) -> list[Migration]:
    """Apply the missing migrations in ``conn``'s transaction (the caller holds the store's write lock); returns
    those applied. A store newer than this tool raises ValueError with the two versions."""
    version.create(conn, checkfirst=True)
    done = applied(conn)
    if done and max(done) > LATEST:
        raise ValueError(f"has store version {max(done)}, newer than this tool's {LATEST}: update the tool")
    todo = [m for m in MIGRATIONS if m.version not in done]
    for migration in todo:
        migration.apply(conn)
        conn.execute(version.insert().values(version=migration.version, name=migration.name, applied_at=now))
    return todo


def current(conn) -> int:
    return max(applied(conn), default=0)
