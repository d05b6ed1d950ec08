"""Every page fits a phone: Debian's Chromium at 390x844 CSS px never scrolls a page sideways.

The pages are filled the way a person's would be: two linked accounts (long scopes and names), saved reports
with charts and top videos, transcripts with a failed one, and posts in several states.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tiktok.posting.importer import import_manifest
from tiktok.transcription.store import TranscriptRecord, TranscriptStore
from tiktok.web.post_store import store_of
from tests.support.reports import ADA, BO, USERNAMES, Reporter, make_reporter
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.slow  # a real Chromium

PHONE = {"width": 390, "height": 844}
DAY_S = 86_400


@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


@pytest.fixture
def phone():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        browser.close()


def transcripts(folder) -> None:
    store = TranscriptStore(folder)
    share = f"https://www.tiktok.com/@{USERNAMES[ADA]}/video/7300000000000000001"
    store.save(TranscriptRecord(video_id="7300000000000000001", open_id=ADA, username=USERNAMES[ADA],
                                title="Bread basics with a rather long title that goes on and on",
                                created_time=1_760_000_000, source_url=share),
               "Sourdough needs a patient starter and a hot oven. " * 40, "1\n00:00:00,000 --> 00:00:02,000\nx\n\n",
               "WEBVTT\n\n")
    store.record_failure(TranscriptRecord(video_id="clip-1a2b", open_id="links", title="",
                                          source_url="https://cdn.example.com/a/very/long/path/to/clip.mp4"),
                         "transcription failed: transcript t-1 did not finish within 900 s", "try_later")


def posts(folder):
    """A manifest with a scheduled post, a due one with a long caption and URL, and an invalid entry."""
    import json
    from datetime import datetime, timedelta, timezone
    later = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    manifest = folder / "videos_to_upload.json"
    manifest.write_text(json.dumps([
        {"user_id": ADA, "video_path": "clips/a-rather-long-file-name-for-a-holiday-video-2026-final-v2.mp4",
         "description": "A long caption that goes on " * 12, "tags": ["travel", "sunset"], "privacy": "SELF_ONLY",
         "post_at": later},
        {"user_id": BO, "video_url": "https://cdn.example.com/a/very/long/path/to/some/video/file/name.mp4",
         "privacy": "PUBLIC_TO_EVERYONE"},
        {"user_id": ADA, "video_path": "x.mp4", "privacy": "NOT_A_LEVEL"},
    ]))
    return manifest


def scroll_width(tab) -> int:
    return tab.evaluate("document.documentElement.scrollWidth")


def test_every_page_fits_a_390_px_phone(phone, reporter, remote, serve_app, tmp_path):
    reporter.link(ADA)
    reporter.link(BO)
    for day in range(2):
        if day:
            remote.advance_clock(DAY_S)
        assert reporter("--date", reporter.today().isoformat()).code == 0
    transcripts(tmp_path / "transcripts")
    manifest = posts(tmp_path)
    served = serve_app(REPORTS_DIR=str(reporter.reports), TRANSCRIPTS_DIR=str(tmp_path / "transcripts"),
                       MANIFEST_FILE=str(manifest), MEDIA_DIR=str(tmp_path / "media"))
    import_manifest(store_of(served.flask_app), manifest, allow_loopback=True, tokens_key=None)  # what runs do first
    pages = {"/": "#accounts", "/stats/": ".stats-account svg", "/transcripts/": "#feed .transcript-card",
             f"/transcripts/{ADA}/7300000000000000001/": ".transcript-text", "/refresh_tokens/": "main",
             "/no/such/page/": "#message", "/posts/": "#board article.post-card",
             f"/posts/new?open_id={ADA}": "main h1"}
    for path, ready in pages.items():
        phone.goto(served.url + path)
        phone.wait_for_selector(ready)
        assert phone.evaluate("document.querySelector('meta[name=viewport]').content").startswith(
            "width=device-width")
        assert scroll_width(phone) <= PHONE["width"], f"{path} is {scroll_width(phone)} px wide"
