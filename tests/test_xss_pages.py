"""Hostile text renders inert on every page that shows it (issue 26, "What it must show": the XSS table).

Text that reaches the pages from elsewhere carries each payload at once: a video's caption on TikTok (the emulator's
catalogue), a transcript's title, a person's name as TikTok gave it, a comment, and a post's caption. Each page that
shows one of them is fetched over real loopback HTTP from the app served against the emulator, with the shipped
defaults, as the owner and as a second person sees it:

- no markup of the payload survives as markup (no ``<script>``, no ``<img ... onerror``, no ``<b>``), no link or
  attribute points at ``javascript:``, and links in text stay text;
- a right-to-left override never reaches a text node outside ``<bdi>`` (where it would turn the text around it),
  nor a ``<title>`` or ``<option>``, which cannot hold one.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from tests.support.flows import link_account
from tests.test_interactions_web import ACCOUNT, ADA, BO, app, folder, people, save, send  # noqa: F401 (fixtures)
from tiktok.text import plain_line
from tiktok.web.post_store import store_of

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
            "\u202egnp.exe", "see https://example.com/<b>x</b> and javascript:alert(document.cookie)"]
RLO = "\u202e"
SCOPES = ("user.info.basic", "video.list", "video.publish", "video.upload")


class Scan(HTMLParser):
    """Where the page puts text: right-to-left overrides outside ``<bdi>`` (or in a title or option), and any
    ``javascript:`` in an attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.loose: list[str] = []
        self.scripted: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and re.match(r"\s*javascript:", value, re.I):
                self.scripted.append(f"<{tag} {name}={value!r}>")
            if name.startswith("on"):
                self.scripted.append(f"<{tag} {name}>")
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if RLO not in data:
            return
        if "script" in self.stack or "style" in self.stack:
            return
        if "title" in self.stack or "option" in self.stack or "bdi" not in self.stack:
            self.loose.append(f"{'/'.join(self.stack[-3:])}: {data.strip()[:60]!r}")


def assert_inert(where: str, body: str) -> None:
    assert "<script>alert" not in body and "<img src=x" not in body and "onerror=alert(1)>" not in body, where
    assert "<b>x</b>" not in body, where
    assert 'href="https://example.com' not in body, f"{where}: a link in text became a link"
    scan = Scan()
    scan.feed(body)
    assert scan.scripted == [], f"{where}: {scan.scripted}"
    assert scan.loose == [], f"{where}: a right-to-left override outside <bdi>: {scan.loose}"


def test_the_scanner_finds_what_it_looks_for():
    scan = Scan()
    scan.feed(f'<p>a {RLO}b</p><bdi>ok {RLO}</bdi><title>t {RLO}</title><a href=" javascript:x">y</a>'
              '<img src=x onerror=alert(1)>')
    assert len(scan.loose) == 2 and len(scan.scripted) == 2


@pytest.mark.slow
@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_captions_titles_names_and_comments_render_inert_on_every_page(
        app, people, folder, payload, emulator, remote, oauth, store):
    ada, bo = people
    link_account(emulator.url, store, oauth, ACCOUNT, scopes=SCOPES)  # Ada's TikTok account, for its Videos page
    added = remote.session.post(f"{remote.base_url}/_emulator/videos/{ACCOUNT}", json={"title": f"video {payload}"},
                                timeout=10)
    added.raise_for_status()
    record = save(folder, 1, title=f"title {payload}")
    posts = store_of(app.flask_app)
    posts.sign_in_person(BO.open_id, f"Bo {payload}", "", may_own=False)  # the name TikTok gave, as stored
    due = time.time() + 30 * 86400  # a month ahead: upcoming, on the Posts page and the calendar
    posts.add({"user_id": ACCOUNT, "video_url": "https://cdn.example.com/v.mp4", "description": f"caption {payload}",
               "privacy": "SELF_ONLY", "post_at": datetime.fromtimestamp(due, timezone.utc).isoformat()},
              key="hostile-caption", due_at=due)
    transcript = f"/transcripts/{record.open_id}/{record.video_id}/"
    assert send(bo, transcript + "comments", {"text": f"comment {payload}"}).status_code == 303
    made = send(bo, transcript + "shares")
    shared = bo.get(made.headers["Location"]) if made.status_code in (302, 303) else made
    link = re.search(r"/s/[A-Za-z0-9_-]{40,}", shared.text)
    assert link, "no share link was shown"

    pages = {
        "the feed": (bo, "/transcripts/"),
        "search results": (bo, "/transcripts/?q=title"),
        "the transcript": (bo, transcript),
        "the delete confirmation": (ada, transcript + "delete"),
        "the shared transcript": (None, link.group(0)),
        "people": (ada, "/people/"),
        "the Videos page": (ada, f"/videos/{ACCOUNT}/?refresh=1"),
        "the accounts": (ada, "/"),
        "the Posts page": (ada, "/posts/"),
        "the calendar": (ada, "/calendar/"),
        "the composer": (ada, f"/posts/new?open_id={ACCOUNT}"),
    }
    for where, (who, path) in pages.items():
        answer = (who or app.client()).get(path)
        assert answer.status_code == 200, (where, answer.status_code)
        assert_inert(where, answer.text)
    shown = {where: pages[where] for where in ("the feed", "the transcript", "people", "the Videos page",
                                                "the Posts page")}
    for where, (who, path) in shown.items():  # the text is there, as text: not dropped to pass the checks
        body = who.get(path).text
        assert "alert(1)" in body or "gnp.exe" in body or "example.com" in body, f"{where}: the payload is not shown"


@pytest.mark.parametrize("text, shown", [
    ("title \u202egnp.exe", "title gnp.exe"), ("a\u2066b\u2069c\u200fd", "abcd"), ("tab\tand\nline", "tabandline"),
    ("plain ünïcode عربي", "plain ünïcode عربي"),
])
def test_a_line_for_a_title_or_an_option_loses_its_bidi_and_control_characters(text, shown):
    assert plain_line(text) == shown
