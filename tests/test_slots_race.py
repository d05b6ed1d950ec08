"""Two "next free slot" adds at the same moment never take the same slot (issue 27, item 3): the pick and the add
are one write transaction of the store (tiktok.posting.slots.add_in_next_slot, PlannerQueries.add_in_slot), proved
with real processes started together on SQLite and on PostgreSQL; and the control: picking then adding in two
steps, as before, does give two posts one slot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tiktok.posting.slots import DAILY_CAP, add_in_next_slot, parse
from tiktok.store.records import entry_key
from tests.support.stores import FixedClock, KINDS, make_store

ROOT = Path(__file__).resolve().parent.parent
ADA = "ada-open-id"
NOW = datetime(2027, 1, 4, 7, 0, tzinfo=timezone.utc).timestamp()  # a Monday morning, before the first slot
PROCESSES, ADDS = 2, 10
SLOTS = "daily 08:00 09:00 10:00 11:00 12:00"  # five a day: the twenty adds spread over four days

# One adder: waits for the start file, then makes ADDS posts at the account's next free slot and prints their times.
ADDER = textwrap.dedent("""
    import json, os, sys, time
    from datetime import timezone
    from pathlib import Path
    from tiktok.posting.slots import account_free_slots, add_in_next_slot
    from tiktok.store.records import entry_key

    name, start, now, adds, mode = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    if os.environ.get("DATABASE_URL"):
        from tiktok.store.postgres import open_postgres
        store = open_postgres(os.environ["DATABASE_URL"])
    else:
        from tiktok.store.sqlite import open_sqlite
        store = open_sqlite(Path(os.environ["STORE_FILE"]))
    store.post_times("ada-open-id", 0, 1)  # connected before the start
    print("ready", flush=True)
    while not start.exists():
        time.sleep(0.001)
    times = []
    for n in range(adds):
        entry = {"user_id": "ada-open-id", "video_url": f"https://media.example.com/{name}/{n}.mp4",
                 "description": f"{name} {n}"}
        if mode == "one":
            post = add_in_next_slot(store, "ada-open-id", lambda at: (entry, entry_key(entry)), now=now,
                                    default_zone=timezone.utc)
        else:  # the control: pick, then add, two transactions
            (at,) = account_free_slots(store, "ada-open-id", now=now, default_zone=timezone.utc)
            time.sleep(0.02)  # the gap between the two steps that a busy app has anyway
            post = store.add(entry, key=entry_key(entry), due_at=at)
        times.append(post.due_at)
    print(json.dumps(times), flush=True)
""")


def race(made, tmp_path: Path, mode: str) -> list[float]:
    """PROCESSES adders started together on the store ``made``; every slot time they were given."""
    start = tmp_path / f"start-{mode}"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **made.env}
    adders = [subprocess.Popen([sys.executable, "-c", ADDER, f"p{n}", str(start), str(NOW), str(ADDS), mode],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for n in range(PROCESSES)]
    for adder in adders:
        assert adder.stdout.readline().strip() == "ready", adder.stderr.read()
    start.touch()  # all go at once
    given = []
    for adder in adders:
        out, err = adder.communicate(timeout=120)
        assert adder.returncode == 0, err
        given.extend(json.loads(out.strip().splitlines()[-1]))
    return given


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_two_processes_adding_to_the_next_free_slot_at_once_take_twenty_distinct_slots(kind, tmp_path, request):
    made = make_store(kind, tmp_path, request)
    made.store.set_account_slots(ADA, parse(SLOTS).text(), "UTC")
    given = race(made, tmp_path, "one")
    kept = made.store.post_times(ADA, 0, 2e9)
    assert len(given) == PROCESSES * ADDS and len(set(given)) == PROCESSES * ADDS  # 20 distinct slots
    assert sorted(given) == kept  # what each was told is what the store holds
    days = Counter(datetime.fromtimestamp(t, timezone.utc).date() for t in kept)
    assert sorted(days.values()) == [5, 5, 5, 5]  # the first twenty slots after now, in order: none skipped
    assert min(kept) == NOW + 3600  # Monday 08:00 first
    made.store.close()


@pytest.mark.slow
def test_the_control_picking_then_adding_in_two_steps_gives_two_posts_one_slot(tmp_path, request):
    made = make_store("sqlite", tmp_path, request)
    made.store.set_account_slots(ADA, parse(SLOTS).text(), "UTC")
    given = race(made, tmp_path, "two")
    assert len(given) == PROCESSES * ADDS and len(set(given)) < len(given)  # the race this change closes
    made.store.close()


def test_no_free_slot_adds_nothing(tmp_path, request):
    made = make_store("sqlite", tmp_path, request, clock=FixedClock(NOW))
    store = made.store
    entry = {"user_id": ADA, "video_url": "https://media.example.com/a.mp4", "description": "no slots yet"}
    with pytest.raises(ValueError, match="has no posting slots"):
        add_in_next_slot(store, ADA, lambda at: (entry, entry_key(entry)), now=NOW, default_zone=timezone.utc)
    store.set_account_slots(ADA, parse("daily 08:00").text(), "UTC")
    refused = {"user_id": ADA, "video_url": "https://media.example.com/b.mp4", "description": "refused"}

    def none_free(taken):  # a pick that finds nothing: the transaction adds nothing
        raise ValueError("has no free slot")

    with pytest.raises(ValueError):
        store.add_in_slot(ADA, none_free, lambda at: (refused, entry_key(refused)))
    assert store.post_times(ADA, 0, 2e9) == []
    post = add_in_next_slot(store, ADA, lambda at: (entry, entry_key(entry)), now=NOW, default_zone=timezone.utc)
    assert post.due_at == NOW + 3600 and store.post_times(ADA, 0, 2e9) == [NOW + 3600]
    assert DAILY_CAP == 15  # the budget's figure (tiktok.posting.budget.DAILY_DIRECT_POSTS), one constant
    store.close()
