"""A ``python -m tiktok worker`` process with the shipped defaults, as a user starts one: its environment holds
only DATABASE_URL and the emulator's address (TIKTOK_API_BASE; the emulator's client key is the default one), plus
PATH, HOME and PYTHONPATH to run at all. Nothing of the test runner's own environment leaks in (no WORKER_*,
POST_GRACE, TIKTOK_*), and its folder has no ``.env``. ``wrapper`` runs it under another program (``faketime``).
Also: a migrated database, accounts linked into it, and a wait that shows the worker's log when it fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.pg_store import PgTokenStore
from tiktok.db.migrations import migrate
from tiktok.store import postgres
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ("user.info.basic", "video.publish", "video.upload")


def default_environment(database_url: str, emulator_url: str, home: Path) -> dict[str, str]:
    """The worker's whole environment: DATABASE_URL, the emulator's address, and what a process needs to run."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url, "TIKTOK_API_BASE": emulator_url}


def start_default_worker(database_url: str, emulator_url: str, log: Path, *,
                         wrapper: tuple[str, ...] = ()) -> subprocess.Popen:
    """``python -m tiktok worker`` with no options, in ``log``'s folder, its output appended to ``log``."""
    assert not (log.parent / ".env").exists()
    handle = log.open("a")
    return subprocess.Popen([*wrapper, sys.executable, "-m", "tiktok", "worker"], cwd=log.parent,
                            env=default_environment(database_url, emulator_url, log.parent), stdout=handle,
                            stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen) -> int:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    return worker.wait(timeout=60)


def migrated(url: str) -> str:
    """``url`` migrated as ``python -m tiktok db migrate`` does it."""
    migrate(url)
    postgres.migrate(url)
    return url


def link_all(emulator, database_url: str, open_ids) -> None:
    """Link each account into the database's token store through the emulator's consent flow."""
    store = PgTokenStore(database_url)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for open_id in open_ids:
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)


def wait_for(condition, worker: subprocess.Popen, log: Path, *, until: float, what: str, step_s: float = 0.1):
    """Poll ``condition`` until it returns something true (returned) or the wall clock passes ``until``; fails with
    the worker's log when it does not, or when the worker ends."""
    while True:
        found = condition()
        if found:
            return found
        if worker.poll() is not None or time.time() >= until:
            ended = f"the worker ended with {worker.returncode}; " if worker.poll() is not None else ""
            raise AssertionError(f"{what}; {ended}its log:\n" + log.read_text()[-4000:])
        time.sleep(step_s)
