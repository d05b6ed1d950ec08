"""Leases in rows (PostgreSQL): claims on posts and locks on accounts that survive a dropped connection, that another
process takes over within a bounded time when their holder hangs or is cut off, and that every write of a held post
and every call that could create a post checks first (a fencing token).

Why not session advisory locks, as earlier versions held them: the server drops them silently when the holder's
connection ends (a database restart, ``idle_session_timeout``, PgBouncer, a firewall) while the holder goes on
posting, and keeps them for hours while a hung holder's TCP connection stays up. A lease is a row of
``tiktok_store_leases`` instead:

- ``holder``: a random id per process (pid and host are there for messages); ``fence``: drawn from a sequence on
  every take, so it grows with each take-over (and tells apart two stores of one process); ``lease_until``: the
  database's ``now()`` plus :data:`LEASE_S` (no machine's clock decides who holds what).
- take (:meth:`Leases.take`): a name nobody holds, a lease past its ``lease_until``, or a lease whose holder is a
  process that ended on this very machine (same host, kernel boot and pid namespace, and ``/proc`` shows that pid
  gone or started at another time): that one is taken at once, as a killed run's ``flock`` claim is in SQLite.
  Anything else is refused, naming its holder.
- renew: one thread per process (:class:`Keeper`) renews every lease the process holds each :data:`RENEW_S`.
- check (:meth:`Leases.check`): inside the transaction of every write of a held post's record, the row must still
  name this holder and fence and not have expired; it is read ``FOR SHARE``, so no take-over commits before the write
  does. Otherwise :class:`~tiktok.errors.ClaimLost`, and nothing is written.
- confirm (:meth:`Leases.confirm`): right before a call that could create a post, the lease is renewed now or
  ClaimLost is raised: the holder then has a whole LEASE_S before anyone may take it, against the moment between
  this check and its request leaving. (A holder frozen for longer than that in exactly that moment, a few lines of
  code, is the one case no lease can cover: TikTok takes no fencing token.)
- release: the row is deleted; a lease that cannot be deleted (the database away) expires by itself.

The defaults: a holder that hangs or loses its network is taken over at most LEASE_S (60 s) after its last renewal;
a live holder rides out a database outage or restart of up to LEASE_S - RENEW_S (45 s) without losing its leases.

Upgrades: a run of the earlier version that opened the store before ``db migrate`` (a ``--watch`` run, the app)
still claims with a session advisory lock of the same name (later runs of that version refuse the newer store). So
a holder here takes that advisory lock too, on one connection of its own per process while it holds leases (its
*keeper* session, which also renews), and a name whose advisory lock an earlier version's session holds is not
taken. Best effort by nature: the keeper session can drop for the reasons above (its locks are taken again when it
reconnects, and a name an earlier version took meanwhile is given up), and a lock held by another keeper session (a
hung holder taken over) does not count: the lease rules decide between new holders.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterable

from sqlalchemy import text

from tiktok.errors import ClaimLost
from tiktok.store.records import Claim
from tiktok.store.schema import FENCE

log = logging.getLogger(__name__)

LEASE_S = 60.0  # a lease lasts this long past its last renewal, by the database's clock
RENEW_S = 15.0  # a live holder renews this often: three renewals may fail before a lease can lapse
RETRY_S = 2.0  # a renewal that failed (the database away) is tried again this soon
KEEPER = "tiktok-lease-keeper"  # application_name of keeper sessions (then host:pid): their advisory locks are
# not an earlier version's run's
NOW = "extract(epoch FROM now())::float8"
COLUMNS = "holder, fence, lease_until, pid, host, process, taken_at"
OLD_HOLDERS = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
               "'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = "
               "current_database()) AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0) "
               "AND NOT starts_with(coalesce(a.application_name, ''), %s)")


def post_name(key: str) -> str:
    """A post's lease, by its key: the name of earlier versions' advisory lock on it."""
    return f"tiktok-post:{key}"


def account_name(open_id: str) -> str:
    """An account's lease (a worker posting its queue): the name of earlier versions' advisory lock on it."""
    return f"tiktok-account:{open_id}"


@dataclass(frozen=True)
class Taken:
    """What a take gave: the fencing token (None when refused), who holds it (refused; ``earlier``: a run of the
    earlier version, by its advisory lock), or whose lease was taken over (a holder that stopped)."""

    fence: int | None
    holder: Claim | None = None
    taken_over: Claim | None = None
    earlier: bool = False


class Leases:
    """The leases one store holds: taken, checked and released in the store's own transactions (``transaction()``:
    a SQLAlchemy connection in a transaction, errors translated), renewed by this process's :class:`Keeper` for the
    database (``keeper``)."""

    def __init__(self, transaction: Callable[[], ContextManager[Any]], keeper: Keeper) -> None:
        self.transaction = transaction
        self.keeper = keeper
        self._held: dict[str, int] = {}  # name -> fence
        self._lock = threading.Lock()  # guards _held (held briefly, never across a call to the database)

    @property
    def holder(self) -> str:
        return self.keeper.holder

    def fence(self, name: str) -> int | None:
        """The fencing token this store took ``name`` with (None: not taken, or let go)."""
        with self._lock:
            return self._held.get(name)

    def holds(self, name: str) -> bool:
        """Whether this store took ``name`` and has not let go (the lease itself may have been lost since)."""
        return self.fence(name) is not None

    # -- taking and letting go ---------------------------------------------------------------------------------------

    def take(self, name: str, *, pid: int, host: str) -> Taken:
        """Take ``name`` if nobody holds it, its lease expired or its holder's process ended on this machine."""
        with self.transaction() as conn:
            taken = self._take_row(conn, name, pid, host)
        if taken.fence is None:
            return taken
        if not self.keeper.hold(name, taken.fence):  # an earlier version's run holds its advisory lock
            self._delete(name, taken.fence)
            return Taken(None, earlier=True)
        with self._lock:
            self._held[name] = taken.fence
        return taken

    def _take_row(self, conn, name: str, pid: int, host: str) -> Taken:
        values = {"name": name, "holder": self.holder, "lease_s": self.keeper.lease_s, "pid": pid, "host": host,
                  "process": self.keeper.process}
        for _ in range(3):  # a row deleted between the two statements: look again
            fence = conn.execute(text(
                f"INSERT INTO tiktok_store_leases (name, {COLUMNS}) VALUES (:name, :holder, nextval('{FENCE}'), "
                f"{NOW} + :lease_s, :pid, :host, :process, {NOW}) ON CONFLICT (name) DO NOTHING RETURNING fence"),
                values).scalar()
            if fence is not None:
                return Taken(fence)
            row = conn.execute(text(f"SELECT pid, host, process, taken_at, lease_until > {NOW} AS live FROM "
                                    "tiktok_store_leases WHERE name = :name FOR UPDATE"), values).first()
            if row is None:
                continue
            holder = Claim(row.pid, row.host, row.taken_at)
            if row.live and not gone(row.process, row.pid):
                return Taken(None, holder=holder)
            fence = conn.execute(text(
                f"UPDATE tiktok_store_leases SET holder = :holder, fence = nextval('{FENCE}'), lease_until = {NOW} + "
                f":lease_s, pid = :pid, host = :host, process = :process, taken_at = {NOW} WHERE name = :name "
                "RETURNING fence"), values).scalar_one()
            return Taken(fence, taken_over=holder)
        return Taken(None, holder=Claim(pid=0, host="another run", started_at=0))

    def release(self, name: str) -> None:
        """Let go of ``name``: its row deleted, its advisory lock unlocked. Never raises: a lease that cannot be
        deleted now (the database away) lapses by itself."""
        with self._lock:
            fence = self._held.pop(name, None)
        if fence is not None:
            self._delete(name, fence)
            self.keeper.let_go(name, fence)

    def _delete(self, name: str, fence: int) -> None:
        try:
            with self.transaction() as conn:
                conn.execute(text("DELETE FROM tiktok_store_leases WHERE name = :name AND holder = :holder AND "
                                  "fence = :fence"), {"name": name, "holder": self.holder, "fence": fence})
        except Exception as exc:  # noqa: BLE001 - the database away or gone: the lease lapses by itself
            log.info("could not release %s now (%s); it lapses by itself within %.0f s", name, type(exc).__name__,
                     self.keeper.lease_s)

    def close(self) -> None:
        """Let go of everything this store holds (best effort: what cannot be deleted lapses)."""
        with self._lock:
            names = list(self._held)
        for name in names:
            self.release(name)

    # -- checks ------------------------------------------------------------------------------------------------------

    def check(self, conn, name: str, what: str) -> None:
        """In ``conn``'s write transaction: ClaimLost unless this store still holds ``name``'s lease with its fence
        and it has not expired; the row stays locked (FOR SHARE) until the write commits."""
        fence = self._fence(name, what)
        held = conn.execute(text(f"SELECT 1 FROM tiktok_store_leases WHERE name = :name AND holder = :holder AND "
                                 f"fence = :fence AND lease_until > {NOW} FOR SHARE"),
                            {"name": name, "holder": self.holder, "fence": fence}).first()
        if held is None:
            raise lost(what)

    def confirm(self, conn, name: str, what: str) -> None:
        """In ``conn``'s transaction: renew ``name``'s lease now, or ClaimLost when it is no longer this store's."""
        fence = self._fence(name, what)
        renewed = conn.execute(text(f"UPDATE tiktok_store_leases SET lease_until = {NOW} + :lease_s WHERE name = "
                                    f":name AND holder = :holder AND fence = :fence AND lease_until > {NOW} "
                                    "RETURNING 1"), {"name": name, "holder": self.holder, "fence": fence,
                                                     "lease_s": self.keeper.lease_s}).first()
        if renewed is None:
            raise lost(what)

    def _fence(self, name: str, what: str) -> int:
        fence = self.fence(name)
        if fence is None:
            raise lost(what)
        return fence

    def live(self, conn, names: Iterable[str]) -> set[str]:
        """Those of ``names`` with a live lease (a holder that ended on this machine holds nothing), or an advisory
        lock held by an earlier version's session."""
        names = list(names)
        if not names:
            return set()
        rows = conn.execute(text(f"SELECT name, pid, process FROM tiktok_store_leases WHERE name = "
                                 f"ANY(CAST(:names AS text[])) AND lease_until > {NOW}"), {"names": names}).all()
        live = {row.name for row in rows if not gone(row.process, row.pid)}
        # pg_locks lists every database of the server: only this database's locks are claims of this store
        old = conn.execute(text(
            "SELECT k FROM unnest(CAST(:names AS text[])) AS k WHERE EXISTS (SELECT 1 FROM pg_locks l JOIN "
            "pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) AND ((l.classid::bigint << 32) | "
            "l.objid::bigint) = hashtextextended(k, 0) AND NOT starts_with(coalesce(a.application_name, ''), :keeper))"),
            {"names": names, "keeper": KEEPER}).scalars()
        return live | set(old)


class Keeper:
    """This process's leases in one database, whichever store took them: one holder id, one thread renewing them
    all every RENEW_S, and one connection of its own (the keeper session, only while something is held) for the
    renewals and the earlier version's advisory locks. One per process and database (:func:`keeper_for`), so a
    worker running several jobs adds one connection, not one per job."""

    def __init__(self, connect: Callable[[], Any], *, lease_s: float = LEASE_S, renew_s: float = RENEW_S) -> None:
        self.connect = connect
        self.lease_s, self.renew_s = lease_s, renew_s
        self.holder = secrets.token_hex(8)
        self.process = this_process()
        self._held: dict[str, int] = {}  # name -> fence, of every store of this process
        self._locked: set[str] = set()  # names whose advisory lock the keeper session holds
        self._session: Any = None
        self._talk = threading.RLock()  # guards everything above
        self._thread: threading.Thread | None = None

    def hold(self, name: str, fence: int) -> bool:
        """Renew ``name`` from now on and take its advisory lock; False (nothing held) when an earlier version's
        run holds that lock. Best effort: with no keeper session now, it takes it when it reconnects."""
        with self._talk:
            try:
                if name not in self._locked and not self._on_keeper(lambda session: self._lock_advisory(name)):
                    return False
            except Exception:  # noqa: BLE001 - no keeper session now: the lease alone holds it
                self._close_session()
            self._held[name] = fence
            if self._thread is None:
                self._thread = threading.Thread(target=self._keep, name="lease-keeper", daemon=True)
                self._thread.start()
            return True

    def let_go(self, name: str, fence: int) -> None:
        """Stop renewing ``name`` and unlock its advisory lock; the keeper session closes when nothing is held."""
        with self._talk:
            if self._held.get(name) == fence:  # else taken over since by another store of this process: its own
                del self._held[name]
                if name in self._locked:
                    self._locked.discard(name)
                    try:
                        self._session.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))
                    except Exception:  # noqa: BLE001 - a session gone holds nothing
                        self._close_session()
            if not self._held:  # a process holding nothing keeps no connection of its own
                self._close_session()

    # -- renewing ----------------------------------------------------------------------------------------------------

    def _keep(self) -> None:
        wait = self.renew_s
        while True:
            time.sleep(wait)
            try:
                self.renew()
                wait = self.renew_s
            except Exception as exc:  # noqa: BLE001 - the database away: try again soon, the lease has time to spare
                log.info("could not renew this process's claims (%s); trying again in %.0f s",
                         str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__, RETRY_S)
                with self._talk:
                    self._close_session()
                wait = RETRY_S

    def renew(self) -> set[str]:
        """Renew every lease this process holds, on the keeper session (reconnected, with its advisory locks, if it
        dropped); returns the names renewed. A lease found gone is lost: its holder's next check refuses."""
        with self._talk:
            held = dict(self._held)
            if not held:
                return set()
            renewed = self._on_keeper(lambda session: {name for (name,) in session.execute(
                f"UPDATE tiktok_store_leases SET lease_until = {NOW} + %s WHERE holder = %s AND name = ANY(%s) AND "
                f"lease_until > {NOW} RETURNING name", (self.lease_s, self.holder, list(held))).fetchall()})
        for name in sorted(set(held) - renewed):
            log.warning("lost %s: it lapsed or another run took it over; this run stops it before any call that "
                        "could post", name)
        return renewed

    # -- the keeper session and the earlier version's advisory locks --------------------------------------------------

    def _on_keeper(self, work: Callable[[Any], Any]) -> Any:
        """``work(session)`` on the keeper session (caller holds ``_talk``); when that session turns out dropped (a
        restart, an idle timeout: psycopg only learns it on use), once more on a new one."""
        import psycopg

        for attempt in (1, 2):
            try:
                return work(self._keeper())
            except psycopg.OperationalError:
                self._close_session()
                if attempt == 2:
                    raise

    def _keeper(self):
        """The keeper session, connected again with the advisory locks of what is held when it dropped; a name an
        earlier version's run took meanwhile is given up (its row deleted: its holder's next check refuses)."""
        if self._session is not None and not self._session.closed:
            return self._session
        self._session = self.connect()
        self._session.execute("SELECT set_config('application_name', %s, false)",
                              (f"{KEEPER} {socket.gethostname()}:{os.getpid()}"[:63],))
        self._locked.clear()
        for name, fence in list(self._held.items()):
            if not self._lock_advisory(name):
                log.warning("gave up %s: a run of an earlier version of this tool holds it", name)
                del self._held[name]
                self._session.execute("DELETE FROM tiktok_store_leases WHERE name = %s AND holder = %s AND "
                                      "fence = %s", (name, self.holder, fence))
        return self._session

    def _lock_advisory(self, name: str) -> bool:
        """Take ``name``'s advisory lock on the keeper session; False when a session that is no keeper (an earlier
        version's run) holds it. A lock another keeper holds (a hung holder taken over) does not count."""
        session = self._session
        if session.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,)).fetchone()[0]:
            self._locked.add(name)
            return True
        return session.execute(OLD_HOLDERS, (name, KEEPER)).fetchone()[0] == 0

    def _close_session(self) -> None:
        session, self._session = self._session, None
        self._locked.clear()
        if session is not None:
            try:
                session.close()
            except Exception:  # noqa: BLE001 - closing what is already gone
                pass


_keepers: dict[tuple[str, int], Keeper] = {}
_keepers_lock = threading.Lock()


def keeper_for(url: str, connect: Callable[[], Any]) -> Keeper:
    """This process's keeper for the database at ``url`` (``connect()``: a new psycopg connection to it)."""
    with _keepers_lock:
        key = (url, os.getpid())  # a forked child has leases (and a thread) of its own
        keeper = _keepers.get(key)
        if keeper is None:
            keeper = _keepers[key] = Keeper(connect)
        return keeper


def lost(what: str) -> ClaimLost:
    return ClaimLost(f"{what}: this run's claim on it ended (not renewed in time, or another run took it over); "
                     "this run stopped it before any call that could post it and wrote nothing more: a later run "
                     "carries it on")


# -- is a holder on this machine still running? -----------------------------------------------------------------------

def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _machine() -> str | None:
    """This host, kernel boot and pid namespace (Linux), or None: only there does a pid name one process."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{socket.gethostname()} {boot} {namespace}" if boot else None


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, /proc), or None when there is none (or a zombie)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after the command's name, which may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]  # field 22 of proc(5): starttime


MACHINE = _machine()


def this_process() -> str | None:
    """What the lease row says of its holder: machine and start time, so a taker on the same machine can tell."""
    started = _started(os.getpid())
    return f"{MACHINE} {started}" if MACHINE and started else None


def gone(process: str | None, pid: int) -> bool:
    """Whether a holder recorded as ``process`` (pid ``pid``) ran on this machine and has ended. False whenever
    that cannot be known (another machine, another pid namespace, not Linux): then only its lease decides."""
    if not process or MACHINE is None:
        return False
    machine, _, started = process.rpartition(" ")
    return machine == MACHINE and _started(pid) != started
