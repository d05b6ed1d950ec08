"""The composer over real loopback HTTP: the app served in a thread against the strict emulator.

A real small MP4 goes up through the upload route, the form is posted as a browser (or a hand-made request) would,
and the post store, the media folder and the emulator's state show what happened. The composer adds to the store
(never to a manifest file); refusals leave the store as it was (no post, no change number spent).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tiktok.emulator.config import default_users
from tiktok.exitcodes import DONE
from tiktok.posting.composition import is_media_id
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.runner import RunOptions, run_queue
from tiktok.web.compose import original_name
from tiktok.web.creators import FRESH_S
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import padded_video, sha256_file
from tests.support.queue_workers import queue_post
from tests.support.uploads import SliceClient

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")
CREATOR_INFO = "/v2/post/publish/creator_info/query/"
EXISTING = {"user_id": ADA, "video_url": "https://cdn.example.com/earlier.mp4", "privacy": "SELF_ONLY",
            "post_at": "2031-01-01T09:00:00+01:00"}
WAIT_S = 30.0  # only reached when the background runner is broken
BERLIN = "Europe/Berlin"
GAP, TWICE = "2027-03-28T02:30", "2027-10-31T02:30"  # Berlin skips 02:00-03:00, then has it twice in October


class Page(HTMLParser):
    """The attributes of every element with an id, and the options of each select."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.ids: dict[str, dict[str, str]] = {}
        self.options: dict[str, list[dict[str, str]]] = {}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag == "select":
            self._select = a.get("id")
        elif tag == "option" and self._select:
            self.options.setdefault(self._select, []).append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None

    def text(self, element_id: str) -> str:
        match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', self.html, re.S)
        assert match, f"no #{element_id}"
        return re.sub(r"\s+", " ", match.group(1)).strip()

    def errors(self) -> list[str]:
        return re.findall(r'<li data-field="([^"]+)">', self.html)


class Composer:
    """The app, its post store and media folder, and a browser-like session on the composer."""

    def __init__(self, served, tmp_path: Path) -> None:
        self.served, self.app = served, served.flask_app
        self.web = served.client()
        self.manifest = tmp_path / "videos_to_upload.json"
        self.media = tmp_path / "media"
        self.settings = self.app.extensions["tiktok_services"].settings

    @property
    def store(self):
        return store_of(self.app)  # the app's own store object

    def page(self, open_id: str = ADA) -> requests.Response:
        return self.web.get(f"/posts/new?open_id={open_id}")

    def csrf(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.web.get("/").text).group(1)

    def upload(self, path: Path, open_id: str = ADA, token: str | None = None,
               name: str | None = None) -> requests.Response:
        """What compose.js sends: the file in slices (tests/support/uploads.py); the finish's answer, or the
        start's when it refused."""
        client = SliceClient(self.web.url, self.web.http, self.csrf() if token is None else token)
        return client.upload(path, open_id, name=name)

    def post(self, csrf: bool = True, **fields: str) -> requests.Response:
        data = {"csrf": self.csrf(), **fields} if csrf else fields
        response = self.web.http.post(f"{self.web.url}/posts/new", data=data, allow_redirects=False, timeout=15)
        self.web.pages.append(response.text)
        return response

    def posts(self) -> list:
        return list(self.store.every_post())

    def state(self) -> tuple:
        """What a refusal must leave as it was: every post and the store's change number."""
        return self.posts(), self.store.latest_change()

    def in_ten_minutes(self) -> tuple[str, float]:
        """A datetime-local value in Berlin ten minutes from the app's now, and that time as epoch seconds."""
        due = datetime.fromtimestamp(self.served.clock() + 600, ZoneInfo(BERLIN)).replace(microsecond=0)
        return due.strftime("%Y-%m-%dT%H:%M:%S"), due.timestamp()


@pytest.fixture
def composer(serve_app, emulator, oauth, store, tmp_path) -> Composer:
    for open_id in (ADA, BO):
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)
    served = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    return Composer(served, tmp_path)


@pytest.fixture
def queued(composer) -> tuple:
    """A store that already holds a post; its state, to show a refusal changed nothing."""
    queue_post(composer.store, EXISTING)
    return composer.state()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "bread.mp4")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """61 seconds: one more than Bo may post."""
    return make_video(tmp_path_factory.mktemp("clips") / "long.mp4", seconds=61, fps=24, width=360, height=360,
                      audio=False)


def valid_form(uploaded: str, open_id: str = ADA, **changes: str) -> dict[str, str]:
    """A form that passes every rule for the upload ``uploaded``; ``changes`` break one."""
    return {"open_id": open_id, "source": "upload", "media_id": uploaded, "description": "Crust and crumb",
            "tags": "#bread #baking", "privacy": "SELF_ONLY", "allow_comment": "on", "action": "now", **changes}


# -- the page ------------------------------------------------------------------------------------------------------

def test_the_page_names_the_creator_and_defaults_nothing(composer):
    response = composer.page(BO)
    assert response.status_code == 200
    page = Page(response.text)
    assert page.text("creator-nickname") == "Bo Sandbox"
    assert page.ids["account"]["tag"] == "select" and page.ids["account"]["name"] == "open_id"
    assert [o["value"] for o in page.options["account"] if "selected" in o] == [BO]
    assert "account-go" in page.ids  # the no-script way to switch accounts
    privacy = page.options["privacy"]
    assert privacy[0]["value"] == "" and "selected" in privacy[0] and "required" in page.ids["privacy"]
    assert "Choose who can see this post" in response.text
    assert [o["value"] for o in privacy[1:]] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    assert not any("selected" in o for o in privacy[1:])
    for box in ("allow-comment", "allow-duet", "allow-stitch", "disclose", "your-brand", "branded"):
        assert page.ids[box]["type"] == "checkbox" and "checked" not in page.ids[box], box
    assert "disabled" in page.ids["allow-stitch"] and "disabled" not in page.ids["allow-duet"]  # Bo: stitch off
    assert "Music Usage Confirmation" in page.text("consent-text")
    assert "Branded Content Policy" in page.ids["consent-text"]["data-branded"]
    assert "few minutes" in page.text("processing-note")
    assert page.ids["compose-form"]["data-max-duration"] == "60"
    assert "emulator" in page.text("compose-emulated") and "emulated-banner" in page.ids
    assert page.ids["post-at"]["type"] == "datetime-local" and page.ids["post-at"]["step"] == "1"
    assert page.ids["tz-offset"]["name"] == "offset" and page.ids["preview"]["tag"] == "video"
    assert {page.ids[b]["value"] for b in ("post-now", "post-schedule", "post-inbox")} == {"now", "schedule", "inbox"}


def test_with_no_account_connected_the_page_says_to_connect_one(serve_app):
    page = Page(serve_app().client().get("/posts/new").text)
    assert "no-accounts" in page.ids and "compose-form" not in page.ids


@pytest.mark.slow
def test_an_account_that_is_not_connected_is_not_found(composer):
    assert composer.page("no-such-account").status_code == 404


@pytest.mark.parametrize("fault, words", [
    ({"status": 200, "error": "spam_risk_too_many_posts"}, "daily limit of posts"),
    ({"status": 200, "error": "spam_risk_user_banned_from_posting"}, "does not allow this account to post"),
    ({"status": 503}, "did not answer"),
])
def test_when_tiktok_says_the_creator_cannot_post_the_page_says_why_and_shows_no_form(composer, remote, fault,
                                                                                      words):
    remote.inject_fault(CREATOR_INFO, **fault, times=3)
    response = composer.page(ADA)
    page = Page(response.text)
    assert "compose-form" not in page.ids and "creator-nickname" not in page.ids
    assert words in page.text("refusal-reason")
    if "error" in fault:
        assert response.status_code == 403 and fault["error"] in page.text("refusal-reason")  # TikTok's own code
    else:
        assert response.status_code == 503
    assert "account" in page.ids  # another account can still be chosen


@pytest.mark.slow
def test_an_account_whose_grant_is_gone_must_be_linked_again(composer, remote):
    remote.revoke_user(BO)
    page = Page(composer.page(BO).text)
    assert "compose-form" not in page.ids and "relink" in page.ids
    assert "linked again" in page.text("refusal-reason")


# -- upload, preview and posting -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_upload_is_stored_under_a_safe_name_checked_and_served_back_with_ranges(composer, clip):
    composer.page()
    answer = composer.upload(clip)
    assert answer.status_code == 200, answer.text
    media = answer.json()
    assert is_media_id(media["media_id"]) and media["media_id"].endswith("-bread.mp4")
    assert (composer.media / media["media_id"]).read_bytes() == clip.read_bytes()
    assert [p.name for p in composer.media.iterdir()] == [media["media_id"]]  # no temporary file left
    assert media["size_bytes"] == clip.stat().st_size and media["video_codec"] == "h264"
    assert (media["width"], media["height"], media["container"]) == (360, 640, "mp4")
    assert media["duration_s"] == pytest.approx(3.0, abs=0.2) and media["problems"] == []
    assert media["max_duration_s"] == 600
    part = composer.web.http.get(composer.web.url + media["preview_url"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and part.content == clip.read_bytes()[:100]
    assert part.headers["Content-Type"] == "video/mp4"
    for name in ("..%2Fuser_tokens.json", "user_tokens.json", media["media_id"].replace(".mp4", ".mkv")):
        assert composer.web.http.get(f"{composer.web.url}/posts/media/{name}", timeout=10).status_code == 404


@pytest.mark.slow
def test_a_composed_post_is_added_to_the_store_once_and_the_runner_posts_that_file(composer, clip, remote):
    composer.page()
    name = "Bread & butter – take 2 (final).mp4"  # what the person's file was called; the stored name is safe
    media = composer.upload(clip, name=name).json()
    assert media["original_name"] == name and media["media_id"].endswith("-Bread-butter-take-2-final.mp4")
    local, due = composer.in_ten_minutes()
    response = composer.post(**valid_form(media["media_id"], action="schedule", post_at_local=local, zone=BERLIN,
                                          offset="+05:00", media_name=media["original_name"]))
    assert response.status_code == 302 and response.headers["Location"].endswith("/posts/")
    (post,) = composer.posts()
    offset = datetime.fromtimestamp(due, ZoneInfo(BERLIN)).strftime("%z")
    assert post.entry == {"user_id": ADA, "video_path": str(composer.media.resolve() / media["media_id"]),
                          "description": "Crust and crumb", "tags": ["bread", "baking"], "privacy": "SELF_ONLY",
                          "disable_comment": False, "disable_duet": True, "disable_stitch": True,
                          "brand_organic_toggle": False, "brand_content_toggle": False,
                          "post_at": f"{local}{offset[:3]}:{offset[3:]}"}  # read in Berlin, not at the offset
    assert (post.origin, post.state, post.media_name, post.due_at) == ("app", "queued", name, due)
    assert not composer.manifest.exists()  # the composer never writes a manifest
    page = composer.web.get("/posts/").text
    flash = html.unescape(re.sub(r"<[^>]+>", "", re.search(r'class="flash flash-ok">(.*?)</p>', page, re.S).group(1)))
    assert flash.startswith(f"Added post {post.id} for @ada.creates ({name}, “Crust and crumb #bread #baking”) to "
                            "the queue: scheduled for ")
    card = re.search(rf'<article[^>]*data-id="{post.id}".*?</article>', page, re.S).group(0)
    assert f'<span class="media-name">{html.escape(name)}</span>' in card and 'data-state="scheduled"' in card
    report = run_queue(composer.store, composer.settings, RunOptions(poll_interval_s=0.01), clock=lambda: due + 5)
    assert [o.status for o in report.outcomes] == [DONE], report.outcomes
    (made,) = remote.state()["posts"]
    assert made["sha256"] == sha256_file(clip)
    assert made["post_info"]["title"] == "Crust and crumb #bread #baking"
    assert made["post_info"]["privacy_level"] == "SELF_ONLY" and made["post_info"]["disable_comment"] is False
    assert composer.store.get(post.id).state == "posted"


@pytest.mark.slow
def test_the_same_post_composed_twice_is_refused_and_the_store_keeps_one(composer, clip, remote):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    local, _ = composer.in_ten_minutes()
    form = valid_form(media_id, action="schedule", post_at_local=local, zone=BERLIN)
    assert composer.post(**form).status_code == 302
    (first,) = composer.posts()
    before = composer.state()
    later = datetime.fromisoformat(local) + timedelta(days=1)  # another time is still the same post
    again = composer.post(**{**form, "post_at_local": later.strftime("%Y-%m-%dT%H:%M:%S")})
    assert again.status_code == 409 and "store" in Page(again.text).errors()
    assert f"already holds this post as post {first.id} (queued)" in html.unescape(again.text)
    assert composer.state() == before


@pytest.mark.slow
def test_post_now_kicks_the_background_runner(composer, clip, remote):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    assert composer.post(**valid_form(media_id)).status_code == 302
    (post,) = composer.posts()
    assert "post_at" not in post.entry and post.due_at is None
    assert runner_of(composer.app).join(WAIT_S)
    (made,) = remote.state()["posts"]
    assert made["sha256"] == sha256_file(clip) and made["status"] == "PUBLISH_COMPLETE"
    assert composer.store.get(post.id).state == "posted"


@pytest.mark.slow
def test_send_to_inbox_needs_no_privacy_or_toggles_and_goes_out_as_a_draft(composer, clip, remote):
    composer.page(BO)
    media_id = composer.upload(clip, BO).json()["media_id"]
    form = valid_form(media_id, BO, action="inbox", allow_stitch="on")
    del form["privacy"]
    assert composer.post(**form).status_code == 302
    (post,) = composer.posts()
    assert post.entry == {"user_id": BO, "video_path": str(composer.media.resolve() / media_id), "draft": True}
    assert runner_of(composer.app).join(WAIT_S)
    (made,) = remote.state()["posts"]
    assert made["status"] == "SEND_TO_USER_INBOX" and made["sha256"] == sha256_file(clip)
    assert composer.store.get(post.id).state == "inbox"


@pytest.mark.slow
@pytest.mark.parametrize("local, offset, words", [
    (GAP, "", "2027-03-28 02:30 does not exist in Europe/Berlin"),
    (GAP, "+02:00", "2027-03-28 02:30 does not exist in Europe/Berlin"),  # what Chrome computes for it
    (TWICE, "", "2027-10-31 02:30 happens twice in Europe/Berlin"),
    (TWICE, "+02:00", "2027-10-31 02:30 happens twice in Europe/Berlin"),  # the browser's guess is no choice
])
def test_a_time_daylight_saving_skips_or_repeats_is_refused_never_shifted(composer, clip, queued, local, offset,
                                                                          words):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    response = composer.post(**valid_form(media_id, action="schedule", post_at_local=local, zone=BERLIN,
                                          offset=offset))
    assert response.status_code == 400 and Page(response.text).errors() == ["post_at_local"]
    assert words in html.unescape(response.text)
    assert Page(response.text).ids["post-at"]["value"] == local  # the form keeps what the person picked
    assert composer.state() == queued


def test_a_store_that_cannot_be_used_is_a_503_on_the_form_and_nothing_is_added(serve_app, emulator, oauth, store,
                                                                               clip, tmp_path):
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all\n" * 100)
    composer = Composer(serve_app(STORE_FILE=str(broken), MEDIA_DIR=str(tmp_path / "media")), tmp_path)
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    response = composer.post(**valid_form(media_id))
    assert response.status_code == 503 and Page(response.text).errors() == ["store"]
    assert str(broken) in html.unescape(response.text) and "Traceback" not in response.text
    assert broken.read_bytes() == b"not a database at all\n" * 100


# -- refusals: a 400 naming the field, and the store unchanged -----------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("open_id, changes, field", [
    pytest.param(ADA, {"privacy": ""}, "privacy", id="privacy-missing"),
    pytest.param(BO, {"allow_stitch": "on"}, "allow_stitch", id="stitch-the-creator-disabled"),
    pytest.param(ADA, {"disclose": "on", "branded": "on"}, "branded", id="branded-content-only-me"),
    pytest.param(ADA, {"disclose": "on"}, "disclose", id="disclosure-with-nothing-chosen"),
    pytest.param(ADA, {"description": "😀" * 1100}, "description", id="caption-over-2200-units"),
    pytest.param(ADA, {"action": "schedule", "post_at_local": "2020-01-01T09:00", "offset": "+01:00"},
                 "post_at_local", id="schedule-in-the-past"),
    pytest.param(ADA, {"media_id": "../user_tokens.json"}, "media_id", id="media-id-outside-the-folder"),
    pytest.param(ADA, {"media_id": "0123456789abcdef0123456789abcdef.mp4"}, "media_id", id="media-id-unknown"),
    pytest.param(ADA, {"source": "photos", "allow_comment": "", "allow_duet": "on",
                       "photo_urls": "https://cdn.example.com/a.jpg"}, "allow_duet", id="duet-on-photos"),
])
def test_a_hand_made_post_breaking_a_rule_is_refused_and_nothing_is_saved(composer, clip, queued, open_id, changes,
                                                                          field):
    composer.page(open_id)
    media_id = composer.upload(clip, open_id).json()["media_id"]
    response = composer.post(**valid_form(media_id, open_id, **changes))
    assert response.status_code == 400
    page = Page(response.text)
    assert field in page.errors(), page.errors()
    assert f"<strong>{field}</strong>" not in response.text and "Nothing was added" in response.text  # its label
    assert re.search(r"<strong>[A-Z][^<_]*</strong>:", response.text), "the form's label, not the field's name"
    assert composer.state() == queued


@pytest.mark.slow
def test_a_video_longer_than_the_creator_may_post_is_flagged_at_upload_and_refused(composer, long_clip, queued):
    composer.page(BO)
    media = composer.upload(long_clip, BO).json()
    assert media["max_duration_s"] == 60
    limit = "over the longest video this account may post: 1 min"  # the page's words, not creator_info's field
    assert any(limit in p for p in media["problems"]), media["problems"]
    response = composer.post(**valid_form(media["media_id"], BO))
    assert response.status_code == 400 and "media_id" in Page(response.text).errors()
    assert limit in response.text and "max_video_post_duration_sec" not in response.text
    assert composer.state() == queued


def test_creator_info_is_asked_again_when_the_form_is_posted(composer, clip, remote, queued):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    remote.inject_fault(CREATOR_INFO, status=200, error="spam_risk_too_many_posts")
    composer.served.clock.advance(FRESH_S)  # the page's answer is kept that long (tiktok.web.creators)
    response = composer.post(**valid_form(media_id))
    assert response.status_code == 403 and "spam_risk_too_many_posts" in response.text
    assert "compose-form" not in Page(response.text).ids
    assert composer.state() == queued


@pytest.mark.slow
@pytest.mark.parametrize("csrf, open_id, status", [(False, ADA, 400), (True, "no-such-account", 400)])
def test_a_post_without_the_token_or_for_an_unknown_account_saves_nothing(composer, clip, queued, csrf, open_id,
                                                                         status):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    assert composer.post(csrf=csrf, **valid_form(media_id, open_id)).status_code == status
    assert composer.state() == queued


# -- the upload route's guards -------------------------------------------------------------------------------------

def test_an_upload_without_the_page_token_is_refused_before_anything_is_stored(composer, clip):
    composer.page()
    answer = composer.upload(clip, token="forged")
    assert answer.status_code == 400 and "reload" in answer.json()["error"]
    assert not composer.media.exists() or list(composer.media.iterdir()) == []


def test_an_upload_tiktok_refuses_for_the_creator_is_not_stored(composer, clip, remote):
    remote.inject_fault(CREATOR_INFO, status=200, error="spam_risk_too_many_posts")
    answer = composer.upload(clip)
    assert answer.status_code == 403 and "spam_risk_too_many_posts" in answer.json()["error"]
    assert not composer.media.exists() or list(composer.media.iterdir()) == []


def test_a_file_that_is_no_video_is_refused_and_deleted(composer, tmp_path):
    composer.page()
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 100)
    answer = composer.upload(text)
    assert answer.status_code == 422 and "cannot be read as a video" in answer.json()["error"]
    assert list(composer.media.iterdir()) == []


def test_a_file_announced_over_4_gb_is_refused_before_a_byte_is_sent(composer):
    composer.page()
    answer = SliceClient(composer.web.url, composer.web.http, composer.csrf()).start(ADA, "huge.mp4",
                                                                                    MAX_VIDEO_BYTES + 1)
    assert answer.status_code == 413 and "4 GB" in answer.json()["error"]
    assert not composer.media.exists() or list(composer.media.iterdir()) == []


@pytest.mark.parametrize("sent, kept", [
    ("holiday.mp4", "holiday.mp4"),
    ("C:\\fakepath\\Holiday 2026.mov", "Holiday 2026.mov"),  # what some browsers send: the folder goes
    ("../../etc/passwd", "passwd"),
    ("  spaced out .webm ", "spaced out .webm"),
    ("bell\x07\nname.mp4", "bellname.mp4"),  # no control characters reach the page
    ("", None),
    ("x" * 300 + ".mp4", "x" * 200),
])
def test_the_original_name_is_kept_without_folders_or_control_characters(sent, kept):
    assert original_name(sent) == kept


# -- memory --------------------------------------------------------------------------------------------------------

def measure_upload(video: str, folder: str) -> dict:
    """In a fresh process: the emulator and the app in threads, one linked account, ``video`` uploaded through the
    app; the peak RSS before and after (ru_maxrss is a high-water mark, so it must start from this process)."""
    import resource

    from tiktok.auth.oauth import OAuthClient
    from tiktok.auth.tokens import TokenStore
    from tiktok.emulator.server import start_emulator
    from tiktok.emulator.serving import serve_in_thread
    from tiktok.web.app import create_app
    from tests.conftest import LateApp

    with start_emulator() as emulator:
        tokens = Path(folder) / "user_tokens.json"
        oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                            client_secret=emulator.config.client_secret)
        link_account(emulator.url, TokenStore(tokens), oauth, ADA, scopes=SCOPES)
        holder = LateApp()
        running = serve_in_thread(holder, log_requests=False)
        holder.app = create_app({"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TOKENS_FILE": str(tokens),
                                 "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "PORT": str(running.port),
                                 "TIKTOK_API_BASE": emulator.url, "MEDIA_DIR": str(Path(folder) / "media"),
                                 "MANIFEST_FILE": str(Path(folder) / "videos_to_upload.json")})
        try:
            web = requests.Session()
            page = web.get(f"{running.url}/posts/new?open_id={ADA}", timeout=10).text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
            answer = SliceClient(running.url, web, token, timeout_s=120).upload(Path(video), ADA, name="big.mp4")
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        finally:
            running.shutdown()
    return {"before": before, "after": after, "status": answer.status_code, "answer": answer.json()}


@pytest.mark.slow
def test_a_300_mb_upload_streams_without_the_app_holding_it_in_memory(tmp_path):
    size = 300_000_000
    video = padded_video(tmp_path / "big.mp4", size)
    code = ("import json, sys; from tests.test_composer_web import measure_upload; "
            "print(json.dumps(measure_upload(sys.argv[1], sys.argv[2])))")
    done = subprocess.run([sys.executable, "-c", code, str(video), str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["answer"]["size_bytes"] == size, result
    stored = tmp_path / "media" / result["answer"]["media_id"]
    assert stored.stat().st_size == size
    grown = result["after"] - result["before"]
    assert grown < 50_000_000, f"peak memory grew by {grown / 1e6:.0f} MB for a {size / 1e6:.0f} MB upload"


def test_with_an_s3_media_store_the_composed_post_names_the_bucket_object_and_is_posted_from_it(
        serve_app, emulator, oauth, store, tmp_path, clip, remote, s3_server, aws_env):
    """MEDIA_STORE=s3://...: the kept upload goes into the bucket at compose time and the entry names its key, so a
    worker on any machine can post it; here the app's runner, from a folder whose local copy was deleted."""
    import boto3
    requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="team-media")
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    served = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"),
                       MEDIA_STORE="s3://team-media/tiktok", AWS_ENDPOINT_URL_S3=s3_server)
    composer = Composer(served, tmp_path)
    composer.page()
    media = composer.upload(clip, name="bread.mp4").json()
    response = composer.post(**valid_form(media["media_id"], action="schedule", media_name="bread.mp4",
                                          post_at_local=composer.in_ten_minutes()[0], zone=BERLIN))
    assert response.status_code == 302, response.text[:2000]
    (post,) = composer.posts()
    key = post.entry["video_media"]
    assert "video_path" not in post.entry and key == sha256_file(clip) + ".mp4"
    listed = boto3.client("s3", endpoint_url=s3_server).list_objects_v2(Bucket="team-media")["Contents"]
    assert [item["Key"] for item in listed] == [f"tiktok/{key}"]
    for copy in (tmp_path / "media").rglob(key):  # this machine's copies: a worker elsewhere has none
        copy.unlink()
    report = run_queue(composer.store, composer.settings, RunOptions(poll_interval_s=0.01),
                       clock=lambda: served.clock() + 3600)
    assert [o.status for o in report.outcomes] == [DONE], report.outcomes
    (made,) = remote.state()["posts"]
    assert made["sha256"] == sha256_file(clip)
