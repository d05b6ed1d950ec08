"""One clock for schedules in PostgreSQL mode (issue 22, :mod:`tiktok.db.clock`): the database server's.

- The clock learns the offset between the server's clock and this machine's with one query, gives the server's
  time from then on without asking again until ``relearn_s`` has passed, and warns (naming the database, never its
  password) when this machine is more than 5 s off; a server it cannot reach keeps the last offset, no error.
- The post store opened on DATABASE_URL keeps its times, and the workers and the CLI their schedules, on it.
- A real worker whose clock is 120 s fast (run under libfaketime: the process's own clock, nothing injected into the
  code) makes a post scheduled 30 s ahead at its time, not 2 minutes early, and logs the warning; so does
  ``python -m tiktok post`` with DATABASE_URL: a post due in a minute stays scheduled, and it warns.
"""

from __future__ import annotations

import glob
import logging
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from tiktok.db.clock import WARN_S, DatabaseClock, database_clock
from tiktok.emulator.config import default_users
from tiktok.store.postgres import open_postgres
from tests.support.default_worker import (default_environment, link_all, migrated, start_default_worker, stop,
                                          wait_for)
from tests.support.postgres import free_port
from tests.support.posting import padded_video
from tests.support.queue_workers import queue_post

pytestmark = pytest.mark.slow  # a throwaway PostgreSQL cluster; one test runs a worker for about a minute

ADA = default_users()[0].open_id
CLOSE_S = 0.5  # the server runs on this machine: its clock and ours agree to far better than this


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("skew_s, warned", [(120.0, "ahead of"), (-30.0, "behind"), (WARN_S - 1, None),
                                            (0.0, None)])
def test_the_clock_gives_the_servers_time_and_warns_when_this_machine_is_off(database_url, caplog, skew_s, warned):
    url = database_url.replace("postgres@", "postgres:pw-Secret-42@")  # trust login: the password is not checked
    clock = DatabaseClock(url, local=lambda: time.time() + skew_s, monotonic=Ticks())
    with caplog.at_level(logging.DEBUG, logger="tiktok.db.clock"):
        assert clock() == pytest.approx(time.time(), abs=CLOSE_S)
    assert clock.learned and clock.offset == pytest.approx(-skew_s, abs=CLOSE_S)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if warned is None:
        assert warnings == []
    else:
        (warning,) = warnings
        assert f"{abs(skew_s):.1f} s {warned} the clock of PostgreSQL database" in warning
        assert "set this machine's clock right" in warning
    assert "pw-Secret-42" not in caplog.text


def test_the_offset_is_learned_again_only_after_relearn_s(database_url):
    skew = [0.0]
    ticks = Ticks()
    clock = DatabaseClock(database_url, local=lambda: time.time() + skew[0], monotonic=ticks, relearn_s=300)
    assert clock.offset == 0.0 and clock() == pytest.approx(time.time(), abs=CLOSE_S)
    skew[0] = 60.0  # this machine's clock is stepped an hour... a minute ahead
    ticks.now = 299.0
    assert clock() == pytest.approx(time.time() + 60, abs=CLOSE_S)  # not asked again yet: no query per call
    ticks.now = 300.0
    assert clock() == pytest.approx(time.time(), abs=CLOSE_S) and clock.offset == pytest.approx(-60, abs=CLOSE_S)


def test_a_server_it_cannot_reach_keeps_the_last_offset_and_is_asked_again_later(caplog):
    ticks = Ticks()
    clock = DatabaseClock(f"postgresql://postgres:pw-Secret-42@127.0.0.1:{free_port()}/nowhere",
                          monotonic=ticks, retry_s=10)
    with caplog.at_level(logging.DEBUG, logger="tiktok.db.clock"):
        assert clock() == pytest.approx(time.time(), abs=CLOSE_S)  # no error: the store's own calls say what is wrong
        assert not clock.learned and clock.offset == 0.0
        asked = len(caplog.records)
        clock()
        assert len(caplog.records) == asked  # not asked again at once
        ticks.now = 10.0
        clock()
        assert len(caplog.records) == asked + 1
    assert "cannot be reached" in caplog.text and "pw-Secret-42" not in caplog.text


def test_the_post_store_on_postgresql_keeps_the_databases_time(database_url):
    store = open_postgres(migrated(database_url))
    try:
        assert store.clock is database_clock(database_url)  # one per database and process, shared
    finally:
        store.close()


def clock_ahead(seconds: int) -> tuple[str, ...]:
    """A command prefix that runs a program with its clock ``seconds`` fast: libfaketime (Debian's faketime package)
    preloaded through ``env``, which execs the program itself (the ``faketime`` command forks, so a signal sent to
    it would not reach the worker)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime not found: install Debian's faketime package (apt-get install -y faketime); "
                    "scripts/test.sh does this", pytrace=False)
    return ("env", f"LD_PRELOAD={found[0]}", f"FAKETIME=+{seconds}s")


def test_a_worker_whose_clock_is_120_s_fast_posts_on_the_databases_time_and_warns(database_url, emulator, remote,
                                                                                   tmp_path):
    db = migrated(database_url)
    link_all(emulator, db, [ADA])
    clip = padded_video(tmp_path / "clip.mp4", 300_000)
    store = open_postgres(db)
    post_at = (datetime.now(timezone.utc) + timedelta(seconds=30)).replace(microsecond=0)
    queue_post(store, {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "at its time",
                       "post_at": post_at.isoformat()})
    log = tmp_path / "worker.log"
    worker = start_default_worker(db, emulator.url, log, wrapper=clock_ahead(120))
    try:
        wait_for(lambda: "clock is 120" in log.read_text(), worker, log, until=time.time() + 20,
                 what="the worker did not warn about its clock")
        made = wait_for(lambda: next((p for p in remote.state()["posts"] if p["status"] == "PUBLISH_COMPLETE"), None),
                        worker, log, until=post_at.timestamp() + 20,
                        what=f"the post due at {post_at.isoformat()} was not made within 20 s of its time")
    finally:
        code = stop(worker)
        store.close()
    assert code == 0, log.read_text()[-3000:]
    assert made["created_at"] >= post_at.timestamp(), log.read_text()[-3000:]  # the emulator's (real) time
    assert len(remote.state()["posts"]) == 1
    assert "s ahead of the clock of PostgreSQL database" in log.read_text()


def test_the_cli_whose_clock_is_120_s_fast_keeps_to_the_databases_time_and_warns(database_url, emulator, remote,
                                                                                   tmp_path):
    db = migrated(database_url)
    link_all(emulator, db, [ADA])
    store = open_postgres(db)
    post_at = (datetime.now(timezone.utc) + timedelta(seconds=60)).replace(microsecond=0)
    queue_post(store, {"user_id": ADA, "video_path": str(padded_video(tmp_path / "clip.mp4", 300_000)),
                       "privacy": "SELF_ONLY", "description": "in a minute", "post_at": post_at.isoformat()})
    store.close()
    done = subprocess.run([*clock_ahead(120), sys.executable, "-m", "tiktok", "post"], cwd=tmp_path,
                          env=default_environment(db, emulator.url, tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 scheduled" in done.stdout and remote.state()["posts"] == []  # by its own clock it was due a minute ago
    assert "this machine's clock is 120" in done.stderr and "ahead of the clock of PostgreSQL database" in done.stderr
