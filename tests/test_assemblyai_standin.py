"""The AssemblyAI stand-in over real loopback HTTP: wire format, poll-counted progress, faults, derived text."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tiktok.emulator.serving import serve_in_thread
from tiktok.emulator.assemblyai import (
    AUTH_ERROR,
    TEXT_PREFIX,
    create_standin,
    group_cues,
    standin_state,
    status_after_polls,
    timed_words,
)

KEY = "test-key"
TIMEOUT_S = 5


class Api:
    """A thin requests wrapper speaking to the stand-in the way the SDK does (raw key, no Bearer)."""

    def __init__(self, url: str, key: str = KEY) -> None:
        self.url, self.key = url, key

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"authorization": self.key} if self.key is not None else {}
        return requests.request(method, self.url + path, headers=headers, timeout=TIMEOUT_S, **kwargs)

    def upload(self, data: bytes) -> str:
        response = self.call("POST", "/v2/upload", data=data)
        assert response.status_code == 200, response.text
        return response.json()["upload_url"]

    def create(self, audio_url: str, **config) -> dict:
        response = self.call("POST", "/v2/transcript", json={"audio_url": audio_url, **config})
        assert response.status_code == 200, response.text
        return response.json()

    def poll(self, transcript_id: str) -> dict:
        response = self.call("GET", f"/v2/transcript/{transcript_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def transcribe(self, data: bytes, polls: int = 2) -> dict:
        body = self.create(self.upload(data))
        for _ in range(polls):
            body = self.poll(body["id"])
        return body


@pytest.fixture
def app():
    return create_standin(api_key=KEY, polls_to_complete=2)


@pytest.fixture
def api(app):
    with serve_in_thread(app) as server:
        yield Api(server.url)


@pytest.mark.parametrize("key", [None, "", "wrong-key", f"Bearer {KEY}"])
def test_requests_without_the_raw_key_get_401_in_assemblyais_error_shape(api, key):
    api.key = key
    response = api.call("POST", "/v2/upload", data=b"abc")
    assert response.status_code == 401
    assert response.json() == {"error": AUTH_ERROR}


def test_create_answers_queued_and_echoes_audio_url_and_config(api):
    upload_url = api.upload(b"some video bytes")
    body = api.create(upload_url, speech_models=["universal-3-pro", "universal-2"])
    assert body["status"] == "queued"
    assert body["audio_url"] == upload_url
    assert body["speech_models"] == ["universal-3-pro", "universal-2"]
    assert body["text"] is None and isinstance(body["id"], str)


def test_status_moves_with_polls_not_time(api, app):
    standin_state(app).polls_to_complete = 3
    body = api.create(api.upload(b"x" * 10))
    seen = [api.poll(body["id"])["status"] for _ in range(4)]
    assert seen == ["queued", "processing", "completed", "completed"]


@pytest.mark.parametrize("fate, polls, polls_to_complete, expected", [
    ("complete", 1, 2, "processing"),
    ("complete", 2, 2, "completed"),
    ("complete", 1, 0, "completed"),
    ("complete", 1, 3, "queued"),
    ("error", 2, 2, "error"),
    ("error", 1, 2, "processing"),
    ("stall", 1000, 2, "processing"),
])
def test_status_after_polls(fate, polls, polls_to_complete, expected):
    assert status_after_polls(fate, polls, polls_to_complete) == expected


def test_text_is_labelled_derived_from_the_bytes_and_deterministic(api):
    first, again, other = (api.transcribe(data) for data in (b"video one", b"video one", b"video two!"))
    assert first["status"] == "completed"
    assert first["text"].startswith(TEXT_PREFIX)
    assert hashlib.sha256(b"video one").hexdigest()[:8] in first["text"]
    assert "9 bytes" in first["text"]
    assert first["text"] == again["text"]
    assert first["id"] != again["id"]
    assert other["text"] != first["text"]
    assert [w["text"] for w in first["words"]] == first["text"].split()
    assert all(w["start"] < w["end"] for w in first["words"])
    assert first["audio_duration"] >= first["words"][-1]["end"] / 1000
    assert first["language_code"] == "en_us"


def test_a_plain_audio_url_is_transcribed_from_the_url_itself(api):
    body = api.create("https://example.invalid/clip.mp4")
    for _ in range(2):
        body = api.poll(body["id"])
    assert body["status"] == "completed"
    assert hashlib.sha256(b"https://example.invalid/clip.mp4").hexdigest()[:8] in body["text"]


def test_an_unknown_upload_url_ends_in_a_download_error(api):
    body = api.create(api.url + "/upload/not-a-real-token")
    for _ in range(2):
        body = api.poll(body["id"])
    assert body["status"] == "error"
    assert "Download error" in body["error"]


@pytest.mark.parametrize("kind, first_line, separator", [("srt", "1", ","), ("vtt", "WEBVTT", ".")])
def test_subtitles_have_several_cues_within_chars_per_caption(api, kind, first_line, separator):
    body = api.transcribe(b"subtitle me")
    response = api.call("GET", f"/v2/transcript/{body['id']}/{kind}", params={"chars_per_caption": 20})
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0] == first_line
    timings = [line for line in lines if " --> " in line]
    texts = [lines[i + 1] for i, line in enumerate(lines) if " --> " in line]
    assert len(timings) >= 3
    assert separator in timings[0].split(" --> ")[0]
    assert all(len(t) <= 20 or " " not in t for t in texts)
    assert " ".join(texts) == body["text"]


def test_subtitles_before_completion_are_refused(api):
    body = api.create(api.upload(b"not yet"))
    response = api.call("GET", f"/v2/transcript/{body['id']}/srt")
    assert response.status_code == 400
    assert "error" in response.json()


def test_group_cues_keeps_a_long_word_whole():
    words = [{"text": "supercalifragilistic", "start": 0, "end": 10}, {"text": "a", "start": 10, "end": 20}]
    assert group_cues(words, 5) == [(0, 10, "supercalifragilistic"), (10, 20, "a")]


def test_timed_words_differ_between_inputs():
    digest_a, digest_b = (hashlib.sha256(d).hexdigest() for d in (b"a", b"b"))
    assert timed_words(digest_a, 1) != timed_words(digest_b, 1)


def test_fail_next_ends_that_many_transcripts_with_an_error_reason(api, app):
    standin_state(app).fail_next(1, reason="File does not appear to contain audio [stand-in]")
    failed, fine = api.transcribe(b"one"), api.transcribe(b"two")
    assert failed["status"] == "error"
    assert failed["error"] == "File does not appear to contain audio [stand-in]"
    assert failed["text"] is None
    assert fine["status"] == "completed"


def test_stall_next_never_finishes(api, app):
    standin_state(app).stall_next()
    assert api.transcribe(b"stuck", polls=50)["status"] == "processing"
    assert api.transcribe(b"free")["status"] == "completed"


def test_faults_can_target_one_audio_by_digest(api, app):
    state = standin_state(app)
    state.fail_audio(hashlib.sha256(b"bad").hexdigest(), reason="targeted")
    state.stall_audio(hashlib.sha256(b"slow").hexdigest())
    results = {data: api.transcribe(data, polls=5) for data in (b"good", b"bad", b"slow")}
    assert [results[d]["status"] for d in (b"good", b"bad", b"slow")] == ["completed", "error", "processing"]
    assert results[b"bad"]["error"] == "targeted"


def test_fail_uploads_answers_5xx_then_recovers(api, app):
    standin_state(app).fail_uploads(1, status=502)
    response = api.call("POST", "/v2/upload", data=b"abc")
    assert response.status_code == 502
    assert set(response.json()) == {"error"}
    assert api.upload(b"abc").startswith(api.url + "/upload/")
    assert standin_state(app).upload_count == 1


@pytest.mark.parametrize("method, path, kwargs, status", [
    ("POST", "/v2/upload", {"data": b""}, 400),
    ("POST", "/v2/transcript", {"json": {}}, 400),
    ("POST", "/v2/transcript", {"json": {"audio_url": 5}}, 400),
    ("POST", "/v2/transcript", {"data": b"not json"}, 400),
    ("GET", "/v2/transcript/nope", {}, 404),
    ("GET", "/v2/transcript/nope/srt", {}, 404),
    ("GET", "/v2/nothing-here", {}, 404),
    ("DELETE", "/v2/upload", {}, 405),
])
def test_bad_requests_get_json_errors(api, method, path, kwargs, status):
    response = api.call(method, path, **kwargs)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)
