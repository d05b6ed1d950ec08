"""Settings from the environment and ``.env`` (every variable is documented in ``.env.example``), in sections.

This is the only module that reads the environment. :func:`load_settings` reads it once, when a command or the app
starts, into one :class:`Settings` whose sections each module takes what it needs from:

    settings.app            HOST, PORT, FLASK_SECRET_KEY, ALLOWED_HOSTS, APP_PASSWORD, QUEUE_TICK_S, TZ,
                            XDG_CACHE_HOME
    settings.tiktok         TIKTOK_CLIENT_KEY/_SECRET, TIKTOK_API_BASE, TIKTOK_AUTH_URL, TIKTOK_REDIRECT_URI,
                            TIKTOK_SCOPES, TIKTOK_PKCE_ENCODING, TIKTOK_EMULATOR_PORT, TIKTOK_APP_MODE
    settings.store          TOKENS_FILE, TOKENS_KEY, TOKENS_NEW_KEY, STORE_FILE, DATABASE_URL, DATABASE_POOL_SIZE
    settings.media          MEDIA_DIR, MEDIA_STORE, MEDIA_KEEP_UNUSED_DAYS, MEDIA_PUBLIC_URL, VERIFIED_URL_PREFIXES
    settings.posting        MANIFEST_FILE, POST_GRACE
    settings.report         REPORTS_DIR, REPORTS_S3_URI, AWS_ENDPOINT_URL_S3
    settings.transcription  ASSEMBLYAI_API_KEY, ASSEMBLYAI_BASE_URL, ASSEMBLYAI_POLLING_INTERVAL, TRANSCRIPTS_DIR
    settings.worker         WORKER_DISPATCH_CRON, WORKER_REFRESH_CRON, WORKER_REFRESH_WITHIN, WORKER_REPORT_CRON,
                            WORKER_ALERTS_CRON, WORKER_STALLED_S, WORKER_HEARTBEAT_S
    settings.alerts         NOTIFY_URLS, NOTIFY_EVENTS, NOTIFY_DIGEST, WEBHOOK_URLS, WEBHOOK_SECRET,
                            ALERT_STUCK_AFTER, ALERT_WORKER_SILENT_AFTER, ALERT_DAILY_CAP

With no ``TIKTOK_CLIENT_KEY`` everything talks to the local TikTok emulator instead of TikTok, and says so: the one
a running ``python app.py`` started (it records where, beside the token file: :func:`running_emulator`), else the one
on TIKTOK_EMULATOR_PORT.

Every setting is parsed and range-checked here, once: a bad one is a :class:`ConfigError` whose line names the
setting and the form it takes (the commands exit 2), never a traceback or a thread that dies later. A command's
option that stands for a setting (``--reports`` for REPORTS_DIR, ``--port`` for PORT, ...) is passed in as that
setting and checked the same way.
"""

from __future__ import annotations

import io
import math
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import time as time_of_day
from pathlib import Path
from typing import Callable, Iterator, Literal, Mapping
from urllib.parse import urlsplit

from tiktok.errors import ConfigError

Encoding = Literal["hex", "base64url"]  # PKCE challenge encodings; tiktok.auth.pkce implements both
ENCODINGS: tuple[Encoding, ...] = ("hex", "base64url")

TIKTOK_API_BASE = "https://open.tiktokapis.com"
TIKTOK_AUTH_URL = "https://www.tiktok.com/v2/auth/authorize/"
# TIKTOK_APP_MODE's values: a sandbox app (target users only), a production app TikTok has not audited (Direct Post
# only "Only me" to private accounts), an audited one (content-sharing guidelines, "Intended Use"; issue 25).
APP_MODES = ("sandbox", "unaudited", "audited")
DEFAULT_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.publish",
                  "video.upload")
# TikTok's documented scopes this tool can use (reference 8.1); TIKTOK_SCOPES may name only these. TikTok has other
# scope families (research.*, portability.*, ...) that nothing here calls. The emulator keeps its own list.
KNOWN_SCOPES = DEFAULT_SCOPES
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_EMULATOR_PORT = 8001
EMULATOR_ADDRESS_FILE = ".tiktok-emulator.json"  # a running app's emulator address, beside the token file
DEFAULT_TOKENS_FILE = "user_tokens.json"
DEFAULT_MANIFEST_FILE = "videos_to_upload.json"  # the manifest upload_to_tiktok.py and the app import by default
DEFAULT_STORE_NAME = "tiktok.db"  # the embedded post store, beside the token file unless STORE_FILE says otherwise
DEFAULT_MEDIA_DIR = "media"  # where the app's composer stores uploaded videos
DEFAULT_MEDIA_KEEP_UNUSED_DAYS = 3.0  # an upload no post uses is removed after this many days (tiktok.media.library)
MEDIA_KEEP_UNUSED_RANGE_DAYS = (0.01, 3650.0)  # about 15 minutes to 10 years; 0 keeps every upload
DEFAULT_REPORTS_DIR = "reports"  # python -m tiktok report's CSVs, and what the Stats page reads
DEFAULT_TRANSCRIPTS_DIR = "transcripts"  # transcribe.py's output, and what the Transcripts page reads
DEFAULT_POST_GRACE_S = 3600.0  # a scheduled post later than this is "missed", not posted silently
MAX_POST_GRACE_S = 365 * 86400.0  # a year: later than that a "scheduled" post is not one
QUEUE_TICK_RANGE_S = (0.1, 86400.0)  # QUEUE_TICK_S: 0 (off), or this often; more often is a busy loop
PORT_RANGE = (1, 65535)  # 0 would pick a random port, which nothing else (callback, scripts) could find
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # binding elsewhere needs APP_PASSWORD
# Connections per process to DATABASE_URL (tiktok.db.connection.Budget): 2 for Procrastinate's queue, the rest
# halved between the post store's pool and the accounts' (tokens, the shared limiter), so at least 4. 8 workers and
# the app at the default: 54 pooled connections of a default server's 100.
DEFAULT_DATABASE_POOL_SIZE = 6
DATABASE_POOL_RANGE = (4, 200)
# The emulator's built-in app registration (see tiktok/emulator/config.py); not secrets of any real app.
EMULATOR_CLIENT_KEY = "emulator-client-key"
EMULATOR_CLIENT_SECRET = "emulator-client-secret"

# The workers' schedule: cron expressions as croniter reads them (Procrastinate's parser): five fields, minute hour
# day month weekday, and an optional sixth, LAST, for seconds.
WORKER_DEFAULTS = {
    "WORKER_DISPATCH_CRON": "* * * * * */10",  # every 10 s: new and due entries start within 10 s
    "WORKER_REFRESH_CRON": "*/10 * * * *",     # every 10 minutes ...
    "WORKER_REFRESH_WITHIN": "90m",            # ... whatever expires within 90 minutes
    "WORKER_REPORT_CRON": "50 23 * * *",       # the daily report at 23:50 UTC
    "WORKER_ALERTS_CRON": "* * * * *",         # alerts due are sent every minute (and as each posting job ends)
    "WORKER_STALLED_S": "30",                  # a worker silent this long is gone: its jobs are retried
    "WORKER_HEARTBEAT_S": "10",                # how often a worker says it is alive
}
CRON_FORM = ("five fields (minute hour day month weekday) and an optional sixth, last, for seconds, such as "
             "'*/10 * * * *' (every 10 minutes) or '* * * * * */10' (every 10 seconds)")
WORKER_SECONDS_RANGE = (0.1, 86400.0)  # WORKER_STALLED_S and WORKER_HEARTBEAT_S
REFRESH_WITHIN_MAX_S = 365 * 86400.0  # refresh tokens live a year at most (reference 2.3)

# Alerts (tiktok.alerts). The kinds of events the store records: tiktok.store.events.KINDS, which this plumbing
# module may not import (tests/test_alert_words.py holds the two equal).
ALERT_KINDS = ("post_failed", "post_needs_person", "post_published", "post_in_inbox", "public_link", "post_stuck",
               "account_relink", "refresh_expiring", "worker_silent", "post_missed", "daily_cap_near", "daily_digest")
DIGEST_KIND = "daily_digest"  # recorded only with NOTIFY_DIGEST; NOTIFY_EVENTS's default includes it only then
DEFAULT_NOTIFY_EVENTS = tuple(kind for kind in ALERT_KINDS if kind != DIGEST_KIND)
# TikTok's cap of direct posts per creator in 24 h, across all apps (reference section 7: "~15 per 24 h, varies by
# creator"); the daily_cap_near event comes at 2 below it (tiktok.alerts.notice.CAP_MARGIN). 0: no such event.
DEFAULT_ALERT_DAILY_CAP = 15
ALERT_DAILY_CAP_RANGE = (3, 100)
DEFAULT_ALERT_STUCK_AFTER_S = 3600.0  # a post in flight with no change for longer than this is stuck
DEFAULT_ALERT_WORKER_SILENT_S = 300.0  # a worker whose last heartbeat is older than this is silent (DATABASE_URL)
ALERT_AFTER_RANGE_S = (60.0, 30 * 86400.0)  # ALERT_STUCK_AFTER and ALERT_WORKER_SILENT_AFTER: a minute to 30 days
MIN_WEBHOOK_SECRET = 16  # characters: the HMAC key of the webhooks' signature is guessed by nobody


@dataclass(frozen=True)
class AppSettings:
    """The web app (``python app.py``) and the machine it runs on."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: FLASK_SECRET_KEY: signs the session cookie; None: a random key per start.
    secret_key: str | None = field(default=None, repr=False)
    #: ALLOWED_HOSTS: extra Host header names the app answers to; its own loopback names always work.
    allowed_hosts: tuple[str, ...] = ()
    #: APP_PASSWORD: when set, every page but the sign-in page asks for it; required to bind beyond loopback.
    app_password: str | None = field(default=None, repr=False)
    #: QUEUE_TICK_S: seconds between the app's own posting runs (0: off); None when not set (the app's default).
    queue_tick_s: float | None = None
    #: TZ: the zone name times without one are read in ("": the machine's /etc/localtime).
    time_zone: str = ""
    #: XDG_CACHE_HOME, else ~/.cache: where an index of a read-only transcripts folder is kept.
    cache_dir: Path = Path(".cache")


@dataclass(frozen=True)
class TikTokSettings:
    """Which TikTok (or emulator) this talks to, as which app."""

    client_key: str
    client_secret: str = field(repr=False)
    api_base: str
    auth_url: str
    redirect_uri: str
    scopes: tuple[str, ...]
    pkce_encoding: Encoding
    #: True unless we talk to TikTok's own API host: pages, logs and stored accounts then say "emulated".
    emulated: bool = True
    #: True when the app should start the emulator itself (emulated and no TIKTOK_API_BASE given).
    embedded_emulator: bool = True
    #: TIKTOK_EMULATOR_PORT: where the app starts the emulator (emulator mode).
    emulator_port: int = DEFAULT_EMULATOR_PORT
    #: TIKTOK_APP_MODE: the TikTok app's review state, one of APP_MODES; None (empty): not known, detected from
    #: TikTok's answers (tiktok.posting.policy.app_mode). The built-in emulator runs in this mode (audited if unset).
    app_mode: str | None = None


@dataclass(frozen=True)
class StoreSettings:
    """Where accounts, tokens and posts are kept."""

    tokens_path: Path = Path(DEFAULT_TOKENS_FILE)
    #: TOKENS_KEY: a Fernet key; when set, the token file's access and refresh tokens and the post store's
    #: upload URLs are stored encrypted (tiktok.sealing).
    tokens_key: str | None = field(default=None, repr=False)
    #: TOKENS_NEW_KEY: the key ``python -m tiktok tokens rotate-key`` re-encrypts with (read by nothing else).
    tokens_new_key: str | None = field(default=None, repr=False)
    #: STORE_FILE: the SQLite post store (posts, history, claims); None: tiktok.db beside the token file. Unused
    #: with DATABASE_URL.
    store_file: Path | None = None
    #: DATABASE_URL: postgresql://... selects the PostgreSQL backend (tokens, post queue, workers); None: files.
    database_url: str | None = field(default=None, repr=False)
    #: DATABASE_POOL_SIZE: the most connections one process opens to that database (tiktok.db.connection.Budget
    #: shares them between Procrastinate's pool, the post store's and the accounts').
    database_pool_size: int = DEFAULT_DATABASE_POOL_SIZE

    @property
    def store_path(self) -> Path:
        """Where the SQLite store is: STORE_FILE, or tiktok.db in the token file's folder."""
        return self.store_file if self.store_file is not None else self.tokens_path.parent / DEFAULT_STORE_NAME


@dataclass(frozen=True)
class MediaSettings:
    #: MEDIA_DIR: where the composer streams uploaded videos.
    media_dir: Path = Path(DEFAULT_MEDIA_DIR)
    #: MEDIA_STORE: where media are kept for every worker (tiktok.media.store): "folder" (MEDIA_DIR, the default)
    #: or "s3://bucket/prefix" (an S3 or S3-compatible bucket; AWS_ENDPOINT_URL_S3 names another server).
    store: str = "folder"
    #: MEDIA_KEEP_UNUSED_DAYS: an upload no post uses is removed after this long (seconds here; None: never). A file
    #: a queued, scheduled, in-flight or failed post uses is never removed.
    keep_unused_s: float | None = DEFAULT_MEDIA_KEEP_UNUSED_DAYS * 86400
    #: MEDIA_PUBLIC_URL: where media this tool publishes for TikTok to pull can be fetched (a URL prefix ending in
    #: '/', under a verified property; tiktok.media.publishing); None: not set (emulated runs then use the app's own
    #: /published/).
    public_url: str | None = None
    #: VERIFIED_URL_PREFIXES as given: the domains and URL prefixes verified for the app in TikTok's portal; () when
    #: not set (tiktok.media.publishing.verified_properties gives the defaults).
    verified_prefixes: tuple[str, ...] = ()


def _public_url(raw: str, emulated: bool) -> str | None:
    """MEDIA_PUBLIC_URL: a URL prefix TikTok could pull from (tiktok.media.ownership's rules: https and a host
    name, or http on this machine's loopback against the emulator only), ending in '/'."""
    if not raw:
        return None
    from tiktok.media.ownership import property_problem

    form = ("give the address the published media are served at, ending in '/', such as "
            "https://posts.example.com/published/ (see the README's \"Media TikTok pulls\")")
    problem = property_problem(raw) if "://" in raw else f"{raw[:80]!r} is not an address with https://"
    if problem is None and raw.lower().startswith("http://") and not emulated:
        problem = "TikTok cannot reach this machine's loopback address (http:// is for the emulator only)"
    if problem is not None:
        raise ConfigError(f"MEDIA_PUBLIC_URL: {problem}: {form}")
    return raw


def _verified_prefixes(raw: str, public_url: str | None) -> tuple[str, ...]:
    """VERIFIED_URL_PREFIXES: comma-separated domains and URL prefixes, each one TikTok can verify; MEDIA_PUBLIC_URL
    must lie under one of them."""
    from tiktok.media.ownership import covering, property_problem

    found = tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))
    for item in found:
        problem = property_problem(item)
        if problem is not None:
            raise ConfigError(f"VERIFIED_URL_PREFIXES: {problem}: list the domains (media.example.com) and URL "
                              "prefixes (https://posts.example.com/published/) verified for your app in TikTok's "
                              "developer portal, separated by commas")
    if found and public_url is not None and covering(public_url + "x", found, allow_loopback=True) is None:
        raise ConfigError(f"MEDIA_PUBLIC_URL={public_url!r} is not under any of VERIFIED_URL_PREFIXES "
                          f"({', '.join(found)}): TikTok would refuse to pull from it; verify it with TikTok and "
                          "list it there")
    return found


def _keep_unused(raw: str) -> float | None:
    """MEDIA_KEEP_UNUSED_DAYS as seconds: a number of days in MEDIA_KEEP_UNUSED_RANGE_DAYS, or 0 (None: never)."""
    if not raw:
        return DEFAULT_MEDIA_KEEP_UNUSED_DAYS * 86400
    low, high = MEDIA_KEEP_UNUSED_RANGE_DAYS
    form = (f"use a number of days from {low:g} to {high:g} (such as 3 or 0.5), or 0 to keep every upload "
            f"(default {DEFAULT_MEDIA_KEEP_UNUSED_DAYS:g})")
    try:
        days = float(raw)
    except ValueError:
        raise ConfigError(f"MEDIA_KEEP_UNUSED_DAYS={raw[:40]!r} is not a number of days: {form}") from None
    if days == 0:
        return None
    if not low <= days <= high:  # nan and inf too
        raise ConfigError(f"MEDIA_KEEP_UNUSED_DAYS={raw[:40]!r} is out of range: {form}")
    return days * 86400


def _media_store(raw: str) -> str:
    """MEDIA_STORE as "folder" or a checked ``s3://bucket[/prefix]`` without a trailing slash."""
    if not raw or raw.lower() == "folder":
        return "folder"
    from tiktok.s3 import S3URIError, parse_s3_uri

    form = "use folder (the default: MEDIA_DIR) or s3://bucket/prefix"
    try:
        bucket, prefix = parse_s3_uri(raw)
    except S3URIError as exc:
        raise ConfigError(f"MEDIA_STORE={raw[:80]!r} is not a media store ({exc}): {form}") from None
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


@dataclass(frozen=True)
class PostingSettings:
    #: MANIFEST_FILE: the manifest (videos_to_upload.json) imported into the store by upload_to_tiktok.py and the app.
    manifest_path: Path = Path(DEFAULT_MANIFEST_FILE)
    #: POST_GRACE: how late a scheduled post may still go out (seconds, or 90s / 15m / 2h / 1d).
    post_grace_s: float = DEFAULT_POST_GRACE_S


@dataclass(frozen=True)
class ReportSettings:
    #: REPORTS_DIR: where the daily report writes its CSVs and the Stats page reads them.
    reports_dir: Path = Path(DEFAULT_REPORTS_DIR)
    #: REPORTS_S3_URI: s3://bucket/prefix each written file is uploaded to; None: no upload.
    s3_uri: str | None = None
    #: AWS_ENDPOINT_URL_S3: another S3-compatible endpoint (boto3 reads it from the environment, not from .env).
    s3_endpoint_url: str | None = None


@dataclass(frozen=True)
class TranscriptionSettings:
    #: ASSEMBLYAI_API_KEY: None: the local stand-in in emulator mode, an error when talking to TikTok.
    assemblyai_api_key: str | None = field(default=None, repr=False)
    #: ASSEMBLYAI_BASE_URL: another AssemblyAI host; None: the SDK's default.
    assemblyai_base_url: str | None = None
    #: ASSEMBLYAI_POLLING_INTERVAL: seconds between status polls; None: chosen from the number of jobs.
    polling_interval_s: float | None = None
    #: TRANSCRIPTS_DIR: where transcripts are written and the Transcripts page reads them.
    transcripts_dir: Path = Path(DEFAULT_TRANSCRIPTS_DIR)


@dataclass(frozen=True)
class WorkerSettings:
    """``python -m tiktok worker``'s schedule and thresholds (WORKER_*)."""

    dispatch_cron: str = WORKER_DEFAULTS["WORKER_DISPATCH_CRON"]
    refresh_cron: str = WORKER_DEFAULTS["WORKER_REFRESH_CRON"]
    refresh_within_s: float = 5400.0
    report_cron: str = WORKER_DEFAULTS["WORKER_REPORT_CRON"]
    alerts_cron: str = WORKER_DEFAULTS["WORKER_ALERTS_CRON"]
    stalled_s: float = 30.0
    heartbeat_s: float = 10.0


@dataclass(frozen=True)
class AlertSettings:
    """Alerts (:mod:`tiktok.alerts`): which channels hear of the store's events, and when a post or a worker counts
    as stuck. The channel URLs and the webhook secret hold credentials: never in a repr, a log or a page."""

    #: NOTIFY_URLS: apprise URLs (email, Slack, Discord, Telegram, ntfy, ...), one channel each.
    notify_urls: tuple[str, ...] = field(default=(), repr=False)
    #: NOTIFY_EVENTS: the kinds of events NOTIFY_URLS channels are told (default: every kind, daily_digest only
    #: with NOTIFY_DIGEST); webhooks get all.
    notify_events: tuple[str, ...] = DEFAULT_NOTIFY_EVENTS
    #: NOTIFY_DIGEST: the local time of day (in TZ) of the daily digest; None (the default): no digest.
    digest_at: time_of_day | None = None
    #: WEBHOOK_URLS: http(s) addresses that each get every event as JSON, signed with WEBHOOK_SECRET.
    webhook_urls: tuple[str, ...] = field(default=(), repr=False)
    #: WEBHOOK_SECRET: the HMAC-SHA256 key of the webhooks' signature; required with WEBHOOK_URLS.
    webhook_secret: str | None = field(default=None, repr=False)
    #: ALERT_STUCK_AFTER: a post in flight with no change for longer than this (seconds) is stuck.
    stuck_after_s: float = DEFAULT_ALERT_STUCK_AFTER_S
    #: ALERT_WORKER_SILENT_AFTER: with DATABASE_URL, a worker whose last heartbeat is older than this is silent.
    worker_silent_after_s: float = DEFAULT_ALERT_WORKER_SILENT_S
    #: ALERT_DAILY_CAP: TikTok's daily cap of direct posts for these accounts; told at 2 below it (0: never).
    daily_cap: int = DEFAULT_ALERT_DAILY_CAP

    @property
    def enabled(self) -> bool:
        """True when there is a channel to tell."""
        return bool(self.notify_urls or self.webhook_urls)


class _Short:
    """``settings.tokens_path`` for ``settings.store.tokens_path``: the short names modules read before the
    settings had sections (read-only; new code reads the section)."""

    def __init__(self, section: str) -> None:
        self.section = section

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, settings: object, owner: type | None = None):
        return self if settings is None else getattr(getattr(settings, self.section), self.name)


@dataclass(frozen=True)
class Settings:
    """Every setting, in sections; built by :func:`load_settings`."""

    tiktok: TikTokSettings
    app: AppSettings = AppSettings()
    store: StoreSettings = StoreSettings()
    media: MediaSettings = MediaSettings()
    posting: PostingSettings = PostingSettings()
    report: ReportSettings = ReportSettings()
    transcription: TranscriptionSettings = TranscriptionSettings()
    worker: WorkerSettings = WorkerSettings()
    alerts: AlertSettings = AlertSettings()

    # the short names (one descriptor each: it learns its name from the class)
    client_key = _Short("tiktok")
    client_secret = _Short("tiktok")
    api_base = _Short("tiktok")
    auth_url = _Short("tiktok")
    redirect_uri = _Short("tiktok")
    scopes = _Short("tiktok")
    pkce_encoding = _Short("tiktok")
    emulated = _Short("tiktok")
    embedded_emulator = _Short("tiktok")
    emulator_port = _Short("tiktok")
    host = _Short("app")
    port = _Short("app")
    secret_key = _Short("app")
    allowed_hosts = _Short("app")
    app_password = _Short("app")
    queue_tick_s = _Short("app")
    tokens_path = _Short("store")
    tokens_key = _Short("store")
    store_file = _Short("store")
    database_url = _Short("store")
    store_path = _Short("store")
    media_dir = _Short("media")
    manifest_path = _Short("posting")
    post_grace_s = _Short("posting")

    @property
    def environment(self) -> str:
        return "emulator" if self.tiktok.emulated else "TikTok"


def read_environment(dotenv_path: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """``.env`` values overlaid by the real environment (the environment wins); ConfigError naming the file when
    it cannot be read or is not UTF-8 text."""
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        from dotenv import dotenv_values  # only when there is a .env to read

        values.update({k: v for k, v in dotenv_values(stream=io.StringIO(_dotenv_text(Path(dotenv_path)))).items()
                       if v is not None})
    values.update(os.environ)
    return values


def time_zone_name(env: Mapping[str, str] | None = None) -> str:
    """TZ (of ``env``, default the process environment) as a zone name, "" when unset."""
    return ((os.environ if env is None else env).get("TZ") or "").strip().lstrip(":")


def cache_home(env: Mapping[str, str] | None = None) -> Path:
    """This user's cache folder: XDG_CACHE_HOME (of ``env``, default the process environment), else ~/.cache."""
    raw = ((os.environ if env is None else env).get("XDG_CACHE_HOME") or "").strip()
    if raw:
        return Path(raw)
    try:
        return Path.home() / ".cache"
    except RuntimeError:  # no HOME and no password entry: a cache beside the working directory
        return Path(".cache").absolute()


def _dotenv_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}); fix its permissions or remove it") from None
    try:
        return raw.decode("utf-8-sig")  # -sig: tolerate the BOM some Windows editors add
    except UnicodeDecodeError as bad:
        line = raw[:bad.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (a byte that is not UTF-8 on line {line}); save it as UTF-8") \
            from None


Get = Callable[..., str]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: ``.env`` plus the process environment), each one checked."""
    env = read_environment() if env is None else env
    get: Get = lambda name, default="": (env.get(name) or default).strip()  # noqa: E731
    app = _app(env, get)
    tokens_path = _file(get("TOKENS_FILE"), "TOKENS_FILE", DEFAULT_TOKENS_FILE)
    # REPORTS_DIR and TRANSCRIPTS_DIR are not checked as folders here: the Stats and Transcripts pages say what is
    # wrong with them, and the report and transcribe.py stop on it, so the app starts without them
    reports_dir = get("REPORTS_DIR") or DEFAULT_REPORTS_DIR
    transcripts_dir = get("TRANSCRIPTS_DIR") or DEFAULT_TRANSCRIPTS_DIR
    tiktok = _tiktok(env, get, app, tokens_path)
    return Settings(
        tiktok=tiktok, app=app,
        store=StoreSettings(
            tokens_path=tokens_path, tokens_key=get("TOKENS_KEY") or None,
            tokens_new_key=get("TOKENS_NEW_KEY") or None,
            store_file=_file(get("STORE_FILE"), "STORE_FILE", DEFAULT_STORE_NAME) if get("STORE_FILE") else None,
            database_url=_database_url(get("DATABASE_URL")),
            database_pool_size=_pool_size(get("DATABASE_POOL_SIZE"))),
        media=_media(get, tiktok.emulated),
        posting=PostingSettings(
            manifest_path=_file(get("MANIFEST_FILE"), "MANIFEST_FILE", DEFAULT_MANIFEST_FILE),
            post_grace_s=_duration(get("POST_GRACE"), "POST_GRACE", DEFAULT_POST_GRACE_S)),
        report=ReportSettings(
            reports_dir=_path(reports_dir, "REPORTS_DIR", DEFAULT_REPORTS_DIR),
            s3_uri=get("REPORTS_S3_URI") or None,
            s3_endpoint_url=_web_address(get("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3") or None),
        transcription=TranscriptionSettings(
            assemblyai_api_key=get("ASSEMBLYAI_API_KEY") or None,
            assemblyai_base_url=_web_address(get("ASSEMBLYAI_BASE_URL"), "ASSEMBLYAI_BASE_URL") or None,
            polling_interval_s=_poll_interval(get("ASSEMBLYAI_POLLING_INTERVAL")),
            transcripts_dir=_path(transcripts_dir, "TRANSCRIPTS_DIR", DEFAULT_TRANSCRIPTS_DIR)),
        worker=_worker(env),
        alerts=_alerts(get),
    )


def _media(get: Get, emulated: bool) -> MediaSettings:
    public_url = _public_url(get("MEDIA_PUBLIC_URL"), emulated)
    return MediaSettings(media_dir=_folder(get("MEDIA_DIR"), "MEDIA_DIR", DEFAULT_MEDIA_DIR),
                         store=_media_store(get("MEDIA_STORE")),
                         keep_unused_s=_keep_unused(get("MEDIA_KEEP_UNUSED_DAYS")), public_url=public_url,
                         verified_prefixes=_verified_prefixes(get("VERIFIED_URL_PREFIXES"), public_url))


def _app(env: Mapping[str, str], get: Get) -> AppSettings:
    return AppSettings(
        host=get("HOST", DEFAULT_HOST), port=_port(env, "PORT", DEFAULT_PORT),
        secret_key=get("FLASK_SECRET_KEY") or None,
        allowed_hosts=tuple(h.strip().lower() for h in get("ALLOWED_HOSTS").split(",") if h.strip()),
        app_password=env.get("APP_PASSWORD") or None,
        queue_tick_s=parse_tick(get("QUEUE_TICK_S")) if get("QUEUE_TICK_S") else None,
        time_zone=time_zone_name(env), cache_dir=cache_home(env))


def _tiktok(env: Mapping[str, str], get: Get, app: AppSettings, tokens_path: Path) -> TikTokSettings:
    emulator_port = _port(env, "TIKTOK_EMULATOR_PORT", DEFAULT_EMULATOR_PORT)
    client_key = get("TIKTOK_CLIENT_KEY")
    explicit_base = get("TIKTOK_API_BASE")
    for name in ("TIKTOK_API_BASE", "TIKTOK_AUTH_URL", "TIKTOK_REDIRECT_URI"):
        _web_address(get(name), name)
    if client_key:
        client_secret = get("TIKTOK_CLIENT_SECRET")
        if not client_secret:
            raise ConfigError("TIKTOK_CLIENT_KEY is set but TIKTOK_CLIENT_SECRET is empty: copy both from your "
                              "app's page in the TikTok developer portal into .env")
        api_base = explicit_base or TIKTOK_API_BASE
        auth_url = get("TIKTOK_AUTH_URL", TIKTOK_AUTH_URL if api_base == TIKTOK_API_BASE
                       else api_base.rstrip("/") + "/v2/auth/authorize/")
    else:
        client_key, client_secret = EMULATOR_CLIENT_KEY, EMULATOR_CLIENT_SECRET
        # the emulator a running app started beside this token file, wherever its port; TIKTOK_API_BASE always wins
        found = None if explicit_base else running_emulator(tokens_path)
        api_base = explicit_base or found or f"http://127.0.0.1:{emulator_port}"
        auth_url = get("TIKTOK_AUTH_URL", api_base.rstrip("/") + "/v2/auth/authorize/")
    app_mode = get("TIKTOK_APP_MODE").lower() or None
    if app_mode is not None and app_mode not in APP_MODES:
        raise ConfigError(f"TIKTOK_APP_MODE={app_mode!r}: expected one of {', '.join(APP_MODES)}, or empty to let "
                          "the app find out from TikTok's answers")
    encoding = get("TIKTOK_PKCE_ENCODING", "hex")
    if encoding not in ENCODINGS:
        raise ConfigError(f"TIKTOK_PKCE_ENCODING={encoding!r}: expected one of {', '.join(ENCODINGS)}")
    callback_host = "127.0.0.1" if app.host in ("0.0.0.0", "::", "") else app.host
    return TikTokSettings(
        client_key=client_key, client_secret=client_secret, api_base=api_base.rstrip("/"), auth_url=auth_url,
        redirect_uri=get("TIKTOK_REDIRECT_URI", f"http://{callback_host}:{app.port}/callback/"),
        scopes=_scopes(get("TIKTOK_SCOPES", ",".join(DEFAULT_SCOPES))),
        pkce_encoding=encoding,  # type: ignore[arg-type]
        emulated=api_base.rstrip("/") != TIKTOK_API_BASE,
        embedded_emulator=not get("TIKTOK_CLIENT_KEY") and not explicit_base, emulator_port=emulator_port,
        app_mode=app_mode)


def emulator_address_file(tokens_path: Path) -> Path:
    """Where a running ``python app.py`` records its embedded emulator's address: beside the token file, so the
    commands run in the same folder (the same TOKENS_FILE) find it (tiktok.web.run writes it, removes it on stop)."""
    return tokens_path.absolute().parent / EMULATOR_ADDRESS_FILE


def running_emulator(tokens_path: Path) -> str | None:
    """The base URL in :func:`emulator_address_file` when the app that wrote it is still running; None otherwise
    (no file, not readable, not the app's form, or its process gone: the commands then use TIKTOK_EMULATOR_PORT's
    default). One small read and one signal-0 check, so every command can afford it."""
    import json

    try:
        found = json.loads(emulator_address_file(tokens_path).read_text(encoding="utf-8"))
        url, pid = found["url"], found["pid"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not (isinstance(url, str) and re.fullmatch(r"http://127\.0\.0\.1:\d{1,5}", url) and isinstance(pid, int)
            and pid > 0 and _process_alive(pid)):
        return None
    return url


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there: trust the file (it is removed on a clean stop)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, as another user
        return True
    except OSError:
        return False
    return True


def _scopes(raw: str) -> tuple[str, ...]:
    scopes = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise ConfigError(f"TIKTOK_SCOPES names unknown scope{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)}: TikTok's scopes for this tool are {', '.join(KNOWN_SCOPES)}")
    if "user.info.basic" not in scopes:
        raise ConfigError("TIKTOK_SCOPES must include user.info.basic (the app reads the account's name with it)")
    return scopes


def _worker(env: Mapping[str, str]) -> WorkerSettings:
    """The WORKER_* settings, each checked; ConfigError naming the first bad one and the form it takes."""
    source = {**WORKER_DEFAULTS, **{k: v.strip() for k, v in env.items()
                                   if k in WORKER_DEFAULTS and v and v.strip()}}
    worker = WorkerSettings(dispatch_cron=_cron(source, "WORKER_DISPATCH_CRON"),
                            refresh_cron=_cron(source, "WORKER_REFRESH_CRON"),
                            refresh_within_s=_refresh_within(source, "WORKER_REFRESH_WITHIN"),
                            report_cron=_cron(source, "WORKER_REPORT_CRON"),
                            alerts_cron=_cron(source, "WORKER_ALERTS_CRON"),
                            stalled_s=_worker_seconds(source, "WORKER_STALLED_S"),
                            heartbeat_s=_worker_seconds(source, "WORKER_HEARTBEAT_S"))
    if worker.stalled_s <= worker.heartbeat_s:
        raise ConfigError(f"WORKER_STALLED_S={worker.stalled_s:g} must be more than WORKER_HEARTBEAT_S="
                          f"{worker.heartbeat_s:g}: a worker is taken for gone only after missing a heartbeat "
                          "(the defaults are 30 and 10)")
    return worker


def _alerts(get: Get) -> AlertSettings:
    """The alert settings, each checked; no message ever quotes a channel's URL or the secret (they hold
    credentials): a bad URL is named by its setting and its place in the list."""
    webhook_urls = _webhook_urls(get("WEBHOOK_URLS"))
    secret = get("WEBHOOK_SECRET") or None
    make = ("make one with: .venv/bin/python -c \"import secrets; print(secrets.token_hex(32))\" and give the "
            "receivers the same one")
    if webhook_urls and secret is None:
        raise ConfigError(f"WEBHOOK_URLS is set but WEBHOOK_SECRET is empty: every webhook is signed with it; {make}")
    if secret is not None and len(secret) < MIN_WEBHOOK_SECRET:
        raise ConfigError(f"WEBHOOK_SECRET is too short ({len(secret)} characters): use at least "
                          f"{MIN_WEBHOOK_SECRET} random characters; {make}")
    digest_at = _digest_at(get("NOTIFY_DIGEST"))
    return AlertSettings(
        notify_urls=_notify_urls(get("NOTIFY_URLS")),
        notify_events=_notify_events(get("NOTIFY_EVENTS"), digest=digest_at is not None), digest_at=digest_at,
        webhook_urls=webhook_urls, webhook_secret=secret,
        stuck_after_s=_alert_after(get("ALERT_STUCK_AFTER"), "ALERT_STUCK_AFTER", DEFAULT_ALERT_STUCK_AFTER_S),
        worker_silent_after_s=_alert_after(get("ALERT_WORKER_SILENT_AFTER"), "ALERT_WORKER_SILENT_AFTER",
                                           DEFAULT_ALERT_WORKER_SILENT_S),
        daily_cap=_daily_cap(get("ALERT_DAILY_CAP")))


def _notify_urls(raw: str) -> tuple[str, ...]:
    """NOTIFY_URLS: apprise URLs separated by spaces or commas (apprise's own splitting, which keeps a comma inside
    a URL, such as two addresses in ``to=``), each one apprise can read; the same URL twice is one channel."""
    if not raw:
        return ()
    from apprise import Apprise, AppriseAsset
    from apprise.utils.parse import parse_urls

    urls = parse_urls(raw)
    asset = AppriseAsset(storage_mode="memory")
    with _quiet_logger("apprise"):  # its own lines about a URL it cannot read may quote parts of it
        for n, url in enumerate(urls, 1):
            if Apprise.instantiate(url, asset=asset) is None:
                raise ConfigError(f"NOTIFY_URLS: URL {n} of {len(urls)} is not one apprise can read (an unknown "
                                  "service, or a part the service needs is missing or not valid): write it as "
                                  "apprise's documentation of that service shows, such as "
                                  "mailtos://user:password@smtp.example.com?to=you@example.com (the URL is not "
                                  "shown here: it may hold a password)")
    return tuple(dict.fromkeys(urls))


def _webhook_urls(raw: str) -> tuple[str, ...]:
    """WEBHOOK_URLS: http(s) addresses separated by spaces or commas (a comma inside one stays), each with a host."""
    if not raw:
        return ()
    urls = [url for url in re.split(r"\s+|,(?=\s*https?://)", raw) if url.strip(" ,")]
    for n, url in enumerate(urls, 1):
        try:
            parts = urlsplit(url.strip(" ,"))
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and "\x00" not in url
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"WEBHOOK_URLS: URL {n} of {len(urls)} is not a web address: use http:// or https:// "
                              "and a host name, such as https://hooks.example.com/tiktok (the URL is not shown here: "
                              "it may hold a token)")
    return tuple(dict.fromkeys(url.strip(" ,") for url in urls))


def _notify_events(raw: str, *, digest: bool) -> tuple[str, ...]:
    """NOTIFY_EVENTS: kinds of events separated by spaces or commas, or ``all`` (the default: every kind, the daily
    digest only when NOTIFY_DIGEST sets its time). Naming daily_digest without NOTIFY_DIGEST is refused: no digest
    would ever come."""
    names = [name.lower() for name in re.split(r"[\s,]+", raw) if name]
    if not names or names == ["all"]:
        return ALERT_KINDS if digest else DEFAULT_NOTIFY_EVENTS
    unknown = [name for name in names if name not in ALERT_KINDS]
    if unknown:
        raise ConfigError(f"NOTIFY_EVENTS names {', '.join(repr(n[:40]) for n in unknown[:3])}, not a kind of "
                          f"event: use all (the default) or some of {', '.join(ALERT_KINDS)}, separated by commas")
    if DIGEST_KIND in names and not digest:
        raise ConfigError(f"NOTIFY_EVENTS names {DIGEST_KIND} but NOTIFY_DIGEST is empty, so no digest is made: set "
                          "NOTIFY_DIGEST to the time of day it should come, such as 08:00, or leave it out of "
                          "NOTIFY_EVENTS")
    return tuple(kind for kind in ALERT_KINDS if kind in names)


def _digest_at(raw: str) -> time_of_day | None:
    """NOTIFY_DIGEST: ``HH:MM`` on a 24-hour clock, in TZ (empty: no digest)."""
    if not raw:
        return None
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw)
    if match is None:
        raise ConfigError(f"NOTIFY_DIGEST={raw[:40]!r} is not a time of day: use HH:MM on a 24-hour clock, such as "
                          "08:00 or 18:30 (read in TZ, else the machine's zone), or leave it empty for no digest")
    return time_of_day(int(match.group(1)), int(match.group(2)))


def _daily_cap(raw: str) -> int:
    """ALERT_DAILY_CAP: a whole number of posts (TikTok's cap for these creators), or 0 for no such alert."""
    if not raw:
        return DEFAULT_ALERT_DAILY_CAP
    low, high = ALERT_DAILY_CAP_RANGE
    if raw.isdigit() and (int(raw) == 0 or low <= int(raw) <= high):
        return int(raw)
    raise ConfigError(f"ALERT_DAILY_CAP={raw[:40]!r} is not a number of posts from {low} to {high}, or 0 for no "
                      f"such alert: TikTok lets a creator make about {DEFAULT_ALERT_DAILY_CAP} direct posts a day "
                      f"(the default); the alert comes 2 posts before it")


def _alert_after(raw: str, name: str, default: float) -> float:
    if not raw:
        return default
    from tiktok.options import parse_duration

    low, high = ALERT_AFTER_RANGE_S
    try:
        value = parse_duration(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # nan too
        raise ConfigError(f"{name}={raw[:40]!r} is not a duration from 1m to 30d such as 30m, 2h or 1d (default "
                          f"{default / 60:g}m)")
    return value


@contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Drop the lines this thread logs to logger ``name`` for the time of the block (other threads' go on)."""
    import logging
    import threading

    me = threading.get_ident()
    mine = type("_ThisThread", (logging.Filter,), {"filter": lambda self, record: record.thread != me})()
    logger = logging.getLogger(name)
    logger.addFilter(mine)
    try:
        yield
    finally:
        logger.removeFilter(mine)


def _cron(source: Mapping[str, str], name: str) -> str:
    """The cron expression of ``name`` if croniter reads it and it comes round at least once."""
    expression = source[name]
    if expression == WORKER_DEFAULTS[name]:
        return expression  # known good: no need to load croniter for every command
    import croniter  # installed with Procrastinate, whose periodic tasks read the expression with it

    try:
        croniter.croniter(expression, time.time()).get_next(float)
    except (croniter.CroniterError, ValueError, KeyError, TypeError):  # KeyError: croniter's own, on some garbage
        raise ConfigError(f"{name}={expression!r} is not a cron schedule: use {CRON_FORM}") from None
    return expression


def _worker_seconds(source: Mapping[str, str], name: str) -> float:
    low, high = WORKER_SECONDS_RANGE
    raw = source[name]
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # nan and inf too
        raise ConfigError(f"{name}={raw!r} is not a number of seconds from {low:g} to {high:g} "
                          f"(default {WORKER_DEFAULTS[name]})")
    return value


def _refresh_within(source: Mapping[str, str], name: str) -> float:
    from tiktok.options import parse_duration

    raw = source[name]
    try:
        value = parse_duration(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= REFRESH_WITHIN_MAX_S:
        raise ConfigError(f"{name}={raw!r} is not a duration from 1s to 365d such as 90m, 2h or 1d "
                          f"(default {WORKER_DEFAULTS[name]})")
    return value


def parse_tick(raw: str) -> float:
    """``QUEUE_TICK_S`` as seconds: 0 (off) or a number in QUEUE_TICK_RANGE_S; ConfigError saying the form."""
    low, high = QUEUE_TICK_RANGE_S
    form = f"use 0 (off) or a number of seconds from {low:g} to {high:g} (the app's default is 30)"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"QUEUE_TICK_S={raw!r} is not a number of seconds: {form}") from None
    if value != 0 and not low <= value <= high:  # nan fails every comparison
        raise ConfigError(f"QUEUE_TICK_S={raw!r} is out of range: {form}")
    return value


def _poll_interval(raw: str) -> float | None:
    """ASSEMBLYAI_POLLING_INTERVAL as seconds, more than 0; None when unset."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"ASSEMBLYAI_POLLING_INTERVAL={raw!r} is not a number of seconds") from None
    if not 0 < value < math.inf:
        raise ConfigError("ASSEMBLYAI_POLLING_INTERVAL must be more than 0 seconds")
    return value


def _duration(raw: str, name: str, default: float) -> float:
    if not raw:
        return default
    from tiktok.options import parse_duration
    form = "use a duration such as 90s, 15m, 2h or 1d (at most 365d)"
    try:
        value = parse_duration(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a duration: {form}") from None
    if value > MAX_POST_GRACE_S:
        raise ConfigError(f"{name}={raw!r} is out of range: {form}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    low, high = PORT_RANGE
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number: use a TCP port from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is not a TCP port: use a whole number from {low} to {high}")
    return value


def _web_address(raw: str, name: str) -> str:
    """``raw`` when it is empty or an http(s) address with a host; ConfigError otherwise."""
    if not raw:
        return raw
    try:
        parts = urlsplit(raw)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "\x00" in raw:
        raise ConfigError(f"{name}={raw!r} is not a web address: use http:// or https:// and a host name, such as "
                          "https://example.com/")
    return raw


def _database_url(raw: str) -> str | None:
    """DATABASE_URL when libpq and urllib read it alike (:mod:`tiktok.dburl`); a ConfigError that quotes no part of
    it (it holds the password) otherwise."""
    if not raw:
        return None
    from tiktok.dburl import parse_database_url

    parse_database_url(raw)
    return raw


def _pool_size(raw: str) -> int:
    """DATABASE_POOL_SIZE: a whole number in DATABASE_POOL_RANGE."""
    if not raw:
        return DEFAULT_DATABASE_POOL_SIZE
    low, high = DATABASE_POOL_RANGE
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ConfigError(f"DATABASE_POOL_SIZE={raw!r} is not a whole number from {low} to {high}: the most "
                          f"connections one process (a worker, the app, a command) opens to PostgreSQL (default "
                          f"{DEFAULT_DATABASE_POOL_SIZE})")
    return int(raw)


def _path(raw: str, name: str, example: str) -> Path:
    if "\x00" in raw:
        raise ConfigError(f"{name} contains a NUL byte: give a path such as {example}")
    return Path(raw)


def _file(raw: str, name: str, default: str) -> Path:
    """A file setting: not a folder, and not inside something that is not a folder."""
    path = _path(raw or default, name, default)
    with _usable(path, name):
        if path.is_dir():
            raise ConfigError(f"{name}={str(path)!r} is a folder: give the path of a file, such as "
                              f"{path / Path(default).name}")
        parent = path.absolute().parent
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"{name}={str(path)!r} is inside {str(parent)!r}, which is a file, not a folder: give "
                              "the path of a file in a folder")
    return path


def _folder(raw: str, name: str, default: str) -> Path:
    """A folder setting: not an existing file."""
    path = _path(raw or default, name, default)
    with _usable(path, name):
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{name}={str(path)!r} is a file: give a folder (it is made when missing), such as "
                              f"{default}")
    return path


@contextmanager
def _usable(path: Path, name: str) -> Iterator[None]:
    """Looking at ``path`` on disk; an OSError there (a name too long, no permission) is a ConfigError naming it."""
    try:
        yield
    except OSError as exc:
        shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
        raise ConfigError(f"{name}={shown!r} cannot be used as a path ({exc.strerror}): give a shorter path to "
                          "a place this user can reach") from None

