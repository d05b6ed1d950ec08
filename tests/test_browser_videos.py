"""The Videos page in a real browser (Playwright, Debian's Chromium; issue 26, item 2): every video of the emulated
catalogue with covers loaded through the proxy; tick three, click Transcribe selected, and see them finish without
reloading the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.flows import link_account
from tests.test_browser_app_mode import browser_page  # noqa: F401 - the fixture: a Chromium tab
from tiktok.emulator.config import default_users

pytestmark = pytest.mark.slow  # a real Chromium

ADA = default_users()[0]


def test_select_three_transcribe_and_see_them_finish_without_reloading(browser_page, serve_app, emulator, store,
                                                                         oauth, tmp_path):
    page = browser_page
    link_account(emulator.url, store, oauth, ADA.open_id)
    app = serve_app(TRANSCRIPTS_DIR=str(tmp_path / "transcripts"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    page.goto(app.url + "/")
    page.click(f"tr[data-open-id='{ADA.open_id}'] a.videos")  # linked from the accounts list
    expect(page.locator(".video-card")).to_have_count(24)
    expect(page.locator("#videos-total")).to_have_attribute("data-total", "25")
    covers = page.locator(".video-card img.video-cover")
    for i in range(3):  # the first row is on screen: loaded (lazy) through /covers/, real JPEGs with a width
        expect(covers.nth(i)).to_have_js_property("complete", True)
        assert covers.nth(i).evaluate("img => img.naturalWidth") > 0
        assert covers.nth(i).get_attribute("src").startswith("/covers/")

    cards = page.locator(".video-card")
    chosen = [cards.nth(i).get_attribute("data-video-id") for i in (0, 2, 5)]
    for video_id in chosen:
        page.check(f".video-card[data-video-id='{video_id}'] input[type=checkbox]")
    page.evaluate("window.notReloaded = true")
    page.click("#transcribe-selected")
    expect(page.locator("#videos-said")).to_contain_text("3 videos queued")
    for video_id in chosen:
        card = page.locator(f".video-card[data-video-id='{video_id}']")
        expect(card).to_have_attribute("data-state", "done", timeout=120_000)
        expect(card.locator(".video-state a")).to_have_text("Transcribed")
    assert page.evaluate("window.notReloaded") is True  # the same page, updated by its script
    assert page.locator(".video-card[data-state='done']").count() == 3
    page.locator(f".video-card[data-video-id='{chosen[0]}'] .video-state a").click()
    expect(page).to_have_url(f"{app.url}/transcripts/{ADA.open_id}/{chosen[0]}/")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing cut off, no sideways scrolling
    page.goto(f"{app.url}/videos/{ADA.open_id}/")
    expect(page.locator(".video-card").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#transcribe-selected").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
