"""Checks for single fields of a videos_to_upload.json entry: each returns the clean value or raises ``Bad``."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any
from urllib.parse import SplitResult, urlsplit

from tiktok.media.store import KEY as MEDIA_KEY
from tiktok.posting.limits import PRIVACY_LEVELS
from tiktok.posting.caption import PHOTO_TITLE_LIMIT, normalise_tag, utf16_len

MAX_PHOTOS = 35  # photo post source_info.photo_images, reference 3.4
MAX_INT32 = 2**31 - 1  # post_info.video_cover_timestamp_ms is an int32 (reference 3.2)
# post_at: TikTok's own scheduler looks 10 to 30 days ahead; years further is a typo (9999), and a time before 2000
# is no real schedule (0001). Both ends keep every time convertible to a Unix timestamp and back.
EARLIEST_POST_AT = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_SCHEDULE_AHEAD_S = 5 * 366 * 86400  # five years
SOURCE_FIELDS = ("video_path", "video_media", "video_url", "photo_urls", "photo_media")
PHOTO_FIELDS = ("photo_urls", "photo_media")  # the sources of a photo post
TOGGLE_FIELDS = ("disable_comment", "disable_duet", "disable_stitch", "is_aigc",
                 "brand_content_toggle", "brand_organic_toggle")


class Bad(ValueError):
    """A field's value is wrong; the text says how."""


def type_name(value: Any) -> str:
    names = {type(None): "null", bool: "bool", int: "int", float: "float", str: "string", list: "list",
             dict: "object"}
    return names.get(type(value), type(value).__name__)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent (a NUL byte, or half of a UTF-16 surrogate pair); None when it can."""
    if "\x00" in text:
        return f"contains a NUL byte (\\u0000) at character {text.index(chr(0)) + 1}; remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as bad:
        return (f"contains half of a UTF-16 surrogate pair (\\u{ord(text[bad.start]):04x}) at character "
                f"{bad.start + 1}, which is not text; remove it or write the whole character")
    return None


def shown(text: str) -> str:
    """``text`` as it can safely appear in a message: itself when clean, its escaped repr otherwise."""
    return text if text_problem(text) is None and text.isprintable() else repr(text)[1:-1]


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise Bad(f"expected a string, got {type_name(value)}")
    problem = text_problem(value)
    if problem:
        raise Bad(problem)
    return value


def _nonempty_string(value: Any) -> str:
    if not _string(value).strip():
        raise Bad("must not be empty")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"expected true or false, got {type_name(value)}")
    return value


def _count(value: Any, high: int = MAX_INT32, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Bad(f"expected a whole number, got {type_name(value)}")
    if value < 0:
        raise Bad(f"must be 0 or more, got {value}")
    if value > high:
        shown_value = f"{value:,}" if value.bit_length() < 64 else f"a number of {len(str(value))} digits"
        raise Bad(f"must be at most {high:,}{why}, got {shown_value}")
    return value


def _cover_timestamp(value: Any) -> int:
    return _count(value, MAX_INT32, " (TikTok takes a 32-bit number of milliseconds)")


def _cover_index(value: Any) -> int:
    return _count(value, MAX_PHOTOS - 1, f" (a post has at most {MAX_PHOTOS} photos, counted from 0)")


# Emulated runs only: the emulator pulls media from test servers on this machine, which speak plain http.
ALLOW_LOOPBACK: ContextVar[bool] = ContextVar("allow_loopback", default=False)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise Bad(f"is not a valid URL: {shown(url)!r}") from None
    if parts.username is not None or parts.password is not None:
        # never repeated in the message: the part before @ is a credential
        raise Bad("must not carry a user name or password (user:password@): TikTok would see it, and the media "
                  "must be public anyway; give the address without it")
    return parts


def _media_key(value: Any, local: str = 'a local file goes in "video_path"') -> str:
    """``video_media`` (and each of ``photo_media``): a media store key (tiktok.media.store), as the composer and
    the imports write it."""
    key = _string(value)
    if not MEDIA_KEY.fullmatch(key):
        raise Bad("must be a media store key: the 64 lower-case hex digits the store gave and the file's extension, "
                  f"such as 9f86d081...b0f00a08.mp4 ({local}); got {shown(key[:80])!r}")
    return key


def _photo_media(value: Any) -> tuple[str, ...]:
    """``photo_media``: 1..35 photos in the media store, by their keys (published for TikTok to pull at posting
    time: tiktok.media.publishing)."""
    if not isinstance(value, list):
        raise Bad(f"expected a list of media store keys, got {type_name(value)}")
    if not 1 <= len(value) <= MAX_PHOTOS:
        raise Bad(f"needs 1 to {MAX_PHOTOS} photos, got {len(value)}")
    keys = []
    for position, item in enumerate(value):
        try:
            keys.append(_media_key(item, local="a photo on the web goes in \"photo_urls\""))
        except Bad as bad:
            raise Bad(f"item {position}: {bad}") from None
    return tuple(keys)


def _https_url(value: Any) -> str:
    url = _string(value)
    parts = _split(url)
    if ALLOW_LOOPBACK.get() and parts.scheme in ("http", "https") and parts.hostname in _LOOPBACK_HOSTS:
        return url
    if parts.scheme != "https":
        raise Bad(f"must be an https:// URL (TikTok refuses other schemes), got {url!r}")
    if not parts.hostname or any(ch.isspace() for ch in url):
        raise Bad(f"is not a valid URL: {url!r}")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    raise Bad(f"must name a verified domain, not an IP address: {url!r}")


def _photo_urls(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Bad(f"expected a list of https URLs, got {type_name(value)}")
    if not 1 <= len(value) <= MAX_PHOTOS:
        raise Bad(f"needs 1 to {MAX_PHOTOS} photos, got {len(value)}")
    urls = []
    for position, item in enumerate(value):
        try:
            urls.append(_https_url(item))
        except Bad as bad:
            raise Bad(f"item {position}: {bad}") from None
    return tuple(urls)


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Bad(f"expected a list of strings, got {type_name(value)}")
    tags = []
    for position, item in enumerate(value):
        if not isinstance(item, str):
            raise Bad(f"expected a list of strings, item {position} is {type_name(item)}")
        problem = text_problem(item)
        if problem:
            raise Bad(f"item {position}: {problem}")
        try:
            tags.append(normalise_tag(item))
        except ValueError as bad:
            raise Bad(f"item {position}: {bad}") from None
    return tuple(tags)


def _privacy(value: Any) -> str:
    if _string(value) not in PRIVACY_LEVELS:
        raise Bad(f"expected one of {', '.join(PRIVACY_LEVELS)}, got {value!r}")
    return value


def _title(value: Any) -> str:
    units = utf16_len(_string(value))
    if units > PHOTO_TITLE_LIMIT:
        raise Bad(f"is {units} UTF-16 units, over the photo title limit of {PHOTO_TITLE_LIMIT}")
    return value


def parse_post_at(text: str) -> datetime:
    """An ISO 8601 date-time with a UTC offset (``2026-12-03T09:00:00+01:00`` or ``...Z``), from 2000 on; Bad
    otherwise.

    A time without an offset is refused, not read as local time: a manifest moved to a server in another zone (or
    cron's TZ) must not post hours early or late."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Bad(f"is not an ISO 8601 date and time such as 2026-12-03T09:00:00+01:00, got {text!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Bad(f"needs a UTC offset such as +01:00 or Z, got {text!r}")
    try:
        instant = moment.astimezone(timezone.utc)  # OverflowError at year 1 or 9999 with an offset
    except (OverflowError, ValueError):
        instant = None
    if instant is None or instant < EARLIEST_POST_AT:
        raise Bad(f"{text!r} is out of range: give a time from {EARLIEST_POST_AT:%Y-%m-%d} to five years from now")
    return moment


def check_post_at_ahead(text: str, now: float) -> None:
    """Bad when ``post_at`` (already parsed once) is further than MAX_SCHEDULE_AHEAD_S after ``now``."""
    due = parse_post_at(text).timestamp()
    if due - now > MAX_SCHEDULE_AHEAD_S:
        latest = datetime.fromtimestamp(now + MAX_SCHEDULE_AHEAD_S, timezone.utc)
        raise Bad(f"{text!r} is more than five years ahead: give a time up to {latest:%Y-%m-%d}")


def _post_at(value: Any) -> str:
    parse_post_at(_nonempty_string(value).strip())
    return value.strip()


FIELDS: dict[str, Callable[[Any], Any]] = {
    "user_id": _nonempty_string,
    "video_path": _nonempty_string,
    "video_media": _media_key,
    "video_url": _https_url,
    "photo_urls": _photo_urls,
    "photo_media": _photo_media,
    "photo_cover_index": _cover_index,
    "description": _string,
    "tags": _tags,
    "privacy": _privacy,
    "draft": _boolean,
    **{name: _boolean for name in TOGGLE_FIELDS},
    "video_cover_timestamp_ms": _cover_timestamp,
    "title": _title,
    "post_at": _post_at,
}
