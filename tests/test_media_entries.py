"""Posts whose video lives in the media store (``video_media``): the entry field's rules, adopting a composer upload
into the store (a rename on the folder store, an upload kept as the local copy on S3), imports that move a manifest's
local files into the store without changing any post's identity, and the publisher sending a stored video (a missing
object fails that post for good naming its key; a store that cannot be reached is TRY LATER).

Real files, moto's S3 server on 127.0.0.1, the emulator over loopback HTTP; the workers on other machines are
tests/test_media_workers.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

import boto3
import pytest
import requests

from tiktok.config import load_settings
from tiktok.errors import FileProblem
from tiktok.exitcodes import DONE, FAILED, TRY_LATER
from tiktok.media.store import (
    KEY, FolderStore, MediaStoreSettings, MediaStoreUnavailable, adopt_upload, lazy_media_store, open_media_store,
)
from tiktok.posting.importer import AWAITING_FILE, import_manifest
from tiktok.posting.manifest import validate_manifest
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store.records import State, entry_key
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.posting import EmulatedTime, sha256_file
from tests.support.queue_workers import queue_post
from tests.test_upload_cli import ADA, link

BUCKET = "media-entries"
PREFIX = "shared/media"
A_KEY = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the entry field -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, said", [
    ({"video_media": A_KEY + ".mp4"}, None),
    ({"video_media": A_KEY}, None),  # stored without an extension: still a key
    ({"video_media": A_KEY + ".mp4", "draft": True}, None),
    ({"video_media": A_KEY.upper() + ".mp4"}, 'field "video_media": must be a media store key'),
    ({"video_media": A_KEY[:63] + ".mp4"}, "64 lower-case hex digits"),
    ({"video_media": "clip.mp4"}, 'a local file goes in "video_path"'),
    ({"video_media": "../" + A_KEY + ".mp4"}, "must be a media store key"),
    ({"video_media": A_KEY + ".mp4/x"}, "must be a media store key"),
    ({"video_media": 7}, "expected a string, got int"),
    ({"video_media": A_KEY + ".mp4", "video_path": "/v/clip.mp4"},
     'needs exactly one media source: "video_path", "video_media", "video_url", "photo_urls" or "photo_media"; got '
     '"video_path" and "video_media"'),
    ({"video_media": A_KEY + ".mp4", "photo_urls": ["https://example.com/a.jpg"]}, "needs exactly one media source"),
    ({"video_media": A_KEY + ".mp4", "title": "t"}, 'field "title": only applies to photo posts'),
], ids=["key", "key without extension", "draft", "upper case", "63 digits", "a file name", "a path", "more after",
        "a number", "with video_path", "with photos", "a photo title"])
def test_video_media_names_one_stored_video_by_its_key(entry, said):
    result = validate_manifest([{"user_id": "u", **entry}], source="m.json")
    if said is None:
        [request] = result.entries
        assert (request.video_media, request.source, request.media_type) == (entry["video_media"], "FILE_UPLOAD",
                                                                              "VIDEO")
        assert request.video_field == "video_media" and request.video_path is None
        again = validate_manifest([request.to_entry()], source="m.json")
        assert again.entries == [request]  # what the store keeps reads back as the same request
    else:
        assert not result.entries and said in " ".join(p.message for p in result.problems), result.problems


# -- adopting a composer upload --------------------------------------------------------------------------------------

def received(folder: Path, data: bytes) -> Path:
    """A kept upload as the composer leaves it in MEDIA_DIR."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.urandom(16).hex()}-holiday clip.mp4"
    path.write_bytes(data)
    return path


def test_adopting_an_upload_in_the_folder_store_renames_it_in_place_under_a_random_key(tmp_path):
    media = FolderStore(tmp_path / "media")
    data = os.urandom(300_000)
    upload = received(tmp_path / "media", data)
    inode = upload.stat().st_ino
    key = adopt_upload(media, upload, name="holiday clip.mp4")
    assert KEY.fullmatch(key) and key.endswith(".mp4") and key[:64] != sha(data)  # not hashed: a random key
    assert not upload.exists()  # moved, not copied: the same inode is the object
    assert (tmp_path / "media" / key).stat().st_ino == inode and media.local_path(key).read_bytes() == data
    assert media.stat(key).name == "holiday clip.mp4" and [m.key for m in media.list()] == [key]
    second = adopt_upload(media, received(tmp_path / "media", data), name="holiday clip.mp4")
    assert second != key  # a random key never names two uploads
    hashed = adopt_upload(media, received(tmp_path / "media", data), name="x.MP4", digest=sha(data))
    assert hashed == sha(data) + ".mp4"  # the digest the receiver computed on the way in: a content key
    again = received(tmp_path / "media", data)
    assert adopt_upload(media, again, name="y.mp4", digest=sha(data)) == hashed and not again.exists()
    assert media.stat(hashed).name == "x.MP4"  # the same bytes are one object, with their first name
    assert sorted(m.key for m in media.list()) == sorted({key, second, hashed})
    assert media.sweep(older_than_s=0, now=time.time() + 1) == 0  # nothing left behind


def test_an_upload_that_is_gone_or_on_another_file_system_is_said_or_copied_once(tmp_path):
    media = FolderStore(tmp_path / "media")
    with pytest.raises(FileProblem, match="gone.mp4.*cannot be read"):
        adopt_upload(media, tmp_path / "media" / "gone.mp4", name="gone.mp4")
    assert media.list() == []
    data = os.urandom(50_000)
    elsewhere = Path("/dev/shm") / f"upload-{os.getpid()}-{os.urandom(4).hex()}.mp4"  # tmpfs: another file system
    assert os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev
    elsewhere.write_bytes(data)
    try:
        key = adopt_upload(media, elsewhere, name="clip.mp4")
    finally:
        leftover = elsewhere.exists()
        elsewhere.unlink(missing_ok=True)
    assert not leftover and key == sha(data) + ".mp4"  # copied once (and hashed on the way), the original gone
    assert media.local_path(key).read_bytes() == data


@pytest.mark.slow
def test_adopting_a_1_gb_upload_costs_a_rename_not_a_copy(tmp_path):
    media = FolderStore(tmp_path / "media")
    upload = tmp_path / "media" / "big.mp4"
    upload.parent.mkdir()
    with upload.open("wb") as out:
        out.write(b"\0\0\0\x18ftypmp42")
        out.truncate(1 << 30)  # sparse: the machine is shared
    started = time.perf_counter()
    key = adopt_upload(media, upload, name="big.mp4")
    took = time.perf_counter() - started
    stored = tmp_path / "media" / key
    assert stored.stat().st_size == 1 << 30 and stored.stat().st_blocks * 512 < 1 << 20  # still sparse: no copy
    assert took < 0.5, f"adopting 1 GB took {took:.3f} s"
    stored.unlink()


@pytest.fixture
def bucket(s3_server, aws_env):
    requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=BUCKET)
    return client


def s3_media(s3_server: str, media_dir: Path):
    return open_media_store(MediaStoreSettings.from_settings(load_settings(
        {"MEDIA_STORE": f"s3://{BUCKET}/{PREFIX}", "AWS_ENDPOINT_URL_S3": s3_server, "MEDIA_DIR": str(media_dir)})))


def test_adopting_an_upload_into_s3_uploads_it_and_keeps_it_as_the_local_copy(bucket, s3_server, tmp_path):
    app = s3_media(s3_server, tmp_path / "app")
    data = os.urandom(2_000_000)
    upload = received(tmp_path / "app", data)
    inode = upload.stat().st_ino
    key = adopt_upload(app, upload, name="holiday clip.mp4")
    head = bucket.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")
    assert head["ContentLength"] == len(data) and head["Metadata"] == {"name": "holiday%20clip.mp4",
                                                                      "keyed": "random"}
    assert not upload.exists() and app.local_path(key).stat().st_ino == inode  # the upload is the local copy
    worker = s3_media(s3_server, tmp_path / "worker")  # another machine: downloads it, never doubts a random key
    assert worker.local_path(key).read_bytes() == data
    hashed = adopt_upload(app, received(tmp_path / "app", data), name="clip.mp4", digest=sha(data))
    assert bucket.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{hashed}")["Metadata"] == {"name": "clip.mp4"}
    bucket.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{hashed}", Body=b"changed behind its back",
                      Metadata={"name": "clip.mp4"})
    with pytest.raises(Exception, match="do not match their key"):  # a content key is still checked
        s3_media(s3_server, tmp_path / "third").local_path(hashed)


# -- imports into the media store ------------------------------------------------------------------------------------

class Folder:
    """A manifest's folder with its clips, a post store, and a media store of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(exist_ok=True)
        self.manifest = root / "videos_to_upload.json"
        self.store = open_sqlite(root / "tiktok.db")
        self.media = FolderStore(root / "shared-media")
        self.opened = 0

    def opener(self):
        def media():
            self.opened += 1
            return self.media
        return media

    def write(self, entries: list[dict]) -> bytes:
        self.manifest.write_text(json.dumps(entries))
        return self.manifest.read_bytes()

    def import_(self, *, into_media: bool = True, again: bool = False):
        return import_manifest(self.store, self.manifest, allow_loopback=True, tokens_key=None,
                               media=self.opener() if into_media else None, again=again)


@pytest.fixture
def folder(tmp_path):
    made = Folder(tmp_path / "project")
    yield made
    made.store.close()


def clip_entry(name: str, description: str, **fields) -> dict:
    return {"user_id": ADA, "video_path": name, "privacy": "SELF_ONLY", "description": description, **fields}


def test_an_import_moves_local_files_into_the_store_and_keeps_each_post_known_by_its_entry(folder):
    one, two = os.urandom(40_000), os.urandom(50_000)
    (folder.root / "one.mp4").write_bytes(one)
    (folder.root / "two.mp4").write_bytes(two)
    entries = [clip_entry("one.mp4", "first"), clip_entry("two.mp4", "second"), clip_entry("one.mp4", "again")]
    written = folder.write(entries)
    first = folder.import_()
    assert len(first.result.added) == 3 and not first.problems and first.media_put == 2  # one.mp4 read once
    by_text = {p.entry["description"]: p for p in folder.store.every_post()}
    assert by_text["first"].entry["video_media"] == by_text["again"].entry["video_media"] == sha(one) + ".mp4"
    assert by_text["second"].entry["video_media"] == sha(two) + ".mp4"
    assert all("video_path" not in p.entry for p in by_text.values())
    # each post's key is the entry's as written: what an import without the media store gives it too
    assert by_text["first"].key == entry_key({**entries[0], "video_path": "one.mp4"})
    assert folder.manifest.read_bytes() == written  # the file itself is never rewritten
    assert folder.media.local_path(sha(two) + ".mp4").read_bytes() == two

    assert folder.import_().result.unchanged and folder.opened == 1  # unchanged: not even the store is opened
    (folder.root / "one.mp4").unlink()  # the files may go once they are in the store
    (folder.root / "two.mp4").unlink()
    later = "2031-01-01T09:00:00+00:00"
    folder.write([clip_entry("one.mp4", "first", post_at=later), *entries[1:]])  # a post_at edited in the file
    edited = folder.import_()
    assert not edited.problems and edited.media_put == 0 and edited.result.added == []  # nothing read again
    assert [p.id for p in edited.result.rescheduled] == [by_text["first"].id]
    moved = folder.store.get(by_text["first"].id)
    assert moved.entry["post_at"] == later and moved.entry["video_media"] == sha(one) + ".mp4"
    assert folder.store.count() == 3


def test_a_file_that_cannot_be_read_is_not_imported_and_the_next_import_looks_again(folder):
    folder.write([clip_entry("late.mp4", "late"), clip_entry("here.mp4", "here")])
    (folder.root / "here.mp4").write_bytes(b"here")
    first = folder.import_()
    [problem] = first.problems
    assert 'entry 1 (user_id' in problem and 'field "video_path"' in problem and "late.mp4" in problem
    assert "cannot be read (No such file or directory); not imported: " + AWAITING_FILE in problem
    assert [p.entry["description"] for p in folder.store.every_post()] == ["here"]
    still = folder.import_()  # the manifest is unchanged, but it waits for a file: looked at again, said again
    assert still.problems == first.problems and still.media_put == 0 and folder.opened == 2
    (folder.root / "late.mp4").write_bytes(b"late")
    arrived = folder.import_()
    assert arrived.problems == [] and [p.entry["description"] for p in arrived.result.added] == ["late"]
    assert arrived.result.added[0].entry["video_media"] == sha(b"late") + ".mp4"
    assert folder.import_().result.unchanged  # nothing waits any more


def test_posts_imported_before_with_local_paths_are_moved_in_and_posted_ones_left_alone(folder):
    (folder.root / "a.mp4").write_bytes(b"a")
    (folder.root / "b.mp4").write_bytes(b"b")
    folder.write([clip_entry("a.mp4", "queued"), clip_entry("b.mp4", "posted")])
    local = folder.import_(into_media=False)  # the default folder store: imports keep the paths
    assert [p.entry.get("video_path") is not None for p in local.result.added] == [True, True]
    queued, posted = local.result.added
    started = folder.store.start(posted.id, posted.revision, _posted(posted))
    assert started is not None and folder.store.get(posted.id).state == State.POSTED
    moved = folder.import_(again=True)  # db import: read in full although the file is unchanged
    assert moved.media_moved == 1 and moved.media_put == 1 and not moved.problems
    after = folder.store.get(queued.id)
    assert after.entry["video_media"] == sha(b"a") + ".mp4" and "video_path" not in after.entry
    assert after.revision == queued.revision + 1 and after.key == queued.key  # the same post, edited
    assert folder.store.get(posted.id).entry.get("video_path")  # history stays as it was
    assert folder.import_(again=True).media_moved == 0 and folder.store.count() == 2


def test_a_media_store_that_cannot_be_reached_stops_the_import_before_anything_is_written(folder, aws_env):
    (folder.root / "a.mp4").write_bytes(b"a")
    folder.write([clip_entry("a.mp4", "waits for the bucket")])
    down = s3_media(f"http://127.0.0.1:{closed_port()}", folder.root / "media")
    with pytest.raises(MediaStoreUnavailable, match=f"MEDIA_STORE s3://{BUCKET}/{PREFIX}: .*try again later"):
        import_manifest(folder.store, folder.manifest, allow_loopback=True, tokens_key=None, media=lambda: down)
    assert folder.store.count() == 0 and folder.store.last_import(str(folder.manifest.resolve())) is None
    back = folder.import_()  # the next import, with a store that answers, imports it (nothing was half done)
    assert [p.entry["video_media"] for p in back.result.added] == [sha(b"a") + ".mp4"]


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _posted(post):
    from tiktok.store.records import PostRecord
    return PostRecord(key=post.key, user_id=post.user_id, state=State.POSTED, publish_id="p1", outcome=DONE)


# -- the publisher sends a stored video --------------------------------------------------------------------------

class Machine:
    """The app's folder as a user has it (accounts linked, the shipped settings), a post store, emulated time."""

    def __init__(self, root: Path, emulator, remote, **env: str) -> None:
        self.root, self.remote = root, remote
        link(root, emulator)
        self.settings = load_settings({"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                                       "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
                                       "TIKTOK_API_BASE": emulator.url,
                                       "TOKENS_FILE": str(root / "user_tokens.json"), **env})
        self.store = open_sqlite(root / "tiktok.db")
        self.time = EmulatedTime(remote)
        self.lines: list[str] = []

    def run(self):
        return run_queue(self.store, self.settings, RunOptions(poll_interval_s=0.01), clock=time.time,
                         hooks=Hooks(say=self.lines.append, runtime=lambda: self.time.runtime(max_attempts=2)))


@pytest.fixture
def machine(tmp_path, emulator, remote, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MEDIA_DIR's default, media/, is here
    made = Machine(tmp_path, emulator, remote)
    yield made
    made.store.close()


def test_a_composed_post_in_the_default_folder_store_is_posted_from_it(machine, remote):
    media = lazy_media_store(MediaStoreSettings.from_settings(machine.settings))()  # as the composer will open it
    assert media.where == f"MEDIA_DIR {Path('media')}"  # the shipped default: a folder, media/
    Path("media").mkdir()
    upload = make_video(Path("media") / f"{os.urandom(16).hex()}-clip.mp4")  # the kept upload
    digest = sha256_file(upload)
    key = adopt_upload(media, upload, name="clip.mp4")
    post = queue_post(machine.store, {"user_id": ADA, "video_media": key, "privacy": "SELF_ONLY",
                                      "description": "from the store"})
    [outcome] = machine.run().outcomes
    assert (outcome.status, outcome.post_id, outcome.media) == (DONE, post.id, key), outcome
    [made] = remote.state()["posts"]
    assert made["sha256"] == digest and made["post_info"]["title"] == "from the store"
    assert any(f"video {key}" in line for line in machine.lines)


def test_a_missing_object_fails_its_post_for_good_naming_the_key(machine, remote):
    gone = A_KEY + ".mp4"
    post = queue_post(machine.store, {"user_id": ADA, "video_media": gone, "privacy": "SELF_ONLY"})
    [outcome] = machine.run().outcomes
    assert outcome.status == FAILED and f'field "video_media": {gone}' in outcome.detail
    assert f"no media with key '{gone}'" in outcome.detail and "MEDIA_DIR media" in outcome.detail
    record = machine.store.get(post.id).record
    assert record.state == State.FAILED and record.needs_person and gone in record.error
    assert machine.run().outcomes == []  # not tried again by itself: a person puts the video in, presses Retry
    assert remote.state()["posts"] == []  # no init was ever sent


def test_a_store_that_cannot_be_reached_is_try_later(tmp_path, emulator, remote, aws_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = closed_port()
    down = Machine(tmp_path, emulator, remote, MEDIA_STORE=f"s3://{BUCKET}/{PREFIX}",
                   AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}")
    try:
        post = queue_post(down.store, {"user_id": ADA, "video_media": A_KEY + ".mp4", "privacy": "SELF_ONLY"})
        [outcome] = down.run().outcomes
        record = down.store.get(post.id).record
    finally:
        down.store.close()
    assert outcome.status == TRY_LATER and f"MEDIA_STORE s3://{BUCKET}/{PREFIX}" in outcome.detail
    assert "try again later" in outcome.detail and f"127.0.0.1:{port}" in outcome.detail
    assert aws_env["AWS_SECRET_ACCESS_KEY"] not in outcome.detail
    assert record.state == State.FAILED and not record.needs_person  # a later run tries again by itself
    assert remote.state()["posts"] == []
