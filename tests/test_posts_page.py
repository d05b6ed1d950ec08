"""The Posts page served on loopback against the emulator, over the post store it shares with cron and the CLI.

Cards for the states real runs leave behind (failed with TikTok's reason and log_id, uploading with the bytes sent,
processing, posted with the emulator's link, scheduled); Retry through the app's background runner; Edit,
Reschedule and Cancel changing the post in the store, and every refusal of them (started, changed meanwhile,
a time that does not exist), each leaving the store as it was; the groups a page at a time; the changes-only
fragment posts.js asks for; and a store that cannot be used. The form-time helpers are pure tables at the end.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.errors import StoreError
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.retry import Runtime
from tiktok.store.records import PostRecord, State
from tiktok.text import utc_iso
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.posting import padded_video
from tests.support.queue_workers import queue_post
from tests.support.stores import make_store

ADA, BO, _ = (u.open_id for u in default_users())
WAIT_S = 30.0  # only ever reached when the runner is broken
BERLIN = "Europe/Berlin"
GAP, TWICE = "2027-03-28T02:30", "2027-10-31T02:30"  # Berlin skips 02:00-03:00, then has it twice in October


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    # The app's runner waits 1 s between status fetches; with no processing polls its first fetch is final.
    return EmulatorConfig(processing_polls=0)


# -- reading the page ----------------------------------------------------------------------------------------------

@dataclass
class CardView:
    group: str
    id: int
    state: str
    revision: int
    text: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (class, href)
    images: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)  # actions
    buttons: list[str] = field(default_factory=list)  # classes of buttons and button-like links
    times: list[str] = field(default_factory=list)  # datetime of each <time class="moment">

    def link(self, css_class: str) -> str | None:
        return next((href for cls, href in self.links if css_class in cls.split()), None)

    @property
    def actions(self) -> list[str]:
        return [action.rsplit("/", 1)[1] for action in self.forms]


class BoardParser(HTMLParser):
    """The cards of a Posts page (or of a fragment of it), as a person would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.group = ""
        self.groups: list[str] = []
        self.more: dict[str, str] = {}  # group -> its "More" link
        self.cards: list[CardView] = []
        self.card: CardView | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "data-group" in a:
            self.group = a["data-group"]
            self.groups.append(self.group)
        elif tag == "a" and a.get("class") == "more-link":
            self.more[self.group] = a["href"]
        elif tag == "article" and "post-card" in a.get("class", "").split():
            self.card = CardView(self.group, int(a["data-id"]), a["data-state"], int(a["data-revision"]))
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
            elif tag == "time" and "moment" in a.get("class", "").split():
                self.card.times.append(a.get("datetime", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.card = None

    def handle_data(self, data: str) -> None:
        if self.card is not None:
            self.card.text = " ".join(f"{self.card.text} {data}".split())


def read_board(page: str) -> BoardParser:
    parser = BoardParser()
    parser.feed(page)
    return parser


def cards_of(page: str) -> list[CardView]:
    return read_board(page).cards


def flashes(page: str) -> list[tuple[str, str]]:
    return [(kind, html.unescape(re.sub(r"<[^>]+>", "", " ".join(text.split()))))
            for kind, text in re.findall(r'<p class="flash flash-(\w+)">(.*?)</p>', page, re.DOTALL)]


def local_in(zone: str, epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


# -- the app, a linked account, a clip and the store ---------------------------------------------------------------

class PostsSite:
    """The app on loopback with Ada linked through its own login, a clip, its store, and ways to run."""

    def __init__(self, serve_app, emulator, folder: Path, **env: str) -> None:
        self.folder = folder
        self.manifest = folder / "videos_to_upload.json"
        self.served = serve_app(MANIFEST_FILE=str(self.manifest), MEDIA_DIR=str(folder / "media"), **env)
        self.app = self.served.flask_app
        self.emulator = emulator
        self.web = self.served.client()
        assert self.web.login(open_id=ADA).status_code == 302
        self.clip = make_video(folder / "clip.mp4")
        self.store = store_of(self.app)

    @property
    def now(self) -> float:
        return self.served.clock()

    def add(self, **fields):
        """A post queued as the composer queues it (the same store call)."""
        return queue_post(self.store, {"user_id": ADA, "video_path": str(self.clip), "privacy": "SELF_ONLY",
                                       **fields})

    def at(self, seconds_from_now: float, zone: str = BERLIN) -> str:
        return datetime.fromtimestamp(self.now + seconds_from_now, ZoneInfo(zone)).isoformat(timespec="seconds")

    def run_in_app(self) -> None:
        """One round of the app's own background runner (what Retry, Post now and the tick start). With DATABASE_URL
        that round only hands the posts to the workers, so a posting run follows, the one a worker's job makes."""
        runner = runner_of(self.app)
        runner.kick()
        assert runner.join(WAIT_S), "the app's posting run did not end"
        settings = self.app.extensions["tiktok_services"].settings
        if settings.store.database_url:
            run_queue(self.store, settings, RunOptions(grace_s=settings.posting.post_grace_s), clock=self.served.clock,
                      hooks=Hooks(say=lambda line: None))

    @property
    def retry_says(self) -> str:
        """What the flash says comes after Retry: the app's runner starts, or (DATABASE_URL) the workers take it."""
        if self.app.extensions["tiktok_services"].settings.store.database_url:
            return "it is handed to the workers, but no worker is running: it waits until one starts " \
                   "(python -m tiktok worker)"
        return "the runner has started"

    def fail_next_post(self, reason: str = "spam_risk_text") -> None:
        requests.post(self.emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": reason},
                      timeout=10).raise_for_status()

    def page(self, query: str = "") -> str:
        response = self.web.get("/posts/" + query)
        assert response.status_code == 200, response.text[:500]
        return response.text

    def cards(self, query: str = "") -> dict[int, CardView]:
        return {card.id: card for card in cards_of(self.page(query))}

    def board(self, since: int | None = None) -> dict:
        response = self.web.get("/posts/board" + ("" if since is None else f"?since={since}"))
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
        return response.json()

    def act(self, post_id: int, action: str, **form) -> list[tuple[str, str]]:
        """Press a card's button (with the page's CSRF token); the flash messages of the page it lands on."""
        response = self.web.post_form(f"/posts/{post_id}/{action}", form)
        assert response.status_code == 200 and response.url.endswith("/posts/"), response.text[:500]
        return flashes(response.text)

    def snapshot(self, post_id: int):
        """What a refusal must leave as it was: the post and the store's change number."""
        return self.store.get(post_id), self.store.latest_change()


@pytest.fixture
def site(serve_app, emulator, tmp_path, store_kind, request) -> PostsSite:
    """The app on SQLite and on PostgreSQL (the store_kind parameter): every card and action below holds on both."""
    env = {} if store_kind == "sqlite" else make_store(store_kind, tmp_path, request).env  # the app opens its own
    return PostsSite(serve_app, emulator, tmp_path, **env)


# -- cards for what real runs leave behind ---------------------------------------------------------------------------

@pytest.mark.slow
def test_cards_and_groups_show_what_a_real_run_left(site, remote):
    remote.inject_fault("/v2/post/publish/video/init/", status=403, error="spam_risk_too_many_posts",
                        message="This user has posted too much.")
    site.fail_next_post("spam_risk_text")
    blocked = site.add(description="refused at init").id
    refused = site.add(description="refused by TikTok").id
    posted = site.add(description="goes out", tags=["bread"], privacy="PUBLIC_TO_EVERYONE").id
    later = site.add(description="for tomorrow", post_at=site.at(86400)).id
    before = site.cards()
    assert {i: (c.group, c.state) for i, c in before.items()} == {
        blocked: ("upcoming", "due"), refused: ("upcoming", "due"), posted: ("upcoming", "due"),
        later: ("upcoming", "scheduled")}
    assert site.board()["moving"] is True  # due posts: the page keeps looking

    site.run_in_app()
    page = site.page()
    board = read_board(page)
    assert board.groups == ["failed", "in_progress", "upcoming", "done"]  # needs attention first
    cards = {card.id: card for card in board.cards}
    assert {i: (c.group, c.state) for i, c in cards.items()} == {
        blocked: ("failed", "failed"), refused: ("failed", "failed"), posted: ("done", "posted"),
        later: ("upcoming", "scheduled")}

    log_id = site.store.get(blocked).record.log_id  # an API error: TikTok's code, message and log_id
    assert log_id and (f'code spam_risk_too_many_posts; TikTok said "This user has posted too much."; log_id {log_id}'
                       in cards[blocked].text)
    status_log_id = site.store.get(refused).record.log_id  # status FAILED: TikTok's fail_reason and its log_id
    assert status_log_id and f"TikTok failed the post: spam_risk_text (log_id {status_log_id})" in cards[refused].text
    for post_id in (blocked, refused):  # a failed post is retried, edited or cancelled
        assert cards[post_id].actions == ["retry", "cancel"] and cards[post_id].link("edit") == f"/posts/{post_id}/edit"

    done = cards[posted]
    (post_id,) = next(p for p in remote.state()["posts"] if p["status"] == "PUBLISH_COMPLETE")["post_ids"]
    link = done.link("post-link")
    assert link == f"{site.emulator.url}/@ada.creates/video/{post_id}"  # the emulator's share page, not tiktok.com
    assert "View on the emulator" in done.text and "this post is not on TikTok" in done.text and "emulated" in done.text
    assert "@ada.creates" in done.text and "Ada Creator" in done.text and "goes out #bread" in done.text
    assert "clip.mp4" in done.text and done.images and done.images[0].startswith(site.emulator.url)
    assert done.actions == [] and f"post {posted}" in done.text
    share = requests.get(link, timeout=10)
    assert share.status_code == 200 and "nothing here reaches TikTok" in share.text

    waiting = cards[later]
    assert "in 23 h" in waiting.text or "in 1 day" in waiting.text
    assert waiting.actions == ["reschedule", "cancel"] and waiting.link("edit") == f"/posts/{later}/edit"
    due_at = site.store.get(later).due_at
    assert waiting.times == [datetime.fromtimestamp(due_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert "tiktok.com" not in "".join(href for c in cards.values() for _, href in c.links)
    assert "EMULATED" in page and 'id="board"' in page and "posts.css" in page and "times.js" in page
    assert site.board()["moving"] is False  # nothing moves: posts.js stops looking


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(processing_polls=1)])  # one "processing" answer
def test_uploading_and_processing_show_on_the_page_while_a_run_works(site, remote):
    big = padded_video(site.folder / "big.mp4", 70_000_000)  # sparse; seven chunks of DEFAULT_CHUNK_BYTES
    post_id = site.add(video_path=str(big)).id
    seen: dict[str, dict] = {}

    def look(when: str) -> None:
        if when not in seen:
            board = site.board()
            seen[when] = {"moving": board["moving"], "card": next(c for c in board["cards"] if c["id"] == post_id),
                          "refusal": site.act(post_id, "cancel", revision=str(site.store.get(post_id).revision)),
                          "state": site.store.get(post_id).state}

    def progress(label: str, total: int):
        def update(n: int) -> None:
            update.sent += n
            if update.sent > DEFAULT_CHUNK_BYTES:  # inside the second chunk: the first one is recorded as sent
                look("uploading")
        update.sent = 0
        return update

    settings = site.app.extensions["tiktok_services"].settings
    report = run_queue(site.store, settings, RunOptions(poll_interval_s=0.01),
                       hooks=Hooks(say=lambda line: None, progress=progress,
                                   runtime=lambda: Runtime(sleep=lambda s: look("processing"))))
    assert [o.status for o in report.outcomes] == ["done"]
    uploading, processing = seen["uploading"], seen["processing"]
    assert uploading["moving"] and uploading["card"]["state"] == "uploading"
    assert uploading["card"]["progress"] == [DEFAULT_CHUNK_BYTES, 70_000_000]
    assert uploading["card"]["detail"] == "10 MB of 70 MB sent"
    assert processing["moving"] and processing["card"]["state"] == "processing"
    assert processing["card"]["group"] == "in_progress"
    assert uploading["refusal"] == [("warning", f"Post {post_id} can no longer be cancelled: a run has started it "
                                                "(it is uploading); nothing was changed.")]
    assert processing["refusal"] == [("warning", f"Post {post_id} can no longer be cancelled: a run has started it "
                                                 "(it is processing); nothing was changed.")]
    assert (uploading["state"], processing["state"]) == ("uploading", "processing")
    assert site.cards()[post_id].state == "posted" and len(remote.state()["posts"]) == 1


# -- Retry ----------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_retry_posts_a_failed_post_again_once_through_the_background_runner(site, remote):
    site.fail_next_post("spam_risk_text")
    post_id = site.add(description="second time lucky", privacy="PUBLIC_TO_EVERYONE").id
    site.run_in_app()
    assert site.cards()[post_id].state == "failed" and len(remote.state()["posts"]) == 1
    site.run_in_app()  # a failure for good waits for a person: a run by itself posts nothing
    assert len(remote.state()["posts"]) == 1

    assert site.act(post_id, "retry") == [("ok", f"Post {post_id} will be posted again: {site.retry_says}.")]
    site.run_in_app()
    card = site.cards()[post_id]
    assert card.state == "posted" and card.link("post-link")
    statuses = sorted(p["status"] for p in remote.state()["posts"])
    assert statuses == ["FAILED", "PUBLISH_COMPLETE"]  # exactly two posts: the failed one and the retry
    (earlier,) = site.store.attempts(post_id)  # the failed attempt is kept as the post's history
    assert earlier.fail_reason == "spam_risk_text"

    again = site.act(post_id, "retry")
    assert again == [("warning", f"Post {post_id} was not retried: it has no failed attempt to retry any more, or a "
                                 "run is working on it right now; nothing was done.")]
    site.run_in_app()
    assert len(remote.state()["posts"]) == 2


@pytest.mark.slow
def test_retry_without_the_csrf_token_is_refused_and_marks_nothing(site):
    site.fail_next_post()
    post_id = site.add().id
    site.run_in_app()
    before = site.snapshot(post_id)
    response = site.web.http.post(f"{site.web.url}/posts/{post_id}/retry", data={}, timeout=10)
    assert response.status_code == 400
    assert site.snapshot(post_id) == before and not before[0].record.retry_requested


# -- a failed post can be edited or cancelled, not only retried ----------------------------------------------------

@pytest.mark.slow
def test_a_failed_post_can_be_edited_and_then_retried_with_its_new_caption(site, remote):
    site.fail_next_post("spam_risk_text")
    post = site.add(description="buy now!!!")
    site.run_in_app()
    failed = site.store.get(post.id)
    assert site.act(post.id, "reschedule", **future(site, failed.revision)) == [
        ("warning", f"Post {post.id} failed, so it has no time to change: Retry posts it again as soon as a run takes "
                    "it; nothing was changed.")]
    assert site.store.get(post.id) == failed
    form = site.web.get(f"/posts/{post.id}/edit")
    assert form.status_code == 200 and "buy now!!!</textarea>" in form.text
    assert 'name="post_at_local"' not in form.text  # Retry posts it as soon as a run takes it: no time to pick
    response = site.web.post_form(f"/posts/{post.id}/edit", {"description": "Fresh bread", "tags": "#bread",
                                                              "revision": str(failed.revision)})
    assert flashes(response.text) == [("ok", f"Saved post {post.id}. It is still failed: press Retry to post it "
                                             "with these changes.")]
    edited = site.store.get(post.id)
    assert edited.entry["description"] == "Fresh bread" and edited.entry["tags"] == ["bread"]
    assert edited.state == "failed" and edited.revision == failed.revision + 1
    site.run_in_app()
    assert len(remote.state()["posts"]) == 1  # an edit is no retry

    site.act(post.id, "retry")
    site.run_in_app()
    assert site.store.get(post.id).state == "posted"
    retried = next(p for p in remote.state()["posts"] if p["status"] == "PUBLISH_COMPLETE")
    assert retried["post_info"]["title"] == "Fresh bread #bread"


@pytest.mark.slow
def test_a_failed_post_can_be_cancelled_and_no_run_posts_it(site, remote):
    site.fail_next_post("spam_risk_text")
    post = site.add(description="never mind")
    site.run_in_app()
    failed = site.store.get(post.id)
    assert site.act(post.id, "cancel", revision=str(failed.revision)) == [
        ("ok", f"Cancelled post {post.id}: it will not be posted (it stays in the store's history).")]
    cancelled = site.store.get(post.id)
    assert cancelled.state == "cancelled" and cancelled.record.fail_reason == "spam_risk_text"
    assert post.id not in site.cards()
    assert site.act(post.id, "retry")[0][0] == "warning"
    site.run_in_app()
    assert len(remote.state()["posts"]) == 1


# -- Edit, Reschedule, Cancel change the post in the store ---------------------------------------------------------

@pytest.mark.slow
def test_cancel_ends_the_post_in_the_store_and_takes_its_card_away(site):
    keep = site.add(description="keep", post_at=site.at(3600))
    drop = site.add(description="drop", post_at=site.at(7200))
    assert site.act(drop.id, "cancel", revision=str(drop.revision)) == [
        ("ok", f"Cancelled post {drop.id}: it will not be posted (it stays in the store's history).")]
    assert site.store.get(drop.id).state == "cancelled" and site.store.get(keep.id).state == "queued"
    assert list(site.cards()) == [keep.id]


@pytest.mark.slow
def test_reschedule_reads_the_time_in_the_browsers_zone(site):
    post = site.add(post_at=site.at(3600))
    target = datetime.fromtimestamp(site.now, ZoneInfo("Asia/Kolkata")).replace(second=0, microsecond=0) \
        + timedelta(days=2)
    local = target.strftime("%Y-%m-%dT%H:%M")
    ((kind, text),) = site.act(post.id, "reschedule", post_at_local=local, zone="Asia/Kolkata",
                               revision=str(post.revision))
    assert kind == "ok" and text.startswith(f"Post {post.id} now posts at ")
    moved = site.store.get(post.id)
    assert moved.entry["post_at"] == f"{local}:00+05:30" and moved.due_at == target.timestamp()
    assert moved.revision == post.revision + 1 and moved.key == post.key  # the same post, two days on
    card = site.cards()[post.id]
    assert card.state == "scheduled" and ("in 2 days" in card.text or "in 1 day" in card.text)
    assert card.times == [target.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")]


@pytest.mark.slow
def test_edit_shows_the_post_and_saves_caption_tags_and_time(site):
    written = site.at(3 * 3600)
    post = site.add(description="first draft", tags=["bread"], post_at=written)
    form = site.web.get(f"/posts/{post.id}/edit")
    moment = datetime.fromisoformat(written)
    assert form.status_code == 200 and "first draft</textarea>" in form.text and 'value="#bread"' in form.text
    instant = utc_iso(moment.timestamp())
    assert f'data-instant="{instant}"' in form.text and f'name="revision" value="{post.revision}"' in form.text
    local = moment.strftime("%Y-%m-%dT%H:%M")
    response = site.web.post_form(f"/posts/{post.id}/edit", {
        "description": "Sourdough, finally", "tags": "#bread, baking", "post_at_local": local, "zone": BERLIN,
        "revision": str(post.revision)})
    assert response.url.endswith("/posts/") and flashes(response.text) == [("ok", f"Saved post {post.id}.")]
    saved = site.store.get(post.id)
    assert saved.entry["description"] == "Sourdough, finally" and saved.entry["tags"] == ["bread", "baking"]
    assert saved.due_at == moment.replace(second=0).timestamp() and saved.revision == post.revision + 1
    card = site.cards()[post.id]
    assert "Sourdough, finally #bread #baking" in card.text and card.state == "scheduled"


@pytest.mark.slow
def test_an_unchanged_past_time_is_kept_when_only_the_caption_is_edited(site):
    written = site.at(-2 * 3600)  # missed: beyond the hour of grace
    post = site.add(description="late", post_at=written)
    card = site.cards()[post.id]
    assert (card.state, card.group) == ("missed", "failed")
    response = site.web.post_form(f"/posts/{post.id}/edit", {
        "description": "late but fixed", "post_at_local": written[:19], "zone": BERLIN,
        "revision": str(post.revision)})
    assert flashes(response.text) == [("ok", f"Saved post {post.id}.")]
    saved = site.store.get(post.id)
    assert saved.due_at == post.due_at and saved.entry["description"] == "late but fixed"


# -- refusals: each changes nothing ---------------------------------------------------------------------------------

def future(site: PostsSite, revision: int) -> dict[str, str]:
    return {"post_at_local": local_in(BERLIN, site.now + 86400), "zone": BERLIN, "revision": str(revision)}


@pytest.mark.slow
@pytest.mark.parametrize("action", ["cancel", "reschedule", "edit"])
def test_a_started_post_cannot_be_changed(site, action):
    post = site.add(description="already out")
    site.run_in_app()
    before = site.snapshot(post.id)
    assert before[0].state == "posted"
    form = {**future(site, before[0].revision), **({"description": "too late"} if action == "edit" else {})}
    words = {"cancel": "cancelled", "reschedule": "rescheduled", "edit": "edited"}[action]
    assert site.act(post.id, action, **form) == [
        ("warning", f"Post {post.id} can no longer be {words}: a run has started it (it is posted); nothing was "
                    "changed.")]
    assert site.snapshot(post.id) == before
    page = site.web.get(f"/posts/{post.id}/edit")
    assert page.status_code == 409 and f"Post {post.id} can no longer be edited: a run has started it" in page.text


@pytest.mark.slow
@pytest.mark.parametrize("action", ["cancel", "reschedule", "edit"])
def test_a_post_changed_meanwhile_is_refused_and_keeps_the_other_change(site, action):
    post = site.add(description="as the page showed it", post_at=site.at(3600))
    shown = post.revision  # the page was loaded, then someone else edited the post
    meanwhile = site.store.edit(post.id, {**post.entry, "description": "changed elsewhere"}, due_at=post.due_at,
                                revision=post.revision)
    before = site.snapshot(post.id)
    form = {**future(site, shown), **({"description": "mine"} if action == "edit" else {})}
    if action == "edit":
        response = site.web.post_form(f"/posts/{post.id}/edit", form)
        assert response.status_code == 400
        words = html.unescape(re.search(r'id="edit-error"[^>]*>(.*?)</p>', response.text, re.S).group(1))
        assert f"post {post.id} was changed meanwhile (reload to see it); nothing was changed" in words
    else:
        ((kind, text),) = site.act(post.id, action, **form)
        assert kind == "warning" and f"post {post.id} was changed meanwhile (reload to see it)" in text
    assert site.snapshot(post.id) == before and before[0].entry["description"] == "changed elsewhere"
    assert site.cards()[post.id].revision == meanwhile.revision  # the page now offers the current revision
    ((kind, _),) = site.act(post.id, "cancel", revision=str(meanwhile.revision))
    assert kind == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("action", ["cancel", "reschedule", "edit"])
def test_a_form_that_does_not_say_which_revision_it_changes_is_refused(site, action):
    post = site.add(description="as it is", post_at=site.at(3600))
    before = site.snapshot(post.id)
    form = {name: value for name, value in future(site, post.revision).items() if name != "revision"}
    if action == "edit":
        response = site.web.post_form(f"/posts/{post.id}/edit", {"description": "blind", **form})
        assert response.status_code == 400
        text = html.unescape(response.text)
    else:
        ((kind, text),) = site.act(post.id, action, **form)
        assert kind == "warning"
    assert f"the form did not say which version of post {post.id} it changes" in text
    assert site.snapshot(post.id) == before


@pytest.mark.slow
@pytest.mark.parametrize("action", ["cancel", "reschedule", "retry", "edit"])
def test_a_post_no_longer_in_the_store_is_refused(site, action):
    gone = 4242
    before = site.store.latest_change()
    form = future(site, 1)
    ((kind, text),) = site.act(gone, action, **form)
    assert kind == "warning" and f"Post {gone}" in text and "nothing was" in text
    assert site.store.latest_change() == before
    assert site.web.get(f"/posts/{gone}/edit").status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize("form, words", [
    ({"post_at_local": "PAST"}, "is in the past: choose a time to come"),
    ({"post_at_local": ""}, "no new time was given"),
    ({"post_at_local": "next tuesday"}, "is not a date and time"),
    ({"post_at_local": "2030-01-01T09:00", "zone": "Mars/Olympus"}, "is not a time zone this machine knows"),
    ({"post_at_local": GAP}, f"{GAP.replace('T', ' ')} does not exist in {BERLIN}"),
    ({"post_at_local": GAP, "offset": "+01:00"}, f"{GAP.replace('T', ' ')} does not exist in {BERLIN}"),
    ({"post_at_local": TWICE}, f"{TWICE.replace('T', ' ')} happens twice in {BERLIN}"),
    ({"post_at_local": TWICE, "offset": "+02:00"}, f"{TWICE.replace('T', ' ')} happens twice in {BERLIN}"),
])
def test_a_reschedule_to_no_time_a_past_time_or_a_daylight_saving_hole_is_refused(site, form, words):
    post = site.add(post_at=site.at(3600))
    if form["post_at_local"] == "PAST":
        form = {"post_at_local": local_in(BERLIN, site.now - 3600)}
    before = site.snapshot(post.id)
    ((kind, text),) = site.act(post.id, "reschedule", **{"zone": BERLIN, "revision": str(post.revision), **form})
    assert kind == "warning" and text.startswith(f"Post {post.id} was not rescheduled: ") and words in text
    assert site.snapshot(post.id) == before  # never shifted to the next hour, never changed


@pytest.mark.slow
@pytest.mark.parametrize("local, words", [(GAP, "does not exist in Europe/Berlin"),
                                          (TWICE, "happens twice in Europe/Berlin")])
def test_an_edit_to_a_daylight_saving_hole_is_refused_and_never_shifted(site, local, words):
    post = site.add(description="original", post_at=site.at(3600))
    before = site.snapshot(post.id)
    response = site.web.post_form(f"/posts/{post.id}/edit", {"description": "new", "post_at_local": local,
                                                              "zone": BERLIN, "revision": str(post.revision)})
    assert response.status_code == 400 and words in html.unescape(response.text)
    assert 'id="edit-error"' in response.text and f'value="{local}"' in response.text  # the form as it was sent
    assert site.snapshot(post.id) == before


@pytest.mark.slow
@pytest.mark.parametrize("form, words", [
    ({"description": "x" * 2201}, 'field "description"'),
    ({"post_at_local": "PAST"}, "is in the past"),
    ({"tags": "#bread # baking"}, "tag '#' is empty"),  # refused as the composer refuses it, never dropped
    ({"post_at_local": "2030-01-01 09:00"}, "is not a date and time"),  # the composer's rule for a time too
])
def test_an_invalid_edit_shows_the_form_again_and_changes_nothing(site, form, words):
    post = site.add(description="original", post_at=site.at(3600))
    if form.get("post_at_local") == "PAST":
        form = {"post_at_local": local_in(BERLIN, site.now - 86400)}
    before = site.snapshot(post.id)
    response = site.web.post_form(f"/posts/{post.id}/edit", {"zone": BERLIN, "revision": str(post.revision),
                                                              **form})
    assert response.status_code == 400 and 'id="edit-error"' in response.text
    assert words in html.unescape(response.text)
    assert site.snapshot(post.id) == before


@pytest.mark.slow
@pytest.mark.parametrize("action", ["cancel", "reschedule", "edit"])
def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(site, action):
    post = site.add(post_at=site.at(3600))
    before = site.snapshot(post.id)
    response = site.web.http.post(f"{site.web.url}/posts/{post.id}/{action}", data=future(site, post.revision),
                                  timeout=10)
    assert response.status_code == 400
    assert site.snapshot(post.id) == before


# -- a page at a time, and only what changed --------------------------------------------------------------------

class Ticker:
    """A store clock that moves one second a call, so "newest first" has one answer."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def posted_record(post, n: int) -> PostRecord:
    return PostRecord(key=post.key, user_id=post.user_id, state=State.POSTED, publish_id=f"p{n}", post_ids=(7300 + n,),
                      username="ada.creates", privacy="SELF_ONLY", emulated=True, outcome="done")


def finish(store, post, n: int) -> None:
    """Leave ``post`` as a run that posted it leaves it: an attempt started, then its record saved as posted."""
    assert store.start(post.id, post.revision, PostRecord(key=post.key, user_id=post.user_id, state=State.PENDING_INIT))
    store.save(post.id, posted_record(post, n))


@pytest.fixture
def shared_site(store_kind, serve_app, emulator, tmp_path, request):
    """The app on a SQLite file or a PostgreSQL database, and a second handle on the same store (as cron would
    have), whose clock moves a second a call."""
    made = make_store(store_kind, tmp_path, request, clock=Ticker(1_796_000_000.0))
    site = PostsSite(serve_app, emulator, tmp_path, **made.env)
    yield site, made.store
    made.store.close()


@pytest.mark.slow
def test_more_than_a_page_of_done_posts_goes_on_a_second_page_newest_first(shared_site):
    site, cron = shared_site
    done = []
    for n in range(25):
        post = queue_post(cron, {"user_id": ADA, "video_path": str(site.clip), "description": f"done {n:02d}"})
        finish(cron, post, n)
        done.append(post.id)
    site.fail_next_post()
    failed = site.add(description="needs a look").id
    site.run_in_app()
    later = site.add(description="tomorrow", post_at=site.at(86400)).id

    first = read_board(site.page())
    assert first.groups == ["failed", "in_progress", "upcoming", "done"]
    assert [c.id for c in first.cards if c.group == "failed"] == [failed]  # needs attention first on the page
    assert [c.id for c in first.cards][0] == failed
    assert [c.id for c in first.cards if c.group == "upcoming"] == [later]
    newest_first = list(reversed(done))
    assert [c.id for c in first.cards if c.group == "done"] == newest_first[:20]
    assert all(c.state == "posted" for c in first.cards if c.group == "done")
    assert first.more == {"done": "/posts/?group=done&page=2"}
    assert re.search(r'id="group-done".*?<small class="count">25</small>', site.page(), re.S)

    second = read_board(site.page("?group=done&page=2"))
    assert second.groups == ["done"] and second.more == {}
    assert [c.id for c in second.cards] == newest_first[20:]
    assert site.web.get("/posts/?group=nonsense").status_code == 404


@pytest.mark.slow
def test_the_board_since_a_change_sends_only_the_cards_changed_since(shared_site):
    site, cron = shared_site
    posts = [queue_post(cron, {"user_id": ADA, "video_path": str(site.clip), "description": f"post {n:02d}",
                               "post_at": site.at(3600 + 60 * n)}) for n in range(30)]
    full = site.board()
    assert full["full"] is True and len(full["cards"]) == 20 and full["counts"]["upcoming"] == 30
    change = full["change"]
    quiet = site.board(since=change)  # nothing changed: nothing sent
    assert (quiet["full"], quiet["cards"], quiet["removed"], quiet["change"]) == (False, [], [], change)

    moved = posts[17]
    site.act(moved.id, "reschedule", post_at_local=local_in(BERLIN, site.now + 2 * 86400), zone=BERLIN,
             revision=str(moved.revision))
    delta = site.board(since=change)
    assert delta["full"] is False and delta["removed"] == [] and delta["change"] > change
    (card,) = delta["cards"]
    assert (card["id"], card["state"], card["group"]) == (moved.id, "scheduled", "upcoming")
    assert card["revision"] == moved.revision + 1
    (parsed,) = cards_of(card["html"])
    assert parsed.id == moved.id and parsed.revision == moved.revision + 1 and 'name="csrf"' in card["html"]
    assert delta["counts"] == {"failed": 0, "in_progress": 0, "upcoming": 30, "done": 0}

    dropped = posts[3]
    site.act(dropped.id, "cancel", revision=str(dropped.revision))
    after = site.board(since=delta["change"])
    assert after["cards"] == [] and after["removed"] == [dropped.id]
    assert after["counts"]["upcoming"] == 29
    both = site.board(since=change)
    assert [c["id"] for c in both["cards"]] == [moved.id] and both["removed"] == [dropped.id]


@pytest.mark.slow
def test_the_full_board_carries_the_same_cards_as_the_page(site):
    due = site.add(description="now").id
    later = site.add(description="later", post_at=site.at(3600)).id
    board = site.board()
    assert board["moving"] is True and board["problem"] == "" and board["full"] is True
    assert [(c["id"], c["state"], c["group"]) for c in board["cards"]] == [
        (due, "due", "upcoming"), (later, "scheduled", "upcoming")]
    fragment = [(c.id, c.state, c.group) for c in cards_of(board["html"])]
    assert fragment == [(c.id, c.state, c.group) for c in cards_of(site.page())]
    assert 'id="group-in_progress"' in board["html"] and 'name="csrf"' in board["html"]
    site.run_in_app()
    after = site.board()
    assert after["moving"] is False and 0 < after["wake_in_ms"] <= 3600_000
    assert [(c["state"], c["emulated"], bool(c["link"])) for c in after["cards"]] == [
        ("scheduled", True, False), ("posted", True, False)]  # SELF_ONLY: no public link; every card says emulated
    assert 'data-moving="0"' in site.page()


# -- an empty store, a manifest with problems, a store that cannot be used ---------------------------------------

@pytest.mark.slow
def test_an_empty_store_explains_how_to_start(site, store_kind):
    page = site.page()
    who_posts = "upload_to_tiktok.py" if store_kind == "sqlite" else "python -m tiktok worker"
    assert 'id="no-posts"' in page and "No posts yet" in page and who_posts in page
    board = site.board()
    assert board["cards"] == [] and board["moving"] is False and board["problem"] == ""


@pytest.mark.slow
def test_the_manifests_problems_show_after_a_run_imported_it(site):
    site.manifest.write_text('[{"user_id": "%s", "video_path": "clip.mp4", "privacy": "EVERYONE"},'
                             ' {"user_id": "%s", "video_path": "clip.mp4", "privacy": "SELF_ONLY",'
                             ' "post_at": "%s"}]' % (ADA, ADA, site.at(86400)))
    site.run_in_app()
    page = site.page()
    problems = [html.unescape(p) for p in re.findall(r'<p class="warning manifest-problem">(.*?)</p>', page, re.S)]
    assert len(problems) == 1 and 'field "privacy"' in problems[0] and str(site.manifest) in problems[0]
    (card,) = cards_of(page)
    post = site.store.get(card.id)
    assert (card.state, post.origin, post.source) == ("scheduled", "manifest", str(site.manifest.resolve()))


@pytest.mark.slow
def test_a_manifest_that_is_not_json_does_not_hold_back_what_the_app_composed(site, remote):
    site.manifest.write_text('[{"user_id": ')
    post_id = site.add(description="composed in the app").id
    site.run_in_app()
    assert site.store.get(post_id).state == "posted" and len(remote.state()["posts"]) == 1
    page = site.page()
    (problem,) = [html.unescape(p) for p in re.findall(r'<p class="warning manifest-problem">(.*?)</p>', page, re.S)]
    assert problem.startswith(str(site.manifest)) and "malformed JSON at line 1" in problem
    assert "Nothing in it was imported" in problem and cards_of(page)[0].state == "posted"
    site.manifest.write_text("[]")  # mended: the next run imports it and the warning goes
    site.run_in_app()
    assert "manifest-problem" not in site.page()


def damaged_store(tmp_path: Path) -> tuple[dict[str, str], str]:
    broken = tmp_path / "tiktok.db"
    broken.write_bytes(b"this is not an SQLite database, it was overwritten by mistake\n" * 64)
    return {"STORE_FILE": str(broken)}, str(broken)


def unreachable_store(tmp_path: Path) -> tuple[dict[str, str], str]:
    return {"DATABASE_URL": "postgresql://tiktok:s3cret-pass@127.0.0.1:1/posts"}, 'PostgreSQL database "posts"'


@pytest.mark.parametrize("make", [damaged_store, unreachable_store], ids=["damaged-file", "unreachable-database"])
def test_a_store_that_cannot_be_used_is_a_503_that_says_so(serve_app, tmp_path, make):
    env, named = make(tmp_path)
    web = serve_app(MEDIA_DIR=str(tmp_path / "media"), **env).client()
    page = web.get("/posts/")
    assert page.status_code == 503 and named in html.unescape(page.text)
    assert 'id="posts-problem"' in page.text and "nothing was changed" in page.text.lower()
    board = web.get("/posts/board")
    assert board.status_code == 503 and named in board.json()["problem"] and board.json()["cards"] == []
    since = web.get("/posts/board?since=3")
    assert since.status_code == 503 and since.json()["problem"] == board.json()["problem"]
    edit = web.get("/posts/1/edit")
    assert edit.status_code == 503 and "The post store cannot be used" in edit.text
    assert named in html.unescape(edit.text)
    for response in (page, board, since, edit):
        assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
        assert "s3cret-pass" not in response.text


def test_a_store_error_escaping_any_view_is_a_503_in_the_apps_layout(serve_app):
    served = serve_app()

    def reads_the_store():
        raise StoreError("/srv/tiktok.db: is damaged (file is not a database); nothing was changed")

    served.flask_app.add_url_rule("/reads-the-store/", "reads_the_store", reads_the_store)
    page = served.client().get("/reads-the-store/")
    assert page.status_code == 503 and "The post store cannot be used" in page.text
    assert "/srv/tiktok.db: is damaged" in page.text and 'id="nav-posts"' in page.text
    assert "Traceback" not in page.text and "reads_the_store" not in page.text


def test_every_action_on_a_damaged_store_says_so_and_changes_nothing(serve_app, tmp_path):
    env, named = damaged_store(tmp_path)
    web = serve_app(**env).client()
    page = web.get("/posts/")
    assert f'id="store-where">{named}</code>' in page.text  # the intro names the file, too
    for action in ("cancel", "retry", "reschedule", "edit"):
        answer = web.post_form(f"/posts/1/{action}", {"revision": "1", "post_at_local": "2030-01-01T09:00"})
        assert answer.status_code == 503 and "Traceback" not in answer.text
        if action != "edit":
            ((kind, text),) = flashes(answer.text)
            assert kind == "warning" and text.startswith(f"Post 1 was not ") and named in text
        else:
            assert "The post store cannot be used" in answer.text and named in html.unescape(answer.text)
    assert Path(named).read_bytes().startswith(b"this is not an SQLite database")
