"""Outcomes of posting runs, kept beside the manifest so a re-run resumes instead of posting twice.

``videos_to_upload.json`` -> ``videos_to_upload.results.json``. Each manifest entry is keyed by a hash of its
content, so editing an entry makes it a new post while reordering entries changes nothing. Every change is made
under a lock file and written atomically (mode 0600: a record can hold an unexpired upload URL, whose
``upload_token`` is a credential).
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock

from tiktok.atomic import atomic_write, remove_stale_temps
from tiktok.errors import FileProblem
from tiktok.posting.manifest import PostRequest

FORMAT_VERSION = 1

# Where a post stands. A record with a publish_id that is not terminal is in flight: never init it again.
PENDING_INIT = "pending_init"   # an init call was sent and its answer not recorded: may or may not exist at TikTok
UPLOADING = "uploading"         # FILE_UPLOAD in progress; next_chunk says where to go on
PROCESSING = "processing"       # TikTok has the media; poll status
POSTED = "posted"               # PUBLISH_COMPLETE
IN_INBOX = "inbox"              # SEND_TO_USER_INBOX (drafts)
FAILED = "failed"               # terminal failure; a re-run tries again with a new post
DONE = {POSTED, IN_INBOX}


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

    @property
    def in_flight(self) -> bool:
        return self.publish_id is not None and self.state in (UPLOADING, PROCESSING)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["post_ids"] = list(self.post_ids)
        return data


def entry_key(entry: PostRequest) -> str:
    """A stable identity for what is posted: the entry's own fields, not its position in the manifest."""
    canonical = json.dumps(entry.to_entry(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def results_path_for(manifest: Path) -> Path:
    return manifest.with_name(manifest.stem + ".results.json")


class ResultsStore:
    def __init__(self, path: Path, *, clock=time.time) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.clock = clock

    def load(self) -> dict[str, PostRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ResultsFileError(self.path, f"cannot be read ({type(exc).__name__})") from None
        try:
            data = json.loads(text)
            records = data["records"]
            assert data.get("version") == FORMAT_VERSION and isinstance(records, dict)
            return {key: PostRecord(**{**value, "post_ids": tuple(value.get("post_ids") or ())})
                    for key, value in records.items()}
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise ResultsFileError(self.path, f"is not a results file this tool wrote ({type(exc).__name__}); "
                                              "move it aside to start afresh") from None

    def get(self, key: str) -> PostRecord | None:
        return self.load().get(key)

    @contextmanager
    def _transaction(self) -> Iterator[dict[str, PostRecord]]:
        with FileLock(str(self.lock_path), timeout=60, mode=0o600):
            records = self.load()
            yield records
            remove_stale_temps(self.path)
            payload = {"version": FORMAT_VERSION,
                       "records": {k: r.to_json() for k, r in sorted(records.items())}}
            atomic_write(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n", mode=0o600)

    def save(self, record: PostRecord, **changes: Any) -> PostRecord:
        """Store ``record`` with ``changes`` applied and the time stamped; returns what was stored."""
        updated = replace(record, **changes, updated_at=self.clock())
        with self._transaction() as records:
            records[updated.key] = updated
        return updated
