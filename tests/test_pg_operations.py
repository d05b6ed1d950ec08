"""Operations on PostgreSQL (issue 22, item 9): what ``python -m tiktok queue``, ``python -m tiktok workers`` and the
Posts page say, and which Procrastinate jobs are left failed. Real ``python -m tiktok worker`` processes with the
shipped defaults, a throwaway cluster and the emulator.

- A missing file and a post TikTok refuses fail their jobs (not "successful" ones); the queue and the Posts page
  say why in plain words (TikTok's code on a details line), on which machine and process and when, with counts by
  state; after the file is back and Retry is pressed, the post goes out and its failed job is gone.
- A worker SIGKILLed mid-upload shows as stale in ``workers`` (named host:pid) once silent for WORKER_STALLED_S;
  its job, found stalled while a successor waits under the post's queueing lock, is handed over and never left
  failed; the successor finishes the post, once.
- ``workers`` and ``queue`` exit 4 with one line when the database cannot be reached, 2 without DATABASE_URL.
- The daily report runs as a task in a worker (the report's own function with the worker's settings); a report
  that does not complete fails its job.
- Failures in plain words (pure): TikTok's codes, this tool's own sentences, and the details kept apart.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tiktok.emulator.config import default_users
from tiktok.errors import JobFailed
from tiktok.jobs.worker import read_workers
from tiktok.posting.failures import WORDS, failure_of
from tiktok.store.postgres import open_postgres
from tiktok.store.records import PostRecord, State
from tests.media_fixtures import make_video
from tests.support.default_worker import (default_environment, link_all, migrated, start_default_worker, stop,
                                          wait_for)
from tests.support.posting import padded_video
from tests.support.queue_workers import queue_post

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
HOST = socket.gethostname()
STALLED_S = 30  # WORKER_STALLED_S's default: a worker silent this long is stale
DEADLINE_S = 180.0  # only reached when something is broken


@pytest.fixture
def db(database_url) -> str:
    return migrated(database_url)


def command(db: str, emulator, *args: str) -> subprocess.CompletedProcess:
    """``python -m tiktok ARGS`` as a user runs it on a machine with DATABASE_URL set."""
    home = Path(os.environ.get("TMPDIR", "/tmp"))
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=default_environment(db, emulator.url, home))


def failed_jobs(db: str) -> dict[str, int]:
    """post key -> how many of its posting jobs are failed."""
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT args->>'key', count(*) FROM procrastinate_jobs WHERE status = 'failed' "
                            "AND task_name = 'tiktok:post_entry' GROUP BY 1").fetchall()
    return dict(rows)


def every_failed_job(db: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT id, task_name, args FROM procrastinate_jobs WHERE status = 'failed'").fetchall()


def line_of(output: str, start: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(start)]
    assert len(found) == 1, f"no single line starting {start!r} in:\n{output}"
    return found[0]


def card_of(page: str, post_id: int) -> str:
    card = page[page.index(f'id="post-{post_id}"'):]
    return card[:card.index("</article>")]


def fail_next_post(remote, reason: str) -> None:
    remote.session.post(remote.base_url + "/_emulator/posts/fail_next", json={"fail_reason": reason},
                        timeout=10).raise_for_status()


# -- failed posts: their jobs, the queue, the Posts page ------------------------------------------------------------

@pytest.mark.slow
def test_failed_posts_fail_their_jobs_and_the_queue_and_posts_page_say_why_where_and_when(db, emulator, remote,
                                                                                         serve_app, tmp_path):
    link_all(emulator, db, [ADA])
    clip = make_video(tmp_path / "clip.mp4")
    lost = tmp_path / "lost.mp4"
    shutil.copy(clip, lost)
    store = open_postgres(db)
    entry = {"user_id": ADA, "privacy": "SELF_ONLY"}
    # One post at a time, so each is met by its own job: a job that posts several posts of an account fails only for
    # its own post (the others' failures show at once in queue and on the page, their jobs at their next attempt).
    spam = queue_post(store, {**entry, "video_path": str(clip), "description": "refused by TikTok"})
    fail_next_post(remote, "spam_risk_text")  # the account's first init: "refused by TikTok"

    log = tmp_path / "worker" / "worker.log"
    log.parent.mkdir()
    worker = start_default_worker(db, emulator.url, log)
    until = time.time() + DEADLINE_S
    try:
        wait_for(lambda: spam.key in failed_jobs(db), worker, log, until=until,
                 what=f"the refused post's job did not fail (failed jobs: {failed_jobs(db)})")
        missing = queue_post(store, {**entry, "video_path": str(lost), "description": "its file went missing"})
        lost.unlink()  # queued while it was there; gone when the worker gets to it
        wait_for(lambda: missing.key in failed_jobs(db), worker, log, until=until,
                 what=f"the missing file's job did not fail (failed jobs: {failed_jobs(db)})")
        good = queue_post(store, {**entry, "video_path": str(clip), "description": "goes out"})
        wait_for(lambda: store.get(good.id).state == State.POSTED and set(failed_jobs(db)) == {spam.key, missing.key},
                 worker, log, until=until, what=f"the posts did not end as expected (failed jobs: {failed_jobs(db)})")
        assert failed_jobs(db) == {spam.key: 1, missing.key: 1}  # one failed job each, none for the post made
        assert store.get(spam.id).state == State.FAILED and store.get(missing.id).state == State.FAILED

        listing = command(db, emulator, "queue")
        assert listing.returncode == 0, listing.stderr
        out = listing.stdout
        assert "posts: 1 open (1 to try again), 2 failed, 1 done today (since " in out, out
        assert re.search(r"jobs: \d+ waiting, running or failed \(by status: \d+ todo, \d+ doing, 2 failed\); "
                         r"workers: 1 alive", out), out
        made_by = f"on {HOST}, pid {worker.pid}, "  # the machine and the process that met each failure
        refused = line_of(out, f"  post {spam.id}  {spam.key}  {ADA}  ")
        assert "failed, waits for a person (Retry on the Posts page) (" + made_by in refused
        assert refused.endswith(": " + WORDS["spam_risk_text"])  # plain words ...
        details = out.splitlines()[out.splitlines().index(refused) + 1]
        assert details.startswith("      details: TikTok failed the post: spam_risk_text (log_id ")  # ... code apart
        gone = line_of(out, f"  post {missing.id}  {missing.key}  {ADA}  ")
        assert "failed, tried again later (" + made_by in gone and gone.endswith(f"{lost}: file not found")
        jobs = [line for line in out.splitlines() if line.startswith("  job ") and "  failed" in line]
        assert len(jobs) == 2 and all(f"failed on {HOST}, pid {worker.pid}: " in line for line in jobs), jobs
        assert any(line.endswith(WORDS["spam_risk_text"]) for line in jobs)

        listed = command(db, emulator, "workers")
        assert listed.returncode == 0, listed.stderr
        assert "1 worker, 1 alive, 0 stale (silent for 30 s or more, WORKER_STALLED_S)" in listed.stdout
        assert re.search(rf"  worker \d+  {re.escape(HOST)}:{worker.pid}  alive  last heartbeat "
                         r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .+, \d+ s ago", listed.stdout), listed.stdout

        app = serve_app(DATABASE_URL=db, MANIFEST_FILE=str(tmp_path / "unused.json"))
        web = app.client()
        page = web.get("/posts/").text
        card = card_of(page, spam.id)
        assert WORDS["spam_risk_text"].replace("'", "&#39;") in card
        assert '<details class="failure-details">' in card and "spam_risk_text (log_id " in card
        assert f'Last attempt on <span class="host">{HOST}</span>' in card
        card = card_of(page, missing.id)
        assert "file not found" in card and f'<span class="host">{HOST}</span>' in card

        shutil.copy(clip, lost)  # the file is back: Retry
        assert web.post_form(f"/posts/{missing.id}/retry").status_code == 200
        wait_for(lambda: store.get(missing.id).state == State.POSTED and missing.key not in failed_jobs(db),
                 worker, log, until=until, what=f"the retried post left a failed job ({failed_jobs(db)})")
        assert failed_jobs(db) == {spam.key: 1}  # the post made: its failed job went with its success
        again = command(db, emulator, "queue").stdout
        assert "posts: 0 open, 1 failed, 2 done today (since " in again, again
    finally:
        code = stop(worker)
        store.close()
    assert code == 0, log.read_text()[-3000:]
    assert sorted(p["status"] for p in remote.state()["posts"]) == ["FAILED", "PUBLISH_COMPLETE", "PUBLISH_COMPLETE"]

    after = command(db, emulator, "workers")  # a worker that stopped unregisters itself
    assert after.returncode == 0 and "0 workers, 0 alive, 0 stale" in after.stdout
    assert "No worker is running" in after.stdout


# -- a killed worker: stale in the list, its job handed over, never left failed ----------------------------------

def defer_later(db: str, key: str) -> int:
    """A job for post ``key`` under the post's queueing lock (as Retry or the dispatcher leaves one), due in an hour:
    still waiting when the killed worker's job is found stalled. Its id."""
    import procrastinate

    from procrastinate.exceptions import AlreadyEnqueued

    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=db))
    try:
        with app.open():
            return app.configure_task("tiktok:post_entry", queueing_lock=f"post:{key}",
                                      schedule_in={"hours": 1}).defer(key=key)
    except AlreadyEnqueued:  # the killed worker's dispatcher left one already (it may, on a busy machine): that one
        with psycopg.connect(db) as conn:  # is the successor; it waits its hour the same way (no worker runs now)
            (job_id,) = conn.execute("UPDATE procrastinate_jobs SET scheduled_at = now() + interval '1 hour' "
                                     "WHERE queueing_lock = %s AND status = 'todo' RETURNING id",
                                     (f"post:{key}",)).fetchone()
        return job_id


def job_status(db: str, job_id: int) -> str | None:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    return row[0] if row else None


@pytest.mark.slow
def test_a_killed_worker_shows_stale_and_its_job_goes_to_its_successor_never_left_failed(db, emulator, remote,
                                                                                        tmp_path):
    link_all(emulator, db, [ADA])
    video = padded_video(tmp_path / "big.mp4", 100_000_000)  # ten 10 MB chunks
    store = open_postgres(db)
    post = queue_post(store, {"user_id": ADA, "video_path": str(video), "privacy": "SELF_ONLY",
                              "description": "cut off mid-upload"})
    remote.inject_fault("/upload/video/", delay=0.5, times=10_000)  # about 5 s an upload: time to kill it
    logs = [tmp_path / name / "worker.log" for name in ("first", "second")]
    for log in logs:
        log.parent.mkdir()
    first = start_default_worker(db, emulator.url, logs[0])
    until = time.time() + DEADLINE_S
    second = None
    try:
        wait_for(lambda: any(p["bytes_received"] for p in remote.state()["posts"]), first, logs[0], until=until,
                 what="the upload did not start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        with psycopg.connect(db) as conn:
            (killed,) = conn.execute("SELECT id FROM procrastinate_jobs WHERE status = 'doing'").fetchone()
        successor = defer_later(db, post.key)
        second = start_default_worker(db, emulator.url, logs[1])

        seen: set[str | None] = set()

        def handed_over() -> bool:
            seen.add(job_status(db, killed))
            return job_status(db, killed) is None
        wait_for(handed_over, second, logs[1], until=until, what=f"the killed job was not handed over ({seen})")
        assert "failed" not in seen, seen  # deleted as finished, never marked failed
        assert job_status(db, successor) == "todo"  # the successor still waits: it finishes the post

        stale = [w for w in read_workers(db) if w.name == f"{HOST}:{first.pid}"]
        assert len(stale) == 1 and not stale[0].alive(STALLED_S) and stale[0].silent_s >= STALLED_S
        listed = command(db, emulator, "workers")
        assert listed.returncode == 0, listed.stderr
        assert "2 workers, 1 alive, 1 stale (silent for 30 s or more, WORKER_STALLED_S)" in listed.stdout
        assert re.search(rf"  worker \d+  {re.escape(HOST)}:{first.pid}  stale  last heartbeat .+, \d+ s ago: "
                         r"stopped, frozen or cut off; other workers retry its jobs", listed.stdout), listed.stdout
        assert f"{HOST}:{second.pid}  alive  " in listed.stdout

        with psycopg.connect(db) as conn:  # the successor's time comes
            conn.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %s", (successor,))
        wait_for(lambda: store.get(post.id).state == State.POSTED, second, logs[1], until=until,
                 what="the successor did not finish the post")
        wait_for(lambda: job_status(db, successor) is None, second, logs[1], until=until,
                 what="the successor job did not end")
    finally:
        codes = [stop(second)] if second is not None else []
        if first.poll() is None:
            first.kill()
        store.close()
    assert codes == [0], logs[1].read_text()[-3000:]
    posts = remote.state()["posts"]
    assert len(posts) == 1 and posts[0]["status"] == "PUBLISH_COMPLETE"  # one init: resumed, not posted again
    assert every_failed_job(db) == []


# -- the database away, or not set ---------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["workers", "queue"])
def test_workers_and_queue_exit_4_with_one_line_when_the_database_cannot_be_reached(name, postgres, emulator):
    gone = f"postgresql://tiktok:s3cret-pw@127.0.0.1:{postgres.port + 1}/tiktok"
    done = command(gone, emulator, name)
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "cannot be reached" in done.stderr
    assert 'PostgreSQL database "tiktok" on 127.0.0.1' in done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_workers_without_database_url_names_the_setting_and_exits_2(emulator, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tiktok", "workers"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "DATABASE_URL is not set" in done.stderr and "Traceback" not in done.stderr


# -- the daily report as a task --------------------------------------------------------------------------------------

REPORT_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")


@pytest.mark.slow
def test_the_daily_report_runs_as_a_task_in_the_worker_with_its_settings(db, emulator, oauth, tmp_path):
    from tiktok.auth.pg_store import PgTokenStore
    from tests.support.flows import link_account

    link_account(emulator.url, PgTokenStore(db), oauth, ADA, scopes=REPORT_SCOPES)
    reports = tmp_path / "reports"
    log = tmp_path / "worker" / "worker.log"
    log.parent.mkdir()
    env = {**default_environment(db, emulator.url, log.parent), "REPORTS_DIR": str(reports),
           "WORKER_REPORT_CRON": "* * * * * */2"}  # the default, 23:50 UTC, cannot come during a test
    worker = subprocess.Popen([sys.executable, "-m", "tiktok", "worker"], cwd=log.parent, env=env,
                              stdout=log.open("a"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: list(reports.glob("*/summary.csv")), worker, log, until=time.time() + DEADLINE_S,
                 what="the daily report job wrote no report")
    finally:
        code = stop(worker)
    assert code == 0, log.read_text()[-3000:]
    assert "daily report written" in log.read_text()  # the task's result, in the worker's log
    assert [row for row in every_failed_job(db) if row[1] == "tiktok:daily_report"] == []


def test_a_daily_report_that_does_not_complete_fails_its_job(emulator, remote, store, oauth, tokens_path, tmp_path):
    import procrastinate
    from procrastinate import jobs, testing

    from tiktok.config import load_settings
    from tiktok.jobs import tasks
    from tests.support.flows import link_account

    link_account(emulator.url, store, oauth, ADA, scopes=REPORT_SCOPES)
    remote.revoke_user(ADA)  # the account's grant is gone: its report needs a relink
    settings = load_settings({"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                              "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_API_BASE": emulator.url,
                              "TOKENS_FILE": str(tokens_path), "REPORTS_DIR": str(tmp_path / "reports")})
    context = procrastinate.JobContext(
        app=procrastinate.App(connector=testing.InMemoryConnector()), start_timestamp=time.time(),
        job=jobs.Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="tiktok:daily_report"),
        abort_reason=lambda: None, additional_context=tasks.job_context(settings))
    with pytest.raises(JobFailed) as failed:
        tasks.daily_report(context, 0)
    said = str(failed.value)  # the account's own line says why
    assert said.startswith("the daily report did not complete (exit status 3): ") and ADA in said
    assert "RELINK" in said and "Refresh token has been revoked" in said


# -- failures in plain words (pure) ----------------------------------------------------------------------------------

def attempt(**fields) -> PostRecord:
    return PostRecord(key="k1", user_id=ADA, state="failed", outcome="failed", **fields)


@pytest.mark.parametrize("record, reason, details", [
    (attempt(fail_reason="spam_risk_text", error="TikTok failed the post: spam_risk_text", log_id="L1"),
     WORDS["spam_risk_text"], "TikTok failed the post: spam_risk_text (log_id L1)"),
    (attempt(error="TikTok refused: spam_risk_too_many_posts: This user has posted too much. (log_id L2)",
             log_id="L2"),
     WORDS["spam_risk_too_many_posts"], "TikTok refused: spam_risk_too_many_posts: This user has posted too much. "
                                        "(log_id L2)"),
    (attempt(fail_reason="frame_rate_check_failed"), "TikTok does not take the video's frame rate: re-encode it at "
     "23 to 60 frames a second, then retry", "TikTok failed the post: frame_rate_check_failed"),
    (attempt(error='field "video_path": /media/clip.mp4: file not found'),
     'field "video_path": /media/clip.mp4: file not found', ""),  # this tool's own sentence is the reason
    (attempt(error="TikTok is not answering (internal server trouble)", log_id="L3"),
     "TikTok is not answering (internal server trouble)", "log_id L3"),  # no code: "internal" is just a word
    (attempt(), "the attempt failed (no reason was recorded)", ""),
], ids=["status fail_reason", "API error code", "frame rate", "missing file", "no code", "nothing recorded"])
def test_a_failure_reads_in_plain_words_with_tiktoks_code_apart(record, reason, details):
    failure = failure_of(record)
    assert (failure.reason, failure.details) == (reason, details)


def test_every_code_the_emulator_can_fail_a_post_with_has_plain_words():
    from tiktok.emulator.control import FAIL_REASONS

    assert set(FAIL_REASONS) <= set(WORDS)
    assert all(code not in words for code, words in WORDS.items())  # the words never repeat the code


def test_old_records_without_a_host_still_read_and_show_no_host():
    old = {"key": "k1", "user_id": ADA, "state": "failed", "error": "boom", "outcome": "failed"}
    record = PostRecord.from_json(old)
    assert record.host is None and record.pid is None
    assert PostRecord.from_json(attempt(host="cron-box", pid=42).to_json()).host == "cron-box"
