"""Issue 23's photo post, in a real browser (Playwright, Debian's Chromium) against ``python app.py`` as shipped.

The app runs in its own process with no settings at all: emulated, the folder media store in ``media/``, and the
emulator it starts told that the app's own ``http://127.0.0.1:<PORT>/published/`` is a verified URL prefix. A person
logs in through the emulator's consent page, opens the composer, chooses Photos and three files at once (a
4000×3000 PNG, a HEIC and a 1086×1448 PNG): each goes up, is converted to a JPEG inside TikTok's limits, and its line
says what changed. They reorder and pick a cover, and press "Post now". The app's runner publishes the converted
JPEGs under its /published/ prefix; the emulator pulls them (the app's access log shows the three GETs, 200), the
post completes with exactly their bytes in order, and afterwards those addresses answer 404.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tiktok.emulator.config import default_users
from tiktok.store.sqlite import open_sqlite
from tests.support.app_process import free_port
from tests.support.pictures import sha256_of, the_three
from tests.support.posting import sha256_file
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.slow  # a real Chromium and the app in its own process

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 60.0
PULLED = re.compile(r'"GET (/published/[0-9a-f]{32}/[^" ]+)" (\d{3})')


@pytest.fixture
def shipped_app(tmp_path):
    """``python app.py`` in an empty folder with nothing set: its URL, its emulator's and its log file."""
    port, emulator_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port),
           "TIKTOK_EMULATOR_PORT": str(emulator_port)}
    log = tmp_path / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                requests.get(url + "/", timeout=2, allow_redirects=False)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url, f"http://127.0.0.1:{emulator_port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def stored_entry(folder: Path) -> dict:
    """The one post's entry, from the store the app keeps in its folder."""
    store = open_sqlite(folder / "tiktok.db", migrate=False)
    try:
        (post,) = store.every_post()
        return post.entry
    finally:
        store.close()


def test_three_pictures_composed_in_a_browser_are_converted_published_pulled_posted_and_withdrawn(shipped_app,
                                                                                                 tmp_path):
    url, emulator_url, log = shipped_app
    folder = tmp_path / "chosen"
    folder.mkdir()
    beach, phone, tall = the_three(folder)
    ada = default_users()[0]
    assert f"{url}/published/" in requests.get(emulator_url + "/_emulator/verified_prefixes", timeout=5).text

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-GB").new_page()
            page.set_default_timeout(30_000)
            page.goto(url + "/")
            page.click("#login")
            page.check(f"input[name=open_id][value='{ada.open_id}']")  # the emulator's consent page
            page.click("#authorize")
            page.wait_for_selector("#accounts")
            page.click("#nav-posts")
            page.click("#new-post")

            page.check("#source-photos")
            expect(page.locator("#photo-files")).to_be_visible()
            page.set_input_files("#photo-files", [str(beach), str(phone), str(tall)])
            items = page.locator("#photo-list li.photo")
            expect(items).to_have_count(3, timeout=60_000)
            expect(page.locator("#photo-checks")).to_have_attribute("data-state", "ok")
            expect(items.locator(".photo-name")).to_have_text(["beach.png", "IMG_0002.HEIC", "tall.png"])
            changes = items.locator(".photo-changes")
            expect(changes.nth(0)).to_contain_text("converted from PNG to JPEG")
            expect(changes.nth(0)).to_contain_text("resized from 4000 × 3000 to 1440 × 1080 px")
            expect(changes.nth(1)).to_contain_text("converted from HEIC to JPEG")
            expect(changes.nth(2)).to_contain_text("resized from 1086 × 1448 to 1080 × 1440 px")
            for n, size in enumerate(("1440 × 1080 px", "1080 × 1440 px", "1080 × 1440 px")):
                expect(items.nth(n).locator(".photo-facts")).to_contain_text(size)
            for n in range(3):  # each thumbnail was made and shown
                expect(items.nth(n).locator("img")).to_have_js_property("complete", True)
                assert items.nth(n).locator("img").evaluate("img => img.naturalWidth") > 0

            items.nth(0).locator("button[data-action=down]").click()  # reorder, then put it back
            expect(items.locator(".photo-name")).to_have_text(["IMG_0002.HEIC", "beach.png", "tall.png"])
            items.nth(1).locator("button[data-action=up]").click()
            expect(items.locator(".photo-name")).to_have_text(["beach.png", "IMG_0002.HEIC", "tall.png"])
            items.nth(1).locator("input[name=cover_choice]").check()  # the HEIC is the cover
            expect(page.locator("#photo-cover")).to_have_value("2")
            ids = page.locator("#photo-ids").input_value().split()
            assert len(ids) == 3

            page.fill("#photo-title", "Three places")
            page.fill("#description", "A weekend away")
            page.fill("#tags", "#travel")
            page.select_option("#privacy", "SELF_ONLY")
            page.check("#allow-comment")
            expect(page.locator("#post-now")).to_be_enabled()
            page.click("#post-now")
            page.wait_for_selector("#board")
            expect(page.locator(".flash-ok")).to_contain_text("3 photos: beach.png, IMG_0002.HEIC, tall.png")
            card = page.locator("article.post-card").first
            expect(card).to_have_attribute("data-state", "posted", timeout=DEADLINE_S * 1000)
        finally:
            browser.close()

    media = tmp_path / "media"
    converted = [media / media_id for media_id in ids]
    entry = stored_entry(tmp_path)
    keys = [sha256_file(path) + ".jpg" for path in converted]
    assert entry["photo_media"] == keys and entry["photo_cover_index"] == 1 and entry["title"] == "Three places"
    assert all((media / key).read_bytes() == path.read_bytes() for key, path in zip(keys, converted))

    (post,) = requests.get(emulator_url + "/_emulator/state", timeout=5).json()["posts"]
    assert (post["kind"], post["source"], post["status"]) == ("photo", "PULL_FROM_URL", "PUBLISH_COMPLETE")
    assert post["sha256"] == sha256_of(*converted)  # the emulator pulled the converted JPEGs, in order
    assert post["post_info"]["title"] == "Three places" and post["privacy_level"] == "SELF_ONLY"

    pulled = PULLED.findall(log.read_text())
    assert [(re.sub(r"/[0-9a-f]{32}/", "/T/", path), status) for path, status in pulled] == [
        ("/published/T/1-beach.jpg", "200"), ("/published/T/2-IMG_0002.jpg", "200"),
        ("/published/T/3-tall.jpg", "200")], pulled
    assert pulled[0][0].startswith("/published/") and len({path.split("/")[2] for path, _ in pulled}) == 1
    for path, _ in pulled:  # withdrawn once TikTok had them
        assert requests.get(url + path, timeout=5).status_code == 404
    published = media / ".published"
    assert not published.exists() or list(published.iterdir()) == []
