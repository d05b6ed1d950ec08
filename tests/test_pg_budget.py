"""The connection budget (issue 22, item 4): a process opens at most DATABASE_POOL_SIZE connections (default 6).

About 17 connections per busy worker were measured before (8 workers reached 136, and a default 100-connection
server refused 235 times). Now:

- the split of a budget between Procrastinate's pool, the post store's and the accounts' (pure), and the setting's
  checks;
- 8 workers with the shipped defaults and the app, against a cluster of the test's own with ``max_connections=100``
  (a default server's) and a role that is no superuser (so 3 of the 100 are reserved, as for any application): 96
  posts over 48 accounts all made once, the app's pages read all along, **no connection refused** (counted in every
  process's output and in the server's log) and the peak of ``pg_stat_activity`` (sampled every 50 ms) within the
  budget: printed, with each process's own peak;
- a worker with DATABASE_POOL_SIZE=4 keeps to 4.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.config import DEFAULT_DATABASE_POOL_SIZE, load_settings
from tiktok.db.connection import Budget, application_name
from tiktok.emulator.config import EmulatorConfig, generated_users
from tiktok.errors import ConfigError
from tiktok.store.postgres import open_postgres
from tests.support.app_process import start_app, stop_app
from tests.support.clusters import own_cluster, server_log
from tests.support.default_worker import default_environment, link_all, migrated, stop
from tests.support.posting import padded_video
from tests.support.queue_workers import queue_post

ROOT = Path(__file__).resolve().parents[1]
USERS = generated_users(48)
WORKERS = 8
POSTS_PER_ACCOUNT = 2
DEADLINE_S = 420
REFUSED = re.compile(r"too many clients already|remaining connection slots are reserved")
KEEPER = "tiktok-lease-keeper"  # tiktok.store.leases: a post store's keeper session, named the same in every process


# -- the split -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("total, queue, store, accounts", [
    (4, 2, 1, 1), (5, 2, 2, 1), (6, 2, 2, 2), (7, 2, 3, 2), (20, 2, 9, 9),
])
def test_a_budget_is_shared_between_the_three_pools_and_adds_up(total, queue, store, accounts):
    budget = Budget(total)
    assert (budget.queue, budget.store, budget.accounts) == (queue, store, accounts)
    assert budget.queue + budget.store + budget.accounts == total


def test_the_default_budget_is_six_connections_a_process():
    assert load_settings({}).store.database_pool_size == DEFAULT_DATABASE_POOL_SIZE == Budget().total == 6


@pytest.mark.parametrize("raw", ["3", "0", "-1", "201", "six", "4.5", "\u00b2", " "])
def test_a_pool_size_out_of_range_is_a_config_error_naming_the_setting(raw):
    if not raw.strip():
        assert load_settings({"DATABASE_POOL_SIZE": raw}).store.database_pool_size == 6  # empty: the default
        return
    with pytest.raises(ConfigError, match=r"DATABASE_POOL_SIZE='.*' is not a whole number from 4 to 200"):
        load_settings({"DATABASE_POOL_SIZE": raw})


# -- 8 workers and the app on a 100-connection server ---------------------------------------------------------------

@dataclass
class Sampler:
    """Samples ``pg_stat_activity`` every ``every_s`` on an admin connection (not counted) until stopped: the peak
    of client connections, and each application_name's own peak."""

    admin_url: str
    every_s: float = 0.05
    peak: int = 0
    peaks: Counter = field(default_factory=Counter)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self._stop.wait(self.every_s):
                rows = conn.execute("SELECT application_name, count(*) FROM pg_stat_activity WHERE backend_type = "
                                    "'client backend' AND pid <> pg_backend_pid() GROUP BY 1").fetchall()
                self.samples += 1
                self.peak = max(self.peak, sum(n for _, n in rows))
                for name, n in rows:
                    self.peaks[name] = max(self.peaks[name], n)

    def __enter__(self) -> "Sampler":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def hundred():
    """A cluster of this module's own with a default server's max_connections (100), and a role ``tiktok`` that is
    no superuser, owning the database ``tiktok``."""
    with own_cluster(options="-c max_connections=100 -c fsync=off") as server:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            assert conn.execute("SHOW max_connections").fetchone()[0] == "100"
            conn.execute("CREATE ROLE tiktok LOGIN")
            conn.execute("CREATE DATABASE tiktok OWNER tiktok")
        yield server


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    config = EmulatorConfig()
    config.users = [*config.users, *USERS]
    return config


def start_worker(db: str, emulator_url: str, folder: Path, **extra: str) -> subprocess.Popen:
    """``python -m tiktok worker`` in a folder of its own (a machine of its own), with the shipped defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "worker.log").open("a")
    return subprocess.Popen([sys.executable, "-m", "tiktok", "worker"], cwd=folder, stdout=log,
                            stderr=subprocess.STDOUT, env={**default_environment(db, emulator_url, folder), **extra})


def posted(db: str) -> int:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM tiktok_store_posts WHERE state = 'posted'").fetchone()[0]


def read_pages(base: str, stop_reading: threading.Event, answers: Counter) -> None:
    """Read the app's Posts page and its board over and over, as people with the page open do."""
    session = requests.Session()
    while not stop_reading.is_set():
        for path in ("/posts/", "/posts/board?since=0", "/"):
            answers[session.get(base + path, timeout=60).status_code] += 1


@pytest.mark.slow  # 8 worker processes, the app and a cluster of its own, for a few minutes
def test_eight_workers_and_the_app_on_a_hundred_connection_server_are_never_refused(hundred, emulator, remote,
                                                                                  tmp_path):
    db = migrated(hundred.url("tiktok").replace("postgres@", "tiktok@"))
    link_all(emulator, db, [user.open_id for user in USERS])
    clip = padded_video(tmp_path / "clip.mp4", 300_000)
    store = open_postgres(db)
    try:
        for n in range(POSTS_PER_ACCOUNT):
            for user in USERS:
                queue_post(store, {"user_id": user.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                                   "description": f"{user.username} post {n}"})
    finally:
        store.close()
    expected = len(USERS) * POSTS_PER_ACCOUNT
    answers: Counter = Counter()
    stop_reading = threading.Event()
    (tmp_path / "app").mkdir()
    app, base = start_app(tmp_path / "app", env={"DATABASE_URL": db, "TIKTOK_API_BASE": emulator.url,
                                                 "PYTHONPATH": str(ROOT)})
    reader = threading.Thread(target=read_pages, args=(base, stop_reading, answers), daemon=True)
    workers: list[subprocess.Popen] = []
    started = time.monotonic()
    with Sampler(hundred.admin_url) as sampler:
        reader.start()
        try:
            workers = [start_worker(db, emulator.url, tmp_path / f"machine-{m}") for m in range(WORKERS)]
            while posted(db) < expected:
                ended = [w.args for w in workers if w.poll() is not None]
                assert not ended and time.monotonic() - started < DEADLINE_S, \
                    f"{posted(db)} of {expected} posted; ended: {ended}\n" + logs(tmp_path)[-4000:]
                time.sleep(0.5)
            took = time.monotonic() - started
        finally:
            stop_reading.set()
            reader.join(timeout=120)
            codes = [stop(w) for w in workers]
            app_err = stop_app(app)
    output = logs(tmp_path) + app_err
    refused_by_clients = len(REFUSED.findall(output))
    refused_by_server = len(REFUSED.findall(server_log(hundred)))
    processes = pooled(sampler.peaks)
    one_offs = sum(n for name, n in sampler.peaks.items() if name.endswith(" one-off"))
    print(f"\n{WORKERS} workers + the app, max_connections=100: {expected} posts in {took:.0f} s; peak "
          f"{sampler.peak} connections over {sampler.samples} samples; pools of one process at most "
          f"{max(processes.values())} (budget {DEFAULT_DATABASE_POOL_SIZE}); one-off connections at most {one_offs} "
          f"(summed over processes' peaks); lease keeper sessions at most {sampler.peaks.get(KEEPER, 0)}; "
          f"refused: {refused_by_clients} in the processes' output, {refused_by_server} in the server's log; "
          f"app pages {dict(answers)}")
    assert codes == [0] * WORKERS, output[-3000:]
    assert refused_by_clients == 0 and refused_by_server == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert set(answers) == {200} and sum(answers.values()) >= 3
    assert len(processes) == WORKERS + 1  # every worker and the app was seen holding connections
    assert max(processes.values()) <= DEFAULT_DATABASE_POOL_SIZE, processes
    assert sampler.peak <= 97  # within what a default server gives roles that are not superusers
    made = remote.state()["posts"]
    assert len(made) == expected and len({p["post_info"]["title"] for p in made}) == expected  # each once


def pooled(peaks: Counter) -> dict[str, int]:
    """Each process's peak of pooled connections (application_name ``tiktok <host>:<pid>``, tiktok.db.connection),
    the test's own process left out."""
    return {name: n for name, n in peaks.items() if name.startswith("tiktok ") and not name.endswith(" one-off")
            and name != application_name()}


def logs(tmp_path: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in sorted(tmp_path.glob("machine-*/worker.log")))


@pytest.mark.slow
def test_a_worker_keeps_to_a_smaller_budget(hundred, emulator, remote, tmp_path):
    with psycopg.connect(hundred.admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE small OWNER tiktok")
    db = migrated(hundred.url("small").replace("postgres@", "tiktok@"))
    users = USERS[:6]
    link_all(emulator, db, [user.open_id for user in users])
    clip = padded_video(tmp_path / "clip.mp4", 300_000)
    store = open_postgres(db)
    try:
        for user in users:
            queue_post(store, {"user_id": user.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                               "description": f"{user.username} small"})
    finally:
        store.close()
    with Sampler(hundred.admin_url) as sampler:
        worker = start_worker(db, emulator.url, tmp_path / "machine", DATABASE_POOL_SIZE="4")
        try:
            deadline = time.monotonic() + DEADLINE_S
            while posted(db) < len(users):
                assert worker.poll() is None and time.monotonic() < deadline, logs(tmp_path)[-4000:]
                time.sleep(0.2)
        finally:
            code = stop(worker)
    assert code == 0
    mine = pooled(sampler.peaks)
    assert len(mine) == 1 and 1 <= max(mine.values()) <= 4, sampler.peaks
    assert len(remote.state()["posts"]) == len(users)
