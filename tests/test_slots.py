"""Posting slots (issue 27 item 3): the text people write parses into weekly rules in the account's zone; the next
free slot skips slots a post takes and days at TikTok's daily cap; a queue of posts fills the slots in order, on
SQLite and PostgreSQL alike; ``python -m tiktok slots`` sets, shows and answers the next slot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from tiktok.emulator.config import default_users
from tiktok.posting.slots import DAILY_CAP, account_free_slots, free_slots, parse, slot_times, zone_named
from tiktok.store.records import entry_key
from tiktok.text import local_zone
from tests.support.flows import link_account
from tests.support.stores import FixedClock, make_store

ROOT = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
ADA, BO = "ada-open-id", "bo-open-id"


def at(zone, *parts) -> float:
    return datetime(*parts, tzinfo=zone).timestamp()


def local(epoch: float, zone) -> datetime:
    return datetime.fromtimestamp(epoch, zone)


# -- the text ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [
    ("Mon-Fri 18:00, Sat 11:00", "Mon-Fri 18:00, Sat 11:00"),
    ("mon–fri 18:00 ,  saturday 11:00", "Mon-Fri 18:00, Sat 11:00"),
    ("18:00", "daily 18:00"),
    ("daily 9:05 21:30", "daily 09:05 21:30"),
    ("weekdays 08:00, weekends 10:00", "Mon-Fri 08:00, Sat-Sun 10:00"),
    ("Fri-Mon 20:00", "Mon Fri-Sun 20:00"),
    ("Tue Thu 07:15", "Tue Thu 07:15"),
])
def test_slots_text_reads_and_writes_back_the_same(text, canonical):
    slots = parse(text)
    assert slots.text() == canonical
    assert parse(canonical) == slots


@pytest.mark.parametrize("text, words", [
    ("", "no slots given"),
    ("Mon-Fri", "has no time"),
    ("Mon 18:00,", "slot 2 is empty"),
    ("Funday 10:00", "'Funday' is neither a day"),
    ("Mon 24:00", "'24:00' is neither a day"),
    ("Mon 18:60", "'18:60' is neither a day"),
    ("18:00 Mon", "put the days before the times"),
    ("Mo 18:00", "'Mo' is neither a day"),
])
def test_bad_slots_text_is_refused_naming_the_slot(text, words):
    with pytest.raises(ValueError, match=words):
        parse(text)


def test_an_unknown_zone_name_is_refused():
    with pytest.raises(ValueError, match="not a time zone name"):
        zone_named("Mars/Olympus")
    assert zone_named("") is timezone.utc and zone_named("Europe/Berlin") == BERLIN


def test_slot_times_follow_the_zone_across_a_dst_change():
    slots = parse("Mon-Fri 18:00, Sat 11:00")
    start = at(BERLIN, 2026, 3, 26, 12, 0)  # Thursday; Berlin moves to summer time on Sunday 29 March
    times = [local(t, BERLIN) for t in slot_times(slots, BERLIN, after=start, until=start + 8 * 86400)]
    assert [(t.strftime("%a %H:%M"), t.utcoffset()) for t in times] == [
        ("Thu 18:00", timedelta(hours=1)), ("Fri 18:00", timedelta(hours=1)), ("Sat 11:00", timedelta(hours=1)),
        ("Mon 18:00", timedelta(hours=2)), ("Tue 18:00", timedelta(hours=2)), ("Wed 18:00", timedelta(hours=2)),
        ("Thu 18:00", timedelta(hours=2))]


@settings(max_examples=60, deadline=None)
@given(days=st.sets(st.integers(0, 6), min_size=1), hour=st.integers(0, 23), minute=st.integers(0, 59),
       start=st.integers(1_700_000_000, 1_900_000_000))
def test_every_slot_time_is_on_a_chosen_day_at_the_chosen_time_and_none_is_missed(days, hour, minute, start):
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    slots = parse(" ".join(names[d] for d in sorted(days)) + f" {hour:02d}:{minute:02d}")
    times = list(slot_times(slots, BERLIN, after=start, until=start + 14 * 86400))
    assert times == sorted(set(times)) and all(start < t < start + 14 * 86400 for t in times)
    seen = {(local(t, BERLIN).date()) for t in times}
    for t in times:
        moment = local(t, BERLIN)
        assert moment.weekday() in days
        if moment.dst() == local(t - 7200, BERLIN).dst():  # not on the hour a DST change skips
            assert (moment.hour, moment.minute) == (hour, minute)
    day = local(start, BERLIN).date() + timedelta(days=1)
    while day < local(start + 13 * 86400, BERLIN).date():  # every whole day in between that is a chosen day
        assert (day in seen) == (day.weekday() in days)
        day += timedelta(days=1)


def test_free_slots_skip_taken_slots_and_full_days():
    slots = parse("daily 10:00 11:00 12:00")
    now = at(timezone.utc, 2027, 1, 4, 0, 0)
    taken = [at(timezone.utc, 2027, 1, 4, 10, 0, 30)]  # within the minute of 10:00: takes it
    got = free_slots(slots, timezone.utc, after=now, taken=lambda a, b: [t for t in taken if a <= t < b],
                     count=4, cap=2)
    assert [local(t, timezone.utc).strftime("%d %H:%M") for t in got] == ["04 11:00", "05 10:00", "05 11:00",
                                                                          "06 10:00"]


# -- a queue filling the slots, through the store --------------------------------------------------------------------

@pytest.fixture
def clock():
    return FixedClock(at(BERLIN, 2027, 1, 4, 7, 0))  # Monday 07:00 in Berlin


@pytest.fixture
def planner(store_kind, tmp_path, request, clock):
    made = make_store(store_kind, tmp_path, request, clock=clock)
    yield made.store
    made.store.close()


def add(store, user: str, n: int, due_at: float | None, **more):
    entry = {"user_id": user, "video_url": f"https://media.example.com/{user}/{n}.mp4", "description": f"post {n}",
             **more}
    return store.add(entry, key=entry_key(entry), due_at=due_at)


def test_thirty_posts_fill_two_accounts_slots_in_order_never_over_the_daily_cap(planner, clock):
    # Ada: a slot every 20 minutes from 10:00 to 21:40 in Berlin (36 a day, more than TikTok's cap allows);
    # Bo: the example from the issue, in TZ as shipped (no zone of its own).
    times = " ".join(f"{h:02d}:{m:02d}" for h in range(10, 22) for m in (0, 20, 40))
    planner.set_account_slots(ADA, parse(f"daily {times}").text(), "Europe/Berlin")
    planner.set_account_slots(BO, parse("Mon-Fri 18:00, Sat 11:00").text(), "")
    tz = local_zone()
    ada_early = add(planner, ADA, 900, at(BERLIN, 2027, 1, 4, 8, 30))  # off-slot, counts towards Monday's cap
    bo_first = add(planner, BO, 901, at(tz, 2027, 1, 4, 18, 0))  # takes Bo's first slot
    gone = add(planner, ADA, 902, at(BERLIN, 2027, 1, 4, 10, 0))
    planner.cancel(gone.id)  # a cancelled post takes no slot
    placed: dict[str, list[float]] = {ADA: [], BO: []}
    for n in range(30):
        user = ADA if n % 3 else BO  # 20 for Ada, 10 for Bo, interleaved as a person would add them
        (due,) = account_free_slots(planner, user, now=clock(), default_zone=tz)
        add(planner, user, n, due)
        placed[user].append(due)

    ada = [local(t, BERLIN) for t in placed[ADA]]
    assert ada == sorted(ada) and len(set(ada)) == 20
    monday = [t for t in ada if t.day == 4]
    assert len(monday) == DAILY_CAP - 1  # with the early post: exactly the cap on Monday, never more
    assert [t.strftime("%H:%M") for t in monday] == [f"{h:02d}:{m:02d}" for h in range(10, 15) for m in (0, 20, 40)
                                                     ][:DAILY_CAP - 1]  # 10:00 first: the cancelled post freed it
    assert [t.strftime("%d %H:%M") for t in ada if t.day != 4] == [f"05 {h:02d}:{m:02d}" for h in range(10, 12)
                                                                   for m in (0, 20, 40)]
    bo = [local(t, tz) for t in placed[BO]]
    expected, day = [], datetime(2027, 1, 5)  # Monday 18:00 was taken: Tuesday on, Sundays have no slot
    while len(expected) < 10:
        if day.weekday() < 5:
            expected.append(day.replace(hour=18))
        elif day.weekday() == 5:
            expected.append(day.replace(hour=11))
        day += timedelta(days=1)
    assert [t.replace(tzinfo=None) for t in bo] == expected
    kept = {user: planner.post_times(user, 0, 2e9) for user in (ADA, BO)}
    assert len(kept[ADA]) == 21 and len(kept[BO]) == 11  # the cancelled post is not among them
    per_day = Counter((user, local(when, BERLIN).date()) for user in kept for when in kept[user])
    assert max(per_day.values()) == DAILY_CAP
    assert ada_early.due_at in planner.post_times(ADA, 0, 2e9) and bo_first.due_at not in placed[BO]


def test_post_times_read_one_account_in_a_window(planner, clock):
    for n in range(5):
        add(planner, ADA, n, clock() + n * 3600)
        add(planner, BO, n, clock() + n * 3600 + 60)
    add(planner, ADA, 99, None)  # no time: no slot
    assert planner.post_times(ADA, clock() + 3600, clock() + 4 * 3600) == [clock() + h * 3600 for h in (1, 2, 3)]
    assert planner.account_slots(ADA) is None
    planner.set_account_slots(ADA, "Mon 10:00", "Europe/Berlin")
    planner.set_account_slots(ADA, "Tue 10:00", "")
    assert planner.account_slots(ADA) == {"slots": "Tue 10:00", "zone": ""}
    planner.set_account_slots(ADA, None)
    assert planner.account_slots(ADA) is None
    with pytest.raises(ValueError, match="has no posting slots"):
        account_free_slots(planner, ADA, now=clock(), default_zone=timezone.utc)


# -- the command -----------------------------------------------------------------------------------------------------

@pytest.fixture
def run_cli(emulator, store, oauth, tokens_path, tmp_path):
    """``python -m tiktok slots ...`` in its own process, Ada linked with her @name; the post store as shipped
    (tiktok.db beside the token file)."""
    ada = default_users()[0]
    store.put(replace(link_account(emulator.url, store, oauth, ada.open_id), username=ada.username))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tiktok", "slots", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    run.ada = ada
    return run


@pytest.mark.slow  # a process per command
def test_the_slots_command_sets_shows_and_gives_the_next_free_slot(run_cli):
    name = f"@{run_cli.ada.username}"
    shown = run_cli("show", name)
    assert shown.returncode == 0 and "no posting slots" in shown.stdout
    refused = run_cli("set", name, "Mon-Fri 25:00")
    assert refused.returncode == 2 and "'25:00' is neither a day" in refused.stderr and "nothing was changed" in \
        refused.stderr
    assert run_cli("next", name).returncode == 2
    done = run_cli("set", run_cli.ada.open_id, "mon-fri 18:00, sat 11:00", "--zone", "Europe/Berlin")
    assert done.returncode == 0, done.stderr
    assert run_cli("show", name).stdout.strip() == f"{name}: Mon-Fri 18:00, Sat 11:00 (Europe/Berlin)"
    before = datetime.now(BERLIN)
    nexts = run_cli("next", name, "--count", "3")
    assert nexts.returncode == 0, nexts.stderr
    expected, day = [], before.replace(minute=0, second=0, microsecond=0)
    day = day.replace(hour=0)
    while len(expected) < 3:
        for hour in ((18,) if day.weekday() < 5 else (11,) if day.weekday() == 5 else ()):
            moment = day.replace(hour=hour)
            if moment > before:
                expected.append(moment.strftime("%Y-%m-%d %H:%M Europe/Berlin"))
        day = (day + timedelta(days=1)).replace(hour=0)
    assert [line.split(": ", 1)[1].split(" (")[0] for line in nexts.stdout.splitlines()] == expected[:3]
    unknown = run_cli("show", "@nobody")
    assert unknown.returncode == 2 and "@nobody" in unknown.stderr
