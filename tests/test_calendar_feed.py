"""The calendar feed (issue 27 item 4): ``/calendar/feed/<token>.ics`` over real HTTP lists every scheduled post
once (account, caption, time in UTC, a UID that stays when the post moves), parses back with icalendar, opens
without the app's password, and answers 404 for a revoked, replaced or made-up token; the store keeps only a hash."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from icalendar import Calendar

from tiktok.emulator.config import default_users
from tiktok.logs import redact
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parent.parent
ADA = default_users()[0]
CAPTIONS = ["Pasta in 60 seconds", "Ümlauts, commas; and \"quotes\"\nover two lines", "#fyp 🍝 night special"]


def add(store, n: int, due_at: float | None, caption: str = "a caption"):
    entry = {"user_id": ADA.open_id, "video_url": f"https://media.example.com/{n}.mp4", "title": caption}
    return store.add(entry, key=entry_key(entry), due_at=due_at)


@pytest.fixture
def planned(emulator, store, oauth, tokens_path):
    """Ada linked with her @name, and the post store as shipped (tiktok.db beside the token file)."""
    store.put(replace(link_account(emulator.url, store, oauth, ADA.open_id), username=ADA.username))
    posts = open_sqlite(tokens_path.parent / "tiktok.db")
    yield posts
    posts.close()


@pytest.fixture
def slots_cli(emulator, tokens_path, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path)}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "tiktok", "slots", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    return run


def status(url: str) -> int:
    """The answer's status alone: a failing assertion never shows the secret address."""
    return requests.get(url, timeout=10).status_code


def feed_address(output: str) -> str:
    (line,) = [line for line in output.splitlines() if "/calendar/feed/" in line]
    return line[line.index("/calendar/feed/"):].strip()


def events(text: bytes) -> dict[str, dict]:
    cal = Calendar.from_ical(text)
    found = [c for c in cal.walk("VEVENT")]
    uids = [str(c["uid"]) for c in found]
    assert len(uids) == len(set(uids)), "a post listed twice"
    return {str(c["uid"]): {"start": c.decoded("dtstart"), "summary": str(c["summary"]),
                            "description": str(c["description"])} for c in found}


@pytest.mark.slow  # a process per command
def test_the_feed_lists_every_scheduled_post_once_and_a_revoked_token_answers_404(serve_app, planned, slots_cli):
    app = serve_app()  # as shipped: no APP_PASSWORD
    now = app.clock()
    scheduled = [add(planned, n, now + 3600 * (n + 1) + 0.5, caption) for n, caption in enumerate(CAPTIONS)]
    add(planned, 10, None)                           # no time: not on a calendar
    planned.cancel(add(planned, 11, now + 900).id)   # cancelled: gone from the schedule
    assert status(app.url + "/calendar/feed/made-up.ics") == 404  # no feed yet

    address = feed_address(slots_cli("feed", "--new").stdout)
    token = address.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43  # 256 bits
    assert planned.feed_token_digest() == hashlib.sha256(token.encode()).hexdigest()  # only its hash is kept
    answer = requests.get(app.url + address, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/calendar")
    listed = events(answer.content)
    assert set(listed) == {f"post-{post.id}@tiktok-tool.invalid" for post in scheduled}
    for post, caption in zip(scheduled, CAPTIONS):
        event = listed[f"post-{post.id}@tiktok-tool.invalid"]
        assert event["start"] == datetime.fromtimestamp(int(post.due_at), timezone.utc)
        assert event["start"].tzinfo is not None and event["start"].utcoffset().total_seconds() == 0
        assert event["summary"] == f"@{ADA.username}: {caption}" and caption in event["description"]

    moved = planned.edit(scheduled[0].id, scheduled[0].entry, due_at=now + 86400, revision=scheduled[0].revision)
    again = events(requests.get(app.url + address, timeout=10).content)
    assert set(again) == set(listed)  # the same UIDs: a calendar app moves the event
    assert again[f"post-{moved.id}@tiktok-tool.invalid"]["start"] == datetime.fromtimestamp(int(now + 86400),
                                                                                           timezone.utc)

    newer = feed_address(slots_cli("feed", "--new").stdout)
    assert status(app.url + address) == 404  # the one before stops working
    assert status(app.url + newer) == 200
    assert "revoked" in slots_cli("feed", "--revoke").stdout
    assert status(app.url + newer) == 404
    assert planned.feed_token_digest() is None
    assert token not in redact(f'127.0.0.1 - - "GET {address} HTTP/1.1" 200 -')  # request logs never show it


def test_the_feed_opens_without_the_apps_password_but_only_with_its_token(serve_app, planned):
    from tiktok.web.calendar_feed import new_feed_token

    app = serve_app(APP_PASSWORD="correct horse battery staple 42")  # the case the default cannot show
    add(planned, 1, app.clock() + 3600, CAPTIONS[0])
    token = new_feed_token(planned)
    assert requests.get(app.url + "/posts/", timeout=10, allow_redirects=False).status_code in (302, 303, 401)
    answer = requests.get(f"{app.url}/calendar/feed/{token}.ics", timeout=10)
    assert answer.status_code == 200 and len(events(answer.content)) == 1
    assert status(f"{app.url}/calendar/feed/{token[:-1]}x.ics") == 404
