"""Validate videos_to_upload.json: the list of posts the upload script should make.

The file holds a JSON list of entry objects, or an object ``{"videos": [...]}`` wrapping that list. Each entry
names the account (``user_id``, its open_id) and exactly one media source:

- ``video_path``: a local video sent with FILE_UPLOAD (relative paths are resolved against the manifest's folder);
- ``video_media``: a video in the media store (:mod:`tiktok.media.store`), by its key, sent with FILE_UPLOAD from
  the copy the store gives the worker that posts it: what the composer and an import into the media store write, so
  a worker on any machine can post it;
- ``video_url``: an https video TikTok pulls itself (PULL_FROM_URL, domain must be verified for the app);
- ``photo_urls``: 1..35 https images for a photo post, with ``photo_cover_index`` (default 0);
- ``photo_media``: 1..35 photos in the media store, by their keys, for a photo post like ``photo_urls``: at posting
  time they are published under MEDIA_PUBLIC_URL for TikTok to pull, and withdrawn once TikTok has them
  (:mod:`tiktok.media.publishing`); what the composer writes for the photo files it takes.

TikTok pulls a ``video_url`` or ``photo_urls`` only from a domain or URL prefix verified for the app
(:mod:`tiktok.media.ownership`). When VERIFIED_URL_PREFIXES lists them (``verified``), such a URL outside them is an
error of its entry, in TikTok's words; when it is not set, the URL is kept and TikTok judges it at init, as before.

``draft: true`` sends the post to the creator's TikTok inbox (video inbox init, or photo MEDIA_UPLOAD) instead
of publishing it. A JSON ``null`` for an optional field means "not set". Every bad entry is reported and the
good ones are kept. Every value is checked where it enters: text with a NUL byte or half a surrogate pair, a
``post_at`` before 2000 or more than five years ahead, a URL carrying ``user:password@`` and a number outside
TikTok's range are errors for their entry, never a crash of the run; a file too deeply nested to read is a
ManifestError naming it. Messages number entries from 1, as a person counts them in the file;
``ManifestProblem.index`` and ``PostRequest.index`` are the 0-based list positions.
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiktok.posting.caption import (
    PHOTO_DESCRIPTION_LIMIT,
    VIDEO_CAPTION_LIMIT,
    CaptionTooLong,
    build_caption,
)
from tiktok.errors import FileProblem
from tiktok.media.ownership import ownership_problem
from tiktok.posting.fields import (  # noqa: F401 - PRIVACY_LEVELS, MAX_PHOTOS and TOGGLE_FIELDS are part of the API
    ALLOW_LOOPBACK,
    FIELDS,
    MAX_PHOTOS,
    PHOTO_FIELDS,
    PRIVACY_LEVELS,
    SOURCE_FIELDS,
    TOGGLE_FIELDS,
    Bad,
    check_post_at_ahead,
    parse_post_at,
    shown,
    type_name,
)

# Fields TikTok has no place for, by kind of post; they are ignored with a warning rather than refused.
_IGNORED_BY_VIDEO_DRAFT = ("description", "tags", "privacy", *TOGGLE_FIELDS, "video_cover_timestamp_ms")
_IGNORED_BY_PHOTO = ("disable_duet", "disable_stitch", "video_cover_timestamp_ms")
_IGNORED_BY_PHOTO_DRAFT = ("privacy", "disable_comment", "brand_content_toggle", "brand_organic_toggle")


class ManifestError(FileProblem):
    """The manifest file cannot be read or is not JSON at all (names the file)."""


@dataclass(frozen=True)
class ManifestProblem:
    """One error or warning; ``index`` and ``field`` are None when they do not apply."""

    index: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class PostRequest:
    """One valid manifest entry."""

    index: int
    user_id: str
    video_path: Path | None = None
    video_media: str | None = None  # a media store key (tiktok.media.store.KEY)
    video_url: str | None = None
    photo_urls: tuple[str, ...] = ()
    photo_media: tuple[str, ...] = ()  # media store keys, published for TikTok to pull when the post is made
    photo_cover_index: int = 0
    description: str = ""
    tags: tuple[str, ...] = ()  # without the leading '#'
    privacy: str | None = None
    draft: bool = False
    disable_comment: bool | None = None
    disable_duet: bool | None = None
    disable_stitch: bool | None = None
    is_aigc: bool | None = None
    brand_content_toggle: bool | None = None
    brand_organic_toggle: bool | None = None
    video_cover_timestamp_ms: int | None = None
    title: str | None = None
    post_at: str | None = None  # when to post, as written (ISO 8601 with an offset); None: at the next run

    @property
    def due_at(self) -> float | None:
        """``post_at`` as epoch seconds; None when the entry has no time."""
        return parse_post_at(self.post_at).timestamp() if self.post_at is not None else None

    @property
    def media_type(self) -> str:
        """``PHOTO`` or ``VIDEO``."""
        return "PHOTO" if self.photo_urls or self.photo_media else "VIDEO"

    @property
    def photo_count(self) -> int:
        """How many photos a photo post has (0 for a video)."""
        return len(self.photo_urls or self.photo_media)

    @property
    def source(self) -> str:
        """``source_info.source``: FILE_UPLOAD for a local or stored video, PULL_FROM_URL otherwise."""
        return "FILE_UPLOAD" if self.video_path is not None or self.video_media is not None else "PULL_FROM_URL"

    @property
    def video_field(self) -> str | None:
        """The field naming the file a FILE_UPLOAD sends (``video_path`` or ``video_media``), for messages."""
        return "video_path" if self.video_path is not None else "video_media" if self.video_media else None

    @property
    def post_mode(self) -> str:
        """``DIRECT_POST`` or ``MEDIA_UPLOAD`` (inbox draft)."""
        return "MEDIA_UPLOAD" if self.draft else "DIRECT_POST"

    @property
    def caption_limit(self) -> int:
        """UTF-16 limit for description plus tags: video title, or photo description."""
        return PHOTO_DESCRIPTION_LIMIT if self.media_type == "PHOTO" else VIDEO_CAPTION_LIMIT

    def to_entry(self) -> dict[str, Any]:
        """This request as a manifest entry (defaults and unset fields left out)."""
        entry: dict[str, Any] = {"user_id": self.user_id}
        if self.video_path is not None:
            entry["video_path"] = str(self.video_path)
        if self.video_media is not None:
            entry["video_media"] = self.video_media
        if self.video_url is not None:
            entry["video_url"] = self.video_url
        if self.photo_urls:
            entry["photo_urls"] = list(self.photo_urls)
        if self.photo_media:
            entry["photo_media"] = list(self.photo_media)
        if self.photo_urls or self.photo_media:
            entry["photo_cover_index"] = self.photo_cover_index
        if self.description:
            entry["description"] = self.description
        if self.tags:
            entry["tags"] = list(self.tags)
        if self.draft:
            entry["draft"] = True
        for name in ("privacy", *TOGGLE_FIELDS, "video_cover_timestamp_ms", "title", "post_at"):
            if getattr(self, name) is not None:
                entry[name] = getattr(self, name)
        return entry


@dataclass
class ManifestResult:
    """Valid entries, errors (entries left out) and warnings (entries kept, something ignored)."""

    entries: list[PostRequest] = field(default_factory=list)
    problems: list[ManifestProblem] = field(default_factory=list)
    warnings: list[ManifestProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no entry had an error."""
        return not self.problems


class _EntryReport:
    """Collects the errors and warnings for one entry, each prefixed with where it is."""

    def __init__(self, source: str, index: int, raw: dict[str, Any]) -> None:
        user = raw.get("user_id")
        who = f"user_id {user!r}" if isinstance(user, str) and user.strip() else "no user_id"
        self.index = index
        self.prefix = f"{source}: entry {index + 1} ({who})"
        self.problems: list[ManifestProblem] = []
        self.warnings: list[ManifestProblem] = []

    def _make(self, name: str | None, text: str) -> ManifestProblem:
        where = f'{self.prefix}: field "{shown(name)}"' if name else self.prefix
        return ManifestProblem(self.index, name, f"{where}: {text}")

    def error(self, name: str | None, text: str) -> None:
        self.problems.append(self._make(name, text))

    def warn(self, name: str | None, text: str) -> None:
        self.warnings.append(self._make(name, text))


def _check_fields(raw: dict[str, Any], report: _EntryReport) -> dict[str, Any]:
    values = {}
    for name, value in raw.items():
        if name not in FIELDS:
            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            report.error(name, f"unknown field{hint}")
        elif value is None and name != "user_id":
            continue
        else:
            try:
                values[name] = FIELDS[name](value)
            except Bad as bad:
                report.error(name, str(bad))
    if "user_id" not in raw:
        report.error("user_id", "required (the account's open_id)")
    return values


def _check_source(raw: dict[str, Any], values: dict[str, Any], report: _EntryReport) -> None:
    given = [name for name in SOURCE_FIELDS if raw.get(name) is not None]
    if len(given) != 1:
        got = " and ".join(f'"{name}"' for name in given) or "none"
        names = [f'"{name}"' for name in SOURCE_FIELDS]
        report.error(None, f"needs exactly one media source: {', '.join(names[:-1])} or {names[-1]}; got {got}")
    photo_field = next((name for name in PHOTO_FIELDS if raw.get(name) is not None), None)
    photos = values.get(photo_field) if photo_field else None
    if "photo_cover_index" in values:
        if photo_field is None:
            report.error("photo_cover_index", 'only applies with "photo_urls" or "photo_media"')
        elif photos and values["photo_cover_index"] >= len(photos):
            report.error("photo_cover_index", f"is {values['photo_cover_index']} but there are only "
                                              f"{len(photos)} photos (counting from 0)")
    if "title" in values and photo_field is None:
        report.error("title", 'only applies to photo posts; put a video caption in "description"')


def _check_ownership(values: dict[str, Any], report: _EntryReport, verified: tuple[str, ...]) -> None:
    """A URL TikTok pulls, outside the app's verified properties: refused in TikTok's words (checked only when
    VERIFIED_URL_PREFIXES lists them)."""
    if not verified:
        return
    urls: list[tuple[str, int | None, str]] = [("video_url", None, values["video_url"])] if "video_url" in values \
        else []
    urls += [("photo_urls", n, url) for n, url in enumerate(values.get("photo_urls", ()))]
    for name, position, url in urls:
        problem = ownership_problem(url, verified, allow_loopback=ALLOW_LOOPBACK.get())
        if problem is not None:
            report.error(name, problem if position is None else f"item {position}: {problem}")
            return  # one line says it: the others are most likely on the same host


def _check_text(values: dict[str, Any], report: _EntryReport) -> None:
    limit = PHOTO_DESCRIPTION_LIMIT if any(name in values for name in PHOTO_FIELDS) else VIDEO_CAPTION_LIMIT
    try:
        caption = build_caption(values.get("description", ""), values.get("tags", ()), limit=limit)
    except CaptionTooLong as too_long:
        report.error("description", str(too_long))
        return
    if caption.dropped_tags:
        dropped = " ".join(f"#{tag}" for tag in caption.dropped_tags)
        report.warn("tags", f"caption would pass the {limit}-unit limit; these tags will be left out: {dropped}")


def _check_schedule(values: dict[str, Any], report: _EntryReport, now: float) -> None:
    if "post_at" in values:
        try:
            check_post_at_ahead(values["post_at"], now)
        except Bad as bad:
            report.error("post_at", str(bad))


def _check_ignored(values: dict[str, Any], report: _EntryReport) -> None:
    draft = values.get("draft", False)
    if any(name in values for name in PHOTO_FIELDS):
        ignored = {name: "photo posts have no such setting" for name in _IGNORED_BY_PHOTO}
        if draft:
            ignored.update({name: "only applies when publishing directly, not to an inbox draft"
                            for name in _IGNORED_BY_PHOTO_DRAFT})
    elif draft:
        ignored = {name: "a video draft goes to the creator's TikTok inbox, where they set it in the app"
                   for name in _IGNORED_BY_VIDEO_DRAFT}
    else:
        return
    for name, why in ignored.items():
        if name in values:
            report.warn(name, f"ignored: {why}")


def _validate_entry(raw: Any, index: int, source: str, base_dir: Path | None, now: float,
                    result: ManifestResult, verified: tuple[str, ...]) -> None:
    if not isinstance(raw, dict):
        result.problems.append(ManifestProblem(
            index, None, f"{source}: entry {index + 1}: expected an object, got {type_name(raw)}"))
        return
    report = _EntryReport(source, index, raw)
    values = _check_fields(raw, report)
    _check_source(raw, values, report)
    _check_ownership(values, report, verified)
    _check_text(values, report)
    _check_schedule(values, report, now)
    _check_ignored(values, report)
    result.problems.extend(report.problems)
    result.warnings.extend(report.warnings)
    if report.problems:
        return
    if "video_path" in values:
        path = Path(values["video_path"])
        values["video_path"] = base_dir / path if base_dir is not None and not path.is_absolute() else path
    result.entries.append(PostRequest(index=index, **values))


def validate_manifest(data: Any, *, source: str, base_dir: str | Path | None = None,
                      allow_loopback: bool = False, now: float | None = None,
                      verified: tuple[str, ...] = ()) -> ManifestResult:
    """Check parsed manifest JSON; ``source`` names the file in messages, ``base_dir`` anchors relative paths.
    ``allow_loopback`` accepts http(s)://127.0.0.1 and localhost media URLs (for the emulator only); ``now`` (epoch
    seconds, default the real time) is what a ``post_at`` may be at most five years after; ``verified``: the app's
    verified domains and URL prefixes (VERIFIED_URL_PREFIXES as given), which a pulled URL must lie under (none:
    not checked)."""
    token = ALLOW_LOOPBACK.set(allow_loopback)
    try:
        return _validate(data, source, base_dir, time.time() if now is None else now, tuple(verified))
    finally:
        ALLOW_LOOPBACK.reset(token)


def _validate(data: Any, source: str, base_dir: str | Path | None, now: float,
              verified: tuple[str, ...]) -> ManifestResult:
    result = ManifestResult()
    items = data
    if isinstance(data, dict) and "videos" in data:
        for extra in sorted(set(data) - {"videos"}):
            result.problems.append(ManifestProblem(None, extra,
                                                   f'{source}: unknown top-level field "{shown(extra)}"'))
        items = data["videos"]
    if not isinstance(items, list):
        result.problems.append(ManifestProblem(
            None, None, f'{source}: expected a list of entries or {{"videos": [...]}}, got {type_name(items)}'))
        return result
    base = Path(base_dir) if base_dir is not None else None
    for index, raw in enumerate(items):
        _validate_entry(raw, index, source, base, now, result, verified)
    return result


def read_manifest(path: Path) -> bytes:
    """The manifest file's bytes; ManifestError naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(path, "file not found") from None
    except IsADirectoryError:
        raise ManifestError(path, "is a folder, not a file") from None
    except OSError as bad:
        raise ManifestError(path, f"cannot read: {bad.strerror}") from None


def parse_manifest(path: Path, raw: bytes) -> Any:
    """The manifest's JSON; ManifestError naming the file, and the line and column, when it is not JSON."""
    try:
        text = raw.decode("utf-8-sig")  # -sig: tolerate the BOM some Windows editors add
    except UnicodeDecodeError as bad:
        raise ManifestError(path, f"not UTF-8 text (bad byte at offset {bad.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        raise ManifestError(path, f"malformed JSON at line {bad.lineno}, column {bad.colno}: {bad.msg}") from None
    except RecursionError:
        raise ManifestError(path, "nested too deeply to read (lists or objects inside each other hundreds of levels "
                                  "deep); a manifest is a list of flat entries") from None
    except ValueError:  # the only other refusal of json.loads: Python's limit on the digits of an integer
        raise ManifestError(path, "holds a number too long to read (more than 4,300 digits)") from None


def load_manifest(path: str | Path, *, allow_loopback: bool = False, verified: tuple[str, ...] = ()) -> ManifestResult:
    """Read and validate a manifest file; ManifestError if it cannot be read or parsed as JSON."""
    path = Path(path)
    data = parse_manifest(path, read_manifest(path))
    return validate_manifest(data, source=str(path), base_dir=path.absolute().parent, allow_loopback=allow_loopback,
                             verified=verified)
