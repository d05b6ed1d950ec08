"""What a creator can ask AssemblyAI for, and how often to ask whether it is done (pure; no SDK calls here).

Each option maps to one ``aai.TranscriptionConfig`` parameter of the SDK 1.8.2, so everything goes through the SDK:

    --detect-language       language_detection=True    AssemblyAI finds the spoken language (the record keeps it)
    --language CODE         language_code=CODE          the language is known (e.g. en, es, de); not with the above
    --speaker-labels        speaker_labels=True         turn-by-turn "Speaker A: ..." lines in the .txt
    --speakers N            speakers_expected=N         how many voices to expect (implies --speaker-labels)
    --key-term TERM         keyterms_prompt=[...]       names and words the model should spell right
    --video-key-terms       keyterms_prompt += the creator's @name and the video's hashtags, per video

Key terms follow AssemblyAI's documented limits (pre-recorded keyterms prompting): at most 1,000 terms, each at
most 6 words. AssemblyAI advises starting without key terms, since many or common ones can cause overcorrection,
and they cost extra; so none are sent unless asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from tiktok.transcription.limits import (DEFAULT_JOBS, DEFAULT_TIMEOUT_S, MAX_KEY_TERM_WORDS, MAX_KEY_TERMS,
                                         SHORT_CLIP_POLL_S)

# Polling (see poll_interval_for). AssemblyAI allows 20,000 HTTP requests per five minutes per account (pre-recorded
# rate limits: "HTTP rate limits"), about 66 a second. A TikTok clip is usually done within seconds, so the SDK's
# default 3 s between polls is mostly waiting after the transcript is already finished (1.5 s on average, per clip):
# SHORT_CLIP_POLL_S.
HTTP_LIMIT_PER_S = 20_000 / 300  # AssemblyAI's account-wide HTTP limit, as requests per second
POLL_SHARE_OF_LIMIT = 1 / 3    # polling may use a third of it: uploads, creates and other tools share the account
_HASHTAG = re.compile(r"#(\w+)")


@dataclass(frozen=True)
class TranscriptOptions:
    """The AssemblyAI features chosen for a run; ``key_terms`` apply to every video."""

    language_detection: bool = False
    language_code: str | None = None
    speaker_labels: bool = False
    speakers_expected: int | None = None
    key_terms: tuple[str, ...] = ()
    video_key_terms: bool = False

    def config_kwargs(self, video_terms: Iterable[str] = ()) -> dict[str, Any]:
        """Keyword arguments for ``aai.TranscriptionConfig`` (only what is set, so defaults stay AssemblyAI's);
        ``video_terms`` are one video's own key terms, sent only with ``video_key_terms``."""
        kwargs: dict[str, Any] = {}
        if self.language_detection:
            kwargs["language_detection"] = True
        if self.language_code:
            kwargs["language_code"] = self.language_code
        if self.speaker_labels or self.speakers_expected:
            kwargs["speaker_labels"] = True
        if self.speakers_expected:
            kwargs["speakers_expected"] = self.speakers_expected
        terms = self.all_key_terms(video_terms)
        if terms:
            kwargs["keyterms_prompt"] = list(terms)
        return kwargs

    def all_key_terms(self, video_terms: Iterable[str] = ()) -> tuple[str, ...]:
        """The run's key terms, then the video's own when ``video_key_terms``; distinct, capped at the limit."""
        own = list(video_terms) if self.video_key_terms else []
        return tuple(dict.fromkeys(clean_key_terms([*self.key_terms, *own])))[:MAX_KEY_TERMS]


@dataclass(frozen=True)
class TranscribeRequest:
    """What one transcription run was asked for (``transcribe.py``'s options): its inputs and how each job goes."""

    inputs: tuple[str, ...] = ()  # TikTok video URLs, media URLs or local files
    accounts: tuple[str, ...] = ()  # every video of these connected accounts
    limit: int | None = None  # with accounts: only the newest N videos of each
    since: float | None = None  # with accounts: only videos posted at or after this Unix time
    jobs: int = DEFAULT_JOBS
    force: bool = False  # transcribe again videos that are already done
    timeout_s: float = DEFAULT_TIMEOUT_S  # longest wait for AssemblyAI per video
    captions: bool = True  # take TikTok's own captions when offered
    caption_languages: tuple[str, ...] = ()  # yt-dlp --sub-langs patterns; empty: English, else the first
    options: TranscriptOptions = TranscriptOptions()


def clean_key_terms(terms: Iterable[str]) -> list[str]:
    """Terms split on commas, trimmed, blanks dropped; ValueError naming a term over the word limit."""
    cleaned = []
    for term in (part.strip() for raw in terms for part in raw.split(",")):
        if not term:
            continue
        if len(term.split()) > MAX_KEY_TERM_WORDS:
            raise ValueError(f"key term {term!r} has more than {MAX_KEY_TERM_WORDS} words (AssemblyAI's limit)")
        cleaned.append(term)
    return cleaned


def video_key_terms(username: str, *texts: str) -> tuple[str, ...]:
    """A video's own key terms: its creator's name and its hashtags (without ``#``), in order, each once."""
    tags = [tag for text in texts for tag in _HASHTAG.findall(text or "")]
    return tuple(dict.fromkeys(term for term in [username, *tags] if term))


def poll_interval_for(jobs: int) -> float:
    """Seconds between status polls with ``jobs`` transcripts in flight: short for TikTok-length clips, and never
    so short that the polls of every job together pass their share of AssemblyAI's HTTP rate limit."""
    return max(SHORT_CLIP_POLL_S, jobs / (HTTP_LIMIT_PER_S * POLL_SHARE_OF_LIMIT))
