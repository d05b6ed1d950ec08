"""The Videos page and the cover proxy over real HTTP, the app against the emulator (issue 26, item 2): every video of
the catalogue across pages, newest first; covers through /covers/ (the emulator's bytes, an expired URL refreshed by
one video/query, a placeholder when it cannot be, 404 for an id no list gave); Transcribe selected makes the
transcripts in the background, and a failed one can be retried."""

from __future__ import annotations

import os
import re
import time

import pytest
import requests

from tests.support.flows import link_account
from tiktok.emulator.config import default_users
from tiktok.transcription.store import TranscriptStore
from tiktok.web.covers import MAX_AGE_S
from tiktok.web.videos import PER_PAGE

ADA, BO, _ = default_users()
DEADLINE_S = 120  # transcription downloads and transcribes for real on a shared 2-core machine


def catalogue(emulator_url: str, open_id: str) -> list[dict]:
    return requests.get(f"{emulator_url}/_emulator/videos/{open_id}", timeout=10).json()["videos"]


@pytest.fixture
def app(serve_app, emulator, store, oauth, tmp_path):
    """The app as shipped, its transcripts and cache folders in tmp_path, with Ada linked (tokens in its file)."""
    link_account(emulator.url, store, oauth, ADA.open_id)
    served = serve_app(TRANSCRIPTS_DIR=str(tmp_path / "transcripts"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    served.web = served.client()
    served.transcripts = TranscriptStore(tmp_path / "transcripts")
    return served


def card_ids(html: str) -> list[str]:
    return re.findall(r'class="video-card" data-video-id="(\d+)"', html)


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def transcribe(app, video_ids: list[str]) -> requests.Response:
    page = app.web.get(f"/videos/{ADA.open_id}/")
    return app.web.http.post(f"{app.url}/videos/{ADA.open_id}/transcribe",
                             data={"csrf": csrf_of(page.text), "video_id": video_ids},
                             headers={"Accept": "application/json"}, timeout=15)


def wait_for(app, video_ids: list[str], states: set[str]) -> dict:
    """Poll progress.json (as the page's script does) until every video is in one of ``states``."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        answer = app.web.get(f"/videos/{ADA.open_id}/progress.json", params={"ids": ",".join(video_ids)}).json()
        if all(answer[v]["state"] in states for v in video_ids) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_the_page_lists_every_video_newest_first_across_pages(app, emulator):
    expected = catalogue(emulator.url, ADA.open_id)
    assert len(expected) == 25 > PER_PAGE
    first = app.web.get(f"/videos/{ADA.open_id}/")
    assert first.status_code == 200
    second = app.web.get(f"/videos/{ADA.open_id}/", params={"page": 2})
    shown = card_ids(first.text) + card_ids(second.text)
    newest_first = [v["id"] for v in sorted(expected, key=lambda v: v["create_time"], reverse=True)]
    assert shown == newest_first and len(card_ids(first.text)) == PER_PAGE
    assert 'id="next-page"' in first.text and 'id="prev-page"' in second.text
    assert 'data-total="25"' in first.text
    top = expected[0]
    card = first.text.split(f'data-video-id="{newest_first[0]}"', 1)[1].split("</li>", 1)[0]
    assert f'src="/covers/{newest_first[0]}"' in card and top["title"] in card
    assert "http" not in card.split("<img", 1)[1].split(">", 1)[0]  # the cover is never hot-linked
    assert app.web.get("/videos/", params={"account": ADA.open_id}).url.endswith(f"/videos/{ADA.open_id}/")
    assert f'href="/videos/{ADA.open_id}/"' in app.web.get("/").text  # linked from the accounts list


def test_covers_come_through_the_proxy_with_the_emulators_bytes(app, emulator):
    video = catalogue(emulator.url, ADA.open_id)[0]
    app.web.get(f"/videos/{ADA.open_id}/")
    answer = app.web.get(f"/covers/{video['id']}")
    original = requests.get(video["cover_image_url"], timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert answer.content == original.content and answer.content[:3] == b"\xff\xd8\xff"
    assert f"max-age={MAX_AGE_S}" in answer.headers["Cache-Control"]
    again = app.web.get(f"/covers/{video['id']}", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_an_expired_cover_url_is_refreshed_with_one_video_query(app, emulator, remote):
    video_id = catalogue(emulator.url, ADA.open_id)[1]["id"]
    app.web.get(f"/videos/{ADA.open_id}/")
    remote.advance_clock(7 * 3600)  # past the cover URL's 6-hour TTL
    before = remote.requests()[-1]["n"]
    fresh = app.web.get(f"/covers/{video_id}")
    assert fresh.status_code == 200 and fresh.headers["Content-Type"] == "image/jpeg"
    answered = [r["path"] for r in remote.requests(after=before) if r["status"] == 200]  # a 401 then a refreshed
    assert answered.count("/v2/video/query/") == 1 and "/v2/video/list/" not in answered  # token may come first


def test_a_cover_that_cannot_be_refreshed_gives_the_placeholder(app, emulator, remote):
    video_id = catalogue(emulator.url, ADA.open_id)[1]["id"]
    app.web.get(f"/videos/{ADA.open_id}/")
    remote.advance_clock(7 * 3600)
    remote.inject_fault("/v2/video/query/", status=500, error="internal_error", times=10)
    expired = app.web.get(f"/covers/{video_id}")
    assert expired.status_code == 200 and expired.headers["Content-Type"].startswith("image/svg+xml")
    assert expired.headers["Cache-Control"] == "no-store" and b"No cover" in expired.content
    app.web.get(f"/videos/{ADA.open_id}/", params={"refresh": "1"})  # lists again: fresh cover URLs
    assert app.web.get(f"/covers/{video_id}").headers["Content-Type"] == "image/jpeg"


def test_an_unreachable_cover_gives_the_placeholder(app, emulator):
    video_id = catalogue(emulator.url, ADA.open_id)[2]["id"]
    app.web.get(f"/videos/{ADA.open_id}/")
    emulator.shutdown()
    answer = app.web.get(f"/covers/{video_id}")
    assert answer.status_code == 200 and answer.headers.get("X-Cover") == "placeholder"


@pytest.mark.parametrize("video_id", ["7000000000000000001", "..%2F..%2Fetc%2Fpasswd", "x" * 65])
def test_an_id_no_list_gave_is_404_and_nothing_is_fetched(app, remote, video_id):
    app.web.get(f"/videos/{ADA.open_id}/")
    before = len(remote.requests())
    assert app.web.get(f"/covers/{video_id}").status_code == 404
    assert not [r for r in remote.requests()[before:] if "/cover/" in r["path"]]


def test_another_accounts_video_cannot_be_transcribed_from_this_page(app, emulator):
    bo_video = catalogue(emulator.url, BO.open_id)[0]["id"]
    answer = transcribe(app, [bo_video])
    assert answer.status_code == 404 and answer.json()["unknown"] == [bo_video]


@pytest.mark.slow
def test_transcribe_selected_makes_the_transcripts_and_a_failed_one_is_retried(app, emulator, remote):
    videos = catalogue(emulator.url, ADA.open_id)
    chosen = [v["id"] for v in videos[:3]]
    broken = chosen[1]
    remote.inject_fault(f"/@ada.creates/video/{broken}", status=404, times=10)  # its share page is gone
    answer = transcribe(app, chosen)
    assert answer.status_code == 200 and answer.json()["queued"] == 3
    progress = wait_for(app, chosen, {"done", "failed"})
    assert {v: progress[v]["state"] for v in chosen} == {v: "failed" if v == broken else "done" for v in chosen}
    assert "HTTP 404" in progress[broken]["detail"]
    for video_id in chosen:
        assert app.transcripts.is_done(ADA.open_id, video_id) == (video_id != broken)
    page = app.web.get(f"/videos/{ADA.open_id}/").text
    failed_card = page.split(f'data-video-id="{broken}" data-state="failed"', 1)[1].split("</li>", 1)[0]
    assert "Retry" in failed_card and "hidden" not in failed_card.split("video-retry", 1)[1].split(">", 1)[0]

    remote.clear_faults()
    assert transcribe(app, [broken]).json()["queued"] == 1  # what Retry sends
    assert wait_for(app, [broken], {"done", "failed"})[broken]["state"] == "done"
    assert app.transcripts.is_done(ADA.open_id, broken)
    done = app.web.get(f"/transcripts/{ADA.open_id}/{broken}/")
    assert done.status_code == 200


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 400  # starts like a JPEG


def cover_host(environ, start_response):
    """A loopback stand-in for a cover CDN: /html, /liar (says JPEG, is not), /big, /ok/<n>."""
    path = environ["PATH_INFO"]
    kind, body = {"/html": ("text/html", b"<html>not an image</html>"), "/liar": ("image/jpeg", b"<svg onload=x>"),
                  "/big": ("image/jpeg", JPEG + b"\x00" * 5000)}.get(path, ("image/jpeg", JPEG))
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def cdn():
    from tiktok.emulator.serving import serve_in_thread
    server = serve_in_thread(cover_host, log_requests=False)
    yield server.url
    server.shutdown()


@pytest.mark.parametrize("path", ["/html", "/liar", "/big"])
def test_only_images_within_the_size_cap_are_kept(cdn, tmp_path, path):
    from tiktok.web.covers import CoverCache
    cache = CoverCache(tmp_path / "covers", requests.Session(), max_cover_bytes=2000)
    cache.remember("1", cdn + path)
    assert cache.known("1") and cache.get("1") is None
    assert not list((tmp_path / "covers").glob("*"))  # nothing kept: the next view asks again


def test_the_folder_is_trimmed_oldest_first_and_urls_that_are_not_http_are_never_fetched(cdn, tmp_path):
    from tiktok.web.covers import CoverCache
    cache = CoverCache(tmp_path / "covers", requests.Session(), max_bytes=3 * len(JPEG))
    for n in range(5):
        cache.remember(str(n), f"{cdn}/ok/{n}")
        assert cache.get(str(n)) == (JPEG, "image/jpeg")
        os.utime(tmp_path / "covers" / f"{n}.cover", (1000 + n, 1000 + n))  # distinct ages on any file system
    assert sorted(p.name for p in (tmp_path / "covers").glob("*.cover")) == ["2.cover", "3.cover", "4.cover"]
    cache.remember("9", "file:///etc/passwd")
    assert not cache.known("9")
