"""The transcripts folder: atomic files, idempotency, failures, listing and search."""

from __future__ import annotations

import json
import re
import os

import pytest

from tiktok.transcription.snippets import make_snippets
from tiktok.transcription.store import (
    STATUS_COMPLETED,
    STATUS_FAILED,
    QueryError,
    TranscriptRecord,
    TranscriptsFolderError,
    TranscriptStore,
    safe_name,
)

T0 = 1_790_000_000.0  # a fixed instant (2026-09) so saved_at is predictable


class StepClock:
    """Each call returns the next second; no sleeping."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def store(tmp_path) -> TranscriptStore:
    return TranscriptStore(tmp_path / "transcripts", clock=StepClock())


def record(video_id: str = "7300000000000000001", open_id: str = "-000openA", **extra) -> TranscriptRecord:
    fields = {"username": "creator_a", "title": f"Video {video_id}", "created_time": 1_700_000_000,
              "source_url": f"https://www.tiktok.com/@creator_a/video/{video_id}", "language": "en_us",
              "duration_s": 3.0, "transcript_id": f"tr-{video_id}", **extra}
    return TranscriptRecord(video_id=video_id, open_id=open_id, **fields)


def save(store: TranscriptStore, rec: TranscriptRecord, text: str) -> TranscriptRecord:
    return store.save(rec, text, f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n\n",
                      f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n\n")


def test_save_writes_four_files_and_a_complete_record(store):
    saved = save(store, record(), "hello there")
    folder = store.root / "-000openA"
    assert sorted(p.name for p in folder.iterdir()) == [f"7300000000000000001.{k}" for k in ("json", "srt", "txt",
                                                                                             "vtt")]
    assert (folder / "7300000000000000001.txt").read_text() == "hello there"
    assert (folder / "7300000000000000001.vtt").read_text().startswith("WEBVTT")
    data = json.loads((folder / "7300000000000000001.json").read_text())
    assert data == {
        "video_id": "7300000000000000001", "account": {"open_id": "-000openA", "username": "creator_a"},
        "title": "Video 7300000000000000001", "created_time": 1_700_000_000,
        "source_url": "https://www.tiktok.com/@creator_a/video/7300000000000000001", "language": "en_us",
        "duration_s": 3.0, "transcript_id": "tr-7300000000000000001", "status": "completed", "error": None,
        "saved_at": "2026-09-21T14:13:21+00:00",
    }
    assert saved.saved_at == data["saved_at"]
    assert store.get("-000openA", "7300000000000000001") == saved
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_a_crash_mid_write_keeps_the_old_file_and_no_temp(store, monkeypatch):
    save(store, record(), "first version")

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(TranscriptsFolderError, match="No space left"):
        save(store, record(), "second version")
    monkeypatch.undo()
    folder = store.root / "-000openA"
    assert store.read("-000openA", "7300000000000000001") == "first version"
    assert store.is_done("-000openA", "7300000000000000001")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_is_done_only_after_a_completed_save(store):
    assert not store.is_done("-000openA", "7300000000000000001")
    store.record_failure(record(), "download failed: HTTP 404")
    assert not store.is_done("-000openA", "7300000000000000001")
    save(store, record(), "text")
    assert store.is_done("-000openA", "7300000000000000001")
    (store.root / "-000openA" / "7300000000000000001.txt").unlink()
    assert not store.is_done("-000openA", "7300000000000000001")  # a record without its text is not done


def test_saving_again_is_idempotent(store):
    save(store, record(), "same text")
    save(store, record(), "same text")
    assert len(store.list_records()) == 1
    assert store.read("-000openA", "7300000000000000001") == "same text"


def test_a_failure_is_recorded_with_its_reason(store):
    failed = store.record_failure(record(transcript_id=None), "the post is private")
    assert failed.status == STATUS_FAILED
    data = json.loads((store.root / "-000openA" / "7300000000000000001.json").read_text())
    assert data["status"] == "failed" and data["error"] == "the post is private"
    assert not (store.root / "-000openA" / "7300000000000000001.txt").exists()
    assert store.list_records() == [failed]


def test_a_failure_never_replaces_a_completed_transcript(store):
    saved = save(store, record(), "precious words")
    kept = store.record_failure(record(), "AssemblyAI timed out")
    assert kept == saved and kept.status == STATUS_COMPLETED
    assert store.read("-000openA", "7300000000000000001") == "precious words"


def test_a_later_success_replaces_a_failure(store):
    store.record_failure(record(), "timed out")
    saved = save(store, record(), "finally")
    assert saved.status == STATUS_COMPLETED and saved.error is None
    assert store.get("-000openA", "7300000000000000001").error is None


def test_list_records_newest_first_and_skips_corrupt_ones(store, caplog):
    a = save(store, record("1"), "a")
    b = store.record_failure(record("2", open_id="-000openB"), "nope")
    c = save(store, record("3"), "c")
    (store.root / "-000openA" / "broken.json").write_text("{not json")
    assert store.list_records() == [c, b, a]
    assert "broken.json" in caplog.text


def test_a_missing_root_lists_nothing(store):
    assert store.list_records() == []
    assert store.search("anything").hits == ()
    assert not store.root.exists()  # searching creates nothing


@pytest.mark.parametrize("query, expected", [
    ("lighthouse", ["1"]),
    ("LightHouse", ["1"]),
    ("ferry", ["1", "2"]),
    ("ferry lighthouse", ["1"]),
    ("ferry volcano", []),
    ("volcano", []),
    ('"the ferry"', ["1"]),
    ('"ferry the"', []),
    ("light*", ["1"]),
    ("ligh", []),  # words, not substrings
    ("ferry OR volcano", []),  # typed operators are plain words, never FTS5 syntax
])
def test_search_needs_every_word(store, query, expected):
    save(store, record("1"), "The old lighthouse keeper waved at the ferry.")
    save(store, record("2"), "A ferry crossed the bay at dawn.")
    save(store, record("3"), "Nothing about boats here.")
    store.record_failure(record("4"), "ferry lighthouse volcano")  # failed records are never search hits
    found = store.search(query)
    assert sorted(hit.record.video_id for hit in found.hits) == expected
    assert found.total == len(expected)


@pytest.mark.parametrize("query", ["", "   ", "!!! ?", '""', "*"])
def test_a_query_with_no_word_is_a_clear_error(store, query):
    save(store, record("1"), "words")
    with pytest.raises(QueryError, match="type a word"):
        store.search(query)


def test_search_snippets_mark_matches_with_offsets(store):
    text = "Intro words. " + "filler " * 30 + "the Lighthouse stands tall. " + "more " * 30 + "lighthouse again"
    save(store, record("1"), text)
    (hit,) = store.search("lighthouse").hits
    marked = [snippet.text[s:e] for snippet in hit.snippets for s, e in snippet.matches]
    assert marked == ["Lighthouse", "lighthouse"]
    first = hit.snippets[0]
    assert first.cut_before and first.cut_after
    assert text[first.offset:first.offset + len(first.text)] == first.text


def test_snippets_merge_close_matches_and_respect_the_limit():
    text = "alpha beta alpha " + "x" * 500 + " alpha " + "y" * 500 + " alpha " + "z" * 500 + " alpha"
    spans = [(m.start(), m.end()) for m in re.finditer("alpha", text)]
    snippets = make_snippets(text, spans, radius=20, limit=3)
    assert len(snippets) == 3
    assert len(snippets[0].matches) == 2  # the two early matches share one window
    assert all(s.text[a:b] == "alpha" for s in snippets for a, b in s.matches)
    assert not snippets[0].cut_before


def test_search_folds_case_and_diacritics_but_keeps_the_text_as_written(store):
    save(store, record("1"), "Crème brûlée at the CAFÉ")
    (hit,) = store.search("creme cafe").hits
    assert [hit.snippets[0].text[a:b] for a, b in hit.snippets[0].matches] == ["Crème", "CAFÉ"]


@pytest.mark.parametrize("value, expected", [
    ("-000abc_DEF", "-000abc_DEF"),
    ("../etc", ".._etc"),
    ("..", "_.."),
    (".", "_."),
    ("", "_"),
    ("a/b\\c d", "a_b_c_d"),
])
def test_safe_name(value, expected):
    assert safe_name(value) == expected


def test_unsafe_ids_stay_inside_the_root(store):
    save(store, record("../../escape", open_id="../x"), "t")
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files and all(store.root in p.parents for p in files)
    assert store.is_done("../x", "../../escape")


def test_a_root_that_is_a_file_is_a_clear_error_naming_it(tmp_path):
    blocker = tmp_path / "transcripts"
    blocker.write_text("I am a file")
    store = TranscriptStore(blocker)
    for action in (store.ensure_writable, store.list_records, lambda: save(store, record(), "x"),
                   lambda: store.search("x"), lambda: store.is_done("-000openA", "1")):
        with pytest.raises(TranscriptsFolderError) as caught:
            action()
        assert str(blocker) in str(caught.value)
        assert "not a folder" in caught.value.reason
    assert blocker.read_text() == "I am a file"


def test_a_root_under_a_file_cannot_be_created(tmp_path):
    (tmp_path / "plain").write_text("x")
    store = TranscriptStore(tmp_path / "plain" / "transcripts")
    with pytest.raises(TranscriptsFolderError, match="transcripts folder .*plain/transcripts"):
        store.ensure_writable()


def test_ensure_writable_creates_the_folder(store):
    store.ensure_writable()
    assert store.root.is_dir() and list(store.root.iterdir()) == []
