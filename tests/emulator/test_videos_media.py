"""What video objects point at: share pages yt-dlp downloads from, mp4 media with Range support, expiring covers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest
import requests
import yt_dlp
from tests.emulator.posting_helpers import Poster, direct_body, file_source, login, put_chunk

from tests.media_fixtures import make_video
from tiktok.emulator.posts import Post

ADA = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
BO = "0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68"
TIMEOUT = 10


def catalogue(url: str, open_id: str = ADA) -> list[dict]:
    response = requests.get(f"{url}/_emulator/videos/{open_id}", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()["videos"]


def download(url: str, folder: Path) -> Path:
    options = {"quiet": True, "no_warnings": True, "noprogress": True, "outtmpl": str(folder / "%(id)s.%(ext)s"),
               "allowed_extractors": ["TikTok", "vm.tiktok", "generic"], "retries": 0}
    with yt_dlp.YoutubeDL(options) as ydl:
        info = ydl.extract_info(url, download=True)
    return Path(info["requested_downloads"][0]["filepath"])


def probe(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return {"format": container.format.name, "duration": round(container.duration / 1_000_000),
                "size": (video.codec_context.width, video.codec_context.height), "codec": video.codec_context.name,
                "fps": float(video.average_rate), "audio": len(container.streams.audio)}


@pytest.mark.slow
def test_yt_dlp_downloads_real_and_distinct_mp4s_from_share_urls(emulator, tmp_path):
    videos = catalogue(emulator.url)[:2]
    files = [download(v["share_url"], tmp_path) for v in videos]
    assert [f.name for f in files] == [f"{v['id']}.mp4" for v in videos]
    for file, video in zip(files, videos):
        facts = probe(file)
        assert "mp4" in facts["format"] and facts["codec"] == "h264" and facts["audio"] == 1
        assert facts["size"] == (video["width"], video["height"]) and facts["duration"] == video["duration"]
        assert 23 <= facts["fps"] <= 60
    first, second = (hashlib.sha256(f.read_bytes()).hexdigest() for f in files)
    assert first != second


def test_media_supports_range_requests(emulator):
    video = catalogue(emulator.url, BO)[0]
    media = f"{emulator.url}/_emulator/media/{video['id']}.mp4"
    whole = requests.get(media, timeout=TIMEOUT)
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.content[4:8] == b"ftyp"
    part = requests.get(media, headers={"Range": "bytes=100-299"}, timeout=TIMEOUT)
    assert part.status_code == 206 and part.content == whole.content[100:300]
    assert part.headers["Content-Range"] == f"bytes 100-299/{len(whole.content)}"
    assert requests.get(media, timeout=TIMEOUT).content == whole.content  # cached, same bytes


@pytest.mark.parametrize("path", [
    "/@bo_tests/video/{ada_id}",           # a real video under another user's name
    "/@ada.creates/video/7000000000000000000",
    "/_emulator/media/7000000000000000000.mp4",
    "/player/v1/7000000000000000000",
])
def test_unknown_or_mismatched_videos_are_404(emulator, path):
    ada_id = catalogue(emulator.url)[0]["id"]
    assert requests.get(emulator.url + path.format(ada_id=ada_id), timeout=TIMEOUT).status_code == 404


def test_share_page_and_player_point_at_the_media(emulator):
    video = catalogue(emulator.url)[0]
    media = f"{emulator.url}/_emulator/media/{video['id']}.mp4"
    for url in (video["share_url"], video["embed_link"]):
        page = requests.get(url, timeout=TIMEOUT)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert f'<meta property="og:video" content="{media}">' in page.text and f'<video src="{media}"' in page.text


def test_cover_is_a_jpeg_until_it_expires_then_query_gives_a_fresh_one(emulator, remote):
    video = catalogue(emulator.url)[0]
    cover = requests.get(video["cover_image_url"], timeout=TIMEOUT)
    assert cover.status_code == 200 and cover.headers["Content-Type"] == "image/jpeg"
    assert cover.content[:3] == b"\xff\xd8\xff"
    remote.advance_clock(6 * 3600 + 1)
    assert requests.get(video["cover_image_url"], timeout=TIMEOUT).status_code == 403
    fresh = catalogue(emulator.url)[0]["cover_image_url"]
    assert fresh != video["cover_image_url"]
    assert requests.get(fresh, timeout=TIMEOUT).content == cover.content


def test_covers_differ_between_videos(emulator):
    first, second = catalogue(emulator.url)[:2]
    assert (requests.get(first["cover_image_url"], timeout=TIMEOUT).content
            != requests.get(second["cover_image_url"], timeout=TIMEOUT).content)


def test_a_posted_video_is_served_from_its_own_file(emulator, tmp_path):
    clip = make_video(tmp_path / "posted.mp4", seconds=1.0, width=320, height=576, fps=25)
    state = emulator.state
    with state.lock:
        state.posts["v_pub_file~v2-1.9"] = Post(
            publish_id="v_pub_file~v2-1.9", open_id=BO, kind="video", mode="direct", source="FILE_UPLOAD",
            status="PUBLISH_COMPLETE", created_at=state.now(), completed_at=state.now(),
            post_info={"title": "From the app", "privacy_level": "PUBLIC_TO_EVERYONE"}, media_path=str(clip),
            duration_s=1.0, width=320, height=576, post_ids=[7450000000000000042])
    video = catalogue(emulator.url, BO)[0]
    assert video["id"] == "7450000000000000042"
    downloaded = download(video["share_url"], tmp_path / "out")
    assert downloaded.read_bytes() == clip.read_bytes()


def test_a_video_posted_through_the_posting_api_is_listed_and_downloadable(make_emulator, tmp_path):
    server = make_emulator(media_dir=str(tmp_path / "media"), processing_polls=1)
    clip = make_video(tmp_path / "mine.mp4", seconds=2.0, fps=30)
    size = clip.stat().st_size
    token = login(server, ADA, "user.info.basic,video.list,video.publish,video.upload")
    poster = Poster(server.url, token)
    body = direct_body(file_source(size), "PUBLIC_TO_EVERYONE", title="Posted from the tool #mine")
    started = poster.ok_data(poster.video_init(body))
    assert put_chunk(started["upload_url"], clip.read_bytes(), 0, size).status_code == 201
    [post_id] = poster.until_terminal(started["publish_id"])["publicaly_available_post_id"]
    listed = requests.post(f"{server.url}/v2/video/list/", params={"fields": "id,title,duration,share_url"},
                           json={"max_count": 1}, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    [video] = listed.json()["data"]["videos"]
    assert (video["id"], video["title"], video["duration"]) == (str(post_id), "Posted from the tool #mine", 2)
    assert download(video["share_url"], tmp_path / "out").read_bytes() == clip.read_bytes()
