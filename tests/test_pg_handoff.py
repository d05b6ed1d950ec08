"""With DATABASE_URL the app hands posts to the workers and never runs a posting run itself (issue 22, item 2).

- The emulator's request log: every request with its method, path, time and User-Agent, through the control API,
  and never more than its limit kept; the tool's User-Agent names its process.
- The app (a real ``python app.py`` process) and two ``python -m tiktok worker`` processes, all with the shipped
  defaults: "Post now" and Retry clicked in the app (real form posts with CSRF). The workers make every post, each
  exactly once, and the emulator's request log shows no request from the app's process to a posting endpoint or
  an upload URL (the composer's creator_info query is the one /v2/post/ call the app makes: the form needs it).
- The app's tick hands the posts that came due to the workers as the jobs the dispatcher would defer, and Retry
  hands its post over at once (with no worker running, so no dispatcher either, the job is the app's own); neither
  posts anything.
- The Posts page says when no worker is running, and not when one is (a worker that stopped, or one killed and
  silent past WORKER_STALLED_S, is none).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.pg_store import PgTokenStore
from tiktok.db.handoff import NO_WORKER, POST_TASK, queueing_lock
from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.emulator.request_log import RequestLog
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.services import http_session
from tiktok.store import postgres
from tiktok.store.postgres import open_postgres
from tiktok.store.records import State
from tiktok.version import __version__
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.app_process import start_app, stop_app
from tests.support.flows import WebClient, link_account
from tests.support.queue_workers import queue_post
from tests.support.uploads import SliceClient

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, _ = (u.open_id for u in default_users())
SCOPES = ("user.info.basic", "video.publish", "video.upload")
CREATOR_INFO = "/v2/post/publish/creator_info/query/"
DEADLINE_S = 120.0  # only reached when something is broken
NO_WORKER_TEXT = "No worker is running: posts wait until one starts:"
LATER = "2031-01-01T09:00:00+00:00"
HANDOVER_S = 15.0  # Retry to the worker's init: measured 0.2 to 0.4 s (a deferred job wakes a waiting worker)


# -- the request log and the User-Agent ----------------------------------------------------------------------------

def test_the_user_agent_names_the_tool_and_the_process():
    assert http_session().headers["User-Agent"] == f"tiktok-local-tool/{__version__} pid/{os.getpid()}"


@pytest.mark.slow  # another Python process
def test_another_process_names_its_own_pid():
    other = subprocess.run([sys.executable, "-c", "import os; from tiktok.services import http_session; "
                            "print(os.getpid(), http_session().headers['User-Agent'])"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    pid, agent = other.stdout.split(" ", 1)
    assert agent.strip().endswith(f" pid/{pid}") and int(pid) != os.getpid()


def test_the_emulator_logs_every_request_with_its_user_agent(emulator, remote):
    session = http_session()
    session.post(emulator.url + CREATOR_INFO, timeout=10)  # no token: refused, and logged all the same
    requests.get(emulator.url + "/v2/user/info/?fields=open_id", headers={"User-Agent": "someone-else/1"}, timeout=10)
    logged = remote.requests()
    mine = [r for r in logged if r["user_agent"] == session.headers["User-Agent"]]
    assert [(r["method"], r["path"], r["status"]) for r in mine] == [("POST", CREATOR_INFO, 401)]
    assert any(r["user_agent"] == "someone-else/1" and r["path"] == "/v2/user/info/" for r in logged)
    assert all("?" not in r["path"] for r in logged)  # no query string (codes, tokens) is kept
    assert abs(mine[0]["at"] - time.time()) < 60
    last = logged[-1]["n"]
    assert remote.requests(after=last)[0]["path"] == "/_emulator/requests"  # the read itself, and nothing older


def test_the_request_log_keeps_only_its_limit():
    log = RequestLog(limit=3, clock=lambda: 1.0)
    for n in range(5):
        log.add("GET", f"/p{n}", "ua")
    view = log.view()
    assert [e["path"] for e in view["requests"]] == ["/p2", "/p3", "/p4"] and [e["n"] for e in view["requests"]] \
        == [3, 4, 5]
    assert (view["total"], view["dropped"]) == (5, 2)
    assert [e["path"] for e in log.view(after=4)["requests"]] == ["/p4"]


# -- PostgreSQL: the app hands over ------------------------------------------------------------------------------

@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    postgres.migrate(database_url)
    return database_url


def link(emulator, db: str, *open_ids: str) -> None:
    store = PgTokenStore(db)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    for open_id in open_ids:
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)


def jobs(db: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT task_name, args, queueing_lock, status FROM procrastinate_jobs ORDER BY id")\
            .fetchall()


def environment(emulator, db: str, home: Path) -> dict[str, str]:
    """What every process of the deployment is given: the database and the TikTok app; nothing else is set."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT), "DATABASE_URL": db,
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url}


def start_worker(emulator, db: str, folder: Path) -> subprocess.Popen:
    """``python -m tiktok worker`` with the shipped defaults, in a folder of its own (another machine's)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "worker.log").open("a")
    return subprocess.Popen([sys.executable, "-m", "tiktok", "worker"], cwd=folder,
                            env=environment(emulator, db, folder), stdout=log, stderr=subprocess.STDOUT)


def stop_workers(workers: list[subprocess.Popen]) -> list[int]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    return [worker.wait(timeout=60) for worker in workers]


def wait_for(condition, what: str, logs: list[Path] = ()) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() >= deadline:
            tails = "\n".join(p.read_text()[-3000:] for p in logs if p.exists())
            raise AssertionError(f"{what() if callable(what) else what} within {DEADLINE_S:g} s\n{tails}")
        time.sleep(0.2)


def says_no_worker(web: WebClient) -> bool:
    page = web.get("/posts/")
    assert page.status_code == 200, page.text[:500]
    return NO_WORKER_TEXT in re.sub(r"\s+", " ", page.text)


def post_now(web: WebClient, clip: Path, open_id: str, description: str) -> str:
    """What a person does in the composer: open it, upload the video, press "Post now"; the page's flash."""
    assert web.get(f"/posts/new?open_id={open_id}").status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/").text).group(1)
    uploaded = SliceClient(web.url, web.http, csrf).upload(clip, open_id)
    assert uploaded.status_code == 200, uploaded.text
    done = web.post_form("/posts/new", {"open_id": open_id, "source": "upload", "media_id": uploaded.json()["media_id"],
                                        "description": description, "privacy": "SELF_ONLY", "allow_comment": "on",
                                        "action": "now"})
    assert done.status_code == 200, done.text[:500]
    return flash_of(done.text)


def flash_of(page: str) -> str:
    found = re.search(r'class="flash[^"]*"[^>]*>(.*?)</', page, re.S)
    assert found, page[:2000]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


def pid_of(user_agent: str) -> int | None:
    found = re.search(r"\bpid/(\d+)", user_agent)
    return int(found.group(1)) if found else None


def is_posting(path: str) -> bool:
    """TikTok's posting endpoints and upload URLs; creator_info (a query the composer must show) is not one."""
    return (path.startswith("/v2/post/") and path != CREATOR_INFO) or path.startswith("/upload/")


@pytest.mark.slow
def test_the_app_hands_post_now_and_retry_to_two_workers_and_posts_nothing_itself(db, emulator, remote, tmp_path):
    link(emulator, db, ADA, BO)
    clip = make_video(tmp_path / "clip.mp4")
    app_home = tmp_path / "app"
    app_home.mkdir()
    app, url = start_app(app_home, env=environment(emulator, db, app_home))
    web = WebClient(url)
    workers: list[subprocess.Popen] = []
    logs = [tmp_path / f"worker{n}" / "worker.log" for n in (1, 2)]
    try:
        assert says_no_worker(web)  # nothing would take a post yet
        workers = [start_worker(emulator, db, log.parent) for log in logs]
        wait_for(lambda: not says_no_worker(web), "the Posts page still says no worker is running", logs)

        # Post now: TikTok fails the first post for good, so it waits for a person's Retry.
        remote.session.post(remote.base_url + "/_emulator/posts/fail_next",
                            json={"fail_reason": "file_format_check_failed"}, timeout=10).raise_for_status()
        said = post_now(web, clip, ADA, "first, failed once")
        assert "it is handed to the workers, and a running worker takes it within seconds" in said, said
        store = open_postgres(db)
        (first,) = store.every_post()
        wait_for(lambda: store.get(first.id).state == State.FAILED, "the first post did not fail", logs)

        for open_id, words in ((ADA, "second"), (BO, "third")):
            assert "handed to the workers" in post_now(web, clip, open_id, words)
        every = list(store.every_post())
        wait_for(lambda: [store.get(p.id).state for p in every[1:]] == [State.POSTED] * 2,
                 "the second and third posts were not made", logs)
        retried_at = time.time()  # from here on, the only post to make is the retried one
        done = web.post_form(f"/posts/{first.id}/retry")
        assert f"Post {first.id} will be posted again: it is handed to the workers" in flash_of(done.text)
        wait_for(lambda: [store.get(p.id).state for p in every] == [State.POSTED] * 3,
                 lambda: f"not every post was made ({[store.get(p.id).state for p in every]})", logs)
        store.close()
    finally:
        codes = stop_workers(workers)
        stop_app(app)
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]

    made = remote.state()["posts"]
    by_title: dict[str, list[str]] = {}
    for post in made:
        by_title.setdefault(post["post_info"]["title"], []).append(post["status"])
    assert by_title == {"first, failed once": ["FAILED", "PUBLISH_COMPLETE"], "second": ["PUBLISH_COMPLETE"],
                        "third": ["PUBLISH_COMPLETE"]}  # each made exactly once; the failure once before its retry

    logged = remote.requests()
    assert logged[0]["n"] == 1  # the whole run is in the log: nothing fell out
    worker_pids = {w.pid for w in workers}
    posting = [r for r in logged if is_posting(r["path"])]
    from_app = [r for r in posting if pid_of(r["user_agent"]) == app.pid]
    assert from_app == [], from_app
    assert {pid_of(r["user_agent"]) for r in posting} <= worker_pids  # every posting call is a worker's
    inits = [r for r in posting if r["path"] == "/v2/post/publish/video/init/"]
    assert len(inits) == len(made) == 4
    (retry_init,) = [r for r in inits if r["at"] > retried_at]
    taken_s = retry_init["at"] - retried_at
    assert taken_s < HANDOVER_S, f"a worker sent the retried post's init {taken_s:.1f} s after the click"
    assert any(r["path"].startswith("/upload/") for r in posting)
    # The app's own calls are in the log too, under its pid: the composer's creator_info queries.
    assert {r["path"] for r in logged if pid_of(r["user_agent"]) == app.pid} == {CREATOR_INFO}


@pytest.mark.slow
def test_the_apps_tick_hands_due_posts_to_the_workers_and_posts_nothing(db, emulator, remote, serve_app, tmp_path):
    link(emulator, db, ADA)
    clip = make_video(tmp_path / "clip.mp4")
    store = open_postgres(db)
    due = queue_post(store, {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "due"})
    queue_post(store, {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "later",
                       "post_at": LATER})
    app = serve_app(DATABASE_URL=db, MANIFEST_FILE=str(tmp_path / "none.json"))
    runner = runner_of(app.flask_app)
    for _ in range(2):  # the second round finds the job waiting: still one
        assert runner.kick() is True and runner.join(DEADLINE_S)
    assert jobs(db) == [(POST_TASK, {"key": due.key}, queueing_lock(due.key), "todo")]
    assert remote.state()["posts"] == []
    assert [r for r in remote.requests() if r["path"].startswith(("/v2/post/", "/upload/"))] == []  # none at all
    assert [store.get(p.id).state for p in store.every_post()] == ["queued", "queued"]
    store.close()

    # The dispatcher would defer the same job: one task, one argument, one queueing lock.
    from tiktok.jobs.dispatch import plan_deferrals
    from tiktok.posting.runner import work_for
    settings = app.flask_app.extensions["tiktok_services"].settings
    (deferral,) = plan_deferrals([work_for(due, settings)], set(), now=time.time(), grace_s=3600)
    assert (deferral.key, deferral.queueing_lock) == (due.key, queueing_lock(due.key))


@pytest.mark.slow
def test_retry_hands_the_post_over_at_once_and_says_when_no_worker_would_take_it(db, emulator, remote, serve_app,
                                                                                tmp_path):
    link(emulator, db, ADA)
    store = open_postgres(db)
    post = queue_post(store, {"user_id": ADA, "video_path": str(make_video(tmp_path / "clip.mp4")),
                              "privacy": "SELF_ONLY", "description": "refused once"})
    app = serve_app(DATABASE_URL=db, MANIFEST_FILE=str(tmp_path / "none.json"))
    settings = app.flask_app.extensions["tiktok_services"].settings
    remote.session.post(remote.base_url + "/_emulator/posts/fail_next",
                        json={"fail_reason": "file_format_check_failed"}, timeout=10).raise_for_status()
    run_queue(store, settings, RunOptions(grace_s=settings.posting.post_grace_s), hooks=Hooks(say=lambda _: None))
    assert store.get(post.id).state == State.FAILED and jobs(db) == []
    posting_before = [r for r in remote.requests() if is_posting(r["path"])]

    done = app.client().post_form(f"/posts/{post.id}/retry")
    assert flash_of(done.text) == (f"Post {post.id} will be posted again: it is handed to the workers, but no worker "
                                   "is running: it waits until one starts (python -m tiktok worker).")
    # No worker, so no dispatcher: the job is the app's own, the one a worker's dispatcher would defer.
    assert jobs(db) == [(POST_TASK, {"key": post.key}, queueing_lock(post.key), "todo")]
    assert [r for r in remote.requests() if is_posting(r["path"])] == posting_before  # the app posted nothing
    assert store.get(post.id).record.retry_requested
    store.close()


@pytest.mark.slow
def test_the_posts_page_says_when_no_worker_is_running(db, emulator, serve_app, tmp_path):
    app = serve_app(DATABASE_URL=db)
    web = app.client()
    assert says_no_worker(web)
    page = re.sub(r"\s+", " ", web.get("/posts/").text)
    assert "python -m tiktok worker" in page and NO_WORKER.startswith(NO_WORKER_TEXT)

    log = tmp_path / "worker" / "worker.log"
    worker = start_worker(emulator, db, log.parent)
    try:
        wait_for(lambda: not says_no_worker(web), "the page still says no worker is running", [log])
    finally:
        assert stop_workers([worker]) == [0], log.read_text()[-2000:]
    assert says_no_worker(web)  # a worker that stopped took its row with it

    # A worker killed (or frozen) leaves its row; once its heartbeat is older than WORKER_STALLED_S it is none.
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 seconds')")
        assert not says_no_worker(web)
        conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '31 seconds'")
    assert says_no_worker(web)


def test_without_a_database_the_page_never_speaks_of_workers(web):
    assert not says_no_worker(web)
