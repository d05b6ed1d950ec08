"""``python transcribe.py``: TikTok videos (or local media files) to text, subtitles and a record, via AssemblyAI.

Inputs become jobs (one per video); jobs run ``--jobs`` at a time. Each job downloads with yt-dlp into a temporary
folder (removed on success and failure), transcribes through the AssemblyAI SDK with a bounded wait and saves
``.txt``/``.srt``/``.vtt``/``.json`` through :class:`TranscriptStore`. A failed video gets its reason recorded; the
others go on. Finished videos are skipped unless ``--force``, so a second run does no work.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit


from .access import call_with_token
from .config import Settings, load_settings, read_environment
from .download import DownloadFailed, classify_url, download_video
from .errors import ConfigError, RelinkNeeded, TikTokError, TokenFileError
from .exitcodes import PRECEDENCE_HELP, ExitStatus, combine
from .progress import ByteProgress
from .logs import configure_logging
from .services import Services, build_services
from .serving import serve_in_thread
from .standins.assemblyai import create_standin
from .transcription import MediaFileError, TranscriptionError, transcribe_file
from .transcripts import TranscriptRecord, TranscriptsFolderError, TranscriptStore, safe_name
from .videolist import list_videos

DEFAULT_TRANSCRIPTS_DIR = "transcripts"
DEFAULT_JOBS = 2
DEFAULT_TIMEOUT_S = 900.0  # AssemblyAI usually needs well under a minute for a TikTok-length clip; 15 min is slack
DEFAULT_BASE_URL = "https://api.assemblyai.com"  # the SDK's default (ecosystem notes section 1)
DEFAULT_POLL_INTERVAL_S = 3.0  # the SDK's default polling_interval
STANDIN_POLL_INTERVAL_S = 0.05  # the loopback stand-in counts polls, not seconds: no reason to wait long
DOWNLOAD_TIMEOUT_S = 30.0  # yt-dlp socket timeout: each network operation, not the whole download
LOCAL_ACCOUNT = "local"  # transcripts folder for local files
LINKS_ACCOUNT = "links"  # ... for media URLs and TikTok URLs without a known account
_VIDEO_ID_IN_URL = re.compile(r"/video/(\d+)")

EPILOG = """exit codes:
  0  every video transcribed (or already done)
  1  some videos failed; each reason is recorded in its .json and shown on the app's Transcripts page
  2  bad input: an unknown account, a URL that is neither TikTok nor a media file, a missing local file (the other
     inputs still ran), or an unusable transcripts folder or no ASSEMBLYAI_API_KEY (these stop at once)
  3  an account must be linked again in the app
  4  temporary trouble (rate limit, 5xx, timeouts): run again later; finished videos are skipped
  """ + PRECEDENCE_HELP + """

environment: ASSEMBLYAI_API_KEY (required unless the TikTok emulator is in use, where a labelled local stand-in
makes synthetic text instead), ASSEMBLYAI_BASE_URL (another AssemblyAI host, e.g. https://api.eu.assemblyai.com),
ASSEMBLYAI_POLLING_INTERVAL (seconds between status polls), TRANSCRIPTS_DIR (default transcripts/)."""

STATUS_EXIT = {"relink": ExitStatus.RELINK_NEEDED, "bad_input": ExitStatus.BAD_INPUT, "failed": ExitStatus.FAILED,
               "try_later": ExitStatus.TRY_LATER}


@dataclass(frozen=True)
class Job:
    """One video to transcribe: where it comes from and the record it will be saved under."""

    record: TranscriptRecord
    url: str | None = None  # downloaded with yt-dlp when set
    path: Path | None = None  # a local file, sent as it is

    @property
    def label(self) -> str:
        return f"{self.record.username and '@' + self.record.username or self.record.open_id}/{self.record.video_id}"


@dataclass(frozen=True)
class Outcome:
    status: str  # done | skipped | failed | try_later | bad_input | relink
    label: str
    detail: str


@dataclass(frozen=True)
class Target:
    """Where the SDK sends its requests."""

    api_key: str
    base_url: str
    poll_interval_s: float
    standin: bool = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transcribe.py", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Transcribe TikTok videos with AssemblyAI: an account's videos (--account, paged through the "
                    "Display API), TikTok video URLs, links to media files or local media files. Saves .txt, .srt, "
                    ".vtt and a .json record per video under the transcripts folder; finished videos are skipped.")
    parser.add_argument("inputs", nargs="*", metavar="URL_OR_FILE", help="TikTok video URLs, media URLs or files")
    parser.add_argument("--account", action="append", default=[], metavar="OPEN_ID",
                        help="every video of this connected account (repeatable)")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="with --account: only the newest N videos")
    parser.add_argument("--since", type=parse_since, metavar="YYYY-MM-DD",
                        help="with --account: only videos posted on or after this day (UTC)")
    parser.add_argument("--jobs", type=_positive_int, default=DEFAULT_JOBS, metavar="N",
                        help=f"videos worked on at once (default {DEFAULT_JOBS})")
    parser.add_argument("--force", action="store_true", help="transcribe again videos that are already done")
    parser.add_argument("--transcripts", type=Path, metavar="DIR",
                        help=f"where transcripts go (default: $TRANSCRIPTS_DIR or {DEFAULT_TRANSCRIPTS_DIR}/)")
    parser.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"longest wait for AssemblyAI per video (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log HTTP-level detail to stderr")
    return parser


def main(argv: Sequence[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    if not args.inputs and not args.account:
        print("error: nothing to transcribe: give video URLs or files, or --account OPEN_ID", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    try:
        env = read_environment()
        settings = load_settings(env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    prefix = "[emulator] " if settings.emulated else ""
    say = lambda text: print(prefix + text, flush=True)
    with ExitStack() as stack:
        try:
            target = assemblyai_target(env, settings, stack)  # first: without a key, stop before touching anything
            store = TranscriptStore(args.transcripts or env.get("TRANSCRIPTS_DIR") or DEFAULT_TRANSCRIPTS_DIR)
            store.ensure_writable()
        except (ConfigError, TranscriptsFolderError) as exc:
            print(f"{prefix}error: {exc}", file=sys.stderr)
            return ExitStatus.BAD_INPUT
        if target.standin:
            say("no ASSEMBLYAI_API_KEY: using the local AssemblyAI stand-in; the transcripts are synthetic "
                "stand-in text, not speech recognition")
        try:
            jobs, outcomes = collect_jobs(args, settings, build_services(settings), sleep=sleep, say=say)
        except TokenFileError as exc:
            print(f"{prefix}error: {exc}", file=sys.stderr)
            return ExitStatus.BAD_INPUT
        outcomes += run_jobs(jobs, store, target, args, trusted_hosts(settings), say)
    say(summary(outcomes, store.root, target.standin))
    return exit_status(outcomes)


def assemblyai_target(env: Mapping[str, str], settings: Settings, stack: ExitStack) -> Target:
    """The configured AssemblyAI; in emulator mode with no key, a stand-in served on loopback until ``stack`` ends."""
    key = (env.get("ASSEMBLYAI_API_KEY") or "").strip()
    if key:
        base = (env.get("ASSEMBLYAI_BASE_URL") or "").strip() or DEFAULT_BASE_URL
        raw_poll = (env.get("ASSEMBLYAI_POLLING_INTERVAL") or "").strip()
        try:
            poll = float(raw_poll) if raw_poll else DEFAULT_POLL_INTERVAL_S
        except ValueError:
            raise ConfigError(f"ASSEMBLYAI_POLLING_INTERVAL={raw_poll!r} is not a number of seconds") from None
        if poll <= 0:
            raise ConfigError("ASSEMBLYAI_POLLING_INTERVAL must be more than 0 seconds")
        return Target(api_key=key, base_url=base.rstrip("/"), poll_interval_s=poll)
    if not settings.emulated:
        raise ConfigError("ASSEMBLYAI_API_KEY is not set: create a key in your AssemblyAI dashboard and put "
                          "ASSEMBLYAI_API_KEY=... in .env (nothing was downloaded or sent)")
    standin_key = secrets.token_hex(16)  # lives only in this process
    server = stack.enter_context(serve_in_thread(create_standin(api_key=standin_key)))
    return Target(api_key=standin_key, base_url=server.url, poll_interval_s=STANDIN_POLL_INTERVAL_S, standin=True)


def trusted_hosts(settings: Settings) -> frozenset[str]:
    """In emulator mode the emulator's host:port serves the share pages, so its URLs count as TikTok URLs."""
    return frozenset({urlsplit(settings.api_base).netloc}) if settings.emulated else frozenset()


def collect_jobs(args: argparse.Namespace, settings: Settings, services: Services, *,
                 sleep: Callable[[float], None], say: Callable[[str], None]) -> tuple[list[Job], list[Outcome]]:
    """Jobs for every usable input; an Outcome for each input that could not become jobs."""
    jobs: list[Job] = []
    problems: list[Outcome] = []
    accounts = services.store.load()
    usernames = {a.username: a.open_id for a in accounts.values() if a.username}
    for value in args.inputs:
        job_or_problem = job_for_input(value, trusted_hosts(settings), usernames)
        (jobs if isinstance(job_or_problem, Job) else problems).append(job_or_problem)
    for open_id in args.account:
        found, problem = account_jobs(open_id, args, settings, services, sleep)
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
            return Outcome("bad_input", value, "not a TikTok video URL or a link to a media file (.mp4, .mov, ...)")
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
        return Job(record=record, url=value)
    path = Path(value).expanduser()
    if not path.is_file():
        return Outcome("bad_input", value, "no such file (give a media file, a TikTok URL or --account)")
    resolved = path.resolve()
    try:
        video_id = safe_name(f"{path.stem}-{_file_digest(resolved)}")  # same bytes, same transcript
        created = int(resolved.stat().st_mtime)
    except OSError as exc:
        return Outcome("bad_input", value, f"the file cannot be read ({exc.strerror or exc})")
    record = TranscriptRecord(video_id=video_id, open_id=LOCAL_ACCOUNT, title=path.name, created_time=created,
                              source_url=str(resolved))
    return Job(record=record, path=resolved)


def account_jobs(open_id: str, args: argparse.Namespace, settings: Settings, services: Services,
                 sleep: Callable[[float], None]) -> tuple[list[Job], Outcome | None]:
    """Jobs for every listed video of one connected account (as many as were listed before any failure)."""
    account = services.store.get(open_id)
    if account is None:
        return [], Outcome("bad_input", open_id, f"no connected account with this open_id in "
                                                 f"{services.store.path}; log in with the app first")
    if account.emulated != settings.emulated:
        where = "the emulator" if account.emulated else "TikTok"
        now = "the emulator" if settings.emulated else "TikTok"
        return [], Outcome("bad_input", account.label, f"linked through {where}; not used while talking to {now}")
    if account.relink_reason:
        return [], Outcome("relink", account.label, f"log in again in the app: {account.relink_reason}")
    token_call = lambda fn: call_with_token(services.store, services.oauth, open_id, fn)
    try:
        videos = list_videos(services.api, token_call, limit=args.limit, since=args.since, sleep=sleep)
    except RelinkNeeded as exc:
        return [], Outcome("relink", account.label, f"log in again in the app: {exc.reason}")
    except TikTokError as exc:
        status = "try_later" if exc.transient else "failed"
        return [], Outcome(status, account.label, f"could not list the videos: {exc}")
    return [Job(record=TranscriptRecord(
        video_id=v.id, open_id=open_id, username=account.username or v.username, title=v.title or v.description,
        created_time=v.create_time, source_url=v.share_url), url=v.share_url) for v in videos], None


def run_jobs(jobs: list[Job], store: TranscriptStore, target: Target, args: argparse.Namespace,
             trusted: frozenset[str], say: Callable[[str], None]) -> list[Outcome]:
    """Run every job, ``args.jobs`` at a time; one line per video as it finishes."""
    def work(job: Job) -> Outcome:
        outcome = transcribe_job(job, store, target, timeout_s=args.timeout, force=args.force, trusted=trusted)
        say(format_outcome(outcome))
        return outcome

    with ThreadPoolExecutor(max_workers=args.jobs, thread_name_prefix="transcribe") as pool:
        return list(pool.map(work, jobs))


def transcribe_job(job: Job, store: TranscriptStore, target: Target, *, timeout_s: float, force: bool,
                   trusted: frozenset[str]) -> Outcome:
    """Download (when a URL), transcribe and save one video; on failure record why."""
    record = job.record
    if not force and store.is_done(record.open_id, record.video_id):
        return Outcome("skipped", job.label, "already transcribed (--force to redo)")
    transcript_id = None
    progress = ByteProgress(job.label)
    try:
        with tempfile.TemporaryDirectory(prefix="tiktok-transcribe-") as work:
            media = job.path or download_video(job.url or "", work, timeout_s=DOWNLOAD_TIMEOUT_S, trusted_hosts=trusted,
                                               progress=progress.update_to, name=safe_name(record.video_id))
            progress.close()
            result = transcribe_file(media, api_key=target.api_key, base_url=target.base_url, timeout_s=timeout_s,
                                     poll_interval_s=target.poll_interval_s)
        transcript_id = result.transcript_id
        result.raise_for_status()
        saved = store.save(replace(record, language=result.language, duration_s=result.duration_s,
                                   transcript_id=result.transcript_id), result.text, result.srt, result.vtt)
        return Outcome("done", job.label, f"{_title(saved)}-> {store.path(saved.open_id, saved.video_id, 'txt')}")
    except DownloadFailed as exc:
        status, reason = ("try_later" if exc.transient else "failed"), f"download failed: {exc.reason}"
    except MediaFileError as exc:
        status, reason = "bad_input", f"the media file cannot be read: {exc.reason}"
    except TranscriptionError as exc:
        transcript_id = exc.transcript_id or transcript_id
        status, reason = ("try_later" if exc.transient else "failed"), f"transcription failed: {exc.reason}"
    except TikTokError as exc:  # e.g. the transcripts folder went away mid-run
        return Outcome("failed", job.label, str(exc))
    finally:
        progress.close()
    try:
        store.record_failure(replace(record, transcript_id=transcript_id), reason)
    except TranscriptsFolderError as exc:
        reason = f"{reason} (and the failure could not be recorded: {exc})"
    return Outcome(status, job.label, reason)


def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` -> Unix seconds at the start of that day, UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def exit_status(outcomes: Sequence[Outcome]) -> ExitStatus:
    return combine(STATUS_EXIT.get(o.status, ExitStatus.OK) for o in outcomes)


def format_outcome(outcome: Outcome) -> str:
    return f"{outcome.status.upper().replace('_', ' '):<10} {outcome.label}: {outcome.detail}"


def summary(outcomes: Sequence[Outcome], root: Path, standin: bool) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items()) or "nothing to do"
    tail = " (synthetic stand-in text, not speech recognition)" if standin else ""
    return f"summary: {parts}; transcripts in {root}{tail}"


def _title(record: TranscriptRecord) -> str:
    return f'"{record.title}" ' if record.title else ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be more than 0")
    return value
