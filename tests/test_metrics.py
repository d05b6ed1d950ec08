"""``/metrics``: the status figures in Prometheus's text format, read back with prometheus_client's own parser.

The app on loopback with an injected clock, an account linked at the emulator, posts put in each state through the
store's methods (due 10 min ago, scheduled, in flight, failed) and two 429s the app's own API client met at the
emulator (counted in the store): the scrape carries exactly the figures :func:`tiktok.store.health.gather` gives.
With APP_PASSWORD the endpoint answers 401 (asking for basic auth) without the password, 200 with it as basic auth or
to a signed-in browser, and wrong passwords count against the sign-in page's throttle. With the shipped defaults it is
open, like every page of an app without a password.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LateApp
from tests.support.flows import link_account
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.emulator.serving import serve_in_thread
from tiktok.errors import RateLimited
from tiktok.store.health import gather
from tiktok.store.records import PostRecord, State
from tiktok.web.app import create_app
from tiktok.web.post_store import store_of
from tiktok.web.security import ADDRESS_FAILURES

ADA = default_users()[0]
PASSWORD = "metrics password " + os.urandom(4).hex()


class Frozen:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scrape(url: str, **kw) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` as Prometheus reads it: every sample by name and labels."""
    response = requests.get(url + "/metrics", timeout=15, **kw)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


class Site:
    """The app served on loopback with ``env`` (plus the emulator and a token file) and a frozen clock."""

    def __init__(self, emulator, tmp_path, **env: str) -> None:
        self.clock = Frozen(time.time())
        self.tokens = TokenStore(tmp_path / "user_tokens.json")
        holder = LateApp()
        self.server = serve_in_thread(holder, log_requests=False)
        holder.app = self.app = create_app({
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(self.tokens.path),
            "REPORTS_DIR": str(tmp_path / "reports"), "PORT": str(self.server.port), **env, "CLOCK": self.clock})
        self.url = self.server.url

    def figures(self):
        services = self.app.extensions["tiktok_services"]
        return gather(services.settings, store_of(self.app), services.store, now=self.clock())


@pytest.fixture
def site_factory(emulator, tmp_path):
    made: list[Site] = []

    def make(**env: str) -> Site:
        made.append(Site(emulator, tmp_path, **env))
        return made[-1]

    yield make
    for site in made:
        site.server.shutdown()


@pytest.fixture
def busy(site_factory, emulator, remote) -> Site:
    """The app with an account, posts in each state and two 429s met by its own API client."""
    site = site_factory()
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    account = link_account(emulator.url, site.tokens, oauth, ADA.open_id)
    site.tokens.put(replace(account, username=ADA.username))
    store, now = store_of(site.app), site.clock()
    entry = {"user_id": ADA.open_id, "video_path": "/videos/clip.mp4", "privacy": "SELF_ONLY"}
    store.add({**entry, "description": "due"}, key="due", due_at=now - 600)
    store.add({**entry, "description": "later"}, key="later", due_at=now + 600)
    for key, state in (("flying", State.UPLOADING), ("failed", State.FAILED)):
        post = store.add({**entry, "description": key}, key=key, due_at=None)
        started = store.start(post.id, post.revision, PostRecord(key=key, user_id=ADA.open_id,
                                                                 state=State.PENDING_INIT))
        store.save(post.id, replace(started, state=state, publish_id=f"p-{key}",
                                    outcome="failed" if state == State.FAILED else None))
    remote.inject_fault("/v2/user/info/", status=429, times=2)
    api = site.app.extensions["tiktok_services"].api
    for _ in range(2):
        with pytest.raises(RateLimited):
            api.user_info(account.access_token)
    assert remote.rate_limited() == 2
    return site


def test_a_scrape_carries_the_status_figures(busy):
    samples = scrape(busy.url)
    f = busy.figures()
    assert (f.queue_age_s, f.due, f.in_flight, f.failed_last_day, f.rate_limited_total) == (600.0, 1, 1, 1, 2)
    assert samples[("tiktok_queue_age_seconds", ())] == f.queue_age_s
    assert samples[("tiktok_posts_due", ())] == f.due
    assert samples[("tiktok_posts_in_flight", ())] == f.in_flight
    assert samples[("tiktok_posts_failed_last_day", ())] == f.failed_last_day
    assert samples[("tiktok_posts_missed_last_day", ())] == f.missed_last_day == 0
    assert samples[("tiktok_rate_limited_last_day", ())] == f.rate_limited_last_day == 2
    assert samples[("tiktok_rate_limited_total", ())] == f.rate_limited_total
    labels = (("name", "@ada.creates"), ("open_id", ADA.open_id))
    assert samples[("tiktok_token_refreshed_timestamp_seconds", labels)] == f.accounts[0].refreshed_at
    assert samples[("tiktok_account_relink_needed", labels)] == 0
    assert samples[("tiktok_status_healthy", ())] == 0 and samples[("tiktok_status_exit_code", ())] == 1
    names = {name for name, _ in samples}
    assert "tiktok_report_written_timestamp_seconds" not in names  # no report written yet
    assert not any(name.startswith("tiktok_worker") for name in names)  # no DATABASE_URL: no workers

    busy.clock.now += 90  # the figures are gathered at each scrape, by the app's clock
    assert scrape(busy.url)[("tiktok_queue_age_seconds", ())] == 690.0


def test_with_a_password_the_scrape_needs_it(site_factory):
    site = site_factory(APP_PASSWORD=PASSWORD)
    refused = requests.get(site.url + "/metrics", allow_redirects=False, timeout=15)
    assert refused.status_code == 401  # a refusal a scraper understands, not the sign-in page
    assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert "tiktok_" not in refused.text and PASSWORD not in refused.text
    wrong = requests.get(site.url + "/metrics", auth=("prometheus", "not the password"), timeout=15)
    assert wrong.status_code == 401
    samples = scrape(site.url, auth=("prometheus", PASSWORD))  # Prometheus's basic_auth: any user name
    assert samples[("tiktok_status_healthy", ())] == 1

    browser = requests.Session()  # a person signed in to the app reads it too
    token = re.search(r'name="csrf" value="([^"]+)"', browser.get(site.url + "/app-login/", timeout=15).text)
    signed_in = browser.post(site.url + "/app-login/", data={"csrf": token.group(1), "password": PASSWORD},
                             allow_redirects=False, timeout=15)
    assert signed_in.status_code == 302
    assert browser.get(site.url + "/metrics", timeout=15).status_code == 200
    assert browser.get(site.url + "/status/", allow_redirects=False, timeout=15).status_code == 200


def test_wrong_passwords_count_against_the_sign_in_throttle(site_factory):
    site = site_factory(APP_PASSWORD=PASSWORD)
    statuses = [requests.get(site.url + "/metrics", auth=("p", f"guess {i}"), timeout=15).status_code
                for i in range(ADDRESS_FAILURES + 1)]
    assert statuses == [401] * ADDRESS_FAILURES + [429]
    held = requests.get(site.url + "/metrics", auth=("p", PASSWORD), timeout=15)
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0  # not even looked at while held
    site.clock.now += 16 * 60  # the throttle's window (15 min) has passed
    assert scrape(site.url, auth=("p", PASSWORD))[("tiktok_status_exit_code", ())] == 0


def test_the_shipped_defaults_serve_it_open(app_under_test):
    """No APP_PASSWORD (the default): /metrics is open like every page of the app."""
    samples = scrape(app_under_test.url)
    assert samples[("tiktok_status_healthy", ())] == 1 and samples[("tiktok_queue_age_seconds", ())] == 0
    assert samples[("tiktok_rate_limited_total", ())] == 0
    assert not any(name == "tiktok_token_refreshed_timestamp_seconds" for name, _ in samples)  # no account yet
