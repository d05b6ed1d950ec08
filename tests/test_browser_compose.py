"""A person composes and schedules a post in a real browser (Playwright, Debian's Chromium) and watches it go out.

Logs in through the emulator's consent page as Bo (public account; TikTok disables stitches for him), uploads a real
MP4 from disk in the composer, sees that privacy has no default and that the disabled toggle is disabled, schedules
the post 2 s ahead in the browser's own time zone (Australia/Adelaide, while the server runs in UTC), and lets the
app's runner post it. The post store holds it at that instant under the file's own name. The Posts page, left open
and never reloaded, shows its time in the browser's zone with the zone named (times.js), then the post under review
and posted with its link once the emulator's moderation delay has passed. The emulator then holds exactly one
post, with the file's sha256.

A second person, in Berlin, reschedules and edits a post: a time Berlin skips or repeats at a daylight-saving change
is refused in the browser before anything is sent, a real one is stored as that instant, and the edit form shows
the stored instant in Berlin's time and keeps it when only the caption changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tiktok import text
from tiktok.emulator.config import default_users
from tiktok.web.post_store import store_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import sha256_file
from tests.support.queue_workers import queue_post
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.slow  # a real Chromium

# +10:30 in its summer, +09:30 in its winter: offsets a server in UTC would get wrong if it ignored the browser's
# zone. (Chromium calls Asia/Kolkata "Asia/Calcutta"; Adelaide has one name in the browser and in Python.)
ZONE = "Australia/Adelaide"
MODERATION_S = 3.0


@contextmanager
def tab_in(zone: str, folder: Path) -> Iterator[Page]:
    """A Chromium tab whose clock is in ``zone``; its last screen is kept in ``folder`` for a failing test."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_context(timezone_id=zone, locale="en-GB").new_page()
            tab.set_default_timeout(20_000)
            yield tab
            tab.screenshot(path=str(folder / "last.png"), full_page=True)
        finally:
            browser.close()


@pytest.fixture
def browser_page(tmp_path):
    with tab_in(ZONE, tmp_path) as tab:
        yield tab


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
    (stored,) = store_of(app.flask_app).every_post()
    entry = stored.entry
    offset = when.strftime("%z")
    assert entry["post_at"].endswith(f"{offset[:3]}:{offset[3:]}") and entry["privacy"] == "PUBLIC_TO_EVERYONE"
    assert (entry["disable_comment"], entry["disable_duet"], entry["disable_stitch"]) == (False, True, True)
    assert abs(stored.due_at - when.timestamp()) < 1.5 and stored.media_name == "holiday.mp4"
    assert not manifest.exists()  # the composer adds to the store, never to a manifest

    card = page.locator(f"article.post-card[data-id='{stored.id}']")
    expect(card.locator(".media-name")).to_have_text("holiday.mp4")
    moment = card.locator("time.moment")
    expect(moment).to_have_attribute("data-zone", ZONE)  # times.js showed it in the browser's zone
    shown = moment.inner_text()
    assert shown.endswith(f"({ZONE})") and when.strftime("%H:%M") in shown and when.strftime("%-d %b") in shown, shown
    assert moment.get_attribute("title") == text.moment(stored.due_at)  # the server's own reading, for a tooltip
    expect(page.locator("#zone-name")).to_have_text(f"({ZONE})")
    flash_time = page.locator(".flash-ok time.moment")  # "scheduled for ..." in the flash, in the same zone
    expect(flash_time).to_have_attribute("data-zone", ZONE)

    expect(card).to_have_attribute("data-state", "under_review", timeout=30_000)  # published, id held back
    expect(card).to_have_attribute("data-state", "posted", timeout=30_000)  # the page follows by itself
    link = card.locator(".post-link")
    expect(link).to_have_text("View on the emulator")
    assert link.get_attribute("href").startswith(remote.base_url + f"/@{bo.username}/video/")
    assert "tiktok.com" not in card.inner_html()
    assert card.locator("xpath=ancestor::section").get_attribute("data-group") == "done"
    expect(card.locator("time.moment")).to_have_attribute("data-zone", ZONE)  # a card sent by the board, too
    assert int(page.locator("#board").get_attribute("data-updates") or "0") >= 1  # updated without a reload

    (post,) = remote.state()["posts"]
    assert post["sha256"] == sha256_file(video) and post["status"] == "PUBLISH_COMPLETE"
    assert post["privacy_level"] == "PUBLIC_TO_EVERYONE" and post["post_info"]["disable_stitch"] is True
    assert post["created_at"] >= datetime.fromisoformat(entry["post_at"]).timestamp() - 0.001
    assert store_of(app.flask_app).get(stored.id).state == "posted"


def test_reschedule_and_edit_read_times_in_the_browsers_zone_and_refuse_daylight_saving_holes(
        serve_app, emulator, oauth, store, tmp_path):
    berlin = ZoneInfo("Europe/Berlin")  # the browser's zone; the server runs in UTC
    ada = default_users()[0].open_id
    link_account(emulator.url, store, oauth, ada)
    app = serve_app(MEDIA_DIR=str(tmp_path / "media"))
    posts = store_of(app.flask_app)
    start = datetime(2027, 1, 14, 18, 0, tzinfo=berlin)
    post = queue_post(posts, {"user_id": ada, "video_url": "https://cdn.example.com/bread.mp4",
                              "privacy": "SELF_ONLY", "description": "Bread", "post_at": start.isoformat()})
    with tab_in("Europe/Berlin", tmp_path) as tab:
        tab.goto(app.url + "/posts/")
        card = tab.locator(f"article.post-card[data-id='{post.id}']")
        expect(card.locator("time.moment")).to_have_attribute("data-zone", "Europe/Berlin")
        assert "18:00" in card.locator("time.moment").inner_text()  # 17:00 UTC, shown as Berlin's 18:00

        picker = card.locator("input[name=post_at_local]")
        for hole, words in (("2027-03-28T02:30", "does not exist in Europe/Berlin"),
                            ("2027-10-31T02:30", "happens twice in Europe/Berlin")):
            picker.fill(hole)
            card.locator("button.reschedule-button").click()
            assert words in picker.evaluate("input => input.validationMessage")
            assert posts.get(post.id).due_at == start.timestamp()  # nothing was sent, nothing shifted
        picker.fill("2027-01-15T09:30")
        card.locator("button.reschedule-button").click()
        expect(tab.locator(".flash-ok")).to_contain_text(f"Post {post.id} now posts at")
        expect(tab.locator(".flash-ok time.moment")).to_have_attribute("data-zone", "Europe/Berlin")
        moved = datetime(2027, 1, 15, 9, 30, tzinfo=berlin)
        assert posts.get(post.id).due_at == moved.timestamp()

        tab.goto(app.url + f"/posts/{post.id}/edit")
        expect(tab.locator("#post_at_local")).to_have_value("2027-01-15T09:30")  # the server wrote 08:30 (UTC)
        expect(tab.locator(".zone-name")).to_have_text("(Europe/Berlin)")
        tab.fill("#description", "Bread, and the time left as it was")
        tab.click("#save-edit")
        expect(tab.locator(".flash-ok")).to_have_text(f"Saved post {post.id}.")
    saved = posts.get(post.id)
    assert saved.entry["description"] == "Bread, and the time left as it was" and saved.due_at == moved.timestamp()
