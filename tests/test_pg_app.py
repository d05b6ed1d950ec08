"""The app and the commands on the PostgreSQL backend: a login lands in the database, the Posts page and the queue
listing show the database queue, Cancel removes from it, and the app's runner posts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiktok.auth.pg_store import PgTokenStore
from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.posting.pg_queue import PgQueue, PgResultsStore
from tiktok.posting.results import POSTED
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0]


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    return database_url


def test_the_app_keeps_accounts_and_posts_in_the_database(db, serve_app, remote, tmp_path):
    app = serve_app(DATABASE_URL=db, MANIFEST_FILE=str(tmp_path / "unused.json"))
    web = app.client()
    assert web.login(open_id=ADA.open_id).status_code == 302
    assert list(PgTokenStore(db).load()) == [ADA.open_id] and not app.tokens_path.exists()

    clip = make_video(tmp_path / "clip.mp4")
    queue = PgQueue(db, allow_loopback=True)
    keep = queue.add({"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                      "description": "from the database"})
    drop = queue.add({"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                      "description": "cancelled", "post_at": "2099-01-01T09:00:00+00:00"})
    page = web.get("/posts/")
    assert page.status_code == 200 and f'id="post-{keep}"' in page.text and f'id="post-{drop}"' in page.text
    assert "PostgreSQL database" in page.text and "unused.json" not in page.text
    web.post_form(f"/posts/{drop}/cancel")
    assert [e.description for e in queue.read().entries] == ["from the database"]

    runner = runner_of(app.flask_app)
    runner.kick()
    assert runner.join(60)
    (record,) = PgResultsStore(db).load().values()
    assert record.state == POSTED and len(remote.state()["posts"]) == 1
    assert not (tmp_path / "unused.results.json").exists()

    listing = subprocess.run([sys.executable, "-m", "tiktok", "queue"], cwd=tmp_path, capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DATABASE_URL": db,
                                  "TIKTOK_API_BASE": remote.base_url}, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert f"{keep}  {ADA.open_id}  posted" in listing.stdout and "1 entry" in listing.stdout
    assert "jobs: 0 waiting, running or failed" in listing.stdout


def test_a_worker_refuses_to_start_on_an_unmigrated_database(database_url, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tiktok", "worker"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
                          timeout=60)
    assert done.returncode == 2 and "python -m tiktok db migrate" in done.stderr


def test_a_dry_run_names_the_database_when_an_account_is_not_in_it(db, tmp_path):
    clip = make_video(tmp_path / "clip.mp4")
    PgQueue(db).add({"user_id": "nobody-here", "video_path": str(clip), "privacy": "SELF_ONLY"})
    done = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--dry-run"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DATABASE_URL": db})
    assert done.returncode == 2
    assert 'field "user_id": no connected account in PostgreSQL database' in done.stdout, done.stdout
