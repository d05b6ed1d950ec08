"""``upload_to_tiktok.py --fix-media`` (and ``python -m tiktok post --fix-media``): a video TikTok would refuse is
fixed by the media doctor and the fixed copy is posted, as a person or cron runs it: real processes against the
emulator, whose own probe (tiktok.emulator.media_probe, written apart from the client's) reads what arrived.

The fixture is what phones and renderers write as "60 fps": an 8-bit H.265 MOV at 60.01 fps, just over TikTok's
23-60 (reference 5), which the emulator fails after acceptance with ``frame_rate_check_failed`` as TikTok does
(brightbean #147). The copies' rules (made once, reused while fresh, the original kept, the post's identity
unchanged) are checked in process through :class:`tiktok.media.doctor.copies.FixedCopies`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest
import requests

from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.config import load_settings
from tiktok.emulator.config import default_users
from tiktok.emulator.media_checks import FRAME_RATE_FAILED
from tiktok.emulator.media_checks import check_video as emulator_check_video
from tiktok.emulator.media_probe import probe_video
from tiktok.errors import FileProblem
from tiktok.media.doctor.copies import FixedCopies
from tiktok.posting.media import check_video, probe
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store.records import entry_key
from tiktok.store.sqlite import open_sqlite
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.posting import EmulatedTime, sha256_file

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
SCOPES = ("user.info.basic", "video.publish", "video.upload")
SIXTY = Fraction(6001, 100)  # "60 fps" as written: 60.01, just over TikTok's 60
FRAME_RATE_FIX = "frame rate 60.01 fps -> 30 fps: TikTok takes 23-60 fps"


def render_mov(path: Path, seconds: float = 3.0) -> Path:
    """The must-show's video: 8-bit (yuv420p) H.265 in MOV at 60.01 fps, 360x640, with AAC sound."""
    return make_video(path, seconds=seconds, fps=SIXTY, codec="hevc", container="mov")


@pytest.fixture
def workdir(tmp_path, emulator) -> Path:
    store = TokenStore(tmp_path / "user_tokens.json")
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    render_mov(tmp_path / "render.mov")
    return tmp_path


def run(workdir: Path, emulator, *args: str, module: bool = False) -> subprocess.CompletedProcess:
    """``upload_to_tiktok.py ARGS`` (or ``python -m tiktok post ARGS``) in ``workdir`` against the emulator, with
    the shipped defaults otherwise."""
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(workdir / "user_tokens.json")}
    command = ["-m", "tiktok", "post"] if module else [str(ROOT / "upload_to_tiktok.py")]
    return subprocess.run([sys.executable, *command, *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=180)


def manifest(workdir: Path, *descriptions: str) -> None:
    entries = [{"user_id": ADA, "video_path": "render.mov", "description": d, "privacy": "SELF_ONLY"}
               for d in descriptions]
    (workdir / "videos_to_upload.json").write_text(json.dumps(entries))


def stored_posts(workdir: Path) -> list:
    store = open_sqlite(workdir / "tiktok.db", migrate=False)
    try:
        return list(store.every_post())
    finally:
        store.close()


def fixed_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if "render.mov" in line and "render.tiktok.mp4" in line]


@pytest.mark.slow
def test_a_60_fps_h265_mov_tiktok_refuses_is_fixed_and_posted_as_the_same_post(workdir, emulator, remote):
    original, copy = workdir / "render.mov", workdir / "render.tiktok.mp4"
    before = sha256_file(original)
    probed = probe(original)
    assert (probed.container, probed.video_codec, probed.fps) == ("mov", "hevc", 60.01)
    assert emulator_check_video(original, 600).fail_reason == FRAME_RATE_FAILED  # what TikTok would say after init
    manifest(workdir, "sixty")

    refused = run(workdir, emulator, "--poll-interval", "0.01")

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert 'field "video_path"' in refused.stdout and "frame rate 60.01 fps is outside 23-60 fps" in refused.stdout
    assert "Re-encoding fixes this: run again with --fix-media" in refused.stdout
    assert remote.state()["posts"] == [] and not copy.exists()  # nothing sent, nothing written
    (post,) = stored_posts(workdir)
    assert post.state == "failed"

    fixed = run(workdir, emulator, "--fix-media", "--poll-interval", "0.01", module=True)

    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    (line,) = fixed_lines(fixed.stdout)
    assert line.startswith("render.mov fixed into render.tiktok.mp4: ") and FRAME_RATE_FIX in line
    assert "container mov -> mp4" in line and "codec hevc -> h264" in line
    assert "DONE: posted" in fixed.stdout
    (made,) = remote.state()["posts"]
    assert made["status"] == "PUBLISH_COMPLETE" and made["fail_reason"] is None
    assert made["sha256"] == sha256_file(copy) != before  # the fixed copy is what went up
    seen = probe_video(made["media_path"])  # the emulator's own reading of the bytes it received
    assert (seen.container, seen.codec, seen.fps, seen.width, seen.height) == ("mp4", "h264", 30.0, 360, 640)
    assert emulator_check_video(made["media_path"], 600).fail_reason is None
    assert sha256_file(original) == before  # the original is kept as it was
    (again,) = stored_posts(workdir)  # the same post: its id, key and entry name the original
    assert (again.id, again.key, again.state) == (post.id, post.key, "posted")
    assert again.entry["video_path"] == str(original.resolve())
    assert again.key == entry_key({"user_id": ADA, "video_path": "render.mov", "description": "sixty",
                                   "privacy": "SELF_ONLY"})

    made_at = copy.stat().st_mtime_ns
    rerun = run(workdir, emulator, "--fix-media", "--poll-interval", "0.01")
    assert rerun.returncode == 0 and "summary: nothing to do" in rerun.stdout
    assert fixed_lines(rerun.stdout) == [] and len(remote.state()["posts"]) == 1  # never posted twice
    assert copy.stat().st_mtime_ns == made_at

    manifest(workdir, "sixty", "sixty, again")  # a second post of the same file, on a later run
    second = run(workdir, emulator, "--fix-media", "--poll-interval", "0.01")

    assert second.returncode == 0, second.stdout + second.stderr
    (line,) = fixed_lines(second.stdout)
    assert line.startswith("render.mov: sending render.tiktok.mp4, fixed before: ") and FRAME_RATE_FIX in line
    assert copy.stat().st_mtime_ns == made_at  # reused, not re-encoded
    first, other = remote.state()["posts"]
    assert other["status"] == "PUBLISH_COMPLETE" and other["sha256"] == first["sha256"] == sha256_file(copy)
    assert [p.state for p in stored_posts(workdir)] == ["posted", "posted"]


# -- the copies' rules, in process ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_copy_is_made_once_reused_while_fresh_and_made_again_for_a_changed_original(tmp_path):
    original = render_mov(tmp_path / "render.mov")
    copy = tmp_path / "render.tiktok.mp4"

    sent, line = FixedCopies(fix=True)(original)

    assert sent == copy and line.startswith("render.mov fixed into render.tiktok.mp4: ")
    assert check_video(probe(copy)) == []
    made_at = copy.stat().st_mtime_ns
    sent, line = FixedCopies(fix=True)(original)  # a later run
    assert sent == copy and line.startswith("render.mov: sending render.tiktok.mp4, fixed before:")
    assert copy.stat().st_mtime_ns == made_at

    later = made_at + 10**9
    os.utime(original, ns=(later, later))  # the original changed after its copy was made
    sent, line = FixedCopies(fix=True)(original)
    assert sent == copy and line.startswith("render.mov fixed into") and copy.stat().st_mtime_ns > made_at


@pytest.mark.slow
def test_one_run_fixes_a_file_once_whatever_the_threads_and_says_so_once(tmp_path):
    original = render_mov(tmp_path / "render.mov")
    copies, answers = FixedCopies(fix=True), []
    threads = [threading.Thread(target=lambda: answers.append(copies(original))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [sent for sent, _ in answers] == [tmp_path / "render.tiktok.mp4"] * 4
    lines = [line for _, line in answers if line]
    assert len(lines) == 1 and lines[0].startswith("render.mov fixed into")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.mov", "render.tiktok.mp4"]  # no temp file left


@pytest.mark.slow
def test_what_needs_no_fix_or_no_re_encode_fixes_goes_on_as_it_is(tmp_path):
    good = make_video(tmp_path / "good.mp4")
    short = make_video(tmp_path / "short.mov", seconds=2.0, fps=SIXTY, codec="hevc", container="mov")
    for fix in (True, False):
        assert FixedCopies(fix=fix)(good) == (good, None)
        assert FixedCopies(fix=fix)(short) == (short, None)  # under 3 s: the publisher refuses it with every reason
        assert FixedCopies(fix=fix)(tmp_path / "gone.mov") == (tmp_path / "gone.mov", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.mp4", "short.mov"]


@pytest.mark.slow
def test_without_the_option_a_fixable_video_is_refused_naming_it_and_nothing_is_written(tmp_path):
    original = render_mov(tmp_path / "render.mov")
    with pytest.raises(FileProblem) as refused:
        FixedCopies(fix=False)(original)
    assert str(refused.value).startswith(f"{original}: frame rate 60.01 fps is outside 23-60 fps. ")
    assert "run again with --fix-media to send a fixed copy (render.tiktok.mp4" in str(refused.value)
    assert [p.name for p in tmp_path.iterdir()] == ["render.mov"]


@pytest.mark.slow
def test_an_upload_begun_with_a_fixed_copy_is_never_resumed_with_other_bytes(workdir, emulator, remote):
    """A run without the doctor (the app's runner, a worker) finds the upload under way of the copy: it stops the
    post where it is, in flight, rather than send the original's bytes under the copy's plan; a run with
    --fix-media then resumes it with the copy."""
    settings = load_settings({"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                              "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
                              "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(workdir / "user_tokens.json")})
    manifest(workdir, "interrupted")
    store, time, lines = open_sqlite(workdir / "tiktok.db"), EmulatedTime(remote), []
    copy = workdir / "render.tiktok.mp4"

    def run_once(doctor):
        return run_queue(store, settings, RunOptions(poll_interval_s=0.01), manifest=workdir / "videos_to_upload.json",
                         hooks=Hooks(say=lines.append, runtime=time.runtime, media_doctor=doctor))
    try:
        remote.inject_fault("/upload/video/", status=503, times=100)  # TikTok's upload host is down
        first = run_once(FixedCopies(fix=True))
        assert [(o.status, o.state) for o in first.outcomes] == [("try_later", "uploading")], lines
        (made,) = remote.state()["posts"]
        assert made["plan"]["video_size"] == copy.stat().st_size and made["bytes_received"] == 0
        remote.clear_faults()

        stopped = run_once(None)  # no doctor: the entry's own file, which is not what the upload is of

        (outcome,) = stopped.outcomes
        assert (outcome.status, outcome.state) == ("bad_input", "uploading")  # still in flight, resumable
        assert f"is {(workdir / 'render.mov').stat().st_size:,} bytes, but the upload under way is of " \
               f"{copy.stat().st_size:,}" in outcome.detail and "--fix-media" in outcome.detail
        assert remote.state()["posts"][0]["bytes_received"] == 0  # nothing of the original was sent

        resumed = run_once(FixedCopies(fix=True))

        assert [(o.status, o.state) for o in resumed.outcomes] == [("done", "posted")], lines
        (made,) = remote.state()["posts"]  # the same publish, never a second init
        assert made["status"] == "PUBLISH_COMPLETE" and made["sha256"] == sha256_file(copy)
    finally:
        store.close()
