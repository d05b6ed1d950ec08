"""The APP_PASSWORD gate under attack: guessing is throttled per address and overall, a sign-in lives on the
server (Sign out ends every copy of its cookie), weak passwords stop the start, and only local paths are followed
after signing in. Real loopback HTTP where addresses matter; a second client address is 127.0.0.2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.conftest import OffsetClock
from tests.support.app_process import start_app, stop_app
from tiktok.errors import ConfigError
from tiktok.web.app import create_app
from tiktok.web.security import (ADDRESS_FAILURES, FAILURE_WINDOW_S, OVERALL_FAILURES, SignInThrottle,
                                 address_of, safe_next)

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse " + os.urandom(4).hex()


class FromAddress(HTTPAdapter):
    """Connections from another loopback address: the app sees a different client."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def browser(address: str = "127.0.0.1") -> requests.Session:
    http = requests.Session()
    http.mount("http://", FromAddress(address))
    return http


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_token(http: requests.Session, url: str) -> str:
    return csrf_of(http.get(url + "/app-login/", timeout=10).text)


def try_password(http, url, token, password, next_path="/"):
    return http.post(url + "/app-login/?" + urlencode({"next": next_path}), data={"csrf": token, "password": password},
                     allow_redirects=False, timeout=10)


@pytest.fixture
def gated(serve_app):
    return serve_app(APP_PASSWORD=PASSWORD)


# --- Guessing -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_300_wrong_guesses_are_refused_after_a_handful_and_the_owner_signs_in_from_another_address(gated):
    attacker = browser("127.0.0.1")
    token = form_token(attacker, gated.url)
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:  # in parallel: no try may slip in before the earlier ones are counted
        statuses = list(pool.map(lambda i: try_password(attacker, gated.url, token, f"guess-{i:04d}").status_code,
                                 range(300)))
    took = time.monotonic() - started
    assert statuses.count(401) == ADDRESS_FAILURES, f"300 guesses in {took:.1f} s"
    assert statuses.count(429) == 300 - ADDRESS_FAILURES
    # Refused attempts are not even checked: the right password is refused the same way, so it tells nothing.
    refused = try_password(attacker, gated.url, token, PASSWORD)
    assert refused.status_code == 429 and "Too many wrong passwords" in refused.text
    assert 14 * 60 < int(refused.headers["Retry-After"]) <= FAILURE_WINDOW_S
    assert attacker.get(gated.url + "/", allow_redirects=False, timeout=10).status_code == 302
    # The owner, at another address, is let in at once.
    owner = browser("127.0.0.2")
    signed_in = try_password(owner, gated.url, form_token(owner, gated.url), PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    assert owner.get(gated.url + "/", allow_redirects=False, timeout=10).status_code == 200
    # Once the window has passed the attacker's address may try again (and is counted again).
    gated.clock.advance(FAILURE_WINDOW_S + 1)
    assert try_password(attacker, gated.url, token, "yet another guess").status_code == 401


@pytest.fixture
def clock():
    return OffsetClock()


@pytest.fixture
def locked(tmp_path, clock):
    return create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "APP_PASSWORD": PASSWORD, "CLOCK": clock})


def attempt(app, address, password):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_of(client.get("/app-login/").get_data(as_text=True))
    return client.post("/app-login/", data={"csrf": token, "password": password})


def test_many_addresses_cannot_lock_the_owner_out_of_a_clean_one(locked, clock):
    attackers = [f"198.51.100.{i}" for i in range(1, OVERALL_FAILURES + 11)]
    results = [attempt(locked, address, "wrong password guess").status_code for address in attackers]
    assert results == [401] * len(attackers)  # every fresh address gets one try...
    # ...but past the overall limit an address that has failed may not try again, even with the right password.
    assert attempt(locked, attackers[0], PASSWORD).status_code == 429
    assert attempt(locked, attackers[-1], PASSWORD).status_code == 429
    owner = attempt(locked, "203.0.113.7", PASSWORD)
    assert owner.status_code == 302 and owner.headers["Location"] == "/"
    clock.advance(FAILURE_WINDOW_S + 1)
    assert attempt(locked, attackers[0], PASSWORD).status_code == 302


def test_one_ipv6_host_cannot_spread_its_guesses_over_its_own_addresses(locked):
    for i in range(ADDRESS_FAILURES):
        assert attempt(locked, f"2001:db8:0:1::{i + 1:x}", "wrong password guess").status_code == 401
    assert attempt(locked, "2001:db8:0:1::ffff", PASSWORD).status_code == 429  # the same /64
    assert attempt(locked, "2001:db8:0:2::1", PASSWORD).status_code == 302  # another network


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_an_address_waits_until_its_oldest_failure_leaves_the_window():
    clock = Clock()
    throttle = SignInThrottle(clock, per_address=3, overall=100, window=600)
    for _ in range(3):
        assert throttle.admit("a") == 0
        clock.now += 10
    assert throttle.admit("a") == pytest.approx(570)  # the first failure, 30 s ago, leaves at 600
    assert throttle.admit("a") == pytest.approx(570)  # a refused try is not counted
    assert throttle.admit("b") == 0
    clock.now += 570
    assert throttle.admit("a") == 0
    assert throttle.admit("a") == pytest.approx(10)  # the second failure is the oldest now


def test_a_success_forgets_the_addresses_failures_and_its_own_try():
    throttle = SignInThrottle(Clock(), per_address=2, overall=2, window=600)
    assert throttle.admit("a") == 0
    throttle.succeeded("a")
    assert throttle.admit("a") == 0 and throttle.admit("b") == 0  # two tries counted overall, not three
    assert throttle.admit("a") > 0  # a: two failures
    assert throttle.admit("b") > 0  # b has failed, and two failures overall fill the limit
    assert throttle.admit("c") == 0  # a clean address always gets its try


@pytest.mark.parametrize("remote, counted_as", [
    ("192.0.2.1", "192.0.2.1"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.1", "192.0.2.1"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", "unknown"),
    (None, "unknown"),
    ("not-an-address", "not-an-address"),
])
def test_addresses_are_counted_by_host_or_ipv6_network(remote, counted_as):
    assert address_of(remote) == counted_as


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [True, False])
def test_behind_a_trusted_proxy_addresses_come_from_x_forwarded_for(tmp_path, trusted):
    proc, url = start_app(tmp_path, *(["--trusted-proxy", "127.0.0.1"] if trusted else []),
                          env={"APP_PASSWORD": PASSWORD})
    try:
        http = requests.Session()
        token = form_token(http, url)

        def via_proxy(client, password):
            return http.post(url + "/app-login/", data={"csrf": token, "password": password},
                             headers={"X-Forwarded-For": client}, allow_redirects=False, timeout=10).status_code

        assert [via_proxy("203.0.113.5", "wrong password guess") for _ in range(ADDRESS_FAILURES + 1)] == \
            [401] * ADDRESS_FAILURES + [429]
        # With the proxy trusted, the owner behind it is another client; without, a forged header changes nothing.
        assert via_proxy("203.0.113.6", PASSWORD) == (302 if trusted else 429)
    finally:
        stderr = stop_app(proc)
    assert PASSWORD not in stderr


# --- Sessions live on the server -----------------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_is_refused_after_it(gated):
    person = browser()
    signed_in = try_password(person, gated.url, form_token(person, gated.url), PASSWORD)
    assert signed_in.status_code == 302
    thief = requests.Session()
    thief.cookies.update(person.cookies)  # the session cookie, copied
    assert thief.get(gated.url + "/", allow_redirects=False, timeout=10).status_code == 200
    page = person.get(gated.url + "/", timeout=10).text
    assert 'id="app-logout"' in page
    assert person.post(gated.url + "/app-logout/", data={"csrf": csrf_of(page)}, allow_redirects=False,
                       timeout=10).status_code == 302
    after = thief.get(gated.url + "/", allow_redirects=False, timeout=10)
    assert after.status_code == 302 and after.headers["Location"].startswith("/app-login/")
    assert thief.post(gated.url + "/refresh_tokens/", data={"csrf": csrf_of(page)}, allow_redirects=False,
                      timeout=10).status_code == 302
    assert person.get(gated.url + "/", allow_redirects=False, timeout=10).status_code == 302


def test_signing_in_again_elsewhere_keeps_the_other_sign_in(gated):
    first, second = browser(), browser("127.0.0.2")
    for http in (first, second):
        assert try_password(http, gated.url, form_token(http, gated.url), PASSWORD).status_code == 302
    page = second.get(gated.url + "/", timeout=10).text
    second.post(gated.url + "/app-logout/", data={"csrf": csrf_of(page)}, timeout=10)
    assert first.get(gated.url + "/", allow_redirects=False, timeout=10).status_code == 200
    assert second.get(gated.url + "/", allow_redirects=False, timeout=10).status_code == 302


# --- The password itself -------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [" ", "short", " " * 20, "a" + " " * 11, "\t\n 1234567890 \t", "12345678901"])
def test_a_weak_password_is_refused(tmp_path, password):
    with pytest.raises(ConfigError) as err:
        create_app({"TOKENS_FILE": str(tmp_path / "t.json"), "APP_PASSWORD": password})
    assert "APP_PASSWORD" in str(err.value) and "12 characters" in str(err.value)


def test_twelve_characters_are_enough(tmp_path):
    app = create_app({"TOKENS_FILE": str(tmp_path / "t.json"), "APP_PASSWORD": "123456789012"})
    assert app.test_client().get("/").status_code == 302


def run_app(tmp_path, *args, **env):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env})


@pytest.mark.slow
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
@pytest.mark.parametrize("password", [" ", "hunter2"])
def test_a_weak_password_stops_the_start(tmp_path, host, password):
    result = run_app(tmp_path, "--host", host, "--port", "1", "--emulator-port", "2", APP_PASSWORD=password)
    assert result.returncode == 2, result.stderr
    assert "APP_PASSWORD is too short" in result.stderr
    assert "EMULATED MODE" not in result.stderr and "Traceback" not in result.stderr  # refused before anything
    if password.strip():
        assert password not in result.stderr


# --- Where sign-in leads -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw_query", [
    "next=/%09/host/x", "next=/%0a/host/x", "next=/%0d%0a/host", "next=%09//host", "next=//host",
    "next=%5C%5Chost", "next=/%5Chost", "next=/%5C/host", "next=https://x", "next=https:/x", "next=HTTPS://x",
    "next=javascript:alert(1)", "next=//host/%2F..", "next=/%E3%80%80/host", "next=%20//host", "next=host",
    "next=", "next=/%00/host",
])
def test_sign_in_never_redirects_off_site(locked, raw_query):
    client = locked.test_client()
    token = csrf_of(client.get("/app-login/").get_data(as_text=True))
    response = client.post("/app-login/?" + raw_query, data={"csrf": token, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/", "/transcripts/", "/posts/?state=failed&page=2", "/stats/#top",
                                    "/%2F/x"])
def test_local_paths_are_followed(target):
    assert safe_next(target) == target
