"""The media doctor (tiktok.media.doctor): what it plans from a probe, and real files it fixes.

The plans are pure and tested as tables. The fixes run on real files made with PyAV (tests/media_fixtures.py) and
Pillow; each result is checked by the client's checks (tiktok.posting.media) and by the emulator's own, written
apart on purpose (tiktok.emulator.media_checks), and the 60 fps H.265 MOV is posted through the public API to the
emulator until PUBLISH_COMPLETE.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from tiktok import PostOptions, TikTokClient
from tiktok.cli import main
from tiktok.emulator.media_checks import FRAME_RATE_FAILED, check_photo
from tiktok.emulator.media_checks import check_video as emulator_check_video
from tiktok.errors import FileProblem
from tiktok.exitcodes import status_for
from tiktok.media.doctor import MediaNotFixable, fix_photos, fix_video
from tiktok.media.doctor.plan import (MAX_VIDEO_BITRATE, fit_photo, fit_sides, plan_photo, plan_video, snap_rate,
                                      video_bitrate)
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.media import MediaInfo, check_video, probe
from tests.media_fixtures import _write_frames, make_video
from tests.support.flows import consent
from tests.support.posting import sha256_file

ROOT = Path(__file__).resolve().parent.parent
GOOD = MediaInfo(container="mp4", video_codec="h264", width=1080, height=1920, fps=30.0, duration_s=20.0,
                 size_bytes=10_000_000, has_audio=True)


def info(**changed) -> MediaInfo:
    return replace(GOOD, **changed)


def required(plan) -> list[str]:
    return [change.what for change in plan.changes if change.required]


# -- the video plan: what to change, and why ---------------------------------------------------------------------

@pytest.mark.parametrize("probed, must_change, fps, size", [
    (GOOD, [], Fraction(30), (1080, 1920)),                                       # TikTok takes it: left alone
    (info(container="mov", video_codec="hevc", fps=60.0), [], Fraction(60), (1080, 1920)),  # 60 fps is allowed
    (info(container="webm", video_codec="vp9", width=361, height=641), [], Fraction(30), (361, 641)),  # odd: fine
    (info(container="mov", video_codec="hevc", fps=60.01), ["frame rate"], Fraction(30), (1080, 1920)),
    (info(fps=120.0), ["frame rate"], Fraction(30), (1080, 1920)),
    (info(fps=15.0), ["frame rate"], Fraction(30), (1080, 1920)),
    (info(fps=None), ["frame rate"], Fraction(30), (1080, 1920)),
    (info(container="avi", fps=29.97), ["container"], Fraction(30000, 1001), (1080, 1920)),  # its rate is kept
    (info(video_codec="mpeg4", fps=25.0), ["codec"], Fraction(25), (1080, 1920)),
    (info(container="matroska", video_codec="prores"), ["container", "codec"], Fraction(30), (1080, 1920)),
    (info(width=200, height=300), ["size"], Fraction(30), (360, 540)),            # scaled up, ratio kept
    (info(width=5000, height=2000), ["size"], Fraction(30), (4096, 1638)),        # scaled down, even sides
    (info(width=3840, height=4352), ["size"], Fraction(30), (3614, 4096)),
    (info(container="avi", width=361, height=641), ["container"], Fraction(30), (360, 640)),  # made even too
    (info(size_bytes=MAX_VIDEO_BYTES + 1, duration_s=300.0), ["bitrate"], Fraction(30), (1080, 1920)),
    (info(container="avi", duration_s=None), ["container"], Fraction(30), (1080, 1920)),  # checked after
])
def test_the_plan_changes_only_what_tiktok_refuses(probed, must_change, fps, size):
    plan = plan_video(probed)
    assert plan.fixable and required(plan) == must_change and plan.needed == bool(must_change)
    if plan.needed:  # a re-encode writes MP4 / H.264, and says so when it was not one already
        assert (plan.fps, (plan.width, plan.height)) == (fps, size)
        assert all(change.why for change in plan.changes)
        whats = [change.what for change in plan.changes]
        assert ("container" in whats) == (probed.container != "mp4") and ("codec" in whats) == (
            probed.video_codec != "h264")


@pytest.mark.parametrize("probed, max_duration_s, reason", [
    (info(duration_s=2.0), None, "under the 3 s minimum"),
    (info(duration_s=601.0), None, "over the API's 600 s limit"),
    (info(duration_s=61.0, fps=120.0), 60, "over this creator's 60 s limit"),     # fixable parts are not tried
    (info(width=5000, height=360), None, "without cropping"),                      # 13.9:1 fits no 360-4096 box
    (info(container="image2", video_codec="mjpeg", duration_s=0.04), None, "a still image"),
    (info(width=0, height=0), None, "finds no picture"),
])
def test_what_re_encoding_cannot_fix_is_reported_not_attempted(probed, max_duration_s, reason):
    plan = plan_video(probed, max_duration_s=max_duration_s)
    assert not plan.fixable and not plan.needed
    assert any(reason in problem for problem in plan.unfixable), plan.unfixable


@pytest.mark.parametrize("sides, fitted", [
    ((1080, 1920), (1080, 1920)), ((360, 360), (360, 360)), ((4096, 4096), (4096, 4096)),
    ((180, 320), (360, 640)), ((8192, 4320), (4096, 2160)), ((4097, 360), (4096, 360)),
    ((4000, 359), (4012, 360)), ((361, 4095), (360, 4096)),
    ((4500, 380), None), ((4096, 359), None), ((100, 1200), None),  # wider than 4096:360: only cropping fits
])
def test_sides_are_fitted_into_the_limits_with_the_aspect_ratio_kept(sides, fitted):
    width, height, problem = fit_sides(*sides)
    if fitted is None:
        assert problem and problem.endswith("without cropping: crop it first") and (width, height) == sides
        return
    assert problem is None and (width, height) == fitted
    assert width % 2 == 0 and height % 2 == 0
    assert abs(width / height - sides[0] / sides[1]) < 0.01 * sides[0] / sides[1]


@pytest.mark.parametrize("measured, rate", [
    (29.97, Fraction(30000, 1001)), (29.9, Fraction(30000, 1001)), (23.976, Fraction(24000, 1001)),
    (24.0, Fraction(24)), (59.94, Fraction(60000, 1001)), (60.0, Fraction(60)), (48.0, Fraction(48)),
])
def test_a_measured_rate_is_kept_as_an_exact_rate(measured, rate):
    assert snap_rate(measured) == rate


def test_the_bitrate_cap_follows_the_picture_and_keeps_any_length_under_4_gb():
    assert video_bitrate(1080, 1920, Fraction(30), 60.0) == 6_220_800  # 0.1 bit per pixel and frame
    assert video_bitrate(360, 640, Fraction(30), 60.0) == 1_000_000  # never under 1 Mb/s
    assert video_bitrate(4096, 4096, Fraction(60), 60.0) == MAX_VIDEO_BITRATE
    for seconds in (1.0, 60.0, 600.0, 36_000.0):
        assert video_bitrate(4096, 4096, Fraction(60), seconds) * seconds / 8 < MAX_VIDEO_BYTES


# -- the photo plan ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image, changes, size", [
    (("JPEG", 1080, 1920, 900_000), [], (1080, 1920)),
    (("WEBP", 1920, 1080, 900_000), [], (1920, 1080)),                             # WebP is taken as it is
    (("PNG", 4000, 3000, 9_000_000), ["format", "size"], (1440, 1080)),
    (("HEIF", 3024, 4032, 2_000_000), ["format", "size"], (1080, 1440)),
    (("HEIF", 800, 600, 200_000), ["format"], (800, 600)),
    (("JPEG", 1086, 1448, 500_000), ["size"], (1080, 1440)),                      # Postiz #1875's straggler
    (("WEBP", 1086, 1448, 500_000), ["size"], (1080, 1440)),                      # written as JPEG, said so
    (("JPEG", 1000, 1000, 25_000_000), ["file size"], (1000, 1000)),
    (("GIF", 500, 500, 90_000), ["format"], (500, 500)),
])
def test_the_photo_plan_names_every_reason(image, changes, size):
    plan = plan_photo(*image)
    assert [c.what for c in plan.changes if c.required] == changes and (plan.width, plan.height) == size
    assert plan.needed == bool(changes) and plan.unfixable is None
    if image[0] == "WEBP" and changes:
        assert plan.changes[0].what == "format" and plan.changes[0].after == "JPEG"


def test_an_animation_keeps_its_first_frame_and_an_unreadable_file_is_not_fixable():
    assert [c.why for c in plan_photo("WEBP", 500, 500, 9_000, frames=12).changes] == [
        "a photo post shows still images: the first frame is kept"]
    assert plan_photo(None, 0, 0, 4).unfixable.startswith("not an image")


@pytest.mark.parametrize("sides, fitted", [
    ((1080, 1920), (1080, 1920)), ((1920, 1080), (1920, 1080)), ((1086, 1448), (1080, 1440)),
    ((4000, 3000), (1440, 1080)), ((1081, 1081), (1080, 1080)), ((10_000, 100), (1920, 19)),
    ((100, 3000), (64, 1920)), ((1, 1), (1, 1)),
])
def test_photos_are_fitted_into_1080p(sides, fitted):
    assert fit_photo(*sides) == fitted


# -- real videos ------------------------------------------------------------------------------------------------

KEY, SECRET, REDIRECT = "emulator-client-key", "emulator-client-secret", "http://127.0.0.1:8765/callback/"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.slow
def test_a_60_fps_h265_mov_tiktok_refuses_is_fixed_and_posted(tmp_path, emulator, remote):
    # "60 fps" as renderers and phones write it: 60.01 fps, just over TikTok's 60 (brainrot.js #2, ElPatoClip #46)
    original = make_video(tmp_path / "render.mov", seconds=3.0, fps=Fraction(6001, 100), codec="hevc",
                          container="mov")
    before = sha256_file(original)
    probed = probe(original)
    assert (probed.container, probed.video_codec, probed.fps) == ("mov", "hevc", 60.01)
    assert check_video(probed) == [f"{original}: frame rate 60.01 fps is outside 23-60 fps"]
    assert emulator_check_video(original, 600).fail_reason == FRAME_RATE_FAILED

    fixed = fix_video(original)

    assert fixed.output == tmp_path / "render.tiktok.mp4" and sha256_file(original) == before  # original kept
    assert [str(c) for c in fixed.changes if c.required] == ["frame rate 60.01 fps -> 30 fps: TikTok takes 23-60 fps"]
    result = probe(fixed.output)
    assert (result.container, result.video_codec, result.fps, result.width, result.height, result.has_audio) == (
        "mp4", "h264", 30.0, 360, 640, True)
    assert check_video(result) == [] and emulator_check_video(fixed.output, 600).fail_reason is None
    with av.open(str(fixed.output)) as container:  # 8-bit 4:2:0, AAC
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert container.streams.audio[0].codec_context.name == "aac"

    clock = Clock()
    client = TikTokClient(KEY, SECRET, REDIRECT, api_base=emulator.url, clock=clock, sleep=clock.sleep)
    login = client.start_login()
    tokens = client.finish_login(consent(login.url).headers["Location"], login)
    upload = client.post_video_file(tokens, fixed.output, PostOptions(caption="fixed", privacy="SELF_ONLY"))
    assert client.wait_for_post(tokens, upload).status == "PUBLISH_COMPLETE"
    (post,) = remote.state()["posts"]
    assert post["sha256"] == sha256_file(fixed.output)


@pytest.mark.slow
@pytest.mark.parametrize("made, size, fps", [
    (dict(codec="mpeg4", container="avi", fps=120, width=200, height=300), (360, 540), 30.0),
    (dict(codec="vp9", container="webm", fps=15, width=361, height=641, audio=False), (360, 640), 30.0),
    (dict(codec="h264", container="matroska", fps=25), (360, 640), 25.0),  # only the container: rate kept
])
def test_each_fixable_reason_ends_in_a_file_both_checks_accept(tmp_path, made, size, fps):
    original = make_video(tmp_path / f"clip.{made['container']}", **made)
    assert check_video(probe(original))  # refused as it is
    (tmp_path / "out").mkdir()
    fixed = fix_video(original, out_dir=tmp_path / "out")
    assert fixed.output == tmp_path / "out" / "clip.tiktok.mp4"
    result = probe(fixed.output)
    assert ((result.width, result.height), result.fps, result.has_audio) == (size, fps, made.get("audio", True))
    assert check_video(result) == [] and emulator_check_video(fixed.output, 600).fail_reason is None
    assert abs(result.duration_s - probe(original).duration_s) < 0.1


@pytest.mark.slow
def test_a_phone_video_filmed_sideways_keeps_its_rotation(tmp_path):
    original = tmp_path / "sideways.mp4"
    with av.open(str(original), mode="w") as output:  # 120 fps, stored 640x360, shown turned a quarter
        stream = output.add_stream("libx264", rate=120)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.set_display_rotation(90)
        _write_frames(output, stream, 360)
        output.mux(stream.encode(None))
    fixed = fix_video(original)
    assert [c.what for c in fixed.changes] == ["frame rate"]
    with av.open(str(fixed.output)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height, frame.rotation) == (640, 360, 90)


@pytest.mark.slow
def test_a_video_tiktok_takes_is_left_alone(tmp_path):
    original = make_video(tmp_path / "fine.mp4", seconds=3.0)
    assert fix_video(original).output is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.mp4"]


@pytest.mark.slow
@pytest.mark.parametrize("made, max_duration_s, reason", [
    (dict(seconds=2.0), None, "duration 2.00 s is under the 3 s minimum"),
    (dict(seconds=3.5), 3, "duration 3.50 s is over this creator's 3 s limit"),
])
def test_a_video_no_re_encode_fixes_raises_and_writes_nothing(tmp_path, made, max_duration_s, reason):
    original = make_video(tmp_path / "short.mp4", **made)
    with pytest.raises(MediaNotFixable) as refused:
        fix_video(original, max_duration_s=max_duration_s)
    assert reason in str(refused.value) and str(refused.value).startswith(f"{original}: cannot be fixed: ")
    assert isinstance(refused.value, FileProblem) and status_for(refused.value) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["short.mp4"]


def test_a_file_that_is_not_a_video_is_not_fixable(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("shopping list\n")
    with pytest.raises(MediaNotFixable, match="not a video FFmpeg can read"):
        fix_video(notes)


# -- real photos ------------------------------------------------------------------------------------------------

def photo(path: Path, size: tuple[int, int], mode: str = "RGB", **save) -> Path:
    Image.new(mode, size, (200, 40, 40, 128) if mode == "RGBA" else (200, 40, 40)).save(path, **save)
    return path


@pytest.mark.slow
def test_a_carousel_gets_a_verdict_for_every_photo(tmp_path):
    photos = [photo(tmp_path / "wide.png", (4000, 3000)), photo(tmp_path / "phone.heic", (1200, 1600)),
              photo(tmp_path / "straggler.jpg", (1086, 1448)), photo(tmp_path / "fine.jpg", (1080, 1920)),
              tmp_path / "broken.jpg"]
    photos[-1].write_bytes(b"\xff\xd8\xff not really")
    originals = {p: p.read_bytes() for p in photos}

    result = fix_photos(photos)

    verdicts = {fix.source.name: fix.verdict for fix in result.photos}
    assert list(verdicts) == ["wide.png", "phone.heic", "straggler.jpg", "fine.jpg", "broken.jpg"]
    assert verdicts["wide.png"] == (f"fixed into {tmp_path / 'wide.tiktok.jpg'}: format PNG -> JPEG: TikTok takes "
                                    "JPEG or WebP photos, not PNG; size 4000x3000 -> 1440x1080: TikTok takes photos "
                                    "up to 1080p, 1080 px on the short side and 1920 on the long; aspect ratio kept")
    assert "format HEIC -> JPEG" in verdicts["phone.heic"] and "size 1200x1600 -> 1080x1440" in verdicts["phone.heic"]
    assert "size 1086x1448 -> 1080x1440" in verdicts["straggler.jpg"] and "format" not in verdicts["straggler.jpg"]
    assert verdicts["fine.jpg"] == "TikTok takes it as it is"
    assert verdicts["broken.jpg"].startswith("cannot be fixed: not an image")
    assert result.files == [tmp_path / "wide.tiktok.jpg", tmp_path / "phone.tiktok.jpg",
                            tmp_path / "straggler.tiktok.jpg", tmp_path / "fine.jpg", tmp_path / "broken.jpg"]
    for fixed, size in zip(result.files[:3], [(1440, 1080), (1080, 1440), (1080, 1440)]):
        with Image.open(fixed) as image:
            assert (image.format, image.size) == ("JPEG", size)
        assert check_photo(fixed).fail_reason is None  # the emulator's own check
    assert all(p.read_bytes() == data for p, data in originals.items())  # originals kept
    with pytest.raises(MediaNotFixable, match="broken.jpg: not an image") as refused:
        result.raise_if_unfixable()
    assert "wide.png" not in str(refused.value)


@pytest.mark.slow
def test_a_photo_is_written_as_it_is_shown(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side; shown turned a quarter clockwise
    sideways = photo(tmp_path / "sideways.jpg", (1448, 1086), exif=exif)
    clear = photo(tmp_path / "clear.png", (2000, 1000), mode="RGBA")
    result = fix_photos([sideways, clear])
    assert [str(c) for c in result.photos[0].changes] == [
        "size 1086x1448 -> 1080x1440: TikTok takes photos up to 1080p, 1080 px on the short side and 1920 on the "
        "long; aspect ratio kept"]
    with Image.open(result.photos[0].output) as turned:
        assert turned.size == (1080, 1440) and turned.getexif().get(0x0112) is None
    with Image.open(result.photos[1].output) as flat:  # transparency laid on white
        assert flat.size == (1920, 960) and flat.getpixel((10, 10))[0] > 220


def test_more_than_35_photos_is_a_problem_of_the_post(tmp_path):
    photos = [photo(tmp_path / f"{n}.jpg", (64, 64)) for n in range(36)]
    result = fix_photos(photos)
    assert result.problem == "36 photos: TikTok takes at most 35 in a post"
    assert all(fix.verdict == "TikTok takes it as it is" for fix in result.photos)
    with pytest.raises(MediaNotFixable, match="at most 35"):
        result.raise_if_unfixable()


def test_photos_with_one_name_in_a_post_get_a_file_each(tmp_path):
    result = fix_photos([photo(tmp_path / "a.png", (100, 100)), photo(tmp_path / "a.heic", (100, 100))])
    assert [fix.output.name for fix in result.photos] == ["a.tiktok.jpg", "a-2.tiktok.jpg"]


# -- the command -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_media_fix_prints_what_changed_and_where(tmp_path, capsys):
    video = make_video(tmp_path / "render.avi", fps=Fraction(6001, 100), codec="mpeg4", container="avi")
    wide = photo(tmp_path / "wide.png", (2400, 1800))
    assert main(["media", "fix", str(video), str(wide)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"DONE      {video}: fixed: {tmp_path / 'render.tiktok.mp4'}"
    assert lines[1:4] == ["    container avi -> mp4: not a container TikTok takes (MP4, MOV, WebM)",
                          "    codec mpeg4 -> h264: not a codec TikTok takes (H.264, H.265, VP8, VP9)",
                          "    frame rate 60.01 fps -> 30 fps: TikTok takes 23-60 fps"]
    assert f"DONE      {wide}: fixed: {tmp_path / 'wide.tiktok.jpg'}" in lines
    assert main(["media", "fix", str(tmp_path / "render.tiktok.mp4")]) == 0  # fixed once: nothing left to fix
    assert capsys.readouterr().out.startswith("SKIPPED   ")


@pytest.mark.slow
def test_media_fix_as_a_user_runs_it_exits_2_for_what_cannot_be_fixed(tmp_path):
    short = make_video(tmp_path / "short.mp4", seconds=2.0)
    good = make_video(tmp_path / "good.mp4", seconds=3.0)
    done = subprocess.run([sys.executable, "-m", "tiktok", "media", "fix", "short.mp4", "good.mp4"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines() == [
        "BAD INPUT short.mp4: cannot be fixed: duration 2.00 s is under the 3 s minimum: make a longer clip",
        "SKIPPED   good.mp4: nothing to fix: TikTok takes it as it is"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name, short.name]


def test_media_fix_refuses_an_out_folder_that_is_not_there(tmp_path, capsys):
    assert main(["media", "fix", "--out", str(tmp_path / "nowhere"), "x.mp4"]) == 2
    assert "nowhere: not a folder (--out): create it first" in capsys.readouterr().err


# -- memory -----------------------------------------------------------------------------------------------------

# The child's own peak: VmHWM starts afresh at exec, while ru_maxrss keeps the high-water mark of the process it
# was forked from (pytest's, hundreds of MB), which would hide any growth.
PEAK_OF_A_FIX = """
import re, sys
from tiktok.media.doctor import fix_video
fix_video(sys.argv[1])
with open("/proc/self/status") as status:
    print(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
"""


@pytest.mark.slow
def test_memory_stays_flat_whatever_the_length(tmp_path):
    """A clip 8 times longer (720 frames of 360x360 against 90; 190 KB a frame decoded) peaks at the same memory."""
    peaks = {}
    for seconds in (3, 24):
        clip = make_video(tmp_path / f"clip{seconds}.avi", seconds=seconds, width=360, height=360, fps=30,
                          codec="mpeg4", container="avi")
        done = subprocess.run([sys.executable, "-c", PEAK_OF_A_FIX, str(clip)], capture_output=True, text=True,
                              timeout=300, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        peaks[seconds] = int(done.stdout.split()[-1])  # KiB
        assert check_video(probe(tmp_path / f"clip{seconds}.tiktok.mp4")) == []
    print(f"peak memory of a fix: 3 s {peaks[3] / 1024:.1f} MiB, 24 s {peaks[24] / 1024:.1f} MiB")
    assert peaks[24] <= peaks[3] * 1.10, peaks  # holding the decoded frames would add 120 MB
