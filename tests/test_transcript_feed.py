"""The transcript feed (issue 26, items 3 and 5): newest first in keyset pages from the index alone, filters by
account and search, covers, .txt/.srt/.vtt downloads, editing a title, deleting with a confirm step, and every
title, name and snippet escaped."""

from __future__ import annotations

import html
import os
import re
import sqlite3
from contextlib import closing

import pytest
from markupsafe import escape

from tiktok.transcription import index as index_module
from tiktok.transcription.index import INDEX_NAME, PER_PAGE, TranscriptIndex
from tiktok.transcription.store import TranscriptRecord, TranscriptStore
from tiktok.web.app import create_app

ADA, BOB = "723f24d7-e717-40f8-a2b6-cb8464cd23b4", "9b1d6c2e-0000-4c1a-9b51-0b2d3c4e5f60"
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello there\n"
EPOCH = 1_760_000_000


def save(store: TranscriptStore, n: int, open_id: str = ADA, username: str = "ada.creates", *,
         title: str | None = None, text: str | None = None, created: int | None = None) -> TranscriptRecord:
    return store.save(TranscriptRecord(video_id=f"73{n:017d}", open_id=open_id, username=username,
                                       title=f"Clip {n}" if title is None else title,
                                       created_time=EPOCH + n * 60 if created is None else created),
                      f"words of clip {n} " if text is None else text, "1\n00:00:00,000 --> 00:00:02,000\nHi\n\n", VTT)


@pytest.fixture
def store(tmp_path) -> TranscriptStore:
    return TranscriptStore(tmp_path / "transcripts")


@pytest.fixture
def client(store, tmp_path):
    return create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "TRANSCRIPTS_DIR": str(store.root)}).test_client()


def get(client, path: str, **query) -> str:
    response = client.get(path, query_string=query or None)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def card_ids(page: str) -> list[str]:
    return re.findall(r'<article class="transcript-card[^"]*" data-video-id="([^"]+)"', page)


def link(page: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_the_feed_is_newest_first_across_keyset_pages_and_back(store, client):
    order = [31, 4, 17, 0, 44, 12, 25, 38, 9, 21, 2, 40, 15, 28, 33, 7, 19, 42, 11, 36, 5, 23, 30, 1, 14, 27, 39,
             8, 20, 34, 3, 16, 43, 10, 26, 37, 6, 22, 29, 13, 41, 18, 35, 24, 32]  # saved out of date order
    for n in order:
        save(store, n)
    seen, pages, path = [], [], "/transcripts/"
    while path:
        page = get(client, path)
        pages.append(page)
        seen += card_ids(page)
        path = link(page, "older-page")
        assert path is None or "before=" in path and "page=" not in path  # a keyset cursor, not an offset
    assert seen == [f"73{n:017d}" for n in range(44, -1, -1)]  # every transcript once, newest video first
    assert [len(card_ids(p)) for p in pages] == [PER_PAGE, PER_PAGE, 5]
    assert link(pages[0], "newer-page") is None
    assert card_ids(get(client, link(pages[2], "newer-page"))) == card_ids(pages[1])
    assert card_ids(get(client, link(pages[1], "newer-page"))) == card_ids(pages[0])


def test_cards_show_cover_account_title_date_and_the_start_of_the_text(store, client):
    save(store, 1, title="Sourdough", text="A patient starter and a hot oven. " * 40)
    store.record_failure(TranscriptRecord(video_id="7300000000000000009", open_id=ADA, username="ada.creates",
                                          title="Gone", created_time=EPOCH + 9999), "download failed (HTTP 404)")
    page = get(client, "/transcripts/")
    card = page.split('data-video-id="7300000000000000001"', 1)[1].split("</article>", 1)[0]
    assert '<img src="/covers/7300000000000000001"' in card and 'class="cover"' in card
    assert "@ada.creates" in card and ">Sourdough<" in card and "2025-10-09" in card
    lead = re.search(r'<p class="lead">([^<]*)</p>', card).group(1)
    assert lead.startswith("A patient starter and a hot oven.") and lead.endswith("…")
    assert len(lead) <= index_module.LEAD_CHARS + 1  # a bounded slice, not the whole transcript
    failed = page.split('data-video-id="7300000000000000009"', 1)[1].split("</article>", 1)[0]
    assert "FAILED" in failed and "(HTTP 404)" in failed
    assert card_ids(page)[0] == "7300000000000000009"  # the newer video first, whatever its status
    clip = TranscriptStore(store.root, clock=lambda: EPOCH + 86_400 * 30)
    clip.save(TranscriptRecord(video_id="clip-1", open_id="local", title="A file"), "from a file", "", "")
    local = get(client, "/transcripts/").split('data-video-id="clip-1"', 1)[1].split("</article>", 1)[0]
    assert '<span class="date">saved 2025-11-08' in local  # no posting time: when it was transcribed, said so


def test_the_feed_filters_by_account_as_open_id_or_name_and_with_a_search(store, client):
    for n in range(6):
        save(store, n, *((ADA, "ada.creates") if n % 2 else (BOB, "bob.bakes")),
             text="oven bread" if n < 4 else "knife skills")
    page = get(client, "/transcripts/")
    assert '<option value="@ada.creates"' in page and '<option value="@bob.bakes"' in page
    ada = [f"73{n:017d}" for n in (5, 3, 1)]
    assert card_ids(get(client, "/transcripts/", account="@ada.creates")) == ada
    assert card_ids(get(client, "/transcripts/", account=ADA)) == ada
    assert card_ids(get(client, "/transcripts/", account="@nobody")) == []
    searched = get(client, "/transcripts/", q="oven", account="@bob.bakes")
    assert card_ids(searched) == [f"73{n:017d}" for n in (2, 0)]
    assert 'data-total="2"' in searched and '<option value="@bob.bakes" selected' in searched
    assert card_ids(get(client, "/transcripts/", q="oven")) == [f"73{n:017d}" for n in (3, 2, 1, 0)]


def test_the_feed_reads_the_index_not_the_record_files(store, client):
    for n in range(3):
        save(store, n)
    before = get(client, "/transcripts/")
    folder = store.root / ADA
    mtime = folder.stat().st_mtime_ns
    for path in folder.iterdir():
        path.unlink()  # every record and text gone; the folder's mtime put back, so no check sees a change
    os.utime(folder, ns=(mtime, mtime))
    after = get(client, "/transcripts/")
    assert card_ids(after) == card_ids(before) == [f"73{n:017d}" for n in (2, 1, 0)]
    assert ">Clip 1<" in after and "words of clip 1" in after


def test_an_index_of_the_older_format_is_rebuilt_when_opened(store, client):
    save(store, 1, title="Old format")
    old = store.root / INDEX_NAME
    with closing(sqlite3.connect(old)) as db:  # format 3: no username or lead columns
        db.executescript("""
            CREATE TABLE folders (name TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
            CREATE TABLE docs (id INTEGER PRIMARY KEY, folder TEXT NOT NULL, video_id TEXT NOT NULL,
                               signature TEXT NOT NULL, record TEXT NOT NULL, UNIQUE (folder, video_id));
            CREATE VIRTUAL TABLE fts USING fts5(title, body);
            PRAGMA user_version = 3;""")
        db.execute("INSERT INTO folders VALUES (?, ?)", (ADA, (store.root / ADA).stat().st_mtime_ns))
        db.execute("INSERT INTO docs VALUES (1, ?, 'stale', 'x', '{}')", (ADA,))
        db.commit()
    page = get(client, "/transcripts/")
    assert card_ids(page) == ["7300000000000000001"] and "words of clip 1" in page
    with closing(sqlite3.connect(old)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == index_module.SCHEMA_VERSION == 4
        assert db.execute("SELECT username, lead FROM docs").fetchall() == [("ada.creates", "words of clip 1")]
    assert card_ids(get(client, "/transcripts/", account="@ada.creates")) == ["7300000000000000001"]


def test_a_transcript_page_shows_its_cover_and_offers_txt_srt_and_vtt(store, client):
    save(store, 1)
    page = get(client, f"/transcripts/{ADA}/7300000000000000001/")
    assert '<img id="cover" src="/covers/7300000000000000001"' in page
    for kind in ("txt", "srt", "vtt"):
        assert f'id="download-{kind}" href="/transcripts/{ADA}/7300000000000000001.{kind}"' in page
    vtt = client.get(f"/transcripts/{ADA}/7300000000000000001.vtt")
    assert vtt.status_code == 200 and vtt.get_data(as_text=True) == VTT
    assert vtt.headers["Content-Type"] == "text/vtt; charset=utf-8"
    assert vtt.headers["Content-Disposition"] == 'attachment; filename="7300000000000000001.vtt"'
    assert client.get(f"/transcripts/{ADA}/7300000000000000001.json").status_code == 404


def test_editing_a_title_rewrites_the_record_and_the_index(store, client):
    save(store, 1, title="Old name", text="sourdough starter")
    page_path = f"/transcripts/{ADA}/7300000000000000001/"
    token = csrf_of(get(client, page_path))
    refused = client.post(page_path + "title", data={"title": "Forged"})
    assert refused.status_code == 400 and store.get(ADA, "7300000000000000001").title == "Old name"
    empty = client.post(page_path + "title", data={"csrf": token, "title": "   "}, follow_redirects=True)
    assert "The title was not changed: the title is empty" in empty.get_data(as_text=True)
    done = client.post(page_path + "title", data={"csrf": token, "title": "  Crusty  loaf\u202e "},
                       follow_redirects=True)
    assert "The title is now “Crusty loaf”" in done.get_data(as_text=True)
    assert store.get(ADA, "7300000000000000001").title == "Crusty loaf"  # spaces folded, format characters dropped
    assert ">Crusty loaf<" in get(client, "/transcripts/")
    found = get(client, "/transcripts/", q="crusty")  # the title is searched, from the index's new row
    assert card_ids(found) == ["7300000000000000001"]


def test_deleting_asks_first_then_removes_the_files_and_the_index_row(store, client):
    save(store, 1, text="sourdough starter")
    save(store, 2, text="sourdough starter")
    page_path = f"/transcripts/{ADA}/7300000000000000001/"
    confirm = get(client, link(get(client, page_path), "delete"))
    assert 'id="confirm-delete"' in confirm and 'method="post"' in confirm
    assert all(store.path(ADA, "7300000000000000001", kind).exists() for kind in ("json", "txt", "srt", "vtt"))
    assert client.post(page_path + "delete", data={}).status_code == 400  # no CSRF token: nothing removed
    assert store.get(ADA, "7300000000000000001") is not None
    gone = client.post(page_path + "delete", data={"csrf": csrf_of(confirm)}, follow_redirects=True)
    assert "Deleted the transcript of “Clip 1”" in gone.get_data(as_text=True)
    assert not any(store.path(ADA, "7300000000000000001", kind).exists() for kind in ("json", "txt", "srt", "vtt"))
    assert card_ids(get(client, "/transcripts/")) == ["7300000000000000002"]
    assert card_ids(get(client, "/transcripts/", q="sourdough")) == ["7300000000000000002"]
    with closing(sqlite3.connect(store.root / INDEX_NAME)) as db:
        assert db.execute("SELECT video_id FROM docs").fetchall() == [("7300000000000000002",)]
    assert client.get(page_path).status_code == 404


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "\u202egnp.exe",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_titles_names_and_snippets_render_inert(store, client, payload):
    save(store, 1, username=payload, title=f"t {payload}", text=f"oven {payload} oven")
    pages = {"feed": get(client, "/transcripts/"),
             "search": get(client, "/transcripts/", q="oven"),
             "transcript": get(client, f"/transcripts/{ADA}/7300000000000000001/"),
             "confirm": get(client, f"/transcripts/{ADA}/7300000000000000001/delete")}
    for name, page in pages.items():
        assert "<script>alert" not in page and "<img src=x" not in page, name
        assert 'href="javascript:' not in page and 'src="javascript:' not in page, name
        if payload.startswith("\u202e"):
            assert re.search("<bdi>t \u202egnp.exe</bdi>", page), name  # isolated: it cannot flip the text around it
        else:
            assert str(escape(payload)) in page, name  # shown as the text it is


def test_the_served_app_edits_and_deletes_over_loopback(serve_app, store):
    save(store, 1)
    web = serve_app(TRANSCRIPTS_DIR=str(store.root)).client()
    path = f"/transcripts/{ADA}/7300000000000000001/"
    renamed = web.post_form(path + "title", {"title": "Over HTTP"})
    assert renamed.status_code == 200 and "The title is now “Over HTTP”" in renamed.text
    assert ">Over HTTP<" in web.get("/transcripts/").text
    deleted = web.post_form(path + "delete")
    assert deleted.status_code == 200 and "Deleted the transcript" in deleted.text
    assert web.get(path).status_code == 404 and 'id="no-transcripts"' in web.get("/transcripts/").text


def test_index_latest_pages_by_cursor_within_one_account(store):
    for n in range(7):
        save(store, n, *((ADA, "ada") if n < 5 else (BOB, "bob")))
    index = TranscriptIndex(store.root)
    first = index.latest(folder=ADA, per_page=2)
    assert [i.record["video_id"][-1] for i in first.items] == ["4", "3"] and first.newer is None
    second = index.latest(folder=ADA, per_page=2, before=first.older)
    third = index.latest(folder=ADA, per_page=2, before=second.older)
    assert [i.record["video_id"][-1] for i in second.items + third.items] == ["2", "1", "0"]
    assert third.older is None and third.newer is not None
    assert index.latest(folder=ADA, per_page=2, after=third.newer).items == second.items
    assert index.accounts() == sorted([(ADA, "ada"), (BOB, "bob")])
