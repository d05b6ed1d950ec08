"""The real AssemblyAI SDK against the loopback stand-in, through ``transcribe_file``."""

from __future__ import annotations

import hashlib
import socket
import time

import assemblyai as aai
import pytest

from tests.media_fixtures import make_video
from tiktok.errors import ConfigError
from tiktok.emulator.serving import serve_in_thread
from tiktok.emulator.assemblyai import TEXT_PREFIX, create_standin, standin_state
from tiktok.transcription.options import TranscriptOptions
from tiktok.transcription.assemblyai import (
    MediaFileError,
    TranscriptionAuthError,
    TranscriptionError,
    TranscriptionFailed,
    TranscriptionRejected,
    TranscriptionTimeout,
    TranscriptionUnavailable,
    error_from_sdk,
    transcribe_file,
)

KEY = "test-key"
FAST = {"poll_interval_s": 0.01, "timeout_s": 5.0}


@pytest.fixture
def standin_app():
    return create_standin(api_key=KEY, polls_to_complete=2)


@pytest.fixture
def standin(standin_app):
    with serve_in_thread(standin_app) as server:
        yield server


@pytest.fixture
def controls(standin_app):
    return standin_state(standin_app)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return (make_video(folder / "one.mp4", seconds=0.5, width=64, height=112),
            make_video(folder / "two.mp4", seconds=1.0, width=64, height=112))


def sha256_file(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_real_mp4_is_uploaded_transcribed_and_exported(standin, controls, videos):
    first = transcribe_file(videos[0], api_key=KEY, base_url=standin.url, **FAST)
    assert first.ok and first.status == "completed"
    assert first.text.startswith(TEXT_PREFIX)
    assert sha256_file(videos[0])[:8] in first.text  # the stand-in really received the file's bytes
    assert first.srt.startswith("1\n") and first.srt.count(" --> ") >= 3
    assert first.vtt.startswith("WEBVTT") and first.vtt.count(" --> ") == first.srt.count(" --> ")
    assert first.language == "en_us"
    assert first.duration_s and first.duration_s > 0
    assert first.error is None
    job = controls.jobs[first.transcript_id]
    assert job.request["speech_models"] == ["universal-3-pro", "universal-2"]
    second = transcribe_file(videos[1], api_key=KEY, base_url=standin.url, **FAST)
    assert second.text != first.text
    assert second.transcript_id != first.transcript_id


def test_speech_models_and_caption_width_are_passed_through(standin, controls, videos):
    result = transcribe_file(videos[0], api_key=KEY, base_url=standin.url, speech_models=("universal-2",),
                             chars_per_caption=12, **FAST)
    assert controls.jobs[result.transcript_id].request["speech_models"] == ["universal-2"]
    wide = transcribe_file(videos[0], api_key=KEY, base_url=standin.url, chars_per_caption=200, **FAST)
    assert result.srt.count(" --> ") > wide.srt.count(" --> ")


def test_speaker_labels_make_one_line_per_turn_and_language_detection_sets_the_language(standin, controls, videos):
    config = TranscriptOptions(language_detection=True, speakers_expected=3).config_kwargs()
    result = transcribe_file(videos[0], api_key=KEY, base_url=standin.url, config=config, **FAST)
    assert result.ok and result.language == "en" and result.speakers == 3
    lines = result.text.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["Speaker A", "Speaker B", "Speaker C"]
    request = controls.jobs[result.transcript_id].request
    assert (request["language_detection"], request["speaker_labels"], request["speakers_expected"]) == (True, True, 3)


@pytest.mark.parametrize("config, words", [
    ({"keyterms_prompt": ["one two three four five six seven"]}, "at most 6 words"),
    ({"keyterms_prompt": [f"t{i}" for i in range(1001)]}, "at most 1000"),
    ({"keyterms_prompt": ["ada"], "prompt": "a cooking video"}, "cannot be used together with prompt"),
    ({"speaker_labels": True, "speakers_expected": 11}, "from 1 to 10"),
    ({"word_boost": ["one two three four five six seven"]}, "at most 6 words"),
])
def test_options_assemblyai_refuses_are_a_rejected_request(standin, controls, videos, config, words):
    with pytest.raises(TranscriptionRejected) as caught:
        transcribe_file(videos[0], api_key=KEY, base_url=standin.url, config=config, **FAST)
    assert caught.value.status_code == 400 and words in str(caught.value)
    assert controls.transcript_count == 0 and not caught.value.transient


def test_an_error_status_comes_back_with_assemblyais_reason(standin, controls, videos):
    controls.fail_next(reason="File does not appear to contain audio [stand-in]")
    result = transcribe_file(videos[0], api_key=KEY, base_url=standin.url, **FAST)
    assert not result.ok and result.status == "error"
    assert result.error == "File does not appear to contain audio [stand-in]"
    assert result.text == "" and result.srt == "" and result.vtt == ""
    with pytest.raises(TranscriptionFailed) as caught:
        result.raise_for_status()
    assert "File does not appear to contain audio" in str(caught.value)
    assert caught.value.transcript_id == result.transcript_id
    assert not caught.value.transient


@pytest.mark.slow
def test_a_transcript_that_never_finishes_hits_the_bounded_wait(standin, controls, videos):
    controls.stall_next()
    started = time.monotonic()
    with pytest.raises(TranscriptionTimeout) as caught:
        transcribe_file(videos[0], api_key=KEY, base_url=standin.url, poll_interval_s=0.01, timeout_s=0.3)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    (stuck_id,) = controls.jobs
    assert caught.value.transcript_id == stuck_id
    assert stuck_id in str(caught.value)
    assert caught.value.transient
    assert controls.jobs[stuck_id].polls >= 2  # it did poll, repeatedly, before giving up


def test_a_5xx_on_upload_is_a_transient_error(standin, controls, videos):
    controls.fail_uploads(1, status=503)
    with pytest.raises(TranscriptionUnavailable) as caught:
        transcribe_file(videos[0], api_key=KEY, base_url=standin.url, **FAST)
    assert caught.value.transient
    assert caught.value.status_code == 503
    assert controls.transcript_count == 0
    assert transcribe_file(videos[0], api_key=KEY, base_url=standin.url, **FAST).ok  # the next try works


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(standin, videos):
    wrong = "sk-wrong-0123456789abcdef"
    with pytest.raises(TranscriptionAuthError) as caught:
        transcribe_file(videos[0], api_key=wrong, base_url=standin.url, **FAST)
    assert caught.value.status_code == 401
    assert not caught.value.transient
    assert "ASSEMBLYAI_API_KEY" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), caught.value.reason):
        assert wrong not in text, hashlib.sha256(text.encode()).hexdigest()


def test_connection_refused_is_a_transient_error(videos):
    with socket.socket() as sock:  # bind then close: a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TranscriptionUnavailable) as caught:
        transcribe_file(videos[0], api_key=KEY, base_url=f"http://127.0.0.1:{port}", **FAST)
    assert caught.value.transient
    assert "could not be reached" in str(caught.value)


def test_a_missing_file_is_refused_before_any_request(standin, controls, tmp_path):
    with pytest.raises(MediaFileError) as caught:
        transcribe_file(tmp_path / "nope.mp4", api_key=KEY, base_url=standin.url, **FAST)
    assert "nope.mp4" in str(caught.value)
    assert controls.upload_count == 0


def test_no_api_key_is_a_config_error(standin, videos):
    with pytest.raises(ConfigError, match="ASSEMBLYAI_API_KEY"):
        transcribe_file(videos[0], api_key="", base_url=standin.url, **FAST)


@pytest.mark.parametrize("status, expected, transient", [
    (401, TranscriptionAuthError, False),
    (403, TranscriptionAuthError, False),
    (400, TranscriptionRejected, False),
    (422, TranscriptionRejected, False),
    (429, TranscriptionUnavailable, True),
    (500, TranscriptionUnavailable, True),
    (503, TranscriptionUnavailable, True),
    (None, TranscriptionUnavailable, True),
])
def test_sdk_errors_map_by_http_status(status, expected, transient):
    error = error_from_sdk(aai.TranscriptError("failed to retrieve transcript t1: boom\nRequest: <Request>", status),
                           "t1")
    assert type(error) is expected
    assert isinstance(error, TranscriptionError)
    assert error.transient is transient
    assert error.transcript_id == "t1"
    assert "Request:" not in str(error)
