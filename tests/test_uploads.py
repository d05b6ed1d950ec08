"""The composer's sliced uploads (tiktok/web/uploads.py) over real loopback HTTP, against the strict emulator.

The protocol runs on the app served in a thread (conftest's ``serve_app``, its clock injected, slices of
:data:`STEP` so that a file of a few slices is a few megabytes; werkzeug's server hands the app each slice's body): a
video sent in slices, out of order and a few at once, is kept exactly as the single upload kept it; everything that
can refuse an upload refuses it at the start with nothing written; a lost slice is sent again and the upload
resumes; finishing with a slice missing is refused and names it; a full disk, real (a small tmpfs where mount is
allowed) or not, answers 507 in plain words and removes the part file; the quota and the idle limit hold.

The server's part runs on the real server (``python app.py``, waitress, as shipped, slices of 64 MiB): a 1 GB body
is refused at once on every route, chunked or not, and so is a slice the app does not expect (an unknown upload, a
wrong length or number, another page's token); an expected slice goes straight into the part file, written once
(the process's own count of bytes written), with no body in memory (its peak RSS) and nothing in TMPDIR; a slice cut
off mid-way is not counted and is sent again; one sent with another browser's session is not counted; a full disk
under the server's writes still answers the JSON 507 and removes the part file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from hypothesis import given, strategies as st

from tiktok.emulator.config import default_users
from tiktok.posting.composition import is_media_id
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.web.run import max_body_bytes
from tiktok.web.uploads import (DISK_MARGIN_BYTES, EXPIRED, IDLE_LIMIT_S, SLICE_BYTES, SLICE_REFUSED,
                                UPLOADS_PER_BROWSER, Uploads, owner_of, slice_count, slice_span)
from tests.media_fixtures import make_video
from tests.support.app_process import start_app, stop_app
from tests.support.flows import WebClient, link_account
from tests.support.mounts import mount, umount
from tests.support.posting import sha256_file
from tests.support.uploads import (SliceClient, bytes_on_disk, bytes_written, csrf_of, open_files_in,
                                   reset_peak_rss, status_kb)

ADA, BO = (u.open_id for u in default_users()[:2])
SCOPES = ("user.info.basic", "video.publish", "video.upload")
GB = 1024 ** 3
REFUSED_WITHIN_S = 0.5
ACCEPTED_AT_MOST = 10_000_000  # bytes curl may have sent before the refusal reached it
STEP = 1024 * 1024  # the in-thread app's slices (the shipped 64 MiB would make each case a 200 MB file in memory)


def small_slices(served):
    """``served`` (conftest's ServedApp), its uploads from now on in slices of :data:`STEP`."""
    served.flask_app.extensions["tiktok_uploads"].slice_bytes = STEP
    return served


def noisy_video(path: Path, size: int) -> Path:
    """A real MP4 of exactly ``size`` bytes whose tail is random (a ``free`` box), so a slice written at the wrong
    offset, or twice in two places, changes the file's digest."""
    clip = make_video(path.with_suffix(".clip.mp4"), seconds=3.0)
    data = clip.read_bytes()
    clip.unlink()
    pad = size - len(data)
    path.write_bytes(data + pad.to_bytes(4, "big") + b"free" + os.urandom(pad - 8))
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """3.5 slices: three whole ones and a short last one."""
    return noisy_video(tmp_path_factory.mktemp("videos") / "holiday.mp4", 3 * STEP + STEP // 2)


@pytest.fixture
def app(serve_app, emulator, oauth, store, tmp_path):
    for open_id in (ADA, BO):
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)
    return small_slices(serve_app(MEDIA_DIR=str(tmp_path / "media")))


def browser(app, open_id: str = ADA) -> SliceClient:
    """A new browser with the composer open for ``open_id``."""
    return SliceClient.for_page(app.url, requests.Session(), open_id)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".upload-*.part")) if folder.exists() else []


# -- the protocol ---------------------------------------------------------------------------------------------------

def test_a_video_sent_in_slices_out_of_order_is_kept_as_the_single_upload_kept_it(app, video, tmp_path):
    client = browser(app)
    started = client.start(ADA, "Holiday – the beach.mp4", video.stat().st_size)
    assert started.status_code == 201, started.text
    plan = started.json()
    assert (plan["slice_bytes"], plan["slices"]) == (STEP, 4)
    (part,) = part_files(tmp_path / "media")
    assert part.stat().st_size == video.stat().st_size and part.stat().st_blocks == 0  # sparse until slices come
    assert client.send(video, plan, [3, 1, 2, 0, 1]) == 5  # any order; a slice sent twice is written twice, alike
    assert client.status(plan["url"]).json() == {"upload_id": plan["upload_id"], "slices": 4,
                                                 "slice_bytes": STEP, "received": 4, "missing": []}
    answer = client.finish(plan["url"])
    assert answer.status_code == 200, answer.text
    media = answer.json()
    assert is_media_id(media["media_id"]) and media["media_id"].endswith("-Holiday-the-beach.mp4")
    assert media["original_name"] == "Holiday – the beach.mp4" and media["problems"] == []
    assert (media["size_bytes"], media["container"], media["video_codec"]) == (video.stat().st_size, "mp4", "h264")
    assert media["max_duration_s"] == 600 and media["preview_url"] == f"/posts/media/{media['media_id']}"
    kept = tmp_path / "media" / media["media_id"]
    assert files_in(tmp_path / "media") == [media["media_id"]]  # the part file became the upload
    assert sha256_file(kept) == sha256_file(video)
    preview = client.http.get(app.url + media["preview_url"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert preview.status_code == 206 and preview.content == video.read_bytes()[:100]
    assert client.status(plan["url"]).status_code == 404  # finished: no longer in progress


@pytest.mark.parametrize("token, open_id, body, status, words", [
    pytest.param("forged", ADA, {"name": "a.mp4", "size": 10}, 400, "reload", id="wrong-csrf-token"),
    pytest.param("", ADA, {"name": "a.mp4", "size": 10}, 400, "reload", id="no-csrf-token"),
    pytest.param(None, "no-such-account", {"name": "a.mp4", "size": 10}, 400, "open_id", id="unknown-account"),
    pytest.param(None, ADA, {"name": "a.mp4"}, 400, '"size"', id="no-size"),
    pytest.param(None, ADA, {"name": "a.mp4", "size": "10"}, 400, '"size"', id="size-as-text"),
    pytest.param(None, ADA, {"name": "a.mp4", "size": 0}, 400, "No file", id="empty-file"),
    pytest.param(None, ADA, {"name": "a.mp4", "size": MAX_VIDEO_BYTES + 1}, 413, "4 GB", id="over-4-gb"),
])
def test_what_can_refuse_an_upload_refuses_it_at_the_start_with_nothing_written(app, tmp_path, token, open_id, body,
                                                                                status, words):
    client = browser(app)
    answer = client.call("POST", f"/posts/new/uploads?open_id={open_id}", body=body, token=token)
    assert answer.status_code == status and words in answer.json()["error"], answer.text
    assert files_in(tmp_path / "media") == []
    assert app.flask_app.extensions["tiktok_uploads"].in_progress() == []


def test_a_creator_tiktok_refuses_is_refused_at_the_start(app, remote, tmp_path):
    remote.inject_fault("/v2/post/publish/creator_info/query/", status=200, error="spam_risk_too_many_posts")
    client = SliceClient(app.url, requests.Session(), "")
    client.csrf = csrf_of(client.http.get(app.url + "/", timeout=10).text)  # no composer page: no answer cached
    answer = client.start(ADA, "a.mp4", 10)
    assert answer.status_code == 403 and "spam_risk_too_many_posts" in answer.json()["error"]
    assert files_in(tmp_path / "media") == []


def cut_slice(url: str, path: str, cookies: dict[str, str], token: str, data: bytes) -> None:
    """PUT a slice and drop the connection halfway through its body, as a network that goes away does."""
    host, port = url.removeprefix("http://").split(":")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\nX-CSRF-Token: {token}\r\n"
                     f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        sock.sendall(data[:len(data) // 2])


def test_a_slice_lost_with_its_connection_is_sent_again_and_the_upload_resumes(app, video, tmp_path):
    client = browser(app)
    plan = client.start(ADA, video.name, video.stat().st_size).json()
    client.send(video, plan, [0, 1, 3])
    with video.open("rb") as handle:
        handle.seek(2 * STEP)
        lost = handle.read(STEP)
    cut_slice(app.url, f"{plan['url']}/2", client.http.cookies.get_dict(), client.csrf, lost)
    deadline = time.monotonic() + 10
    while (status := client.status(plan["url"]).json())["missing"] != [2]:  # the page asks which arrived
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["received"] == 3
    client.send(video, plan, status["missing"])  # and sends only what is missing
    answer = client.finish(plan["url"])
    assert answer.status_code == 200, answer.text
    assert sha256_file(tmp_path / "media" / answer.json()["media_id"]) == sha256_file(video)


def test_finishing_with_a_slice_missing_is_refused_naming_it_and_the_upload_waits(app, video, tmp_path):
    client = browser(app)
    plan = client.start(ADA, video.name, video.stat().st_size).json()
    client.send(video, plan, [0, 2])
    answer = client.finish(plan["url"])
    assert answer.status_code == 409 and answer.json()["missing"] == [1, 3], answer.text
    assert "2 slices of holiday.mp4 did not arrive" in answer.json()["error"]
    assert [p.name for p in part_files(tmp_path / "media")] == files_in(tmp_path / "media")  # nothing kept yet
    client.send(video, plan, [1, 3])
    assert client.finish(plan["url"]).status_code == 200


@pytest.mark.parametrize("index, data, words", [
    ("0", b"x" * (STEP - 1), f"must be {STEP} bytes"),
    ("3", b"x" * STEP, f"must be {STEP // 2} bytes"),  # the last slice is the short one
    ("4", b"x", "There is no slice '4'"),
    ("-1", b"x", "There is no slice '-1'"),
    ("one", b"x", "There is no slice 'one'"),
])
def test_a_slice_of_the_wrong_size_or_number_is_refused_and_not_counted(app, video, index, data, words):
    client = browser(app)
    plan = client.start(ADA, video.name, video.stat().st_size).json()
    answer = client.call("PUT", f"{plan['url']}/{index}", data=data)
    assert answer.status_code == 400 and words in answer.json()["error"], answer.text
    assert client.status(plan["url"]).json()["received"] == 0


def test_an_upload_belongs_to_the_browser_that_started_it(app, video):
    owner, other = browser(app), browser(app)
    plan = owner.start(ADA, video.name, video.stat().st_size).json()
    piece = video.read_bytes()[:STEP]
    for method, path, data in (("GET", plan["url"], None), ("PUT", plan["url"] + "/0", piece),
                               ("POST", plan["url"] + "/finish", None), ("DELETE", plan["url"], None)):
        answer = other.call(method, path, data=data)
        assert answer.status_code == 404 and "not in progress" in answer.json()["error"], (method, answer.text)
        assert owner.call(method, path, data=data, token="forged").status_code == 400  # the token, every time
    assert owner.status(plan["url"]).json()["received"] == 0  # untouched


def test_abandoning_removes_the_part_file_at_once(app, video, tmp_path):
    client = browser(app)
    plan = client.start(ADA, video.name, video.stat().st_size).json()
    client.send(video, plan, [0])
    assert client.abandon(plan["url"]).status_code == 204
    assert files_in(tmp_path / "media") == []
    assert client.abandon(plan["url"]).status_code == 404
    answer = client.put(plan["url"], 1, b"x" * STEP)
    assert answer.status_code == 404 and answer.headers["Content-Type"] == "application/json"


def test_a_browser_may_have_a_few_uploads_in_progress(app, tmp_path):
    client = browser(app)
    plans = [client.start(ADA, f"{n}.mp4", 5_000_000) for n in range(UPLOADS_PER_BROWSER)]
    assert [p.status_code for p in plans] == [201] * UPLOADS_PER_BROWSER
    over = client.start(ADA, "one-more.mp4", 5_000_000)
    assert over.status_code == 429 and f"{UPLOADS_PER_BROWSER} uploads in progress" in over.json()["error"]
    assert len(part_files(tmp_path / "media")) == UPLOADS_PER_BROWSER
    assert browser(app, BO).start(BO, "other-browser.mp4", 5_000_000).status_code == 201  # per browser
    assert client.abandon(plans[0].json()["url"]).status_code == 204
    assert client.start(ADA, "now-it-fits.mp4", 5_000_000).status_code == 201


def test_an_upload_idle_for_an_hour_is_dropped_with_its_file(app, video, tmp_path):
    client = browser(app)
    plan = client.start(ADA, video.name, video.stat().st_size).json()
    client.send(video, plan, [0])
    orphan = tmp_path / "media" / ".upload-left-by-an-app-that-stopped.part"
    orphan.write_bytes(b"x" * 100)
    app.clock.advance(IDLE_LIMIT_S - 60)
    assert client.status(plan["url"]).json()["received"] == 1  # each request counts as news
    app.clock.advance(IDLE_LIMIT_S - 60)
    assert client.status(plan["url"]).status_code == 200
    app.clock.advance(IDLE_LIMIT_S + 1)
    answer = client.status(plan["url"])
    assert answer.status_code == 404 and "dropped after 1 h" in answer.json()["error"]
    assert not Path(tmp_path / "media" / f".upload-{plan['upload_id']}.part").exists()
    os.utime(orphan, (app.clock() - IDLE_LIMIT_S - 1,) * 2)
    assert client.start(ADA, "next.mp4", 1000).status_code == 201  # a start sweeps part files nobody owns
    assert not orphan.exists()


# -- the disk ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 160 MiB tmpfs where the machine allows mount (None otherwise): a disk that really fills."""
    disk = tmp_path / "disk"
    disk.mkdir()
    refused = mount("-t", "tmpfs", "-o", "size=160m,mode=0700", "tmpfs", str(disk))
    yield (disk if refused is None else None), refused
    if refused is None:
        umount(disk)


def test_a_file_bigger_than_the_free_space_is_refused_at_the_start(serve_app, emulator, oauth, store, small_disk,
                                                                   tmp_path):
    disk, refused = small_disk
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    media = (disk or tmp_path) / "media"
    app = serve_app(MEDIA_DIR=str(media))
    media.mkdir(exist_ok=True)
    client = browser(app)
    if disk is not None:
        free = shutil.disk_usage(media).free
        answer = client.start(ADA, "too-big.mp4", free + 1)
        assert answer.status_code == 507, answer.text
        assert f"not enough free space in MEDIA_DIR ({media.resolve()})" in answer.json()["error"]
        fits_but_no_margin = client.start(ADA, "nearly.mp4", free - DISK_MARGIN_BYTES + 1)
        assert fits_but_no_margin.status_code == 507  # the margin stays free for the stores and logs
        assert client.start(ADA, "fits.mp4", free - DISK_MARGIN_BYTES - 1_000_000).status_code == 201
    else:  # no mount here: a real disk with more free space than 4 GB fills with uploads in progress instead
        answer, started = None, 0
        while answer is None or answer.status_code == 201:
            if started and started % UPLOADS_PER_BROWSER == 0:
                client = browser(app)
            answer = client.start(ADA, f"{started}.mp4", MAX_VIDEO_BYTES)
            started += answer.status_code == 201
            assert started * MAX_VIDEO_BYTES <= shutil.disk_usage(media).free + MAX_VIDEO_BYTES, refused
        assert answer.status_code == 507 and "still to come for uploads in progress" in answer.json()["error"]
    assert [p for p in files_in(media) if not p.startswith(".upload-")] == []


def test_a_disk_that_fills_during_the_upload_answers_507_and_removes_the_part(serve_app, emulator, oauth, store,
                                                                              small_disk, tmp_path):
    disk, refused = small_disk
    how = "a full 160 MiB tmpfs" if disk is not None else f"/dev/full (mount not permitted: {refused})"
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    media = (disk or tmp_path) / "media"
    app = small_slices(serve_app(MEDIA_DIR=str(media)))
    client = browser(app)
    plan = client.start(ADA, "big.mp4", 40 * STEP).json()
    (part,) = part_files(media)
    if disk is not None:
        filler = disk / "filler"
        with filler.open("wb") as handle:
            try:
                while True:
                    handle.write(b"\0" * STEP)
                    handle.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    else:  # writes to /dev/full fail with ENOSPC, as a full disk's do
        part.unlink()
        part.symlink_to("/dev/full")
    answers = [client.put(plan["url"], n, b"\x01" * STEP) for n in range(3)]
    assert answers[0].status_code == 507, f"[{how}] {answers[0].text}"
    assert f"The disk holding MEDIA_DIR ({media.resolve()}) is full" in answers[0].json()["error"], how
    assert answers[0].headers["Content-Type"] == "application/json"
    assert [a.status_code for a in answers[1:]] == [404, 404], how  # the upload is over
    assert part_files(media) == [], how


# -- the slices' arithmetic ---------------------------------------------------------------------------------------

@given(size=st.integers(min_value=1, max_value=MAX_VIDEO_BYTES), slice_bytes=st.integers(min_value=1,
                                                                                        max_value=8 * SLICE_BYTES))
def test_the_slices_cover_the_file_once_in_order(size, slice_bytes):
    count = slice_count(size, slice_bytes)
    spans = [slice_span(size, slice_bytes, i) for i in (0, count - 1)]
    assert spans[0][0] == 0 and sum(spans[-1]) == size  # the first starts the file, the last ends it
    assert all(0 < length <= slice_bytes for _, length in spans)
    assert (count - 1) * slice_bytes < size <= count * slice_bytes  # so every slice but the last is whole
    with pytest.raises(IndexError):
        slice_span(size, slice_bytes, count)


# -- what the server writes as it arrives ---------------------------------------------------------------------------

@pytest.fixture
def expecting(tmp_path) -> tuple[Uploads, str, str]:
    """Uploads with one in progress (3.5 slices of :data:`STEP`): (uploads, its slices' path, its page's token)."""
    uploads = Uploads(lambda: 1000.0, slice_bytes=STEP)
    upload = uploads.open(owner_of("the-page-token"), ADA, tmp_path, "a.mp4", 3 * STEP + STEP // 2, None)
    return uploads, f"/posts/new/uploads/{upload.id}", "the-page-token"


@pytest.mark.parametrize("index, length, token, lands", [
    ("0", STEP, None, True),
    ("3", STEP // 2, None, True),  # the short last slice
    ("3", STEP, None, False),  # not its length
    ("0", STEP - 1, None, False),
    ("0", STEP + 1, None, False),
    ("4", STEP, None, False),  # past the last
    ("0", STEP, "another-page-token", False),
    ("0", STEP, "", False),
])
def test_the_server_writes_a_slice_as_it_arrives_only_when_the_upload_expects_it(expecting, index, length, token,
                                                                                 lands):
    uploads, url, mine = expecting
    landing = uploads.direct_target(f"{url}/{index}", length, mine if token is None else token)
    assert (landing is not None) == lands
    if lands:
        assert (landing.index, landing.offset, landing.length) == (int(index), int(index) * STEP, length)


@pytest.mark.parametrize("path", [f"/posts/new/uploads/{'0' * 32}/0", "/posts/new/uploads/0123/0",
                                  "/posts/new/uploads/{id}/0/", "/posts/new/uploads/{id}/finish",
                                  "/posts/new/uploads/{id}/+0", "/other/{id}/0"])
def test_no_other_path_is_written_as_it_arrives(expecting, path):
    uploads, url, mine = expecting
    upload_id = url.rsplit("/", 1)[-1]
    assert uploads.direct_target(path.replace("{id}", upload_id), STEP, mine) is None


def test_a_landing_writes_its_slice_in_place_and_leaves_the_next_request_alone(expecting, tmp_path):
    uploads, url, mine = expecting
    landing = uploads.direct_target(f"{url}/1", STEP, mine)
    piece = os.urandom(STEP)
    assert landing.take(piece[:1000]) == 1000 and not landing.complete
    assert landing.take(piece[1000:] + b"GET / HTTP/1.1\r\n") == STEP - 1000  # the rest is the next request's
    assert landing.complete and landing.error is None
    (part,) = part_files(tmp_path)
    with part.open("rb") as handle:
        handle.seek(STEP - 1)
        assert handle.read(STEP + 2) == b"\0" + piece + b"\0"  # at its offset, nothing around it touched
    part.unlink()
    part.symlink_to("/dev/full")  # writes fail with ENOSPC, as a full disk's do
    failing = uploads.direct_target(f"{url}/2", STEP, mine)
    assert failing.take(piece) == STEP and failing.complete  # read to its end, so the app can answer
    assert failing.error is not None and failing.error.errno == errno.ENOSPC


def test_bodies_held_in_memory_stay_about_a_megabyte_and_a_slice_goes_around_them():
    assert 1024 * 1024 < max_body_bytes() <= 1024 * 1024 + 128 * 1024
    assert SLICE_BYTES >= 32 * max_body_bytes()  # a slice can only come the direct way, straight to its file


# -- the real server, as shipped --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_video(tmp_path_factory) -> Path:
    """Slices of the shipped size: two whole ones and a third of one (random bytes, so a misplaced slice shows)."""
    return noisy_video(tmp_path_factory.mktemp("big") / "trip.mp4", 2 * SLICE_BYTES + SLICE_BYTES // 3)


def start_real_app(tmp_path: Path, **env: str):
    """``python app.py`` (emulator mode, waitress) with Ada linked through its own login, and an empty TMPDIR."""
    spool = tmp_path / "spool"
    spool.mkdir()
    proc, url = start_app(tmp_path, env={"TMPDIR": str(spool), **env})
    web = WebClient(url)
    assert web.login(open_id=ADA).status_code == 302
    return proc, url, web, spool


@pytest.fixture
def real_app(tmp_path):
    proc, url, web, spool = started = start_real_app(tmp_path)
    yield started
    if proc.poll() is None:
        stop_app(proc)


def cookie_of(http: requests.Session) -> str:
    return "; ".join(f"{k}={v}" for k, v in http.cookies.get_dict().items())


def curl(url: str, *args: str, body: Path, method: str = "POST") -> tuple[int, float, float, str, str]:
    """curl streaming ``body`` (``-T``: with ``Expect: 100-continue`` past 1 MiB, as curl sends it): (status, bytes
    it sent, seconds, its complaint if any, the answer's body)."""
    answer = body.with_name(body.name + ".answer")
    done = subprocess.run(["curl", "-sS", "-o", str(answer), "-w", "%{http_code} %{size_upload} %{time_total}",
                           "-X", method, "-T", str(body), *args, url], capture_output=True, text=True, timeout=60)
    status, sent, took = done.stdout.split()
    said = answer.read_text() if answer.exists() else ""
    answer.unlink(missing_ok=True)
    return int(status), float(sent), float(took), f"exit {done.returncode} {done.stderr.strip()}", said


def sparse_file(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # no disk used; reads as zeros
    return path


@pytest.mark.slow
def test_a_1_gb_body_is_refused_at_once_on_every_route_chunked_or_not(real_app, tmp_path):
    proc, url, web, spool = real_app
    client = SliceClient.for_page(url, web.http, ADA)
    token, cookie = client.csrf, cookie_of(web.http)
    plan = client.start(ADA, "expected.mp4", 2 * SLICE_BYTES).json()  # slices the app expects: 0 and 1
    huge, one_slice = sparse_file(tmp_path / "huge.mp4", GB), sparse_file(tmp_path / "slice", SLICE_BYTES)
    mine = ["-H", f"X-CSRF-Token: {token}"]
    cases = {
        "upload, right token": ("POST", f"/posts/new/uploads?open_id={ADA}", mine, huge),
        "upload, wrong token": ("POST", f"/posts/new/uploads?open_id={ADA}", ["-H", "X-CSRF-Token: forged"], huge),
        "upload, unknown account": ("POST", "/posts/new/uploads?open_id=nobody", mine, huge),
        "a slice of an unknown upload": ("PUT", f"/posts/new/uploads/{'0' * 32}/0", mine, huge),
        "a slice of the wrong length": ("PUT", f"{plan['url']}/0", mine, huge),
        "a slice past the last": ("PUT", f"{plan['url']}/2", mine, one_slice),
        "a slice with another page's token": ("PUT", f"{plan['url']}/0", ["-H", "X-CSRF-Token: forged"], one_slice),
        "no slice's address": ("PUT", "/posts/new/uploads/0123/0", mine, huge),
        "the composer's form": ("POST", "/posts/new", [], huge),
        "the accounts page": ("POST", "/", [], huge),
        "a foreign Host": ("POST", "/refresh_tokens/", ["-H", "Host: evil.example"], huge),
    }
    for what, (method, path, extra, body) in cases.items():
        for chunked in ([], ["-H", "Transfer-Encoding: chunked"]):
            status, sent, took, said, answer = curl(url + path, "-H", f"Cookie: {cookie}", *extra, *chunked,
                                                    body=body, method=method)
            label = f"{what}{', chunked' if chunked else ''}"
            # (a client still sending when the refusal closes the connection may see it reset before the 413)
            assert status == 413 or "reset by peer" in said, f"{label}: {status} {said}"
            assert took < REFUSED_WITHIN_S and sent < ACCEPTED_AT_MOST, f"{label}: {sent:.0f} bytes in {took:.2f} s"
            if status == 413 and what.startswith("a slice"):  # in words the page shows
                assert json.loads(answer) == {"error": SLICE_REFUSED}, f"{label}: {answer}"
    assert client.status(plan["url"]).json()["received"] == 0
    assert bytes_on_disk([spool, tmp_path / "media"], [proc.pid]) == 0  # the part file: sparse, nothing written


@pytest.mark.slow
def test_a_whole_upload_goes_through_the_real_server_written_once_with_no_body_in_memory(real_app, video, big_video,
                                                                                          tmp_path):
    proc, url, web, spool = real_app
    client = SliceClient.for_page(url, web.http, ADA)
    forged = client.start(ADA, video.name, video.stat().st_size, token="forged")
    assert forged.status_code == 400 and files_in(tmp_path / "media") == []
    unknown = client.start("nobody", video.name, video.stat().st_size)
    assert unknown.status_code == 400 and files_in(tmp_path / "media") == []
    first = client.upload(video, ADA)  # one slice; and the probe and the media library are warm
    assert first.status_code == 200, first.text
    assert sha256_file(tmp_path / "media" / first.json()["media_id"]) == sha256_file(video)

    size = big_video.stat().st_size
    plan = client.start(ADA, big_video.name, size).json()
    assert (plan["slice_bytes"], plan["slices"]) == (SLICE_BYTES, 3)  # the shipped size, as the server names it
    reset_peak_rss(proc.pid)
    rss, written = status_kb(proc.pid, "VmRSS") * 1024, bytes_written(proc.pid)
    assert client.send(big_video, plan, [2, 0, 1]) == 3
    answer = client.finish(plan["url"])
    assert answer.status_code == 200, answer.text
    written, grown = bytes_written(proc.pid) - written, status_kb(proc.pid, "VmHWM") * 1024 - rss
    assert size <= written < size + 4 * 1024 * 1024, f"{written} bytes written for {size}"  # once
    assert grown < 16 * 1024 * 1024, f"peak RSS {grown / 2**20:.1f} MiB over its start"  # 3 bodies held: 150 MiB
    assert sha256_file(tmp_path / "media" / answer.json()["media_id"]) == sha256_file(big_video)

    small = client.start(ADA, "small.mp4", 512 * 1024).json()  # one slice under the limit on bodies held
    said = chunked_put(url, client, small["url"] + "/0", os.urandom(512 * 1024))
    assert said.startswith(b"HTTP/1.1 200"), said[:300]  # a slice may come chunked, within the limit
    assert bytes_on_disk([spool], [proc.pid]) == 0  # no body ever went to TMPDIR
    other = client.start(ADA, video.name, video.stat().st_size).json()
    assert client.call("PUT", f"{other['url']}/0", data=b"too short").status_code == 400
    log = stop_app(proc)
    assert f"upload kept as {answer.json()['media_id']}" in log and '"POST /posts/new/uploads?open_id=' in log
    puts = [line for line in log.splitlines() if '"PUT /posts/new/uploads/' in line]
    assert puts == [puts[0]] and puts[0].endswith(f'"PUT {other["url"]}/0" 400')  # only the refused slice


def chunked_put(url: str, client: SliceClient, path: str, data: bytes) -> bytes:
    """PUT ``data`` to ``path`` chunked (64 KiB chunks); the server's answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie_of(client.http)}\r\n"
                     f"X-CSRF-Token: {client.csrf}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     .encode())
        for at in range(0, len(data), 64 * 1024):
            chunk = data[at:at + 64 * 1024]
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        answer = b""
        while block := sock.recv(65536):  # to the end: the server closes the connection after it
            answer += block
        return answer


@pytest.mark.slow
def test_a_slice_cut_off_on_the_way_to_its_file_is_not_counted_and_is_sent_again(real_app, big_video, tmp_path):
    proc, url, web, spool = real_app
    media = tmp_path / "media"
    client = SliceClient.for_page(url, web.http, ADA)
    plan = client.start(ADA, big_video.name, big_video.stat().st_size).json()
    client.send(big_video, plan, [0, 2])
    before = bytes_on_disk([media])
    with big_video.open("rb") as handle:
        handle.seek(SLICE_BYTES)
        lost = handle.read(SLICE_BYTES)
    cut_slice(url, f"{plan['url']}/1", web.http.cookies.get_dict(), client.csrf, lost)  # half of it, then gone
    deadline = time.monotonic() + 10
    while bytes_on_disk([media]) < before + SLICE_BYTES // 2:  # the half that came went to its place...
        assert time.monotonic() < deadline, f"{bytes_on_disk([media]) - before} bytes of the cut slice written"
        time.sleep(0.05)
    status = client.status(plan["url"]).json()
    assert (status["received"], status["missing"]) == (2, [1])  # ...and does not count
    assert open_files_in(proc.pid, media) == []  # nor is the part file held open for it
    client.send(big_video, plan, status["missing"])
    answer = client.finish(plan["url"])
    assert answer.status_code == 200, answer.text
    assert sha256_file(media / answer.json()["media_id"]) == sha256_file(big_video)


@pytest.mark.slow
def test_a_slice_sent_with_another_browsers_session_is_not_counted(real_app, big_video, tmp_path):
    proc, url, web, spool = real_app
    owner = SliceClient.for_page(url, web.http, ADA)
    stranger = SliceClient.for_page(url, requests.Session(), ADA)  # another browser, its own session and token
    plan = owner.start(ADA, big_video.name, big_video.stat().st_size).json()
    (part,) = part_files(tmp_path / "media")
    zeros = sparse_file(tmp_path / "zeros", SLICE_BYTES)
    target = f"{url}{plan['url']}/0"
    status, sent, _, said, answer = curl(target, "-H", f"Cookie: {cookie_of(stranger.http)}", "-H",
                                         f"X-CSRF-Token: {stranger.csrf}", body=zeros, method="PUT")
    assert (status, json.loads(answer)) == (413, {"error": SLICE_REFUSED}), said  # its token: refused at once
    assert sent < ACCEPTED_AT_MOST and part.stat().st_blocks == 0
    for cookie in (cookie_of(stranger.http), ""):  # the owner's token (taken from its page), not its session
        status, sent, _, said, answer = curl(target, "-H", f"Cookie: {cookie}", "-H", f"X-CSRF-Token: {owner.csrf}",
                                             body=zeros, method="PUT")
        assert status == 400 and json.loads(answer)["error"] == EXPIRED, (status, said, answer)
        assert sent == SLICE_BYTES and part.stat().st_blocks * 512 >= SLICE_BYTES  # written where it went...
    assert owner.status(plan["url"]).json()["missing"] == [0, 1, 2]  # ...and not counted
    owner.send(big_video, plan, [0, 1, 2])  # the owner's slices write over it
    answer = owner.finish(plan["url"])
    assert answer.status_code == 200, answer.text
    assert sha256_file(tmp_path / "media" / answer.json()["media_id"]) == sha256_file(big_video)


@pytest.mark.slow
def test_a_disk_that_fills_under_the_servers_writes_answers_the_json_507(small_disk, tmp_path):
    disk, refused = small_disk
    how = "a full 160 MiB tmpfs" if disk is not None else f"/dev/full (mount not permitted: {refused})"
    media = (disk or tmp_path) / "media"
    proc, url, web, spool = start_real_app(tmp_path, MEDIA_DIR=str(media))
    try:
        client = SliceClient.for_page(url, web.http, ADA)
        plan = client.start(ADA, "big.mp4", SLICE_BYTES + 1).json()  # fits beside the margin kept spare
        (part,) = part_files(media)
        if disk is not None:
            with (disk / "filler").open("wb") as handle:
                try:
                    while True:
                        handle.write(b"\0" * STEP)
                        handle.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        else:
            part.unlink()
            part.symlink_to("/dev/full")
        zeros = sparse_file(tmp_path / "zeros", SLICE_BYTES)
        status, sent, _, said, answer = curl(f"{url}{plan['url']}/0", "-H", f"Cookie: {cookie_of(web.http)}", "-H",
                                             f"X-CSRF-Token: {client.csrf}", body=zeros, method="PUT")
        assert status == 507, f"[{how}] {status} {said} {answer}"
        assert f"The disk holding MEDIA_DIR ({media.resolve()}) is full" in json.loads(answer)["error"], how
        assert part_files(media) == [] and client.status(plan["url"]).status_code == 404, how
        assert open_files_in(proc.pid, media) == [], how
        assert requests.get(url + "/", timeout=10).status_code == 200  # and the server goes on
    finally:
        stop_app(proc)


@pytest.mark.slow
def test_a_preview_read_slowly_holds_a_little_memory_and_nothing_in_tmpdir(real_app, big_video, tmp_path):
    """What the app has not sent yet of an answer waits in memory, a little of it: a player reading a video's preview
    slowly (here three that stopped reading) once put 21 MB a connection in TMPDIR, and might have held 16 MiB."""
    proc, url, web, spool = real_app
    answer = SliceClient.for_page(url, web.http, ADA).upload(big_video, ADA)
    assert answer.status_code == 200, answer.text
    host, port = url.removeprefix("http://").split(":")
    reset_peak_rss(proc.pid)
    rss = status_kb(proc.pid, "VmRSS") * 1024
    readers = []
    try:
        for _ in range(3):
            reader = socket.socket()
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            reader.connect((host, int(port)))
            reader.sendall(f"GET {answer.json()['preview_url']} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: "
                           f"{cookie_of(web.http)}\r\nRange: bytes=0-\r\n\r\n".encode())
            assert reader.recv(12) == b"HTTP/1.1 206"
            readers.append(reader)
        spooled, deadline = 0, time.monotonic() + 1.5  # the server pushes what it can meanwhile
        while time.monotonic() < deadline:
            spooled = max(spooled, bytes_on_disk([spool], [proc.pid]))
            time.sleep(0.02)
        grown = status_kb(proc.pid, "VmHWM") * 1024 - rss
    finally:
        for reader in readers:
            reader.close()
    assert spooled == 0, f"{spooled} bytes in TMPDIR"
    assert grown < 12 * 1024 * 1024, f"peak RSS {grown / 2**20:.1f} MiB over its start"
    assert requests.get(url + "/", timeout=10).status_code == 200


# -- the disk probe the browser test and the bench rely on ----------------------------------------------------------

def test_the_disk_probe_sees_a_deleted_file_a_process_still_holds(tmp_path):
    """Waitress spools bodies to unnamed temporary files: the probe must count those, not only the folder's names."""
    spool = tmp_path / "spool"
    spool.mkdir()
    code = ("import sys, tempfile; f = tempfile.TemporaryFile(); f.write(b'x' * 6_000_000); f.flush(); "
            "print('ready', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(spool)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert os.listdir(spool) == []  # nothing to see by name
        assert bytes_on_disk([spool], [holder.pid]) >= 6_000_000
        assert bytes_on_disk([spool]) == 0
    finally:
        holder.communicate("", timeout=10)
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as handle:
        handle.truncate(100_000_000)
        handle.write(b"y" * 100_000)
    assert 100_000 <= bytes_on_disk([tmp_path]) < 1_000_000  # blocks in use, not the files' lengths

