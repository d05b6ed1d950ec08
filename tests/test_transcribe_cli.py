"""``transcribe.py`` in-process (``main(argv)``): the emulator lists and serves the videos, yt-dlp downloads them over
loopback, and the real AssemblyAI SDK talks to the loopback stand-in."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import replace

import pytest
import requests

from tiktok.cli import main
from tiktok.commands import Context
from tiktok.commands.transcribe import parse_since
from tiktok.transcription.jobs import Outcome
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tiktok.exitcodes import exit_status
from tiktok.transcription import run as transcribe_run
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.emulator.server import start_emulator
from tiktok.auth.oauth import OAuthClient
from tiktok.emulator.serving import serve_in_thread
from tiktok.emulator.assemblyai import TEXT_PREFIX, create_standin, standin_state, synthetic_text_words
from tiktok.emulator.catalogue import caption_cues, find_video
from tiktok.auth.tokens import TokenStore
from tiktok.transcription.store import TranscriptStore
from tiktok.retry import DISPLAY_RETRY

ADA, BO, CY = (u.open_id for u in default_users())
AAI_KEY = "aai-" + os.urandom(8).hex()
CLIENT_SECRET = "cs-" + os.urandom(8).hex()


# helpers shared with test_transcribe_subprocess.py

def catalogue(emulator_url: str, open_id: str) -> list[dict]:
    response = requests.get(f"{emulator_url}/_emulator/videos/{open_id}", timeout=10)
    response.raise_for_status()
    return response.json()["videos"]


def media_digest(emulator_url: str, video_id: str) -> tuple[str, int]:
    response = requests.get(f"{emulator_url}/_emulator/media/{video_id}.mp4", timeout=30)
    response.raise_for_status()
    return hashlib.sha256(response.content).hexdigest(), len(response.content)


def expected_text(digest: str, size: int) -> str:
    """What the stand-in says for bytes with this sha256 and size."""
    return " ".join(synthetic_text_words(digest, size))


def captioned(emulator, video_id: str) -> bool:
    """Whether the emulator's share page for this video lists TikTok captions."""
    return find_video(emulator.state, video_id).captions


def caption_text(emulator, video_id: str, username: str) -> str:
    """The words of the emulator's caption file for this video."""
    return " ".join(text for _start, _end, text in caption_cues(find_video(emulator.state, video_id), username))


def transcribe(argv: list[str], *, sleep=time.sleep) -> int:
    """``transcribe.py ARGV`` in-process, waiting with ``sleep``."""
    return main(argv, command="transcribe", prog="transcribe.py", context=Context(sleep=sleep))


@pytest.fixture(scope="module")
def emulator():
    """One emulator for the module, so each seeded clip is generated once (faults are cleared after each test)."""
    with start_emulator(EmulatorConfig(client_secret=CLIENT_SECRET)) as server:
        yield server


@pytest.fixture(autouse=True)
def _clear_faults(remote):
    yield
    remote.clear_faults()


@pytest.fixture
def standin_app():
    return create_standin(api_key=AAI_KEY)


@pytest.fixture
def standin(standin_app):
    with serve_in_thread(standin_app) as server:
        yield server


@pytest.fixture
def aai(standin_app):
    return standin_state(standin_app)


@pytest.fixture
def store(tokens_path):
    return TokenStore(tokens_path)


@pytest.fixture
def oauth(emulator):
    return OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                       client_secret=CLIENT_SECRET)


@pytest.fixture
def linked(emulator, store, oauth):
    def link(open_id: str, **kw) -> str:
        link_account(emulator.url, store, oauth, open_id, **kw)
        return open_id
    return link


@pytest.fixture
def work_tmp(tmp_path, monkeypatch):
    """Temporary downloads land here, so tests can see they were removed (the emulator's media cache may too)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def downloads(monkeypatch):
    """Records every download the command starts (the real download still happens)."""
    started: list[str] = []
    real = transcribe_run.download_video

    def spy(url, *args, **kwargs):
        started.append(url)
        return real(url, *args, **kwargs)
    monkeypatch.setattr(transcribe_run, "download_video", spy)
    return started


@pytest.fixture
def env(monkeypatch, tmp_path, emulator, standin, tokens_path):
    """Environment of a configured install pointed at the emulator and the stand-in; cwd has no .env."""
    monkeypatch.chdir(tmp_path)
    for name in ("ASSEMBLYAI_API_KEY", "ASSEMBLYAI_BASE_URL", "ASSEMBLYAI_POLLING_INTERVAL", "TRANSCRIPTS_DIR",
                 "TIKTOK_API_BASE", "TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    values = {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
              "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), "ASSEMBLYAI_API_KEY": AAI_KEY,
              "ASSEMBLYAI_BASE_URL": standin.url, "ASSEMBLYAI_POLLING_INTERVAL": "0.01"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def run(env, tmp_path, capsys, work_tmp, store):
    """``run(*argv)`` -> (exit code, stdout, stderr); checks that no secret was printed."""
    folder = tmp_path / "transcripts"

    def go(*argv: str, sleep=lambda s: None):
        code = transcribe(["--transcripts", str(folder), *argv], sleep=sleep)
        out, err = capsys.readouterr()
        secrets = [AAI_KEY, CLIENT_SECRET] + [t for a in store.load().values()
                                              for t in (a.access_token, a.refresh_token)]
        leaked = [hashlib.sha256(s.encode()).hexdigest()[:8] for s in secrets if s in out + err]
        assert not leaked, f"secrets printed (sha256 prefixes): {leaked}"
        leftovers = [p.name for p in work_tmp.iterdir() if p.name.startswith("tiktok-transcribe-")]
        assert leftovers == []  # temporary downloads removed, success or failure
        return code, out, err

    go.folder = folder
    go.transcripts = TranscriptStore(folder)
    return go


def line_for(out: str, video_id: str) -> str:
    lines = [line for line in out.splitlines() if video_id in line]
    assert len(lines) == 1, out
    return lines[0]


@pytest.mark.slow
def test_an_account_is_paged_through_downloaded_transcribed_and_saved(run, linked, emulator, aai, downloads):
    linked(ADA)
    videos = catalogue(emulator.url, ADA)
    assert len(videos) == 25
    with_captions = {v["id"] for v in videos if captioned(emulator, v["id"])}
    assert 0 < len(with_captions) < 25
    transcribed = 25 - len(with_captions)
    code, out, _ = run("--account", ADA, "--jobs", "4")
    assert code == 0, out
    assert len(downloads) == transcribed and aai.upload_count == transcribed  # captions cost no AssemblyAI call
    texts = set()
    for video in videos:
        record = run.transcripts.get(ADA, video["id"])
        assert record is not None and record.ok, video["id"]
        assert (record.title, record.created_time, record.source_url) == (
            video["title"], video["create_time"], video["share_url"])
        text = run.transcripts.read(ADA, video["id"])
        if video["id"] in with_captions:
            assert record.source == "tiktok-captions" and record.language == "eng-US"
            assert record.transcript_id is None
            assert text == caption_text(emulator, video["id"], "ada.creates")
            assert "from TikTok's captions" in line_for(out, video["id"])
        else:
            assert record.source == "assemblyai"
            assert record.transcript_id and record.language == "en_us" and record.duration_s
            assert text == expected_text(*media_digest(emulator.url, video["id"]))  # yt-dlp fetched these bytes
        assert run.transcripts.read(ADA, video["id"], "srt").startswith("1\n00:00:00,000 --> ")
        assert run.transcripts.read(ADA, video["id"], "vtt").startswith("WEBVTT")
        saved = json.loads(run.transcripts.path(ADA, video["id"], "json").read_text())
        assert saved["account"]["open_id"] == ADA and saved["status"] == "completed"
        assert saved["source"] == record.source
        texts.add(text)
        assert line_for(out, video["id"]).startswith("[emulator] DONE")
    assert len(texts) == 25  # every video's transcript differs
    assert "summary: 25 DONE" in out

    code, again, _ = run("--account", ADA)
    assert code == 0
    assert len(downloads) == transcribed and aai.upload_count == transcribed  # the second run did no work
    assert "summary: 25 SKIPPED" in again


@pytest.mark.slow
def test_force_redoes_finished_videos(run, linked, aai, downloads):
    linked(BO)  # bo_tests has 3 videos; TikTok offers captions for one of them
    assert run("--account", BO)[0] == 0
    code, out, _ = run("--account", BO, "--force", "--jobs", "1")
    assert code == 0
    assert aai.upload_count == 4 and len(downloads) == 4
    assert "summary: 3 DONE" in out


@pytest.mark.slow
def test_a_download_failure_is_recorded_and_the_others_complete(run, linked, emulator, remote):
    linked(ADA)
    videos = catalogue(emulator.url, ADA)[:3]
    broken = videos[1]["id"]
    remote.inject_fault(f"/@ada.creates/video/{broken}", status=404, times=5)
    code, out, _ = run("--account", ADA, "--limit", "3")
    assert code == 1
    record = run.transcripts.get(ADA, broken)
    assert record.status == "failed" and "download failed" in record.error and "HTTP 404" in record.error
    assert not run.transcripts.path(ADA, broken, "txt").exists()
    assert "FAILED" in line_for(out, broken) and "HTTP 404" in line_for(out, broken)
    assert [run.transcripts.is_done(ADA, v["id"]) for v in videos] == [True, False, True]


@pytest.mark.slow
def test_an_assemblyai_error_status_is_recorded_and_the_others_complete(run, linked, emulator, aai):
    linked(ADA)
    videos = catalogue(emulator.url, ADA)[:3]
    digest, _ = media_digest(emulator.url, videos[0]["id"])
    aai.fail_audio(digest, reason="Audio duration is too short.")
    code, out, _ = run("--account", ADA, "--limit", "3")
    assert code == 1
    record = run.transcripts.get(ADA, videos[0]["id"])
    assert record.status == "failed" and "Audio duration is too short." in record.error
    assert "FAILED" in line_for(out, videos[0]["id"]) and "transcription failed" in line_for(out, videos[0]["id"])
    assert record.transcript_id in aai.jobs  # the failed transcript's id is kept for support requests
    assert all(run.transcripts.is_done(ADA, v["id"]) for v in videos[1:])


@pytest.mark.slow
def test_an_assemblyai_that_never_finishes_is_bounded(run, linked, emulator, aai):
    linked(ADA)
    videos = catalogue(emulator.url, ADA)[:3]
    stalled = videos[1]["id"]
    aai.stall_audio(media_digest(emulator.url, stalled)[0])
    code, out, _ = run("--account", ADA, "--limit", "3", "--timeout", "1", "--no-captions")
    assert code == 4  # try later: AssemblyAI may still finish it
    record = run.transcripts.get(ADA, stalled)
    assert record.status == "failed" and "did not finish within 1 s" in record.error
    assert "TRY LATER" in line_for(out, stalled)
    assert record.result == "try_later"  # so the Transcripts page says TRY LATER too, not "failed"
    assert all(run.transcripts.is_done(ADA, v["id"]) for v in videos if v["id"] != stalled)


def test_a_429_from_the_display_api_ends_the_listing_and_other_inputs_complete(run, linked, emulator, remote):
    linked(ADA)
    bo_video = catalogue(emulator.url, BO)[0]
    remote.inject_fault("/v2/video/list/", status=429, error="rate_limit_exceeded", times=DISPLAY_RETRY.max_attempts)
    waits: list[float] = []
    code, out, _ = run("--account", ADA, bo_video["share_url"], sleep=waits.append)
    assert code == 4
    assert len(waits) == DISPLAY_RETRY.max_attempts - 1  # bounded, and never a real sleep
    problem = [line for line in out.splitlines() if ADA in line and "TRY LATER" in line]
    assert problem and "rate-limited (HTTP 429)" in problem[0] and "run again later" in problem[0]
    assert run.transcripts.is_done("@bo_tests", bo_video["id"])


@pytest.mark.slow
def test_a_short_429_is_waited_out(run, linked, remote):
    linked(BO)
    remote.inject_fault("/v2/video/list/", status=429, error="rate_limit_exceeded", retry_after=5)
    waits: list[float] = []
    code, out, _ = run("--account", BO, sleep=waits.append)
    assert code == 0 and waits == [5]
    assert "summary: 3 DONE" in out


@pytest.mark.parametrize("bad, message", [
    (["--account", "no-such-open-id"], "no connected account with this open_id"),
    (["https://example.com/about"], "not a TikTok video URL or a link to a media file"),
    (["ftp://example.com/clip.mp4"], "not a TikTok video URL or a link to a media file"),
    (["missing-video.mp4"], "no such file"),
])
def test_bad_input_is_reported_and_the_rest_still_runs(run, tmp_path, bad, message):
    clip = make_video(tmp_path / "kitchen.mp4", seconds=0.5, width=64, height=112)
    code, out, _ = run(str(clip), *bad)
    assert code == 2
    bad_lines = [line for line in out.splitlines() if line.startswith("[emulator] BAD INPUT")]
    assert len(bad_lines) == 1 and message in bad_lines[0]
    (record,) = run.transcripts.list_records()
    assert record.open_id == "local" and record.ok
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    assert run.transcripts.read("local", record.video_id) == expected_text(digest, clip.stat().st_size)
    assert clip.exists()  # a local input is never deleted


def test_an_unusable_transcripts_folder_stops_at_once(run, env, tmp_path, downloads, aai, linked):
    linked(BO)
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("keep me\n")
    code = transcribe(["--account", BO, "--transcripts", str(in_the_way)])
    assert code == 2
    assert in_the_way.read_text() == "keep me\n"
    assert downloads == [] and aai.upload_count == 0


@pytest.mark.slow
def test_an_existing_transcript_survives_a_forced_rerun_that_fails(run, linked, emulator, remote):
    linked(BO)
    assert run("--account", BO)[0] == 0
    first = catalogue(emulator.url, BO)[0]["id"]
    before = run.transcripts.read(BO, first)
    remote.inject_fault(f"/@bo_tests/video/{first}", status=404, times=5)
    code, out, _ = run("--account", BO, "--force")
    assert code == 1 and "FAILED" in line_for(out, first)
    assert run.transcripts.read(BO, first) == before and run.transcripts.is_done(BO, first)


def test_no_api_key_outside_emulator_mode_stops_at_once(env, tmp_path, capsys, downloads):
    env.delenv("ASSEMBLYAI_API_KEY")
    env.delenv("TIKTOK_API_BASE")  # TikTok itself: not emulated (nothing is sent: the command stops first)
    code = transcribe(["--account", ADA, "--transcripts", str(tmp_path / "t")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "ASSEMBLYAI_API_KEY is not set" in err and "[emulator]" not in out + err
    assert not (tmp_path / "t").exists() and downloads == []


def test_emulator_mode_without_a_key_uses_a_labelled_standin(env, tmp_path, capsys, work_tmp):
    env.delenv("ASSEMBLYAI_API_KEY")
    env.delenv("ASSEMBLYAI_BASE_URL")
    clip = make_video(tmp_path / "clip.mp4", seconds=0.5, width=64, height=112)
    code = transcribe([str(clip), "--transcripts", str(tmp_path / "t")])
    out, _ = capsys.readouterr()
    assert code == 0, out
    lines = out.splitlines()
    assert lines and all(line.startswith("[emulator] ") for line in lines)
    assert "synthetic stand-in text, not speech recognition" in lines[0]
    assert "synthetic stand-in text, not speech recognition" in lines[-1]
    (record,) = TranscriptStore(tmp_path / "t").list_records()
    assert TranscriptStore(tmp_path / "t").read("local", record.video_id).startswith(TEXT_PREFIX)


def test_an_emulated_account_is_not_used_against_tiktok(run, linked, env):
    linked(BO)
    env.setenv("TIKTOK_API_BASE", "https://open.tiktokapis.com")
    code, out, _ = run("--account", BO)
    assert code == 2 and "linked through the emulator" in out


@pytest.mark.parametrize("argv", [[], ["--jobs", "0"], ["--limit", "-1"], ["--since", "31/01/2026"],
                                  ["--timeout", "0"]])
def test_bad_arguments_exit_2(env, argv):
    if not argv:
        assert transcribe([]) == 2
        return
    with pytest.raises(SystemExit) as caught:
        transcribe([*argv, "--account", BO])
    assert caught.value.code == 2


def test_an_emulator_media_url_and_a_repeat_input_are_one_job(run, emulator, aai):
    video = catalogue(emulator.url, BO)[1]
    media = f"{emulator.url}/_emulator/media/{video['id']}.mp4"
    code, out, _ = run(media, media)
    assert code == 0 and aai.upload_count == 1 and "summary: 1 DONE" in out
    (record,) = run.transcripts.list_records()
    assert run.transcripts.read(record.open_id, record.video_id) == expected_text(
        *media_digest(emulator.url, video["id"]))


def test_parse_since_is_the_start_of_the_utc_day():
    assert parse_since("1970-01-02") == 86_400.0


@pytest.mark.parametrize("statuses, code", [
    ({"done"}, 0), ({"skipped"}, 0), ({"done", "try_later"}, 4), ({"failed", "try_later"}, 1),
    ({"bad_input", "failed"}, 2), ({"relink", "bad_input", "failed", "try_later"}, 3), (set(), 0),
])
def test_exit_precedence(statuses, code):
    assert exit_status([Outcome(s, "x", "") for s in statuses]) == code


def test_an_account_that_needs_relinking_exits_3_and_the_others_still_run(run, linked, store, tmp_path, aai):
    linked(BO)
    with store.transaction() as accounts:
        accounts[BO] = replace(accounts[BO], relink_reason="TikTok refused the refresh token")
    clip = make_video(tmp_path / "clip.mp4", seconds=0.5, width=64, height=112)
    code, out, _ = run("--account", BO, str(clip), "missing.mp4")
    assert code == 3  # relink wins over bad input
    assert "RELINK" in out and "TikTok refused the refresh token: link the account again in the app" in out
    assert aai.upload_count == 1


def test_a_missing_video_list_scope_is_relink_like_in_the_report(run, linked, downloads):
    linked(BO, scopes=("user.info.basic",))
    code, out, _ = run("--account", BO)
    assert code == 3
    line = next(line for line in out.splitlines() if BO in line and "video.list" in line)
    assert line.startswith("[emulator] RELINK") and "link it again in the app and allow it (code " in line
    assert downloads == []

