"""Alerts with DATABASE_URL (issue 24): the post store, the accounts and the workers in a throwaway PostgreSQL.

- A worker that goes silent (a real ``python -m tiktok worker``, SIGKILLed) is told once, by host:pid.
- A failed post made for real by a posting run over the database reaches a webhook that answers 500 twice on the
  third try with the same event id (an injected clock drives the back-off), and an email once.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from dataclasses import replace

import psycopg
import pytest
import requests

from tiktok.alerts.deliver import Alerts
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.pg_store import PgTokenStore
from tiktok.config import load_settings
from tiktok.db.migrations import migrate
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store import events as ev
from tiktok.store import postgres
from tiktok.store.postgres import open_postgres
from tiktok.store.records import State
from tests.media_fixtures import make_video
from tests.support.default_worker import start_default_worker, stop, wait_for
from tests.support.flows import link_account
from tests.support.queue_workers import queue_post
from tests.test_alerts import SECRET, Clock

pytestmark = pytest.mark.slow  # a PostgreSQL server, and a worker process
ADA_USER = default_users()[0]
ADA = ADA_USER.open_id
DEADLINE_S = 120.0  # only reached when something is broken


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)  # Procrastinate's schema (the workers' table among it) and the post store's
    postgres.migrate(database_url)
    return database_url


def settings_for(emulator, db: str, tmp_path, **env: str):
    return load_settings({"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                          "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                          "TOKENS_FILE": str(tmp_path / "unused.json"), "DATABASE_URL": db, **env})


def test_a_worker_gone_silent_is_told_once_by_its_name(db, emulator, tmp_path, smtp_server):
    log = tmp_path / "worker" / "worker.log"
    log.parent.mkdir()
    worker = start_default_worker(db, emulator.url, log)  # no channels of its own: the test's process tells
    try:
        def named() -> int | None:
            with psycopg.connect(db) as conn:
                row = conn.execute("SELECT w.id FROM procrastinate_workers w JOIN tiktok_store_meta m "
                                   "ON m.name = 'worker:' || w.id").fetchone()
            return row[0] if row else None
        worker_id = wait_for(named, worker, log, until=time.time() + DEADLINE_S, what="the worker never registered")
    finally:
        worker.send_signal(signal.SIGKILL)  # killed: it cannot remove its row, its heartbeat stops
        worker.wait(timeout=30)
    settings = settings_for(emulator, db, tmp_path, NOTIFY_URLS=smtp_server.url())  # silent after 5 min (default)
    store = open_postgres(db)
    try:
        alerts = Alerts.from_settings(settings, store)
        alerts.tick()
        assert smtp_server.messages == []  # its last heartbeat is seconds old
        with psycopg.connect(db) as conn:  # ten minutes pass for the database (its clock cannot be injected)
            conn.execute("UPDATE procrastinate_workers SET last_heartbeat = last_heartbeat - interval '10 minutes' "
                         "WHERE id = %s", (worker_id,))
        for _ in range(3):
            alerts.tick()
        (mail,) = smtp_server.wait_for(1)
        assert len(smtp_server.messages) == 1
        assert mail.subject == f"A worker went silent: {socket.gethostname()}:{worker.pid}"
        assert "python -m tiktok worker" in mail.text and f"Procrastinate worker id {worker_id}" in mail.text
        assert [event.kind for event in store.events_page()] == [ev.WORKER_SILENT]
    finally:
        store.close()
        stop(worker)


def test_a_failed_post_in_the_database_reaches_a_webhook_on_its_third_try(db, emulator, remote, tmp_path,
                                                                           webhook_receiver, smtp_server):
    tokens = PgTokenStore(db)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    account = link_account(emulator.url, tokens, oauth, ADA, scopes=("user.info.basic", "video.publish",
                                                                     "video.upload"))
    tokens.put(replace(account, username=ADA_USER.username))
    settings = settings_for(emulator, db, tmp_path, NOTIFY_URLS=smtp_server.url(),
                            WEBHOOK_URLS=webhook_receiver.url + "/hook", WEBHOOK_SECRET=SECRET)
    clock = Clock()
    store = open_postgres(db, clock=clock)
    try:
        alerts = Alerts.from_settings(settings, store, tokens, clock=clock)
        webhook_receiver.answer(500, 500, 200)
        remote.session.post(remote.base_url + "/_emulator/posts/fail_next", json={"fail_reason": "spam_risk_text"},
                            timeout=10).raise_for_status()
        post = queue_post(store, {"user_id": ADA, "video_path": str(make_video(tmp_path / "clip.mp4")),
                                  "privacy": "SELF_ONLY", "description": "refused"})
        run_queue(store, settings, RunOptions(poll_interval_s=0.01), clock=clock, hooks=Hooks(say=lambda _: None))
        assert store.get(post.id).state == State.FAILED
        for step in (0, 31, 121, 3600, 3600):
            clock.advance(step)
            alerts.tick()
        tries = webhook_receiver.wait_for(3)
        assert [hook.status for hook in tries] == [500, 500, 200] and len(webhook_receiver.requests) == 3
        assert len({hook.header("X-Tiktok-Tool-Event") for hook in tries}) == 1
        assert json.loads(tries[-1].body)["title"] == f"Emulated: post {post.id} for @{ADA_USER.username} failed"
        assert len(smtp_server.wait_for(1)) == 1 and len(smtp_server.messages) == 1
        assert store.delivery_counts() == {"pending": 0, "sent": 2, "gave_up": 0}
    finally:
        store.close()
