"""Turns ``transcribe.py`` inputs (URLs, local files, accounts) into one job per video, or an outcome saying why not."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tiktok.auth.access import call_with_token
from tiktok.config import Settings
from tiktok.transcription.download import classify_url
from tiktok.errors import ConfigError, RelinkNeeded, ScopeError, TikTokError
from tiktok.exitcodes import BAD_INPUT, FAILED, RELINK, TRY_LATER, outcome_line
from tiktok.services import Services
from tiktok.transcription.covermap import CoverMap
from tiktok.transcription.options import TranscribeRequest, poll_interval_for, video_key_terms
from tiktok.transcription.store import TranscriptRecord, safe_name
from tiktok.retry import DISPLAY_RETRY, Runtime
from tiktok.transcription.videolist import Video, list_videos
from tiktok.words import Words, relink, said

DEFAULT_BASE_URL = "https://api.assemblyai.com"  # the SDK's default (ecosystem notes section 1)
STANDIN_POLL_INTERVAL_S = 0.05  # the loopback stand-in counts polls, not seconds: no reason to wait long
LOCAL_ACCOUNT = "local"  # transcripts folder for local files
LINKS_ACCOUNT = "links"  # ... for media URLs and TikTok URLs without a known account
_VIDEO_ID_IN_URL = re.compile(r"/video/(\d+)")


@dataclass(frozen=True)
class Job:
    """One video to transcribe: where it comes from and the record it will be saved under."""

    record: TranscriptRecord
    url: str | None = None  # downloaded with yt-dlp when set
    path: Path | None = None  # a local file, sent as it is
    key_terms: tuple[str, ...] = ()  # the creator's name and the video's hashtags, for --video-key-terms

    @property
    def label(self) -> str:
        return f"{self.record.username and '@' + self.record.username or self.record.open_id}/{self.record.video_id}"


@dataclass(frozen=True)
class Outcome:
    status: str  # an outcome of tiktok.exitcodes
    label: str
    detail: str


@dataclass(frozen=True)
class Target:
    """Where the SDK sends its requests."""

    api_key: str
    base_url: str
    poll_interval_s: float
    standin: bool = False


def format_outcome(outcome: Outcome) -> str:
    return outcome_line(outcome.status, outcome.label, outcome.detail)


def assemblyai_target(settings: Settings, stack: ExitStack, *, jobs: int = 1) -> Target:
    """The configured AssemblyAI; in emulator mode with no key, a stand-in served on loopback until ``stack`` ends.

    Polls every ``poll_interval_for(jobs)`` seconds unless ASSEMBLYAI_POLLING_INTERVAL says otherwise.
    """
    chosen = settings.transcription
    if chosen.assemblyai_api_key:
        poll = chosen.polling_interval_s or poll_interval_for(jobs)
        base = chosen.assemblyai_base_url or DEFAULT_BASE_URL
        return Target(api_key=chosen.assemblyai_api_key, base_url=base.rstrip("/"), poll_interval_s=poll)
    if not settings.emulated:
        raise ConfigError("ASSEMBLYAI_API_KEY is not set: create a key in your AssemblyAI dashboard and put "
                          "ASSEMBLYAI_API_KEY=... in .env (nothing was downloaded or sent)")
    from tiktok.emulator.assemblyai import create_standin  # emulator mode only: keeps Flask out of a real run
    from tiktok.emulator.serving import serve_in_thread

    standin_key = secrets.token_hex(16)  # lives only in this process
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)  # -v: show the stand-in's request lines too
    server = stack.enter_context(serve_in_thread(create_standin(api_key=standin_key), log_requests=verbose))
    return Target(api_key=standin_key, base_url=server.url, poll_interval_s=STANDIN_POLL_INTERVAL_S, standin=True)


def trusted_hosts(settings: Settings) -> frozenset[str]:
    """In emulator mode the emulator's host:port serves the share pages, so its URLs count as TikTok URLs."""
    return frozenset({urlsplit(settings.api_base).netloc}) if settings.emulated else frozenset()


def collect_jobs(request: TranscribeRequest, settings: Settings, services: Services, *,
                 sleep: Callable[[float], None], say: Callable[[str], None]) -> tuple[list[Job], list[Outcome]]:
    """Jobs for every usable input; an Outcome for each input that could not become jobs."""
    jobs: list[Job] = []
    problems: list[Outcome] = []
    accounts = services.store.load()
    usernames = {a.username: a.open_id for a in accounts.values() if a.username}
    for value in request.inputs:
        job_or_problem = job_for_input(value, trusted_hosts(settings), usernames)
        (jobs if isinstance(job_or_problem, Job) else problems).append(job_or_problem)
    for open_id in request.accounts:
        found, problem = account_jobs(open_id, request, settings, services, sleep)
        jobs += found
        if problem is not None:
            problems.append(problem)
        else:
            say(f"{open_id}: {len(found)} video(s) listed")
    for problem in problems:
        say(format_outcome(problem))
    unique = {(j.record.open_id, j.record.video_id): j for j in jobs}  # one job per video even if named twice
    return list(unique.values()), problems


def job_for_input(value: str, trusted: frozenset[str], usernames: Mapping[str, str]) -> Job | Outcome:
    """A job for a URL or local file, or a bad-input Outcome saying why not."""
    if "://" in value:
        kind = classify_url(value, trusted_hosts=trusted)
        if kind == "unknown":
            return Outcome(BAD_INPUT, value, "not a TikTok video URL or a link to a media file (.mp4, .mov, ...)")
        parts = urlsplit(value)
        if kind == "tiktok":
            match = _VIDEO_ID_IN_URL.search(parts.path)
            first = unquote(parts.path).lstrip("/").split("/", 1)[0]
            username = first[1:] if first.startswith("@") else ""
            open_id = usernames.get(username) or (f"@{username}" if username else LINKS_ACCOUNT)
            video_id = match.group(1) if match else _digest(value)
        else:
            username, open_id = "", LINKS_ACCOUNT
            video_id = f"{Path(parts.path).stem}-{_digest(value)}"
        record = TranscriptRecord(video_id=safe_name(video_id), open_id=open_id, username=username, source_url=value)
        return Job(record=record, url=value, key_terms=video_key_terms(username))
    path = Path(value).expanduser()
    if path.is_dir():
        return Outcome(BAD_INPUT, value, "is a directory, not a media file (name the files in it, e.g. "
                                         f"{value.rstrip('/')}/*.mp4, or give a TikTok URL or --account)")
    if not path.is_file():
        return Outcome(BAD_INPUT, value, "no such file (give a media file, a TikTok URL or --account)")
    resolved = path.resolve()
    try:
        video_id = safe_name(f"{path.stem}-{_file_digest(resolved)}")  # same bytes, same transcript
        created = int(resolved.stat().st_mtime)
    except OSError as exc:
        return Outcome(BAD_INPUT, value, f"the file cannot be read ({exc.strerror or exc})")
    record = TranscriptRecord(video_id=video_id, open_id=LOCAL_ACCOUNT, title=path.name, created_time=created,
                              source_url=str(resolved))
    return Job(record=record, path=resolved)


def account_jobs(open_id: str, request: TranscribeRequest, settings: Settings, services: Services,
                 sleep: Callable[[float], None]) -> tuple[list[Job], Outcome | None]:
    """Jobs for every listed video of one connected account (as many as were listed before any failure)."""
    account = services.store.get(open_id)
    if account is None:
        return [], Outcome(BAD_INPUT, open_id, f"no connected account with this open_id in "
                                                 f"{services.store.path}; log in with the app first")
    if account.emulated != settings.emulated:
        where = "the emulator" if account.emulated else "TikTok"
        now = "the emulator" if settings.emulated else "TikTok"
        return [], Outcome(BAD_INPUT, account.label, f"linked through {where}; not used while talking to {now}")
    if account.relink_reason:
        return [], Outcome(RELINK, account.label, str(relink(account.relink_reason)))
    token_call = lambda fn: call_with_token(services.store, services.oauth, open_id, fn)
    try:
        videos = list_videos(services.api, token_call, limit=request.limit, since=request.since,
                             runtime=Runtime(sleep=sleep, policy=DISPLAY_RETRY))
    except RelinkNeeded as exc:
        return [], Outcome(RELINK, account.label, str(relink(exc.reason)))
    except ScopeError as exc:
        scope = Words("the account did not grant video.list: link it again in the app and allow it", said(exc).details)
        return [], Outcome(RELINK, account.label, str(scope))
    except TikTokError as exc:
        status = TRY_LATER if exc.transient else FAILED
        return [], Outcome(status, account.label, f"could not list the videos: {said(exc)}")
    CoverMap(settings.transcription.transcripts_dir).remember(open_id, [(v.id, v.cover_url) for v in videos])
    return [video_job(open_id, account.username, v) for v in videos], None


def video_job(open_id: str, username: str, video: Video) -> Job:
    """The job for one listed video of the account ``open_id`` (``username``: its @name when known)."""
    name = username or video.username
    return Job(record=TranscriptRecord(video_id=video.id, open_id=open_id, username=name,
                                       title=video.title or video.description, created_time=video.create_time,
                                       source_url=video.share_url),
               url=video.share_url, key_terms=video_key_terms(name, video.title, video.description))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]
