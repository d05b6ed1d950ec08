"""The worker's shipped defaults do what the README says (issue 22): new and due posts start within 10 s.

- The default WORKER_DISPATCH_CRON comes round every 10 s as Procrastinate reads it (croniter takes seconds from
  the *last* of six fields; ``*/10 * * * * *`` was one minute in ten).
- A real ``python -m tiktok worker``, started as a user starts it (its whole environment is DATABASE_URL and the
  emulator's address: no schedule, interval, heartbeat or grace set), makes a due post within 20 s of its start,
  then a post scheduled 30 s ahead within 20 s of its time and not before it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tiktok.config import WORKER_DEFAULTS, load_settings
from tiktok.emulator.config import default_users
from tiktok.store.postgres import open_postgres
from tests.support.default_worker import (default_environment, link_all, migrated, start_default_worker, stop,
                                          wait_for)
from tests.support.posting import padded_video
from tests.support.queue_workers import queue_post

ADA = default_users()[0].open_id
MADE_WITHIN_S = 20  # the bound: a dispatch every 10 s, then the upload


def test_the_default_dispatch_schedule_comes_round_every_ten_seconds():
    from croniter import croniter  # what Procrastinate's periodic tasks read the expression with

    assert load_settings({}).worker.dispatch_cron == WORKER_DEFAULTS["WORKER_DISPATCH_CRON"]
    ticks = croniter(WORKER_DEFAULTS["WORKER_DISPATCH_CRON"], 1_800_000_003.0)
    times = [ticks.get_next(float) for _ in range(13)]
    assert times[0] == 1_800_000_010.0 and {b - a for a, b in zip(times, times[1:])} == {10.0}


@pytest.mark.slow  # a worker process on a throwaway PostgreSQL, for about a minute
def test_a_worker_with_the_shipped_defaults_posts_due_and_scheduled_posts_within_20_s(database_url, emulator,
                                                                                       remote, tmp_path):
    db = migrated(database_url)
    link_all(emulator, db, [ADA])
    clip = padded_video(tmp_path / "clip.mp4", 300_000)
    store = open_postgres(db)
    log = tmp_path / "worker.log"
    environment = default_environment(db, emulator.url, tmp_path)
    assert sorted(environment) == ["DATABASE_URL", "HOME", "PATH", "PYTHONPATH", "TIKTOK_API_BASE"]

    def made(title: str):
        return next((p for p in remote.state()["posts"]
                     if p["post_info"]["title"] == title and p["status"] == "PUBLISH_COMPLETE"), None)

    queue_post(store, {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "due now"})
    started = time.time()
    worker = start_default_worker(db, emulator.url, log)
    try:
        due = wait_for(lambda: made("due now"), worker, log, until=started + MADE_WITHIN_S,
                       what=f"the due post was not made within {MADE_WITHIN_S} s of the worker's start")
        post_at = (datetime.now(timezone.utc) + timedelta(seconds=30)).replace(microsecond=0)
        queue_post(store, {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY",
                           "description": "thirty seconds ahead", "post_at": post_at.isoformat()})
        scheduled = wait_for(lambda: made("thirty seconds ahead"), worker, log,
                             until=post_at.timestamp() + MADE_WITHIN_S,
                             what=f"the post scheduled for {post_at.isoformat()} was not made within "
                                  f"{MADE_WITHIN_S} s of its time")
    finally:
        code = stop(worker)
        store.close()
    assert code == 0, log.read_text()[-3000:]
    assert due["completed_at"] - started <= MADE_WITHIN_S
    assert post_at.timestamp() <= scheduled["created_at"]  # its init, not a moment before its time
    assert scheduled["completed_at"] <= post_at.timestamp() + MADE_WITHIN_S
    assert len(remote.state()["posts"]) == 2  # each once
