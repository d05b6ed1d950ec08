"""Dark mode and phone width on every page (issue 26, items 6 and 7), in Debian's Chromium.

Every GET page of the app (read from its url_map, so a new page is covered without touching this file) and the
emulator's own pages are opened at 1280 and 390 CSS px, light and dark (the system's prefers-color-scheme), with
the set-up a person would have: two linked accounts, two days of reports (charts), a transcript and a failed one, a
media file and posts. Each page is screenshotted (``<tmp_path>/screens``, kept by pytest for the last runs) and
checked: the page is no wider than the viewport (``document.scrollingElement.scrollWidth``), no element and no
text reaches past it, dark mode really darkens the background and lightens the text, and the stats charts' lines
and labels keep a 3:1 contrast (WCAG 2's minimum for graphics) with their panel in both themes. The nav toggle is
tested with the shipped defaults: it overrides the system, is remembered across pages, and is applied before the
body exists (no flash).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import url_for
from playwright.sync_api import Browser, Page

from tiktok.media import library
from tiktok.posting.composition import media_name
from tiktok.posting.importer import import_manifest
from tiktok.web.post_store import store_of
from tests.media_fixtures import make_video
from tests.support.reports import ADA, BO, Reporter, make_reporter
from tests.test_browser_uploads import chromium  # noqa: F401  (the fixture: one headless Chromium)
from tests.test_phone_width import posts, transcripts

pytestmark = pytest.mark.slow  # a real Chromium, about a hundred page loads

WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
DAY_S = 86_400
VIDEO_ID = "7300000000000000001"  # the transcript tests.test_phone_width.transcripts saves
# Endpoints that answer with something other than a page: files, JSON, fragments, redirects to TikTok.
NOT_PAGES = {"static", "media.file", "media.thumb", "compose.media", "status.metrics", "posts.board_fragment",
             "uploads.status", "published.published_file", "transcripts.download", "covers.cover", "videos.progress",
             "calendar_feed.calendar_feed", "shares.shared_download", "shares.shared_cover",
             "calendar.events", "compose.day"}
# More than one view of a page: the search row with its Clear button, the composer with an account chosen.
VARIANTS = {"transcripts.index": {"": "", "-search": "?q=sourdough"},
            "compose.new": {"": "", "-account": f"?open_id={ADA}"}}

# Reports every element whose box reaches past the sides of a viewport ``width`` CSS px wide (not innerWidth: a
# phone browser widens its layout viewport to fit a page that is too wide), and every text that spills out of its
# element; hidden ones have no box.
OVERFLOW_JS = """(width) => {
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
      wide.push(`${name} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), range = document.createRange();
  while (texts.nextNode()) {  // a word too long for its box spills out of it without widening any element
    range.selectNodeContents(texts.currentNode);
    const box = range.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
      const words = texts.currentNode.textContent.trim().slice(0, 40);
      wide.push(`text "${words}" ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth, wide: wide.slice(0, 8)};
}"""
COLOURS_JS = """() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"""
CHART_JS = """() => [getComputedStyle(document.querySelector('.stats-account')).backgroundColor,
  getComputedStyle(document.querySelector('.chart .line')).stroke,
  getComputedStyle(document.querySelector('.chart .tick')).fill]"""
# Notes the theme the moment <body> exists, before anything of it can be painted.
THEME_AT_BODY_JS = """window.__themeAtBody = 'no body seen';
new MutationObserver((_, observer) => {
  if (!document.body) return;
  window.__themeAtBody = document.documentElement.getAttribute('data-theme');
  observer.disconnect();
}).observe(document, {childList: true, subtree: true});"""


@pytest.fixture
def reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys) -> Reporter:
    return make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)


@contextmanager
def tab(browser: Browser, width: str, theme: str) -> Iterator[Page]:
    phone = width == "phone"
    context = browser.new_context(viewport=WIDTHS[width], color_scheme=theme, is_mobile=phone, has_touch=phone,
                                  locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
    finally:
        context.close()


def luminance(css_colour: str) -> float:
    """Relative luminance (WCAG 2) of an ``rgb(...)``/``rgba(...)`` computed colour."""
    r, g, b = (int(v) for v in re.findall(r"\d+(?:\.\d+)?", css_colour)[:3])

    def linear(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(one: str, other: str) -> float:
    """WCAG 2 contrast ratio of two computed colours, from 1 to 21."""
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def page_paths(flask_app, arguments: dict[str, object]) -> dict[str, str]:
    """Every GET page of the app as {name: path}, its URL arguments filled from ``arguments``."""
    paths: dict[str, str] = {}
    for rule in sorted(flask_app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        missing = sorted(set(rule.arguments) - arguments.keys())
        assert not missing, (f"{rule.rule} ({rule.endpoint}) needs {missing}: add a value to the arguments in "
                             "this test's set-up, or the endpoint to NOT_PAGES if it is not a page")
        with flask_app.test_request_context():
            base = url_for(rule.endpoint, **{name: arguments[name] for name in rule.arguments})
        for suffix, query in VARIANTS.get(rule.endpoint, {"": ""}).items():
            paths[rule.endpoint + suffix] = base + query
    return paths


def media_file(served, folder: Path) -> str:
    """A video in the media library, kept as the composer's upload keeps one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = make_video(folder / media_name(secrets.token_hex(16), "holiday-clip.mp4", "mp4"))
    library.record_upload(store_of(served.flask_app), path, original="holiday-clip.mp4", now=served.clock())
    return path.name


def check(page: Page, width: int, shot: Path) -> tuple[tuple[str, str], list[str]]:
    """Screenshot the page; returns its body's background and text colours, and how it does not fit ``width``."""
    page.screenshot(path=str(shot), full_page=True)
    found = page.evaluate(OVERFLOW_JS, width)
    problems = [f"{shot.name}: {wide}" for wide in found["wide"]]
    if found["scroll"] > width or found["inner"] != width:
        problems.append(f"{shot.name}: the page is {max(found['scroll'], found['inner'])} px wide, not {width}")
    return tuple(page.evaluate(COLOURS_JS)), problems


def test_every_page_in_light_and_dark_at_desktop_and_phone_width(chromium, reporter, remote, serve_app, emulator,
                                                                 tmp_path):
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
    import_manifest(store_of(served.flask_app), manifest, allow_loopback=True, tokens_key=None)
    name = media_file(served, tmp_path / "media")
    post_id = next(iter(store_of(served.flask_app).every_post())).id
    token, _ = store_of(served.flask_app).create_share(ADA, VIDEO_ID, created_by=ADA)  # /s/<token>: a shared page
    pages = {key: served.url + path for key, path in
             page_paths(served.flask_app, {"open_id": ADA, "video_id": VIDEO_ID, "post_id": post_id,
                                           "name": name, "token": token}).items()}
    # The emulator's pages: its consent page (where the app's Login sends a person) and its error page.
    pages["emulator-consent"] = served.url + "/login/"
    pages["emulator-error"] = f"{emulator.url}/v2/auth/authorize/?client_key=not-this-app&response_type=code"
    assert len(pages) >= 15 and "stats.stats_page" in pages and "media.index" in pages

    screens = tmp_path / "screens"
    screens.mkdir()
    colours: dict[tuple[str, str, str], tuple[str, str]] = {}
    too_wide: list[str] = []
    for width in WIDTHS:
        for theme in THEMES:
            with tab(chromium, width, theme) as page:
                for key, url in pages.items():
                    response = page.goto(url)
                    assert response is not None and "text/html" in response.headers.get("content-type", ""), key
                    if key == "emulator-consent":
                        assert page.locator("#authorize").count() == 1, f"{key} is not the emulator's consent page"
                    if key == "stats.stats_page":
                        panel, line, tick = page.evaluate(CHART_JS)
                        assert contrast(line, panel) >= 3 and contrast(tick, panel) >= 3, (width, theme, panel,
                                                                                           line, tick)
                    if key == "calendar.index":  # the widget's view (the list at phone width) with the posts in it
                        page.wait_for_selector("#calendar[data-ready]")
                    shot = screens / f"{key}-{width}-{theme}.png"
                    colours[key, width, theme], problems = check(page, WIDTHS[width]["width"], shot)
                    too_wide += problems
    assert len(list(screens.glob("*.png"))) == len(pages) * len(WIDTHS) * len(THEMES)
    assert not too_wide, "\n".join(["Pages wider than their viewport:", *too_wide])

    for key in pages:
        for width in WIDTHS:
            (light_bg, light_ink), (dark_bg, dark_ink) = colours[key, width, "light"], colours[key, width, "dark"]
            assert light_bg != dark_bg, f"{key} at {width}: dark mode left the background {light_bg}"
            assert luminance(dark_bg) < 0.05 < 0.8 < luminance(light_bg), (key, width, light_bg, dark_bg)
            assert luminance(dark_ink) > 0.6 > 0.05 > luminance(light_ink), (key, width, light_ink, dark_ink)


def test_the_nav_toggle_overrides_the_system_is_remembered_and_applies_before_paint(chromium, serve_app, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)  # the shipped defaults: files next to where the app runs
    served = serve_app()
    with tab(chromium, "desktop", "light") as page:
        page.add_init_script(THEME_AT_BODY_JS)
        page.goto(served.url + "/")
        toggle = page.locator("#theme-toggle")
        assert toggle.is_visible() and toggle.get_attribute("aria-pressed") == "false"
        assert page.evaluate("document.documentElement.getAttribute('data-theme')") is None  # the system's choice
        light_bg, _ = page.evaluate(COLOURS_JS)
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "true"
        assert luminance(page.evaluate(COLOURS_JS)[0]) < 0.05 < luminance(light_bg)
        page.goto(served.url + "/posts/")  # another page remembers it, and had it before its body existed
        assert page.evaluate("window.__themeAtBody") == "dark"
        assert page.locator("#theme-toggle").get_attribute("aria-pressed") == "true"
        assert luminance(page.evaluate(COLOURS_JS)[0]) < 0.05
    with tab(chromium, "desktop", "dark") as page:  # a fresh browser profile on a dark system
        page.goto(served.url + "/")
        toggle = page.locator("#theme-toggle")
        assert toggle.get_attribute("aria-pressed") == "true" and luminance(page.evaluate(COLOURS_JS)[0]) < 0.05
        toggle.click()
        page.reload()
        assert page.locator("#theme-toggle").get_attribute("aria-pressed") == "false"
        assert luminance(page.evaluate(COLOURS_JS)[0]) > 0.8
