"""A person composes and schedules a post in a real browser (Playwright, Debian's Chromium) and watches it go out.

Logs in through the emulator's consent page as Bo (public account; TikTok disables stitches for him), uploads a real
MP4 from disk in the composer, sees that privacy has no default and that the disabled toggle is disabled, schedules
the post 2 s ahead in the browser's own time zone, and lets the app's runner post it. The Posts page, left open
and never reloaded, shows it under review and then posted with its link once the emulator's moderation delay has
passed. The emulator then holds exactly one post, with the file's sha256.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect, sync_playwright

from tiktok.emulator.config import default_users
from tests.media_fixtures import make_video
from tests.support.posting import sha256_file
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

ZONE = "Asia/Kolkata"  # +05:30: an offset a server in UTC would get wrong if it ignored the browser's
MODERATION_S = 3.0


@pytest.fixture
def browser_page(tmp_path):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(timezone_id=ZONE)
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        yield tab
        tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        browser.close()


def test_compose_schedule_and_see_it_posted_with_its_link(browser_page, serve_app, remote, tmp_path):
    page, bo = browser_page, default_users()[1]
    remote.set_moderation(delay_s=MODERATION_S)
    manifest = tmp_path / "videos_to_upload.json"
    app = serve_app(MANIFEST_FILE=str(manifest), MEDIA_DIR=str(tmp_path / "media"), QUEUE_TICK_S="0.5")
    video = make_video(tmp_path / "holiday.mp4", seconds=3.0)

    page.goto(app.url + "/")
    page.click("#login")
    page.check(f"input[name=open_id][value='{bo.open_id}']")  # the emulator's consent page
    page.click("#authorize")
    page.wait_for_selector("#accounts")

    page.click("#nav-posts")
    page.click("#new-post")
    expect(page.locator("#creator-nickname")).to_have_text(bo.display_name)
    assert page.locator("#compose-emulated").is_visible()
    privacy = page.locator("#privacy")
    assert privacy.input_value() == ""  # no default: the person must choose
    assert privacy.locator("option:checked").inner_text().strip().startswith("Choose")
    for box in ("#allow-comment", "#allow-duet", "#allow-stitch"):
        assert not page.locator(box).is_checked()  # interactions start unticked
    assert page.locator("#allow-stitch").is_disabled()  # TikTok disables stitches for Bo
    assert page.locator("#allow-comment").is_enabled() and page.locator("#allow-duet").is_enabled()
    assert not page.locator("#disclose").is_checked()
    assert "music" in page.locator("#consent-text").inner_text().lower()

    page.set_input_files("#video-file", str(video))
    expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")
    assert page.locator("#preview").get_attribute("src")
    page.fill("#description", "Sunset over the bay")
    page.fill("#tags", "travel, #sunset")
    expect(page.locator("#caption-count")).to_have_text(str(len("Sunset over the bay #travel #sunset")))
    privacy.select_option("PUBLIC_TO_EVERYONE")
    page.check("#allow-comment")

    when = datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=2)
    page.fill("#post-at", when.strftime("%Y-%m-%dT%H:%M:%S"))
    page.click("#post-schedule")
    page.wait_for_selector("#board")
    (entry,) = json.loads(manifest.read_text())
    assert entry["post_at"].endswith("+05:30") and entry["privacy"] == "PUBLIC_TO_EVERYONE"
    assert (entry["disable_comment"], entry["disable_duet"], entry["disable_stitch"]) == (False, True, True)
    assert abs(datetime.fromisoformat(entry["post_at"]).timestamp() - when.timestamp()) < 1.5

    card = page.locator("article.post-card").first
    expect(card).to_have_attribute("data-state", "under_review", timeout=30_000)  # published, id held back
    expect(card).to_have_attribute("data-state", "posted", timeout=30_000)  # the page follows by itself
    link = card.locator(".post-link")
    expect(link).to_have_text("View on the emulator")
    assert link.get_attribute("href").startswith(remote.base_url + f"/@{bo.username}/video/")
    assert "tiktok.com" not in card.inner_html()
    assert int(page.locator("#board").get_attribute("data-updates") or "0") >= 1  # updated without a reload

    (post,) = remote.state()["posts"]
    assert post["sha256"] == sha256_file(video) and post["status"] == "PUBLISH_COMPLETE"
    assert post["privacy_level"] == "PUBLIC_TO_EVERYONE" and post["post_info"]["disable_stitch"] is True
    assert post["created_at"] >= datetime.fromisoformat(entry["post_at"]).timestamp() - 0.001
