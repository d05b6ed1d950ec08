"""Import takes posting slots and warns about TikTok's daily cap (issue 27, item 2), as a person runs it: ``python -m
tiktok slots set`` and ``python -m tiktok import`` in their own processes against the emulator, with the settings as
shipped. A row with ``post_at`` = ``next`` (or ``slot`` = yes) takes its account's next free slot, an account's rows
fill its slots in file order after what is already scheduled, a second import adds nothing and moves nothing, and a
day over TikTok's cap is a warning in the dry run, not an error."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.posting.budget import DAILY_DIRECT_POSTS
from tiktok.posting.slots import parse, slot_times
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parent.parent
ADA, BO, CY = default_users()[:3]
SCOPES = ("user.info.basic", "video.publish", "video.upload")
SLOTS = "daily 09:00 12:00 15:00"
COLUMNS = ["account", "caption", "media", "post_at", "privacy", "slot"]


def run(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


def row(user, n: int, post_at: str = "", slot: str = "") -> dict[str, str]:
    return {"account": f"@{user.username}", "caption": f"{user.username} {n}",
            "media": f"https://cdn.example.com/{user.username}/{n}.mp4", "post_at": post_at, "privacy": "SELF_ONLY",
            "slot": slot}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue())
    return path


@pytest.fixture
def folder(tmp_path, emulator) -> Path:
    tokens = TokenStore(tmp_path / "user_tokens.json")
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for user in (ADA, BO, CY):
        account = link_account(emulator.url, tokens, oauth, user.open_id, scopes=SCOPES)
        tokens.put(replace(account, username=user.username))
    return tmp_path


@pytest.mark.slow
def test_next_rows_fill_each_accounts_slots_in_order_and_a_full_day_is_a_warning(folder, emulator):
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(folder / "user_tokens.json")}
    for user in (ADA, BO):
        done = run(folder, env, "slots", "set", f"@{user.username}", SLOTS, "--zone", "UTC")
        assert done.returncode == 0, done.stderr
    now = time.time()
    expected = [at for _, at in zip(range(8), slot_times(parse(SLOTS), timezone.utc, after=now + 5,
                                                         until=now + 30 * 86400))]
    store = open_sqlite(folder / "tiktok.db")
    taken = {"user_id": ADA.open_id, "video_url": "https://cdn.example.com/early.mp4", "description": "early"}
    store.add(taken, key=entry_key(taken), due_at=expected[0])  # Ada's first slot is already taken
    busy_day = datetime.fromtimestamp(now, timezone.utc).date() + timedelta(days=10)
    at_noon = datetime(busy_day.year, busy_day.month, busy_day.day, 12, tzinfo=timezone.utc)
    rows = ([row(ADA, n, post_at="next") for n in range(3)] + [row(BO, 0, post_at="NEXT")]
            + [row(ADA, 3, slot="yes"), row(BO, 1, slot="yes")]
            + [row(BO, 10 + n, post_at=(at_noon + timedelta(minutes=n)).isoformat()) for n in
               range(DAILY_DIRECT_POSTS + 1)]  # one over TikTok's cap on Bo's busy day
            + [row(CY, 0, post_at="next"), row(ADA, 4, post_at="2027-01-01T09:00:00Z", slot="yes")])
    plan = write_csv(folder / "plan.csv", rows)

    dry = run(folder, env, "import", str(plan), "--dry-run")
    lines = dry.stdout.splitlines()
    assert dry.returncode == 2, dry.stdout + dry.stderr  # two bad rows (below); the cap is a warning only
    warnings = [line for line in lines if line.startswith("[emulator] warning:")]
    assert len(warnings) == 1 and f"row {2 + 6 + DAILY_DIRECT_POSTS}, column \"post_at\"" in warnings[0]
    assert f"{busy_day} would have {DAILY_DIRECT_POSTS + 1} posts" in warnings[0]
    assert f"over TikTok's cap of {DAILY_DIRECT_POSTS} Direct Posts a day" in warnings[0]
    bad = [line for line in lines if line.startswith("[emulator] error:")]
    assert len(bad) == 2, dry.stdout
    assert f'row {len(rows)}, column "post_at": next: this account has no posting slots' in bad[0]  # Cy
    assert f'row {len(rows) + 1}, column "slot": yes, but post_at gives a time' in bad[1]
    assert "dry run: nothing was saved" in dry.stdout
    assert store.post_times(ADA.open_id, 0, 2e9) == [expected[0]]  # nothing saved

    real = run(folder, env, "import", str(plan))
    assert real.returncode == 2 and "saved 22 new post(s)" in real.stdout, real.stdout + real.stderr
    ada = store.post_times(ADA.open_id, 0, 2e9)
    assert ada == expected[:5]  # the taken slot, then the four rows in file order
    by_caption = {p.entry["description"]: p.due_at for p in store.every_post() if p.entry}
    assert [by_caption[f"{ADA.username} {n}"] for n in range(4)] == expected[1:5]
    assert [by_caption[f"{BO.username} {n}"] for n in range(2)] == expected[:2]  # Bo's own first two slots

    again = run(folder, env, "import", str(plan))
    assert "saved 0 new post(s)" in again.stdout, again.stdout + again.stderr
    assert store.post_times(ADA.open_id, 0, 2e9) == ada  # kept their slots: nothing moved
    assert {p.entry["description"]: p.due_at for p in store.every_post() if p.entry} == by_caption
    store.close()
