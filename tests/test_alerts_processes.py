"""Alerts from real processes, exactly once (issue 24: "with three processes running (app runner, CLI, watch) or three
PostgreSQL workers, still exactly one").

Every process that posts tells its own alerts (:class:`tiktok.alerts.deliver.Alerts`): the app's runner after each
round (tiktok.web.queue_runner), ``upload_to_tiktok.py`` after its run and after every round of ``--watch``
(tiktok.commands.post), each worker after every posting job and every minute (tiktok.jobs.tasks). They all plan and
claim the same deliveries in the one store, so each event reaches each channel once whoever sends it.

The cases, each over the TikTok emulator on 127.0.0.1, with a local SMTP server (aiosmtpd) behind an apprise
``mailto://`` URL in NOTIFY_URLS and a local webhook receiver in WEBHOOK_URLS (tests/support/receivers.py), and the
shipped defaults for everything else (the app's 30 s tick, --watch's minute, the workers' schedule):

- one SQLite store, three processes at once: ``python app.py``, ``upload_to_tiktok.py --watch`` and
  ``upload_to_tiktok.py`` runs (as cron starts them) over one manifest;
- one PostgreSQL database, three ``python -m tiktok worker`` processes;

and in both, the same four things happen: a post TikTok fails (the emulator's ``spam_risk_text``), a post published,
a public post published whose link TikTok gives only after moderation (the emulator's moderation delay, an hour of
its clock, moved on by the test: the one knob set beyond the channels, since by default the link comes at once), and
an account whose grant was revoked at TikTok (its post needs a relink). Each makes its event (five in all, the public
post two) and each event makes exactly one email and one webhook, counted by event id (the webhook's id; the email's
subject is the same event's title, and no two events share one), once every process has stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.store import events as ev
from tiktok.store.postgres import open_postgres
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.app_process import free_port
from tests.support.flows import link_account
from tests.support.queue_workers import queue_post
from tests.test_workers import link_all, migrated, start_worker

pytestmark = pytest.mark.slow  # real processes: the app, cron runs and --watch; three workers on PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, _ = (user.open_id for user in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")
SECRET = "alerts-test-webhook-secret-0123456789"
MODERATION_S = 3600.0  # emulator seconds before a public post's id is released; the test moves its clock on
DEADLINE_S = 240.0  # only reached when something is broken (the workers' late link takes their 60 s recheck)
# what a process logs when its alerts could not start, a tick broke, or a send failed
ALERT_TROUBLE = ("alerts could not start", "alerts: the tick failed", "alerts: this tick stopped", "alert not sent",
                 "was skipped this tick")
# the five events the four posts make, by kind
EXPECTED = Counter({ev.POST_FAILED: 1, ev.POST_PUBLISHED: 2, ev.PUBLIC_LINK: 1, ev.ACCOUNT_RELINK: 1})


# -- what every process is given -----------------------------------------------------------------------------------

def alert_settings(smtp_server, webhook_receiver) -> dict[str, str]:
    """The channels: one email (apprise, to the local SMTP server) and one webhook; nothing else is set."""
    return {"NOTIFY_URLS": smtp_server.url(), "WEBHOOK_URLS": webhook_receiver.url + "/tiktok-events",
            "WEBHOOK_SECRET": SECRET}


def base_env(emulator, home: Path, alerts: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT),
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, **alerts}


# -- the four posts ----------------------------------------------------------------------------------------------

def the_failure(clip: Path) -> dict:
    return {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "refused as spam"}


def the_others(clip: Path) -> list[dict]:
    return [{"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "published at once"},
            {"user_id": ADA, "video_path": str(clip), "privacy": "PUBLIC_TO_EVERYONE",
             "description": "public, its link after moderation"},
            {"user_id": BO, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "Bo must relink"}]


def fail_next_post(remote, reason: str) -> None:
    remote.session.post(remote.base_url + "/_emulator/posts/fail_next", json={"fail_reason": reason},
                        timeout=10).raise_for_status()


# -- waiting and counting ------------------------------------------------------------------------------------------

def wait_for(condition, what: str, procs: dict[str, subprocess.Popen], logs: list[Path]) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` (with the processes' logs) at the deadline or when a
    process that should keep running ended."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        ended = {name: proc.returncode for name, proc in procs.items() if proc.poll() is not None}
        if ended or time.monotonic() >= deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            raise AssertionError(f"{what}; processes ended: {ended}\n{tails}")
        time.sleep(0.2)


def kinds(store) -> Counter:
    return Counter(event.kind for event in store.events_page(limit=100))


def all_sent(store, smtp_server, webhook_receiver) -> bool:
    """Every event recorded so far sent to both channels (the store says so and both receivers have as many)."""
    events = store.events_page(limit=100)
    counts = store.delivery_counts()
    return (counts["sent"] == 2 * len(events) and counts["pending"] == 0 and len(smtp_server.messages) >= len(events)
            and len(webhook_receiver.requests) >= len(events))


def cursors(store) -> int:
    """How many alert channels the store knows (each process registers its channels as it starts, before it records
    anything: a channel first seen starts at the newest event)."""
    from sqlalchemy import func, select

    from tiktok.store import schema

    with store._read() as conn:  # the store's own read (SQLite or PostgreSQL alike): the channels' cursor rows
        return conn.execute(select(func.count()).select_from(schema.meta)
                            .where(schema.meta.c.name.like("alerts-cursor:%"))).scalar_one()


def assert_exactly_one_each(store, smtp_server, webhook_receiver) -> dict[str, int]:
    """Each event of the store reached each channel exactly once; returns the counts measured."""
    events = store.events_page(limit=100)
    assert Counter(event.kind for event in events) == EXPECTED, [(e.kind, e.key) for e in events]
    hooks = [json.loads(received.body) for received in webhook_receiver.requests]
    assert all(received.status == 200 for received in webhook_receiver.requests)
    by_id = Counter(hook["id"] for hook in hooks)
    assert by_id == Counter({event.id: 1 for event in events}), by_id  # one webhook per event, none other
    assert all(received.header("X-Tiktok-Tool-Event") == str(json.loads(received.body)["id"])
               for received in webhook_receiver.requests)
    titles = {hook["id"]: hook["title"] for hook in hooks}
    assert len(set(titles.values())) == len(events), titles  # no two events read alike: a subject names its event
    subjects = Counter(mail.subject for mail in smtp_server.messages)
    assert subjects == Counter({titles[event.id]: 1 for event in events}), (subjects, titles)  # one email each
    counts = store.delivery_counts()
    assert counts == {"pending": 0, "sent": 2 * len(events), "gave_up": 0}, counts
    return {"events": len(events), "emails": len(smtp_server.messages), "webhooks": len(hooks)}


def senders(webhook_receiver, procs: dict[str, subprocess.Popen]) -> Counter:
    """Which process sent each webhook (the tool's User-Agent names its pid), by the names of ``procs``."""
    names = {proc.pid: name for name, proc in procs.items()}
    found = Counter()
    for received in webhook_receiver.requests:
        agent = received.header("User-Agent") or ""
        pid = int(agent.rsplit("pid/", 1)[1]) if "pid/" in agent else None
        found[names.get(pid, f"an unknown process ({agent})")] += 1
    return found


def stop(procs: dict[str, subprocess.Popen]) -> dict[str, int]:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    return {name: proc.wait(timeout=60) for name, proc in procs.items()}


# -- one machine: the app, cron and --watch on one SQLite store ----------------------------------------------------

def start_app(project: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``python app.py`` (its shipped 30 s tick), its output to ``log``; returns once it answers."""
    port = free_port()
    with log.open("a") as out:  # the process keeps its own copy of the file
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=project, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=2, allow_redirects=False)
            return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the app did not start within 60 s\n" + log.read_text()[-3000:])


def upload(project: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """``upload_to_tiktok.py`` with ``args`` (none: one run, as a cron line starts it; the test waits for it later)."""
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, str(ROOT / "upload_to_tiktok.py"), *args], cwd=project, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def test_the_app_cron_and_watch_send_each_event_once_to_email_and_webhook(emulator, remote, oauth, smtp_server,
                                                                          webhook_receiver, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    tokens = TokenStore(project / "user_tokens.json")
    for open_id in (ADA, BO):
        link_account(emulator.url, tokens, oauth, open_id, scopes=SCOPES)
    remote.revoke_user(BO)  # Bo removed the app at TikTok: the next refresh of Bo's token is refused
    clip = make_video(project / "clip.mp4", seconds=3)
    manifest = project / "videos_to_upload.json"
    env = base_env(emulator, project, alert_settings(smtp_server, webhook_receiver))
    logs = {name: project / f"{name}.log" for name in ("app", "watch", "cron")}
    store = open_sqlite(project / "tiktok.db")
    procs: dict[str, subprocess.Popen] = {}
    runs: list[subprocess.Popen] = []
    try:
        procs["app"] = start_app(project, env, logs["app"])
        wait_for(lambda: cursors(store) == 2, "the app did not register its two channels at start", procs,
                 list(logs.values()))
        procs["watch"] = upload(project, env, logs["watch"], "--watch")

        # the failure first, alone, so the emulator's forced failure lands on it whoever posts it
        fail_next_post(remote, "spam_risk_text")
        manifest.write_text(json.dumps([the_failure(clip)]))
        runs.append(upload(project, env, logs["cron"]))
        wait_for(lambda: kinds(store)[ev.POST_FAILED] == 1, "the refused post made no failure event", procs,
                 list(logs.values()))

        # then the rest: a post published at once, a public one under review, Bo's that needs a relink
        remote.set_moderation(delay_s=MODERATION_S)
        manifest.write_text(json.dumps([the_failure(clip), *the_others(clip)]))
        runs.append(upload(project, env, logs["cron"]))
        wait_for(lambda: kinds(store)[ev.POST_PUBLISHED] == 2 and kinds(store)[ev.ACCOUNT_RELINK] == 1,
                 "the two publications and Bo's relink were not all recorded", procs, list(logs.values()))
        assert kinds(store)[ev.PUBLIC_LINK] == 0  # moderation still holds the public post's id

        # moderation clears: the next look of the app's 30 s tick or --watch's minute finds the link
        remote.advance_clock(MODERATION_S)
        wait_for(lambda: kinds(store)[ev.PUBLIC_LINK] == 1, "the public link that came late made no event", procs,
                 list(logs.values()))
        wait_for(lambda: all_sent(store, smtp_server, webhook_receiver), "not every event reached both channels",
                 procs, list(logs.values()))
        for run in runs:  # 1: a post failed; 3: an account must relink; 4: another run held a post
            assert run.wait(timeout=120) in (0, 1, 3, 4), logs["cron"].read_text()[-3000:]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
        codes = stop(procs)
    assert codes == {"app": 0, "watch": 0}, {name: log.read_text()[-2000:] for name, log in logs.items()}
    try:
        measured = assert_exactly_one_each(store, smtp_server, webhook_receiver)  # nothing more came as they stopped
    finally:
        store.close()
    assert measured == {"events": 5, "emails": 5, "webhooks": 5}
    sent_by = senders(webhook_receiver, {**procs, **{f"cron run {n}": run for n, run in enumerate(runs, 1)}})
    print("webhooks sent by", dict(sent_by))
    assert not any(name.startswith("an unknown") for name in sent_by), sent_by
    said = "".join(log.read_text() for log in logs.values())
    assert "Traceback" not in said and not any(words in said for words in ALERT_TROUBLE), said[-3000:]
    assert SECRET not in said and smtp_server.url() not in said and "smtp-pa55word" not in said


# -- many machines: three workers on PostgreSQL ----------------------------------------------------------------------

@pytest.fixture
def db(database_url) -> str:
    return migrated(database_url)


def test_three_workers_send_each_event_once_to_email_and_webhook(db, emulator, remote, smtp_server,
                                                                 webhook_receiver, tmp_path):
    link_all(emulator, db, [user for user in default_users() if user.open_id in (ADA, BO)])
    remote.revoke_user(BO)
    clip = make_video(tmp_path / "clip.mp4", seconds=3)
    alerts = alert_settings(smtp_server, webhook_receiver)
    log = tmp_path / "workers.log"
    store = open_postgres(db)
    procs: dict[str, subprocess.Popen] = {}
    try:
        for n in (1, 2, 3):
            procs[f"worker {n}"] = start_worker(emulator, db, log, **alerts)
        wait_for(lambda: cursors(store) == 2, "the workers did not register their two channels at start", procs,
                 [log])

        fail_next_post(remote, "spam_risk_text")
        queue_post(store, the_failure(clip))
        wait_for(lambda: kinds(store)[ev.POST_FAILED] == 1, "the refused post made no failure event", procs, [log])

        remote.set_moderation(delay_s=MODERATION_S)
        for entry in the_others(clip):
            queue_post(store, entry)
        wait_for(lambda: kinds(store)[ev.POST_PUBLISHED] == 2 and kinds(store)[ev.ACCOUNT_RELINK] == 1,
                 "the two publications and Bo's relink were not all recorded", procs, [log])
        assert kinds(store)[ev.PUBLIC_LINK] == 0

        remote.advance_clock(MODERATION_S)  # the dispatcher looks again a minute after the post's last change
        wait_for(lambda: kinds(store)[ev.PUBLIC_LINK] == 1, "the public link that came late made no event", procs,
                 [log])
        wait_for(lambda: all_sent(store, smtp_server, webhook_receiver), "not every event reached both channels",
                 procs, [log])
    finally:
        codes = stop(procs)
    try:
        assert codes == {"worker 1": 0, "worker 2": 0, "worker 3": 0}, log.read_text()[-3000:]
        measured = assert_exactly_one_each(store, smtp_server, webhook_receiver)
    finally:
        store.close()
    assert measured == {"events": 5, "emails": 5, "webhooks": 5}
    sent_by = senders(webhook_receiver, procs)
    print("webhooks sent by", dict(sent_by))
    assert not any(name.startswith("an unknown") for name in sent_by), sent_by
    said = log.read_text()
    # the only tracebacks are Procrastinate's own lines for the two posting jobs that failed (the refusal, the relink)
    assert said.count("Traceback") == said.count("tiktok.errors.JobFailed: post "), said[-3000:]
    assert not any(words in said for words in ALERT_TROUBLE), said[-3000:]
    assert SECRET not in said and smtp_server.url() not in said and "smtp-pa55word" not in said
    with psycopg.connect(db) as conn:  # the periodic task is the workers' own, with the other crons
        names = {row[0] for row in conn.execute("SELECT DISTINCT task_name FROM procrastinate_periodic_defers")}
    assert "tiktok:deliver_alerts" in names, names  # the test spans more than a minute: it came round
