"""The commercial content disclosure in a real browser (Playwright, Debian's Chromium), with the shipped defaults.

TikTok's content-sharing guidelines (reference 8.4; audit rejections quote them): disclosure starts off and "Your
brand" / "Branded content" start with no value; with the toggle on and nothing chosen, posting is disabled with the
hover text "You need to indicate if your content promotes yourself, a third party, or both."; branded content is
never "Only me" ("Branded content visibility cannot be set to private."); the label sentence names the post as a
photo or a video. The strings are copied here by hand, as in tests/test_disclosure_strings.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tiktok.emulator.config import default_users
from tests.test_browser_compose import ZONE, tab_in

pytestmark = pytest.mark.slow  # a real Chromium

HOVER = "You need to indicate if your content promotes yourself, a third party, or both."
BRANDED_PRIVATE = "Branded content visibility cannot be set to private."


@pytest.fixture
def browser_page(tmp_path):
    with tab_in(ZONE, tmp_path) as tab:
        yield tab


def test_disclosure_blocks_posting_until_chosen_and_keeps_branded_content_public(browser_page, serve_app,
                                                                                  tmp_path):
    page, bo = browser_page, default_users()[1]
    app = serve_app(MEDIA_DIR=str(tmp_path / "media"))
    page.goto(app.url + "/")
    page.click("#login")
    page.check(f"input[name=open_id][value='{bo.open_id}']")  # the emulator's consent page
    page.click("#authorize")
    page.wait_for_selector("#accounts")
    page.goto(f"{app.url}/posts/new?open_id={bo.open_id}")
    expect(page.locator("#creator-nickname")).to_have_text(bo.display_name)

    page.check("#source-url")  # a typed address: no upload to wait for, so only the disclosure decides
    page.fill("#video-url", "https://cdn.example.com/v.mp4")
    post = page.locator("#post-now")
    expect(post).to_be_enabled()
    assert post.get_attribute("title") is None
    assert not page.locator("#disclose").is_checked()
    assert page.locator("#disclosure-options").is_hidden()

    page.check("#disclose")
    for box in ("#your-brand", "#branded"):  # no value until the person chooses
        assert not page.locator(box).is_checked()
    expect(post).to_be_disabled()
    assert post.get_attribute("title") == HOVER  # TikTok's hover text, on the disabled button
    assert page.locator("#post-schedule").get_attribute("title") == HOVER
    expect(page.locator("#disclosure-needed")).to_be_visible()
    expect(page.locator("#disclosure-needed")).to_have_text(HOVER)
    assert page.locator("#disclosure-label").is_hidden()

    page.check("#your-brand")
    expect(post).to_be_enabled()
    assert post.get_attribute("title") is None and page.locator("#disclosure-needed").is_hidden()
    expect(page.locator("#disclosure-label")).to_have_text("Your video will be labeled as 'Promotional content'")
    page.check("#branded")
    expect(page.locator("#disclosure-label")).to_have_text("Your video will be labeled as 'Paid partnership'")
    only_me = page.locator("#privacy option[value=SELF_ONLY]")
    assert only_me.is_disabled() and only_me.get_attribute("title") == BRANDED_PRIVATE
    expect(page.locator("#privacy-branded-note")).to_have_text(BRANDED_PRIVATE)
    expect(page.locator("#privacy-branded-note")).to_be_visible()

    page.uncheck("#branded")
    page.locator("#privacy").select_option("SELF_ONLY")  # "Only me" first: branded content cannot be chosen
    assert page.locator("#branded").is_disabled() and not page.locator("#branded").is_checked()
    expect(page.locator("#branded-privacy-note")).to_be_visible()
    expect(page.locator("#branded-privacy-note")).to_have_text(BRANDED_PRIVATE)

    page.locator("#privacy").select_option("PUBLIC_TO_EVERYONE")
    page.check("#branded")
    page.check("#source-photos")  # the sentence follows what the post is
    expect(page.locator("#disclosure-label")).to_have_text("Your photo will be labeled as 'Paid partnership'")
    page.uncheck("#your-brand")
    page.uncheck("#branded")
    expect(page.locator("#post-now")).to_be_disabled()
    assert page.locator("#post-now").get_attribute("title") == HOVER
