"""A login in progress survives a flood of new ones from the same browser (Playwright, Debian's Chromium).

A person waits at the emulator's consent page; meanwhile another tab of the same browser requests ``/login/``
300 times with the browser's cookie, as any page can (here from the app's own origin, the worst case: every
request carries the session). Each one starts a login at the server, which keeps a few per browser; the person
then authorizes, and the account is connected.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.web.flows import PER_BROWSER
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.slow  # a real Chromium

FLOOD = 300
FIRE = """async (count) => {
    const kinds = [];
    for (let i = 0; i < count; i++) {
        const response = await fetch("/login/", {redirect: "manual", credentials: "same-origin"});
        kinds.push(response.type);
    }
    return kinds;
}"""


def browser_id(flask_app, cookies) -> str:
    """The login id in the browser's (signed) session cookie."""
    value = next(c["value"] for c in cookies if c["name"] == flask_app.config["SESSION_COOKIE_NAME"])
    return flask_app.session_interface.get_signing_serializer(flask_app).loads(value)["login_browser"]


def test_a_person_at_the_consent_page_is_logged_in_after_another_tab_fires_300_logins(app_under_test, tmp_path):
    bo = default_users()[1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            person = context.new_page()
            person.set_default_timeout(15_000)
            person.goto(app_under_test.url + "/")
            person.click("#login")
            person.wait_for_selector("#authorize")  # at TikTok's (the emulator's) consent page

            other = context.new_page()
            other.goto(app_under_test.url + "/")
            kinds = other.evaluate(FIRE, FLOOD)
            assert kinds == ["opaqueredirect"] * FLOOD  # each one answered with the redirect to TikTok
            flows = app_under_test.flask_app.extensions["tiktok_login_flows"]
            assert flows.in_progress(browser_id(app_under_test.flask_app, context.cookies())) == PER_BROWSER

            person.bring_to_front()
            person.check(f"input[name=open_id][value='{bo.open_id}']")
            person.click("#authorize")
            person.wait_for_selector("#accounts")
            assert person.locator(".flash-ok").inner_text().startswith("Connected @")
            row = person.locator(f"tr[data-open-id='{bo.open_id}']")
            assert row.locator(".display-name").inner_text() == bo.display_name
        finally:
            browser.close()
    assert list(TokenStore(app_under_test.tokens_path).load()) == [bo.open_id]
