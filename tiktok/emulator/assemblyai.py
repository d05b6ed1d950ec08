"""``create_standin()``: a loopback stand-in for AssemblyAI's pre-recorded transcription API (v2).

It speaks the wire format the official ``assemblyai`` SDK 1.8.2 sends and parses: ``POST /v2/upload`` (raw body),
``POST /v2/transcript``, ``GET /v2/transcript/<id>`` and the ``/srt`` and ``/vtt`` exports, with the raw API key in
the ``authorization`` header and errors as ``{"error": "..."}``. It never recognises speech: the transcript text is
built from the sha256 and size of the uploaded bytes (or from the audio URL), starts with ``[stand-in transcript]``
and is the same every time for the same input, so tests can tell videos apart.

Progress is counted in polls, never in wall-clock time. Controls for tests live on ``StandinState``
(``standin_state(app)``): fail the next transcripts, leave one processing forever, answer uploads with a 5xx; and
``request_count`` counts every request it was sent.

The transcription options a creator can pick are checked as AssemblyAI documents them and answered in kind:
``language_detection`` (a detected ``language_code`` and ``language_confidence``), ``speaker_labels`` with
``speakers_expected`` (at most 10; words and ``utterances`` carry speakers A, B, ...), and ``keyterms_prompt`` /
``word_boost`` (lists of at most 1,000 terms of at most 6 words; ``keyterms_prompt`` not with ``prompt``). A
malformed option is a 400 ``{"error": ...}`` at creation, as AssemblyAI answers a bad request.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, jsonify, request

STATE_KEY = "assemblyai_standin"
TEXT_PREFIX = "[stand-in transcript]"
WORD_MS = 400  # synthetic pace: one word every 0.4 s
WORD_GAP_MS = 50  # silence between synthetic words
DEFAULT_CHARS_PER_CAPTION = 32  # our choice: AssemblyAI does not document its default
READ_CHUNK_BYTES = 65_536
AUTH_ERROR = "Authentication error, API token missing/invalid"  # AssemblyAI's 401 message
DEFAULT_FAILURE = "[stand-in fault] Transcoding failed: the stand-in was told to fail this transcript"
_VOCABULARY = ("amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
               "kestrel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron",
               "thistle", "umber", "velvet", "willow", "xylem", "yarrow", "zephyr", "bramble", "copper",
               "dune", "fennel", "glacier", "hazel")
_WORDS_PER_TRANSCRIPT = 8
MAX_TERMS = 1000  # keyterms prompting / word_boost: "up to 1,000 words or phrases"
MAX_TERM_WORDS = 6  # ... "maximum 6 words per phrase"
MAX_SPEAKERS = 10  # speakers_expected: "Up to 10 speakers are supported"
DEFAULT_SPEAKERS = 2  # our choice when speaker_labels comes without speakers_expected
DETECTED_LANGUAGE = "en"  # what language detection "hears" in the synthetic English-looking words
DETECTED_CONFIDENCE = 0.97


@dataclass
class _Job:
    id: str
    audio_url: str
    digest: str  # sha256 of the uploaded bytes, or of the audio URL when nothing was uploaded
    size: int | None
    request: dict[str, Any]
    fate: str  # "complete" | "error" | "stall"
    reason: str | None = None
    polls: int = 0


@dataclass
class StandinState:
    """Everything the stand-in knows, plus the switches tests flip. Thread-safe."""

    api_key: str
    polls_to_complete: int = 2
    uploads: dict[str, tuple[str, int]] = field(default_factory=dict)  # upload token -> (sha256, size)
    jobs: dict[str, _Job] = field(default_factory=dict)
    _fail_next: list[str] = field(default_factory=list)
    _stall_next: int = 0
    _upload_faults: list[int] = field(default_factory=list)
    _fates_by_digest: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    _requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def request_count(self) -> int:
        """Every request received, whatever its path or answer."""
        with self._lock:
            return self._requests

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def fail_next(self, count: int = 1, reason: str = DEFAULT_FAILURE) -> None:
        """The next ``count`` transcripts created end with status ``error`` and this reason."""
        with self._lock:
            self._fail_next.extend([reason] * count)

    def stall_next(self, count: int = 1) -> None:
        """The next ``count`` transcripts created stay ``processing`` forever."""
        with self._lock:
            self._stall_next += count

    def fail_uploads(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` uploads are answered with HTTP ``status``."""
        with self._lock:
            self._upload_faults.extend([status] * count)

    def fail_audio(self, digest: str, reason: str = DEFAULT_FAILURE) -> None:
        """Every transcript of the audio with this sha256 ends with status ``error`` (order-proof under --jobs)."""
        with self._lock:
            self._fates_by_digest[digest] = ("error", reason)

    def stall_audio(self, digest: str) -> None:
        """Every transcript of the audio with this sha256 stays ``processing`` forever."""
        with self._lock:
            self._fates_by_digest[digest] = ("stall", None)

    @property
    def upload_count(self) -> int:
        return len(self.uploads)

    @property
    def transcript_count(self) -> int:
        return len(self.jobs)

    def _take_upload_fault(self) -> int | None:
        with self._lock:
            return self._upload_faults.pop(0) if self._upload_faults else None

    def _choose_fate(self, digest: str) -> tuple[str, str | None]:
        with self._lock:
            if digest in self._fates_by_digest:
                return self._fates_by_digest[digest]
            if self._fail_next:
                return "error", self._fail_next.pop(0)
            if self._stall_next:
                self._stall_next -= 1
                return "stall", None
            return "complete", None


def create_standin(*, api_key: str = "test-key", polls_to_complete: int = 2) -> Flask:
    """A Flask app standing in for AssemblyAI; its state is ``standin_state(app)``."""
    app = Flask(__name__)
    app.extensions[STATE_KEY] = StandinState(api_key=api_key, polls_to_complete=polls_to_complete)
    app.before_request(_count_request)
    app.before_request(_check_key)
    app.add_url_rule("/v2/upload", view_func=_upload, methods=["POST"])
    app.add_url_rule("/v2/transcript", view_func=_create, methods=["POST"])
    app.add_url_rule("/v2/transcript/<transcript_id>", view_func=_get, methods=["GET"])
    app.add_url_rule("/v2/transcript/<transcript_id>/<kind>", view_func=_subtitles, methods=["GET"])
    app.register_error_handler(404, lambda _e: _error(404, "Not found"))
    app.register_error_handler(405, lambda _e: _error(405, "Method not allowed"))
    return app


def standin_state(app: Flask) -> StandinState:
    """The state and controls of a stand-in built by ``create_standin``."""
    return app.extensions[STATE_KEY]


def _state() -> StandinState:
    return current_app.extensions[STATE_KEY]


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _count_request() -> None:
    _state()._count_request()


def _check_key() -> Response | None:
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), _state().api_key.encode()):
        return _error(401, AUTH_ERROR)
    return None


def _upload() -> Response:
    state = _state()
    fault = state._take_upload_fault()
    if fault is not None:
        return _error(fault, "[stand-in fault] Internal server error")
    digest, size = hashlib.sha256(), 0
    while chunk := request.stream.read(READ_CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    if size == 0:
        return _error(400, "Upload is empty")
    token = uuid.uuid4().hex
    with state._lock:
        state.uploads[token] = (digest.hexdigest(), size)
    return jsonify({"upload_url": f"{request.host_url}upload/{token}"})


def _create() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("audio_url"), str) or not body["audio_url"]:
        return _error(400, "audio_url is required")
    problem = option_problem(body)
    if problem is not None:
        return _error(400, problem)
    state = _state()
    audio_url = body["audio_url"]
    upload = _uploaded(state, audio_url)
    if upload is None and audio_url.startswith(f"{request.host_url}upload/"):
        digest, size = hashlib.sha256(audio_url.encode()).hexdigest(), None
        fate, reason = "error", f"Download error, unable to download {audio_url}"
    else:
        digest, size = upload or (hashlib.sha256(audio_url.encode()).hexdigest(), None)
        fate, reason = state._choose_fate(digest)
    job = _Job(id=str(uuid.uuid4()), audio_url=audio_url, digest=digest, size=size, request=body, fate=fate,
               reason=reason)
    with state._lock:
        state.jobs[job.id] = job
    return jsonify(transcript_json(job, "queued"))


def option_problem(body: dict[str, Any]) -> str | None:
    """What AssemblyAI would refuse in the creator-facing options of a create request, or None."""
    for name in ("language_detection", "speaker_labels"):
        if name in body and not isinstance(body[name], bool):
            return f"{name} must be a boolean"
    if "language_code" in body and not (isinstance(body["language_code"], str) and body["language_code"]):
        return "language_code must be a non-empty string"
    speakers = body.get("speakers_expected")
    if speakers is not None and (isinstance(speakers, bool) or not isinstance(speakers, int)
                                 or not 1 <= speakers <= MAX_SPEAKERS):
        return f"speakers_expected must be a whole number from 1 to {MAX_SPEAKERS}"
    for name in ("keyterms_prompt", "word_boost"):
        if name in body and (problem := _terms_problem(name, body[name])):
            return problem
    if body.get("keyterms_prompt") and body.get("prompt"):
        return "keyterms_prompt cannot be used together with prompt"
    return None


def _terms_problem(name: str, terms: Any) -> str | None:
    if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
        return f"{name} must be a list of non-empty strings"
    if len(terms) > MAX_TERMS:
        return f"{name} takes at most {MAX_TERMS} words or phrases, not {len(terms)}"
    long = next((t for t in terms if len(t.split()) > MAX_TERM_WORDS), None)
    return f"{name} phrases are at most {MAX_TERM_WORDS} words: {long!r}" if long else None


def _uploaded(state: StandinState, audio_url: str) -> tuple[str, int] | None:
    prefix = f"{request.host_url}upload/"
    return state.uploads.get(audio_url[len(prefix):]) if audio_url.startswith(prefix) else None


def _get(transcript_id: str) -> Response:
    state = _state()
    with state._lock:
        job = state.jobs.get(transcript_id)
        if job is None:
            return _error(404, "Transcript lookup error, transcript id not found")
        job.polls += 1
        status = status_after_polls(job.fate, job.polls, state.polls_to_complete)
    return jsonify(transcript_json(job, status))


def _subtitles(transcript_id: str, kind: str) -> Response:
    state = _state()
    job = state.jobs.get(transcript_id)
    if kind not in ("srt", "vtt") or job is None:
        return _error(404, "Not found")
    if status_after_polls(job.fate, job.polls, state.polls_to_complete) != "completed":
        return _error(400, "Transcript is not completed; subtitles are available once it is")
    limit = request.args.get("chars_per_caption", type=int) or DEFAULT_CHARS_PER_CAPTION
    cues = group_cues(_words(job), limit)
    text = render_srt(cues) if kind == "srt" else render_vtt(cues)
    return Response(text, mimetype="text/plain")


def status_after_polls(fate: str, polls: int, polls_to_complete: int) -> str:
    """The status a transcript shows on its ``polls``-th poll (creation itself answers ``queued``)."""
    if fate == "stall" or polls < max(polls_to_complete, 1):
        return "queued" if polls <= 1 and polls_to_complete > 2 else "processing"
    return "error" if fate == "error" else "completed"


def synthetic_text_words(digest: str, size: int | None) -> list[str]:
    """The transcript's words: labelled as a stand-in, naming the input, then words picked by the digest."""
    source = ["of", str(size), "bytes:"] if size is not None else ["from", "a", "link:"]
    picks = bytes.fromhex(digest)[4:4 + _WORDS_PER_TRANSCRIPT]
    chosen = [_VOCABULARY[b % len(_VOCABULARY)] for b in picks]
    chosen[-1] += "."
    return [*TEXT_PREFIX.split(), "clip", digest[:8], *source, *chosen]


def timed_words(digest: str, size: int | None) -> list[dict[str, Any]]:
    """Words with start/end in milliseconds, AssemblyAI's ``words`` shape."""
    return [{"text": text, "start": i * WORD_MS, "end": (i + 1) * WORD_MS - WORD_GAP_MS, "confidence": 0.5,
             "speaker": None} for i, text in enumerate(synthetic_text_words(digest, size))]


def speaker_words(words: list[dict[str, Any]], speakers: int) -> list[dict[str, Any]]:
    """The words split into ``speakers`` consecutive turns, labelled A, B, ... as AssemblyAI labels speakers."""
    size = math.ceil(len(words) / max(1, min(speakers, len(words))))
    return [{**word, "speaker": chr(ord("A") + i // size)} for i, word in enumerate(words)]


def utterances(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn-by-turn utterances (AssemblyAI's ``utterances`` shape) from speaker-labelled words."""
    turns: list[list[dict[str, Any]]] = []
    for word in words:
        if turns and turns[-1][-1]["speaker"] == word["speaker"]:
            turns[-1].append(word)
        else:
            turns.append([word])
    return [{"text": " ".join(w["text"] for w in turn), "start": turn[0]["start"], "end": turn[-1]["end"],
             "confidence": 0.5, "speaker": turn[0]["speaker"], "channel": None, "words": turn} for turn in turns]


def _words(job: _Job) -> list[dict[str, Any]]:
    words = timed_words(job.digest, job.size)
    if job.request.get("speaker_labels"):
        words = speaker_words(words, job.request.get("speakers_expected") or DEFAULT_SPEAKERS)
    return words


def transcript_json(job: _Job, status: str) -> dict[str, Any]:
    """The transcript object as ``GET /v2/transcript/<id>`` returns it at ``status``."""
    echoed = {key: value for key, value in job.request.items() if key != "audio_url"}
    body: dict[str, Any] = {**echoed, "id": job.id, "status": status, "audio_url": job.audio_url,
                            "text": None, "words": None, "error": None, "audio_duration": None,
                            "language_code": echoed.get("language_code"), "speech_model_used": None}
    if status == "completed":
        words = _words(job)
        detected = job.request.get("language_detection") is True
        body.update(text=" ".join(w["text"] for w in words), words=words, confidence=0.5,
                    audio_duration=math.ceil(words[-1]["end"] / 1000),
                    language_code=DETECTED_LANGUAGE if detected else body["language_code"] or "en_us",
                    speech_model_used="stand-in")
        if detected:
            body["language_confidence"] = DETECTED_CONFIDENCE
        if job.request.get("speaker_labels"):
            body["utterances"] = utterances(words)
    elif status == "error":
        body["error"] = job.reason or DEFAULT_FAILURE
    return body


def group_cues(words: list[dict[str, Any]], chars_per_caption: int) -> list[tuple[int, int, str]]:
    """Pack words into (start_ms, end_ms, text) captions of at most ``chars_per_caption`` characters."""
    cues: list[tuple[int, int, str]] = []
    current: list[dict[str, Any]] = []
    for word in words:
        candidate = " ".join(w["text"] for w in [*current, word])
        if current and len(candidate) > chars_per_caption:
            cues.append((current[0]["start"], current[-1]["end"], " ".join(w["text"] for w in current)))
            current = []
        current.append(word)
    if current:
        cues.append((current[0]["start"], current[-1]["end"], " ".join(w["text"] for w in current)))
    return cues


def _timestamp(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02}:{minutes:02}:{seconds:02}{separator}{millis:03}"


def render_srt(cues: list[tuple[int, int, str]]) -> str:
    """SubRip text: numbered cues, comma before milliseconds."""
    return "".join(f"{n}\n{_timestamp(s, ',')} --> {_timestamp(e, ',')}\n{text}\n\n"
                   for n, (s, e, text) in enumerate(cues, start=1))


def render_vtt(cues: list[tuple[int, int, str]]) -> str:
    """WebVTT text: a header, then cues with a dot before milliseconds."""
    return "WEBVTT\n\n" + "".join(f"{_timestamp(s, '.')} --> {_timestamp(e, '.')}\n{text}\n\n"
                                  for s, e, text in cues)
