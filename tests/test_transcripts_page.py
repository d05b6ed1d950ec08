"""The app's Transcripts pages: list, full-text search with escaped highlights, one page per transcript, downloads."""

from __future__ import annotations

import pytest

from tiktok.transcription.store import Snippet, TranscriptRecord, TranscriptStore
from tiktok.web.app import create_app
from tiktok.web.transcripts import highlight, retry_command

ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
SHARE = "https://www.tiktok.com/@ada.creates/video/7300000000000000001"
SOURDOUGH = "Sourdough needs a patient starter and a hot oven. Feed the starter daily."
KNIVES = "Knife skills: <b>claw grip</b> & rock the blade."


@pytest.fixture
def folder(tmp_path):
    store = TranscriptStore(tmp_path / "transcripts")
    store.save(TranscriptRecord(video_id="7300000000000000001", open_id=ADA, username="ada.creates",
                                title="Bread <basics>", created_time=1_760_000_000, source_url=SHARE),
               SOURDOUGH, "1\n00:00:00,000 --> 00:00:02,000\nSourdough\n\n", "WEBVTT\n\n")
    store.save(TranscriptRecord(video_id="7300000000000000002", open_id=ADA, username="ada.creates",
                                title="Knives", created_time=1_760_100_000, source_url="javascript:alert(1)"),
               KNIVES, "1\n00:00:00,000 --> 00:00:02,000\nKnife\n\n", "WEBVTT\n\n")
    store.record_failure(TranscriptRecord(video_id="7300000000000000003", open_id=ADA, username="ada.creates",
                                          title="Gone", source_url=SHARE),
                         "download failed: the video is gone or the link is wrong (HTTP 404)")
    store.record_failure(TranscriptRecord(video_id="clip-1a2b", open_id="links", title="",
                                          source_url="https://cdn.example.com/clip.mp4"),
                         "transcription failed: transcript t-1 did not finish within 900 s", "try_later")
    return tmp_path / "transcripts"


@pytest.fixture
def client(folder, tmp_path):
    app = create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "TRANSCRIPTS_DIR": str(folder)})
    return app.test_client()


def page(client, path: str, **query) -> str:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def results_of(html: str) -> str:
    return html.split('id="results"', 1)[1].split("</section>", 1)[0]


def test_the_list_shows_every_transcript_with_account_title_date_and_status(client):
    html = page(client, "/transcripts/")
    feed = html.split('id="feed"', 1)[1]
    for video_id in ("7300000000000000001", "7300000000000000002", "7300000000000000003", "clip-1a2b"):
        assert f'data-video-id="{video_id}"' in feed
    assert "Bread &lt;basics&gt;" in feed and "@ada.creates" in feed
    assert "2025-10-09" in feed  # created_time 1_760_000_000 as a UTC date
    assert feed.count("status-completed") == 2 and feed.count("status-failed") == 2
    assert "(HTTP 404)" in feed
    gone = feed.split('data-video-id="7300000000000000003"', 1)[1].split("</article>", 1)[0]
    slow = feed.split('data-video-id="clip-1a2b"', 1)[1].split("</article>", 1)[0]
    assert '<span class="status">FAILED' in gone  # the words the command printed for these videos
    assert '<span class="status">TRY LATER' in slow


def test_search_finds_a_word_from_one_transcript_and_highlights_it(client):
    html = page(client, "/transcripts/", q="starter")
    results = results_of(html)
    assert 'data-video-id="7300000000000000001"' in results
    assert "7300000000000000002" not in results and "7300000000000000003" not in results
    assert results.count("<mark>starter</mark>") == 2
    assert 'value="starter"' in html


def test_search_escapes_transcript_html_before_highlighting(client):
    results = results_of(page(client, "/transcripts/", q="CLAW"))
    assert "&lt;b&gt;<mark>claw</mark> grip&lt;/b&gt; &amp; rock" in results
    assert "<b>claw" not in results
    assert "7300000000000000001" not in results


def test_a_search_with_no_match_says_so(client):
    html = page(client, "/transcripts/", q="sourdough knife")  # every word must occur in one transcript
    assert 'id="no-results"' in html


def test_a_transcript_page_has_copy_downloads_and_a_link_to_the_video(client):
    html = page(client, f"/transcripts/{ADA}/7300000000000000001/")
    assert 'id="copy"' in html and 'src="/assets/share.js"' in html  # no inline script: the CSP forbids it
    assert "navigator.clipboard.writeText" in client.get("/assets/share.js").get_data(as_text=True)
    assert f'<pre class="transcript-text" id="transcript-text">{SOURDOUGH}</pre>' in html
    assert f'href="/transcripts/{ADA}/7300000000000000001.txt"' in html
    assert f'href="/transcripts/{ADA}/7300000000000000001.srt"' in html
    assert f'id="video-link" href="{SHARE}"' in html
    txt = client.get(f"/transcripts/{ADA}/7300000000000000001.txt")
    assert txt.get_data(as_text=True) == SOURDOUGH
    assert 'attachment; filename="7300000000000000001.txt"' == txt.headers["Content-Disposition"]
    srt = client.get(f"/transcripts/{ADA}/7300000000000000001.srt")
    assert srt.get_data(as_text=True).startswith("1\n00:00:00,000 --> ")


def test_a_non_http_source_is_not_linked_and_text_is_escaped(client):
    html = page(client, f"/transcripts/{ADA}/7300000000000000002/")
    assert "javascript:" not in html and 'id="video-link"' not in html
    assert "&lt;b&gt;claw grip&lt;/b&gt; &amp;" in html


@pytest.mark.parametrize("path, reason, command", [
    (f"/transcripts/{ADA}/7300000000000000003/", "(HTTP 404)", f".venv/bin/python transcribe.py --account {ADA}"),
    ("/transcripts/links/clip-1a2b/", "did not finish within 900 s",
     ".venv/bin/python transcribe.py https://cdn.example.com/clip.mp4"),
])
def test_a_failed_transcript_shows_why_and_the_retry_command(client, path, reason, command):
    html = page(client, path)
    failure = html.split('id="failure"', 1)[1]
    assert reason in failure and f'<pre id="retry-command">{command}</pre>' in failure
    assert 'id="copy"' not in html


@pytest.mark.parametrize("path", [f"/transcripts/{ADA}/nope/", f"/transcripts/{ADA}/7300000000000000001.json",
                                  f"/transcripts/{ADA}/7300000000000000003.txt", "/transcripts/../etc/passwd.txt"])
def test_unknown_transcripts_and_files_are_404(client, path):
    assert client.get(path).status_code == 404


def test_the_nav_links_to_the_transcripts_page(client):
    assert 'href="/transcripts/"' in page(client, "/")


def test_an_unusable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    app = create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "TRANSCRIPTS_DIR": str(blocker)})
    response = app.test_client().get("/transcripts/")
    assert response.status_code == 500
    assert "is not a folder" in response.get_data(as_text=True)
    assert blocker.read_text() == "not a folder"


def test_an_empty_folder_says_how_to_make_transcripts(tmp_path):
    app = create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "TRANSCRIPTS_DIR": str(tmp_path / "none")})
    html = page(app.test_client(), "/transcripts/")
    assert 'id="no-transcripts"' in html and ".venv/bin/python transcribe.py --account" in html


def test_the_served_app_searches_over_loopback(serve_app, folder):
    web = serve_app(TRANSCRIPTS_DIR=str(folder)).client()
    response = web.get("/transcripts/?q=oven")
    assert response.status_code == 200
    assert "<mark>oven</mark>" in results_of(response.text)


@pytest.mark.parametrize("text, matches, expected", [
    ("a <i>b</i> c", ((3, 4),), "a &lt;<mark>i</mark>&gt;b&lt;/i&gt; c"),
    ("x & y", ((0, 1), (4, 5)), "<mark>x</mark> &amp; <mark>y</mark>"),
    ("plain", (), "plain"),
    ('say "hi"', ((4, 8),), 'say <mark>&quot;hi&quot;</mark>'),
])
def test_highlight_escapes_then_marks(text, matches, expected):
    snippet = Snippet(text=text, matches=matches, offset=0, cut_before=False, cut_after=False)
    assert str(highlight(snippet)) == expected


def test_retry_command_quotes_what_the_shell_would_split():
    record = TranscriptRecord(video_id="v", open_id="local", source_url="/home/me/my clip.mp4")
    assert retry_command(record) == ".venv/bin/python transcribe.py '/home/me/my clip.mp4'"


def test_a_query_with_no_word_is_explained_not_an_error(client):
    html = page(client, "/transcripts/", q="!!! ?")
    assert 'id="query-problem"' in html and "type a word" in html


def test_phrase_and_prefix_queries_work_on_the_page(client):
    assert 'data-video-id="7300000000000000001"' in results_of(page(client, "/transcripts/", q='"hot oven"'))
    assert 'id="no-results"' in page(client, "/transcripts/", q='"oven hot"')
    assert "<mark>Sourdough</mark>" in results_of(page(client, "/transcripts/", q="sour*"))


@pytest.mark.slow
def test_many_hits_come_in_pages_with_next_and_previous(tmp_path):
    store = TranscriptStore(tmp_path / "many")
    for n in range(45):
        store.save(TranscriptRecord(video_id=f"v{n:02d}", open_id=ADA, title=f"Clip {n}"),
                   "starter " * 3000, "", "")  # 24 KB each, the word everywhere
    client = create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"),
                         "TRANSCRIPTS_DIR": str(tmp_path / "many")}).test_client()
    first = page(client, "/transcripts/", q="starter")
    assert results_of(first).count('class="transcript-card hit') == 20
    assert 'id="next-page"' in first and 'id="prev-page"' not in first and "page 1 of 3" in first
    assert len(first.encode()) < 200_000
    last = page(client, "/transcripts/", q="starter", page="3")
    assert results_of(last).count('class="transcript-card hit') == 5 and 'id="prev-page"' in last and 'id="next-page"' not in last
