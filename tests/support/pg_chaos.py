"""What the attack tests do to PostgreSQL and with whom: a database restarted under running processes, a role whose
idle sessions the server ends, workers and CLI runs with the shipped defaults, and what the emulator made.

Workers and runs are real processes (``python -m tiktok worker``, ``python -m tiktok post``), each in a folder of
its own as separate machines would be, sharing only the database and the emulator.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg

from tests.support.postgres import PostgresServer, pause_server, resume_server

ROOT = Path(__file__).resolve().parents[2]
INIT = "/v2/post/publish/video/init/"


def restart(server: PostgresServer) -> None:
    """A database restart as clients see it: every session ends (fast shutdown), the server comes back."""
    pause_server(server)
    resume_server(server)


def idle_session_timeout(server: PostgresServer, value: str | None) -> None:
    """``ALTER ROLE postgres SET idle_session_timeout`` (None: back to none), as managed PostgreSQL, PgBouncer and
    firewalls impose; it applies to every session started after."""
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres RESET idle_session_timeout" if value is None else
                     f"ALTER ROLE postgres SET idle_session_timeout = '{value}'")


class Restarts:
    """Restarts of ``server`` at random moments from now (``moments``: seconds after start()), in a thread."""

    def __init__(self, server: PostgresServer, moments: list[float]) -> None:
        self.server, self.moments = server, sorted(moments)
        self.done: list[tuple[float, float]] = []  # (went down, came back), monotonic
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Restarts":
        self._begin = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for moment in self.moments:
                time.sleep(max(0.0, self._begin + moment - time.monotonic()))
                down = time.monotonic()
                restart(self.server)
                self.done.append((down, time.monotonic()))
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    def join(self, timeout: float = 120) -> list[tuple[float, float]]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "a database restart did not end"
        if self.error is not None:
            raise AssertionError(f"restarting the database failed: {self.error}")
        return self.done


def random_moments(rng: random.Random, count: int, within_s: float) -> list[float]:
    return [rng.uniform(0.5, within_s) for _ in range(count)]


def environment(emulator, db: str, folder: Path) -> dict[str, str]:
    """What a machine running the tool has: the database, the emulator, nothing else set (shipped defaults)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT), "DATABASE_URL": db,
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url}


def start_worker(emulator, db: str, folder: Path, **settings: str) -> subprocess.Popen:
    """``python -m tiktok worker`` in ``folder`` (its log: folder/worker.log): the shipped defaults, but for
    ``settings``."""
    env = {**environment(emulator, db, folder), **settings}
    log = (folder / "worker.log").open("a")
    return subprocess.Popen([sys.executable, "-m", "tiktok", "worker"], cwd=folder, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def start_run(emulator, db: str, folder: Path) -> subprocess.Popen:
    """``python -m tiktok post`` as cron runs it in ``folder``: whatever the store holds that is due."""
    return subprocess.Popen([sys.executable, "-m", "tiktok", "post"], cwd=folder,
                            env=environment(emulator, db, folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop_all(processes: list[subprocess.Popen]) -> list[int | None]:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=60))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(None)
    return codes


def published(remote) -> Counter:
    """How many times each title was published (PUBLISH_COMPLETE) at the emulator."""
    return Counter(p["post_info"]["title"] for p in remote.state()["posts"] if p["status"] == "PUBLISH_COMPLETE")


def inits(remote) -> Counter:
    """How many inits each title got at the emulator (an init whose upload never came posts nothing)."""
    return Counter(p["post_info"]["title"] for p in remote.state()["posts"])


def posted_in_store(db: str, titles: list[str]) -> int:
    """How many of ``titles`` the store says are posted (asked on a short connection: the server may be away)."""
    try:
        with psycopg.connect(db, connect_timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM tiktok_store_posts WHERE state = 'posted' AND "
                                "entry::jsonb ->> 'description' = ANY(%s)", (titles,)).fetchone()[0]
    except psycopg.OperationalError:
        return -1


def wait_for(condition, what: str, deadline_s: float, logs: list[Path] = ()) -> float:
    """Poll ``condition`` until true; the seconds it took. AssertionError naming ``what`` (with the logs' tails)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > deadline_s:
            tails = "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())
            raise AssertionError(f"{what} (after {deadline_s:.0f} s)\n{tails}")
        time.sleep(0.2)
    return time.monotonic() - start
