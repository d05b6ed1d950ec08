"""A person uploads a video TikTok would refuse in a real browser (Playwright, Debian's Chromium), presses "Fix it",
sees the page busy while the app re-encodes, then the fixed copy in its place, and posts it.

The video: "60 fps" as renderers write it (60.01 fps, just over TikTok's 60), 12 s, so the re-encode takes long
enough (about a second here) for the busy state to be seen. The page's scripts are the shipped ones: compose.js
uploads in slices and shows the checks, fix.js offers the fix and hands the fixed upload back to compose.js.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from playwright.sync_api import expect

from tiktok.emulator.config import default_users
from tiktok.emulator.media_probe import probe_video
from tiktok.posting.composition import is_media_id
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import sha256_file
from tests.test_browser_compose import tab_in

pytestmark = pytest.mark.slow  # a real Chromium

ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")


def test_fix_it_makes_a_copy_tiktok_takes_and_the_page_posts_it(serve_app, emulator, oauth, store, remote,
                                                              tmp_path):
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    media = tmp_path / "media"
    app = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(media))
    video = make_video(tmp_path / "render.mp4", seconds=12.0, fps=Fraction(6001, 100), audio=False)

    with tab_in("Europe/Berlin", tmp_path) as page:
        page.goto(f"{app.url}/posts/new?open_id={ADA}")
        fix = page.locator("#media-fix")
        assert fix.is_hidden()  # nothing to offer before a video
        page.set_input_files("#video-file", str(video))

        expect(page.locator("#media-checks")).to_have_attribute("data-state", "failed")
        expect(fix).to_have_attribute("data-state", "offer")
        assert "frame rate 60.01 fps is outside 23-60 fps" in page.locator("#media-checks").inner_text()
        assert "re-encoding fixes it" in fix.inner_text() and "original upload is kept" in fix.inner_text()
        uploaded = page.locator("#media-id").input_value()
        expect(page.locator("#post-now")).to_be_disabled()

        page.click("#fix-media")
        expect(fix).to_have_attribute("aria-busy", "true")  # the page says it is working, and on what
        expect(page.locator("#fix-media")).to_be_disabled()
        expect(page.locator("#fix-media")).to_have_text("Fixing…")
        expect(fix.locator(".fix-status")).to_contain_text("keep this page open")

        expect(fix).to_have_attribute("data-state", "fixed", timeout=60_000)
        assert fix.get_attribute("aria-busy") is None
        assert "frame rate 60.01 fps → 30 fps: TikTok takes 23-60 fps" in fix.inner_text()
        expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")
        fixed = page.locator("#media-id").input_value()
        assert is_media_id(fixed) and fixed != uploaded and fixed.endswith("-render.mp4")
        assert page.locator("#media-name").input_value() == "render.mp4"  # the person's own name stays
        assert page.locator("#preview").get_attribute("src").endswith(fixed)
        assert (media / uploaded).is_file()  # the upload is kept

        page.fill("#description", "Fixed in the browser")
        page.select_option("#privacy", "SELF_ONLY")
        expect(page.locator("#post-now")).to_be_enabled()
        page.click("#post-now")
        page.wait_for_selector("#board")

    (post,) = store_of(app.flask_app).every_post()
    assert post.entry["video_path"] == str((media / fixed).resolve()) and post.media_name == "render.mp4"
    assert runner_of(app.flask_app).join(60)
    (made,) = remote.state()["posts"]
    assert made["status"] == "PUBLISH_COMPLETE" and made["sha256"] == sha256_file(media / fixed)
    seen = probe_video(made["media_path"])
    assert (seen.container, seen.codec, seen.fps) == ("mp4", "h264", 30.0)
