"""The transcripts' FTS5 index: query building and match offsets (pure), freshness against the folder, rebuilds,
bounded pages, a read-only folder, and several processes refreshing one index at once."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tiktok.transcription import index as index_module
from tiktok.transcription.index import INDEX_NAME, TranscriptIndex, fallback_path, fts_query, marked_spans
from tiktok.transcription.store import TranscriptRecord, TranscriptStore
from tests.support.mounts import read_only_bind, umount

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("typed, expected", [
    ("ferry", '"ferry"'),
    ("Ferry  boat", '"Ferry" "boat"'),
    ('"old lighthouse" keeper', '"old lighthouse" "keeper"'),
    ("cook*", '"cook"*'),
    ('"open phrase', '"open phrase"'),
    ("ferry OR NOT volcano", '"ferry" "OR" "NOT" "volcano"'),
    ("title:x (a) NEAR(b)", '"title:x" "(a)" "NEAR(b)"'),
    ("!!! * ?", None),
    ("", None),
])
def test_fts_query_quotes_every_term(typed, expected):
    assert fts_query(typed) == expected


def test_fts_query_never_lets_input_break_the_match_syntax(tmp_path):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    db.execute("INSERT INTO t VALUES ('a ferry and a boat')")
    for typed in ['"', '""ferry', 'a"b', "AND", "ferry*boat", "^ferry", "-boat", "{body}: ferry", "ferry:*", "é*"]:
        query = fts_query(typed)
        if query is not None:
            db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (query,)).fetchone()  # raises on bad syntax


def test_marked_spans_strips_markers_and_keeps_offsets():
    text, spans = marked_spans("The \x02old lighthouse\x03 and \x02ferry\x03.")
    assert text == "The old lighthouse and ferry."
    assert [text[a:b] for a, b in spans] == ["old lighthouse", "ferry"]


def make_store(root: Path) -> TranscriptStore:
    return TranscriptStore(root)


def save(store: TranscriptStore, video_id: str, text: str, open_id: str = "acct-a") -> None:
    store.save(TranscriptRecord(video_id=video_id, open_id=open_id, username="a", title=f"Video {video_id}"),
               text, "", "")


def ids(store: TranscriptStore, query: str) -> list[str]:
    return sorted(hit.record.video_id for hit in store.search(query).hits)


def test_new_changed_and_deleted_transcripts_are_seen_by_the_next_search(tmp_path):
    store = make_store(tmp_path / "t")
    save(store, "1", "the ferry left at dawn")
    assert ids(store, "ferry") == ["1"]
    assert (store.root / INDEX_NAME).exists()
    save(store, "2", "another ferry", open_id="acct-b")  # a new account folder
    save(store, "1", "the boat left at dawn")  # rewritten
    assert ids(store, "ferry") == ["2"]
    assert ids(store, "boat") == ["1"]
    for kind in ("json", "txt", "srt", "vtt"):
        os.unlink(store.path("acct-b", "2", kind))
    assert ids(store, "ferry") == []
    (store.root / "acct-b").rmdir()
    assert ids(store, "another") == []


def test_a_fresh_index_does_no_work_and_a_search_reads_no_transcript_file(tmp_path, monkeypatch):
    store = make_store(tmp_path / "t")
    for n in range(5):
        save(store, str(n), f"ferry number {n}")
    index = TranscriptIndex(store.root)
    assert index.refresh() == 5
    assert index.refresh() == 0

    def no_reading(self, *args, **kwargs):
        raise AssertionError(f"read {self}")
    monkeypatch.setattr(Path, "read_text", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    found = store.search("ferry")
    assert found.total == 5 and {h.record.title for h in found.hits} == {f"Video {n}" for n in range(5)}


@pytest.mark.parametrize("damage", ["garbage", "old_version"])
def test_a_corrupt_or_older_index_is_rebuilt_from_the_files(tmp_path, damage):
    store = make_store(tmp_path / "t")
    save(store, "1", "ferry")
    assert ids(store, "ferry") == ["1"]
    path = store.root / INDEX_NAME
    if damage == "garbage":
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(b"this is not a database" * 100)
    else:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 0")
    assert ids(store, "ferry") == ["1"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == index_module.SCHEMA_VERSION


def test_results_come_in_bounded_pages_with_bounded_snippets(tmp_path):
    store = make_store(tmp_path / "t")
    long_text = " ".join(["the ferry sails"] * 1500)  # ~22 KB, the word everywhere
    for n in range(45):
        save(store, f"{n:02d}", long_text)
    first = store.search("ferry")
    assert (first.total, first.pages, len(first.hits)) == (45, 3, 20)
    last = store.search("ferry", page=3)
    assert len(last.hits) == 5
    assert {h.record.video_id for h in first.hits}.isdisjoint(h.record.video_id for h in last.hits)
    assert store.search("ferry", page=4).hits == ()
    for hit in first.hits:
        assert 1 <= len(hit.snippets) <= 3
        assert all(len(s.text) <= 4 * 60 + len("ferry") + 1 for s in hit.snippets)
        assert all(s.text[a:b] == "ferry" for s in hit.snippets for a, b in s.matches)


def test_a_read_only_folder_is_indexed_in_the_user_s_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source, view = tmp_path / "t", tmp_path / "view"
    save(make_store(source), "1", "ferry")
    view.mkdir()
    refused = read_only_bind(source, view)
    if refused is not None:  # no mounts here: the same answer os.access gives on a read-only mount
        view.rmdir()
        view = source
        monkeypatch.setattr(index_module.os, "access", lambda path, mode: False)
    try:
        fallback_path(view).unlink(missing_ok=True)
        assert ids(make_store(view), "ferry") == ["1"]
        assert not (view / INDEX_NAME).exists()
        assert fallback_path(view).exists() and fallback_path(view).parent == tmp_path / "cache" / "tiktok-tool"
        assert oct(os.stat(fallback_path(view).parent).st_mode & 0o777) == "0o700"
    finally:
        fallback_path(view).unlink(missing_ok=True)
        if refused is None:
            umount(view)


CHILD = """
import sys
from tiktok.transcription.index import TranscriptIndex
print(TranscriptIndex(sys.argv[1]).search("ferry", per_page=1).total)
"""


@pytest.mark.slow
def test_processes_refreshing_at_once_build_one_consistent_index(tmp_path):
    store = make_store(tmp_path / "t")
    for n in range(300):
        save(store, str(n), f"ferry {n}", open_id=f"acct-{n % 3}")
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(store.root)], cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [c.returncode for c in children] == [0] * 4, [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["300"] * 4
    with sqlite3.connect(store.root / INDEX_NAME) as db:
        assert db.execute("SELECT count(*) FROM docs").fetchone()[0] == 300
        assert db.execute("SELECT count(*) FROM fts").fetchone()[0] == 300
        folders = db.execute("SELECT name FROM folders ORDER BY name").fetchall()
    assert folders == [("acct-0",), ("acct-1",), ("acct-2",)]
    assert json.loads((store.root / "acct-0" / "0.json").read_text())["status"] == "completed"


def test_hits_come_newest_video_first_even_within_one_second(tmp_path):
    store = make_store(tmp_path / "t")
    for video_id, created in (("a", 1_700_000_100), ("b", 1_700_000_300), ("c", 1_700_000_200),
                              ("d", 1_700_000_200)):
        store.save(TranscriptRecord(video_id=video_id, open_id="acct", created_time=created), "ferry", "", "")
    store.save(TranscriptRecord(video_id="local", open_id="local"), "ferry", "", "")  # no create_time: saved_at
    order = [hit.record.video_id for hit in store.search("ferry").hits]
    assert order[0] == "local"  # saved now, long after the videos were made
    assert order[1] == "b" and set(order[2:4]) == {"c", "d"} and order[4] == "a"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_edit_in_place_is_seen_by_the_periodic_full_scan(tmp_path):
    store, clock = make_store(tmp_path / "t"), Clock()
    save(store, "1", "the ferry")
    index = TranscriptIndex(store.root, clock=clock)
    assert index.refresh() == 1
    folder = store.root / "acct-a"
    folder_mtime = folder.stat().st_mtime_ns
    with open(store.path("acct-a", "1", "txt"), "w", encoding="utf-8") as text:  # same inode, folder untouched
        text.write("the boat, much longer now")
    os.utime(folder, ns=(folder_mtime, folder_mtime))
    assert index.refresh() == 0  # the folder looks the same ...
    clock.now += index_module.FULL_SCAN_S
    assert index.refresh() == 1  # ... until the full scan compares every file
    assert [h.record["video_id"] for h in index.search("boat").hits] == ["1"]
    assert index.search("ferry").hits == ()


def test_the_index_file_is_private(tmp_path):
    store = make_store(tmp_path / "t")
    save(store, "1", "ferry")
    store.search("ferry")
    assert oct(os.stat(store.root / INDEX_NAME).st_mode & 0o777) == "0o600"


def test_an_index_another_process_holds_is_searched_as_it_stands(tmp_path, monkeypatch):
    store = make_store(tmp_path / "t")
    save(store, "1", "ferry one")
    assert ids(store, "ferry") == ["1"]
    save(store, "2", "ferry two")  # stale now, but a long rebuild elsewhere holds the write lock
    monkeypatch.setattr(index_module, "BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(store.root / INDEX_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert ids(store, "ferry") == ["1"]  # not a 500, not a dropped index: what it held
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ids(store, "ferry") == ["1", "2"]
