"""ManifestQueue: one entry added, changed or removed under the manifest's lock, validated, written atomically;
refusals leave the file byte for byte as it was; four real processes adding at once lose nothing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tiktok.posting.manifest import load_manifest
from tiktok.posting.queue import NEW_FILE_MODE, ManifestQueue, QueueError
from tiktok.posting.results import entry_key
from tests.support.queue_workers import entry as worker_entry

ROOT = Path(__file__).resolve().parents[1]
USER = "open-id-1"
WAIT_S = 60  # only ever reached when something is broken


def video(name: str = "a.mp4", **fields) -> dict:
    return {"user_id": USER, "video_path": name, **fields}


@pytest.fixture
def manifest(tmp_path) -> Path:
    return tmp_path / "videos_to_upload.json"


def keys_on_disk(path: Path) -> list[str]:
    """The keys a posting run (and the Posts page) sees in the file."""
    return [entry_key(e) for e in load_manifest(path).entries]


def test_add_creates_the_file_and_returns_the_key_runs_use(manifest):
    queue = ManifestQueue(manifest)
    first = queue.add(video("a.mp4", description="one"))
    second = queue.add(video("b.mp4", post_at="2026-12-03T09:00:00+01:00"))
    assert keys_on_disk(manifest) == [first, second]
    assert json.loads(manifest.read_text()) == [{"user_id": USER, "video_path": "a.mp4", "description": "one"},
                                                {"user_id": USER, "video_path": "b.mp4",
                                                 "post_at": "2026-12-03T09:00:00+01:00"}]
    assert stat.S_IMODE(manifest.stat().st_mode) == NEW_FILE_MODE
    assert not list(manifest.parent.glob("*.tmp*"))


def test_update_sets_and_removes_fields_and_returns_the_new_key(manifest):
    queue = ManifestQueue(manifest)
    key = queue.add(video(description="draft caption", post_at="2026-12-03T09:00:00+01:00"))
    other = queue.add(video("b.mp4"))
    moved = queue.update(key, {"post_at": "2026-12-04T10:30:00+01:00"})
    assert moved == key  # post_at is not part of what is posted: a new time keeps the record
    edited = queue.update(key, {"description": "final caption", "tags": ["bread"], "post_at": None})
    assert edited != key and keys_on_disk(manifest) == [edited, other]
    assert json.loads(manifest.read_text())[0] == {"user_id": USER, "video_path": "a.mp4",
                                                   "description": "final caption", "tags": ["bread"]}


def test_remove_takes_out_only_that_entry(manifest):
    queue = ManifestQueue(manifest)
    keys = [queue.add(video(f"{n}.mp4")) for n in range(3)]
    queue.remove(keys[1])
    assert keys_on_disk(manifest) == [keys[0], keys[2]]


def test_an_identical_entry_is_refused_even_at_another_time(manifest):
    queue = ManifestQueue(manifest)
    queue.add(video(description="once", post_at="2026-12-03T09:00:00+01:00"))
    before = manifest.read_bytes()
    with pytest.raises(QueueError) as refused:
        queue.add(video(description="once", post_at="2026-12-05T09:00:00+01:00"))
    message = str(refused.value)
    assert message.startswith(str(manifest)) and "entry 1 already makes this post" in message
    assert "nothing was changed" in message and manifest.read_bytes() == before


def test_an_edit_that_makes_an_entry_the_twin_of_another_is_refused(manifest):
    queue = ManifestQueue(manifest)
    queue.add(video(description="same"))
    key = queue.add(video(description="different"))
    before = manifest.read_bytes()
    with pytest.raises(QueueError, match="entry 1 already makes this post"):
        queue.update(key, {"description": "same"})
    assert manifest.read_bytes() == before


@pytest.mark.parametrize("change, words", [
    pytest.param(lambda q, key: q.add(video(privacy="PUBLIC")), 'entry 2 (user_id \'open-id-1\'): field "privacy"',
                 id="add-bad-privacy"),
    pytest.param(lambda q, key: q.add(video(video_url="https://media.example.com/v.mp4")), "exactly one media source",
                 id="add-two-sources"),
    pytest.param(lambda q, key: q.add(["not", "an", "object"]), "must be a JSON object", id="add-not-an-object"),
    pytest.param(lambda q, key: q.update(key, {"post_at": "tomorrow at nine"}), 'field "post_at"',
                 id="update-bad-time"),
    pytest.param(lambda q, key: q.update(key, {"post_at": "2026-12-03T09:00:00"}), "needs a UTC offset",
                 id="update-time-without-offset"),
    pytest.param(lambda q, key: q.update(key, {"descripton": "typo"}), 'did you mean "description"',
                 id="update-unknown-field"),
    pytest.param(lambda q, key: q.update(key, {"user_id": None}), 'field "user_id"', id="update-remove-user"),
    pytest.param(lambda q, key: q.update("0" * 20, {"description": "x"}), "has no such entry any more",
                 id="update-gone"),
    pytest.param(lambda q, key: q.remove("0" * 20), "has no such entry any more", id="remove-gone"),
])
def test_a_refused_change_leaves_the_file_byte_for_byte(manifest, change, words):
    manifest.write_text('[\n  {"user_id": "open-id-1", "video_path": "a.mp4", "description": "kept"}\n]\n')
    os.chmod(manifest, 0o640)
    before = manifest.read_bytes()
    queue = ManifestQueue(manifest)
    with pytest.raises(QueueError) as refused:
        change(queue, keys_on_disk(manifest)[0])
    assert words in str(refused.value) and str(manifest) in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    assert manifest.read_bytes() == before and stat.S_IMODE(manifest.stat().st_mode) == 0o640


@pytest.mark.parametrize("text, words", [
    ("[{", "is not valid JSON"),
    ('{"posts": []}', 'is not a list of entries or {"videos": [...]}'),
    ('"just text"', 'is not a list of entries'),
])
def test_a_file_that_is_not_a_manifest_is_left_alone(manifest, text, words):
    manifest.write_text(text)
    with pytest.raises(QueueError) as refused:
        ManifestQueue(manifest).add(video())
    assert words in str(refused.value) and "nothing was changed" in str(refused.value)
    assert manifest.read_text() == text


def test_changing_a_missing_file_says_so(manifest):
    with pytest.raises(QueueError, match="does not exist; nothing was changed"):
        ManifestQueue(manifest).remove("0" * 20)
    assert not manifest.exists()


def test_the_videos_wrapper_and_other_entries_valid_or_not_are_kept(manifest):
    invalid = [{"user_id": USER, "video_path": "x.mp4", "privacy": "PUBLIC"}, "a stray string", 42]
    manifest.write_text(json.dumps({"videos": [video("a.mp4"), *invalid, video("b.mp4")]}))
    os.chmod(manifest, 0o600)
    queue = ManifestQueue(manifest)
    target = keys_on_disk(manifest)[1]  # b.mp4, the fifth item in the file
    queue.update(target, {"description": "edited"})
    added = queue.add(video("c.mp4"))
    data = json.loads(manifest.read_text())
    assert list(data) == ["videos"]
    assert data["videos"] == [video("a.mp4"), *invalid, video("b.mp4", description="edited"), video("c.mp4")]
    assert keys_on_disk(manifest)[-1] == added
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600


def test_keys_match_the_runs_when_the_manifest_is_named_relative_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    queue = ManifestQueue("videos_to_upload.json")
    key = queue.add(video("clips/a.mp4"))
    assert keys_on_disk(tmp_path / "videos_to_upload.json") == [key]  # runs resolve paths against the folder
    queue.update(key, {"post_at": "2026-12-03T09:00:00+01:00"})
    queue.remove(key)
    assert json.loads((tmp_path / "videos_to_upload.json").read_text()) == []


def test_loopback_media_urls_need_the_emulator(manifest):
    pulled = {"user_id": USER, "video_url": "http://127.0.0.1:8001/media/v.mp4"}
    with pytest.raises(QueueError, match='field "video_url"'):
        ManifestQueue(manifest).add(pulled)
    assert ManifestQueue(manifest, allow_loopback=True).add(pulled)


def test_four_processes_adding_at_once_lose_nothing(manifest):
    workers, count = 4, 25
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.queue_workers", str(manifest), str(w),
                               str(count)], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(workers)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:  # every worker is waiting on its stdin: let them all go at once
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [(proc.wait(timeout=WAIT_S), proc.stdout.read(), proc.stderr.read()) for proc in procs]
    assert [code for code, _, _ in results] == [0] * workers, [err for _, _, err in results]
    printed = [key for _, out, _ in results for key in out.split()]
    data = json.loads(manifest.read_text())  # valid JSON, whatever order the writers took turns in
    expected = [worker_entry(str(w), n) for w in range(workers) for n in range(count)]
    assert len(data) == workers * count and sorted(map(json.dumps, data)) == sorted(map(json.dumps, expected))
    assert sorted(printed) == sorted(keys_on_disk(manifest)) and load_manifest(manifest).problems == []
    for w in range(workers):  # each worker's entries kept their order
        mine = [e["video_path"] for e in data if e["user_id"] == f"worker-{w}"]
        assert mine == sorted(mine)
