"""How times, durations, sizes and counts read for people: one style for every command line, page and message.

=======================  ==============================================  =====================================
``moment(epoch)``        ``2026-12-03 09:00 Europe/Berlin (UTC+01:00)``  in the person's zone, the zone named;
                         ``2026-12-03 08:00 UTC``                        the machine's zone unless one is given
``utc_iso(epoch)``       ``2026-12-03T08:00:00Z``                        for machines: ``--json``, the pages'
                                                                         ``<time datetime>``
``duration(seconds)``    ``45 s``, ``12 min``, ``3 h 5 min``, ``2 days``
``relative(epoch, now)`` ``in 5 min``, ``3 h ago``, ``just now``         the largest unit, rounded down
``size(n_bytes)``        ``512 bytes``, ``4.2 MB``, ``300 MB``           decimal units, as TikTok's limits
``count(n, "post")``     ``1 post``, ``1,200 posts``
=======================  ==============================================  =====================================

The person's zone is the machine's: TZ when set (read by :mod:`tiktok.config`), else ``/etc/localtime``. A web page
shows a moment in the browser's own zone (``assets/times.js``) and uses :func:`moment` only without script.
"""

from __future__ import annotations

import functools
import math
import os
import re
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tiktok.config import time_zone_name

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
                       "Etc/GMT", "GMT", "Z"})  # zones that are UTC itself, whatever they are called
# (unit, seconds) from the largest; days take over from hours at one day; seconds only under a minute.
_UNITS = (("day", 86400), ("h", 3600), ("min", 60))
JUST_NOW_S = 45  # a moment this close to now reads "now" or "just now"


@functools.lru_cache(maxsize=1)
def local_zone() -> tzinfo:
    """The machine's time zone with its rules (TZ, else /etc/localtime), so a time a form gives without the
    browser's zone is still checked for daylight saving; a fixed offset only when neither can be read."""
    name = time_zone_name()
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
    """``Europe/Berlin``; ``UTC`` for UTC by any name; the zone's abbreviation (or offset) when it has no name."""
    name = getattr(zone, "key", None) or (at or datetime.now(timezone.utc)).astimezone(zone).tzname() or "UTC"
    return "UTC" if name in UTC_NAMES else name


def utc_offset(moment: datetime) -> str:
    """``+01:00``: an aware moment's offset from UTC (``+00:00`` for a naive one)."""
    text = moment.strftime("%z")
    return f"{text[:3]}:{text[3:]}" if text else "+00:00"


def zone_label(epoch: float, tz: tzinfo | None = None) -> str:
    """``Europe/Berlin (UTC+01:00)``: ``tz`` (the machine's zone by default) named, with its offset at ``epoch``;
    ``UTC``, or ``UTC-05:00`` for a zone that is only an offset."""
    zone = tz or local_zone()
    at = datetime.fromtimestamp(epoch, zone)
    name = zone_name(zone, at)
    return name if name.startswith("UTC") else f"{name} (UTC{utc_offset(at)})"


def moment(epoch: float, tz: tzinfo | None = None, *, seconds: bool = False) -> str:
    """``2026-12-03 09:00 Europe/Berlin (UTC+01:00)`` in ``tz`` (the machine's zone by default), the zone named;
    ``2026-12-03 08:00 UTC`` in UTC; ``seconds`` adds them (``09:00:15``)."""
    zone = tz or local_zone()
    at = datetime.fromtimestamp(epoch, zone)
    clock = f"{at:%Y-%m-%d %H:%M:%S}" if seconds else f"{at:%Y-%m-%d %H:%M}"
    return f"{clock} {zone_label(epoch, zone)}"


def utc_iso(epoch: float) -> str:
    """``2026-12-03T08:00:00Z``: an instant for machines (``--json``, a ``<time datetime>``), to the second."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration(seconds: float, *, parts: int = 2) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``1 day 4 h``, ``12 days``: the largest ``parts`` units, rounded down
    (a token valid for 11 days 23 h 59 min is not valid for 12 days); seconds only under a minute; ``0 s`` for zero
    or less."""
    left = max(0, math.floor(round(seconds, 3)))  # to the millisecond first: times read back from text are not exact
    if left < 60:
        return f"{left} s"
    pieces: list[str] = []
    for unit, length in _UNITS:
        amount, left = divmod(left, length)
        if amount and len(pieces) < parts:
            pieces.append(count(amount, unit) if unit == "day" else f"{amount} {unit}")
        elif pieces:
            break  # "3 h 5 min", never "3 h 0 min" or "1 day 0 h 5 min"
    return " ".join(pieces)


def relative(epoch: float, now: float) -> str:
    """``in 5 min``, ``3 h ago``, ``now``, ``just now``: how far ``epoch`` is from ``now``, in its largest unit."""
    delta = epoch - now
    if abs(delta) < JUST_NOW_S:
        return "now" if delta >= 0 else "just now"
    text = duration(abs(delta), parts=1)
    return f"in {text}" if delta > 0 else f"{text} ago"


def size(n_bytes: int) -> str:
    """``512 bytes``, ``4.2 kB``, ``10 MB``, ``4.3 GB``: decimal units (TikTok's limits read as 10**6), one decimal
    under 10 of a unit."""
    if n_bytes < 1000:
        return count(n_bytes, "byte")
    value, unit = float(n_bytes), "bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 999.95:
            break
    return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 post``, ``3 posts``, ``1,200 entries`` (``plural`` when adding "s" is wrong)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


# Controls, the bidi marks, embeddings, overrides and isolates (Unicode's Bidirectional Algorithm, UAX #9).
_UNSEEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def plain_line(text: object) -> str:
    """``text`` for a place that cannot isolate it (a page's ``<title>``, an ``<option>``): controls and bidi marks,
    embeddings, overrides and isolates removed, so a right-to-left override from a caption cannot turn round what
    follows it. In a page's body such text goes inside ``<bdi>`` instead."""
    return _UNSEEN.sub("", str(text))
