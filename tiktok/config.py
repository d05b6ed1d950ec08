"""Settings from the environment and ``.env`` (every variable is documented in ``.env.example``).

With no ``TIKTOK_CLIENT_KEY`` everything talks to the local TikTok emulator instead of TikTok, and says so.

Every setting is parsed and range-checked here, once, when a command or the app starts: a bad one is a
:class:`ConfigError` whose line names the setting and the form it takes (the commands exit 2), never a traceback
or a thread that dies later. The worker's ``WORKER_*`` schedule is checked the same way when a worker starts
(:mod:`tiktok.jobs.tasks`).
"""

from __future__ import annotations

import io
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal, Mapping
from urllib.parse import urlsplit

from tiktok.errors import ConfigError

Encoding = Literal["hex", "base64url"]  # PKCE challenge encodings; tiktok.auth.pkce implements both
ENCODINGS: tuple[Encoding, ...] = ("hex", "base64url")

TIKTOK_API_BASE = "https://open.tiktokapis.com"
TIKTOK_AUTH_URL = "https://www.tiktok.com/v2/auth/authorize/"
DEFAULT_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.publish",
                  "video.upload")
# TikTok's documented scopes this tool can use (reference 8.1); TIKTOK_SCOPES may name only these. TikTok has other
# scope families (research.*, portability.*, ...) that nothing here calls. The emulator keeps its own list.
KNOWN_SCOPES = DEFAULT_SCOPES
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_EMULATOR_PORT = 8001
DEFAULT_TOKENS_FILE = "user_tokens.json"
DEFAULT_MANIFEST_FILE = "videos_to_upload.json"  # the manifest upload_to_tiktok.py and the app import by default
DEFAULT_STORE_NAME = "tiktok.db"  # the embedded post store, beside the token file unless STORE_FILE says otherwise
DEFAULT_MEDIA_DIR = "media"  # where the app's composer stores uploaded videos
DEFAULT_POST_GRACE_S = 3600.0  # a scheduled post later than this is "missed", not posted silently
MAX_POST_GRACE_S = 365 * 86400.0  # a year: later than that a "scheduled" post is not one
QUEUE_TICK_RANGE_S = (0.1, 86400.0)  # QUEUE_TICK_S: 0 (off), or this often; more often is a busy loop
PORT_RANGE = (1, 65535)  # 0 would pick a random port, which nothing else (callback, scripts) could find
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # binding elsewhere needs APP_PASSWORD
# The emulator's built-in app registration (see tiktok/emulator/config.py); not secrets of any real app.
EMULATOR_CLIENT_KEY = "emulator-client-key"
EMULATOR_CLIENT_SECRET = "emulator-client-secret"


@dataclass(frozen=True)
class Settings:
    client_key: str
    client_secret: str = field(repr=False)
    api_base: str
    auth_url: str
    redirect_uri: str
    scopes: tuple[str, ...]
    pkce_encoding: Encoding
    tokens_path: Path
    host: str
    port: int
    emulator_port: int
    secret_key: str | None = field(default=None, repr=False)
    #: TOKENS_KEY: a Fernet key; when set, the token file's access and refresh tokens and the post store's
    #: upload URLs are stored encrypted (tiktok.sealing).
    tokens_key: str | None = field(default=None, repr=False)
    #: True unless we talk to TikTok's own API host: pages, logs and stored accounts then say "emulated".
    emulated: bool = True
    #: True when the app should start the emulator itself (emulated and no TIKTOK_API_BASE given).
    embedded_emulator: bool = True
    #: Extra Host header names the app answers to (ALLOWED_HOSTS); its own loopback names always work.
    allowed_hosts: tuple[str, ...] = ()
    #: APP_PASSWORD: when set, every page but the sign-in page asks for it; required to bind beyond loopback.
    app_password: str | None = field(default=None, repr=False)
    #: MANIFEST_FILE: the manifest (videos_to_upload.json) imported into the store by upload_to_tiktok.py and the app.
    manifest_path: Path = Path(DEFAULT_MANIFEST_FILE)
    #: STORE_FILE: the SQLite post store (posts, history, claims); None: tiktok.db beside the token file. Unused
    #: with DATABASE_URL.
    store_file: Path | None = None
    #: MEDIA_DIR: where the composer streams uploaded videos.
    media_dir: Path = Path(DEFAULT_MEDIA_DIR)
    #: POST_GRACE: how late a scheduled post may still go out (seconds, or 90s / 15m / 2h / 1d).
    post_grace_s: float = DEFAULT_POST_GRACE_S
    #: DATABASE_URL: postgresql://... selects the PostgreSQL backend (tokens, post queue, workers); None: JSON files.
    database_url: str | None = field(default=None, repr=False)
    #: QUEUE_TICK_S: seconds between the app's own posting runs (0: off); None when not set (the app's default).
    queue_tick_s: float | None = None

    @property
    def store_path(self) -> Path:
        """Where the SQLite store is: STORE_FILE, or tiktok.db in the token file's folder."""
        return self.store_file if self.store_file is not None else self.tokens_path.parent / DEFAULT_STORE_NAME

    @property
    def environment(self) -> str:
        return "emulator" if self.emulated else "TikTok"


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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: ``.env`` plus the process environment)."""
    env = read_environment() if env is None else env
    get = lambda name, default="": (env.get(name) or default).strip()  # noqa: E731
    host = get("HOST", DEFAULT_HOST)
    port = _port(env, "PORT", DEFAULT_PORT)
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
        api_base = explicit_base or f"http://127.0.0.1:{emulator_port}"
        auth_url = get("TIKTOK_AUTH_URL", api_base.rstrip("/") + "/v2/auth/authorize/")
    encoding = get("TIKTOK_PKCE_ENCODING", "hex")
    if encoding not in ENCODINGS:
        raise ConfigError(f"TIKTOK_PKCE_ENCODING={encoding!r}: expected one of {', '.join(ENCODINGS)}")
    scopes = tuple(s.strip() for s in get("TIKTOK_SCOPES", ",".join(DEFAULT_SCOPES)).split(",") if s.strip())
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise ConfigError(f"TIKTOK_SCOPES names unknown scope{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)}: TikTok's scopes for this tool are {', '.join(KNOWN_SCOPES)}")
    if "user.info.basic" not in scopes:
        raise ConfigError("TIKTOK_SCOPES must include user.info.basic (the app reads the account's name with it)")
    tokens_path = _file(get("TOKENS_FILE"), "TOKENS_FILE", DEFAULT_TOKENS_FILE)
    callback_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return Settings(
        client_key=client_key, client_secret=client_secret, api_base=api_base.rstrip("/"), auth_url=auth_url,
        redirect_uri=get("TIKTOK_REDIRECT_URI", f"http://{callback_host}:{port}/callback/"),
        scopes=scopes, pkce_encoding=encoding,  # type: ignore[arg-type]
        tokens_path=tokens_path,
        store_file=_file(get("STORE_FILE"), "STORE_FILE", DEFAULT_STORE_NAME) if get("STORE_FILE") else None,
        host=host, port=port,
        emulator_port=emulator_port, secret_key=get("FLASK_SECRET_KEY") or None,
        tokens_key=get("TOKENS_KEY") or None,
        emulated=api_base.rstrip("/") != TIKTOK_API_BASE,
        embedded_emulator=not get("TIKTOK_CLIENT_KEY") and not explicit_base,
        allowed_hosts=tuple(h.strip().lower() for h in get("ALLOWED_HOSTS").split(",") if h.strip()),
        app_password=env.get("APP_PASSWORD") or None,
        manifest_path=_file(get("MANIFEST_FILE"), "MANIFEST_FILE", DEFAULT_MANIFEST_FILE),
        media_dir=_folder(get("MEDIA_DIR"), "MEDIA_DIR", DEFAULT_MEDIA_DIR),
        post_grace_s=_duration(get("POST_GRACE"), "POST_GRACE", DEFAULT_POST_GRACE_S),
        database_url=_database_url(get("DATABASE_URL")),
        queue_tick_s=parse_tick(get("QUEUE_TICK_S")) if get("QUEUE_TICK_S") else None,
    )


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


def _web_address(raw: str, name: str) -> None:
    """Nothing when ``raw`` is empty or an http(s) address with a host; ConfigError otherwise."""
    if not raw:
        return
    try:
        parts = urlsplit(raw)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "\x00" in raw:
        raise ConfigError(f"{name}={raw!r} is not a web address: use http:// or https:// and a host name, such as "
                          "https://example.com/")


def _database_url(raw: str) -> str | None:
    """DATABASE_URL when it names PostgreSQL; ConfigError that never repeats the URL (it holds the password)."""
    if not raw:
        return None
    try:
        scheme = urlsplit(raw).scheme
    except ValueError:
        scheme = ""
    if scheme not in ("postgresql", "postgres"):
        raise ConfigError("DATABASE_URL must be a PostgreSQL address: postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
                          f"(it starts with {scheme + '://' if scheme else 'no scheme'})")
    return raw


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
