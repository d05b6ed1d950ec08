"""When a post may be posted: its ``post_at`` against now and the grace period (pure); and how a time a person
picks in a form becomes a ``post_at`` (:func:`post_at_from`: never shifted silently across daylight saving).

An entry with no ``post_at`` is due at once. One whose time has come is due while it is at most ``grace_s`` late;
later than that it is *missed*: a run reports it and does not post it, because a post meant for Monday 9:00 that
goes out on Wednesday (the machine was off, cron was broken, TikTok was down) is rarely what anyone wants.

The rule holds for every attempt (:func:`attempt_when`, issue 22): the first, and every retry a run makes by itself
after a failure (a rate limit, an outage, a relink), so a post that failed at 9:00 is not posted on Wednesday
because TikTok answered then. A missed post waits for a person: the Posts page's Retry or ``--force`` posts it now,
a new ``post_at`` gives it a new time. Only an attempt already under way (its init sent, its upload or status in
flight) is carried on whatever its time says: TikTok may already hold it, and it began in time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tiktok.config import DEFAULT_POST_GRACE_S
from tiktok.text import local_zone, utc_offset, zone_name

DEFAULT_GRACE_S = DEFAULT_POST_GRACE_S  # an hour (POST_GRACE's default): cron every 5 minutes, or a laptop waking up
PAST_SLACK_S = 60  # a form's time this far in the past still counts as now (minutes only, a slow click)
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?")  # what datetime-local sends
_OFFSET = re.compile(r"Z|[+-](?:[01]\d|2[0-3]):[0-5]\d")

When = Literal["due", "scheduled", "missed"]


def when(due_at: float | None, now: float, grace_s: float = DEFAULT_GRACE_S) -> When:
    """``scheduled`` before ``due_at``, ``due`` from then until ``grace_s`` after it, ``missed`` later."""
    if due_at is None:
        return "due"
    if due_at > now:
        return "scheduled"
    return "due" if now - due_at <= grace_s else "missed"


def attempt_when(due_at: float | None, now: float, grace_s: float = DEFAULT_GRACE_S, *, under_way: bool = False,
                 asked: bool = False) -> When:
    """:func:`when` for an attempt, the first or a retry alike. An attempt ``under_way`` is ``due`` whatever the time
    (carried on, never begun again); one a person ``asked`` for (Retry, ``--force``) is ``due`` once missed too, but
    a time still to come is kept."""
    if under_way:
        return "due"
    state = when(due_at, now, grace_s)
    return "due" if state == "missed" and asked else state


def post_at_from(local: str, offset: str = "", zone: str = "", *, default_zone: tzinfo | None = None) -> str | None:
    """The ``post_at`` text (ISO 8601 to the second, with its offset) for a ``datetime-local`` value; None when it is
    empty. The one rule for every form that picks a time (the composer, the Posts page's edit and reschedule).

    The time is read in ``zone`` (the browser's IANA zone, which the pages send), else at ``offset`` (``+01:00``),
    else in ``default_zone`` (the machine's). A local time that does not exist in the zone (the hour the clocks
    jump forward) is refused, never shifted; one that happens twice (the hour they go back) is refused too. With a
    zone the offset is not used: the browser computes it by guessing one of the two readings of a time that happens
    twice, and no person chose that guess. ValueError carries the sentence for the person."""
    local, offset, zone = local.strip(), offset.strip(), zone.strip()
    if not local:
        return None
    if not _LOCAL_TIME.fullmatch(local):
        raise ValueError(f"{local!r} is not a date and time (expected e.g. 2026-12-03T09:00)")
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        raise ValueError(f"{local!r} is not a date and time (expected e.g. 2026-12-03T09:00)") from None
    rules = _zone(zone)
    if rules is None and offset:
        if not _OFFSET.fullmatch(offset):
            raise ValueError(f"the UTC offset must look like +01:00, -05:30 or Z, got {offset!r}")
        return _text(datetime.fromisoformat(local + offset.replace("Z", "+00:00")))
    return _text(_in_zone(naive, rules or default_zone or local_zone()))


def form_post_at(form: Mapping[str, str], *, default_zone: tzinfo | None = None) -> str | None:
    """:func:`post_at_from` of a form's ``post_at_local``, ``offset`` and ``zone`` fields."""
    return post_at_from(form.get("post_at_local") or "", form.get("offset") or "", form.get("zone") or "",
                        default_zone=default_zone)


def check_future(post_at: str, now: float) -> None:
    """ValueError when ``post_at`` is more than PAST_SLACK_S before ``now`` (a form's time has minutes only, and a
    click takes a moment)."""
    if datetime.fromisoformat(post_at).timestamp() + PAST_SLACK_S < now:
        raise ValueError(f"{post_at} is in the past: choose a time to come")


def _zone(name: str) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone this machine knows") from None


def _in_zone(naive: datetime, zone: tzinfo) -> datetime:
    """``naive`` in ``zone``; refused in a gap, and when it happens twice."""
    name = zone_name(zone, naive.replace(tzinfo=timezone.utc))
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    back = early.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {name}: the clocks jump forward over it "
                         "(daylight saving); choose another time")
    if early.utcoffset() != late.utcoffset():
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} happens twice in {name} (the clocks go back an hour): at "
                         f"{utc_offset(early)} and again at {utc_offset(late)}; choose a time outside that hour")
    return early


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
