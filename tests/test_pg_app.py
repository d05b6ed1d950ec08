"""The app and the commands on PostgreSQL: a login lands in the database, the Posts page shows and cancels the
database's posts, the app's runner hands them to the workers (it never posts them itself), ``python -m tiktok queue``
lists them, and a worker refuses to start on a database that was not migrated."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tiktok.auth.pg_store import PgTokenStore
from tiktok.db.migrations import migrate
from tiktok.emulator.config import default_users
from tiktok.store import postgres
from tiktok.store.postgres import open_postgres
from tiktok.store.records import State
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.queue_workers import queue_post

pytestmark = pytest.mark.slow  # throwaway PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0]
LATER = (datetime.now(timezone.utc) + timedelta(days=365)).replace(hour=9, minute=0, second=0, microsecond=0) \
    .isoformat()  # a year ahead: post_at may be at most five years ahead


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    postgres.migrate(database_url)
    return database_url


def command(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT), **env})


def revision_in(page: str, post_id: int) -> str:
    """The revision the card's forms carry (what the page showed is what a click changes)."""
    card = page[page.index(f'id="post-{post_id}"'):]
    return re.search(r'name="revision" value="(\d+)"', card).group(1)


def test_the_app_keeps_accounts_and_posts_in_the_database(db, serve_app, remote, tmp_path):
    app = serve_app(DATABASE_URL=db, MANIFEST_FILE=str(tmp_path / "unused.json"))
    web = app.client()
    assert web.login(open_id=ADA.open_id).status_code == 302
    assert list(PgTokenStore(db).load()) == [ADA.open_id] and not app.tokens_path.exists()

    clip = make_video(tmp_path / "clip.mp4")
    store = open_postgres(db)
    keep = queue_post(store, {"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                              "description": "from the database"})
    drop = queue_post(store, {"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                              "description": "cancelled", "post_at": LATER})
    later = queue_post(store, {"user_id": ADA.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                               "description": "next year", "post_at": LATER})
    page = web.get("/posts/")
    assert page.status_code == 200
    assert all(f'id="post-{post.id}"' in page.text for post in (keep, drop, later))
    assert 'id="store-where">PostgreSQL database &#34;' in page.text  # the page says where its posts are kept
    done = web.post_form(f"/posts/{drop.id}/cancel", {"revision": revision_in(page.text, drop.id)})
    assert done.status_code == 200 and f"Cancelled post {drop.id}" in done.text
    assert store.get(drop.id).state == "cancelled" and f'id="post-{drop.id}"' not in web.get("/posts/").text

    runner = runner_of(app.flask_app)
    runner.kick()
    assert runner.join(60)
    assert [store.get(p.id).state for p in (keep, drop, later)] == ["queued", "cancelled", "queued"]
    assert remote.state()["posts"] == []  # the app hands the due post to the workers (tests/test_pg_handoff.py)
    posting = command([str(ROOT / "upload_to_tiktok.py")], tmp_path, DATABASE_URL=db, TIKTOK_API_BASE=remote.base_url)
    assert posting.returncode == 0, posting.stderr
    assert [store.get(p.id).state for p in (keep, drop, later)] == [State.POSTED, "cancelled", "queued"]
    assert [p["post_info"]["title"] for p in remote.state()["posts"]] == ["from the database"]
    assert not list(tmp_path.glob("*.db")) and not list(tmp_path.glob("*.results.json"))  # no local store
    store.close()

    listing = command(["-m", "tiktok", "queue"], tmp_path, DATABASE_URL=db, TIKTOK_API_BASE=remote.base_url)
    assert listing.returncode == 0, listing.stderr
    assert "3 posts, 1 still to do or to follow" in listing.stdout
    assert f"post {later.id}  {later.key}  {ADA.open_id}  scheduled {LATER}" in listing.stdout
    assert f"post {keep.id} " not in listing.stdout and f"post {drop.id} " not in listing.stdout
    assert f"post_entry({keep.key})  todo" in listing.stdout  # the app's job; a worker finds the post made


@pytest.mark.parametrize("previous", [False, True], ids=["empty database", "previous version's schema"])
def test_a_worker_refuses_to_start_on_an_unmigrated_database(previous, database_url, tmp_path):
    if previous:
        migrate(database_url)  # the accounts and job tables, but not the post store
    done = command(["-m", "tiktok", "worker"], tmp_path, DATABASE_URL=database_url)
    assert done.returncode == 2, done.stderr
    assert "run python -m tiktok db migrate" in done.stderr and "Traceback" not in done.stderr
    assert ("post store version 0" if previous else "schema version 0") in done.stderr


def test_a_dry_run_names_the_database_when_an_account_is_not_in_it(db, tmp_path):
    clip = make_video(tmp_path / "clip.mp4")
    (tmp_path / "videos_to_upload.json").write_text(
        f'[{{"user_id": "nobody-here", "video_path": "{clip}", "privacy": "SELF_ONLY"}}]')
    done = command([str(ROOT / "upload_to_tiktok.py"), "--dry-run"], tmp_path, DATABASE_URL=db)
    assert done.returncode == 2
    assert 'field "user_id": no connected account nobody-here in PostgreSQL database' in done.stdout, done.stdout
    assert "postgres@" not in done.stdout  # the database is named, never its URL
