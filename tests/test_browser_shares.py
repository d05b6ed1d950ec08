"""Share and copy in Debian's Chromium (issue 26 item 5), the app as shipped against the TikTok emulator: the owner,
on a phone-wide page, presses "Copy text" and gets the transcript on the clipboard, makes a share link and "Copy
link" puts its address there; a fresh browser context opens the address and loads only that page, its static assets
and its cover (no other address of the app is asked for, no cookie is set); where the Clipboard API is missing "Copy
text" still selects the text; the owner revokes the link and the fresh context's reload says it is not found."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_browser_uploads import chromium  # noqa: F401  (the fixture: one headless Chromium)
from tests.test_people_web import browser, sign_in
from tests.test_shares import ADA, SHARED_ID, SHARED_TEXT, page_of, transcripts_dir  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow  # a real Chromium

NO_CLIPBOARD = "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"


def test_copy_share_open_in_a_fresh_context_and_revoke(chromium, serve_app, transcripts_dir):  # noqa: F811
    app = serve_app(TRANSCRIPTS_DIR=str(transcripts_dir))
    sign_in(browser(app), ADA)  # the owner; alone, so this machine's browser is let in as them
    owner = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # a phone
    owner.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = owner.new_page()
    page.set_default_timeout(20_000)
    page.goto(app.url + page_of())
    page.click("#copy")
    expect(page.locator("#copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == SHARED_TEXT

    page.click("#make-share")
    page.wait_for_selector("#new-share-url")
    address = page.input_value("#new-share-url")
    assert address.startswith(app.url + "/s/")
    page.click("#copy-link")
    expect(page.locator("#copy-link")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == address
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390  # the share section fits a phone

    stranger = chromium.new_context()  # a fresh browser: no cookie, nothing in common with the owner's
    asked: list[str] = []
    shared = stranger.new_page()
    shared.set_default_timeout(20_000)
    shared.on("request", lambda request: asked.append(request.url))
    answer = shared.goto(address)
    assert answer.status == 200 and shared.locator("#transcript-text").inner_text() == SHARED_TEXT
    assert shared.locator("header, nav, form").count() == 0
    shared.wait_for_load_state("load")
    assert shared.locator("#cover").evaluate("img => img.complete && img.naturalWidth") > 0  # cover or placeholder
    assert asked and all(url.startswith((address, app.url + "/assets/")) for url in asked), asked
    assert stranger.cookies() == []
    with shared.expect_download() as download:
        shared.click("#download-txt")
    assert download.value.suggested_filename == f"{SHARED_ID}.txt"

    fallback = chromium.new_context()  # plain http on a LAN address has no Clipboard API
    fallback.add_init_script(NO_CLIPBOARD)
    bare = fallback.new_page()
    bare.set_default_timeout(20_000)
    bare.goto(address)
    assert bare.evaluate("navigator.clipboard") is None
    bare.click("#copy")
    expect(bare.locator("#copy")).to_have_attribute("data-copied", re.compile("yes|selected"))
    assert bare.evaluate("window.getSelection().toString()") == SHARED_TEXT  # selected for the person's Ctrl+C

    page.goto(app.url + page_of())
    page.once("dialog", lambda dialog: dialog.accept())  # "Revoke this share link?"
    page.click("#share-list button.danger")
    page.wait_for_selector("text=The share link is revoked")
    gone = shared.reload()
    assert gone.status == 404 and shared.locator("#share-missing").count() == 1
    assert SHARED_TEXT not in shared.content()
    for context in (owner, stranger, fallback):
        context.close()
