"""People over real loopback HTTP, the app and the TikTok emulator both served on 127.0.0.1 (issue 26 item 1): the
first person to sign in owns the app, the next waits until the owner allows them, signing in connects no account,
sign-out and removal end sign-ins on the server, ``next`` never leaves the site, sign-ins are throttled, and a
browser that is not on this machine (its request forwarded by a proxy) sees nothing without signing in.

"Off this machine" is reached the way a reverse proxy reaches the app: an ``X-Forwarded-For`` header."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.flows import WebClient, consent
from tiktok.emulator.config import default_users
from tiktok.web.people import SIGN_IN_STARTS

ADA, BO, CY = default_users()
AWAY = {"X-Forwarded-For": "203.0.113.7"}  # a browser elsewhere, through a proxy


def browser(app, *, away: bool = False) -> WebClient:
    web = app.client()
    if away:
        web.http.headers.update(AWAY)
    return web


def csrf(web: WebClient, path: str = "/people/signin") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', web.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def start_sign_in(web: WebClient, next_path: str | None = None) -> requests.Response:
    page = web.get("/people/signin" + (f"?next={requests.utils.quote(next_path, safe='')}" if next_path else ""))
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return web.http.post(web.url + "/people/signin", data={"csrf": token}, allow_redirects=False, timeout=15)


def sign_in(web: WebClient, user, next_path: str | None = None) -> requests.Response:
    """The whole sign-in as the emulated ``user``; the app's answer to the callback (not followed)."""
    started = start_sign_in(web, next_path)
    assert started.status_code == 302, started.text[:300]
    answer = consent(started.headers["Location"], open_id=user.open_id)
    assert answer.status_code == 302, answer.text[:300]
    return web.get(answer.headers["Location"], allow_redirects=False)


def post(web: WebClient, path: str, data: dict | None = None) -> requests.Response:
    return web.http.post(web.url + path, data={"csrf": csrf(web, "/people/"), **(data or {})},
                         allow_redirects=False, timeout=15)


def test_the_first_person_owns_the_next_waits_and_the_owner_lets_them_in(app_under_test, remote):
    ada, bo = browser(app_under_test), browser(app_under_test)
    started = start_sign_in(ada)
    assert parse_qs(urlsplit(started.headers["Location"]).query)["scope"] == ["user.info.basic"]
    answer = ada.get(consent(started.headers["Location"], open_id=ADA.open_id).headers["Location"],
                     allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert "People: <bdi>Ada Creator</bdi>" in ada.get("/").text
    assert not app_under_test.tokens_path.exists()  # a person signed in; no account was connected

    assert sign_in(bo, BO).headers["Location"] == "/people/waiting"
    waiting = bo.get("/")
    assert waiting.status_code == 403 and "Waiting for the owner" in waiting.text and "Bo Sandbox" in waiting.text
    assert bo.get("/posts/", allow_redirects=False).headers["Location"] == "/people/waiting"

    people = ada.get("/people/").text
    assert "Bo Sandbox" in people and "Waiting for the owner" in people and "Approve" in people
    refused = post(bo, "/people/allow", {"open_id": BO.open_id})  # nobody waiting lets themselves in
    assert refused.status_code == 302 and refused.headers["Location"] == "/people/waiting"
    assert post(ada, "/people/allow", {"open_id": BO.open_id}).status_code == 303
    page = bo.get("/")
    assert page.status_code == 200 and "People: <bdi>Bo Sandbox</bdi>" in page.text and 'id="nav-posts"' in page.text
    assert bo.get("/posts/").status_code == 200

    # Two people may use the app now: a browser on this machine no longer gets the owner without signing in.
    stranger = browser(app_under_test).get("/", allow_redirects=False)
    assert stranger.status_code == 302 and stranger.headers["Location"].startswith("/people/signin")


def test_on_this_machine_the_only_person_is_signed_in_without_asking(app_under_test):
    assert 'id="no-people"' in browser(app_under_test).get("/people/").text  # nobody yet: the page says so
    sign_in(browser(app_under_test), ADA)
    page = browser(app_under_test).get("/")  # a fresh browser on 127.0.0.1, no cookie
    assert page.status_code == 200 and "People: <bdi>Ada Creator</bdi>" in page.text
    assert 'id="person-sign-out"' not in page.text  # let in, not signed in: nothing to sign out of


@pytest.mark.parametrize("path", ["/", "/posts/", "/people/", "/media/", "/events/", "/transcripts/", "/nowhere"])
def test_off_this_machine_nothing_is_shown_without_signing_in(app_under_test, path):
    sign_in(browser(app_under_test), ADA)  # the owner exists; still nothing for a browser elsewhere
    response = browser(app_under_test, away=True).get(path, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith("/people/signin?next=")
    assert "Ada" not in response.text
    page = browser(app_under_test, away=True).get("/people/signin")
    assert page.status_code == 200 and "Ada" not in page.text and "attention-banner" not in page.text


def test_off_this_machine_the_first_sign_in_cannot_claim_the_app(app_under_test):
    away = browser(app_under_test, away=True)
    assert sign_in(away, CY).headers["Location"] == "/people/waiting"
    assert away.get("/", allow_redirects=False).headers["Location"] == "/people/waiting"
    assert sign_in(browser(app_under_test), ADA).headers["Location"] == "/"  # the owner claims it on this machine
    assert "Cy Private" in browser(app_under_test).get("/people/").text


def test_sign_out_ends_the_sign_in_on_the_server(app_under_test):
    sign_in(browser(app_under_test), ADA)
    bo = browser(app_under_test, away=True)
    sign_in(bo, BO)
    owner = browser(app_under_test)
    assert post(owner, "/people/allow", {"open_id": BO.open_id}).status_code == 303
    assert bo.get("/", allow_redirects=False).status_code == 200
    copied = dict(bo.http.cookies)
    signed_out = post(bo, "/people/signout")
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/people/signin"
    replay = requests.get(app_under_test.url + "/", cookies=copied, headers=AWAY, allow_redirects=False, timeout=15)
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/people/signin")


def test_a_removed_member_is_signed_out_everywhere(app_under_test):
    owner = browser(app_under_test)
    sign_in(owner, ADA)
    bo = browser(app_under_test, away=True)
    sign_in(bo, BO)
    post(owner, "/people/allow", {"open_id": BO.open_id})
    assert bo.get("/", allow_redirects=False).status_code == 200
    assert post(bo, f"/people/{ADA.open_id}/remove").status_code == 403  # a member removes nobody
    assert "Remove" not in bo.get("/people/").text
    assert post(owner, f"/people/{ADA.open_id}/remove").status_code == 303  # refused: the owner stays
    assert "Ada Creator" in owner.get("/people/").text
    assert post(owner, f"/people/{BO.open_id}/remove").status_code == 303
    assert bo.get("/", allow_redirects=False).headers["Location"].startswith("/people/signin")
    page = owner.get("/people/").text
    assert "Removed Bo Sandbox" in page and f'data-open-id="{BO.open_id}"' not in page


def test_the_owner_allows_a_connected_account_by_its_name_before_it_signs_in(app_under_test):
    owner = browser(app_under_test)
    sign_in(owner, ADA)
    owner.login(open_id=BO.open_id)  # connect @bo_tests for posting (the accounts page's Login with TikTok)
    assert post(owner, "/people/allow", {"name": f"@{BO.username}"}).status_code == 303
    assert "Bo Sandbox" in owner.get("/people/").text
    bo = browser(app_under_test, away=True)
    assert sign_in(bo, BO).headers["Location"] == "/"  # allowed already: no waiting
    unknown = post(owner, "/people/allow", {"name": "@nobody.here"})
    assert unknown.status_code == 303 and "Nobody waiting or connected is called @nobody.here" in owner.get(
        "/people/").text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "javascript:alert(1)"])
def test_sign_in_never_sends_a_browser_off_site(app_under_test, target):
    answer = sign_in(browser(app_under_test), ADA, next_path=target)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_sign_in_follows_a_local_next(app_under_test):
    answer = sign_in(browser(app_under_test), ADA, next_path="/posts/?group=failed")
    assert answer.headers["Location"] == "/posts/?group=failed"


def test_sign_in_starts_are_throttled_per_address(app_under_test):
    web = browser(app_under_test)
    answers = [start_sign_in(web).status_code for _ in range(SIGN_IN_STARTS + 1)]
    assert answers == [302] * SIGN_IN_STARTS + [429]
    refused = start_sign_in(web)
    assert "Too many sign-ins" in refused.text and int(refused.headers["Retry-After"]) > 0
    app_under_test.clock.advance(15 * 60 + 1)  # the window passes
    assert start_sign_in(web).status_code == 302


def test_with_app_password_the_password_comes_first_then_the_person(serve_app):
    password = "correct horse battery staple"
    app = serve_app(APP_PASSWORD=password)
    web = browser(app, away=True)
    response = web.get("/people/signin", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith("/app-login/")
    token = csrf(web, "/app-login/")
    assert web.http.post(app.url + "/app-login/", data={"csrf": token, "password": password},
                         allow_redirects=False, timeout=15).status_code == 302
    assert web.get("/", allow_redirects=False).headers["Location"].startswith("/people/signin")  # past the password
    assert sign_in(web, ADA).headers["Location"] == "/"  # past APP_PASSWORD, even from elsewhere, the owner
    assert "People: <bdi>Ada Creator</bdi>" in web.get("/").text
    login_page = browser(app).get("/app-login/")  # a browser without the password hears of nobody
    assert login_page.status_code == 200 and "Ada" not in login_page.text


@pytest.mark.slow
def test_with_database_url_people_and_sign_ins_live_in_postgresql(database_url, serve_app, tmp_path):
    from tiktok.db.migrations import migrate
    from tiktok.store import postgres
    migrate(database_url)
    postgres.migrate(database_url)
    app = serve_app(DATABASE_URL=database_url, MANIFEST_FILE=str(tmp_path / "unused.json"))
    ada, bo = browser(app), browser(app, away=True)
    assert sign_in(ada, ADA).headers["Location"] == "/"
    assert sign_in(bo, BO).headers["Location"] == "/people/waiting"
    store = postgres.open_postgres(database_url)
    try:
        assert [(p.open_id, p.role) for p in store.people()] == [(ADA.open_id, "owner"), (BO.open_id, "pending")]
        post(ada, "/people/allow", {"open_id": BO.open_id})
        assert bo.get("/", allow_redirects=False).status_code == 200
        copied = dict(bo.http.cookies)
        post(bo, "/people/signout")
        replay = requests.get(app.url + "/", cookies=copied, headers=AWAY, allow_redirects=False, timeout=15)
        assert replay.headers["Location"].startswith("/people/signin")
    finally:
        store.close()


@pytest.mark.slow
def test_the_people_pages_fit_a_390_px_phone(app_under_test):
    from playwright.sync_api import sync_playwright
    from tests.test_browser_login import CHROMIUM_ARGS, chromium_path
    owner, bo = browser(app_under_test), browser(app_under_test)
    sign_in(owner, ADA)
    sign_in(bo, BO)
    host = urlsplit(app_under_test.url).hostname
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            for who, path, ready in [(owner, "/people/", "#allow-by-name"), (bo, "/people/waiting", "#people-waiting"),
                                     (None, "/people/signin", "#person-sign-in")]:
                context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
                if who is not None:
                    context.add_cookies([{"name": c.name, "value": c.value, "domain": host, "path": "/"}
                                         for c in who.http.cookies])
                tab = context.new_page()
                tab.goto(app_under_test.url + path)
                tab.wait_for_selector(ready, timeout=15_000)
                assert tab.evaluate("document.documentElement.scrollWidth") <= 390, path
                context.close()
        finally:
            chromium.close()


@pytest.mark.slow
@pytest.mark.parametrize("proxy", [["--trusted-proxy", "127.0.0.1"], []])
def test_the_shipped_app_shows_this_machine_everything_and_a_proxied_browser_nothing(tmp_path, proxy):
    from tests.support.app_process import start_app, stop_app
    proc, url = start_app(tmp_path, *proxy)  # python app.py as shipped: waitress, emulated mode, no password
    try:
        here = requests.get(url + "/", allow_redirects=False, timeout=10)
        assert here.status_code == 200 and 'id="nav-people"' in here.text
        away = requests.get(url + "/posts/", headers=AWAY, allow_redirects=False, timeout=10)
        assert away.status_code == 302 and away.headers["Location"].startswith("/people/signin?next=")
    finally:
        stop_app(proc)
