"""A relink shown up front, in a real browser (Playwright, Debian's Chromium), with the app's shipped defaults against
the emulator (issue 24, "In the app").

Bo links his account through the emulator's consent page and schedules a post for tomorrow in the composer. Then
he removes the app at TikTok (the emulator revokes his grant) and the app notices at its next refresh ("Refresh all
tokens now": TikTok refuses the refresh token). Every page of the navigation, and the composer, now shows the
banner naming @bo_tests (never his open_id) with a Relink button, and the count; the Posts page's scheduled card
warns that he must be linked again before it posts. He presses the banner's Relink, consents again at the
emulator, and the banner, the count and the card's warning are gone from every page.

On a phone-sized screen, a post TikTok failed is the first card of the Posts page, on its first screen, above the
posted one (the issue found it 2,900 px down).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Page, expect

from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.queue_workers import queue_post
from tests.test_browser_compose import tab_in

pytestmark = pytest.mark.slow  # a real Chromium

ZONE = "Europe/Berlin"
BO = default_users()[1]
ADA = default_users()[0]
WAIT_S = 30.0  # only ever reached when the runner is broken


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # a post's first status fetch is final: the runner ends at once


def pages_of(page: Page) -> list[str]:
    """Every page the navigation links (the accounts page included), and the composer."""
    hrefs = page.locator("header.top a.brand, header.top a.nav:not(.attention-count)").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    return sorted({*hrefs, "/posts/new"})


def consent_as(page: Page, open_id: str) -> None:
    page.wait_for_selector("#authorize")  # the emulator's consent page
    page.check(f"input[name=open_id][value='{open_id}']")
    page.click("#authorize")
    page.wait_for_selector("#accounts")


def test_a_revoked_account_with_a_scheduled_post_is_shown_everywhere_until_relinked(serve_app, remote, tmp_path):
    app = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    video = make_video(tmp_path / "tomorrow.mp4", seconds=3.0)
    with tab_in(ZONE, tmp_path) as page:
        page.goto(app.url + "/")
        page.click("#login")
        consent_as(page, BO.open_id)
        expect(page.locator("#attention-banner")).to_have_count(0)

        # a post for tomorrow, composed as a person would
        page.click("#nav-posts")
        page.click("#new-post")
        page.set_input_files("#video-file", str(video))
        expect(page.locator("#media-checks")).to_have_attribute("data-state", "ok")
        page.fill("#description", "Out tomorrow")
        page.locator("#privacy").select_option("SELF_ONLY")
        tomorrow = datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)
        page.fill("#post-at", tomorrow.strftime("%Y-%m-%dT%H:%M:%S"))
        page.click("#post-schedule")
        page.wait_for_selector("#board")
        (post,) = store_of(app.flask_app).every_post()
        card = page.locator(f"article.post-card[data-id='{post.id}']")
        expect(card).to_have_attribute("data-state", "scheduled")
        expect(card.locator(".relink-warning")).to_have_count(0)

        # Bo removes the app at TikTok; the app notices at its next refresh
        assert remote.revoke_user(BO.open_id) >= 1
        page.goto(app.url + "/")
        page.click("#refresh-all")
        expect(page.locator(f"tr.outcome[data-open-id='{BO.open_id}'] .status")).to_have_text(re.compile("relink",
                                                                                                       re.I))
        assert TokenStore(app.tokens_path).get(BO.open_id).relink_reason

        visited = pages_of(page)
        assert {"/", "/posts/", "/posts/new", "/media/", "/events/", "/status/", "/stats/", "/transcripts/"} \
            <= set(visited)
        for path in visited:
            page.goto(app.url + path)
            banner = page.locator("#attention-banner")
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("@bo_tests must be linked again")
            assert BO.open_id not in banner.inner_text(), path
            expect(banner.locator("button.relink")).to_have_text("Relink @bo_tests")
            expect(page.locator("#attention-number")).to_have_text("1")
            expect(page.locator("#emulated-banner")).to_be_visible()  # emulated mode's label stays

        page.goto(app.url + "/posts/")
        warning = card.locator(".relink-warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("@bo_tests must be linked again before this posts")
        expect(warning.locator("button.relink")).to_have_text("Relink")
        expect(card.locator(".state-label")).to_have_text("Scheduled")

        # relink from the banner: TikTok's consent page, and back
        page.goto(app.url + "/media/")
        page.locator("#attention-banner button.relink").click()
        consent_as(page, BO.open_id)
        assert not TokenStore(app.tokens_path).get(BO.open_id).relink_reason
        for path in visited:
            page.goto(app.url + path)
            expect(page.locator("#attention-banner")).to_have_count(0)
            expect(page.locator("#attention-count")).to_have_count(0)
        page.goto(app.url + "/posts/")
        expect(card).to_have_attribute("data-state", "scheduled")
        expect(card.locator(".relink-warning")).to_have_count(0)


def test_on_a_phone_a_failed_post_is_the_first_card_on_the_first_screen(serve_app, emulator, tmp_path):
    from tests.support.flows import WebClient
    app = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    assert WebClient(app.url).login(open_id=ADA.open_id).status_code == 302
    store = store_of(app.flask_app)
    clip = make_video(tmp_path / "clip.mp4")
    runner = runner_of(app.flask_app)
    ids = []
    for n in range(6):  # six posted cards, then one that TikTok fails
        if n == 5:
            requests.post(emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": "spam_risk_text"},
                          timeout=10).raise_for_status()
        ids.append(queue_post(store, {"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                                      "description": f"post {n}"}).id)
        runner.kick()
        assert runner.join(WAIT_S)
    failed = ids[-1]
    assert store.get(failed).record.state == "failed"
    with tab_in(ZONE, tmp_path) as page:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(app.url + "/")
        expect(page.locator("#attention-banner")).to_contain_text("1 post failed or missed its time")
        page.locator("#attention-failed").click()
        expect(page.locator(f"article.post-card[data-id='{failed}']")).to_be_visible()
        page.goto(app.url + "/posts/")
        cards = page.locator("article.post-card")
        expect(cards.first).to_have_attribute("data-id", str(failed))
        box = cards.first.bounding_box()
        assert box is not None and box["y"] < 844, box  # on the first screen, without scrolling
        posted = page.locator(f"article.post-card[data-id='{ids[0]}']").bounding_box()
        assert posted is not None and posted["y"] > box["y"]
        for path in ("/posts/", "/events/"):  # the banner and the count never make a phone scroll sideways
            page.goto(app.url + path)
            expect(page.locator("#attention-number")).to_have_text("1")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
