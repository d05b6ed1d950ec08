"""Clickjacking in a real browser: a page on another origin frames the app's accounts page, and Chromium must
refuse to render it (frame-ancestors 'none' / X-Frame-Options: DENY). Like test_browser_login.py, this fails
rather than skips when Debian's chromium is missing."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.test_browser_login import CHROMIUM_ARGS, chromium_path, page  # noqa: F401 (the page fixture)
from tiktok.emulator.serving import serve_in_thread

pytestmark = pytest.mark.slow  # a real Chromium


def attacker_site(app_url: str):
    """A WSGI app for http://localhost:<its port>: frames the app and, as a control, one of its own pages."""

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/own/":
            body = "<!doctype html><p id='own'>the attacker's own framed page</p>"
        else:
            body = (f"<!doctype html><h1>Win a prize</h1>"
                    f"<iframe id='victim' src='{app_url}/' width='800' height='600'></iframe>"
                    f"<iframe id='control' src='/own/' width='300' height='100'></iframe>")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    return app


@pytest.fixture
def attacker(app_under_test):
    with serve_in_thread(attacker_site(app_under_test.url), log_requests=False) as server:
        yield f"http://localhost:{server.port}"  # another origin than the app's http://127.0.0.1:<port>


def frame_text(frame) -> str:
    try:
        return frame.evaluate("document.documentElement ? document.documentElement.innerText : ''")
    except Exception as exc:  # Chromium's error page for a blocked frame may not be scriptable at all
        return f"<unreadable: {type(exc).__name__}>"


def test_another_origin_cannot_frame_the_accounts_page(app_under_test, attacker):
    assert app_under_test.url.startswith("http://127.0.0.1:")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            blocked: list[str] = []
            page.on("console", lambda message: blocked.append(message.text))
            page.goto(attacker + "/", wait_until="load")
            control = page.wait_for_selector("#control").content_frame()
            control.wait_for_selector("#own")  # frames do render on this page: the control one does
            victim = page.wait_for_selector("#victim").content_frame()
            assert victim is not None
            text = frame_text(victim)
            assert "TikTok accounts" not in text and "Login with TikTok" not in text, text[:300]
            assert victim.url.startswith(("chrome-error://", "about:blank")), victim.url  # not the app's page
            assert any("frame-ancestors" in line for line in blocked), blocked  # Chromium says why
            # The app itself renders the very same page when opened directly, so the frame was blocked, not broken.
            direct = browser.new_page()
            direct.goto(app_under_test.url + "/")
            assert direct.locator("#login").is_visible()
        finally:
            browser.close()


def test_the_policy_leaves_relink_and_remove_working_in_a_browser(page, app_under_test):
    """The CSP must not break the app itself: Relink's form post redirects to the consent page (form-action),
    and Remove asks first through assets/app.js (no inline handler)."""
    from tiktok.auth.tokens import TokenStore
    from tiktok.emulator.config import default_users

    ada = default_users()[0]
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(app_under_test.url + "/")
    page.click("#login")
    page.check(f"input[name=open_id][value='{ada.open_id}']")
    page.click("#authorize")
    row = page.wait_for_selector(f"tr[data-open-id='{ada.open_id}']")
    row.query_selector("button.relink").click()
    page.wait_for_selector("#authorize")  # the emulator's consent page, reached through the redirect
    page.check(f"input[name=open_id][value='{ada.open_id}']")
    page.click("#authorize")
    page.wait_for_selector("#accounts")
    questions: list[str] = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click(f"tr[data-open-id='{ada.open_id}'] button.remove")
    page.wait_for_timeout(300)  # a submitted form would have sent its POST by now
    assert questions and "Revoke" in questions[0]
    assert posts == []
    assert ada.open_id in TokenStore(app_under_test.tokens_path).load()  # dismissed: nothing removed
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click(f"tr[data-open-id='{ada.open_id}'] button.remove")
    page.wait_for_selector("#no-accounts")
    assert ada.open_id not in TokenStore(app_under_test.tokens_path).load()
    assert not violations, violations
