"""Two people using the app together in Debian's Chromium (issue 26's must-show run), the app as shipped against the
TikTok emulator on 127.0.0.1:

1. The owner signs in with TikTok (the first person owns the app), connects an emulated account through the
   emulator's consent page, sees all 25 videos of the catalogue across the Videos pages with their covers loaded
   through ``/covers/``, ticks three, clicks "Transcribe selected" and sees them finish without the page navigating.
2. A second person, in another browser context, signs in with TikTok and is told to wait for the owner; the owner
   approves them on ``/people/``; a reload shows them the transcript feed.
3. The second person likes a transcript and comments on it, the owner replies, the second person sees the reply,
   bookmarks the transcript and "Bookmarked by me" shows only that one.
4. The second person makes a share link; a fresh context (no cookies) sees only that transcript, with no address of
   the app on the page but the link's own and its static assets; the owner revokes it and the reload answers 404.

Only TRANSCRIPTS_DIR and XDG_CACHE_HOME are set (to the test's folder, so nothing is written outside it); every
other setting is the shipped default."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.test_browser_uploads import chromium  # noqa: F401 - the fixture: one headless Debian Chromium
from tiktok.emulator.config import default_users

pytestmark = pytest.mark.slow  # a real Chromium, three contexts

ADA, BO, _ = default_users()  # Ada owns the app and her account; Bo is the second person
CATALOGUE = 25  # the emulator's videos for an account (tiktok.emulator), 24 to a Videos page
COMMENT, REPLY = "Bo here: the middle part is great", "Thanks Bo, Ada replying"
ELEMENTS_WITH_ADDRESSES = """() => [...document.querySelectorAll('[href],[src],[action],[srcset],[formaction]')]
  .map(e => ['href', 'src', 'action', 'srcset', 'formaction'].filter(a => e.hasAttribute(a))
  .map(a => [e.tagName, a, a === 'srcset' ? e.getAttribute(a) : new URL(e.getAttribute(a), location.href).href]))
  .flat()"""


def new_tab(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def consent_as(page: Page, open_id: str) -> None:
    """On the emulator's consent page: choose the emulated user and allow."""
    page.wait_for_selector("#authorize")
    page.check(f"input[name=open_id][value='{open_id}']")
    page.click("#authorize")
    page.wait_for_load_state()


def person_sign_in(page: Page, app_url: str, open_id: str) -> None:
    page.goto(app_url + "/people/signin")
    page.click("#person-sign-in")
    consent_as(page, open_id)


def test_two_people_transcribe_talk_bookmark_and_share(chromium, serve_app, tmp_path):  # noqa: F811
    app = serve_app(TRANSCRIPTS_DIR=str(tmp_path / "transcripts"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(step: str) -> None:
        nonlocal started
        timings[step] = time.monotonic() - started
        started = time.monotonic()

    owner_context, bo_context = chromium.new_context(), chromium.new_context()
    owner, bo = new_tab(owner_context), new_tab(bo_context)
    try:
        # 1. The owner: the first person to sign in, then Login with TikTok connects her account.
        person_sign_in(owner, app.url, ADA.open_id)
        expect(owner.locator("#nav-people")).to_have_text(f"People: {ADA.display_name}")
        owner.goto(app.url + "/")
        owner.click("#login")
        consent_as(owner, ADA.open_id)
        expect(owner.locator(f"tr[data-open-id='{ADA.open_id}']")).to_be_visible()
        owner.click(f"tr[data-open-id='{ADA.open_id}'] a.videos")
        expect(owner.locator("#videos-total")).to_have_attribute("data-total", str(CATALOGUE))
        seen: list[str] = []
        for number in (1, 2):
            if number == 2:
                owner.click("#next-page")
            cards = owner.locator(".video-card")
            expect(cards).to_have_count(24 if number == 1 else CATALOGUE - 24)
            for i in range(cards.count()):
                cover = cards.nth(i).locator("img.video-cover")
                cover.scroll_into_view_if_needed()  # lazy: loaded once on screen
                expect(cover).to_have_js_property("complete", True)
                assert cover.evaluate("img => img.naturalWidth") > 0, f"cover {i} of page {number} is empty"
                assert cover.get_attribute("src").startswith("/covers/")
                seen.append(cards.nth(i).get_attribute("data-video-id"))
        assert len(set(seen)) == CATALOGUE  # every video of the catalogue, none twice
        owner.click("#prev-page")
        cards = owner.locator(".video-card")
        expect(cards).to_have_count(24)
        chosen = [cards.nth(i).get_attribute("data-video-id") for i in (0, 3, 7)]
        for video_id in chosen:
            owner.check(f".video-card[data-video-id='{video_id}'] input[type=checkbox]")
        navigations: list[str] = []
        owner.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == owner.main_frame else None)
        owner.evaluate("window.notReloaded = true")
        owner.click("#transcribe-selected")
        expect(owner.locator("#videos-said")).to_contain_text("3 videos queued")
        for video_id in chosen:
            card = owner.locator(f".video-card[data-video-id='{video_id}']")
            expect(card).to_have_attribute("data-state", "done", timeout=120_000)
            expect(card.locator(".video-state a")).to_have_text("Transcribed")
        assert navigations == [] and owner.evaluate("window.notReloaded") is True  # updated in place
        assert owner.locator(".video-card[data-state='done']").count() == 3
        lap("1. owner signs in, links, sees 25 videos and covers, transcribes 3")

        # 2. Bo: this machine's browser is the owner's without asking until Bo signs in; then Bo waits.
        bo.goto(app.url + "/")
        expect(bo.locator("#nav-people")).to_have_text(f"People: {ADA.display_name}")
        person_sign_in(bo, app.url, BO.open_id)
        expect(bo.locator("#people-waiting")).to_contain_text("Waiting for the owner")
        expect(bo.locator("#people-waiting")).to_contain_text(BO.display_name)
        bo.goto(app.url + "/transcripts/")
        expect(bo.locator("#people-waiting")).to_be_visible()  # still nothing of the app
        assert bo.locator(".transcript-card").count() == 0
        owner.goto(app.url + "/people/")
        row = owner.locator(f"tr.person[data-open-id='{BO.open_id}']")
        expect(row).to_contain_text("Waiting for the owner")
        row.locator("button.approve").click()
        expect(owner.locator(".flash-ok")).to_contain_text(f"{BO.display_name} may use the app now")
        bo.reload()
        bo.goto(app.url + "/transcripts/")
        expect(bo.locator("#nav-people")).to_have_text(f"People: {BO.display_name}")
        expect(bo.locator("#feed .transcript-card")).to_have_count(3)
        assert sorted(bo.locator("#feed .transcript-card").evaluate_all(
            "cs => cs.map(c => c.dataset.videoId)")) == sorted(chosen)
        owner.goto(app.url + "/transcripts/")  # the owner is still signed in (her own sign-in, not "this machine")
        expect(owner.locator("#nav-people")).to_have_text(f"People: {ADA.display_name}")
        lap("2. Bo signs in, waits, is approved, sees the feed")

        # 3. Like, comment, reply, bookmark, "Bookmarked by me".
        liked = chosen[1]
        bar = bo.locator(f"#feed .interactions[data-video-id='{liked}']")
        bar.locator("button.like").click()
        expect(bar.locator(".count.likes")).to_have_text("1")
        expect(bar.locator("button.like")).to_have_attribute("aria-pressed", "true")
        bo.locator(f"#feed .transcript-card[data-video-id='{liked}'] a.card-title").click()
        expect(bo).to_have_url(f"{app.url}/transcripts/{ADA.open_id}/{liked}/")
        transcript_path = f"/transcripts/{ADA.open_id}/{liked}/"
        text = bo.locator("#transcript-text").inner_text()
        assert text.strip(), "the transcript page shows no text"
        bo.fill("#comment-text", COMMENT)
        bo.click("#add-comment")
        expect(bo.locator("#comments .comment-text")).to_have_text([COMMENT])
        owner.goto(app.url + transcript_path)
        expect(owner.locator("#comments .comment-author")).to_have_text([BO.display_name])
        owner.locator(".reply-box summary").click()
        owner.locator(".reply-box textarea").fill(REPLY)
        owner.locator(".reply-box button").click()
        expect(owner.locator(".replies .comment-text")).to_have_text(REPLY)
        bo.reload()
        expect(bo.locator(".replies .comment-text")).to_have_text(REPLY)
        expect(bo.locator(".replies .comment-author")).to_have_text(ADA.display_name)
        here = bo.locator(f".interactions[data-video-id='{liked}']")
        here.locator("button.bookmark").click()
        expect(here.locator("button.bookmark .label")).to_have_text("Bookmarked")
        bo.goto(app.url + "/transcripts/")
        bo.click("#bookmarked-filter")
        expect(bo.locator("#bookmarked-filter")).to_have_attribute("aria-pressed", "true")
        expect(bo.locator("#feed .transcript-card")).to_have_count(1)
        assert bo.locator("#feed .transcript-card").get_attribute("data-video-id") == liked
        owner.goto(app.url + "/transcripts/?bookmarked=1")  # Bo's bookmark is Bo's alone
        expect(owner.locator("#no-bookmarks")).to_be_visible()
        lap("3. like, comment, reply, bookmark, filter")

        # 4. A share link, seen by a browser with no cookie, then revoked by the owner.
        bo.goto(app.url + transcript_path)
        bo.click("#make-share")
        address = bo.input_value("#new-share-url")
        assert address.startswith(app.url + "/s/")
        stranger_context = chromium.new_context()
        try:
            stranger = new_tab(stranger_context)
            answer = stranger.goto(address)
            assert answer is not None and answer.status == 200
            assert stranger.locator("#transcript-text").inner_text() == text
            assert stranger.locator(".transcript-card, #feed, #comments, header, nav").count() == 0
            addresses = stranger.evaluate(ELEMENTS_WITH_ADDRESSES)
            assert addresses, "the shared page has no href/src at all (no stylesheet?)"
            outside = [a for a in addresses if a[1] == "srcset" or not (
                a[2].startswith(address) or a[2].startswith(app.url + "/assets/")
                or not a[2].startswith(app.url))]
            assert outside == [], outside  # nothing but the link itself and its static assets
            assert stranger_context.cookies() == []
            for other in chosen:
                if other != liked:
                    assert other not in stranger.content()
            owner.goto(app.url + transcript_path)
            link = owner.locator("#share-list li")
            expect(link).to_have_count(1)
            expect(link).to_contain_text(BO.display_name)  # made by Bo; the owner sees and revokes every link
            owner.once("dialog", lambda dialog: dialog.accept())
            link.locator("button.danger").click()
            expect(owner.locator(".flash-ok")).to_contain_text("The share link is revoked")
            gone = stranger.reload()
            assert gone is not None and gone.status == 404
            assert text not in stranger.content()
        finally:
            stranger_context.close()
        lap("4. share, open without cookies, revoke, 404")
    except BaseException:
        for name, tab in (("owner", owner), ("bo", bo)):
            tab.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        raise
    finally:
        print("\n" + "\n".join(f"{seconds:6.1f} s  {step}" for step, seconds in timings.items()))
        owner_context.close()
        bo_context.close()
