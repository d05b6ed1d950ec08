"""The composer's creator_info cache (tiktok.web.creators): its rules with an injected clock and limiter, then the
app over real loopback HTTP against the emulator, composing while its runner posts the same account."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tiktok.db.migrations import migrate
from tiktok.db.ratelimit import PgLimiter
from tiktok.posting.client import CreatorInfo
from tiktok.posting.limits import POSTING_LIMITS
from tiktok.ratelimit import TokenLimiter
from tiktok.store import postgres
from tiktok.web.compose import Refusal
from tiktok.web.creators import FRESH_S, KIND, REFUSAL_S, STALE_S, CreatorCache, posting_limiter
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.support.queue_workers import queue_post
from tests.test_composer_web import (  # noqa: F401 (clip and composer are fixtures)
    ADA, BERLIN, BO, CREATOR_INFO, WAIT_S, Page, clip, composer, valid_form,
)

CREATOR = CreatorInfo(nickname="Ada", username="ada.creates", privacy_options=("SELF_ONLY",), comment_disabled=False,
                      duet_disabled=True, stitch_disabled=True, max_duration_s=600)
SPAM = Refusal("refused", "This account has reached TikTok's daily limit.", 403)
RELINK = Refusal("relink", "This account must be linked again.", 403)
NO_ANSWER = Refusal("unavailable", "TikTok did not answer the creator info request.", 503)
LIMIT = POSTING_LIMITS[KIND]  # TikTok's 20 a minute per token


class FakeTime:
    """The app's clock and the limiter's; ``sleep`` moves it, so a wait for a slot takes no real time."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


@dataclass
class TikTok:
    """Answers creator_info as scripted (the last answer repeats), taking a slot first as the composer does."""

    answers: list = field(default_factory=lambda: [(CREATOR, None)])
    attempts: int = 1  # attempts per question (2: the retry after a token refresh)
    asked: int = 0
    release: threading.Event | None = None  # when set, each question waits for it

    def __call__(self, take_slot) -> tuple:
        if self.release is not None:
            assert self.release.wait(10), "the test never let the question finish"
        for _ in range(self.attempts):
            take_slot()
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return answer


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(clock) -> TokenLimiter:
    return TokenLimiter(POSTING_LIMITS, clock=clock, sleep=clock.sleep)


@pytest.fixture
def cache(limiter, clock) -> CreatorCache:
    return CreatorCache(limiter, clock)


# -- the rules -----------------------------------------------------------------------------------------------------

def test_a_good_answer_serves_for_its_lifetime_then_tiktok_is_asked_again(cache, clock):
    tiktok = TikTok()
    assert cache.answer(ADA, tiktok) == (CREATOR, None)
    clock.now += FRESH_S - 0.01
    assert cache.answer(ADA, tiktok) == (CREATOR, None) and tiktok.asked == 1
    clock.now += 0.01
    assert cache.answer(ADA, tiktok) == (CREATOR, None) and tiktok.asked == 2


def test_each_account_has_its_own_answer(cache):
    tiktok = TikTok()
    cache.answer(ADA, tiktok)
    cache.answer(BO, tiktok)
    cache.answer(ADA, tiktok)
    assert tiktok.asked == 2


def test_a_clock_that_went_back_asks_again(cache, clock):
    tiktok = TikTok()
    cache.answer(ADA, tiktok)
    clock.now -= 1
    cache.answer(ADA, tiktok)
    assert tiktok.asked == 2


@pytest.mark.parametrize("refusal, kept_s", [(SPAM, REFUSAL_S), (RELINK, 0.0), (NO_ANSWER, 0.0)])
def test_a_refusal_is_kept_for_seconds_at_most(cache, clock, refusal, kept_s):
    tiktok = TikTok(answers=[(None, refusal), (CREATOR, None)])
    assert cache.answer(ADA, tiktok) == (None, refusal)
    if kept_s:
        clock.now += kept_s - 0.01
        assert cache.answer(ADA, tiktok) == (None, refusal) and tiktok.asked == 1
        clock.now += 0.01
    assert cache.answer(ADA, tiktok) == (CREATOR, None) and tiktok.asked == 2


def test_when_tiktok_gives_no_answer_a_good_answer_up_to_a_minute_old_serves(cache, clock):
    tiktok = TikTok(answers=[(CREATOR, None), (None, NO_ANSWER)])
    cache.answer(ADA, tiktok)
    clock.now += FRESH_S
    assert cache.answer(ADA, tiktok) == (CREATOR, None) and tiktok.asked == 2  # asked, no answer: the last good one
    clock.now += STALE_S - FRESH_S
    assert cache.answer(ADA, tiktok) == (None, NO_ANSWER) and tiktok.asked == 3  # too old now: the page says why


def test_a_refusal_is_never_hidden_behind_an_older_good_answer(cache, clock):
    tiktok = TikTok(answers=[(CREATOR, None), (None, SPAM)])
    cache.answer(ADA, tiktok)
    clock.now += FRESH_S
    assert cache.answer(ADA, tiktok) == (None, SPAM)


def test_every_attempt_takes_a_slot_of_the_shared_limiter(cache, clock, limiter):
    tiktok = TikTok(attempts=2)  # each question: the first try, then the retry after a token refresh
    for _ in range(3):
        cache.answer(ADA, tiktok)
        clock.now += FRESH_S
    assert tiktok.asked == 3 and limiter.calls(ADA, KIND) == 6 and limiter.calls(BO, KIND) == 0


def test_with_no_free_slot_a_recent_answer_serves_and_tiktok_is_not_asked(cache, clock, limiter):
    tiktok = TikTok()
    cache.answer(ADA, tiktok)
    for _ in range(LIMIT - 1):  # a posting run spends the rest of the window
        limiter.acquire(ADA, KIND)
    clock.now += STALE_S - 1
    assert cache.answer(ADA, tiktok) == (CREATOR, None)
    assert tiktok.asked == 1 and limiter.calls(ADA, KIND) == LIMIT and clock.slept == 0


def test_with_no_free_slot_and_no_recent_answer_the_request_waits_for_its_slot(cache, clock, limiter):
    for _ in range(LIMIT):
        limiter.acquire(ADA, KIND)
    tiktok = TikTok()
    assert cache.answer(ADA, tiktok) == (CREATOR, None)  # never refused because of our own limiter
    assert tiktok.asked == 1 and clock.slept == pytest.approx(limiter.span_s)


def test_with_no_free_slot_an_answer_over_a_minute_old_is_not_used(cache, clock, limiter):
    tiktok = TikTok(answers=[(CREATOR, None), (None, SPAM)])
    cache.answer(ADA, tiktok)
    clock.now += STALE_S
    while limiter.calls(ADA, KIND) < LIMIT:
        limiter.acquire(ADA, KIND)
    assert cache.answer(ADA, tiktok) == (None, SPAM)
    assert clock.slept == pytest.approx(limiter.span_s - STALE_S)  # until the first answer's slot left the window


@pytest.mark.parametrize("answer", [(CREATOR, None), (None, NO_ANSWER), (None, RELINK)])
def test_requests_that_arrive_while_one_is_asked_share_its_answer(cache, answer):
    tiktok = TikTok(answers=[answer, (None, SPAM)], release=threading.Event())
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(cache.answer(ADA, tiktok))) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while cache.waiting(ADA) < len(threads):  # all eight in: one asking, seven waiting for it
        assert time.monotonic() < deadline, f"only {cache.waiting(ADA)} requests arrived"
        time.sleep(0.005)
    tiktok.release.set()
    for thread in threads:
        thread.join(10)
    assert results == [answer] * 8 and tiktok.asked == 1  # even answers that are never kept are shared
    assert cache.waiting(ADA) == 0


# -- the app, over HTTP ----------------------------------------------------------------------------------------------

def schedule_form(media_id: str, n: int, app_now: float) -> dict[str, str]:
    """A form scheduling post ``n`` a day or more from the app's now (each post different, so none is a duplicate),
    ten a day: no day reaches TikTok's 15, which the composer would hold back for a second look."""
    local = datetime.fromtimestamp(app_now, ZoneInfo(BERLIN)) + timedelta(days=1 + n // 10, minutes=n)
    return valid_form(media_id, action="schedule", description=f"Loaf number {n}", zone=BERLIN,
                      post_at_local=local.strftime("%Y-%m-%dT%H:%M:%S"))


def requests_to(log: list[dict], path: str) -> list[dict]:
    return [r for r in log if r["path"] == path]


@pytest.mark.slow
def test_30_composes_in_a_minute_on_an_account_being_posted_get_no_429_and_none_is_refused(composer, clip, remote):
    """Issue 23's figure, with the shipped defaults. The app's clock and the emulator's move 2 s per compose, so
    the 30 composes span a minute of TikTok's windows in a few seconds; the app's limiter keeps real time, so it
    is the stricter of the two, never the more lenient."""
    first = remote.requests()[-1]["n"] if remote.requests() else 0
    posting = [queue_post(composer.store, {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY",
                                           "description": f"being posted {n}"}) for n in range(6)]
    assert runner_of(composer.app).kick()  # the runner posts the account while it is composed for
    statuses = []
    for n in range(30):
        page = composer.page()
        upload = composer.upload(clip)
        added = composer.post(**schedule_form(upload.json().get("media_id", ""), n, composer.served.clock()))
        statuses.append((page.status_code, upload.status_code, added.status_code))
        composer.served.clock.advance(2.0)
        remote.advance_clock(2.0)
    assert runner_of(composer.app).join(WAIT_S)
    log = remote.requests(after=first)
    assert statuses == [(200, 200, 302)] * 30  # every page showed its form, every upload and compose was taken
    assert [r for r in log if r["status"] == 429] == [] and remote.rate_limited() == 0
    composed = [p for p in composer.posts() if p.entry.get("description", "").startswith("Loaf number")]
    assert len(composed) == 30
    assert [composer.store.get(p.id).state for p in posting] == ["posted"] * 6
    asked = requests_to(log, CREATOR_INFO)
    assert len(asked) <= LIMIT, f"{len(asked)} creator_info queries in one emulated minute"
    inits = [r["n"] for r in requests_to(log, "/v2/post/publish/video/init/")]
    assert len(inits) == 6
    assert any(asked[0]["n"] < n < asked[-1]["n"] for n in inits)  # the account was posted while composed for


@pytest.mark.slow
def test_the_runner_and_the_composer_share_one_limiter(composer, clip, remote):
    """Every creator_info the app sent (the composer's and its runner's) and every init went through the one
    limiter the app holds (with the shipped defaults: in this process)."""
    first = remote.requests()[-1]["n"] if remote.requests() else 0
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    composer.served.clock.advance(FRESH_S)  # the form's POST asks again
    assert composer.post(**valid_form(media_id)).status_code == 302  # Post now: the runner posts it
    assert runner_of(composer.app).join(WAIT_S)
    log = remote.requests(after=first)
    limiter = posting_limiter(composer.app)
    assert len(requests_to(log, CREATOR_INFO)) == limiter.calls(ADA, KIND) == 3  # page (upload shares it), POST, run
    assert len(requests_to(log, "/v2/post/publish/video/init/")) == limiter.calls(ADA, "init") == 1


@pytest.mark.slow
def test_with_the_limiter_spent_by_the_runs_a_compose_uses_the_last_answer_and_is_not_refused(composer, clip,
                                                                                                 remote):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    limiter = posting_limiter(composer.app)
    while limiter.calls(ADA, KIND) < LIMIT:  # posting runs spend the window
        limiter.acquire(ADA, KIND)
    composer.served.clock.advance(FRESH_S + 1)
    first = remote.requests()[-1]["n"]
    page = composer.page()
    assert page.status_code == 200 and "compose-form" in Page(page.text).ids
    assert composer.upload(clip).status_code == 200
    assert composer.post(**schedule_form(media_id, 1, composer.served.clock())).status_code == 302
    assert requests_to(remote.requests(after=first), CREATOR_INFO) == []  # nothing TikTok would answer 429


@pytest.mark.slow
def test_with_database_url_the_composer_counts_in_the_workers_window(database_url, serve_app, remote, tmp_path):
    """DATABASE_URL: the composer's creator_info calls are rows of the limiter every worker shares, and when the
    workers have spent the window the composer uses its last answer instead of asking."""
    migrate(database_url)
    postgres.migrate(database_url)
    app = serve_app(DATABASE_URL=database_url, MANIFEST_FILE=str(tmp_path / "unused.json"),
                    MEDIA_DIR=str(tmp_path / "media"))
    web = app.client()
    assert web.login(open_id=ADA).status_code == 302
    workers = PgLimiter(database_url, POSTING_LIMITS)  # what another process on another machine sees
    first = remote.requests()[-1]["n"]
    assert web.get(f"/posts/new?open_id={ADA}").status_code == 200
    assert workers.calls(ADA, KIND) == 1 == len(requests_to(remote.requests(after=first), CREATOR_INFO))
    for _ in range(LIMIT - 1):
        workers.acquire(ADA, KIND)
    app.clock.advance(FRESH_S + 1)
    page = web.get(f"/posts/new?open_id={ADA}")
    assert page.status_code == 200 and "compose-form" in Page(page.text).ids
    assert workers.calls(ADA, KIND) == LIMIT and len(requests_to(remote.requests(after=first), CREATOR_INFO)) == 1
