"""The composer warns when a post it schedules puts its account's day over TikTok's daily cap (issue 27, items 2 and
5): the post is added (a warning, not a refusal) and the Posts page says how many posts that day holds and the cap,
over real loopback HTTP; one post fewer says nothing."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pytest

from tiktok.posting.budget import DAILY_DIRECT_POSTS
from tiktok.store.records import entry_key
from tests.test_composer_web import ADA, clip, composer, valid_form  # noqa: F401 - fixtures used here


def fill(store, day: datetime, count: int) -> None:
    for n in range(count):
        entry = {"user_id": ADA, "video_url": f"https://cdn.example.com/{n}.mp4", "description": f"filler {n}"}
        store.add(entry, key=entry_key(entry), due_at=(day + timedelta(minutes=n)).timestamp())


@pytest.mark.parametrize("already, warned", [(DAILY_DIRECT_POSTS, True), (DAILY_DIRECT_POSTS - 1, False)])
def test_scheduling_onto_a_full_day_adds_the_post_and_warns(composer, clip, already, warned):
    # TZ as shipped (the day is counted in the machine's zone): noon UTC three days on, and every post within
    # the half hour after it, fall on one calendar day in any zone but those 12 hours or more from UTC
    now = datetime.fromtimestamp(composer.served.clock(), timezone.utc)
    day = (now + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    fill(composer.store, day, already)
    media = composer.upload(clip).json()["media_id"]
    at = day + timedelta(minutes=30)
    answer = composer.post(**valid_form(media, action="schedule", description="One more", zone="UTC",
                                        post_at_local=at.strftime("%Y-%m-%dT%H:%M")))
    assert answer.status_code == 302, html.unescape(answer.text)[:2000]
    assert len(composer.posts()) == already + 1  # added either way
    page = html.unescape(composer.web.get("/posts/").text)
    said = f"now has {already + 1} posts scheduled on {at.date()}, more than TikTok's cap of {DAILY_DIRECT_POSTS}"
    assert (said in page) is warned
    assert ('class="flash flash-warning"' in page) is warned
