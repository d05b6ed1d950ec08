"""The transcripts folder: one sub-folder per account, four files per video, written atomically.

    <root>/<account>/<video_id>.txt    the transcript text
    <root>/<account>/<video_id>.srt    subtitles (SubRip)
    <root>/<account>/<video_id>.vtt    subtitles (WebVTT)
    <root>/<account>/<video_id>.json   the record, written last: status "completed" there means the video is done

Every file goes through temp file + fsync + ``os.replace``, so a crash leaves the old file or the new one. A failure
never replaces a completed transcript: a forced re-run that fails keeps the good copy.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tiktok.exitcodes import DONE, FAILED, OUTCOME_EXIT
from tiktok.atomic import atomic_write
from tiktok.errors import FileProblem
from tiktok.transcription.index import PER_PAGE, QueryError, TranscriptIndex
from tiktok.transcription.snippets import Snippet

__all__ = ["Feed", "FeedCard", "QueryError", "SearchHit", "SearchResults", "Snippet", "TranscriptRecord",
           "TranscriptStore", "TranscriptsFolderError"]

log = logging.getLogger(__name__)

STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
TEXT_KINDS = ("txt", "srt", "vtt")
MAX_TITLE_CHARS = 300  # an edited title; TikTok's own titles are shorter, and a card shows one line of it
FILE_MODE = 0o644  # transcripts are not secret; mkstemp's 0600 would hide them from other local tools
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class TranscriptsFolderError(FileProblem):
    """The transcripts folder cannot be read or written; names the folder."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(path, reason, where=f"transcripts folder {path}")


@dataclass(frozen=True)
class TranscriptRecord:
    """What the .json file holds about one video's transcript."""

    video_id: str
    open_id: str
    username: str = ""
    title: str = ""
    created_time: int | None = None  # Unix seconds, as the Display API's create_time
    source_url: str = ""
    language: str | None = None
    duration_s: float | None = None
    transcript_id: str | None = None
    status: str = STATUS_COMPLETED
    error: str | None = None
    saved_at: str | None = None  # ISO 8601 UTC, set by the store
    outcome: str | None = None  # for a failed video: the run's outcome word (failed, try_later, bad_input, relink)
    source: str | None = None  # where a completed text came from: "tiktok-captions" or "assemblyai"

    @property
    def ok(self) -> bool:
        return self.status == STATUS_COMPLETED

    @property
    def result(self) -> str:
        """The outcome word the command printed for this video (tiktok.exitcodes), for the pages."""
        return DONE if self.ok else (self.outcome if self.outcome in OUTCOME_EXIT else FAILED)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for optional in ("outcome", "source"):
            if data[optional] is None:
                del data[optional]  # records without them keep the shape they always had
        account = {"open_id": data.pop("open_id"), "username": data.pop("username")}
        return {"video_id": data.pop("video_id"), "account": account, **data}

    @classmethod
    def from_json(cls, data: Any) -> "TranscriptRecord":
        """Build from a parsed .json record; ValueError when the shape is wrong."""
        if not isinstance(data, dict) or not isinstance(data.get("account"), dict):
            raise ValueError("not a transcript record")
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields.update(open_id=data["account"].get("open_id"), username=data["account"].get("username") or "")
        if not isinstance(fields.get("video_id"), str) or not isinstance(fields.get("open_id"), str):
            raise ValueError("video_id and account.open_id must be strings")
        return cls(**fields)


@dataclass(frozen=True)
class SearchHit:
    record: TranscriptRecord
    snippets: tuple[Snippet, ...]


@dataclass(frozen=True)
class SearchResults:
    """One page of hits; ``total`` counts every matching transcript."""

    hits: tuple[SearchHit, ...]
    total: int
    page: int
    per_page: int
    accounts: tuple[tuple[str, str], ...] = ()  # (folder, @name or "") of every account, for the filter

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class FeedCard:
    """What a feed card shows: the record and the start of its text (from the index, no file read)."""

    record: TranscriptRecord
    lead: str


@dataclass(frozen=True)
class Feed:
    """A page of the feed, newest first; ``newer``/``older``: the cursors for the pages either side, or None."""

    cards: tuple[FeedCard, ...]
    newer: int | None
    older: int | None
    accounts: tuple[tuple[str, str], ...] = ()  # (folder, @name or "") of every account, for the filter


def safe_name(value: str) -> str:
    """A file-name-safe form of an open_id or video id (no separators, never '.' or '..')."""
    cleaned = _UNSAFE_NAME_CHARS.sub("_", value)
    return cleaned if cleaned.strip(".") else f"_{cleaned}"


class TranscriptStore:
    """Reads and writes ``<root>/<account>/<video_id>.*``."""

    def __init__(self, root: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self._clock = clock

    def __repr__(self) -> str:
        return f"TranscriptStore({str(self.root)!r})"

    def ensure_writable(self) -> None:
        """Create the folder if needed and prove a file can be written there; TranscriptsFolderError if not."""
        with self._folder_errors():
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass

    def path(self, open_id: str, video_id: str, kind: str) -> Path:
        return self.root / safe_name(open_id) / f"{safe_name(video_id)}.{kind}"

    def save(self, record: TranscriptRecord, text: str, srt: str, vtt: str) -> TranscriptRecord:
        """Write the three text files, then the record (status completed); returns the record as saved."""
        saved = replace(record, status=STATUS_COMPLETED, error=None, outcome=None, saved_at=self._now())
        with self._folder_errors():
            self.path(record.open_id, record.video_id, "txt").parent.mkdir(parents=True, exist_ok=True)
            for kind, content in zip(TEXT_KINDS, (text, srt, vtt)):
                _atomic_write(self.path(record.open_id, record.video_id, kind), content)
            self._write_record(saved)
        return saved

    def record_failure(self, record: TranscriptRecord, reason: str, outcome: str = FAILED) -> TranscriptRecord:
        """Record why a video failed (and the run's ``outcome`` word), unless a completed transcript is already
        there (that one is returned)."""
        existing = self.get(record.open_id, record.video_id)
        if existing is not None and self.is_done(record.open_id, record.video_id):
            return existing
        failed = replace(record, status=STATUS_FAILED, error=reason, outcome=outcome, saved_at=self._now())
        with self._folder_errors():
            self.path(record.open_id, record.video_id, "json").parent.mkdir(parents=True, exist_ok=True)
            self._write_record(failed)
        return failed

    def get(self, open_id: str, video_id: str) -> TranscriptRecord | None:
        """The stored record, or None when there is none or it cannot be parsed."""
        return self._load(self.path(open_id, video_id, "json"))

    def is_done(self, open_id: str, video_id: str) -> bool:
        """True when a completed record and its text file are both on disk."""
        record = self.get(open_id, video_id)
        return bool(record and record.ok and self.path(open_id, video_id, "txt").is_file())

    def read(self, open_id: str, video_id: str, kind: str = "txt") -> str:
        """The stored .txt, .srt or .vtt text; FileNotFoundError when absent."""
        if kind not in TEXT_KINDS:
            raise ValueError(f"kind must be one of {TEXT_KINDS}, not {kind!r}")
        with self._folder_errors(allow_missing=True):
            return self.path(open_id, video_id, kind).read_text(encoding="utf-8")

    def list_records(self) -> list[TranscriptRecord]:
        """Every readable record, most recently saved first."""
        records = [r for r in map(self._load, self._record_files()) if r is not None]
        return sorted(records, key=lambda r: (r.saved_at or "", r.created_time or 0, r.video_id), reverse=True)

    def set_title(self, open_id: str, video_id: str, title: str) -> TranscriptRecord:
        """Give a transcript a new title (the record rewritten, the index row too); ValueError for an empty or
        overlong one, FileNotFoundError when there is no such transcript."""
        title = " ".join("".join(c for c in title if c.isprintable() or c.isspace()).split())
        if not title:
            raise ValueError("the title is empty; type at least one character")
        if len(title) > MAX_TITLE_CHARS:
            raise ValueError(f"the title is {len(title)} characters long; at most {MAX_TITLE_CHARS} fit")
        record = self.get(open_id, video_id)
        if record is None:
            raise FileNotFoundError(2, "no such transcript", video_id)
        renamed = replace(record, title=title)
        with self._folder_errors():
            self._write_record(renamed)
            self._index().reindex(safe_name(open_id), safe_name(video_id))
        return renamed

    def delete(self, open_id: str, video_id: str) -> bool:
        """Remove a transcript's files (the record first: without it the rest is never listed) and its index row;
        False when there was nothing to remove."""
        removed = False
        with self._folder_errors():
            for kind in ("json", *TEXT_KINDS):
                try:
                    self.path(open_id, video_id, kind).unlink()
                    removed = True
                except FileNotFoundError:
                    pass
            if removed:
                self._index().reindex(safe_name(open_id), safe_name(video_id))
        return removed

    def feed(self, *, before: int | None = None, after: int | None = None, account: str | None = None,
             per_page: int = PER_PAGE) -> Feed:
        """A page of every transcript, newest video first, from the index alone (tiktok.transcription.index);
        ``account`` is an open_id or an @name."""
        with self._folder_errors(allow_missing=True):
            index = self._index()
            with index.reading():
                folder = self._account_folder(index, account)
                if account and folder is None:
                    return Feed((), None, None, tuple(index.accounts()))
                page = index.latest(before=before, after=after, folder=folder, per_page=per_page)
                accounts = tuple(index.accounts())
        cards = []
        for item in page.items:
            try:
                cards.append(FeedCard(TranscriptRecord.from_json(item.record), item.lead))
            except (ValueError, TypeError):
                continue  # an unreadable record file, indexed as seen: nothing to show
        return Feed(tuple(cards), page.newer, page.older, accounts)

    def search(self, query: str, *, page: int = 1, per_page: int = PER_PAGE,
               account: str | None = None) -> SearchResults:
        """One page of the completed transcripts matching ``query`` (every word, "a phrase", or pre*), newest
        first, from the full-text index (tiktok.transcription.index), of one ``account`` (open_id or @name) when
        given; QueryError when it holds no word."""
        with self._folder_errors(allow_missing=True):
            index = self._index()
            with index.reading():
                folder = self._account_folder(index, account)
                accounts = tuple(index.accounts())
                if account and folder is None:
                    return SearchResults((), 0, max(1, page), per_page, accounts)
                found = index.search(query, page=page, per_page=per_page, folder=folder)
        return SearchResults(hits=tuple(SearchHit(TranscriptRecord.from_json(h.record), h.snippets)
                                        for h in found.hits),
                             total=found.total, page=found.page, per_page=found.per_page, accounts=accounts)

    def _index(self) -> TranscriptIndex:
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(20, "is not a folder")
        return TranscriptIndex(self.root)

    @staticmethod
    def _account_folder(index: TranscriptIndex, account: str | None) -> str | None:
        if not account:
            return None
        if account.startswith("@"):
            return index.folder_of(account[1:])
        return safe_name(account)

    def _record_files(self) -> list[Path]:
        with self._folder_errors():
            if not self.root.exists():
                return []
            if not self.root.is_dir():
                raise NotADirectoryError(20, "is not a folder")
            return [f for account in self.root.iterdir() if account.is_dir() for f in account.glob("*.json")]

    def _load(self, path: Path) -> TranscriptRecord | None:
        try:
            return TranscriptRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except NotADirectoryError as exc:
            raise TranscriptsFolderError(self.root, "is not a folder") from exc
        except PermissionError as exc:
            raise TranscriptsFolderError(self.root, f"cannot read {path.name}: {exc.strerror}") from exc
        except (OSError, ValueError, TypeError) as exc:  # a corrupt record must not hide the others
            log.warning("skipping unreadable transcript record %s: %s", path, exc)
            return None

    def _write_record(self, record: TranscriptRecord) -> None:
        text = json.dumps(record.to_json(), ensure_ascii=False, indent=2) + "\n"
        _atomic_write(self.path(record.open_id, record.video_id, "json"), text)

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), timezone.utc).isoformat(timespec="seconds")

    def _folder_errors(self, allow_missing: bool = False) -> "_FolderErrors":
        return _FolderErrors(self.root, allow_missing)


class _FolderErrors:
    """Turn OS errors about the folder into TranscriptsFolderError naming it."""

    def __init__(self, root: Path, allow_missing: bool) -> None:
        self.root, self.allow_missing = root, allow_missing

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> bool:
        if exc is None or not isinstance(exc, OSError) or isinstance(exc, TranscriptsFolderError):
            return False
        if self.allow_missing and isinstance(exc, FileNotFoundError):
            return False
        if isinstance(exc, NotADirectoryError) or (isinstance(exc, FileExistsError) and not self.root.is_dir()):
            reason = "is not a folder (a file with that name is in the way)"
        else:
            reason = exc.strerror or str(exc)
        raise TranscriptsFolderError(self.root, reason) from exc


def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, text, mode=FILE_MODE)
