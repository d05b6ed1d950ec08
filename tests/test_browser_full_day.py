"""The composer's warning shows BEFORE Schedule is pressed (issue 27, item 5), in Debian's Chromium (Playwright),
with the shipped settings.

Ada's day three days on already holds TikTok's daily cap of her posts. A person uploads a real MP4, picks a time on a
day with room (no warning), then one on the full day: the page asks ``/posts/new/day`` and shows, next to Schedule,
that the day already has 15 posts and that TikTok refuses more, with a “Schedule anyway” box, while the store still
holds the 15 (nothing was sent). Pressing Schedule without the box is answered with the form again and nothing is
added; ticking it adds the post, and the Posts page warns that the day is over the cap.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tiktok.posting.budget import DAILY_DIRECT_POSTS
from tests.test_browser_compose import tab_in
from tests.test_compose_full_day import fill, local_day, noon_in_three_days
from tests.test_composer_web import ADA, clip, composer  # noqa: F401 - fixtures used here

pytestmark = pytest.mark.slow  # a real Chromium


def test_picking_a_full_day_shows_the_warning_before_schedule(composer, clip, tmp_path):
    day = noon_in_three_days(composer)
    fill(composer.store, day, DAILY_DIRECT_POSTS)
    with tab_in("UTC", tmp_path) as page:  # noon UTC: one calendar day in the machine's zone (as shipped)
        page.goto(f"{composer.served.url}/posts/new?open_id={ADA}")
        warning = page.locator("#day-warning")
        expect(warning).to_be_hidden()
        page.set_input_files("#video-file", str(clip))
        expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")
        page.fill("#description", "One more loaf")
        page.select_option("#privacy", "SELF_ONLY")

        with page.expect_response(lambda r: "/posts/new/day?" in r.url) as asked:
            page.fill("#post-at", (day + timedelta(days=1, minutes=30)).strftime("%Y-%m-%dT%H:%M"))
        assert asked.value.json()["count"] == 0
        expect(warning).to_be_hidden()  # a day with room: nothing to say

        at = day + timedelta(minutes=30)
        page.fill("#post-at", at.strftime("%Y-%m-%dT%H:%M"))
        expect(warning).to_be_visible()
        text = page.locator("#day-warning-text").inner_text()
        assert text.startswith(f"That day ({local_day(at)}) already has {DAILY_DIRECT_POSTS} posts for ")
        assert f"TikTok refuses more than {DAILY_DIRECT_POSTS} Direct Posts in 24 hours" in text
        expect(page.locator("#full-day-ok")).not_to_be_checked()
        assert len(composer.posts()) == DAILY_DIRECT_POSTS  # seen before anything was sent

        page.click("#post-schedule")  # without the box: the form again, the warning by the button, nothing added
        expect(page.locator("#compose-errors")).to_be_visible()
        expect(warning).to_be_visible()
        assert len(composer.posts()) == DAILY_DIRECT_POSTS
        expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")  # the upload is kept

        page.check("#full-day-ok")
        page.click("#post-schedule")
        page.wait_for_selector("#board")
        assert len(composer.posts()) == DAILY_DIRECT_POSTS + 1
        expect(page.locator(".flash-warning")).to_contain_text(
            f"now has {DAILY_DIRECT_POSTS + 1} posts scheduled on {local_day(at)}")
