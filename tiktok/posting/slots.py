"""Posting slots: the times of the week an account posts at, and the next of them that is free (issue 27, item 3).

A person writes an account's slots as text, for example ``Mon-Fri 18:00, Sat 11:00``: items split by commas, each
one or more day words (``Mon``..``Sun``, a range ``Mon-Fri``, ``daily``) and one or more times on a 24-hour clock
(no day word: every day). The times are read in the account's time zone (its own, else TZ), and each item becomes
one weekly recurrence rule (python-dateutil's ``rrule``, RFC 5545's RRULE): nothing here hand-counts calendar days.

**The next free slot** (:func:`free_slots`) is the first slot time after now that

- no post of the account is scheduled at already (a post due in the same minute takes the slot), and
- falls on a day (in the account's zone) with fewer than :data:`DAILY_CAP` posts of the account.

A queue of posts fills the slots in order: asking for n slots gives the n first free ones, each counting towards
its day's cap as the ones before it. The account's scheduled times are read one window at a time through
``taken(start, end)`` (the store's query for that account's post times in a range), never every post.

Pure: no store, no clock, no settings; times are epoch seconds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import FR, MO, SA, SU, TH, TU, WE, WEEKLY, rrule, rruleset

from tiktok.posting.budget import DAILY_DIRECT_POSTS

DAILY_CAP = DAILY_DIRECT_POSTS  # TikTok's Direct Post cap per creator per day: the budget's (reference section 7)
WINDOW_DAYS = 31        # the account's scheduled times are read this many days at a time
HORIZON_DAYS = 2 * 366  # no free slot within this: say so rather than search for ever
SAME_MINUTE_S = 60      # a post due within this of a slot time takes the slot

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS = (MO, TU, WE, TH, FR, SA, SU)
DAY_ALIASES = {"daily": tuple(range(7)), "everyday": tuple(range(7)), "weekdays": tuple(range(5)),
               "weekends": (5, 6)}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Slot:
    """One item: the weekdays (0 = Monday) and the local times ``(hour, minute)`` on each."""

    days: tuple[int, ...]
    times: tuple[tuple[int, int], ...]

    def text(self) -> str:
        return f"{_days_text(self.days)} " + " ".join(f"{h:02d}:{m:02d}" for h, m in self.times)


@dataclass(frozen=True)
class Slots:
    """An account's slots: its items, in the order written."""

    items: tuple[Slot, ...]

    def text(self) -> str:
        """The canonical text (what ``parse`` of it gives back)."""
        return ", ".join(item.text() for item in self.items)


def parse(text: str) -> Slots:
    """The slots ``text`` describes; ValueError naming the item and what is wrong with it."""
    items = [part.strip() for part in (text or "").split(",")]
    if not any(items):
        raise ValueError("no slots given: write them like 'Mon-Fri 18:00, Sat 11:00'")
    return Slots(tuple(_item(part, number) for number, part in enumerate(items, 1)))


def _item(part: str, number: int) -> Slot:
    if not part:
        raise ValueError(f"slot {number} is empty: remove the extra comma")
    days: list[int] = []
    times: list[tuple[int, int]] = []
    for word in part.split():
        found = _TIME.match(word)
        if found:
            times.append((int(found.group(1)), int(found.group(2))))
        elif times:
            raise ValueError(f"slot {number} ({part!r}): put the days before the times")
        else:
            days.extend(_day_word(word, number, part))
    if not times:
        raise ValueError(f"slot {number} ({part!r}) has no time: add one like 18:00 (24-hour clock)")
    return Slot(tuple(sorted(set(days or range(7)))), tuple(sorted(set(times))))


def _day_word(word: str, number: int, part: str) -> tuple[int, ...]:
    low = word.lower().replace("\u2013", "-")  # an en dash, as people write Mon-Fri
    if low in DAY_ALIASES:
        return DAY_ALIASES[low]
    ends = [index for index in map(_day_index, low.split("-")) if index is not None]
    if len(ends) in (1, 2) and len(ends) == low.count("-") + 1:
        first, last = ends[0], ends[-1]  # a range may wrap round the week: Fri-Mon
        return tuple(range(first, last + 1)) if first <= last else (*range(first, 7), *range(0, last + 1))
    raise ValueError(f"slot {number} ({part!r}): {word!r} is neither a day (Mon..Sun, Mon-Fri, daily) nor a time "
                     "like 18:00")


def _day_index(word: str) -> int | None:
    """0 for Mon, Monday, ...; None for anything else (three letters at least)."""
    for index, name in enumerate(FULL_DAYS):
        if len(word) >= 3 and name.startswith(word):
            return index
    return None


def _days_text(days: tuple[int, ...]) -> str:
    if days == tuple(range(7)):
        return "daily"
    runs: list[str] = []
    start = prev = days[0]
    for day in (*days[1:], None):
        if day is not None and day == prev + 1:
            prev = day
            continue
        name = DAYS[start].title()
        runs.append(name if start == prev else f"{name}-{DAYS[prev].title()}")
        if day is not None:
            start = prev = day
    return " ".join(runs)


def zone_named(name: str) -> ZoneInfo | timezone:
    """The zone called ``name`` ("" or "UTC": UTC); ValueError for a name the zone database does not know."""
    if not name or name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone name like Europe/Berlin or America/New_York") from None


def _rules(slots: Slots, start: datetime) -> rruleset:
    """One weekly rule per item and time (RFC 5545 RRULE: FREQ=WEEKLY;BYDAY=..;BYHOUR=..;BYMINUTE=..)."""
    rules = rruleset()
    for item in slots.items:
        for hour, minute in item.times:
            rules.rrule(rrule(WEEKLY, dtstart=start, byweekday=[WEEKDAYS[d] for d in item.days], byhour=hour,
                              byminute=minute, bysecond=0))
    return rules


def slot_times(slots: Slots, zone, *, after: float, until: float) -> Iterator[float]:
    """Every slot time in ``(after, until)``, in order, as epoch seconds. A local time a DST change skips is read
    as zoneinfo reads it (the offset before the change); one it repeats is taken once (its first)."""
    local_start = datetime.fromtimestamp(after, zone).replace(tzinfo=None, second=0, microsecond=0)
    seen: float | None = None
    for local in _rules(slots, local_start).xafter(local_start, inc=True):
        at = local.replace(tzinfo=zone).timestamp()
        if at >= until:
            return
        if at > after and at != seen:
            seen = at
            yield at


def free_slots(slots: Slots, zone, *, after: float, taken: Callable[[float, float], Sequence[float]],
               count: int = 1, cap: int = DAILY_CAP) -> list[float]:
    """The ``count`` first free slot times after ``after`` (fewer when the horizon has no more), in order.
    ``taken(start, end)`` gives the account's scheduled post times in ``[start, end)``."""
    found: list[float] = []
    start = _midnight(after, zone)
    end_of_search = after + HORIZON_DAYS * 86400
    while len(found) < count and start < end_of_search:
        end = _midnight(start + WINDOW_DAYS * 86400 + 7200, zone)  # +2 h: a day 23 h long still moves on
        times = list(taken(start, end))
        per_day = Counter(_day(t, zone) for t in times)
        minutes = {int(t // SAME_MINUTE_S) for t in times}
        for at in slot_times(slots, zone, after=max(after, start - 1), until=end):
            day = _day(at, zone)
            if int(at // SAME_MINUTE_S) in minutes or per_day[day] >= cap:
                continue
            found.append(at)
            per_day[day] += 1
            minutes.add(int(at // SAME_MINUTE_S))
            if len(found) == count:
                break
        start = end
    return found


def _day(at: float, zone) -> str:
    return datetime.fromtimestamp(at, zone).date().isoformat()


def _midnight(at: float, zone) -> float:
    """The start of the local day holding ``at``."""
    local = datetime.fromtimestamp(at, zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None).replace(tzinfo=zone).timestamp()


def account_slots(store, user_id: str, default_zone) -> tuple[Slots, object]:
    """The account's slots and zone from ``store`` (``default_zone``, TZ, when it names none); ValueError when it
    has none (or its row no longer parses)."""
    kept = store.account_slots(user_id)
    if not kept:
        raise ValueError("has no posting slots: set them first, like 'Mon-Fri 18:00, Sat 11:00'")
    return parse(kept["slots"]), zone_named(kept["zone"]) if kept.get("zone") else default_zone


def account_free_slots(store, user_id: str, *, now: float, default_zone, count: int = 1,
                       cap: int = DAILY_CAP, also: Sequence[float] = ()) -> list[float]:
    """The account's ``count`` next free slots after ``now`` from ``store`` (its slots row, then its post times
    window by window, with ``also``: times not saved yet, such as an import's other rows); ``default_zone`` (TZ)
    when the account names no zone of its own. ValueError when the account has no slots (or its row no longer
    parses)."""
    slots, zone = account_slots(store, user_id, default_zone)

    def taken(start: float, end: float) -> list[float]:
        return sorted([*store.post_times(user_id, start, end), *(t for t in also if start <= t < end)])

    return free_slots(slots, zone, after=now, count=count, cap=cap, taken=taken)


def account_zone(store, user_id: str, default_zone):
    """The zone the account's days are counted in: its slots' own, else ``default_zone`` (TZ)."""
    kept = store.account_slots(user_id) if store is not None else None
    return zone_named(kept["zone"]) if kept and kept.get("zone") else default_zone


def day_bounds(at: float, zone) -> tuple[float, float]:
    """The local day holding ``at``: its first instant and the next day's (a 23 or 25 hour day as it is)."""
    start = _midnight(at, zone)
    return start, _midnight(start + 86400 + 7200, zone)


def day_count(store, user_id: str, at: float, default_zone) -> tuple[str, int]:
    """The local day holding ``at`` (``2026-12-09``, in the account's zone: :func:`account_zone`) and how many of
    the account's posts it holds (the ones that take a slot); the count the daily cap is checked against."""
    zone = account_zone(store, user_id, default_zone)
    return _day(at, zone), len(store.post_times(user_id, *day_bounds(at, zone)))


def full_day_warning(store, user_id: str, at: float, default_zone, name: str = "") -> str | None:
    """The composer's warning once a post is scheduled at ``at``: its local day holds more of the account's posts
    than TikTok's daily cap (:data:`DAILY_CAP`); None when it does not."""
    day, count = day_count(store, user_id, at, default_zone)
    if count <= DAILY_CAP:
        return None
    return (f"{name or user_id} now has {count} posts scheduled on {day}, more than TikTok's cap of "
            f"{DAILY_CAP} Direct Posts a day: the runner holds the ones over it until TikTok has room (move some "
            "to another day on the Posts page)")


NO_FREE_SLOT = "has no free slot in the next two years: every slot is taken or its day is full"


def add_in_next_slot(store, user_id: str, make, *, now: float, default_zone, media_name: str | None = None,
                     origin: str = "app"):
    """Add the post ``make(at)`` gives (``(entry, key)``) at the account's next free slot after ``now``, the pick
    and the add one write transaction of the store (:meth:`~tiktok.store.planner.PlannerQueries.add_in_slot`): two
    adds at the same moment, in any processes, take two slots. The new post; ValueError when the account has no
    slots or no free one."""
    slots, zone = account_slots(store, user_id, default_zone)

    def pick(taken) -> float:
        found = free_slots(slots, zone, after=now, taken=taken)
        if not found:
            raise ValueError(NO_FREE_SLOT)
        return found[0]

    return store.add_in_slot(user_id, pick, make, media_name=media_name, origin=origin)
