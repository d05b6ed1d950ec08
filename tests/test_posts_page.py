"""The Posts page served on loopback against the emulator: cards for the states real runs leave behind, Retry
through the app's background runner, Edit / Reschedule / Cancel through the manifest queue and every refusal of
them (nothing changed), the JSON fragment posts.js polls, and files that cannot be read. The form-time helpers are
pure and tested as tables at the end."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.fields import parse_post_at
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES
from tiktok.posting.queue import ManifestQueue
from tiktok.posting.results import ResultsStore, results_path_for
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.retry import Runtime
from tiktok.web.posts import check_future, post_at_from, tags_from
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.posting import padded_video

ADA, BO, _ = (u.open_id for u in default_users())
WAIT_S = 30.0  # only ever reached when the runner is broken
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    # The app's runner waits 1 s between status fetches; with no processing polls its first fetch is final.
    return EmulatorConfig(processing_polls=0)


# -- reading the page ----------------------------------------------------------------------------------------------

@dataclass
class CardView:
    group: str
    key: str
    state: str
    number: int
    text: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (class, href)
    images: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)  # actions
    buttons: list[str] = field(default_factory=list)  # classes of buttons and button-like links

    def link(self, css_class: str) -> str | None:
        return next((href for cls, href in self.links if css_class in cls.split()), None)


class BoardParser(HTMLParser):
    """The cards of a Posts page (or of the /posts/board fragment), as a person would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.group = ""
        self.cards: list[CardView] = []
        self.card: CardView | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "data-group" in a:
            self.group = a["data-group"]
        elif tag == "article" and "post-card" in a.get("class", "").split():
            self.card = CardView(self.group, a["data-key"], a["data-state"], int(a["data-number"]))
            self.cards.append(self.card)
        elif self.card is not None:
            if tag == "a":
                self.card.links.append((a.get("class", ""), a.get("href", "")))
                self.card.buttons.append(a.get("class", ""))
            elif tag == "img":
                self.card.images.append(a.get("src", ""))
            elif tag == "form":
                self.card.forms.append(a.get("action", ""))
            elif tag == "button":
                self.card.buttons.append(a.get("class", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.card = None

    def handle_data(self, data: str) -> None:
        if self.card is not None:
            self.card.text = " ".join(f"{self.card.text} {data}".split())


def cards_of(page: str) -> list[CardView]:
    parser = BoardParser()
    parser.feed(page)
    return parser.cards


def flashes(page: str) -> list[tuple[str, str]]:
    return [(kind, html.unescape(" ".join(text.split())))
            for kind, text in re.findall(r'<p class="flash flash-(\w+)">(.*?)</p>', page, re.DOTALL)]


def at(seconds_from_now: float, zone: timezone = PLUS_TWO) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)).astimezone(zone).isoformat(
        timespec="seconds")


# -- the app, a linked account, a clip and the manifest --------------------------------------------------------------

class PostsSite:
    """The app on loopback with Ada linked through its own login, a clip beside the manifest, and ways to run."""

    def __init__(self, serve_app, emulator, folder: Path) -> None:
        self.folder = folder
        self.manifest = folder / "videos_to_upload.json"
        self.served = serve_app(MANIFEST_FILE=str(self.manifest))
        self.emulator = emulator
        self.web = self.served.client()
        assert self.web.login(open_id=ADA).status_code == 302
        make_video(folder / "clip.mp4")
        self.queue = ManifestQueue(self.manifest, allow_loopback=True)
        self.results = ResultsStore(results_path_for(self.manifest))

    def add(self, **fields) -> str:
        return self.queue.add({"user_id": ADA, "video_path": "clip.mp4", "privacy": "PUBLIC_TO_EVERYONE", **fields})

    def run_in_app(self) -> None:
        """One round of the app's own background runner (what Retry and the tick start)."""
        runner = runner_of(self.served.flask_app)
        runner.kick()
        assert runner.join(WAIT_S), "the app's posting run did not end"

    def fail_next_post(self, reason: str = "spam_risk_text") -> None:
        requests.post(self.emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": reason},
                      timeout=10).raise_for_status()

    def page(self) -> str:
        response = self.web.get("/posts/")
        assert response.status_code == 200, response.text[:500]
        return response.text

    def cards(self) -> dict[str, CardView]:
        return {card.key or f"entry-{card.number}": card for card in cards_of(self.page())}

    def board(self) -> dict:
        response = self.web.get("/posts/board")
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
        return response.json()

    def act(self, key: str, action: str, **form) -> list[tuple[str, str]]:
        """Press a card's button (with the page's CSRF token); the flash messages of the page it lands on."""
        response = self.web.post_form(f"/posts/{key}/{action}", form)
        assert response.status_code == 200 and response.url.endswith("/posts/"), response.text[:500]
        return flashes(response.text)


@pytest.fixture
def site(serve_app, emulator, tmp_path) -> PostsSite:
    return PostsSite(serve_app, emulator, tmp_path)


# -- cards for what real runs leave behind ---------------------------------------------------------------------------

def test_cards_and_groups_show_what_a_real_run_left(site, remote):
    remote.inject_fault("/v2/post/publish/video/init/", status=403, error="spam_risk_too_many_posts",
                        message="This user has posted too much.")
    site.fail_next_post("spam_risk_text")
    blocked = site.add(description="refused at init")
    refused = site.add(description="refused by TikTok")
    posted = site.add(description="goes out", tags=["bread"])
    later = site.add(description="for tomorrow", post_at=at(86400))
    before = site.cards()
    assert {k: (c.group, c.state) for k, c in before.items()} == {
        blocked: ("upcoming", "due"), refused: ("upcoming", "due"), posted: ("upcoming", "due"),
        later: ("upcoming", "scheduled")}
    assert site.board()["moving"] is True  # due entries: the page keeps polling

    site.run_in_app()
    cards = site.cards()
    assert {k: (c.group, c.state) for k, c in cards.items()} == {
        blocked: ("failed", "failed"), refused: ("failed", "failed"), posted: ("done", "posted"),
        later: ("upcoming", "scheduled")}

    log_id = site.results.get(blocked).log_id  # an API error: TikTok's code, message and log_id
    assert log_id and (f"TikTok refused: spam_risk_too_many_posts: This user has posted too much. (log_id {log_id})"
                       in cards[blocked].text)
    status_log_id = site.results.get(refused).log_id  # status FAILED: TikTok's fail_reason and that answer's log_id
    assert status_log_id and f"TikTok failed the post: spam_risk_text (log_id {status_log_id})" in cards[refused].text
    for key in (blocked, refused):
        assert cards[key].buttons == ["button small retry"] and cards[key].forms == [f"/posts/{key}/retry"]

    done = cards[posted]
    (post_id,) = next(p for p in remote.state()["posts"] if p["status"] == "PUBLISH_COMPLETE")["post_ids"]
    link = done.link("post-link")
    assert link == f"{site.emulator.url}/@ada.creates/video/{post_id}"  # the emulator's share page, not tiktok.com
    assert "View on the emulator" in done.text and "this post is not on TikTok" in done.text and "emulated" in done.text
    assert "@ada.creates" in done.text and "Ada Creator" in done.text and "goes out #bread" in done.text
    assert "clip.mp4" in done.text and done.images and done.images[0].startswith(site.emulator.url)
    share = requests.get(link, timeout=10)
    assert share.status_code == 200 and "nothing here reaches TikTok" in share.text

    waiting = cards[later]
    assert "in 23 h" in waiting.text or "in 1 d" in waiting.text
    assert [action.rsplit("/", 1)[1] for action in waiting.forms] == ["reschedule", "cancel"]
    assert waiting.link("edit") == f"/posts/{later}/edit"
    page = site.page()
    assert "tiktok.com" not in "".join(href for c in cards_of(page) for _, href in c.links)
    assert "EMULATED" in page and 'id="board"' in page and "posts.css" in page
    assert site.board()["moving"] is False  # nothing moves: posts.js stops polling


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(processing_polls=1)])  # one "processing" answer
def test_uploading_and_processing_show_on_the_page_while_a_run_works(site, remote):
    padded_video(site.folder / "big.mp4", 70_000_000)  # sparse; seven chunks of DEFAULT_CHUNK_BYTES
    key = site.add(video_path="big.mp4", privacy="SELF_ONLY")
    seen: dict[str, dict] = {}

    def look(when: str) -> None:
        if when not in seen:
            board = site.board()
            seen[when] = {"moving": board["moving"], "card": next(c for c in board["cards"] if c["key"] == key),
                          "refusal": site.act(key, "cancel")}

    def progress(label: str, total: int):
        def update(n: int) -> None:
            update.sent += n
            if update.sent > DEFAULT_CHUNK_BYTES:  # inside the second chunk: the first one is recorded as sent
                look("uploading")
        update.sent = 0
        return update

    settings = site.served.flask_app.extensions["tiktok_services"].settings
    report = run_queue(site.manifest, settings, RunOptions(poll_interval_s=0.01),
                       hooks=Hooks(say=lambda line: None, progress=progress,
                                   runtime=lambda: Runtime(sleep=lambda s: look("processing"))))
    assert [o.status for o in report.outcomes] == ["done"]
    uploading, processing = seen["uploading"], seen["processing"]
    assert uploading["moving"] and uploading["card"]["state"] == "uploading"
    assert uploading["card"]["progress"] == [DEFAULT_CHUNK_BYTES, 70_000_000]
    assert uploading["card"]["detail"] == "10.0 MB of 70.0 MB sent"
    assert processing["moving"] and processing["card"]["state"] == "processing"
    assert processing["card"]["group"] == "in_progress"
    assert uploading["refusal"] == [("warning", "Entry 1 is uploading: it can no longer be cancelled.")]
    assert processing["refusal"] == [("warning", "Entry 1 is processing: it can no longer be cancelled.")]
    assert json.loads(site.manifest.read_text())[0]["video_path"] == "big.mp4"
    assert site.cards()[key].state == "posted" and len(remote.state()["posts"]) == 1


# -- Retry ----------------------------------------------------------------------------------------------------------

def test_retry_posts_a_failed_entry_again_through_the_background_runner(site, remote):
    site.fail_next_post("spam_risk_text")
    key = site.add(description="second time lucky")
    site.run_in_app()
    assert site.cards()[key].state == "failed" and len(remote.state()["posts"]) == 1
    site.run_in_app()  # a failure for good waits for a person: a run by itself posts nothing
    assert len(remote.state()["posts"]) == 1

    assert site.act(key, "retry") == [("ok", "Entry 1 will be posted again: the runner has started.")]
    assert runner_of(site.served.flask_app).join(WAIT_S)
    card = site.cards()[key]
    assert card.state == "posted" and card.link("post-link")
    statuses = sorted(p["status"] for p in remote.state()["posts"])
    assert statuses == ["FAILED", "PUBLISH_COMPLETE"]  # exactly two posts: the failed one and the retry

    again = site.act(key, "retry")
    assert again == [("warning", "Entry 1 is posted: there is nothing to retry.")]
    assert len(remote.state()["posts"]) == 2


def test_retry_without_the_csrf_token_is_refused_and_marks_nothing(site):
    site.fail_next_post()
    key = site.add()
    site.run_in_app()
    before = site.results.path.read_bytes()
    response = site.web.http.post(f"{site.web.url}/posts/{key}/retry", data={}, timeout=10)
    assert response.status_code == 400
    assert site.results.path.read_bytes() == before and not site.results.get(key).retry_requested


# -- Edit, Reschedule, Cancel ---------------------------------------------------------------------------------------

def test_cancel_takes_the_entry_out_of_the_manifest(site):
    keep = site.add(description="keep", post_at=at(3600))
    drop = site.add(description="drop", post_at=at(7200))
    assert site.act(drop, "cancel") == [
        ("ok", "Cancelled entry 2 (clip.mp4): it is out of the manifest and will not be posted.")]
    assert [e["description"] for e in json.loads(site.manifest.read_text())] == ["keep"]
    assert list(site.cards()) == [keep]


def test_reschedule_uses_the_browsers_offset(site):
    key = site.add(post_at=at(3600))
    target = datetime.now(timezone(timedelta(hours=5, minutes=30))) + timedelta(days=2)
    local = target.strftime("%Y-%m-%dT%H:%M")
    assert site.act(key, "reschedule", post_at_local=local, offset="+05:30") == [
        ("ok", f"Entry 1 now posts at {local}+05:30.")]
    (entry,) = json.loads(site.manifest.read_text())
    assert entry["post_at"] == f"{local}+05:30"
    card = site.cards()[key]  # post_at is not part of the key: the same card, two days on
    assert card.state == "scheduled" and ("in 2 d" in card.text or "in 1 d" in card.text)


def test_edit_shows_the_entry_and_saves_caption_tags_and_time(site):
    written = at(3 * 3600)
    key = site.add(description="first draft", tags=["bread"], post_at=written)
    form = site.web.get(f"/posts/{key}/edit")
    moment = parse_post_at(written)
    assert form.status_code == 200 and "first draft</textarea>" in form.text and 'value="#bread"' in form.text
    assert f'value="{moment:%Y-%m-%dT%H:%M}"' in form.text and 'value="+02:00"' in form.text
    response = site.web.post_form(f"/posts/{key}/edit", {
        "description": "Sourdough, finally", "tags": "#bread, baking", "post_at_local": f"{moment:%Y-%m-%dT%H:%M}",
        "offset": "+02:00"})
    assert response.url.endswith("/posts/") and flashes(response.text) == [("ok", "Saved entry 1.")]
    (entry,) = json.loads(site.manifest.read_text())
    assert entry["description"] == "Sourdough, finally" and entry["tags"] == ["bread", "baking"]
    assert parse_post_at(entry["post_at"]) == moment.replace(second=0)
    (card,) = site.cards().values()
    assert card.key != key and "Sourdough, finally #bread #baking" in card.text  # a new caption is a new post


def test_an_unchanged_past_time_is_kept_when_only_the_caption_is_edited(site):
    written = at(-2 * 3600)  # missed: beyond the hour of grace
    key = site.add(description="late", post_at=written)
    assert site.cards()[key].state == "missed"
    moment = parse_post_at(written)
    response = site.web.post_form(f"/posts/{key}/edit", {
        "description": "late but fixed", "post_at_local": moment.strftime("%Y-%m-%dT%H:%M:%S"), "offset": "+02:00"})
    assert flashes(response.text) == [("ok", "Saved entry 1.")]
    (entry,) = json.loads(site.manifest.read_text())
    assert parse_post_at(entry["post_at"]) == moment and entry["description"] == "late but fixed"


# -- refusals: each changes nothing -------------------------------------------------------------------------------

@pytest.fixture
def posted_entry(site) -> str:
    key = site.add(description="already out")
    site.run_in_app()
    assert site.cards()[key].state == "posted"
    return key


FUTURE = {"post_at_local": (datetime.now(PLUS_TWO) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
          "offset": "+02:00"}


@pytest.mark.parametrize("action, form, words", [
    ("cancel", {}, "Entry 1 is posted: it can no longer be cancelled."),
    ("reschedule", FUTURE, "Entry 1 is posted: it can no longer be rescheduled."),
    ("edit", {"description": "too late", **FUTURE}, "Entry 1 is posted: it can no longer be edited."),
])
def test_a_started_entry_cannot_be_changed(site, posted_entry, action, form, words):
    before = site.manifest.read_bytes()
    assert site.act(posted_entry, action, **form) == [("warning", words)]
    assert site.manifest.read_bytes() == before
    page = site.web.get(f"/posts/{posted_entry}/edit")
    assert page.status_code == 409 and "it can no longer be edited" in page.text


@pytest.mark.parametrize("action, form", [("cancel", {}), ("reschedule", FUTURE),
                                          ("edit", {"description": "mine now", **FUTURE})])
def test_an_entry_claimed_by_a_running_run_cannot_be_changed(site, action, form):
    key = site.add(post_at=at(3600))
    holder, _ = site.results.claim(key)  # this test process is the run: alive, on this host
    assert holder is None
    before = site.manifest.read_bytes()
    ((kind, text),) = site.act(key, action, **form)
    assert kind == "warning" and text.startswith("Entry 1 can no longer be ")
    assert "a run is posting it right now (pid" in text
    assert site.manifest.read_bytes() == before
    site.results.release(key)
    assert site.act(key, "cancel")[0][0] == "ok"  # the claim gone, the same button works


@pytest.mark.parametrize("action, form", [("cancel", {}), ("reschedule", FUTURE), ("retry", {}),
                                          ("edit", {"description": "x"})])
def test_an_entry_no_longer_in_the_manifest_is_refused(site, action, form):
    key = site.add(description="old", post_at=at(3600))
    site.queue.update(key, {"description": "changed by hand meanwhile"})
    before = site.manifest.read_bytes()
    ((kind, text),) = site.act(key, action, **form)
    assert kind == "warning" and "no longer in the manifest" in text and "nothing was done" in text
    assert site.manifest.read_bytes() == before


@pytest.mark.parametrize("form, words", [
    ({"post_at_local": (datetime.now(PLUS_TWO) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "offset": "+02:00"},
     "is in the past: choose a time to come"),
    ({"post_at_local": "", "offset": "+02:00"}, "no new time was given"),
    ({"post_at_local": "next tuesday", "offset": "+02:00"}, "is not a date and time"),
    ({"post_at_local": "2030-01-01T09:00", "offset": "+99:00"}, "is not a date and time"),
])
def test_a_reschedule_to_no_time_or_a_past_time_is_refused(site, form, words):
    key = site.add(post_at=at(3600))
    before = site.manifest.read_bytes()
    ((kind, text),) = site.act(key, "reschedule", **form)
    assert kind == "warning" and text.startswith("Entry 1 was not rescheduled: ") and words in text
    assert site.manifest.read_bytes() == before


@pytest.mark.parametrize("form, words", [
    ({"description": "x" * 2201}, 'field "description"'),
    ({"post_at_local": (datetime.now(PLUS_TWO) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"), "offset": "+02:00"},
     "is in the past"),
    ({"description": "the twin"}, "entry 2 already makes this post"),
])
def test_an_invalid_edit_shows_the_form_again_and_changes_nothing(site, form, words):
    key = site.add(description="original", post_at=at(3600))
    site.add(description="the twin")
    before = site.manifest.read_bytes()
    response = site.web.post_form(f"/posts/{key}/edit", form)
    assert response.status_code == 400 and 'id="edit-error"' in response.text
    assert words in html.unescape(response.text)
    assert site.manifest.read_bytes() == before


@pytest.mark.parametrize("action", ["cancel", "reschedule", "edit"])
def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(site, action):
    key = site.add(post_at=at(3600))
    before = site.manifest.read_bytes()
    response = site.web.http.post(f"{site.web.url}/posts/{key}/{action}", data=FUTURE, timeout=10)
    assert response.status_code == 400
    assert site.manifest.read_bytes() == before


# -- the fragment posts.js polls ------------------------------------------------------------------------------------

def test_the_board_fragment_carries_the_same_cards_as_the_page(site):
    due = site.add(description="now")
    later = site.add(description="later", post_at=at(3600))
    board = site.board()
    assert board["moving"] is True and board["problem"] == ""
    assert [(c["key"], c["state"], c["group"]) for c in board["cards"]] == [
        (due, "due", "upcoming"), (later, "scheduled", "upcoming")]
    fragment = [(c.key, c.state, c.group) for c in cards_of(board["html"])]
    assert fragment == [(c.key, c.state, c.group) for c in cards_of(site.page())]
    assert 'id="group-in_progress"' in board["html"] and 'name="csrf"' in board["html"]
    site.run_in_app()
    after = site.board()
    assert after["moving"] is False
    assert [(c["state"], c["emulated"], bool(c["link"])) for c in after["cards"]] == [
        ("posted", True, True), ("scheduled", True, False)]  # every card of an emulated app says so
    assert 'data-moving="0"' in site.page()


# -- files that cannot be used ---------------------------------------------------------------------------------------

def test_no_manifest_yet_explains_how_to_start(site):
    page = site.page()
    assert 'id="no-posts"' in page and "No posts yet" in page and "upload_to_tiktok.py" in page
    assert site.board() == {"moving": False, "problem": "", "cards": [], "html": ""}


@pytest.mark.parametrize("which, text, words", [
    ("manifest", '[{"user_id": ', "malformed JSON at line 1"),
    ("results", "{not json", "is not a results file this tool wrote"),
    ("results", json.dumps({"version": 99, "records": {}}), "is not a results file this tool wrote"),
])
def test_a_broken_file_is_a_clear_message_not_an_error_page(site, which, text, words):
    site.add(post_at=at(3600))
    key = site.add(description="second", post_at=at(7200))
    path = site.manifest if which == "manifest" else site.results.path
    path.write_text(text)
    page = site.web.get("/posts/")
    assert page.status_code == 200
    problem = html.unescape(re.search(r'<p class="warning" id="posts-problem"[^>]*>(.*?)</p>', page.text,
                                      re.DOTALL).group(1))
    assert problem.startswith(str(path)) and words in problem and "Nothing was changed" in problem
    board = site.board()
    assert board["problem"] == problem and board["moving"] is False and board["cards"] == []
    before = site.manifest.read_bytes()
    ((kind, message),) = site.act(key, "cancel")
    assert kind == "warning" and str(path) in message
    assert site.manifest.read_bytes() == before


def test_an_invalid_entry_gets_its_own_card_with_the_validators_words(site):
    site.manifest.write_text(json.dumps([{"user_id": ADA, "video_path": "clip.mp4", "privacy": "EVERYONE"},
                                         {"user_id": ADA, "video_path": "clip.mp4"}]))
    cards = sorted(cards_of(site.page()), key=lambda c: c.number)  # the page shows Upcoming before Failed
    assert [(c.number, c.state, c.group) for c in cards] == [(1, "invalid", "failed"), (2, "due", "upcoming")]
    assert 'field "privacy"' in cards[0].text and str(site.manifest) in cards[0].text and not cards[0].forms


# -- the form-time helpers (pure) ------------------------------------------------------------------------------------

@pytest.mark.parametrize("local, offset, expected", [
    ("2026-12-03T09:00", "+01:00", "2026-12-03T09:00+01:00"),
    ("2026-12-03T09:00", "-05:30", "2026-12-03T09:00-05:30"),
    ("2026-12-03T09:00:30", "Z", "2026-12-03T09:00:30+00:00"),
    ("2026-12-03T09:00", "", "2026-12-03T09:00+02:00"),  # no script: the server's zone (here +02:00)
    ("", "+01:00", None),
    ("  ", "", None),
])
def test_post_at_from_a_form(local, offset, expected):
    assert post_at_from(local, offset, zone=PLUS_TWO) == expected


@pytest.mark.parametrize("local, offset", [("tomorrow", "+01:00"), ("2026-12-03T09:00", "+1 h"),
                                           ("2026-13-03T09:00", "+01:00")])
def test_post_at_from_a_form_refuses_what_is_no_time(local, offset):
    with pytest.raises(ValueError, match="is not a date and time"):
        post_at_from(local, offset)


@pytest.mark.parametrize("seconds_from_now, refused", [(-3600, True), (-61, True), (-30, False), (0, False),
                                                       (600, False)])
def test_check_future_allows_the_current_minute(seconds_from_now, refused):
    now = 1_796_000_000.0
    text = datetime.fromtimestamp(now + seconds_from_now, PLUS_TWO).isoformat()
    if refused:
        with pytest.raises(ValueError, match="is in the past"):
            check_future(text, now)
    else:
        check_future(text, now)


@pytest.mark.parametrize("text, tags", [("#bread #baking", ["bread", "baking"]),
                                        ("bread, baking,", ["bread", "baking"]), ("  ", []), ("# #x", ["x"])])
def test_tags_from_the_form(text, tags):
    assert tags_from(text) == tags
