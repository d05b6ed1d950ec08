"""Posting slots and the calendar feed in the app, over real loopback HTTP (issue 27 items 3 and 4): slots set on
the Slots page, the composer's "Add to next free slot" queueing posts on them in order, an account without slots
refused with nothing added, and the feed's address made on the page, shown once, and revoked to a 404."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from tests.test_composer_web import ADA, BO, clip, composer, valid_form  # noqa: F401 - fixtures used here

BERLIN = ZoneInfo("Europe/Berlin")


def slots_after(now: float, count: int) -> list[float]:
    """Daily 06:00 and 18:00 in Berlin after ``now``, worked out by hand."""
    found, day = [], datetime.fromtimestamp(now, BERLIN).date()
    while len(found) < count:
        for hour in (6, 18):
            at = datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN).timestamp()
            if at > now and len(found) < count:
                found.append(at)
        day += timedelta(days=1)
    return found


def test_add_to_next_free_slot_fills_the_slots_set_on_the_page_in_order(composer, clip):
    saved = composer.web.http.post(f"{composer.web.url}/slots/{ADA}", timeout=15, allow_redirects=False, data={
        "csrf": composer.csrf(), "slots": "daily 18:00 06:00", "zone": "Europe/Berlin"})
    assert saved.status_code == 302
    page = composer.web.get("/slots/").text
    assert 'value="daily 06:00 18:00"' in page and 'value="Europe/Berlin"' in page
    media = composer.upload(clip).json()["media_id"]
    now = composer.served.clock()
    for n in range(3):
        answer = composer.post(**valid_form(media, action="slot", description=f"Loaf {n}"))
        assert answer.status_code == 302, html.unescape(answer.text)[:2000]
    posts = sorted(composer.posts(), key=lambda p: p.id)
    assert [p.due_at for p in posts] == slots_after(now, 3)
    assert all(p.entry["post_at"].endswith("+00:00") and p.state == "queued" for p in posts)

    before = composer.state()
    refused = composer.post(**valid_form(media, open_id=BO, action="slot", description="No slots"))
    assert refused.status_code == 400 and "has no posting slots" in html.unescape(refused.text)
    assert composer.state() == before  # nothing added


def test_the_feed_address_is_made_on_the_page_shown_once_and_revoked(composer):
    made = composer.web.http.post(f"{composer.web.url}/slots/feed", timeout=15,
                                  data={"csrf": composer.csrf(), "action": "new"})
    assert made.status_code == 200
    address = re.search(r"<code>(http://[^<]+/calendar/feed/[^<]+\.ics)</code>", made.text).group(1)
    assert requests.get(address, timeout=10).status_code == 200
    again = composer.web.get("/slots/").text
    assert "/calendar/feed/" not in again and "The feed is on." in again  # shown only on the answer
    revoked = composer.web.http.post(f"{composer.web.url}/slots/feed", timeout=15, allow_redirects=False,
                                     data={"csrf": composer.csrf(), "action": "revoke"})
    assert revoked.status_code == 302
    assert requests.get(address, timeout=10).status_code == 404
    assert "There is no feed." in composer.web.get("/slots/").text
