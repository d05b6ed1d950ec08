"""``python -m tiktok status`` and the ``/status/`` page, over a store that real runs filled.

The scene: two accounts linked at the emulator; a real posting run that met two 429s from TikTok (injected at the
emulator, waited out, and counted by the client in the store every process shares) and posted; a second run whose
post TikTok refused (failed); a real daily report; then, through the store's own methods, posts due 10 min and 1 min
ago, one scheduled, one missed and one in flight. The figures are read at an injected moment (the queue's age is
exact) by the command (lines, ``--json``, exit code), by a real subprocess in another time zone, and by the page
served on loopback. With PostgreSQL (slow): a real ``python -m tiktok worker`` shows with its heartbeat, and once
killed is reported silent. One test runs the command with the shipped defaults only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LateApp
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tiktok import cli
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.commands import Context
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.emulator.serving import serve_in_thread
from tiktok.store.records import PostRecord, State
from tiktok.store.sqlite import open_sqlite
from tiktok.text import moment
from tiktok.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, _ = default_users()
SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.publish", "video.upload")
GRACE_S = 3600.0  # POST_GRACE's default
DEADLINE_S = 60.0


class Frozen:
    """The injected clock: a moment that moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(processing_polls=0)  # a post's first status fetch is final


def settings_env(folder: Path, emulator) -> dict[str, str]:
    """What the commands and the app are given: the emulator's app, and where this scene keeps its files."""
    return {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(folder / "user_tokens.json"),
            "REPORTS_DIR": str(folder / "reports")}


def command(capsys, env: dict[str, str], *args: str, clock=time.time) -> tuple[int, str]:
    """``python -m tiktok ARGS`` in this process (its exit code and stdout), with ``clock`` injected."""
    capsys.readouterr()
    code = cli.main(list(args), context=Context(env=env, clock=clock, sleep=lambda s: None))
    return code, capsys.readouterr().out


class Scene:
    """The folder, its settings, the moment the figures are read at, and what the store was given."""

    def __init__(self, folder: Path, env: dict[str, str], emulator, remote) -> None:
        self.folder, self.env, self.emulator, self.remote = folder, env, emulator, remote
        self.tokens = TokenStore(folder / "user_tokens.json")
        self.now = 0.0

    def store(self, clock=None):
        return open_sqlite(self.folder / "tiktok.db", **({} if clock is None else {"clock": clock}))


@pytest.fixture
def scene(tmp_path, emulator, remote, capsys) -> Scene:
    env = settings_env(tmp_path, emulator)
    made = Scene(tmp_path, env, emulator, remote)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for user in (ADA, BO):  # as the app's login keeps them: with the profile's names
        account = link_account(emulator.url, made.tokens, oauth, user.open_id, scopes=SCOPES)
        made.tokens.put(replace(account, username=user.username, display_name=user.display_name))
    make_video(tmp_path / "clip.mp4")
    first = {"user_id": ADA.open_id, "video_path": "clip.mp4", "privacy": "SELF_ONLY", "description": "first"}
    manifest = tmp_path / "videos_to_upload.json"
    manifest.write_text(json.dumps([first]))
    remote.inject_fault("/v2/post/publish/creator_info/query/", status=429, retry_after=0, times=2)
    code, out = command(capsys, env, "post", str(manifest), "--poll-interval", "0.01")
    assert code == 0, out
    assert remote.rate_limited() == 2  # TikTok (the emulator) answered 429 twice; the run waited them out
    second = {"user_id": BO.open_id, "video_path": "clip.mp4", "privacy": "SELF_ONLY", "description": "second"}
    manifest.write_text(json.dumps([first, second]))
    remote.inject_fault("/v2/post/publish/video/init/", status=403, error="spam_risk_user_banned_from_posting")
    code, out = command(capsys, env, "post", str(manifest), "--poll-interval", "0.01")
    assert code == 1, out  # TikTok refused the second post: it waits for a person
    code, out = command(capsys, env, "report")
    assert code == 0, out
    made.now = now = time.time()
    store = made.store()
    try:
        entry = {"user_id": ADA.open_id, "video_path": str(tmp_path / "clip.mp4"), "privacy": "SELF_ONLY"}
        for name, due_at in (("due 10 min ago", now - 600), ("due 1 min ago", now - 60),
                             ("scheduled", now + 3600), ("missed", now - GRACE_S - 100)):
            store.add({**entry, "description": name}, key=name.replace(" ", "-"), due_at=due_at)
        flying = store.add({**entry, "description": "in flight"}, key="in-flight", due_at=None)
        started = store.start(flying.id, flying.revision,
                              PostRecord(key=flying.key, user_id=ADA.open_id, state=State.PENDING_INIT))
        assert started is not None
        store.save(flying.id, replace(started, state=State.UPLOADING, publish_id="v_inbox_file~v2.1"))
    finally:
        store.close()
    return made


# -- the command ----------------------------------------------------------------------------------------------------

def test_the_command_tells_the_figures_and_exits_1_for_a_failure_of_the_last_day(scene, capsys):
    clock = Frozen(scene.now)
    code, out = command(capsys, scene.env, "status", "--json", clock=clock)
    assert code == 1
    figures = json.loads(out)
    assert figures["queue"] == {"age_s": 600.0, "oldest_due_at": iso(scene.now - 600), "due": 2, "in_flight": 1}
    assert figures["last_day"] == {"failed": 1, "missed": 1, "rate_limited": 2}
    assert figures["rate_limited_total"] == 2
    accounts = scene.tokens.load()
    assert figures["accounts"] == [
        {"open_id": ADA.open_id, "name": "@ada.creates", "refreshed_at": iso(accounts[ADA.open_id].refreshed_at),
         "refresh_expires_at": iso(accounts[ADA.open_id].refresh_expires_at), "relink_needed": False},
        {"open_id": BO.open_id, "name": "@bo_tests", "refreshed_at": iso(accounts[BO.open_id].refreshed_at),
         "refresh_expires_at": iso(accounts[BO.open_id].refresh_expires_at), "relink_needed": False}]
    day = datetime.fromtimestamp(scene.now, timezone.utc).date().isoformat()  # the report's day is UTC's
    newest = max(p.stat().st_mtime for p in (scene.folder / "reports" / day).glob("*.csv"))
    assert figures["report"] == {"day": day, "written_at": iso(newest), "folder": str(scene.folder / "reports" / day)}
    assert figures["workers"] is None  # no DATABASE_URL
    assert figures["healthy"] is False and figures["exit_status"] == 1
    assert figures["problems"] == [
        "1 post failed in the last 24 hours: the Posts page lists them under Failed, with what to do",
        "1 post missed its time in the last 24 hours (no run posted it within POST_GRACE): give it a new time on "
        "the Posts page"]

    code, out = command(capsys, scene.env, "status", clock=clock)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"[emulator] status at {moment(scene.now, seconds=True)}: 2 problems (exit 1)"
    assert f"[emulator] queue: 2 posts due and not started; the oldest has waited 10 min (due since " \
           f"{moment(scene.now - 600)})" in lines
    assert "[emulator] in flight: 1 post" in lines
    assert "[emulator] last 24 hours: 1 post failed, 1 missed their time; TikTok's rate limit answered 2 " \
           "calls with 429 (2 in all)" in lines
    refreshed = accounts[ADA.open_id].refreshed_at
    said = f"[emulator] account @ada.creates: last refreshed {moment(refreshed)} ("
    assert any(line.startswith(said) for line in lines)
    assert f"[emulator] last report: {day}, written {moment(newest)}" in out
    assert "[emulator] problem: 1 post failed in the last 24 hours" in out


def test_the_exit_code_follows_the_day_and_a_relink(scene, capsys):
    two_days_on = Frozen(scene.now + 2 * 86400)  # the failure, the missed post and the 429s are older than a day
    code, out = command(capsys, scene.env, "status", "--json", clock=two_days_on)
    figures = json.loads(out)
    assert code == 0 and figures["healthy"] is True and figures["problems"] == []
    assert figures["last_day"] == {"failed": 0, "missed": 0, "rate_limited": 0}
    assert figures["rate_limited_total"] == 2  # the count in all stays
    assert figures["queue"]["age_s"] is None and figures["queue"]["due"] == 0  # the due posts are missed by now
    assert figures["queue"]["in_flight"] == 1

    scene.remote.revoke_user(BO.open_id)  # TikTok drops BO's grant; the next refresh learns it
    code, out = command(capsys, scene.env, "refresh", "--all")
    assert code == 3, out
    code, out = command(capsys, scene.env, "status", clock=two_days_on)
    assert code == 3
    assert "[emulator] problem: @bo_tests must be linked again in the app (Relink on the accounts page)" in out
    code, out = command(capsys, scene.env, "status", clock=Frozen(scene.now))
    assert code == 3  # a relink (3) wins over a failure (1)
    assert "problem: 1 post failed" in out and "problem: @bo_tests must be linked again" in out


def test_a_subprocess_shows_times_in_the_persons_zone(scene):
    env = {"PATH": os.environ["PATH"], "HOME": str(scene.folder), "PYTHONPATH": str(ROOT), "TZ": "Asia/Tokyo",
           **scene.env}
    done = subprocess.run([sys.executable, "-m", "tiktok", "status"], cwd=scene.folder, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert re.fullmatch(r"\[emulator\] status at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Tokyo \(UTC\+09:00\): "
                        r"2 problems \(exit 1\)", first), first
    assert "last refreshed " in done.stdout and done.stdout.count("Asia/Tokyo (UTC+09:00)") >= 5
    assert done.stderr == ""


def test_the_shipped_defaults_an_empty_folder_is_healthy(tmp_path):
    """No setting at all, as a new user runs it: the emulator, the files beside the current folder."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tiktok", "status", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)
    assert figures["healthy"] is True and figures["store"] == str(tmp_path / "tiktok.db")
    assert figures["queue"] == {"age_s": None, "oldest_due_at": None, "due": 0, "in_flight": 0}
    assert figures["accounts"] == [] and figures["report"] is None and figures["workers"] is None
    assert figures["worker_stalled_s"] == 30.0


# -- the page -------------------------------------------------------------------------------------------------------

class StatusPage(HTMLParser):
    """The page as a reader takes it: each figure's value, the accounts, the workers and the problems."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.accounts: list[str] = []
        self.workers: list[dict[str, str]] = []
        self.problems: list[str] = []
        self.report: dict[str, str] = {}
        self.times: list[str] = []
        self._figure: str | None = None
        self._problem = False

    def handle_starttag(self, tag: str, attrs) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-figure" in a:
            self._figure = a["data-figure"]
        elif tag == "td" and self._figure and "data-value" in a:
            self.figures[self._figure] = a["data-value"]
            self._figure = None
        elif tag == "tr" and "data-open-id" in a:
            self.accounts.append(a["data-open-id"])
        elif tag == "tr" and "data-worker-id" in a:
            self.workers.append(a)
        elif tag == "p" and "status-problem" in a.get("class", ""):
            self._problem = True
            self.problems.append("")
        elif tag == "p" and a.get("id") == "status-report":
            self.report = a
        elif tag == "time":
            self.times.append(a.get("datetime", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._problem = False

    def handle_data(self, data: str) -> None:
        if self._problem:
            self.problems[-1] = " ".join(f"{self.problems[-1]} {data}".split())


def read_page(html: str) -> StatusPage:
    page = StatusPage()
    page.feed(html)
    return page


@pytest.fixture
def serve():
    """The app on loopback with ``env`` and an injected clock (the Posts page's tests do the same with theirs)."""
    running = []

    def start(env: dict[str, str], clock) -> str:
        holder = LateApp()
        server = serve_in_thread(holder, log_requests=False)
        holder.app = create_app({**env, "PORT": str(server.port), "CLOCK": clock})
        running.append(server)
        return server.url

    yield start
    for server in running:
        server.shutdown()


def test_the_page_shows_the_figures_the_command_gives(scene, serve, capsys):
    clock = Frozen(scene.now)
    url = serve(scene.env, clock)
    html = requests.get(url + "/status/", timeout=15)
    assert html.status_code == 200
    page = read_page(html.text)
    code, out = command(capsys, scene.env, "status", "--json", clock=clock)
    figures = json.loads(out)
    assert float(page.figures["queue-age"]) == figures["queue"]["age_s"] == 600.0
    assert int(page.figures["in-flight"]) == figures["queue"]["in_flight"] == 1
    assert int(page.figures["failed-last-day"]) == figures["last_day"]["failed"] == 1
    assert int(page.figures["missed-last-day"]) == figures["last_day"]["missed"] == 1
    assert int(page.figures["rate-limited-last-day"]) == figures["last_day"]["rate_limited"] == 2
    assert page.accounts == [ADA.open_id, BO.open_id]
    assert page.problems == figures["problems"]
    assert page.report["data-day"] == figures["report"]["day"]
    assert iso(float(page.report["data-value"])) == figures["report"]["written_at"]
    # every moment is a <time> the browser shows in its zone (the server's zone named without script)
    assert iso(scene.now - 600) in page.times and figures["accounts"][0]["refreshed_at"] in page.times
    assert f"{moment(scene.now - 600)}</time>" in html.text
    assert "Workers" not in html.text  # no DATABASE_URL: nothing to say about workers


def test_the_page_with_the_shipped_defaults(app_under_test):
    """The app as ``serve_app`` starts it (only the emulator's address and the token file given)."""
    response = requests.get(app_under_test.url + "/status/", timeout=15)
    assert response.status_code == 200
    page = read_page(response.text)
    assert 'id="status-healthy"' in response.text and page.problems == []
    assert page.figures["queue-age"] == "" and page.figures["in-flight"] == "0"
    assert 'id="status-no-accounts"' in response.text and 'id="status-no-report"' in response.text


def test_the_page_asks_for_the_password_when_one_is_set(serve_app):
    served = serve_app(APP_PASSWORD="status page password " + os.urandom(4).hex())
    response = requests.get(served.url + "/status/", allow_redirects=False, timeout=15)
    assert response.status_code == 302 and response.headers["Location"].startswith("/app-login/")


# -- PostgreSQL: the workers ----------------------------------------------------------------------------------------

def start_worker(emulator, url: str, folder: Path) -> subprocess.Popen:
    """A real ``python -m tiktok worker`` with the shipped heartbeat (WORKER_HEARTBEAT_S 10 s)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT), "DATABASE_URL": url,
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url}
    log = (folder / "worker.log").open("a")
    return subprocess.Popen([sys.executable, "-m", "tiktok", "worker", "--concurrency", "1"], cwd=folder, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def poll(read, until, what: str, log: Path):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}; last read: {value}\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.mark.slow
def test_postgres_workers_with_their_heartbeats(database_url, emulator, serve, tmp_path, capsys):
    env = {"DATABASE_URL": database_url, "TIKTOK_CLIENT_KEY": emulator.config.client_key,
           "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
           "REPORTS_DIR": str(tmp_path / "reports")}
    code, out = command(capsys, env, "db", "migrate")
    assert code == 0, out
    code, out = command(capsys, env, "status", "--json")
    assert code == 1 and json.loads(out)["workers"] == []  # PostgreSQL mode with no worker: nothing posts
    assert "no worker is running: posts wait until one starts (python -m tiktok worker)" in json.loads(out)["problems"]

    worker = start_worker(emulator, database_url, tmp_path)
    try:
        def status() -> tuple[int, dict]:
            code, out = command(capsys, env, "status", "--json")
            return code, json.loads(out)
        code, figures = poll(status, lambda got: any(w["name"] for w in got[1]["workers"]),
                             "the worker never registered with its name", tmp_path / "worker.log")
        assert code == 0 and figures["healthy"] is True, figures
        [shown] = figures["workers"]
        assert shown["name"] == f"{socket.gethostname()}:{worker.pid}" and shown["alive"] is True
        assert shown["silent_s"] < 30.0
        with psycopg.connect(database_url) as conn:
            beat = conn.execute("SELECT extract(epoch FROM last_heartbeat) FROM procrastinate_workers").fetchone()[0]
        assert shown["last_heartbeat"] == iso(float(beat))  # the very row Procrastinate keeps

        url = serve(env, time.time)
        page = read_page(requests.get(url + "/status/", timeout=15).text)
        assert [(w["data-name"], w["data-alive"]) for w in page.workers] == [(shown["name"], "yes")]
        metrics = {(s.name, tuple(sorted(s.labels.items()))): s.value for family in
                   text_string_to_metric_families(requests.get(url + "/metrics", timeout=15).text)
                   for s in family.samples}
        labels = (("id", str(shown["id"])), ("name", shown["name"]))
        assert metrics[("tiktok_worker_alive", labels)] == 1 and metrics[("tiktok_workers_alive", ())] == 1
        assert metrics[("tiktok_worker_heartbeat_timestamp_seconds", labels)] == pytest.approx(float(beat), abs=30)

        worker.send_signal(signal.SIGKILL)  # no goodbye: its row stays, its heartbeat stops
        worker.wait(timeout=30)
        # Reading with a short WORKER_STALLED_S (the default 30 s would make the test wait that long): the rule is
        # the same, heard from within WORKER_STALLED_S.
        short = {**env, "WORKER_STALLED_S": "2", "WORKER_HEARTBEAT_S": "1"}

        def stale() -> tuple[int, str]:
            return command(capsys, short, "status")
        code, out = poll(stale, lambda got: got[0] == 1, "the killed worker was never reported silent",
                         tmp_path / "worker.log")
        assert f"worker {shown['name']} has been silent for " in out and "STALE" in out
        assert f"problem: worker {shown['name']} has been silent for" in out
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
