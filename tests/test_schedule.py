"""Scheduled posts (``post_at``): the pure rules as tables, then real runs over the post store against the emulator
with an injected clock (not due, due, missed, two cron runs at once, --watch), accounts in parallel, and the shared
limiter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.config import load_settings
from tiktok.emulator.config import default_users
from tiktok.exitcodes import BAD_INPUT, DONE, FAILED, SCHEDULED, SKIPPED, ExitStatus
from tiktok.posting.limits import POSTING_LIMITS
from tiktok.posting.manifest import PostRequest
from tiktok.posting.runner import Hooks, RunOptions, RunReport, Work, plan_posts, run_queue, summary
from tiktok.posting.schedule import check_future, form_post_at, when
from tiktok.posting.watch import next_wake, watch
from tiktok.ratelimit import TokenLimiter
from tiktok.store.base import Post, lifecycle, open_token_store
from tiktok.store.records import PostRecord, State
from tiktok.store.sqlite import open_sqlite
from tiktok.text import moment, utc_iso
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.stores import StoreUnderTest, make_store

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")
T = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC
BERLIN = "Europe/Berlin"
GAP, TWICE = "2027-03-28T02:30", "2027-10-31T02:30"  # Berlin skips 02:00-03:00, then has it twice in October
FAST = RunOptions(poll_interval_s=0.01)


def at(epoch: float, hours: int = 1) -> str:
    """``epoch`` as ISO 8601 in a UTC+hours zone (the offset is part of the value)."""
    return datetime.fromtimestamp(epoch, timezone(timedelta(hours=hours))).isoformat()


# -- the pure rules ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("due_at, now, grace, expected", [
    (None, T, 3600, "due"),
    (T + 1, T, 3600, "scheduled"),
    (T, T, 3600, "due"),
    (T - 3600, T, 3600, "due"),
    (T - 3601, T, 3600, "missed"),
    (T - 10, T, 0, "missed"),
])
def test_when_an_entry_may_be_posted(due_at, now, grace, expected):
    assert when(due_at, now, grace) == expected


def work(post_id: int, record: PostRecord | None = None, user: str = ADA, **fields) -> Work:
    """A post as the store would hand it to a run (pure: no store), with its checked request."""
    request = PostRequest(index=0, user_id=user, video_path=Path(f"/media/{post_id}.mp4"),
                          description=f"e{post_id}", **fields)
    life = lifecycle(record)
    post = Post(id=post_id, key=f"key{post_id}", user_id=user, entry=request.to_entry(), origin="manifest",
                state=life.state, board=life.board, revision=1, change=post_id, created_at=T, updated_at=T,
                record=record, due_at=request.due_at, open=life.open)
    return Work(post, request)


def record(state: str, **fields) -> PostRecord:
    return PostRecord(key="k", user_id=ADA, state=state, **fields)


def test_plan_settles_what_needs_no_call_and_hands_on_the_rest():
    items = [
        work(1, post_at=at(T + 600)),                                                             # later
        work(2, post_at=at(T - 7200)),                                                            # missed
        work(3, post_at=at(T - 60)),                                                              # due
        work(4, record(State.POSTED, post_ids=(1,), privacy="PUBLIC_TO_EVERYONE")),               # done
        work(5, record(State.FAILED, outcome="failed", error="TikTok refused: spam_risk_text")),  # for good
        work(6, record(State.POSTED, privacy="PUBLIC_TO_EVERYONE", published_at=T - 60)),         # under review
        work(7, record(State.POSTED, privacy="PUBLIC_TO_EVERYONE", published_at=T - 25 * 3600)),  # followed enough
        work(8, record(State.FAILED, outcome="try_later")),                                       # retries itself
        work(9, record(State.PENDING_INIT, outcome="failed", error="init answer lost")),          # may exist
        Work(work(10).post, None, 'field "privacy": no longer valid'),                            # a stale entry
    ]
    chosen, settled = plan_posts(items, now=T, options=RunOptions(grace_s=3600))
    assert [item.post.id for item in chosen] == [3, 6, 8]
    assert {i: o.status for i, o in settled.items()} == {1: SCHEDULED, 2: FAILED, 4: SKIPPED, 5: FAILED, 7: SKIPPED,
                                                         9: FAILED, 10: BAD_INPUT}
    assert "10 min from now" in settled[1].detail and "missed" in settled[2].detail and "--force" in settled[2].detail
    assert "press Retry" in settled[5].detail and "init answer lost" in settled[9].detail
    assert settled[10].detail == 'field "privacy": no longer valid'
    forced, _ = plan_posts(items, now=T, options=RunOptions(force=True, retry_failed=True))
    assert [item.post.id for item in forced] == [2, 3, 5, 6, 8, 9]
    only, settled_only = plan_posts(items, now=T, options=RunOptions(only_ids=frozenset({3, 4})))
    assert [item.post.id for item in only] == [3] and set(settled_only) == {4}  # "post now" looks at nothing else


@pytest.mark.parametrize("form, expected", [
    ({"post_at_local": "2026-12-03T09:00", "zone": BERLIN}, "2026-12-03T09:00:00+01:00"),
    ({"post_at_local": "2026-07-03T09:00", "zone": BERLIN}, "2026-07-03T09:00:00+02:00"),
    ({"post_at_local": "2026-12-03T09:00", "offset": "-05:30"}, "2026-12-03T09:00:00-05:30"),
    ({"post_at_local": "2026-12-03T09:00:30", "offset": "Z"}, "2026-12-03T09:00:30+00:00"),
    ({"post_at_local": "", "zone": BERLIN}, None),
    ({"post_at_local": "  "}, None),
    ({"post_at_local": "2026-07-03T09:00", "zone": BERLIN, "offset": "+05:00"}, "2026-07-03T09:00:00+02:00"),
])
def test_form_post_at(form, expected):
    assert form_post_at(form) == expected


@pytest.mark.parametrize("form, words", [
    ({"post_at_local": "tomorrow", "zone": BERLIN}, "is not a date and time"),
    ({"post_at_local": "2026-12-03T09:00", "offset": "+1 h"}, "the UTC offset must look like"),
    ({"post_at_local": "2026-12-03T09:00", "offset": "+24:00"}, "the UTC offset must look like"),
    ({"post_at_local": "2026-12-03 09:00", "zone": BERLIN}, "is not a date and time"),
    ({"post_at_local": "2026-12-03T09:00+01:00", "zone": BERLIN}, "is not a date and time"),
    ({"post_at_local": "2026-02-30T09:00", "zone": BERLIN}, "is not a date and time"),
    ({"post_at_local": "2030-01-01T09:00", "zone": "Mars/Olympus"}, "is not a time zone this machine knows"),
    ({"post_at_local": GAP, "zone": BERLIN}, "does not exist in Europe/Berlin"),
    ({"post_at_local": TWICE, "zone": BERLIN}, "happens twice in Europe/Berlin"),
    ({"post_at_local": TWICE, "zone": BERLIN, "offset": "+01:00"}, "happens twice in Europe/Berlin"),
])
def test_form_post_at_refuses_what_is_no_time_or_not_one_time(form, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        form_post_at(form)


@pytest.mark.parametrize("seconds_from_now, refused", [(-3600, True), (-61, True), (-60, False), (-30, False),
                                                       (0, False), (600, False)])
def test_check_future_allows_a_minute_late(seconds_from_now, refused):
    now = 1_796_000_000.0
    text = datetime.fromtimestamp(now + seconds_from_now, ZoneInfo(BERLIN)).isoformat()
    if refused:
        with pytest.raises(ValueError, match="is in the past"):
            check_future(text, now)
    else:
        check_future(text, now)


# -- real runs against the emulator, with an injected clock ---------------------------------------------------------

class Queue:
    """A folder with linked accounts, a clip, a manifest and a post store (SQLite in the folder unless given), and
    runs of the real runner over them."""

    def __init__(self, folder: Path, emulator, users=(ADA, BO), made: StoreUnderTest | None = None) -> None:
        self.folder, self.emulator = folder, emulator
        path = folder / "tiktok.db"
        self.made = made or StoreUnderTest("sqlite", open_sqlite(path), {"STORE_FILE": str(path)})
        self.store = self.made.store
        self.settings = load_settings(self.env())
        tokens = open_token_store(self.settings)  # the token file, or PostgreSQL's accounts with DATABASE_URL
        oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                            client_secret=emulator.config.client_secret)
        for open_id in users:
            link_account(emulator.url, tokens, oauth, open_id, scopes=SCOPES)
        make_video(folder / "clip.mp4")
        self.manifest = folder / "videos_to_upload.json"
        self.lines: list[str] = []

    def env(self) -> dict[str, str]:
        return {"TIKTOK_CLIENT_KEY": self.emulator.config.client_key,
                "TIKTOK_CLIENT_SECRET": self.emulator.config.client_secret,
                "TIKTOK_API_BASE": self.emulator.url, "TOKENS_FILE": str(self.folder / "user_tokens.json"),
                **self.made.env}

    def write(self, entries: list[dict]) -> None:
        self.manifest.write_text(json.dumps(entries))

    def run(self, now: float, options: RunOptions = FAST, **hooks) -> RunReport:
        return run_queue(self.store, self.settings, options, manifest=self.manifest, clock=lambda: now,
                         hooks=Hooks(say=self.lines.append, **hooks))

    def posts(self) -> list[Post]:
        return list(self.store.every_post())

    def post(self, user: str = ADA) -> Post:
        """The one post of ``user`` in the store."""
        (post,) = [p for p in self.posts() if p.user_id == user]
        return post


@pytest.fixture
def queue(tmp_path, emulator, test_store):
    """On SQLite and on PostgreSQL (the store_kind parameter): every run below holds on both."""
    return Queue(tmp_path, emulator, made=test_store)


def video(user: str = ADA, **fields) -> dict:
    return {"user_id": user, "video_path": "clip.mp4", "privacy": "SELF_ONLY", **fields}


@pytest.mark.slow
def test_an_entry_not_due_is_untouched(queue, remote):
    now = remote.clock()["now"]
    queue.write([video(post_at=at(now + 3600), description="later")])
    report = queue.run(now)
    assert report.outcomes == [] and report.status == ExitStatus.OK  # a run has nothing to do for it yet
    assert report.scheduled == 1 and report.next_due_at == pytest.approx(now + 3600, abs=1)
    post = queue.post()
    assert remote.state()["posts"] == [] and (post.state, post.record) == ("queued", None)
    assert post.due_at == pytest.approx(now + 3600, abs=1)
    assert f"1 scheduled, the next at {moment(post.due_at)}" in summary(report)


@pytest.mark.slow
def test_a_due_entry_is_posted_once(queue, remote):
    now = remote.clock()["now"]
    queue.write([video(post_at=at(now + 600), description="at ten past")])
    early = queue.run(now)
    assert early.outcomes == [] and early.scheduled == 1
    first = queue.run(now + 601)
    assert [o.status for o in first.outcomes] == [DONE] and first.status == ExitStatus.OK
    again = queue.run(now + 660)
    assert again.outcomes == [] and again.status == ExitStatus.OK  # a posted post is history: no run looks again
    assert queue.post().record.state == State.POSTED
    posts = remote.state()["posts"]
    assert len(posts) == 1 and posts[0]["status"] == "PUBLISH_COMPLETE"
    assert posts[0]["post_info"]["title"] == "at ten past"


@pytest.mark.slow
def test_an_entry_missed_beyond_the_grace_period_is_reported_and_not_posted(queue, remote):
    now = remote.clock()["now"]
    queue.write([video(post_at=at(now - 2 * 3600), description="yesterday's news")])
    report = queue.run(now, RunOptions(grace_s=3600, poll_interval_s=0.01))
    (outcome,) = report.outcomes
    assert outcome.status == FAILED and report.status == ExitStatus.FAILED
    assert "missed" in outcome.detail and "2 h" in outcome.detail and "--force" in outcome.detail
    assert remote.state()["posts"] == [] and queue.post().record is None
    inside = queue.run(now, RunOptions(grace_s=3 * 3600, poll_interval_s=0.01))  # a longer grace period posts it
    assert [o.status for o in inside.outcomes] == [DONE] and len(remote.state()["posts"]) == 1


@pytest.mark.slow
def test_force_posts_a_missed_entry(queue, remote):
    now = remote.clock()["now"]
    queue.write([video(post_at=at(now - 86400))])
    report = queue.run(now, RunOptions(force=True, poll_interval_s=0.01))
    assert [o.status for o in report.outcomes] == [DONE] and len(remote.state()["posts"]) == 1


@pytest.mark.slow
def test_a_rescheduled_entry_keeps_its_record_and_is_never_posted_again(queue, remote):
    now = remote.clock()["now"]
    queue.write([video(post_at=at(now - 60))])
    assert [o.status for o in queue.run(now).outcomes] == [DONE]
    queue.write([video(post_at=at(now + 3600))])  # moved after it was posted
    moved = queue.run(now)
    assert moved.outcomes == [] and moved.imported.result.added == [] and moved.imported.result.rescheduled == []
    assert queue.run(now + 7200).outcomes == []
    assert len(remote.state()["posts"]) == 1 and len(queue.posts()) == 1
    assert queue.post().record.state == State.POSTED


@pytest.mark.slow
def test_two_cron_runs_at_once_make_one_post(tmp_path, emulator, remote, store_kind, request):
    queue = Queue(tmp_path, emulator, made=make_store(store_kind, tmp_path, request))
    now = remote.clock()["now"]
    queue.write([video(post_at=at(now - 30), description="due now"),
                 video(user=BO, post_at=at(now + 86400), description="tomorrow")])
    env = {"PATH": os.environ["PATH"], "HOME": str(queue.folder), "PYTHONPATH": str(ROOT), **queue.env()}
    command = [sys.executable, str(ROOT / "upload_to_tiktok.py"), "--json", "--poll-interval", "0.01"]
    runs = [subprocess.Popen(command, cwd=queue.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    finished = [(run.wait(timeout=60), *run.communicate()) for run in runs]
    reports = [json.loads(out) for _, out, _ in finished]
    posts = remote.state()["posts"]
    assert len(posts) == 1 and posts[0]["open_id"] == ADA, [err for _, _, err in finished]
    statuses = sorted(o["status"] for r in reports for o in r["outcomes"] if o["user_id"] == ADA)
    assert statuses in (["done"], ["done", "skipped"]), statuses  # the other run found it claimed, done or history
    tomorrow = utc_iso(queue.post(BO).due_at)
    assert all(r["next_due_at"] == tomorrow and BO not in {o["user_id"] for o in r["outcomes"]} for r in reports)
    assert sorted(code for code, _, _ in finished) in ([0, 0], [0, 4])
    assert len(queue.posts()) == 2  # both runs imported the manifest: each post once
    assert queue.post(ADA).record.publish_id == posts[0]["publish_id"]
    queue.store.close()


@pytest.mark.slow
def test_watch_posts_each_entry_when_it_comes_due_and_not_before(queue, remote):
    start = remote.clock()["now"]
    queue.write([video(post_at=at(start + 30), description="first"),
                 video(user=BO, post_at=at(start + 90), description="second")])
    clock = {"now": start}
    rounds: list[tuple[float, int]] = []

    def run_once() -> RunReport:
        report = queue.run(clock["now"])
        rounds.append((round(clock["now"] - start, 3), len(remote.state()["posts"])))
        return report

    def sleep(seconds: float) -> None:
        clock["now"] += seconds

    watch(run_once, clock=lambda: clock["now"], sleep=sleep, changed=lambda: queue.manifest.stat().st_mtime_ns,
          stopped=lambda: len(rounds) >= 3, after=lambda report, wake: None, rescan_s=60, step_s=5)
    assert rounds == [(0, 0), (30, 1), (90, 2)]  # woke exactly at each post_at, posted then and not before
    assert [p["post_info"]["title"] for p in remote.state()["posts"]] == ["first", "second"]


def test_watch_wakes_early_when_the_manifest_changes():
    clock = {"now": 0.0, "mtime": 1}
    runs: list[float] = []

    def sleep(seconds: float) -> None:
        clock["now"] += seconds
        if clock["now"] >= 10:
            clock["mtime"] = 2  # someone saved the manifest

    watch(lambda: runs.append(clock["now"]) or RunReport(), clock=lambda: clock["now"], sleep=sleep,
          changed=lambda: clock["mtime"], stopped=lambda: len(runs) >= 2, after=lambda r, w: None,
          rescan_s=60, step_s=5)
    assert runs == [0.0, 10.0]
    assert next_wake(RunReport(next_due_at=500.0), 0.0, 60) == 60.0
    assert next_wake(RunReport(next_due_at=20.0), 0.0, 60) == 20.0


@pytest.mark.slow
def test_accounts_post_in_parallel_and_each_account_in_order(tmp_path, emulator, remote):
    queue = Queue(tmp_path, emulator, users=(ADA, BO, CY))
    entries = [video(user=user, description=f"{name}{n}")
               for n in range(3) for user, name in ((ADA, "a"), (BO, "b"), (CY, "c"))]
    queue.write(entries)
    threads: set[str] = set()

    def say(line: str) -> None:
        threads.add(threading.current_thread().name)
        queue.lines.append(line)

    report = run_queue(queue.store, queue.settings, RunOptions(jobs=3, poll_interval_s=0.01),
                       manifest=queue.manifest, hooks=Hooks(say=say))
    assert [o.status for o in report.outcomes] == [DONE] * 9
    posts = remote.state()["posts"]
    assert len(posts) == 9 and len({p["publish_id"] for p in posts}) == 9
    for user, name in ((ADA, "a"), (BO, "b"), (CY, "c")):
        mine = sorted((p for p in posts if p["open_id"] == user), key=lambda p: p["created_at"])
        assert [p["post_info"]["title"] for p in mine] == [f"{name}{n}" for n in range(3)]
    assert len({t for t in threads if t.startswith("post")}) == 3  # three worker threads spoke


class FakeMinute:
    """The limiter's clock and sleep: sleeping moves this clock and the emulator's by the same amount."""

    def __init__(self, remote) -> None:
        self.remote, self.now, self.slept = remote, 0.0, 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        self.remote.advance_clock(seconds)


@pytest.mark.slow
def test_one_shared_limiter_keeps_seven_inits_within_six_a_minute_and_tiktok_never_says_429(tmp_path, emulator,
                                                                                         remote):
    emulator.config.daily_post_cap = 50
    queue = Queue(tmp_path, emulator, users=(ADA,))
    queue.write([video(description=f"post {n}") for n in range(7)])
    fake = FakeMinute(remote)
    limiter = TokenLimiter(POSTING_LIMITS, clock=fake.clock, sleep=fake.sleep)
    report = queue.run(remote.clock()["now"], limiter=limiter)
    assert [o.status for o in report.outcomes] == [DONE] * 7
    assert remote.rate_limited() == 0
    assert 55 <= fake.slept <= 62  # the seventh init waited for the first to leave the minute
    assert limiter.calls(ADA, "init") <= POSTING_LIMITS["init"]


@pytest.mark.slow
def test_the_limiter_is_why_there_is_no_429(tmp_path, emulator, remote):
    """Control for the test above: with a limiter that allows anything, the emulator does answer 429."""
    emulator.config.daily_post_cap = 50
    queue = Queue(tmp_path, emulator, users=(ADA,))
    queue.write([video(description=f"post {n}") for n in range(7)])
    fake = FakeMinute(remote)
    loose = TokenLimiter({kind: 1000 for kind in POSTING_LIMITS}, clock=fake.clock, sleep=fake.sleep)
    from tiktok.retry import Runtime
    queue.run(remote.clock()["now"], limiter=loose, runtime=lambda: Runtime(sleep=fake.sleep))
    assert remote.rate_limited() >= 1


# -- the public link, which TikTok releases only after moderation ----------------------------------------------------

@pytest.mark.slow
def test_a_public_post_is_followed_until_moderation_releases_its_id_and_never_initialised_again(queue, remote):
    remote.set_moderation(delay_s=300)
    now = remote.clock()["now"]
    queue.write([video(privacy="PUBLIC_TO_EVERYONE", description="for everyone")])
    (posted,) = queue.run(now).outcomes
    assert posted.status == DONE and "under review" in posted.detail and posted.post_ids == ()
    record = queue.post().record
    assert record.state == State.POSTED and record.awaiting_public_id(now) and record.username == "ada.creates"
    assert queue.store.following(now) == 1
    (still,) = queue.run(now + 60).outcomes
    assert still.status == SKIPPED and "still under review" in still.detail
    remote.advance_clock(301)
    (cleared,) = queue.run(now + 400).outcomes
    (post,) = remote.state()["posts"]  # one post: the follow-ups fetched status, never init
    assert cleared.status == SKIPPED and str(post["post_ids"][0]) in cleared.detail
    record = queue.post().record
    assert record.post_ids == tuple(post["post_ids"]) and not record.awaiting_public_id(now + 400)
    queue.lines.clear()
    settled = queue.run(now + 500)
    assert settled.outcomes == [] and settled.following == 0  # history now: no run looks at it again
    assert not any("[1/" in line for line in queue.lines)


@pytest.mark.slow
def test_an_id_that_never_comes_is_followed_for_24_hours_only(queue, remote):
    remote.set_moderation(withhold=True)
    now = remote.clock()["now"]
    queue.write([video(privacy="PUBLIC_TO_EVERYONE")])
    assert [o.status for o in queue.run(now).outcomes] == [DONE]
    assert "still under review" in queue.run(now + 23 * 3600).outcomes[0].detail
    late = queue.run(now + 25 * 3600)
    assert late.outcomes == [] and late.following == 0
    record = queue.post().record
    assert record.post_ids == () and not record.awaiting_public_id(now + 25 * 3600)
    assert len(remote.state()["posts"]) == 1


@pytest.mark.slow
def test_a_private_post_is_never_followed(queue, remote):
    remote.set_moderation(delay_s=300)
    now = remote.clock()["now"]
    queue.write([video(privacy="SELF_ONLY")])
    (posted,) = queue.run(now).outcomes
    assert posted.status == DONE and "not public" in posted.detail
    record = queue.post().record
    assert not record.awaiting_public_id(now) and queue.store.following(now) == 0


# -- failures: what retries by itself and what waits for a person ----------------------------------------------------

@pytest.mark.slow
def test_a_post_tiktok_failed_for_good_waits_for_a_retry_request(queue, remote):
    requests.post(queue.emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": "spam_risk_text"},
                  timeout=10).raise_for_status()
    now = remote.clock()["now"]
    queue.write([video(description="spammy?")])
    (failed,) = queue.run(now).outcomes
    assert failed.status == FAILED and "spam_risk_text" in failed.detail
    again = queue.run(now + 60)
    assert again.outcomes == [] and len(remote.state()["posts"]) == 1  # cron every minute leaves it alone
    post = queue.post()
    assert post.board == "failed" and not post.open
    assert queue.store.request_retry(post.id) and not queue.store.request_retry(post.id)  # asked once is enough
    (retried,) = queue.run(now + 120).outcomes
    assert retried.status == DONE and len(remote.state()["posts"]) == 2
    post = queue.post()
    assert post.record.state == State.POSTED and post.record.retry_requested is False
    (earlier,) = queue.store.attempts(post.id)  # the failed attempt stays as history
    assert earlier.fail_reason == "spam_risk_text"


@pytest.mark.slow
def test_a_retryable_failure_is_tried_again_by_the_next_run(queue, remote):
    requests.post(queue.emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": "internal"},
                  timeout=10).raise_for_status()
    now = remote.clock()["now"]
    queue.write([video()])
    report = queue.run(now)
    assert [o.status for o in report.outcomes] == ["try_later"] and report.status == ExitStatus.TRY_LATER
    assert [o.status for o in queue.run(now + 60).outcomes] == [DONE]


def test_the_summary_line_counts_outcomes_and_says_what_comes_next():
    from tiktok.posting.publisher import Outcome
    outcomes = [Outcome(post_id=i, user_id=ADA, media="clip.mp4", status=s, detail="")
                for i, s in enumerate([DONE, DONE, FAILED], 1)]
    line = summary(RunReport(outcomes=outcomes, next_due_at=T, scheduled=3, following=1, emulated=True))
    assert line == (f"summary: 2 DONE, 1 FAILED; 3 scheduled, the next at {moment(T)}; 1 posted under "
                    "review (later runs look for the public link) (EMULATED: nothing was sent to TikTok)")
    assert summary(RunReport()) == "summary: nothing to do"


@pytest.mark.slow
def test_the_watch_command_posts_what_is_due_and_stops_cleanly_on_sigterm(queue, remote):
    import signal
    import time
    now = remote.clock()["now"]
    queue.write([video(description="now"), video(user=BO, post_at=at(now + 86400), description="tomorrow")])
    env = {"PATH": os.environ["PATH"], "HOME": str(queue.folder), "PYTHONPATH": str(ROOT), **queue.env()}
    proc = subprocess.Popen([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--watch", "--poll-interval", "0.01"],
                            cwd=queue.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not queue.posts() or queue.post(ADA).state != State.POSTED:  # waits for the event, not a fixed time
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "watching" in out and "next look at" in out and out.rstrip().endswith("stopped watching")
    assert "1 scheduled, the next at" in out and len(remote.state()["posts"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("change", ["cancel", "edit"])
def test_a_post_cancelled_or_edited_after_the_run_read_the_queue_is_not_posted_as_read(queue, remote, change):
    now = remote.clock()["now"]
    queue.write([video(description="changed my mind")])

    def say(line: str) -> None:  # the run has read the queue and is about to publish: the person acts now
        queue.lines.append(line)
        if "[1/1]" in line:
            post = queue.post()
            if change == "cancel":
                queue.store.cancel(post.id, revision=post.revision)
            else:
                queue.store.edit(post.id, {**post.entry, "description": "second thoughts"}, due_at=None,
                                 revision=post.revision)

    report = run_queue(queue.store, queue.settings, FAST, manifest=queue.manifest, clock=lambda: now,
                       hooks=Hooks(say=say))
    (outcome,) = report.outcomes
    assert outcome.status == SKIPPED and "cancelled or changed after this run read the queue" in outcome.detail
    assert remote.state()["posts"] == [] and queue.post().record is None
    later = queue.run(now + 60)  # the next run posts what the post says now: nothing, or the edited caption
    if change == "cancel":
        assert later.outcomes == [] and queue.post().state == "cancelled" and remote.state()["posts"] == []
    else:
        assert [o.status for o in later.outcomes] == [DONE]
        assert [p["post_info"]["title"] for p in remote.state()["posts"]] == ["second thoughts"]
