"""Transcribe one local media file with the official AssemblyAI SDK, with every wait bounded.

The SDK is built from explicit settings (never ``aai.settings``), so two runs with different keys or base URLs in
one process cannot leak into each other. Errors::

    TikTokError
    └── TranscriptionError          anything that stopped a transcript (carries transcript_id when one exists)
        ├── MediaFileError          the local file to send is missing or unreadable
        ├── TranscriptionAuthError  AssemblyAI refused the API key (401/403)
        ├── TranscriptionRejected   AssemblyAI refused the request itself (other 4xx)
        ├── TranscriptionUnavailable  no usable answer: connection failure, timeout, 429 or 5xx   (transient)
        ├── TranscriptionTimeout    the transcript did not finish within the overall wait          (transient)
        └── TranscriptionFailed     AssemblyAI finished the transcript with status "error" (its reason)

A server-side ``error`` status is returned as a ``TranscriptResult`` (``ok`` is False, ``error`` holds the reason);
``result.raise_for_status()`` turns it into ``TranscriptionFailed``. Messages never contain the API key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import assemblyai as aai
import httpx

from tiktok.errors import ConfigError, TikTokError

DEFAULT_POLL_INTERVAL_S = 3.0  # the SDK's own default polling_interval (the CLI passes options.poll_interval_for)
DEFAULT_HTTP_TIMEOUT_S = 30.0  # the SDK's default http_timeout: bounds each socket operation, not the whole call
DEFAULT_SPEECH_MODELS = ("universal-3-pro", "universal-2")  # ecosystem notes §1: docs disagree, so always send it
MIN_POLL_WINDOW_S = 0.01  # poll at least once even when the upload used up the budget


class TranscriptionError(TikTokError):
    """A transcript could not be produced."""

    def __init__(self, message: str, *, transcript_id: str | None = None, status_code: int | None = None) -> None:
        self.transcript_id = transcript_id
        self.status_code = status_code
        self.reason = message
        super().__init__(message)


class MediaFileError(TranscriptionError):
    """The local media file cannot be sent."""


class TranscriptionAuthError(TranscriptionError):
    """AssemblyAI refused the API key."""


class TranscriptionRejected(TranscriptionError):
    """AssemblyAI refused the request (a 4xx other than auth or rate limiting)."""


class TranscriptionUnavailable(TranscriptionError):
    """AssemblyAI could not be reached or answered 429/5xx; trying later may work."""

    transient = True


class TranscriptionTimeout(TranscriptionError):
    """The transcript was still queued or processing when the overall wait ran out."""

    transient = True


class TranscriptionFailed(TranscriptionError):
    """AssemblyAI finished the transcript with status ``error``."""


@dataclass(frozen=True)
class TranscriptResult:
    """What came back for one file; ``srt``/``vtt`` are empty unless the transcript completed."""

    transcript_id: str
    status: str
    text: str
    srt: str
    vtt: str
    language: str | None
    duration_s: float | None
    error: str | None
    speakers: int = 0  # distinct speakers labelled (with speaker_labels); the text is then one line per turn

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def raise_for_status(self) -> "TranscriptResult":
        """Return self when completed, else raise ``TranscriptionFailed`` with AssemblyAI's reason."""
        if not self.ok:
            raise TranscriptionFailed(f"AssemblyAI could not transcribe it: {self.error or 'no reason given'} "
                                      f"(transcript {self.transcript_id})", transcript_id=self.transcript_id)
        return self


def transcribe_file(path: str | Path, *, api_key: str, base_url: str, timeout_s: float,
                    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
                    speech_models: tuple[str, ...] = DEFAULT_SPEECH_MODELS,
                    http_timeout_s: float = DEFAULT_HTTP_TIMEOUT_S,
                    chars_per_caption: int | None = None, config: Mapping[str, Any] | None = None,
                    clock: Callable[[], float] = time.monotonic) -> TranscriptResult:
    """Upload ``path``, wait at most ``timeout_s`` overall for the transcript, and fetch its SRT and VTT.

    ``config`` holds more ``aai.TranscriptionConfig`` parameters (``TranscriptOptions.config_kwargs``).
    """
    if not api_key:
        raise ConfigError("ASSEMBLYAI_API_KEY is not set: an AssemblyAI API key is needed to transcribe")
    path = Path(path)
    if not path.is_file():
        raise MediaFileError(f"{path}: no such media file")
    deadline = clock() + timeout_s
    client = aai.Client(settings=aai.Settings(api_key=api_key, base_url=base_url, polling_interval=poll_interval_s,
                                              http_timeout=min(http_timeout_s, timeout_s)))
    transcriber = aai.Transcriber(client=client, config=aai.TranscriptionConfig(speech_models=list(speech_models),
                                                                                **(config or {})))
    transcript_id: str | None = None
    try:
        transcript = transcriber.submit(str(path))
        transcript_id = transcript.id
        if transcript.status != aai.TranscriptStatus.error:  # an error at creation is final: no need to poll
            _wait(transcript, max(deadline - clock(), MIN_POLL_WINDOW_S), timeout_s)
        return _finish(transcript, chars_per_caption)
    except OSError as exc:
        raise MediaFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except httpx.HTTPError as exc:
        raise TranscriptionUnavailable(f"AssemblyAI could not be reached: {type(exc).__name__}: {exc}",
                                       transcript_id=transcript_id) from None
    except aai.AssemblyAIError as exc:
        raise error_from_sdk(exc, transcript_id) from None
    finally:
        client.http_client.close()


def _wait(transcript: aai.Transcript, window_s: float, timeout_s: float) -> None:
    """Poll until a terminal status; the SDK raises a status-less TranscriptError when the window closes."""
    try:
        transcript.wait_for_completion(poll_timeout=window_s)
    except aai.TranscriptError as exc:
        if exc.status_code is not None:
            raise
        raise TranscriptionTimeout(f"transcript {transcript.id} did not finish within {timeout_s:g} s; "
                                   f"AssemblyAI may still finish it, so it can be fetched later by that id",
                                   transcript_id=transcript.id) from None


def error_from_sdk(exc: aai.AssemblyAIError, transcript_id: str | None) -> TranscriptionError:
    """Map an SDK error (carrying the HTTP status) to our tree; the SDK's message never holds the key."""
    status = exc.status_code
    message = f"AssemblyAI answered HTTP {status}: {_clean(str(exc))}" if status else _clean(str(exc))
    if status in (401, 403):
        cls: type[TranscriptionError] = TranscriptionAuthError
        message = f"AssemblyAI refused the API key (HTTP {status}: {_clean(str(exc))}); check ASSEMBLYAI_API_KEY"
    elif status is None or status == 429 or status >= 500:
        cls = TranscriptionUnavailable
    else:
        cls = TranscriptionRejected
    return cls(message, transcript_id=transcript_id, status_code=status)


def _clean(text: str) -> str:
    # on a non-JSON error body the SDK adds "Reason: <body>" and "Request: <repr>" lines; the request adds nothing
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("Request:")]
    return " ".join(lines)


def _finish(transcript: aai.Transcript, chars_per_caption: int | None) -> TranscriptResult:
    """The result, with subtitles fetched only for a completed transcript."""
    if transcript.status != aai.TranscriptStatus.completed:
        return _result(transcript, "", "")
    return _result(transcript, transcript.export_subtitles_srt(chars_per_caption=chars_per_caption),
                   transcript.export_subtitles_vtt(chars_per_caption=chars_per_caption))


def _result(transcript: aai.Transcript, srt: str, vtt: str) -> TranscriptResult:
    language = transcript.language_code
    duration = transcript.audio_duration
    utterances = transcript.utterances or []
    speakers = {u.speaker for u in utterances if u.speaker}
    text = speaker_text(utterances) if speakers else transcript.text or ""
    return TranscriptResult(transcript_id=transcript.id or "", status=_status_value(transcript.status),
                            text=text, srt=srt, vtt=vtt, language=getattr(language, "value", language),
                            duration_s=float(duration) if duration is not None else None, error=transcript.error,
                            speakers=len(speakers))


def speaker_text(utterances: list[aai.Utterance]) -> str:
    """One line per speaker turn, "Speaker A: ...", as AssemblyAI's own examples print utterances."""
    return "\n".join(f"Speaker {u.speaker}: {u.text}" for u in utterances)


def _status_value(status: aai.TranscriptStatus | str) -> str:
    return getattr(status, "value", status)
