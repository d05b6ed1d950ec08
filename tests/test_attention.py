"""What needs a person, up front in the app (issue 24, "In the app"), served on loopback against the emulator with
the shipped defaults (SQLite store, folder media store, the app's own runner).

- Nothing to report: no banner and no count on any page of the navigation, and the emulated label stays.
- An account TikTok refused at a refresh (revoked at the emulator, then "Refresh all tokens now") and a post TikTok
  failed: every page shows the count and a banner that names the account by @name (never its open_id) with its
  Relink button, and links to the Posts page's failed group; the account's scheduled card warns that it must be
  linked again. Relinking through the consent page, then cancelling the failed post, clears both.
- Failed first: the Posts page and the fragment its script reloads put the needs-attention group above every
  other, a failed card above a posted one.
- A scheduled post whose media file is gone (a manifest's video_path, a folder media store's object) is warned.
- Cheap: a page reads the token store once and the store's counts once; the card fragments read neither for the
  banner.
- The events page: newest first, paged by id, filtered by account, accounts named by @name, no secrets.
- The password gate: the sign-in page shows nothing of the app's accounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tiktok.auth.tokens import Account, TokenStore
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.store import events as ev
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.flows import WebClient, consent
from tests.support.queue_workers import queue_post

ADA_USER, BO_USER, _ = default_users()
ADA, BO = ADA_USER.open_id, BO_USER.open_id
WAIT_S = 30.0  # only ever reached when the runner is broken
DAY_S = 86400.0
PASSWORD = "correct horse battery staple"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # a post's first status fetch is final: runs end at once


# -- reading pages ---------------------------------------------------------------------------------------------------

@dataclass
class Part:
    """One element of a page, as a person reads it: its text, its links and its forms' actions."""

    found: bool = False
    text: str = ""
    links: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)


class PartParser(HTMLParser):
    """The element with id ``wanted`` (or the first with class ``wanted_class``) and everything inside it."""

    VOID = {"input", "img", "br", "meta", "link", "hr"}

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted, self.part, self.depth = wanted, Part(), 0

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if self.depth == 0 and not self.part.found and (a.get("id") == self.wanted):
            self.part.found, self.depth = True, (0 if tag in self.VOID else 1)
            return
        if self.depth:
            self.depth += tag not in self.VOID
            if tag == "a":
                self.part.links.append(a.get("href", ""))
            elif tag == "form":
                self.part.forms.append(a.get("action", ""))

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.part.text = " ".join(f"{self.part.text} {data}".split())


def part(html: str, element_id: str) -> Part:
    parser = PartParser(element_id)
    parser.feed(html)
    return parser.part


def nav_pages(html: str) -> list[str]:
    """Every page the navigation links (the brand's accounts page included), plus the composer."""
    header = html.split('<header class="top">', 1)[1].split("</header>", 1)[0]
    links = re.findall(r'<a class="(?:brand|nav)" id="[^"]*" href="([^"]+)"', header) + \
        re.findall(r'<a class="brand" href="([^"]+)"', header)
    return sorted({*links, "/posts/new", "/refresh_tokens/"})


def card_part(html: str, post_id: int) -> Part:
    return part(html, f"post-{post_id}")


def group_order(html: str) -> list[str]:
    return re.findall(r'<section class="post-group" id="group-[^"]+" data-group="([^"]+)"', html)


# -- the site --------------------------------------------------------------------------------------------------------

class Site:
    """The app with its shipped defaults (only its files in the test's folder), a browser-like client and a clip."""

    def __init__(self, serve_app, emulator, folder: Path, **env: str) -> None:
        self.folder = folder
        self.served = serve_app(MANIFEST_FILE=str(folder / "videos_to_upload.json"),
                                MEDIA_DIR=str(folder / "media"), **env)
        self.app = self.served.flask_app
        self.emulator = emulator
        self.web = self.served.client()
        self.clip = make_video(folder / "clip.mp4")

    @property
    def store(self):
        return store_of(self.app)

    @property
    def now(self) -> float:
        return self.served.clock()

    def link(self, open_id: str) -> None:
        assert self.web.login(open_id=open_id).status_code == 302

    def schedule(self, open_id: str, video: Path | None = None, **fields) -> int:
        entry = {"user_id": open_id, "video_path": str(video or self.clip), "privacy": "SELF_ONLY",
                 "post_at": _iso(self.now + DAY_S), **fields}
        return queue_post(self.store, entry).id

    def post_now(self, open_id: str, *, fail: str | None = None) -> int:
        """A post due now, made by one round of the app's own runner; TikTok fails it with ``fail`` when given."""
        if fail:
            import requests
            requests.post(self.emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": fail},
                          timeout=10).raise_for_status()
        post_id = queue_post(self.store, {"user_id": open_id, "video_path": str(self.clip),
                                          "privacy": "SELF_ONLY", "description": f"now {fail or 'ok'}"}).id
        runner = runner_of(self.app)
        runner.kick()
        assert runner.join(WAIT_S), "the app's posting run did not end"
        return post_id

    def revoke_and_refresh(self, open_id: str, remote) -> None:
        """The person removed the app at TikTok; the app notices at its next refresh ("Refresh all tokens now")."""
        assert remote.revoke_user(open_id) >= 1
        assert self.web.post_form("/refresh_tokens/").status_code == 200
        assert TokenStore(self.served.tokens_path).get(open_id).relink_reason

    def page(self, path: str) -> str:
        response = self.web.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response.text


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


@pytest.fixture
def site(serve_app, emulator, tmp_path) -> Site:
    return Site(serve_app, emulator, tmp_path)


def secrets_of(site: Site) -> list[str]:
    accounts = TokenStore(site.served.tokens_path).load().values()
    return [token for account in accounts for token in (account.access_token, account.refresh_token)]


# -- nothing to report -----------------------------------------------------------------------------------------------

def test_with_nothing_to_report_no_page_shows_a_banner_or_a_count(site):
    site.link(ADA)
    scheduled = site.schedule(ADA, description="for tomorrow")
    home = site.page("/")
    pages = nav_pages(home)
    assert {"/", "/posts/", "/media/", "/events/", "/status/", "/stats/", "/transcripts/"} <= set(pages)
    for path in pages:
        html = site.page(path)
        assert not part(html, "attention-banner").found, path
        assert not part(html, "attention-count").found, path
        assert part(html, "emulated-banner").found, path  # the emulated label stays on every page
        assert part(html, "nav-events").found and part(html, "nav-status").found, path
    card = card_part(site.page("/posts/"), scheduled)
    assert card.found and "for tomorrow" in card.text
    assert "must be linked again" not in card.text and "media is missing" not in card.text


# -- a relink and a failure, on every page, until they are dealt with -------------------------------------------------

def test_a_relink_and_a_failed_post_show_on_every_page_until_dealt_with(site, remote):
    site.link(ADA)
    site.link(BO)
    failed = site.post_now(ADA, fail="spam_risk_text")
    bo_scheduled = site.schedule(BO, description="Bo tomorrow")
    ada_scheduled = site.schedule(ADA, description="Ada tomorrow")
    site.revoke_and_refresh(BO, remote)
    secrets = secrets_of(site)

    for path in nav_pages(site.page("/")):
        html = site.page(path)
        banner = part(html, "attention-banner")
        assert banner.found, path
        assert "@bo_tests must be linked again: TikTok no longer accepts its sign-in" in banner.text, path
        assert "1 post failed or missed its time" in banner.text, (path, banner.text)
        assert BO not in banner.text and ADA not in banner.text  # named, never by open_id
        assert "Relink @bo_tests" in banner.text and f"/accounts/{BO}/relink" in banner.forms
        assert "/posts/?group=failed" in banner.links
        count = part(html, "attention-number")
        assert count.text == "2", (path, count.text)  # one account to relink, one post to look at
        assert not any(secret in html for secret in secrets), path

    board = site.page("/posts/")
    bo_card = card_part(board, bo_scheduled)
    assert "@bo_tests must be linked again before this posts:" in bo_card.text and "Relink" in bo_card.text
    assert f"/accounts/{BO}/relink" in bo_card.forms
    assert "must be linked again" not in card_part(board, ada_scheduled).text  # Ada's account is fine
    assert "must be linked again" not in card_part(board, failed).text  # the failed card says why itself

    # relink Bo as a person would: the banner's button, TikTok's consent page, back to the app
    authorize = site.web.start_login(f"/accounts/{BO}/relink")
    callback = consent(authorize, open_id=BO).headers["Location"]
    assert site.web.get(callback, allow_redirects=False).status_code == 302
    assert not TokenStore(site.served.tokens_path).get(BO).relink_reason
    board = site.page("/posts/")
    banner = part(board, "attention-banner")
    assert "@bo_tests" not in banner.text and "1 post failed" in banner.text
    assert part(board, "attention-number").text == "1"
    assert "must be linked again" not in card_part(board, bo_scheduled).text

    # the failed post dealt with (cancelled): nothing is left to report anywhere
    revision = site.store.get(failed).revision
    assert site.web.post_form(f"/posts/{failed}/cancel", {"revision": str(revision)}).status_code == 200
    for path in nav_pages(site.page("/")):
        html = site.page(path)
        assert not part(html, "attention-banner").found and not part(html, "attention-count").found, path


def test_an_account_whose_refresh_token_ran_out_is_named_too(site):
    site.link(BO)
    scheduled = site.schedule(BO)
    store = TokenStore(site.served.tokens_path)
    with store.transaction() as accounts:  # the one case the emulator cannot reach in a test's time: 365 days
        from dataclasses import replace
        accounts[BO] = replace(accounts[BO], refresh_expires_at=site.now - 1)
    html = site.page("/posts/")
    assert "@bo_tests must be linked again: its sign-in with TikTok ran out" in part(html, "attention-banner").text
    assert "must be linked again before this posts" in card_part(html, scheduled).text


# -- failed first ----------------------------------------------------------------------------------------------------

def test_the_failed_group_comes_first_above_every_posted_card(site):
    site.link(ADA)
    posted = site.post_now(ADA)
    failed = site.post_now(ADA, fail="spam_risk_text")
    scheduled = site.schedule(ADA)
    assert site.store.get(posted).record.state == "posted" and site.store.get(failed).record.state == "failed"
    for html in (site.page("/posts/"), site.web.get("/posts/board").json()["html"]):  # the page, and posts.js's reload
        assert group_order(html) == ["failed", "in_progress", "upcoming", "done"]
        at = {post_id: html.index(f'id="post-{post_id}"') for post_id in (posted, failed, scheduled)}
        assert at[failed] < at[scheduled] < at[posted]
    change = site.store.latest_change()
    assert site.store.get(failed).change <= change  # a delta carries the card with its group: posts.js keeps order
    delta = site.web.get(f"/posts/board?since={site.store.get(failed).change - 1}").json()
    assert {card["id"]: card["group"] for card in delta["cards"]}[failed] == "failed"


# -- missing media ---------------------------------------------------------------------------------------------------

def test_a_scheduled_post_whose_media_is_gone_is_warned(site):
    site.link(ADA)
    kept = site.schedule(ADA, description="file still there")
    gone_file = make_video(site.folder / "gone.mp4")
    gone = site.schedule(ADA, gone_file, description="file removed")
    gone_file.unlink()
    key = "ab" * 32 + ".mp4"  # a folder media store object (MEDIA_STORE=folder, the default) that is not there
    stored = queue_post(site.store, {"user_id": ADA, "video_media": key, "privacy": "SELF_ONLY",
                                     "post_at": _iso(site.now + DAY_S)}).id
    html = site.page("/posts/")
    assert f"Its media is missing: {gone_file} is no longer there" in card_part(html, gone).text
    assert f"{site.folder / 'media' / key} is no longer there" in card_part(html, stored).text
    assert "media is missing" not in card_part(html, kept).text
    fragment = site.web.get("/posts/board").json()["html"]  # the reload posts.js asks for says the same
    assert f"{gone_file} is no longer there" in card_part(fragment, gone).text
    assert not part(html, "attention-banner").found  # a warning on its card; nothing has failed yet


# -- cheap -----------------------------------------------------------------------------------------------------------

class Counted:
    """Counts calls of one method of one object (the real method runs)."""

    def __init__(self, target, name: str) -> None:
        self.calls, real = 0, getattr(target, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)
        setattr(target, name, counted)


def test_a_page_reads_the_accounts_and_the_counts_once(site):
    site.link(ADA)
    site.link(BO)
    for n in range(30):  # more cards than a group's page: the reads do not grow with them
        site.schedule(ADA if n % 2 else BO, description=f"post {n}")
    services = site.app.extensions["tiktok_services"]
    loads, counts = Counted(services.store, "load"), Counted(site.store, "board_counts")
    for path in ("/posts/", "/events/", "/media/"):
        loads.calls = counts.calls = 0
        site.page(path)
        assert (loads.calls, counts.calls) == (1, 1), path
    since = site.store.latest_change() - 5
    loads.calls = counts.calls = 0
    site.web.get(f"/posts/board?since={since}")  # five changed cards: their accounts once, no banner at all
    assert loads.calls == 1 and counts.calls == 1  # the delta's own group counts


# -- the events page -------------------------------------------------------------------------------------------------

def test_the_events_page_lists_newest_first_by_pages_with_names_and_no_secrets(site, remote):
    site.link(ADA)
    site.link(BO)
    failed = site.post_now(ADA, fail="spam_risk_text")  # a real failure's event, recorded with its record
    store = site.store
    for n in range(54):
        store.record_event(ev.ACCOUNT_RELINK if n % 2 else ev.REFRESH_EXPIRING, f"test:{n}", user_id=BO,
                           data={"reason": "invalid_grant", "days": 7, "expires_at": site.now + 7 * DAY_S})
    every = [event.id for event in store.events_page(limit=1000)]
    assert len(every) == 55 and every == sorted(every, reverse=True)
    secrets = secrets_of(site)

    first = site.page("/events/")
    shown = [int(i) for i in re.findall(r'<li class="event [^"]*" id="event-(\d+)"', first)]
    assert shown == every[:50]  # newest first, one page
    older = part(first, "events-older")
    assert older.found
    second_url = re.search(r'id="events-older"\s+href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert f"before={every[49]}" in second_url
    second = site.page(second_url)
    assert [int(i) for i in re.findall(r'id="event-(\d+)"', second)] == every[50:]
    assert not part(second, "events-older").found and part(second, "events-newest").found

    everything = first + second
    assert "@bo_tests must be linked again" in everything and "@ada.creates" in everything
    for page in (first, second):
        titles = re.findall(r'<strong class="event-title">([^<]*)</strong>', page)
        assert titles and not any(BO in t or ADA in t for t in titles)  # @names, never open_ids
        assert not any(secret in page for secret in secrets)
        assert "upload_url" not in page and "access_token" not in page
    assert len(re.findall(r'<time class="moment" datetime="[^"]+Z">', first)) == 50  # shown in the browser's zone
    failed_row = part(second, f"event-{every[-1]}")  # the oldest: the failure, before the 54 others
    assert f"Post {failed} on the Posts page" in failed_row.text and "spam_risk_text" in failed_row.text  # details

    only_ada = site.page(f"/events/?account={ADA}")
    assert re.findall(r'id="event-(\d+)"', only_ada) == [str(every[-1])]
    assert '<option value="%s" selected>@ada.creates</option>' % ADA in only_ada
    empty = site.page(f"/events/?before={every[-1]}")
    assert part(empty, "no-events").text == "No older events."


def test_the_events_page_before_anything_happened(site):
    html = site.page("/events/")
    assert part(html, "no-events").found and "Nothing has happened yet" in part(html, "no-events").text
    assert not part(html, "attention-banner").found


# -- the password gate -----------------------------------------------------------------------------------------------

def test_the_sign_in_page_shows_nothing_of_the_accounts(serve_app, emulator, tokens_path, tmp_path):
    now = __import__("time").time()
    TokenStore(tokens_path).put(Account(open_id=BO, access_token="act.secret", refresh_token="rft.secret",
                                        expires_at=now + 3600, refresh_expires_at=now + 300 * DAY_S,
                                        username="bo_tests", display_name="Bo Sandbox", emulated=True,
                                        relink_reason="TikTok no longer accepts this account's sign-in"))
    served = serve_app(APP_PASSWORD=PASSWORD, MANIFEST_FILE=str(tmp_path / "m.json"),
                       MEDIA_DIR=str(tmp_path / "media"))
    web = WebClient(served.url)
    login = web.get("/app-login/")
    assert login.status_code == 200 and part(login.text, "app-login").found
    assert not part(login.text, "attention-banner").found and "bo_tests" not in login.text
    token = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    home = web.http.post(served.url + "/app-login/", data={"csrf": token, "password": PASSWORD}, timeout=15)
    assert home.status_code == 200
    assert "@bo_tests must be linked again" in part(home.text, "attention-banner").text  # signed in: shown
