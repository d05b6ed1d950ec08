"""Share links over real loopback HTTP (issue 26 item 5): the app and the TikTok emulator served on 127.0.0.1, people
signed in through the emulator's consent page. A signed-in person makes a link on a transcript's page; a fresh
browser with no cookie, off this machine, opens ``/s/<token>`` and sees that one transcript and nothing else of the
app (every href, src and action on the page is the share's own or a static asset), gets no cookie and the
no-referrer / noindex headers; the link opens past APP_PASSWORD too; a revoked link answers exactly what a made-up
one does; a member cannot revoke another's link but the owner can; request logs show ``/s/***``.

"Off this machine" is reached the way a reverse proxy reaches the app: an ``X-Forwarded-For`` header."""

from __future__ import annotations

import hashlib
import logging
import re
import statistics
import time
from html.parser import HTMLParser

import pytest
import requests

from tests.test_people_web import AWAY, browser, csrf, post, sign_in
from tiktok.emulator.config import default_users
from tiktok.logs import redact
from tiktok.transcription.store import TranscriptRecord, TranscriptStore
from tiktok.web.post_store import store_of

ADA, BO, CY = default_users()
SHARED_ID, OTHER_ID = "7300000000000000001", "7300000000000000002"
SHARED_TEXT = "Sourdough needs a patient starter and a hot oven."
OTHER_TEXT = "Knife skills: the claw grip keeps fingers safe."
SRT = "1\n00:00:00,000 --> 00:00:02,000\nSourdough\n\n"
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nSourdough\n\n"
PASSWORD = "correct horse battery staple 42"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data", "content"}


@pytest.fixture
def transcripts_dir(tmp_path):
    store = TranscriptStore(tmp_path / "transcripts")
    store.save(TranscriptRecord(video_id=SHARED_ID, open_id=ADA.open_id, username=ADA.username,
                                title="Bread <basics>", created_time=1_760_000_000, source_url="https://x.example/1"),
               SHARED_TEXT, SRT, VTT)
    store.save(TranscriptRecord(video_id=OTHER_ID, open_id=ADA.open_id, username=ADA.username, title="Knives",
                                created_time=1_760_100_000, source_url="https://x.example/2"), OTHER_TEXT, SRT, VTT)
    return tmp_path / "transcripts"


@pytest.fixture
def app(serve_app, transcripts_dir):
    return serve_app(TRANSCRIPTS_DIR=str(transcripts_dir))  # otherwise as shipped


def page_of(video_id: str = SHARED_ID) -> str:
    return f"/transcripts/{ADA.open_id}/{video_id}/"


def make_link(web, video_id: str = SHARED_ID) -> str:
    """Press "Make a share link" on the transcript's page; the address it shows (once)."""
    made = web.http.post(web.url + f"/transcripts/{ADA.open_id}/{video_id}/shares",
                         data={"csrf": csrf(web, page_of(video_id))}, allow_redirects=False, timeout=15)
    assert made.status_code == 303 and made.headers["Location"] == page_of(video_id)
    shown = web.get(page_of(video_id)).text
    found = re.search(r'id="new-share-url" class="share-url" value="([^"]+)"', shown)
    assert found and 'id="copy-link" data-copy="new-share-url"' in shown, "no new link with Copy link on the page"
    assert 'id="new-share-url"' not in web.get(page_of(video_id)).text  # shown once: the store keeps a hash
    return found.group(1)


def fresh(url: str, **kw) -> requests.Response:
    """A browser that has never seen the app, elsewhere on the network: no cookie, through a proxy."""
    return requests.get(url, headers=AWAY, allow_redirects=False, timeout=15, **kw)


class Addresses(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value and (name != "content" or "/" in value):
                self.found.append(value)


def addresses(html: str) -> Addresses:
    parser = Addresses()
    parser.feed(html)
    return parser


def share_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-share-id="(\d+)"', html)}


def status(url: str) -> int:
    """The answer's status alone: a failing assertion never shows the secret address."""
    return fresh(url).status_code


def test_a_link_opens_that_one_transcript_for_a_fresh_browser_and_nothing_else(app):
    ada = browser(app)
    sign_in(ada, ADA)
    address = make_link(ada)
    path = address.removeprefix(app.url)
    assert address.startswith(app.url + "/s/")
    token = path.removeprefix("/s/")
    assert len(token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 256 random bits, at least the 128 asked
    store = store_of(app.flask_app)
    (link,) = store.shares_of(ADA.open_id, SHARED_ID)
    assert store.shared(token) == link and link.created_by == ADA.open_id
    db = b"".join(p.read_bytes() for p in app.tokens_path.parent.glob("tiktok.db*"))  # the file and its WAL
    kept = hashlib.sha256(token.encode()).hexdigest().encode() in db
    assert token.encode() not in db and kept, "the store must keep the token's hash only"

    shared = fresh(address)
    assert shared.status_code == 200 and "Set-Cookie" not in shared.headers  # no session, no CSRF token
    assert shared.headers["Referrer-Policy"] == "no-referrer" and "noindex" in shared.headers["X-Robots-Tag"]
    html = shared.text
    assert "Bread &lt;basics&gt;" in html and f"@{ADA.username}" in html and SHARED_TEXT in html
    assert "2025-10-09" in html  # the video's date
    assert OTHER_TEXT not in html and "Knives" not in html and ADA.open_id not in html
    parsed = addresses(html)
    assert "form" not in parsed.tags and "nav" not in parsed.tags and 'id="theme-toggle"' not in html
    own = {f"{path}/transcript.{kind}" for kind in ("txt", "srt", "vtt")} | {f"{path}/cover"}
    assert own <= set(parsed.found)  # every download and the cover are the share's own
    strangers = [a for a in parsed.found if a not in own and not a.startswith("/assets/")]
    assert not strangers, f"the shared page links elsewhere: {len(strangers)} addresses"

    for kind, body in (("txt", SHARED_TEXT), ("srt", SRT), ("vtt", VTT)):
        download = fresh(f"{address}/transcript.{kind}")
        assert download.status_code == 200 and download.text == body and "Set-Cookie" not in download.headers
        assert download.headers["Referrer-Policy"] == "no-referrer"
        assert download.headers["Content-Disposition"] == f'attachment; filename="{SHARED_ID}.{kind}"'
    cover = fresh(f"{address}/cover")  # no video list named this video: the cover cache's placeholder
    assert cover.status_code == 200 and cover.headers["Content-Type"].startswith("image/")
    for asset in (a for a in parsed.found if a.startswith("/assets/")):
        assert fresh(app.url + asset).status_code == 200
    # the rest of the app is still shut to that browser
    for elsewhere in (page_of(SHARED_ID), page_of(OTHER_ID), f"/transcripts/{ADA.open_id}/{SHARED_ID}.txt", "/"):
        assert fresh(app.url + elsewhere).headers["Location"].startswith("/people/signin")


def test_past_app_password_and_off_this_machine_the_link_still_opens(serve_app, transcripts_dir):
    app = serve_app(TRANSCRIPTS_DIR=str(transcripts_dir), APP_PASSWORD=PASSWORD)  # the case the default cannot show
    token, _ = store_of(app.flask_app).create_share(ADA.open_id, SHARED_ID, created_by=ADA.open_id)
    shared = fresh(f"{app.url}/s/{token}")
    assert shared.status_code == 200 and SHARED_TEXT in shared.text and "Set-Cookie" not in shared.headers
    assert fresh(f"{app.url}/s/{token}/transcript.srt").text == SRT
    assert fresh(f"{app.url}/transcripts/").headers["Location"].startswith("/app-login/")  # the gate is on
    assert status(f"{app.url}/s/{'A' * 43}") == 404  # an address made up past the gate: not found, not a sign-in


def test_a_revoked_link_answers_what_a_made_up_one_does(app):
    ada = browser(app)
    sign_in(ada, ADA)
    address = make_link(ada)
    (link,) = store_of(app.flask_app).shares_of(ADA.open_id, SHARED_ID)
    made_up = f"{app.url}/s/{'x' * 43}"
    unknown = fresh(made_up)
    assert unknown.status_code == 404 and "Link not found" in unknown.text and "Set-Cookie" not in unknown.headers
    assert unknown.headers["Referrer-Policy"] == "no-referrer" and "nav" not in addresses(unknown.text).tags

    revoked = post(ada, f"/shares/{link.id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["Location"] == page_of(SHARED_ID)
    assert "The share link is revoked" in ada.get(page_of(SHARED_ID)).text
    gone = fresh(address)
    assert gone.status_code == 404 and gone.text == unknown.text and gone.headers["Content-Type"] == \
        unknown.headers["Content-Type"]
    for tail in ("/transcript.txt", "/transcript.srt", "/cover"):
        assert status(address + tail) == 404 and status(made_up + tail) == 404
    assert store_of(app.flask_app).shared(address.rsplit("/", 1)[1]) is None
    assert link.id not in share_ids(ada.get(page_of(SHARED_ID)).text)  # a revoked link is no longer listed

    # Same work for both: one indexed lookup of the token's hash and a constant-time compare. Median of 40 each,
    # alternating; the margin is generous (two cores shared with other test runs).
    times: dict[str, list[float]] = {"revoked": [], "unknown": []}
    for _ in range(40):
        for name, url in (("revoked", address), ("unknown", made_up)):
            started = time.perf_counter()
            assert status(url) == 404
            times[name].append(time.perf_counter() - started)
    revoked_ms, unknown_ms = (statistics.median(times[n]) * 1000 for n in ("revoked", "unknown"))
    print(f"404 median: revoked {revoked_ms:.2f} ms, unknown {unknown_ms:.2f} ms")
    assert abs(revoked_ms - unknown_ms) < max(10.0, 0.5 * min(revoked_ms, unknown_ms)), (revoked_ms, unknown_ms)


def test_a_member_cannot_revoke_anothers_link_but_the_owner_can(app):
    ada = browser(app)
    sign_in(ada, ADA)  # the owner, on this machine
    bo = browser(app, away=True)
    sign_in(bo, BO)
    assert post(ada, "/people/allow", {"open_id": BO.open_id}).status_code == 303
    owners = make_link(ada)
    members = make_link(bo)
    store = store_of(app.flask_app)
    by = {link.created_by: link for link in store.shares_of(ADA.open_id, SHARED_ID)}
    assert share_ids(bo.get(page_of()).text) == {by[BO.open_id].id}  # a member sees their own links
    assert share_ids(ada.get(page_of()).text) == {by[ADA.open_id].id, by[BO.open_id].id}  # the owner every one

    refused = post(bo, f"/shares/{by[ADA.open_id].id}/revoke")
    assert refused.status_code == 403 and status(owners) == 200
    assert post(bo, f"/shares/{by[BO.open_id].id}/revoke").status_code == 303 and status(members) == 404
    another = make_link(bo)
    (later,) = [link for link in store.shares_of(ADA.open_id, SHARED_ID) if link.created_by == BO.open_id]
    assert post(ada, f"/shares/{later.id}/revoke").status_code == 303  # the owner revokes a member's link
    assert status(another) == 404 and status(owners) == 200
    assert post(bo, "/shares/999999/revoke").status_code == 404

    stranger = browser(app, away=True)  # not signed in: no page, no link made
    made = stranger.http.post(app.url + f"/transcripts/{ADA.open_id}/{SHARED_ID}/shares", data={"csrf": "x"},
                              allow_redirects=False, timeout=15)
    assert made.status_code in (302, 400) and len(store.shares_of(ADA.open_id, SHARED_ID)) == 1


def test_request_logs_show_the_share_address_without_its_token(app, caplog):
    token, _ = store_of(app.flask_app).create_share(ADA.open_id, SHARED_ID, created_by=ADA.open_id)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert status(f"{app.url}/s/{token}") == 200
        assert status(f"{app.url}/s/{token}/transcript.vtt") == 200
        deadline = time.monotonic() + 10  # the server thread writes its line after the answer
        while time.monotonic() < deadline and sum("/s/***" in r.getMessage() for r in caplog.records) < 2:
            time.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert sum('"GET /s/*** HTTP/1.1" 200' in line for line in lines) == 1, "no redacted request line"
    assert sum('"GET /s/***/transcript.vtt HTTP/1.1" 200' in line for line in lines) == 1
    assert not any(token in line for line in lines), "a request line shows the token"
    assert redact(f"see http://127.0.0.1:5000/s/{token}?x=1") == "see http://127.0.0.1:5000/s/***?x=1"
    assert redact("/posts/s/keep-this and /assets/share.js") == "/posts/s/keep-this and /assets/share.js"


def test_deleting_a_transcript_ends_its_links_for_good(app, transcripts_dir):
    ada = browser(app)
    sign_in(ada, ADA)
    address = make_link(ada)
    deleted = ada.http.post(app.url + f"/transcripts/{ADA.open_id}/{SHARED_ID}/delete",
                            data={"csrf": csrf(ada, page_of())}, allow_redirects=False, timeout=15)
    assert deleted.status_code == 302 and status(address) == 404
    assert store_of(app.flask_app).shares_of(ADA.open_id, SHARED_ID) == []
    TranscriptStore(transcripts_dir).save(  # transcribed again: the old link stays dead
        TranscriptRecord(video_id=SHARED_ID, open_id=ADA.open_id, username=ADA.username, title="Bread again"),
        SHARED_TEXT, SRT, VTT)
    assert status(address) == 404
