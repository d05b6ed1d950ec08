"""With DATABASE_URL, "Transcribe selected" runs on the workers (issue 26, loose end 1): the app defers one job per
video (once, however often it is clicked, from one app process or two), a real ``python -m tiktok worker`` process
transcribes them into the shared transcripts folder, the page reads their progress from the job table and the folder,
and a failed one is retried from the page."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.store import postgres
from tiktok.transcription.store import TranscriptStore
from tiktok.transcription.workers import TRANSCRIBE_TASK
from tiktok.web.videos import WorkerTranscriber, transcriber_of

pytestmark = pytest.mark.slow  # a throwaway PostgreSQL and a worker process

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0]
DEADLINE_S = 180  # a worker's start and real downloads on a shared 2-core machine


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    postgres.migrate(database_url)
    return database_url


def catalogue(emulator_url: str) -> list[dict]:
    return requests.get(f"{emulator_url}/_emulator/videos/{ADA.open_id}", timeout=10).json()["videos"]


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def click(web, url: str, video_ids: list[str]) -> dict:
    """What the page's "Transcribe selected" (and a card's Retry) sends."""
    page = web.get(f"/videos/{ADA.open_id}/")
    answer = web.http.post(f"{url}/videos/{ADA.open_id}/transcribe", data={"csrf": csrf_of(page.text),
                                                                          "video_id": video_ids},
                           headers={"Accept": "application/json"}, timeout=15)
    assert answer.status_code == 200, answer.text
    return answer.json()


def states(web, video_ids: list[str]) -> dict[str, dict]:
    return web.get(f"/videos/{ADA.open_id}/progress.json", params={"ids": ",".join(video_ids)}).json()


def jobs(db: str) -> list[tuple[str, str]]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT args->>'video_key', status::text FROM procrastinate_jobs WHERE task_name = %s "
                            "ORDER BY id", (TRANSCRIBE_TASK,)).fetchall()


def start_worker(emulator, db: str, transcripts: Path, log: Path) -> subprocess.Popen:
    """A worker as shipped: the same database and transcripts folder as the app, nothing else set."""
    env = {"PATH": os.environ["PATH"], "HOME": str(log.parent), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "DATABASE_URL": db, "TRANSCRIPTS_DIR": str(transcripts)}
    return subprocess.Popen([sys.executable, "-m", "tiktok", "worker"], cwd=log.parent, env=env,
                            stdout=log.open("a"), stderr=subprocess.STDOUT)


def wait_for(web, worker, log: Path, video_ids: list[str], wanted: set[str]) -> dict[str, dict]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        answer = states(web, video_ids)
        if all(answer[v]["state"] in wanted for v in video_ids):
            return answer
        if worker.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"progress {answer}; worker exit {worker.poll()}\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def test_transcribe_selected_runs_on_a_worker_once_per_video_and_a_failed_one_is_retried(db, serve_app, emulator,
                                                                                        remote, tmp_path):
    folders = {"DATABASE_URL": db, "TRANSCRIPTS_DIR": str(tmp_path / "transcripts"),
               "XDG_CACHE_HOME": str(tmp_path / "cache")}
    app = serve_app(**folders)
    web = app.client()
    assert web.login(open_id=ADA.open_id).status_code == 302  # Ada's tokens in the database, for the workers
    assert isinstance(transcriber_of(app.flask_app), WorkerTranscriber)
    chosen = [v["id"] for v in catalogue(emulator.url)[:3]]
    broken = chosen[2]
    remote.inject_fault(f"/@ada.creates/video/{broken}", status=404, times=10)  # its share page is gone

    assert click(web, app.url, chosen)["queued"] == 3
    assert click(web, app.url, chosen)["queued"] == 0  # a double click queues nothing more
    other = serve_app(**folders)  # a second app process on the same database
    other_web = other.client()
    assert other_web.login(open_id=ADA.open_id).status_code == 302
    assert click(other_web, other.url, chosen)["queued"] == 0
    assert sorted(jobs(db)) == sorted((f"{ADA.open_id}/{v}", "todo") for v in chosen)
    assert {v: s["state"] for v, s in states(web, chosen).items()} == dict.fromkeys(chosen, "queued")

    log = tmp_path / "worker.log"
    worker = start_worker(emulator, db, tmp_path / "transcripts", log)
    try:
        done = wait_for(web, worker, log, chosen, {"done", "failed"})
        assert {v: s["state"] for v, s in done.items()} == {v: "failed" if v == broken else "done" for v in chosen}
        assert "HTTP 404" in done[broken]["detail"]
        transcripts = TranscriptStore(tmp_path / "transcripts")
        assert [transcripts.is_done(ADA.open_id, v) for v in chosen] == [True, True, False]
        assert web.get(f"/transcripts/{ADA.open_id}/{chosen[0]}/").status_code == 200
        assert jobs(db) == [(f"{ADA.open_id}/{broken}", "failed")]  # the done ones' jobs are gone
        queue = subprocess.run([sys.executable, "-m", "tiktok", "queue"], cwd=tmp_path, capture_output=True,
                               text=True, timeout=60, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                                                           "PYTHONPATH": str(ROOT), "DATABASE_URL": db,
                                                           "TIKTOK_API_BASE": emulator.url})
        failed_line = next(line for line in queue.stdout.splitlines() if "transcribe_video(" in line)
        assert f"{ADA.open_id}/{broken})  failed" in failed_line  # never "its post is gone": it has no post
        assert failed_line.endswith("its error is in the log of the worker that ran it")

        remote.clear_faults()
        assert click(web, app.url, [broken])["queued"] == 1  # what Retry sends
        assert wait_for(web, worker, log, [broken], {"done"})[broken]["detail"] == ""
        assert transcripts.is_done(ADA.open_id, broken) and jobs(db) == []  # its failed job cleared too
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()[-4000:]
