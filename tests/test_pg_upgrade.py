"""Rolling upgrades (issue 22, item 8): a worker works with a database a newer version migrated, when the newer
migrations say it still can; ``db status`` tells current, behind and ahead apart; Procrastinate's own migrations go
in its pre/post order.

- The rule (pure): a database ahead of a tool is usable by it when every migration applied declares a
  ``compatible_from`` at or below the tool's schema; none declared means only tools that know it.
- Procrastinate's files as installed: read, ordered pre before post within a release, and all of them covered by
  a migration (so a version bump cannot forget them); a release's pre files in one migration and its post files in a
  later one, applied in that order on a real database.
- On a throwaway database, with the real commands of this version as the "old" tool: a newer version's compatible
  migrations (its own, the post store's and Procrastinate's pre files) leave ``db status`` at "ahead" (exit 0),
  ``db migrate`` with nothing to do (exit 0), and a worker with the shipped defaults posting; then an incompatible
  one (Procrastinate's post files) makes ``db status`` say "update this tool" (exit 2) and the worker refuse to
  start with that sentence (exit 2), as does the post store; a database an older version left behind says "behind:
  run ... db migrate".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tiktok.db.migrations import (LATEST, MIGRATIONS, PROCRASTINATE_BASE, SCHEMA, STORE, Migration, Track,
                                  declare_store, migrate, procrastinate, procrastinate_files, track, uncovered,
                                  works_from)
from tiktok.emulator.config import default_users
from tiktok.errors import DatabaseError, StoreError
from tiktok.store import schema as store_schema
from tiktok.store.postgres import open_postgres
from tests.support.default_worker import (default_environment, link_all, migrated, start_default_worker, stop,
                                          wait_for)
from tests.support.posting import padded_video
from tests.support.queue_workers import queue_post

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
NEXT = LATEST + 1


# -- the rule --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("declared, have, latest, state", [
    ({}, 2, 2, "current"),
    ({}, 1, 2, "behind"),
    ({}, 3, 2, "too new"),                  # a newer migration that declared nothing: only tools that know it
    ({3: 2}, 3, 2, "ahead"),                # declared to work with tools at 2
    ({3: 2, 4: 2}, 4, 2, "ahead"),
    ({3: 2, 4: 3}, 4, 2, "too new"),        # the second needs tools at 3 or later
    ({3: 2, 4: 3}, 4, 3, "ahead"),
    ({3: 1}, 3, 2, "ahead"),                # an older floor than the tool's own schema still lets it work
    ({3: 9}, 3, 2, "too new"),              # a floor past the migration's own version counts as that version
])
def test_a_database_ahead_is_usable_only_as_far_as_its_migrations_declare(declared, have, latest, state):
    assert Track("schema", have, latest, works_from(declared, have)).state == state


def test_every_procrastinate_migration_file_installed_is_read_and_ordered_pre_before_post():
    files = procrastinate_files()
    from procrastinate.schema import SchemaManager

    installed = sorted(p.name for p in Path(SchemaManager.get_migrations_path()).glob("*.sql"))
    assert sorted(f.path.name for f in files) == installed  # none left out by the name pattern
    assert [f.path.name for f in files] == installed  # their own order: release, then serial number
    for version in {f.version for f in files}:
        phases = [f.phase for f in files if f.version == version]
        assert phases == sorted(phases, key=["pre", "post"].index), version  # pre files before post files
    assert files[-1].version == PROCRASTINATE_BASE  # what migration 2's schema.sql includes
    assert {f.phase for f in files if f.version < "03.00.00"} == {"post"}  # named without pre/post: post


def test_no_installed_procrastinate_migration_is_left_without_a_migration():
    assert uncovered() == []


def fake_procrastinate(folder: Path) -> Path:
    """Procrastinate's migration files of two releases after the installed one, as a later version ships them:
    each file appends its name to ``upgrade_log``, so the order they ran in can be read back."""
    folder.mkdir()
    names = ["03.05.00_01_pre_add_note.sql", "03.05.00_02_pre_add_index.sql", "03.05.00_50_post_drop_old.sql",
             "03.06.00_01_pre_more.sql", "03.06.00_50_post_more.sql"]
    for name in names:
        (folder / name).write_text("CREATE TABLE IF NOT EXISTS upgrade_log (n serial, name text);\n"
                                   f"INSERT INTO upgrade_log (name) VALUES ('{name}');\n")
    first = folder / "03.05.00_01_pre_add_note.sql"  # and what a pre file does: add what older code ignores
    first.write_text(first.read_text() + "ALTER TABLE procrastinate_jobs ADD COLUMN note text;\n")
    return folder


def test_a_release_s_post_files_may_wait_for_the_next_release_but_nothing_else_may(tmp_path):
    folder = fake_procrastinate(tmp_path / "migrations")
    pre = Migration(NEXT, "Procrastinate 3.5 pre", procrastinate("03.05.00", "pre", folder), compatible_from=LATEST)
    assert uncovered([*MIGRATIONS, pre], folder) == ["03.05.00_50_post_drop_old.sql", "03.06.00_01_pre_more.sql"]
    post = Migration(NEXT + 1, "Procrastinate 3.5 post", procrastinate("03.05.00", "post", folder))
    pre6 = Migration(NEXT + 2, "Procrastinate 3.6 pre", procrastinate("03.06.00", "pre", folder))
    assert uncovered([*MIGRATIONS, pre, post, pre6], folder) == []  # 03.06.00's post waits for the next release


# -- on a real database, with this version's commands as the older tool ----------------------------------------------

def tiktok(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT),
                                            "DATABASE_URL": db})


def log_of(db: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM upgrade_log ORDER BY n")]


def newer_store_migration(db: str, *, compatible_from: int | None) -> None:
    """What a newer version's post store migration does: a change (a table this version never reads), its row in
    the store's version table, and its declaration, made by ``db migrate`` as that version would."""
    declare_store(db, [(store_schema.LATEST + 1, compatible_from)])
    with psycopg.connect(db) as conn:
        conn.execute("CREATE TABLE tiktok_store_newer (id bigint)")
        conn.execute("INSERT INTO tiktok_store_version (version, name, applied_at) VALUES (%s, 'newer', 0)",
                     (store_schema.LATEST + 1,))


@pytest.mark.slow  # a worker process on a throwaway PostgreSQL
def test_a_worker_goes_on_through_a_rolling_upgrade_until_a_migration_says_it_cannot(database_url, emulator, remote,
                                                                                      tmp_path):
    db = migrated(database_url)
    folder = fake_procrastinate(tmp_path / "migrations")
    current = tiktok("db", "status", db=db, cwd=tmp_path)
    assert current.returncode == 0 and "(current)" in current.stdout, current.stdout + current.stderr

    # the newer version's db migrate: an additive change of its own, Procrastinate 3.5's pre files, a store change
    newer = [*MIGRATIONS,
             Migration(NEXT, "a table older versions ignore", lambda: "CREATE TABLE tiktok_newer (id bigint)",
                       compatible_from=LATEST),
             Migration(NEXT + 1, "Procrastinate 3.5 pre", procrastinate("03.05.00", "pre", folder),
                       compatible_from=LATEST)]
    assert [m.version for m in migrate(db, newer)] == [NEXT, NEXT + 1]
    newer_store_migration(db, compatible_from=store_schema.LATEST)
    assert log_of(db) == ["03.05.00_01_pre_add_note.sql", "03.05.00_02_pre_add_index.sql"]  # pre only, in order

    ahead = tiktok("db", "status", db=db, cwd=tmp_path)
    assert ahead.returncode == 0, ahead.stdout + ahead.stderr
    assert (f"schema version {NEXT + 1} of {LATEST}, post store version {store_schema.LATEST + 1} of "
            f"{store_schema.LATEST} (ahead: a newer version of this tool migrated it, and this version works with it)"
            in ahead.stdout)
    again = tiktok("db", "migrate", db=db, cwd=tmp_path)  # an older machine's start script runs it too
    assert again.returncode == 0 and "ahead of this version of the tool, which works with it" in again.stdout
    assert track(db, SCHEMA, NEXT + 1, NEXT + 1).state == "current"  # the newer version's own view

    # this version's worker, with the shipped defaults, still posts
    link_all(emulator, db, [ADA])
    store = open_postgres(db)
    try:
        queue_post(store, {"user_id": ADA, "video_path": str(padded_video(tmp_path / "clip.mp4", 300_000)),
                           "privacy": "SELF_ONLY", "description": "during the upgrade"})
    finally:
        store.close()
    log = tmp_path / "worker.log"
    worker = start_default_worker(db, emulator.url, log)
    try:
        wait_for(lambda: any(p["post_info"]["title"] == "during the upgrade" and p["status"] == "PUBLISH_COMPLETE"
                             for p in remote.state()["posts"]), worker, log, until=time.time() + 90,
                 what="the older worker made no post on the newer, compatible schema")
    finally:
        assert stop(worker) == 0, log.read_text()[-3000:]
    assert "ahead of this version of the tool (" in log.read_text()  # it said so, and went on

    # the next version's first migration: Procrastinate 3.5's post files, which older code cannot live with
    later = [*newer, Migration(NEXT + 2, "Procrastinate 3.5 post", procrastinate("03.05.00", "post", folder),
                               compatible_from=NEXT + 1)]
    assert [m.version for m in migrate(db, later)] == [NEXT + 2]
    assert log_of(db)[-1] == "03.05.00_50_post_drop_old.sql"  # after the pre files, never before
    too_new = tiktok("db", "status", db=db, cwd=tmp_path)
    assert too_new.returncode == 2 and "past what this version can work with: update this tool" in too_new.stdout
    refused = subprocess.run([sys.executable, "-m", "tiktok", "worker"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60, env=default_environment(db, emulator.url, tmp_path))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert (f"has schema version {NEXT + 2}, which a newer version of this tool made and this one (at {LATEST}) "
            f"cannot work with (it needs a tool at {NEXT + 1} or later): update this tool") in refused.stderr
    with pytest.raises(DatabaseError, match="update this tool"):
        migrate(db)  # and this version's db migrate does not touch it


@pytest.mark.slow
def test_a_post_store_ahead_without_a_declaration_stops_this_version(database_url, tmp_path):
    db = migrated(database_url)
    newer_store_migration(db, compatible_from=None)
    status = tiktok("db", "status", db=db, cwd=tmp_path)
    assert status.returncode == 2 and "update this tool" in status.stdout
    with pytest.raises(StoreError, match=f"has post store version {store_schema.LATEST + 1}, which a newer version"):
        open_postgres(db)
    assert track(db, STORE, store_schema.LATEST + 1, store_schema.LATEST).state == "too new"


@pytest.mark.slow
def test_a_database_an_older_version_left_is_behind_and_says_to_migrate(database_url, emulator, tmp_path):
    migrate(database_url, MIGRATIONS[:1])  # what a version at schema 1 made
    status = tiktok("db", "status", db=database_url, cwd=tmp_path)
    assert status.returncode == 2, status.stdout + status.stderr
    assert f"schema version 1 of {LATEST}, post store version 0 of {store_schema.LATEST} (behind: run python -m " \
           "tiktok db migrate)" in status.stdout
    refused = subprocess.run([sys.executable, "-m", "tiktok", "worker"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60, env=default_environment(database_url, emulator.url, tmp_path))
    assert refused.returncode == 2 and "this tool needs 2: run python -m tiktok db migrate first" in refused.stderr
    done = tiktok("db", "migrate", db=database_url, cwd=tmp_path)
    assert done.returncode == 0 and "migration 2:" in done.stdout
    assert "(current)" in tiktok("db", "status", db=database_url, cwd=tmp_path).stdout
