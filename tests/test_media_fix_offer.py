"""The composer's "Fix it": the upload's answer says whether a re-encode fixes the video, and
``POST /posts/new/media/<media_id>/fix`` makes the fixed copy, over real loopback HTTP against the app in a thread
and the strict emulator.

The offer (``"fixable"`` in the upload's JSON, tiktok.posting.composition) is held to the media doctor's own plan
by a property test: posting cannot import the doctor, so the two rules are written twice and must agree. The
video is the must-show's: an 8-bit H.265 MOV at "60 fps" as phones and renderers write it, 60.01 fps, which TikTok
(and the emulator) refuse with ``frame_rate_check_failed``. It goes up through the composer's own upload route,
is fixed, composed and posted; the emulator's probe reads what it received.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tiktok.emulator.config import default_users
from tiktok.emulator.media_checks import check_video as emulator_check_video
from tiktok.emulator.media_probe import probe_video
from tiktok.media.doctor.plan import plan_video
from tiktok.posting.composition import is_media_id, media_summary
from tiktok.posting.media import MediaInfo, check_video, probe
from tiktok.web.fixes import TURNS_KEY, WORK_PREFIX
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import sha256_file

ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")
SIXTY = Fraction(6001, 100)  # "60 fps" as written: 60.01, just over TikTok's 60
WAIT_S = 60.0  # only reached when something is broken


# -- the offer agrees with the doctor ---------------------------------------------------------------------------

SIDES = st.one_of(st.sampled_from([0, 1, 100, 359, 360, 361, 1080, 4096, 4097, 4500, 8192]), st.integers(1, 9000))
RATES = st.one_of(st.none(), st.sampled_from([15.0, 22.99, 23.0, 30.0, 59.94, 60.0, 60.01, 120.0]),
                  st.floats(1.0, 240.0))
LENGTHS = st.one_of(st.none(), st.sampled_from([0.5, 2.99, 3.0, 59.9, 60.0, 60.5, 600.0, 600.1]),
                    st.floats(0.001, 900.0))  # a probe's durations (far smaller ones overflow the bitrate cap)
VIDEOS = st.builds(MediaInfo, container=st.sampled_from(["mp4", "mov", "webm", "avi", "matroska", "3gp", "image2",
                                                         "gif", "png_pipe"]),
                   video_codec=st.sampled_from(["h264", "hevc", "vp8", "vp9", "mpeg4", "prores", "png"]),
                   width=SIDES, height=SIDES, fps=RATES, duration_s=LENGTHS,
                   size_bytes=st.sampled_from([1, 10_000_000, 4_000_000_000, 4_000_000_001, 5_000_000_000]),
                   has_audio=st.booleans())


@settings(max_examples=2000, deadline=None)
@given(video=VIDEOS, max_duration_s=st.sampled_from([None, 0, 60, 180, 600, 3600]))
def test_the_upload_offers_a_fix_exactly_when_the_doctor_would_make_one(video, max_duration_s):
    summary = media_summary(video, max_duration_s)
    assert summary["fixable"] is plan_video(video, max_duration_s=max_duration_s or None).needed
    if summary["fixable"]:
        assert summary["problems"]  # only ever offered for a video TikTok would refuse


# -- the composer, over HTTP --------------------------------------------------------------------------------------

@dataclass
class Composer:
    """The app, its media folder and a browser-like session on the composer."""

    served: object
    media: Path

    def __post_init__(self) -> None:
        self.web = self.served.client()
        self.web.get(f"/posts/new?open_id={ADA}")

    def csrf(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.web.get("/").text).group(1)

    def call(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf(), **kw.pop("headers", {})}
        return self.web.http.request(method, self.web.url + path if path.startswith("/") else path,
                                     headers=headers, timeout=120, **kw)

    def upload(self, path: Path) -> dict:
        """What compose.js does: start, send every slice, finish; the media JSON the page shows."""
        started = self.call("POST", f"/posts/new/uploads?open_id={ADA}",
                            json={"name": path.name, "size": path.stat().st_size})
        assert started.status_code == 201, started.text
        url, step = self.web.url + started.json()["url"], started.json()["slice_bytes"]
        data = path.read_bytes()
        for index in range(started.json()["slices"]):
            piece = data[index * step:(index + 1) * step]
            sent = self.call("PUT", f"{url}/{index}", data=piece,
                             headers={"Content-Type": "application/octet-stream"})
            assert sent.status_code == 200, sent.text
        finished = self.call("POST", f"{url}/finish")
        assert finished.status_code == 200, finished.text
        return finished.json()

    def fix(self, media_id: str, open_id: str = ADA, name: str = "render.mov", **kw) -> requests.Response:
        return self.call("POST", f"/posts/new/media/{media_id}/fix?open_id={open_id}",
                         headers={"X-File-Name": quote(name)}, **kw)

    def leftovers(self) -> list[str]:
        """Work folders and part files a fix or an upload left behind in MEDIA_DIR."""
        return [p.name for p in self.media.iterdir() if p.name.startswith(".")]


@pytest.fixture
def composer(serve_app, emulator, oauth, store, tmp_path) -> Composer:
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    media = tmp_path / "media"
    return Composer(serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(media)), media)


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Path:
    """The must-show's video: 8-bit (yuv420p) H.265 in MOV at 60.01 fps, 360x640, 3 s, with AAC sound."""
    return make_video(tmp_path_factory.mktemp("clips") / "render.mov", seconds=3.0, fps=SIXTY, codec="hevc",
                      container="mov")


@pytest.mark.slow
def test_an_uploaded_h265_mov_is_fixed_composed_and_posted(composer, render, remote):
    uploaded = composer.upload(render)
    assert (uploaded["container"], uploaded["video_codec"], uploaded["fps"]) == ("mov", "hevc", 60.01)
    assert uploaded["problems"] == ["frame rate 60.01 fps is outside 23-60 fps"] and uploaded["fixable"] is True
    source = composer.media / uploaded["media_id"]

    started = time.monotonic()
    answer = composer.fix(uploaded["media_id"], name="My render (final).mov")
    took = time.monotonic() - started

    assert answer.status_code == 200, answer.text
    fixed = answer.json()
    assert is_media_id(fixed["media_id"]) and fixed["media_id"].endswith("-render.mp4")
    assert fixed["media_id"] != uploaded["media_id"] and fixed["original_name"] == "My render (final).mov"
    assert (fixed["container"], fixed["video_codec"], fixed["fps"], fixed["width"], fixed["height"]) == (
        "mp4", "h264", 30.0, 360, 640)
    assert fixed["problems"] == [] and fixed["fixable"] is False and fixed["max_duration_s"] == 600
    assert fixed["fixed"]["from"] == uploaded["media_id"] and 0 <= fixed["fixed"]["seconds"] <= took + 0.05
    assert fixed["fixed"]["changes"][0] == "frame rate 60.01 fps → 30 fps: TikTok takes 23-60 fps"
    assert len(fixed["fixed"]["changes"]) == 3  # and the container and codec, re-encoded as MP4 and H.264
    target = composer.media / fixed["media_id"]
    assert sha256_file(source) == sha256_file(render)  # the upload is kept as it was
    assert check_video(probe(target)) == [] and composer.leftovers() == []
    assert target.stat().st_mode & 0o777 == source.stat().st_mode & 0o777  # as private as the upload
    preview = composer.web.http.get(composer.web.url + fixed["preview_url"], timeout=10)
    assert preview.status_code == 200 and preview.content == target.read_bytes()

    made_at = target.stat().st_mtime_ns
    again = composer.fix(uploaded["media_id"])  # pressed again: the finished copy, not a second re-encode
    assert again.status_code == 200 and again.json()["media_id"] == fixed["media_id"]
    assert target.stat().st_mtime_ns == made_at
    nothing = composer.fix(fixed["media_id"])
    assert nothing.status_code == 409 and "nothing to fix" in nothing.json()["error"]

    form = {"csrf": composer.csrf(), "open_id": ADA, "source": "upload", "media_id": fixed["media_id"],
            "media_name": fixed["original_name"], "description": "Fixed for TikTok", "privacy": "SELF_ONLY",
            "action": "now"}
    composed = composer.web.http.post(composer.web.url + "/posts/new", data=form, allow_redirects=False, timeout=15)
    assert composed.status_code == 302, composed.text[:2000]
    assert runner_of(composer.served.flask_app).join(WAIT_S)
    (made,) = remote.state()["posts"]
    assert made["status"] == "PUBLISH_COMPLETE" and made["sha256"] == sha256_file(target)
    seen = probe_video(made["media_path"])  # the emulator's own reading of what it received
    assert (seen.container, seen.codec, seen.fps) == ("mp4", "h264", 30.0)
    assert emulator_check_video(made["media_path"], 600).fail_reason is None
    (post,) = store_of(composer.served.flask_app).every_post()
    assert post.state == "posted" and post.entry["video_path"] == str(target.resolve())
    assert post.media_name == "My render (final).mov"


@pytest.mark.slow
def test_a_fix_is_refused_with_a_plain_json_message(composer, render, tmp_path):
    uploaded = composer.upload(render)["media_id"]
    short = composer.upload(make_video(tmp_path / "short.mov", seconds=2.0, fps=SIXTY, codec="hevc",
                                       container="mov"))
    assert short["fixable"] is False and len(short["problems"]) == 2  # its frame rate, and under 3 s

    cases = [
        (composer.call("POST", f"/posts/new/media/{uploaded}/fix?open_id={ADA}", headers={"X-CSRF-Token": "x"}),
         400, "The page expired"),
        (composer.fix(uploaded, open_id="stranger"), 400, 'no connected account has open_id "stranger"'),
        (composer.fix("0" * 32 + "-gone.mov"), 404, "no such upload"),
        (composer.fix("user_tokens.json"), 404, "no such upload"),  # not a media id: never a path
        (composer.fix(short["media_id"]), 422, "cannot be fixed by re-encoding: duration 2.00 s is under the 3 s"),
    ]
    for answer, status, words in cases:
        assert (answer.status_code, answer.headers["Content-Type"]) == (status, "application/json"), answer.text
        assert words in answer.json()["error"]
    assert composer.call("GET", f"/posts/new/media/{uploaded}/fix").status_code == 405
    assert sorted(p.suffix for p in composer.media.iterdir()) == [".mov", ".mov"]  # nothing was written


@pytest.mark.slow
def test_one_fix_runs_at_a_time_and_another_is_told_to_wait(composer, tmp_path):
    long = composer.upload(make_video(tmp_path / "long.mp4", seconds=12.0, fps=SIXTY, audio=False))  # ~1 s to fix
    other = composer.upload(make_video(tmp_path / "other.mov", seconds=3.0, fps=SIXTY, codec="hevc",
                                       container="mov"))
    answers: list[requests.Response] = []
    first = threading.Thread(target=lambda: answers.append(composer.fix(long["media_id"])))
    first.start()
    deadline = time.monotonic() + WAIT_S
    while not any(name.startswith(WORK_PREFIX) for name in composer.leftovers()) and first.is_alive():
        assert time.monotonic() < deadline, "the first fix never started"
        time.sleep(0.01)
    busy = composer.fix(other["media_id"])
    first.join(WAIT_S)

    assert busy.status_code == 503 and "one at a time" in busy.json()["error"]
    assert busy.headers["Retry-After"] == "30"
    (done,) = answers
    assert done.status_code == 200 and done.json()["problems"] == [], done.text
    assert composer.leftovers() == []
    assert composer.served.flask_app.extensions[TURNS_KEY].acquire(blocking=False)  # the turn was given back
    composer.served.flask_app.extensions[TURNS_KEY].release()
    assert composer.fix(other["media_id"]).status_code == 200  # once it is done, the other goes
