"""Likes, bookmarks and comments in a real browser (Playwright, Debian's Chromium; issue 26, item 4): the feed's
Like and Bookmark buttons update in place through interactions.js (the page is not reloaded), the counts agree with
a fresh load, and at a phone's 390 px a thread holding a long unbroken comment and a link-like text fits without
sideways scrolling, the link shown as text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_browser_app_mode import browser_page  # noqa: F401 - the fixture: a Chromium tab
from tests.test_interactions_web import folder, page as transcript_path, save  # noqa: F401 - folder: a fixture
from tests.test_people_web import browser, sign_in
from tiktok.emulator.config import default_users

pytestmark = pytest.mark.slow  # a real Chromium

ADA = default_users()[0]


def test_like_and_bookmark_in_place_and_a_thread_fits_a_phone(browser_page, serve_app, folder):  # noqa: F811
    app = serve_app(TRANSCRIPTS_DIR=str(folder.root))
    sign_in(browser(app), ADA)  # the owner; alone, so this machine's browser is her without asking
    one = save(folder, 1)
    page = browser_page
    page.goto(app.url + "/transcripts/")
    bar = page.locator(f".interactions[data-video-id='{one.video_id}']")
    page.evaluate("window.notReloaded = true")
    bar.locator("button.like").click()
    expect(bar.locator(".count.likes")).to_have_text("1")
    expect(bar.locator("button.like")).to_have_attribute("aria-pressed", "true")
    expect(bar.locator("button.like .label")).to_have_text("Liked")
    bar.locator("button.bookmark").click()
    expect(bar.locator("button.bookmark .label")).to_have_text("Bookmarked")
    assert page.evaluate("window.notReloaded") is True  # updated in place by the script
    bar.locator("button.like").click()  # and back
    expect(bar.locator(".count.likes")).to_have_text("0")
    page.reload()
    expect(bar.locator("button.bookmark")).to_have_attribute("aria-pressed", "true")
    expect(bar.locator(".count.likes")).to_have_text("0")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app.url + transcript_path(one))
    page.fill("#comment-text", "x" * 300 + " see https://example.com/" + "a" * 200)
    page.click("#add-comment")
    expect(page.locator(".comment-text")).to_have_count(1)
    assert page.locator(".comment-text a").count() == 0  # the link is text
    page.locator(".reply-box summary").click()
    page.locator(".reply-box textarea").fill("a reply")
    page.locator(".reply-box button").click()
    expect(page.locator(".replies .comment-text")).to_have_text("a reply")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#add-comment").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
