"""FILE_UPLOAD end to end over loopback: the chunk host's rules, progress header, sha256, processing, faults."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.emulator.posting_helpers import (
    ADA,
    BO,
    Poster,
    direct_body,
    file_source,
    login,
    put_chunk,
    sha256_file,
    upload_all,
)
from tests.media_fixtures import make_video, padded_mp4
from tiktok.emulator import EmulatorRemote

MIB5 = 5_242_880
UPLOAD_PATH = "/upload/video/"


@pytest.fixture
def server(make_emulator, tmp_path):
    return make_emulator(media_dir=str(tmp_path / "media"), processing_polls=1)


@pytest.fixture
def poster(server) -> Poster:
    return Poster(server.url, login(server))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 3 s 360x640 H.264 MP4."""
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4")


def start_upload(poster: Poster, size: int, chunk: int | None = None, privacy: str = "SELF_ONLY") -> dict:
    return poster.ok_data(poster.video_init(direct_body(file_source(size, chunk), privacy)))


@pytest.mark.slow
def test_doc_example_plan_uploads_with_206s_then_201_and_matching_sha256(poster, server, clip, tmp_path):
    video = padded_mp4(clip, tmp_path / "doc.mp4", 50_000_123)
    data = start_upload(poster, 50_000_123, 10_000_000)
    assert data["publish_id"].startswith("v_pub_file~v2.")
    assert data["upload_url"].startswith(server.url + "/upload/video/?upload_id=")
    responses = upload_all(data["upload_url"], video, 10_000_000, 5)
    assert [r.status_code for r in responses] == [206, 206, 206, 206, 201]
    assert [r.headers["Content-Range"] for r in responses] == [
        "bytes 0-9999999/50000123", "bytes 0-19999999/50000123", "bytes 0-29999999/50000123",
        "bytes 0-39999999/50000123", "bytes 0-50000122/50000123"]
    post = EmulatorRemote(server.url).state()["posts"][0]
    assert post["sha256"] == sha256_file(video) and post["bytes_received"] == 50_000_123
    assert post["plan"] == {"video_size": 50_000_123, "chunk_size": 10_000_000, "total_chunk_count": 5}


def test_whole_small_file_public_post_completes_with_a_19_digit_post_id(poster, server, clip):
    size = clip.stat().st_size
    data = start_upload(poster, size, privacy="PUBLIC_TO_EVERYONE")
    first = poster.ok_data(poster.status(data["publish_id"]))
    assert first == {"status": "PROCESSING_UPLOAD", "publicaly_available_post_id": [], "uploaded_bytes": 0}
    response = put_chunk(data["upload_url"], clip.read_bytes(), 0, size)
    assert response.status_code == 201 and response.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    processing = poster.ok_data(poster.status(data["publish_id"]))  # processing_polls=1
    assert processing["status"] == "PROCESSING_UPLOAD" and processing["uploaded_bytes"] == size
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert done["status"] == "PUBLISH_COMPLETE" and "fail_reason" not in done
    [post_id] = done["publicaly_available_post_id"]
    assert isinstance(post_id, int) and len(str(post_id)) == 19
    # the raw JSON carries all 19 digits as a number (no float rounding)
    assert str(post_id) in poster.status(data["publish_id"]).text
    post = server.state.posts[data["publish_id"]]
    assert post.post_ids == [post_id] and post.completed_at is not None and post.duration_s == pytest.approx(3.0)
    assert sha256_file(Path(post.media_path)) == post.sha256 == sha256_file(clip)


def test_non_public_direct_post_has_no_post_id(poster, clip):
    data = start_upload(poster, clip.stat().st_size, privacy="MUTUAL_FOLLOW_FRIENDS")
    put_chunk(data["upload_url"], clip.read_bytes(), 0, clip.stat().st_size)
    done = poster.until_terminal(data["publish_id"])
    assert done["status"] == "PUBLISH_COMPLETE" and done["publicaly_available_post_id"] == []


def test_inbox_upload_ends_in_send_to_user_inbox_and_user_posted_hook_completes_it(server, clip):
    poster = Poster(server.url, login(server))
    data = poster.ok_data(poster.inbox_init({"source_info": file_source(clip.stat().st_size)}))
    assert data["publish_id"].startswith("v_inbox_file~v2.")
    put_chunk(data["upload_url"], clip.read_bytes(), 0, clip.stat().st_size)
    assert poster.until_terminal(data["publish_id"])["status"] == "SEND_TO_USER_INBOX"
    hook = requests.post(f"{server.url}/_emulator/posts/{data['publish_id']}/user_posted",
                         json={"post_info": {"privacy_level": "PUBLIC_TO_EVERYONE", "title": "from the app"}},
                         timeout=10)
    assert hook.status_code == 200
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert done["status"] == "PUBLISH_COMPLETE" and len(done["publicaly_available_post_id"]) == 1
    again = requests.post(f"{server.url}/_emulator/posts/{data['publish_id']}/user_posted", timeout=10)
    assert again.status_code == 409


@pytest.mark.parametrize("options, reason", [
    ({"fps": 20}, "frame_rate_check_failed"),
    ({"width": 320, "height": 320}, "picture_size_check_failed"),
    ({"codec": "mpeg4"}, "file_format_check_failed"),
])
def test_media_check_failures(poster, tmp_path, options, reason):
    video = make_video(tmp_path / "bad.mp4", seconds=1, audio=False, **options)
    data = start_upload(poster, video.stat().st_size)
    assert put_chunk(data["upload_url"], video.read_bytes(), 0, video.stat().st_size).status_code == 201
    done = poster.until_terminal(data["publish_id"])
    assert done["status"] == "FAILED" and done["fail_reason"] == reason


def test_not_a_video_fails_format_check_and_its_bytes_are_deleted(poster, server):
    junk = b"not a video at all" * 100
    data = start_upload(poster, len(junk))
    put_chunk(data["upload_url"], junk, 0, len(junk))
    done = poster.until_terminal(data["publish_id"])
    assert (done["status"], done["fail_reason"]) == ("FAILED", "file_format_check_failed")
    post = server.state.posts[data["publish_id"]]
    assert post.media_path is None and post.sha256 == hashlib.sha256(junk).hexdigest()
    assert list(Path(server.state.media_dir).iterdir()) == []


def test_video_longer_than_the_creators_maximum_fails_duration_check(make_emulator, tmp_path, clip):
    from tiktok.emulator.posts import PostingSettings
    server = make_emulator(posting={BO: PostingSettings(max_video_post_duration_sec=2)}, processing_polls=0)
    poster = Poster(server.url, login(server, BO))
    assert poster.ok_data(poster.creator_info())["max_video_post_duration_sec"] == 2
    data = start_upload(poster, clip.stat().st_size)
    put_chunk(data["upload_url"], clip.read_bytes(), 0, clip.stat().st_size)
    done = poster.ok_data(poster.status(data["publish_id"]))
    assert (done["status"], done["fail_reason"]) == ("FAILED", "duration_check_failed")


def test_forced_fail_reason_applies_to_the_next_post_only(poster, server, clip):
    forced = requests.post(server.url + "/_emulator/posts/fail_next", json={"fail_reason": "internal"}, timeout=10)
    assert forced.status_code == 201
    assert EmulatorRemote(server.url).state()["posting"]["forced_fail_reasons"] == ["internal"]
    size = clip.stat().st_size
    outcomes = []
    for _ in range(2):
        data = start_upload(poster, size)
        put_chunk(data["upload_url"], clip.read_bytes(), 0, size)
        done = poster.until_terminal(data["publish_id"])
        outcomes.append((done["status"], done.get("fail_reason")))
    assert outcomes == [("FAILED", "internal"), ("PUBLISH_COMPLETE", None)]


# ---- the PUT rules, each with the progress header ----

SIZE = 2 * MIB5 + 1234   # two chunks of 5 MiB, the last one 5 MiB + 1234 bytes
CHUNK = MIB5


@pytest.fixture
def two_chunk_upload(poster, clip, tmp_path):
    video = padded_mp4(clip, tmp_path / "two.mp4", SIZE)
    data = start_upload(poster, SIZE, CHUNK)
    return data, video.read_bytes()


@pytest.mark.parametrize("case, headers, body_slice, status", [
    ("wrong content type", {"Content-Type": "application/octet-stream"}, (0, CHUNK), 400),
    ("no content range", {"Content-Range": ""}, (0, CHUNK), 400),
    ("garbled range", {"Content-Range": "bytes=0-5242879/10486994"}, (0, CHUNK), 400),
    ("exclusive end", {"Content-Range": f"bytes 0-{CHUNK}/{SIZE}"}, (0, CHUNK), 400),
    ("starts after a gap", {"Content-Range": f"bytes {CHUNK}-{SIZE - 1}/{SIZE}"}, (CHUNK, SIZE), 416),
    ("wrong total", {"Content-Range": f"bytes 0-{CHUNK - 1}/{SIZE + 1}"}, (0, CHUNK), 416),
    ("short non-final chunk", {"Content-Range": f"bytes 0-{CHUNK - 2}/{SIZE}"}, (0, CHUNK - 1), 416),
    ("whole file as one chunk", {"Content-Range": f"bytes 0-{SIZE - 1}/{SIZE}"}, (0, SIZE), 416),
])
def test_put_refusals_before_any_byte(two_chunk_upload, case, headers, body_slice, status):
    data, video = two_chunk_upload
    response = put_chunk(data["upload_url"], video[slice(*body_slice)], 0, SIZE, headers=headers)
    assert response.status_code == status, response.headers.get("X-Emulator-Reason")
    assert response.headers["Content-Range"] == f"bytes */{SIZE}" and response.content == b""


def test_put_rules_after_the_first_chunk(two_chunk_upload, server):
    data, video = two_chunk_upload
    url = data["upload_url"]
    assert put_chunk(url, video[:CHUNK], 0, SIZE).status_code == 206
    resent = put_chunk(url, video[:CHUNK], 0, SIZE)  # overlap: already accepted
    assert resent.status_code == 416 and resent.headers["Content-Range"] == f"bytes 0-{CHUNK - 1}/{SIZE}"
    short_final = put_chunk(url, video[CHUNK:SIZE - 1], CHUNK, SIZE)  # does not end at size - 1
    assert short_final.status_code == 416
    final = put_chunk(url, video[CHUNK:], CHUNK, SIZE)
    assert final.status_code == 201 and final.headers["Content-Range"] == f"bytes 0-{SIZE - 1}/{SIZE}"
    after = put_chunk(url, video[CHUNK:], CHUNK, SIZE)
    assert after.status_code == 416 and after.headers["Content-Range"] == f"bytes 0-{SIZE - 1}/{SIZE}"
    assert server.state.posts[data["publish_id"]].sha256 == hashlib.sha256(video).hexdigest()


def test_unknown_upload_or_wrong_token_is_404(two_chunk_upload):
    data, video = two_chunk_upload
    wrong_token = data["upload_url"].rsplit("=", 1)[0] + "=nope"
    wrong_id = data["upload_url"].replace("upload_id=", "upload_id=9")
    for url in (wrong_token, wrong_id):
        response = put_chunk(url, video[:CHUNK], 0, SIZE)
        assert response.status_code == 404 and "Content-Range" not in response.headers


def test_upload_url_expires_after_an_hour_on_the_emulator_clock(two_chunk_upload, server):
    data, video = two_chunk_upload
    assert put_chunk(data["upload_url"], video[:CHUNK], 0, SIZE).status_code == 206
    EmulatorRemote(server.url).advance_clock(3600)
    expired = put_chunk(data["upload_url"], video[CHUNK:], CHUNK, SIZE)
    assert expired.status_code == 403 and expired.headers["Content-Range"] == f"bytes 0-{CHUNK - 1}/{SIZE}"


def test_content_length_differing_from_the_range_is_400(two_chunk_upload):
    data, video = two_chunk_upload
    # the range says 5 MiB, the body (and Content-Length) is one byte longer
    response = put_chunk(data["upload_url"], video[:CHUNK + 1], 0, SIZE,
                         headers={"Content-Range": f"bytes 0-{CHUNK - 1}/{SIZE}"})
    assert response.status_code == 400


def test_injected_503_with_retry_after_then_the_same_chunk_succeeds(two_chunk_upload, server):
    data, video = two_chunk_upload
    EmulatorRemote(server.url).inject_fault(UPLOAD_PATH, status=503, retry_after=3)
    busy = put_chunk(data["upload_url"], video[:CHUNK], 0, SIZE)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "3"
    assert server.state.posts[data["publish_id"]].bytes_received == 0
    assert put_chunk(data["upload_url"], video[:CHUNK], 0, SIZE).status_code == 206


def test_connection_dropped_mid_chunk_keeps_progress_at_the_last_whole_chunk(two_chunk_upload, server):
    data, video = two_chunk_upload
    url = data["upload_url"]
    assert put_chunk(url, video[:CHUNK], 0, SIZE).status_code == 206
    refused = requests.post(server.url + "/_emulator/faults", json={"path": UPLOAD_PATH, "drop_after_bytes": -1},
                            timeout=10)
    assert refused.status_code == 400 and "drop_after_bytes" in refused.json()["error"]
    response = requests.post(server.url + "/_emulator/faults",
                             json={"path": UPLOAD_PATH, "drop_after_bytes": 1_000_000}, timeout=10)
    assert response.status_code == 201
    with pytest.raises(requests.ConnectionError):
        put_chunk(url, video[CHUNK:], CHUNK, SIZE)
    post = server.state.posts[data["publish_id"]]
    assert post.bytes_received == CHUNK and post.sha256 is None
    final = put_chunk(url, video[CHUNK:], CHUNK, SIZE)
    assert final.status_code == 201
    assert post.sha256 == hashlib.sha256(video).hexdigest()


def test_state_shows_posts_without_upload_tokens(two_chunk_upload, server):
    data, _ = two_chunk_upload
    token = data["upload_url"].rsplit("upload_token=", 1)[1]
    text = requests.get(server.url + "/_emulator/state", timeout=10).text
    assert data["publish_id"] in text and token not in text


def test_status_of_unknown_or_foreign_publish_ids(poster, server, clip):
    data = start_upload(poster, clip.stat().st_size)
    unknown = poster.status("v_pub_file~v2.1")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid_publish_id"
    other = Poster(server.url, login(server, BO))
    foreign = other.status(data["publish_id"])
    assert foreign.status_code == 400
    assert foreign.json()["error"]["code"] == "token_not_authorized_for_specified_publish_id"
    missing = poster.call("status/fetch/", {})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid_param"


def test_status_keeps_working_with_a_refreshed_token_of_the_same_user(poster, server, clip):
    data = start_upload(poster, clip.stat().st_size)
    again = Poster(server.url, login(server, ADA))
    assert again.ok_data(again.status(data["publish_id"]))["status"] == "PROCESSING_UPLOAD"


def test_cancel_is_refused_for_file_uploads(poster, clip):
    data = start_upload(poster, clip.stat().st_size)
    refused = poster.cancel(data["publish_id"])
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "publish_not_cancellable"


def test_client_that_hangs_up_mid_chunk_loses_only_that_chunk(two_chunk_upload, server):
    data, video = two_chunk_upload
    url = data["upload_url"]
    assert put_chunk(url, video[:CHUNK], 0, SIZE).status_code == 206
    target = urlsplit(url)
    head = (f"PUT {target.path}?{target.query} HTTP/1.1\r\nHost: {target.netloc}\r\nContent-Type: video/mp4\r\n"
            f"Content-Length: {SIZE - CHUNK}\r\nContent-Range: bytes {CHUNK}-{SIZE - 1}/{SIZE}\r\n\r\n")
    with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
        raw.sendall(head.encode() + video[CHUNK:CHUNK + 2_000_000])
    post = server.state.posts[data["publish_id"]]
    deadline = time.monotonic() + 5
    while post.partial_chunks_discarded == 0 and time.monotonic() < deadline:
        time.sleep(0.005)  # the server notices the hang-up on its own thread
    assert post.partial_chunks_discarded == 1 and post.bytes_received == CHUNK
    assert Path(post.media_path).stat().st_size == CHUNK  # the partial bytes were cut off the file
    final = put_chunk(url, video[CHUNK:], CHUNK, SIZE)
    assert final.status_code == 201 and post.sha256 == hashlib.sha256(video).hexdigest()
    assert Path(post.media_path).stat().st_size == SIZE


@pytest.mark.parametrize("headers", [
    {"Content-Length": "abc"},
    {"Transfer-Encoding": "chunked"},
])
def test_missing_or_garbled_content_length_is_400(two_chunk_upload, headers):
    data, _ = two_chunk_upload
    target = urlsplit(data["upload_url"])
    lines = [f"PUT {target.path}?{target.query} HTTP/1.1", f"Host: {target.netloc}", "Content-Type: video/mp4",
             f"Content-Range: bytes 0-{CHUNK - 1}/{SIZE}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    body = b"0\r\n\r\n" if "Transfer-Encoding" in headers else b""
    with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
        raw.sendall("\r\n".join(lines).encode() + body)
        reply = raw.makefile("rb").readline()
    assert reply.split()[1] == b"400"
