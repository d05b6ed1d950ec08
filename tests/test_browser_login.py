"""A person's login in a real browser: Playwright drives Debian's Chromium against the app and the emulator.

CI installs chromium (.ci/run, scripts/test.sh); without it this test fails rather than skips.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tiktok.emulator.config import default_users
from tiktok.auth.tokens import TokenStore

pytestmark = pytest.mark.slow  # a real Chromium

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    found = [p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)]
    assert found, "Debian's chromium is not installed: run `apt-get install chromium` (scripts/test.sh does)"
    return found[0]


@pytest.fixture
def page(tmp_path):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context()
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        tab.screenshot(path=str(tmp_path / "last.png"))
        browser.close()


def test_login_with_tiktok_in_a_browser(page, app_under_test):
    bo = default_users()[1]
    page.goto(app_under_test.url + "/")
    assert page.locator("#emulated-banner").is_visible()
    assert page.locator("#no-accounts").is_visible()
    page.click("#login")
    page.wait_for_selector("#authorize")  # the emulator's consent page
    assert "TikTok emulator" in page.content()
    page.check(f"input[name=open_id][value='{bo.open_id}']")
    page.click("#authorize")
    page.wait_for_selector("#accounts")
    row = page.locator(f"tr[data-open-id='{bo.open_id}']")
    assert row.locator(".display-name").inner_text() == bo.display_name
    assert "video.publish" in row.locator(".scopes").inner_text()
    assert page.locator(".flash-ok").inner_text().startswith("Connected @")
    accounts = TokenStore(app_under_test.tokens_path).load()
    assert list(accounts) == [bo.open_id]
    assert stat.S_IMODE(os.stat(app_under_test.tokens_path).st_mode) == 0o600


def test_deny_in_a_browser_saves_nothing(page, app_under_test):
    page.goto(app_under_test.url + "/")
    page.click("#login")
    page.click("#deny")
    page.wait_for_selector("#message")
    assert "Login cancelled" in page.locator("#message h1").inner_text()
    assert not Path(app_under_test.tokens_path).exists()
