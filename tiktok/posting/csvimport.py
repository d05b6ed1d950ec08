"""Bulk import (issue 27, item 2): a CSV, or a videos_to_upload.json, checked row by row before anything is saved.

A CSV has a header row naming its columns (:data:`COLUMNS`: the manifest's fields under a person's names):
``account`` (``@name`` or the open_id), ``caption``, ``tags`` (separated by spaces or commas, ``#`` optional),
``media`` (a video file path, relative to the CSV's folder; an https video URL; a media store key; or image URLs
separated by ``|`` for a photo post), ``post_at`` (ISO 8601 with an offset; empty: the next run), ``privacy``,
``draft``, ``title`` (photo posts) and the disclosure and interaction columns, named as the manifest names them
(``disable_comment``, ``disable_duet``, ``disable_stitch``, ``is_aigc``, ``brand_content_toggle``,
``brand_organic_toggle``: yes/no, true/false or 1/0; empty: not set). Rows are numbered as a spreadsheet shows them
(the header is row 1); a JSON file's entries from 1.

Every row is checked as the manifest checks an entry (:func:`tiktok.posting.manifest.validate_manifest`), then
against its account (connected, usable), the creator's options (creator_info, asked once per account per import:
privacy offered, the longest video; interactions the creator turned off are a warning) and the media checks
(:mod:`tiktok.posting.media`, for a local file; a URL is not downloaded). Each error names its row and column. A
``post_at`` already past is an error here (a run would call the post missed): an import plans what is to come.

**Slots and the daily cap** (issue 27, items 2, 3 and 5): ``post_at`` = ``next`` (or a column ``slot`` = yes) takes
the account's next free posting slot (:func:`tiktok.posting.slots.account_free_slots`); the rows of one account fill
its slots in file order, after the posts already scheduled and the file's other rows with a time. A row saved by an
earlier import keeps the time it was given. A row whose local day (the account's slots' zone, else TZ) would hold
more than TikTok's DAILY_DIRECT_POSTS of the account's posts, counting those already scheduled that day and the
file's, gets a warning, not an error: the runner holds what is over the cap until TikTok has room.

Saving keeps the good rows and leaves the bad ones out, as a manifest run does (the issue's 988 of 1,000 saved):
a person fixes the rows named and imports the file again, and the rows already saved are not added twice. Each row
is keyed by its content (:func:`tiktok.posting.importer.keyed`, the manifest's own keys), and one import is one
store transaction through :meth:`PostStore.import_manifest` under a source named by the file's content, so no
import withdraws another's posts, and the same file twice adds nothing. A dry run reads the store and saves nothing.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiktok.auth.names import UnknownAccountName, resolve_account
from tiktok.media.store import KEY as MEDIA_KEY
from tiktok.posting.client import PrivacyNotOffered, choose_privacy
from tiktok.posting.fields import TOGGLE_FIELDS, shown
from tiktok.posting.importer import keyed
from tiktok.posting.manifest import ManifestError, PostRequest, parse_manifest, validate_manifest
from tiktok.store.base import ImportEntry, ImportResult, PostStore

COLUMNS = ("account", "caption", "tags", "media", "post_at", "privacy", "draft", "title", "slot", *TOGGLE_FIELDS)
REQUIRED = ("account", "media")
BOOLEAN_COLUMNS = ("draft", *TOGGLE_FIELDS)
_YES, _NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}
_IMAGE = re.compile(r"\.(jpe?g|png|webp)$", re.IGNORECASE)  # photo posts take JPEG and WebP (reference 4.3)
_COLUMN_OF = {"user_id": "account", "description": "caption", "video_path": "media", "video_url": "media",
              "video_media": "media", "photo_urls": "media", "photo_media": "media", "photo_cover_index": "media"}
PAST_GRACE_S = 60.0  # a post_at this far in the past is a mistake, not "now" (the runner would call it missed)
CREATOR_THREADS = 8  # creator_info calls at once, one per account (TikTok counts them per account: limits.py)
NEW, THERE, REPEAT, BAD = "new", "already there", "repeat", "bad"
NEXT_SLOT = "next"  # post_at's word for "the account's next free slot"


@dataclass
class Row:
    """One row of the file and what the checks found."""

    number: int  # as a person counts it: the spreadsheet row (header = 1), or the JSON entry from 1
    index: int  # 0-based position among the file's rows
    values: dict[str, Any]  # the row as written (CSV: column -> text; JSON: the entry)
    kind: str = "row"  # "row" of a CSV (its cells are columns), or "entry" of a JSON manifest (fields)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    request: PostRequest | None = None
    key: str | None = None
    stored: dict[str, Any] | None = None  # the entry as saved
    status: str = BAD
    slot: bool = False  # post_at "next" or slot "yes": the time is the account's next free slot

    @property
    def account(self) -> str:
        return str(self.values.get("account", self.values.get("user_id", "")) or "")

    @property
    def media(self) -> str:
        if "media" in self.values:
            return str(self.values["media"] or "")
        return next((str(self.values[n]) for n in ("video_path", "video_url", "video_media", "photo_urls",
                                                   "photo_media") if self.values.get(n)), "")


@dataclass
class ImportPlan:
    """A file's rows, checked; ``label`` says rows (CSV) or entries (JSON)."""

    name: str
    digest: str
    rows: list[Row]
    label: str = "row"

    @property
    def source(self) -> str:
        """The store's source of this file's posts: its name and content (the same file is the same source)."""
        return f"import of {self.name} (sha256 {self.digest[:16]})"

    @property
    def good(self) -> list[Row]:
        return [row for row in self.rows if row.status != BAD]

    def counts(self) -> dict[str, int]:
        return {"rows": len(self.rows), "ok": len(self.good), "bad": len(self.rows) - len(self.good),
                "new": sum(row.status == NEW for row in self.rows),
                "already there": sum(row.status == THERE for row in self.rows),
                "repeats": sum(row.status == REPEAT for row in self.rows)}

    def errors(self) -> list[str]:
        return [error for row in self.rows for error in row.errors]

    def summary(self) -> str:
        c = self.counts()
        repeats = f", {c['repeats']} repeating an earlier {self.label}" if c["repeats"] else ""
        return (f"{self.name}: {c['rows']:,} {self.label}s: {c['ok']:,} ok, {c['bad']:,} bad; {c['new']:,} new, "
                f"{c['already there']:,} already there{repeats}")


def read_rows(name: str, raw: bytes) -> tuple[list[Row], str]:
    """The file's rows and what to call them (``row`` or ``entry``); ManifestError naming the file when it cannot
    be read as a CSV with known columns or as a manifest."""
    if name.lower().endswith(".json"):
        data = parse_manifest(Path(name), raw)
        items = data["videos"] if isinstance(data, dict) and "videos" in data else data
        if not isinstance(items, list):
            raise ManifestError(name, 'expected a list of entries or {"videos": [...]}')
        rows = [Row(number=n + 1, index=n, values=item if isinstance(item, dict) else {}, kind="entry")
                for n, item in enumerate(items)]
        for row, item in zip(rows, items):
            if not isinstance(item, dict):
                row.errors.append(f"entry {row.number}: expected an object with the fields of a post")
        return rows, "entry"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise ManifestError(name, f"not UTF-8 text (bad byte at offset {bad.start}); save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [column.strip() for column in reader.fieldnames or []]
    _check_header(name, header)
    reader.fieldnames = header
    try:
        return [Row(number=n + 2, index=n, values={k: (v or "").strip() for k, v in record.items() if k})
                for n, record in enumerate(reader)], "row"
    except csv.Error as bad:
        raise ManifestError(name, f"not a readable CSV at line {reader.line_num}: {bad}") from None


def _check_header(name: str, header: list[str]) -> None:
    if not header:
        raise ManifestError(name, f"empty: the first row must name the columns ({', '.join(COLUMNS)})")
    for column in header:
        if column not in COLUMNS:
            close = difflib.get_close_matches(column, COLUMNS, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else f" (the columns are {', '.join(COLUMNS)})"
            raise ManifestError(name, f'row 1: unknown column "{shown(column)}"{hint}')
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise ManifestError(name, f"row 1: the columns {' and '.join(missing)} are required")


def entry_of(row: Row, open_id: str) -> dict[str, Any]:
    """A CSV row as a manifest entry for ``open_id``; a value that cannot be read is an error of its column."""
    values = row.values
    entry: dict[str, Any] = {"user_id": open_id}
    media = values.get("media", "")
    if media:
        entry.update(_media_fields(media))
    else:
        row.errors.append(_where(row, "media", "required: a video file path, an https video URL, a media store key, "
                                               "or image URLs separated by |"))
    if values.get("caption"):
        entry["description"] = values["caption"]
    if values.get("tags"):
        entry["tags"] = [tag for tag in re.split(r"[\s,]+", values["tags"]) if tag]
    for name in ("post_at", "privacy", "title"):
        if values.get(name):
            entry[name] = values[name]
    slot = values.get("slot", "").lower()
    if slot in _YES:
        if entry.get("post_at") and entry["post_at"].lower() != NEXT_SLOT:
            row.errors.append(_where(row, "slot", f"yes, but post_at gives a time ({values['post_at']}): give one "
                                                  "or the other"))
        entry["post_at"] = NEXT_SLOT
    elif slot and slot not in _NO:
        row.errors.append(_where(row, "slot", f"expected yes or no (or true/false, 1/0), got {values['slot']!r}"))
    for name in BOOLEAN_COLUMNS:
        text = values.get(name, "").lower()
        if text in _YES or text in _NO:
            entry[name] = text in _YES
        elif text:
            row.errors.append(_where(row, name, f"expected yes or no (or true/false, 1/0), got {values[name]!r}"))
    return entry


def _media_fields(media: str) -> dict[str, Any]:
    parts = [part.strip() for part in media.split("|") if part.strip()]
    if len(parts) > 1 or (parts and _IMAGE.search(parts[0].split("?")[0])):
        return {"photo_media" if all(MEDIA_KEY.fullmatch(p) for p in parts) else "photo_urls": parts}
    if MEDIA_KEY.fullmatch(media):
        return {"video_media": media}
    if "://" in media:
        return {"video_url": media}
    return {"video_path": media}


def _where(row: Row, column: str | None, text: str) -> str:
    name = "column" if row.kind == "row" else "field"
    where = f'{row.kind} {row.number}, {name} "{shown(column)}"' if column else f"{row.kind} {row.number}"
    return f"{where}: {text}"


class Lookup:
    """What the rows are checked against: the accounts (by open_id or @name, :func:`tiktok.auth.names.resolve_account`'s
    rule), the store, creator_info per account (through ``checks``: a :class:`tiktok.posting.dryrun.Checks`, opened)."""

    def __init__(self, checks) -> None:
        self.checks = checks
        self._accounts = list((checks.accounts or {}).values())
        self._resolved: dict[str, str | UnknownAccountName] = {}

    def open_id(self, text: str) -> str | None:
        """The open_id an ``account`` cell names; None when it is an @name of no account, or of several."""
        found = self.resolve(text)
        return None if isinstance(found, UnknownAccountName) else found

    def resolve(self, text: str) -> str | UnknownAccountName:
        """The open_id, or why an @name names none (each spelling resolved once per import)."""
        text = text.strip()
        if text not in self._resolved:
            try:
                self._resolved[text] = resolve_account(text, self._accounts, option="account")
            except UnknownAccountName as exc:
                self._resolved[text] = exc
        return self._resolved[text]


def open_checks(settings, now: float):
    """What rows are checked against, opened: the accounts, the post store if there is one (read only, never
    created), creator_info per account (:class:`tiktok.posting.dryrun.Checks`); close it with ``.close()``."""
    from tiktok.posting.dryrun import Checks
    from tiktok.posting.runner import RunOptions

    checks = Checks(settings, RunOptions(), now)
    checks.open()
    return checks


def check_file(name: str, raw: bytes, lookup: Lookup, *, folder: Path | None, now: float | None = None) -> ImportPlan:
    """Every row of the file checked (see the module docstring); ``folder`` anchors relative media paths (None: a
    relative path is an error, as for an upload)."""
    rows, label = read_rows(name, raw)
    plan = ImportPlan(name=name, digest=hashlib.sha256(raw).hexdigest(), rows=rows, label=label)
    when = time.time() if now is None else now
    _ask_creators(lookup, rows)
    first: dict[str, int] = {}
    for row in rows:
        _check_row(row, lookup, folder, when, first)
    posts: PostStore | None = lookup.checks.posts
    known = posts.known_post_keys(first) if posts is not None and first else set()
    for row in rows:
        if row.status == NEW and row.key in known:
            row.status = THERE
    _into_slots(rows, posts, when)
    _warn_full_days(rows, posts)
    return plan


def _into_slots(rows: list[Row], posts: PostStore | None, now: float) -> None:
    """Each ``next`` row at its account's next free slot, the rows of an account in file order (see the module
    docstring); a row already saved keeps its time; no slots, or none free, is an error of the row's column."""
    from tiktok.posting.slots import NO_FREE_SLOT, account_free_slots
    from tiktok.text import local_zone

    waiting: dict[str, list[Row]] = {}
    for row in rows:
        if not row.slot or row.request is None:
            continue
        if row.status == THERE and posts is not None and row.key is not None:
            kept = posts.find(row.key)
            if kept is not None and kept.due_at is not None:
                _at_time(row, kept.due_at, kept.source_post_at)
        elif row.status == NEW:
            waiting.setdefault(row.request.user_id, []).append(row)
    for open_id, group in waiting.items():
        timed = [r.request.due_at for r in rows if r.status == NEW and not r.slot and r.request is not None
                 and r.request.user_id == open_id and r.request.due_at is not None]
        try:
            if posts is None:
                raise ValueError("has no posting slots: set them first, like 'Mon-Fri 18:00, Sat 11:00'")
            found = account_free_slots(posts, open_id, now=now, default_zone=local_zone(), count=len(group),
                                       also=timed)
        except ValueError as exc:
            found, why = [], f"{exc} (python -m tiktok slots set, or the Slots page)"
        else:
            why = NO_FREE_SLOT
        for row, at in zip(group, found):
            _at_time(row, at)
        for row in group[len(found):]:
            row.errors.append(_where(row, _slot_column(row), f"{NEXT_SLOT}: this account {why}"))
            row.status = BAD


def _slot_column(row: Row) -> str:
    return "slot" if row.kind == "row" and str(row.values.get("post_at", "")).lower() != NEXT_SLOT else "post_at"


def _at_time(row: Row, at: float, written: str | None = None) -> None:
    """The row's post at ``at`` (``written``: the time as the store keeps it, for a row saved before)."""
    from dataclasses import replace
    from datetime import datetime, timezone

    assert row.request is not None  # only checked rows get a time
    post_at = written or datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")
    row.request = replace(row.request, post_at=post_at)
    row.stored = {**(row.stored or {}), "post_at": post_at}


def _warn_full_days(rows: list[Row], posts: PostStore | None) -> None:
    """A warning on each row that puts its account's local day over TikTok's daily cap of Direct Posts, counting
    the posts the store already has that day and the file's new rows (drafts are not Direct Posts); one read of
    the store per account, over the file's days."""
    from collections import defaultdict

    from tiktok.posting.budget import DAILY_DIRECT_POSTS
    from tiktok.posting.slots import account_zone, day_bounds
    from tiktok.text import local_zone

    new: dict[str, list[tuple[float, int, Row]]] = defaultdict(list)
    for row in rows:
        request = row.request
        if row.status == NEW and request is not None and request.due_at is not None and not request.draft:
            new[request.user_id].append((request.due_at, row.index, row))
    for open_id, group in new.items():
        zone = account_zone(posts, open_id, local_zone())
        days: dict[tuple[float, float], list[Row]] = defaultdict(list)
        for at, _, row in sorted(group, key=lambda item: item[:2]):
            days[day_bounds(at, zone)].append(row)
        first, last = min(days)[0], max(days)[1]
        saved = posts.post_times(open_id, first, last) if posts is not None else []  # type: ignore[attr-defined]
        for (start, end), on_day in days.items():
            before = sum(start <= t < end for t in saved)
            total = before + len(on_day)
            if total <= DAILY_DIRECT_POSTS:
                continue
            day = _day_name(start, zone)
            for row in on_day[max(0, DAILY_DIRECT_POSTS - before):]:
                row.warnings.append(_where(row, "post_at", f"{day} would have {total} posts of this account "
                                                           f"({before} already scheduled, {len(on_day)} in this "
                                                           f"file), over TikTok's cap of {DAILY_DIRECT_POSTS} "
                                                           "Direct Posts a day: the runner holds the ones over it "
                                                           "until TikTok has room"))


def _day_name(at: float, zone) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(at, zone).date().isoformat()


def _ask_creators(lookup: Lookup, rows: list[Row]) -> None:
    """creator_info for every usable account the rows name, asked at once (each account once: TikTok's limit is
    per account), so 20 accounts cost about one round trip rather than 20 in a row."""
    checks = lookup.checks
    wanted = {lookup.open_id(row.account) for row in rows if row.account.strip()} - {None}
    usable = sorted(open_id for open_id in wanted if open_id and not checks.account_problems(open_id))
    if not usable:
        return
    checks.creator(usable[0])  # builds the API client once, before the threads share it
    with ThreadPoolExecutor(max_workers=min(CREATOR_THREADS, len(usable)), thread_name_prefix="creator") as pool:
        list(pool.map(checks.creator, usable[1:]))


def _check_row(row: Row, lookup: Lookup, folder: Path | None, now: float, first: dict[str, int]) -> None:
    settings = lookup.checks.settings
    csv_row = row.kind == "row"
    if row.errors:  # not a post at all
        return
    given = row.account
    if not given.strip():
        row.errors.append(_where(row, "account" if csv_row else "user_id", "required: the account's @name or "
                                                                           "open_id"))
        return
    open_id = lookup.resolve(given)
    if isinstance(open_id, UnknownAccountName):
        why = (f"{len(open_id.matches)} connected accounts are called {given.strip()}: give the open_id instead"
               if open_id.matches else f"no connected account is called {given.strip()}: link it in the app first, "
                                       "or give its open_id")
        row.errors.append(_where(row, "account" if csv_row else "user_id", why))
        return
    request = _as_request(row, open_id, settings, now)
    if request is None:
        return
    if request.due_at is not None and request.due_at < now - PAST_GRACE_S:
        row.errors.append(_where(row, "post_at", f"{request.post_at} is in the past: give a time to come, or leave "
                                                 "it empty to post at the next run"))
    media = "media" if csv_row else request.video_field
    if request.video_path is not None and not request.video_path.is_absolute() and folder is None:
        row.errors.append(_where(row, media, f"{request.video_path} is a relative path, and an uploaded file has no "
                                             "folder: give the full path"))
        return
    key, _, stored = keyed(request, *(2 * (folder or Path("/"),)))
    _check_account(row, lookup, request, stored, csv_row)
    if row.errors:
        return
    row.request, row.key, row.stored = request, key, stored
    if key in first:
        row.status = REPEAT
        row.warnings.append(_where(row, None, f"the same post as {row.kind} {first[key]} (every column alike): "
                                              "saved once"))
        return
    first[key] = row.number
    row.status = NEW  # or already there: check_file asks the store for every row at once


def _as_request(row: Row, open_id: str, settings, now: float) -> PostRequest | None:
    """The row checked by the manifest's own rules, its errors in the row's words; None when it has any."""
    csv_row = row.kind == "row"
    entry = entry_of(row, open_id) if csv_row else {**row.values, "user_id": open_id}
    if str(entry.get("post_at", "")).strip().lower() == NEXT_SLOT:  # placed once every row is checked
        entry = {name: value for name, value in entry.items() if name != "post_at"}
        row.slot = True
    checked = validate_manifest([entry], source=str(row.number), base_dir=None, now=now,
                                allow_loopback=settings.tiktok.emulated, verified=settings.media.verified_prefixes)
    for problem in checked.problems:
        if csv_row and problem.field is None and not row.values.get("media"):
            continue  # said by entry_of in the column's words
        column = _COLUMN_OF.get(problem.field or "", problem.field) if csv_row else problem.field
        row.errors.append(_where(row, column or ("media" if csv_row else None), _text(problem.message, problem.field)))
    row.warnings += [_where(row, _COLUMN_OF.get(w.field or "", w.field) if csv_row else w.field,
                            _text(w.message, w.field)) for w in checked.warnings]
    return None if row.errors or not checked.entries else checked.entries[0]


def _text(message: str, name: str | None) -> str:
    """A manifest message without its ``source: entry N (user_id ...)`` prefix: the row's own words follow."""
    marker = f'field "{shown(name)}": ' if name else "): "
    return message.split(marker, 1)[-1]


def _check_account(row: Row, lookup: Lookup, request: PostRequest, stored: dict, csv_row: bool) -> None:
    """The account usable, the creator's options (asked once per account), the local video's media checks."""
    checks = lookup.checks
    account_column = "account" if csv_row else "user_id"
    for problem in checks.account_problems(request.user_id):
        row.errors.append(_where(row, account_column, problem.split('field "user_id": ', 1)[-1]))
    if row.errors:
        return
    creator = checks.creator(request.user_id)
    info = creator.info
    if creator.refused:
        row.errors.append(_where(row, account_column, creator.refused))
    elif creator.later:
        row.warnings.append(_where(row, account_column, f"TikTok takes no new post from this account now "
                                                        f"({creator.later}); a run tries again later"))
    elif creator.unknown:
        row.warnings.append(_where(row, None, f"creator options not checked: {creator.unknown}"))
    elif info is not None and not request.draft:
        try:
            choose_privacy(request.privacy, None, info)
        except PrivacyNotOffered as exc:
            row.errors.append(_where(row, "privacy", str(exc).split('field "privacy": ', 1)[-1]))
        turned_off = {"disable_comment": info.comment_disabled, "disable_duet": info.duet_disabled,
                      "disable_stitch": info.stitch_disabled}
        for name, off in turned_off.items():
            if off and getattr(request, name) is False:
                row.warnings.append(_where(row, name, f"@{info.username} has turned this off in TikTok: it stays "
                                                      "off"))
    if "video_path" in stored:
        _check_media(row, stored["video_path"], info.max_duration_s if info and info.max_duration_s else None,
                     "media" if csv_row else "video_path")


def _check_media(row: Row, path: str, max_duration_s: float | None, column: str) -> None:
    from tiktok.posting.media import MediaError, check_video, probe  # PyAV: loaded only for a local file

    try:
        info = probe(path)
    except MediaError as exc:
        row.errors.append(_where(row, column, str(exc)))
        return
    row.errors += [_where(row, column, problem) for problem in check_video(info, max_duration_s=max_duration_s)]


def save(store: PostStore, plan: ImportPlan) -> ImportResult:
    """The good rows into the store, in one transaction (see the module docstring); the bad rows' errors are kept
    with the import, as a manifest's are."""
    entries, seen = [], set()
    for row in plan.good:
        if row.request is None or row.key is None or row.stored is None or row.key in seen:
            continue
        seen.add(row.key)
        entries.append(ImportEntry(key=row.key, user_id=row.request.user_id, entry=row.stored, index=row.index,
                                   due_at=row.request.due_at))
    return store.import_manifest(plan.source, plan.digest, entries, orphans=[], legacy=None,
                                 problems=[f"error: {error}" for error in plan.errors()])
