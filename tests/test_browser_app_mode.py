"""The TikTok app's mode as a person meets it in a real browser (Playwright, Debian's Chromium), the emulator in
each mode (issue 25, item 1).

Unaudited (TIKTOK_APP_MODE=unaudited, the emulator unaudited): the composer offers only "Only me" and says why in
TikTok's words; Cy's private account posts "Only me" through to the emulator; Ada's public account is stopped on
the form before any call, with TikTok's reason and the inbox offered. Sandbox: Cy, not a target user, is refused at
login with a clear page. Audited (the shipped default): every privacy level the account has.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.composition import unaudited_reason
from tiktok.web.post_store import store_of
from tests.media_fixtures import make_video
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.slow  # a real Chromium

ADA, BO, CY = default_users()  # Ada public, Cy private and not a sandbox target
INIT = "/v2/post/publish/video/init/"
UNAUDITED = "unaudited_client_can_only_post_to_private_accounts"


@contextmanager
def tab(folder: Path) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-GB").new_page()
            page.set_default_timeout(20_000)
            yield page
            page.screenshot(path=str(folder / "last.png"), full_page=True)
        finally:
            browser.close()


@pytest.fixture
def browser_page(tmp_path):
    with tab(tmp_path) as page:
        yield page


def log_in(page: Page, app_url: str, open_id: str) -> None:
    """Login with TikTok through the emulator's consent page; stops on the page the callback gives."""
    page.goto(app_url + "/")
    page.click("#login")
    page.check(f"input[name=open_id][value='{open_id}']")
    page.click("#authorize")
    page.wait_for_load_state()


def offered(page: Page) -> list[str]:
    return [value for value in page.locator("#privacy option").evaluate_all("os => os.map(o => o.value)") if value]


def serve(serve_app, tmp_path, **settings: str):
    return serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"),
                     QUEUE_TICK_S="0.5", **settings)


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="unaudited")])
def test_unaudited_offers_only_me_posts_to_a_private_account_and_stops_a_public_one(browser_page, serve_app, remote,
                                                                                    tmp_path):
    page = browser_page
    app = serve(serve_app, tmp_path, TIKTOK_APP_MODE="unaudited")
    video = make_video(tmp_path / "walk.mp4", seconds=3.0)
    for user in (CY, ADA):
        log_in(page, app.url, user.open_id)
        page.wait_for_selector("#accounts")
    expect(page.locator("#app-mode")).to_contain_text("This TikTok app is unaudited")

    # Ada's account is public: "Only me" alone is offered, and a Direct Post is stopped on the form, no call made
    page.goto(f"{app.url}/posts/new?open_id={ADA.open_id}")
    assert offered(page) == ["SELF_ONLY"]
    note = page.locator("#privacy-mode-note")
    expect(note).to_contain_text(unaudited_reason())
    expect(note).to_contain_text("This account is public")
    page.set_input_files("#video-file", str(video))
    expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")
    page.locator("#privacy").select_option("SELF_ONLY")
    page.click("#post-now")
    error = page.locator("li[data-field=privacy]")
    expect(error).to_contain_text(unaudited_reason())
    expect(error).to_contain_text(UNAUDITED)
    expect(error).to_contain_text("Send to inbox as a draft")
    assert [r for r in remote.requests() if r["path"] == INIT] == [] and remote.state()["posts"] == []
    assert list(store_of(app.flask_app).every_post()) == []
    assert page.locator("#post-inbox").is_enabled()  # the way to publish publicly stays

    # Cy's account is private: "Only me" goes through to TikTok
    page.goto(f"{app.url}/posts/new?open_id={CY.open_id}")
    assert offered(page) == ["SELF_ONLY"]
    expect(page.locator("#privacy-mode-note")).to_contain_text(unaudited_reason())
    page.set_input_files("#video-file", str(video))
    expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")
    page.locator("#privacy").select_option("SELF_ONLY")
    page.click("#post-now")
    page.wait_for_selector("#board")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not remote.state()["posts"]:
        time.sleep(0.2)
    (stored,) = store_of(app.flask_app).every_post()
    while time.monotonic() < deadline and store_of(app.flask_app).get(stored.id).state != "posted":
        time.sleep(0.2)
    (made,) = remote.state()["posts"]
    assert made["status"] == "PUBLISH_COMPLETE" and made["privacy_level"] == "SELF_ONLY"
    assert store_of(app.flask_app).get(stored.id).state == "posted"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="sandbox")])
def test_sandbox_refuses_a_non_target_user_at_login_with_a_clear_page(browser_page, serve_app, tmp_path):
    page = browser_page
    app = serve(serve_app, tmp_path)  # TIKTOK_APP_MODE left empty: TikTok's refusal says so
    log_in(page, app.url, CY.open_id)
    body = page.locator("body")
    expect(body).to_contain_text("This TikTok app is in sandbox mode: only the target users added in TikTok's "
                                 "developer portal can log in")
    expect(body).to_contain_text("non_sandbox_target")
    assert not app.tokens_path.exists()
    log_in(page, app.url, ADA.open_id)  # a target user
    page.wait_for_selector("#accounts")
    expect(page.locator("#app-mode")).to_contain_text("This TikTok app is sandbox")


def test_audited_shows_every_option(browser_page, serve_app, tmp_path):
    page = browser_page
    app = serve(serve_app, tmp_path)  # the shipped defaults: no TIKTOK_APP_MODE, the emulator audited
    log_in(page, app.url, ADA.open_id)
    page.wait_for_selector("#accounts")
    page.goto(f"{app.url}/posts/new?open_id={ADA.open_id}")
    assert offered(page) == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    assert page.locator("#privacy-mode-note").count() == 0 and page.locator("#app-mode").count() == 0
