"""A manifest is an input (tiktok.posting.importer): each import brings its entries into the post store once, and
what happens to the file afterwards never posts anything twice nor loses a post.

Real files in a project folder (manifest, video, token file, store), real runs against the emulator where posting
is involved: in process with injected clocks, or ``upload_to_tiktok.py`` as a subprocess where the folder itself
moves. SQLite unless the behaviour is about both stores.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tiktok.config import load_settings
from tiktok.emulator.config import default_users
from tiktok.exitcodes import DONE, TRY_LATER
from tiktok.posting.importer import ManifestImport, import_manifest
from tiktok.posting.runner import Hooks, RunOptions, RunReport, run_queue
from tiktok.store.base import Post, open_store
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.posting import EmulatedTime
from tests.support.stores import make_store
from tests.test_upload_cli import link, run

ADA, BO, _ = (u.open_id for u in default_users())
DAY_S = 86_400
# Without video.list no run can look for a caption on the account: a post made twice would go through, so these
# scopes prove the store's own keys keep it from happening. The caption check has its own test below.
SCOPES = ("user.info.basic", "video.publish", "video.upload")
WITH_VIDEO_LIST = (*SCOPES, "video.list")


def at(epoch: float) -> str:
    """``epoch`` as ISO 8601 at UTC+1 (the offset is part of the value)."""
    return datetime.fromtimestamp(epoch, timezone(timedelta(hours=1))).isoformat()


def video(description: str, user: str = ADA, **fields) -> dict:
    return {"user_id": user, "video_path": "clip.mp4", "privacy": "SELF_ONLY", "description": description, **fields}


class Project:
    """A project folder as a person has it: accounts linked in its token file, a clip, its manifest and its store
    (``tiktok.db`` beside the token file, the default), opened only when a test asks for it."""

    def __init__(self, folder: Path, emulator, remote, *, scopes=SCOPES, setup: bool = True) -> None:
        self.folder, self.emulator, self.remote = folder, emulator, remote
        if setup:
            folder.mkdir()
            link(folder, emulator, users=(ADA, BO), scopes=scopes)
            make_video(folder / "clip.mp4")
        self.lines: list[str] = []
        self.time = EmulatedTime(remote)
        self._store = None

    @property
    def manifest(self) -> Path:
        return self.folder / "videos_to_upload.json"

    @property
    def store(self):
        if self._store is None:
            self._store = open_sqlite(self.folder / "tiktok.db")
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def moved_to(self, target: Path) -> "Project":
        """The whole folder moved elsewhere (manifest, video, token file and store together)."""
        self.close()
        return Project(Path(shutil.move(str(self.folder), str(target))), self.emulator, self.remote, setup=False)

    def write(self, entries: list[dict]) -> None:
        self.manifest.write_text(json.dumps(entries))

    def import_(self) -> ManifestImport:
        return import_manifest(self.store, self.manifest, allow_loopback=True, tokens_key=None)

    def run(self, now: float, *, runtime=None, **options) -> RunReport:
        settings = load_settings({"TIKTOK_CLIENT_KEY": self.emulator.config.client_key,
                                  "TIKTOK_CLIENT_SECRET": self.emulator.config.client_secret,
                                  "TIKTOK_API_BASE": self.emulator.url,
                                  "TOKENS_FILE": str(self.folder / "user_tokens.json")})
        hooks = Hooks(say=self.lines.append, runtime=runtime or self.time.runtime)  # waits move the emulator clock
        return run_queue(self.store, settings, RunOptions(**options), manifest=self.manifest, clock=lambda: now,
                         hooks=hooks)

    def posts(self) -> list[Post]:
        return list(self.store.every_post())


@pytest.fixture
def project(tmp_path, emulator, remote):
    made = Project(tmp_path / "project", emulator, remote)
    yield made
    made.close()


def ids(posts: list[Post]) -> list[int]:
    return [post.id for post in posts]


# -- the same file, or the same entries, twice -------------------------------------------------------------------

@pytest.mark.slow
def test_importing_twice_adds_nothing(project):
    project.write([video("one"), video("two", user=BO)])
    first = project.import_()
    assert len(first.result.added) == 2 and not first.problems
    again = project.import_()
    assert again.result.unchanged and again.result.added == []
    # the same entries written another way: reordered, indented, keys in another order, "./clip.mp4"
    project.manifest.write_text(json.dumps([video("two", user=BO), {**video("one"), "video_path": "./clip.mp4"}],
                                           indent=2, sort_keys=True))
    rewritten = project.import_()
    assert not rewritten.result.unchanged and rewritten.result.added == [] and rewritten.result.kept == 2
    assert project.store.count() == 2
    assert {p.entry["description"]: p.source_index for p in project.posts()} == {"two": 0, "one": 1}


# -- entries leaving the file ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_an_entry_removed_before_it_started_is_withdrawn_and_the_run_says_so(project, remote):
    now = remote.clock()["now"]
    stays, goes = video("stays", post_at=at(now + DAY_S)), video("goes", post_at=at(now + DAY_S))
    project.write([stays, goes])
    assert project.run(now).scheduled == 2
    kept, gone = project.posts()
    project.write([stays])
    report = project.run(now)
    assert ids(report.imported.result.withdrawn) == [gone.id]
    where = project.manifest.resolve()
    assert f"[emulator] post {gone.id} withdrawn: it is no longer in {where} and had not started" in project.lines
    assert report.scheduled == 1 and project.store.get(kept.id).state == "queued"
    withdrawn = project.store.get(gone.id)
    assert (withdrawn.state, withdrawn.board, withdrawn.open) == ("withdrawn", "hidden", False)
    project.write([stays, goes])  # back in the file: queued again, the same post
    back = project.run(now)
    assert ids(back.imported.result.revived) == [gone.id]
    assert f"[emulator] {where}: queued again (back in the file): posts {gone.id}" in project.lines
    assert project.store.get(gone.id).state == "queued" and project.store.count() == 2
    assert remote.state()["posts"] == []


@pytest.mark.slow
def test_a_started_or_finished_post_stays_whatever_happens_to_the_file(project, remote):
    now = remote.clock()["now"]
    project.write([video("finished")])
    assert [o.status for o in project.run(now).outcomes] == [DONE]
    remote.inject_fault("/upload/video/", status=503, times=20)
    project.write([video("finished"), video("in flight")])
    interrupted = project.run(now, runtime=lambda: project.time.runtime(max_attempts=2))
    assert [o.status for o in interrupted.outcomes] == [TRY_LATER]
    finished, flying = project.posts()
    assert (finished.state, flying.state) == ("posted", "uploading")
    remote.clear_faults()
    project.write([])  # both taken out of the file: the finished one stays history, the other is resumed
    emptied = project.run(now + 60)
    assert emptied.imported.result.withdrawn == []
    assert [(o.post_id, o.status) for o in emptied.outcomes] == [(flying.id, DONE)]
    assert any(f"post {flying.id}: resuming" in line for line in project.lines)
    project.write([video("something else", post_at=at(now + DAY_S))])  # replaced: still nothing goes
    replaced = project.run(now + 120)
    assert replaced.imported.result.withdrawn == [] and len(replaced.imported.result.added) == 1
    assert [project.store.get(p).state for p in (finished.id, flying.id)] == ["posted", "posted"]
    assert [p["post_info"]["title"] for p in remote.state()["posts"]] == ["finished", "in flight"]


@pytest.mark.slow
def test_replacing_or_emptying_the_manifest_never_touches_app_posts_nor_history(project, remote):
    now = remote.clock()["now"]
    project.write([video("from the file")])
    assert [o.status for o in project.run(now).outcomes] == [DONE]
    (history,) = project.posts()
    composed = {"user_id": ADA, "video_path": str((project.folder / "clip.mp4").resolve()), "privacy": "SELF_ONLY",
                "description": "composed in the app", "post_at": at(now + DAY_S)}
    app_post = project.store.add(composed, key=entry_key(composed), due_at=now + DAY_S)
    project.write([video("a new list"), composed])  # replaced; it even lists the app's post, word for word
    replaced = project.import_()
    assert len(replaced.result.added) == 1  # only "a new list": the app's post is the same post, not a new one
    assert replaced.result.withdrawn == []  # the posted one left the file: it is history, not withdrawn
    newcomer = replaced.result.added[0]
    project.write([])
    emptied = project.import_()
    assert ids(emptied.result.withdrawn) == [newcomer.id]  # the only post the file alone had queued
    after = project.store.get(app_post.id)
    assert (after.state, after.origin, after.open, after.entry) == ("queued", "app", True, composed)
    assert project.store.get(history.id).state == "posted" and project.store.get(history.id).record is not None
    assert project.store.count() == 3


# -- times ------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_post_at_changed_in_the_file_reschedules_and_a_time_set_in_the_app_is_kept(project, remote):
    now = remote.clock()["now"]
    project.write([video("moving", post_at=at(now + DAY_S))])
    (post,) = project.import_().result.added
    project.write([video("moving", post_at=at(now + 2 * DAY_S))])
    moved = project.import_()
    assert ids(moved.result.rescheduled) == [post.id]
    post = project.store.get(post.id)
    assert post.due_at == pytest.approx(now + 2 * DAY_S, abs=1) and post.post_at == at(now + 2 * DAY_S)
    # a person picks another time on the Posts page; the file still says the same, so that time stays
    post = project.store.edit(post.id, {**post.entry, "post_at": at(now + 3 * DAY_S)}, due_at=now + 3 * DAY_S,
                              revision=post.revision)
    project.write([video("moving", post_at=at(now + 2 * DAY_S)), video("another", post_at=at(now + DAY_S))])
    other = project.import_()
    assert other.result.rescheduled == [] and len(other.result.added) == 1
    assert project.store.get(post.id).due_at == pytest.approx(now + 3 * DAY_S, abs=1)
    report = project.run(now + DAY_S + 1)  # "another" is due; "moving" waits for the time set in the app
    assert [o.status for o in report.outcomes] == [DONE] and report.scheduled == 1
    project.write([video("moving", post_at=at(now + 4 * DAY_S)), video("another", post_at=at(now + DAY_S))])
    project.run(now + DAY_S + 60)  # the file says another time now: that one wins, and the run says so
    assert f"[emulator] {project.manifest.resolve()}: new post_at for posts {post.id}" in project.lines
    assert project.store.get(post.id).due_at == pytest.approx(now + 4 * DAY_S, abs=1)
    assert len(remote.state()["posts"]) == 1


# -- the same project reached another way ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("way", ["moved", "sub-dot-dot", "symlinked"])
def test_the_same_project_reached_another_way_posts_nothing_again(tmp_path, emulator, remote, way):
    project = Project(tmp_path / "project", emulator, remote)
    project.write([video("only once")])
    first = run(project.folder, emulator, "--poll-interval", "0.01")
    assert first.returncode == 0 and "DONE: posted" in first.stdout, first.stdout + first.stderr
    folder, args = project.folder, []
    if way == "moved":
        folder = project.moved_to(tmp_path / "moved").folder
        assert not project.folder.exists()
    elif way == "sub-dot-dot":
        (folder / "sub").mkdir()
        args = ["sub/../videos_to_upload.json"]
    else:
        folder = tmp_path / "link"
        folder.symlink_to(project.folder, target_is_directory=True)
        args = [str(folder / "videos_to_upload.json")]
    again = run(folder, emulator, *args, "--poll-interval", "0.01")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "new post(s) queued" not in again.stdout and "summary: nothing to do" in again.stdout
    assert len(remote.state()["posts"]) == 1
    store = open_sqlite(folder / "tiktok.db", migrate=False)
    try:
        assert [p.state for p in store.every_post()] == ["posted"]
    finally:
        store.close()


@pytest.mark.slow
def test_a_post_still_queued_when_its_folder_moved_posts_from_the_new_place(tmp_path, emulator, remote):
    project = Project(tmp_path / "project", emulator, remote)
    now = remote.clock()["now"]
    project.write([video("tomorrow", post_at=at(now + DAY_S))])
    assert project.run(now).scheduled == 1
    moved = project.moved_to(tmp_path / "moved")
    try:
        report = moved.run(now + DAY_S + 1)
        assert [o.status for o in report.outcomes] == [DONE], report.outcomes
        (post,) = moved.posts()
        assert post.entry["video_path"] == str((moved.folder / "clip.mp4").resolve())
        assert len(remote.state()["posts"]) == 1
    finally:
        moved.close()


# -- a store that lost its history -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_deleted_store_stops_a_post_the_account_already_has_until_force(tmp_path, emulator, remote):
    project = Project(tmp_path / "project", emulator, remote, scopes=WITH_VIDEO_LIST)
    remote.set_moderation(delay_s=0)  # the public id comes at once: the video is listed on the account
    project.write([video("a caption seen once", privacy="PUBLIC_TO_EVERYONE", tags=["once"])])
    first = run(project.folder, emulator, "--poll-interval", "0.01")
    assert first.returncode == 0 and "posted; public post id" in first.stdout, first.stdout + first.stderr
    for path in project.folder.glob("tiktok.db*"):  # the store, its WAL and its claims folder: all gone
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    stopped = run(project.folder, emulator, "--poll-interval", "0.01")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    (line,) = [line for line in stopped.stdout.splitlines() if "FAILED:" in line]
    assert "already has a public video with this exact caption" in line and "--force" in line
    assert len(remote.state()["posts"]) == 1
    forced = run(project.folder, emulator, "--force", "--poll-interval", "0.01")
    assert forced.returncode == 0 and "DONE: posted" in forced.stdout, forced.stdout + forced.stderr
    assert len(remote.state()["posts"]) == 2  # posted again because a person said so


# -- two processes at once -----------------------------------------------------------------------------------------

def import_in_child(env: dict[str, str], manifest: str, barrier, results) -> None:
    """One process's import, started with the other's (a barrier): the ids it added, or its error."""
    try:
        store = open_store(load_settings(env))
        try:
            barrier.wait(timeout=30)
            done = import_manifest(store, manifest, allow_loopback=True, tokens_key=None)
            results.put(ids(done.result.added))
        finally:
            store.close()
    except Exception as exc:  # reported to the test, which fails with it
        barrier.abort()  # the other process stops waiting at once
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_two_processes_importing_the_same_manifest_at_once_add_each_post_once(tmp_path, request, store_kind):
    made = make_store(store_kind, tmp_path, request)
    manifest = tmp_path / "videos_to_upload.json"
    manifest.write_text(json.dumps([video(f"post {n}", user=(ADA, BO)[n % 2]) for n in range(40)]))
    context = multiprocessing.get_context("spawn")  # fresh processes: nothing of this one's connections
    barrier, results = context.Barrier(2), context.Queue()
    env = {"TOKENS_FILE": str(tmp_path / "user_tokens.json"), **made.env}
    children = [context.Process(target=import_in_child, args=(env, str(manifest), barrier, results))
                for _ in range(2)]
    for child in children:
        child.start()
    added = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert all(isinstance(one, list) for one in added), added
    assert sorted(map(len, added)) == [0, 40]  # one import took them all; the other found them there
    stored = list(made.store.every_post())
    assert sorted(added[0] + added[1]) == ids(stored)
    assert len({p.key for p in stored}) == 40 and [child.exitcode for child in children] == [0, 0]
    made.store.close()
