"""When a post may be posted: its ``post_at`` against now and the grace period (pure); and how a time a person
picks in a form becomes a ``post_at`` (:func:`post_at_from`: never shifted silently across daylight saving).

An entry with no ``post_at`` is due at once. One whose time has come is due while it is at most ``grace_s`` late;
later than that it is *missed*: a run reports it and does not post it, because a post meant for Monday 9:00 that
goes out on Wednesday (the machine was off, cron was broken) is rarely what anyone wants. ``--force`` or a new
``post_at`` posts it. The rule applies only to entries not started yet: an entry whose upload or status is in flight
is resumed whatever its time says.
"""

from __future__ import annotations

import functools
import os
from datetime import datetime, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tiktok.config import DEFAULT_POST_GRACE_S

DEFAULT_GRACE_S = DEFAULT_POST_GRACE_S  # an hour (POST_GRACE's default): cron every 5 minutes, or a laptop waking up

When = Literal["due", "scheduled", "missed"]


def when(due_at: float | None, now: float, grace_s: float = DEFAULT_GRACE_S) -> When:
    """``scheduled`` before ``due_at``, ``due`` from then until ``grace_s`` after it, ``missed`` later."""
    if due_at is None:
        return "due"
    if due_at > now:
        return "scheduled"
    return "due" if now - due_at <= grace_s else "missed"


def next_due(due_ats: list[float | None], now: float) -> float | None:
    """The earliest time still to come among ``due_ats`` (what ``--watch`` sleeps until), or None."""
    future = [t for t in due_ats if t is not None and t > now]
    return min(future) if future else None


@functools.lru_cache(maxsize=1)
def local_zone() -> tzinfo:
    """The machine's time zone with its rules (TZ, else /etc/localtime), so a time the form gives without the
    browser's zone is still checked for daylight saving; a fixed offset only when neither can be read."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key=_zone_key("/etc/localtime"))
    except (OSError, ValueError):
        return datetime.now().astimezone().tzinfo or timezone.utc


def _zone_key(path: str) -> str | None:
    target = os.path.realpath(path)
    marker = "/zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


def zone_name(zone: tzinfo, at: datetime | None = None) -> str:
    """``Europe/Berlin``, or the zone's abbreviation when it has no name."""
    return getattr(zone, "key", None) or (at or datetime.now(timezone.utc)).astimezone(zone).tzname() or "UTC"


def post_at_from(local: str, offset: str = "", zone: str = "", *, default_zone: tzinfo | None = None) -> str | None:
    """The ``post_at`` text (ISO 8601 with its offset) for a ``datetime-local`` value; None when it is empty.

    The time is read in ``zone`` (the browser's IANA zone, which the pages send), else at ``offset`` (``+01:00``),
    else in ``default_zone`` (the machine's). A local time that does not exist in the zone (the hour the clocks
    jump forward) is refused, never shifted; one that happens twice (the hour they go back) is refused unless
    ``offset`` says which of the two is meant. ValueError carries the sentence for the person."""
    local, offset, zone = local.strip(), offset.strip(), zone.strip()
    if not local:
        return None
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        raise ValueError(f"{local!r} is not a date and time (expected e.g. 2026-12-03T09:00)") from None
    if naive.tzinfo is not None:
        raise ValueError(f"{local!r} already carries a UTC offset; give the local time alone")
    rules = _zone(zone)
    if rules is None and offset:
        try:
            moment = datetime.fromisoformat(local + offset)
        except ValueError:
            raise ValueError(f"the UTC offset must look like +01:00, -05:30 or Z, got {offset!r}") from None
        return _text(moment)
    rules = rules or default_zone or local_zone()
    return _text(_in_zone(naive, rules, offset))


def _zone(name: str) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone this machine knows") from None


def _in_zone(naive: datetime, zone: tzinfo, offset: str) -> datetime:
    """``naive`` in ``zone``: refused in a gap, and when it happens twice unless ``offset`` picks one."""
    name = zone_name(zone, naive.replace(tzinfo=timezone.utc))
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    back = early.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {name}: the clocks jump forward over it "
                         "(daylight saving); choose another time")
    if early.utcoffset() != late.utcoffset():
        wanted = [moment for moment in (early, late) if _offset_text(moment) == offset.replace("Z", "+00:00")]
        if wanted:
            return wanted[0]
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} happens twice in {name} (the clocks go back an hour): at "
                         f"{_offset_text(early)} and again at {_offset_text(late)}; choose a time outside that hour")
    return early


def _offset_text(moment: datetime) -> str:
    text = moment.strftime("%z")
    return f"{text[:3]}:{text[3:]}" if text else "+00:00"


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes" if moment.second == 0 and not moment.microsecond else "seconds")
