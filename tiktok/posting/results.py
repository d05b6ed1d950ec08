"""Outcomes of posting runs, kept beside the manifest so a re-run resumes instead of posting twice.

``videos_to_upload.json`` -> ``videos_to_upload.results.json``. Each manifest entry is keyed by a hash of its
content, so editing an entry makes it a new post while reordering entries changes nothing. Every change is made
under a lock file and written atomically (mode 0600: a record can hold an unexpired upload URL, whose
``upload_token`` is a credential).

Claims: two runs on the same manifest never post the same entry. Before an entry's init, a run claims it under the
lock (``claims`` in the file: pid, host, start time) and releases the claim when the entry ends. A live claim held by
another run makes :meth:`ResultsStore.claim` return it, and the caller skips the entry. A claim is live when its run
is on this host and its pid is alive (and not reused by a newer process), or it is on another host (we cannot see
its processes) and younger than ``CLAIM_TIMEOUT_S``. A dead claim (a killed run) is taken over; the records say where that run stopped.

Upload URLs sealed at rest: with a key (``TOKENS_KEY``, the Fernet key that also seals the token file), each
record's ``upload_url`` is written sealed (:mod:`tiktok.sealing`: ``fernet:v1:...``, bound to the record's key and
the field name) and opened when read; the file then says ``"encryption": "fernet:v1"``. A sealed upload URL read
without the key, or with another key, raises :class:`ResultsFileError` naming the file (exit 2), and the file is
never overwritten. A plain results file read with a key works and is sealed at its next write.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from tiktok.atomic import held_lock, os_reason, remove_stale_temps, reserve
from tiktok.errors import FileProblem
from tiktok.posting.manifest import PostRequest
from tiktok.sealing import ENCRYPTION, cipher_for, is_sealed

FORMAT_VERSION = 1

# Where a post stands. A record with a publish_id that is not terminal is in flight: never init it again.
PENDING_INIT = "pending_init"   # an init call was sent and its answer not recorded: may or may not exist at TikTok
UPLOADING = "uploading"         # FILE_UPLOAD in progress; next_chunk says where to go on
PROCESSING = "processing"       # TikTok has the media; poll status
POSTED = "posted"               # PUBLISH_COMPLETE
IN_INBOX = "inbox"              # SEND_TO_USER_INBOX (drafts)
FAILED = "failed"               # terminal failure; a re-run tries again with a new post
DONE = {POSTED, IN_INBOX}
PUBLIC = "PUBLIC_TO_EVERYONE"  # the one privacy level whose posts get a public id (after moderation)
PUBLIC_ID_FOLLOW_S = 24 * 3600  # later runs look for a posted public entry's id this long after it was published
RESERVE_HEADROOM = 16 * 1024  # reserved beyond twice the file's size before each write
LOCK_TIMEOUT_S = 60.0  # a run waits this long for another run's short read-change-write of the file
CLAIM_TIMEOUT_S = 6 * 3600  # another host's claim counts as live this long: generous, posts take minutes


class ResultsFileError(FileProblem):
    """The results file beside the manifest cannot be used; move it aside to start afresh."""


@dataclass(frozen=True)
class PostRecord:
    key: str
    index: int
    user_id: str
    state: str
    publish_id: str | None = None
    upload_url: str | None = field(default=None, repr=False)
    upload_url_expires_at: float | None = None
    next_chunk: int = 0
    plan: dict[str, int] | None = None
    status: str | None = None
    fail_reason: str | None = None
    post_ids: tuple[int, ...] = ()
    error: str | None = None
    log_id: str | None = None
    emulated: bool = False
    updated_at: float = 0.0
    privacy: str | None = None  # the privacy level the init sent (None for an inbox draft)
    username: str | None = None  # creator_info's creator_username at init: the post's link needs it
    published_at: float | None = None  # when a run saw PUBLISH_COMPLETE
    outcome: str | None = None  # the last attempt's outcome (tiktok.exitcodes); "failed" waits for a retry
    retry_requested: bool = False  # a person asked for another attempt (the Posts page's Retry)

    @property
    def in_flight(self) -> bool:
        return self.publish_id is not None and self.state in (UPLOADING, PROCESSING)

    @property
    def bytes_sent(self) -> int:
        """Bytes TikTok holds of a FILE_UPLOAD (whole chunks acknowledged), 0 for other sources."""
        plan = self.plan or {}
        total = plan.get("video_size", 0)
        if self.state in (PROCESSING, POSTED, IN_INBOX):
            return total
        return min(total, self.next_chunk * plan.get("chunk_size", 0))

    def awaiting_public_id(self, now: float) -> bool:
        """A public post TikTok published but whose id it has not released yet (moderation), still followed."""
        if self.state != POSTED or self.post_ids or self.privacy != PUBLIC:
            return False
        since = self.published_at if self.published_at is not None else self.updated_at
        return now - since < PUBLIC_ID_FOLLOW_S

    @property
    def needs_person(self) -> bool:
        """A failure a re-run will not fix by itself (TikTok refused for good): only a retry request, or
        ``--retry-failed``, starts it again. Rate limits, outages, relinks and local problems retry on their own."""
        return self.state == FAILED and self.outcome == "failed" and not self.retry_requested

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["post_ids"] = list(self.post_ids)
        return data


@dataclass(frozen=True)
class Claim:
    """Which run is posting an entry: its process id, host name and when it claimed the entry (epoch seconds);
    ``owner`` tells two claimants of one process apart (the app's background runner and its Posts page)."""

    pid: int
    host: str
    started_at: float
    owner: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started_at))
        return f"pid {self.pid} on {self.host}, since {since}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds) where /proc tells (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, after the comm field
        with open("/proc/stat", encoding="ascii") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def claim_is_live(claim: Claim, *, host: str, now: float, alive=pid_alive, started=process_start_time,
                  timeout_s: float = CLAIM_TIMEOUT_S) -> bool:
    """The claim rules (module docstring): whether ``claim`` still stops other runs from posting its entry.
    On this host a pid that is alive but started after the claim was made is another process reusing the id."""
    if claim.host == host:
        if not alive(claim.pid):
            return False
        began = started(claim.pid)
        return began is None or began <= claim.started_at + 2.0  # 2 s: /proc's tick and btime rounding
    return now - claim.started_at < timeout_s


def entry_key(entry: PostRequest) -> str:
    """A stable identity for what is posted: the entry's own fields, not its position in the manifest.

    ``post_at`` is left out: rescheduling an entry keeps its identity and its record, so an entry moved to another
    time after (or while) it was posted can never be posted a second time."""
    fields = {name: value for name, value in entry.to_entry().items() if name != "post_at"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def results_path_for(manifest: Path) -> Path:
    return manifest.with_name(manifest.stem + ".results.json")


class ResultsStore:
    def __init__(self, path: Path, *, clock=time.time, pid: int | None = None, host: str | None = None,
                 alive=pid_alive, started=process_start_time, claim_timeout_s: float = CLAIM_TIMEOUT_S,
                 key: str | None = None, owner: str | None = None) -> None:
        self.path = Path(path)
        self._cipher = cipher_for(key)  # ConfigError for a key that is not a Fernet key
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.clock = clock
        self.pid = os.getpid() if pid is None else pid
        self.host = socket.gethostname() if host is None else host
        self.alive = alive
        self.started = started
        self.claim_timeout_s = claim_timeout_s
        self.owner = owner if owner is not None else uuid.uuid4().hex  # this store object's claims are its own

    def _read(self) -> tuple[dict[str, PostRecord], dict[str, Claim]] | None:
        """Records and claims; None when the file does not exist. A blank file or ``{}`` holds nothing."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ResultsFileError(self.path, f"cannot be read ({type(exc).__name__})") from None
        try:
            data = json.loads(text) if text.strip() else {}
            if data == {}:
                return {}, {}
            records = data["records"]
            claims = data.get("claims") or {}
            assert data.get("version") == FORMAT_VERSION and isinstance(records, dict) and isinstance(claims, dict)
            if data.get("encryption", ENCRYPTION) != ENCRYPTION:
                raise ResultsFileError(self.path, f"is encrypted with {data['encryption']!r}; this tool reads "
                                                  f"{ENCRYPTION!r}")
            return ({key: PostRecord(**self._opened(key, value)) for key, value in records.items()},
                    {key: Claim(**value) for key, value in claims.items()})
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise ResultsFileError(self.path, f"is not a results file this tool wrote ({type(exc).__name__}); "
                                              "move it aside to start afresh") from None

    def _opened(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        """One record's fields as stored, its sealed ``upload_url`` opened (ResultsFileError if it cannot be)."""
        value = {**value, "post_ids": tuple(value.get("post_ids") or ())}
        url = value.get("upload_url")
        if is_sealed(url):
            if self._cipher is None:
                raise ResultsFileError(self.path, "holds encrypted upload URLs but TOKENS_KEY is not set: set it (in "
                                                  ".env or the environment) to the key the file was written with; "
                                                  "the file was not changed")
            value["upload_url"] = self._cipher.open(key, "upload_url", url, owner="record",
                                                    fail=lambda why: ResultsFileError(self.path, why))
        return value

    def _stored(self, record: PostRecord) -> dict[str, Any]:
        """One record as written: with a key, its ``upload_url`` sealed to the record's key and the field name."""
        data = record.to_json()
        if self._cipher is not None and data.get("upload_url") is not None:
            data["upload_url"] = self._cipher.seal(record.key, "upload_url", data["upload_url"])
        return data

    def load(self) -> dict[str, PostRecord]:
        read = self._read()
        return {} if read is None else read[0]

    def exists_but_empty(self) -> bool:
        """True when the file exists and parses but holds no records and no claims: the record of earlier runs
        is gone (emptied or replaced), so TikTok may already hold posts this folder has no trace of."""
        read = self._read()
        return read is not None and not read[0] and not read[1]

    def get(self, key: str) -> PostRecord | None:
        return self.load().get(key)

    @contextmanager
    def _transaction(self) -> Iterator[tuple[dict[str, PostRecord], dict[str, Claim]]]:
        """Lock, read, reserve the space for the write (tiktok.atomic.reserve), yield, write into the reservation.
        A full, read-only or unwritable folder raises ResultsFileError (exit 2) before the caller changes anything,
        and the file keeps its previous content."""
        with held_lock(self.lock_path, LOCK_TIMEOUT_S, lambda reason: ResultsFileError(self.path, reason)):
            records, claims = self._read() or ({}, {})
            try:
                remove_stale_temps(self.path)
                current = self.path.stat().st_size if self.path.exists() else 0
                reservation = reserve(self.path, 2 * current + RESERVE_HEADROOM)
            except OSError as exc:
                raise ResultsFileError(self.path, f"cannot be written: reserving space for the next version in "
                                                  f"{self.path.parent} failed ({os_reason(exc)}); nothing was "
                                                  "changed") from None
            with reservation:
                yield records, claims
                payload: dict[str, Any] = {"version": FORMAT_VERSION,
                                           "records": {k: self._stored(r) for k, r in sorted(records.items())}}
                if self._cipher is not None:
                    payload["encryption"] = ENCRYPTION
                if claims:
                    payload["claims"] = {k: c.to_json() for k, c in sorted(claims.items())}
                try:
                    reservation.commit(json.dumps(payload, indent=2, sort_keys=True) + "\n", mode=0o600)
                except OSError as exc:
                    raise ResultsFileError(self.path, f"could not be written ({os_reason(exc)}); it still holds its "
                                                      "previous content") from None

    @contextmanager
    def locked(self) -> Iterator[tuple[dict[str, PostRecord], dict[str, Claim]]]:
        """The records and claims, read with the lock held until the block ends; nothing is written (an import
        copies them out while no run can change them)."""
        with held_lock(self.lock_path, LOCK_TIMEOUT_S, lambda reason: ResultsFileError(self.path, reason)):
            yield self._read() or ({}, {})

    def claim(self, key: str) -> tuple[Claim | None, Claim | None]:
        """Claim entry ``key`` for this run, under the lock. Returns ``(holder, taken_over)``: ``holder`` is the
        live claim of another run (nothing changed; skip the entry), else None and the entry is ours;
        ``taken_over`` is the dead claim we replaced, if any."""
        with self._transaction() as (_, claims):
            current = claims.get(key)
            mine = current is not None and self._mine(current)
            if current is not None and not mine and claim_is_live(
                    current, host=self.host, now=self.clock(), alive=self.alive, started=self.started,
                    timeout_s=self.claim_timeout_s):
                return current, None
            claims[key] = Claim(pid=self.pid, host=self.host, started_at=self.clock(), owner=self.owner)
            return None, None if mine else current

    def release(self, key: str) -> None:
        """Drop this run's claim on ``key`` (another run's claim is left alone)."""
        with self._transaction() as (_, claims):
            current = claims.get(key)
            if current is not None and self._mine(current):
                del claims[key]

    def _mine(self, claim: Claim) -> bool:
        """Made by this store object (older files without an owner: by this process)."""
        if claim.owner:
            return claim.owner == self.owner and (claim.host, claim.pid) == (self.host, self.pid)
        return (claim.host, claim.pid) == (self.host, self.pid)

    def claims(self) -> dict[str, Claim]:
        read = self._read()
        return {} if read is None else read[1]

    def request_retry(self, key: str) -> bool:
        """Mark a failed entry (or one stopped with its init unanswered) for another attempt by the next run;
        False when there is no such record any more (it was retried, or posted, meanwhile)."""
        with self._transaction() as (records, claims):
            record = records.get(key)
            if record is None or record.state not in (FAILED, PENDING_INIT) or record.retry_requested:
                return False
            holder = claims.get(key)
            if holder is not None and claim_is_live(holder, host=self.host, now=self.clock(), alive=self.alive,
                                                    started=self.started, timeout_s=self.claim_timeout_s):
                return False  # a run is working on it right now
            records[key] = replace(record, retry_requested=True, updated_at=self.clock())
            return True

    def save(self, record: PostRecord, **changes: Any) -> PostRecord:
        """Store ``record`` with ``changes`` applied and the time stamped; returns what was stored."""
        updated = replace(record, **changes, updated_at=self.clock())
        with self._transaction() as (records, _):
            records[updated.key] = updated
        return updated
