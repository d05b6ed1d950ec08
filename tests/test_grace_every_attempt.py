"""The grace period holds for every attempt, retries included (issue 22).

A post not made within its grace of ``post_at`` is reported missed and waits for a person, whether it never
started or a run's own retry after a failure (a rate limit, an outage, a relink) would come too late: a post that
failed at its time is not posted days later when TikTok answers again. A person's Retry (the Posts page) or
``--force`` posts it now, a new time gives it a new deadline; an attempt under way (its init sent, its upload or
status in flight, a published post's public id awaited) is carried on whatever the time.

The pure rules as tables (:func:`attempt_when`, :func:`plan_posts`, the dispatcher's :func:`plan_deferrals`), then
the app on the SQLite store against the emulator with the shipped default grace (1 h): a post fails with a retryable
reason at its time, is not tried again two hours later, and is posted at once when a person presses Retry.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from tiktok.config import DEFAULT_POST_GRACE_S
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.exitcodes import BAD_INPUT, FAILED, SCHEDULED
from tiktok.jobs.dispatch import Deferral, plan_deferrals
from tiktok.posting.manifest import PostRequest
from tiktok.posting.runner import RunOptions, Work, plan_posts
from tiktok.posting.schedule import attempt_when
from tiktok.store.base import Post, lifecycle
from tiktok.store.records import PUBLIC, PostRecord, State
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.queue_workers import queue_post

ADA = default_users()[0].open_id
T = 1_796_000_000.0
H = 3600.0
WORK = "work"  # the plan hands the post to the publisher


# -- the pure rule ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("due_at, now, under_way, asked, expected", [
    (None, T, False, False, "due"),             # no post_at: due whenever a run comes
    (T + 60, T, False, False, "scheduled"),
    (T - H, T, False, False, "due"),            # at the edge of the grace
    (T - H - 1, T, False, False, "missed"),     # a first attempt and a run's own retry alike
    (T - 3 * 86400, T, False, True, "due"),     # a person asked: Retry, --force
    (T + 60, T, False, True, "scheduled"),      # ... but a time still to come is kept
    (T - 3 * 86400, T, True, False, "due"),     # under way: carried on, never begun again
    (T + 60, T, True, False, "due"),
])
def test_attempt_when(due_at, now, under_way, asked, expected):
    assert attempt_when(due_at, now, H, under_way=under_way, asked=asked) == expected


def work(record: PostRecord | None = None, due_at: float | None = None) -> Work:
    """Post 7 of Ada as the store hands it to a run, due at ``due_at``."""
    post_at = None if due_at is None else datetime.fromtimestamp(due_at, timezone.utc).isoformat()
    request = PostRequest(index=0, user_id=ADA, video_path=Path("/media/7.mp4"), description="p7", post_at=post_at)
    life = lifecycle(record)
    post = Post(id=7, key="k7", user_id=ADA, entry=request.to_entry(), origin="app", state=life.state,
                board=life.board, revision=1, change=7, created_at=T, updated_at=T, record=record,
                due_at=request.due_at, open=life.open)
    return Work(post, request)


def record(state: State, **fields) -> PostRecord:
    return PostRecord(key="k7", user_id=ADA, state=state, updated_at=T - 600, **fields)


TRY_LATER = record(State.FAILED, outcome="try_later", error="TikTok did not answer (503)")
RELINK = record(State.FAILED, outcome="relink", error="the account must be linked again")
FOR_GOOD = record(State.FAILED, outcome="failed", error="TikTok refused: spam_risk_text")
RETRY_ASKED = record(State.FAILED, outcome="try_later", retry_requested=True)
UPLOADING = record(State.UPLOADING, publish_id="p7", upload_url="https://up/7", next_chunk=1)
PROCESSING = record(State.PROCESSING, publish_id="p7")
INIT_SENT = record(State.PENDING_INIT)  # a stopped run's init; FILE_UPLOAD: taken over and resumed
MAY_EXIST = record(State.PENDING_INIT, outcome="failed", error="init answer lost")
UNDER_REVIEW = record(State.POSTED, publish_id="p7", privacy=PUBLIC, published_at=T - 60)

DEFAULT = RunOptions(grace_s=H)
FORCE = RunOptions(grace_s=H, force=True)
RETRY_FAILED = RunOptions(grace_s=H, retry_failed=True)
LATE = T - 2 * H  # beyond the grace
IN_TIME = T - 60


@pytest.mark.parametrize("item, options, expected, words", [
    (work(None, IN_TIME), DEFAULT, WORK, ()),
    (work(None, LATE), DEFAULT, FAILED, ("missed", "2 h ago", "not posted", "--force")),
    (work(TRY_LATER, IN_TIME), DEFAULT, WORK, ()),  # a retry within the grace: by itself
    (work(TRY_LATER, LATE), DEFAULT, FAILED, ("missed", "not tried again by itself", "503", "Retry", "--force")),
    (work(RELINK, LATE), DEFAULT, FAILED, ("missed", "not tried again by itself", "Retry")),
    (work(TRY_LATER, None), DEFAULT, WORK, ()),  # no post_at, no deadline
    (work(TRY_LATER, T + 600), DEFAULT, SCHEDULED, ("scheduled for", "10 min from now")),  # given a new time
    (work(RETRY_ASKED, LATE), DEFAULT, WORK, ()),  # a person's Retry posts it now
    (work(RETRY_ASKED, T + 600), DEFAULT, SCHEDULED, ()),  # ... at the time they gave it
    (work(TRY_LATER, LATE), FORCE, WORK, ()),
    (work(TRY_LATER, LATE), RETRY_FAILED, FAILED, ("missed",)),  # --retry-failed is about verdicts, not time
    (work(FOR_GOOD, IN_TIME), DEFAULT, FAILED, ("press Retry", "spam_risk_text")),
    (work(FOR_GOOD, IN_TIME), RETRY_FAILED, WORK, ()),
    (work(FOR_GOOD, LATE), RETRY_FAILED, FAILED, ("missed",)),
    (work(UPLOADING, LATE), DEFAULT, WORK, ()),  # under way: resumed from the chunk TikTok holds
    (work(PROCESSING, LATE), DEFAULT, WORK, ()),
    (work(INIT_SENT, LATE), DEFAULT, WORK, ()),
    (work(MAY_EXIST, LATE), DEFAULT, FAILED, ("init answer lost",)),  # needs --force, whatever the time
    (work(UNDER_REVIEW, LATE), DEFAULT, WORK, ()),  # its public id is still looked for
    (Work(work(None, LATE).post, None, 'field "privacy": no longer valid'), DEFAULT, BAD_INPUT, ("privacy",)),
], ids=["first in time", "first missed", "retry in time", "retry missed", "relink missed", "retry without post_at",
        "retry given a new time", "person's retry after the grace", "person's retry at a new time", "force",
        "retry-failed is no time override", "failed for good", "failed for good, retry-failed",
        "failed for good, retry-failed, missed", "uploading", "processing", "init sent", "may exist",
        "under review", "invalid entry"])
def test_the_plan_holds_the_grace_for_every_attempt(item, options, expected, words):
    work_list, settled = plan_posts([item], now=T, options=options)
    if expected == WORK:
        assert [w.post.id for w in work_list] == [7] and settled == {}
        return
    assert work_list == [] and settled[7].status == expected
    for word in words:
        assert word in settled[7].detail


@pytest.mark.parametrize("item, expected", [
    (work(TRY_LATER, IN_TIME), [Deferral("k7", ADA, "post:k7")]),
    (work(TRY_LATER, LATE), []),  # missed: no worker retries it
    (work(RETRY_ASKED, LATE), [Deferral("k7", ADA, "post:k7")]),
    (work(UPLOADING, LATE), [Deferral("k7", ADA, "post:k7")]),
], ids=["retry in time", "retry missed", "person's retry", "under way"])
def test_the_dispatcher_defers_no_job_for_a_missed_retry(item, expected):
    assert plan_deferrals([item], set(), now=T, grace_s=H) == expected


def test_the_shipped_grace_is_an_hour():
    assert DEFAULT_POST_GRACE_S == H and RunOptions().grace_s == H


# -- end to end: the app on the SQLite store ----------------------------------------------------------------------

@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # the app's runner waits 1 s between status fetches


@pytest.mark.slow
def test_a_post_that_failed_at_its_time_is_not_posted_hours_later_until_a_person_retries(serve_app, emulator,
                                                                                        remote, tmp_path):
    served = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    app, web = served.flask_app, served.client()
    assert web.login(open_id=ADA).status_code == 302
    store = store_of(app)  # SQLite: tiktok.db beside the token file, with the default grace (POST_GRACE unset)
    assert type(store).__name__ == "SqliteStore" and app.config["QUEUE_TICK_S"] == 0  # runs only when kicked

    def run_in_app() -> None:
        runner = runner_of(app)
        runner.kick()
        assert runner.join(30), "the app's posting run did not end"

    post_at = datetime.fromtimestamp(served.clock() - 60, timezone.utc).isoformat(timespec="seconds")
    post = queue_post(store, {"user_id": ADA, "video_path": str(make_video(tmp_path / "clip.mp4")),
                              "privacy": "SELF_ONLY", "description": "nine o'clock news", "post_at": post_at})
    requests.post(emulator.url + "/_emulator/posts/fail_next", json={"fail_reason": "internal"},
                  timeout=10).raise_for_status()  # TikTok fails it with a reason a run retries by itself
    run_in_app()
    failed = store.get(post.id).record
    assert (failed.state, failed.outcome) == (State.FAILED, "try_later")

    served.clock.advance(2 * H)  # two hours on: TikTok would take it now, but its time is long gone
    run_in_app()
    assert [p["status"] for p in remote.state()["posts"]] == ["FAILED"]  # not tried again
    assert store.get(post.id).record == failed
    page = web.get("/posts/").text
    assert "no run tries again by itself: press Retry to post it now" in page

    flash = web.post_form(f"/posts/{post.id}/retry")
    assert flash.status_code == 200 and f"Post {post.id} will be posted again" in flash.text
    assert runner_of(app).join(30)
    assert sorted(p["status"] for p in remote.state()["posts"]) == ["FAILED", "PUBLISH_COMPLETE"]
    assert store.get(post.id).record.state == State.POSTED
