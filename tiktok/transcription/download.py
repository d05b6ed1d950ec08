"""Download one video with yt-dlp, refusing bad input up front and reporting failures in plain words.

    TikTokError
    └── DownloadFailed              yt-dlp could not produce the file (carries url and a plain-words reason)
        ├── UnsupportedURL          not a TikTok video URL nor a direct media URL (refused before any request)
        ├── LoginRequired           private, friends-only or age-gated post; TikTok wants a logged-in viewer
        ├── IPBlocked               TikTok blocks this network's IP address for the post             (transient)
        ├── ExtractorOutdated       TikTok changed its pages; upgrading yt-dlp is the usual fix
        ├── VideoNotFound           HTTP 404/410: the video or page is gone
        ├── AccessDenied            HTTP 403 from the host                                            (transient)
        └── NetworkError            connection refused or dropped, timeout, DNS, HTTP 5xx/429          (transient)

The download happens in a private temporary folder inside ``dest_dir``; only the finished file is moved out, and the
temporary folder is removed whether the download worked or not.

A TikTok video's page is read once per video (issue 26 item 9: the caption check and the download each read it, two
requests for the same bytes): :class:`VideoPage` keeps yt-dlp's extraction of it, and the caption check
(:mod:`captions`) and :func:`download_video` each process a copy of that extraction with their own options.
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import yt_dlp
from yt_dlp.extractor.tiktok import TikTokIE, TikTokVMIE
from yt_dlp.networking.exceptions import HTTPError, TransportError

from tiktok.errors import TikTokError

ALLOWED_EXTRACTORS = ["TikTok", "vm.tiktok", "generic"]  # ecosystem notes §2: without "generic" no direct file works
MEDIA_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mp3", ".m4a", ".aac", ".wav",
                              ".ogg", ".opus", ".flac"})
RETRIES = 2  # yt-dlp's default of 10 turns a dead host into a long wait; loopback and TikTok rarely need more
OUTPUT_TEMPLATE = "%(id)s.%(ext)s"
UPGRADE_HINT = "upgrade yt-dlp (pip install -U 'yt-dlp[curl-cffi]') and try again"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

ProgressCallback = Callable[[int, "int | None"], None]  # (downloaded_bytes, total_bytes or None)


class DownloadFailed(TikTokError):
    """yt-dlp could not download the video."""

    def __init__(self, url: str, reason: str, *, detail: str = "") -> None:
        self.url = url
        self.reason = reason
        self.detail = detail  # yt-dlp's own message, for logs
        super().__init__(f"{url}: {reason}")


class UnsupportedURL(DownloadFailed):
    pass


class LoginRequired(DownloadFailed):
    pass


class IPBlocked(DownloadFailed):
    transient = True


class ExtractorOutdated(DownloadFailed):
    pass


class VideoNotFound(DownloadFailed):
    pass


class AccessDenied(DownloadFailed):
    transient = True


class NetworkError(DownloadFailed):
    transient = True


def classify_url(url: str, *, trusted_hosts: frozenset[str] | set[str] = frozenset()) -> str:
    """"tiktok" for a TikTok video URL, "media" for a direct media file URL, else "unknown".

    ``trusted_hosts`` ("host:port") count as TikTok: emulator mode serves its video pages from one.
    """
    if TikTokIE.suitable(url) or TikTokVMIE.suitable(url):
        return "tiktok"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "unknown"
    if parts.netloc in trusted_hosts:
        return "tiktok"
    return "media" if Path(parts.path).suffix.lower() in MEDIA_EXTENSIONS else "unknown"


_UNSET = object()


class VideoPage:
    """One video's page, read once: yt-dlp's extraction of it (the info dict) is kept, and each use processes a copy
    of it with its own options (:meth:`process`): the caption check, then the download, with no second request for
    the page. One YoutubeDL serves both, so the cookies the page set go with the download (TikTok's media host wants
    them). In emulator mode the page is read by yt-dlp's TikTok extractor moved to the emulator's host
    (:func:`emulator_extractor`). A page that could not be read is not kept (:attr:`failed`): the download then reads
    it on its own, so a page that failed for the captions gets one more try and the download's own reason."""

    def __init__(self, url: str, *, timeout_s: float, trusted_hosts: frozenset[str] | set[str] = frozenset()) -> None:
        self.url = url
        self.logger = CollectingLogger()
        self.failed = False
        # writesubtitles at extraction: yt-dlp's extractors list subtitles only when asked then; each use says
        # whether it writes them (the download does not)
        self._ydl = yt_dlp.YoutubeDL({**ydl_options(None, timeout_s, self.logger, None), "writesubtitles": True})
        self._ie_key = register_emulator_extractor(self._ydl, url, trusted_hosts)
        self._info: dict[str, Any] | None = None

    def __enter__(self) -> "VideoPage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._ydl.close()

    def info(self) -> dict[str, Any]:
        """The page's extraction, unprocessed (read on first use); DownloadFailed (typed) when it cannot be read."""
        if self._info is None:
            try:
                info = self._ydl.extract_info(self.url, download=False, process=False, ie_key=self._ie_key)
                while info.get("_type") == "url":  # a short link (vm.tiktok.com): resolved once, here
                    info = self._ydl.extract_info(info["url"], download=False, process=False,
                                                  ie_key=info.get("ie_key"))
            except yt_dlp.utils.DownloadError as exc:
                self.failed = True
                raise error_from_download(self.url, str(exc), exc.exc_info[1] if exc.exc_info else None) from None
            self._info = info
        return self._info

    def process(self, work: Path, progress: ProgressCallback | None = None, **params: Any) -> dict[str, Any]:
        """A copy of the extraction processed by yt-dlp (formats and subtitles chosen, files written into ``work``)
        with ``params`` set for this call only; DownloadFailed (typed) when it fails."""
        info = copy.deepcopy(self.info())
        params = {**params, "paths": {"home": str(work), "temp": str(work)}}
        saved = {key: self._ydl.params.get(key, _UNSET) for key in params}
        self._ydl.params.update(params)
        if progress is not None:
            self._ydl.add_progress_hook(_progress_hook(progress))  # the download is the page's last use
        try:
            return self._ydl.process_ie_result(info, download=True)
        except yt_dlp.utils.DownloadError as exc:
            raise error_from_download(self.url, str(exc), exc.exc_info[1] if exc.exc_info else None) from None
        except yt_dlp.utils.ExtractorError as exc:  # raised bare outside extract_info (e.g. no playable format)
            raise error_from_download(self.url, str(exc), exc.cause) from None
        finally:
            for key, value in saved.items():
                if value is _UNSET:
                    self._ydl.params.pop(key, None)
                else:
                    self._ydl.params[key] = value


def download_video(url: str, dest_dir: str | Path, *, timeout_s: float, progress: ProgressCallback | None = None,
                   trusted_hosts: frozenset[str] | set[str] = frozenset(), name: str | None = None,
                   page: VideoPage | None = None) -> Path:
    """Download ``url`` into ``dest_dir`` and return the file's path; DownloadFailed (typed) when it cannot.

    ``name`` replaces yt-dlp's id as the file's stem (the extension stays), so parallel jobs cannot collide.
    ``page``: the video's page already read for its captions; its extraction is reused (no second request for the
    page) unless reading it failed.
    """
    if classify_url(url, trusted_hosts=trusted_hosts) == "unknown":
        raise UnsupportedURL(url, "not a TikTok video URL or a link to a media file")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".download-", dir=dest))
    logger = page.logger if page is not None else CollectingLogger()
    try:
        if page is not None and not page.failed:
            info = page.process(work, progress, writesubtitles=False)
        else:
            with yt_dlp.YoutubeDL(ydl_options(work, timeout_s, logger, progress)) as ydl:
                info = ydl.extract_info(url, download=True)
        produced = _produced_file(info, work)
        if produced is None:
            raise DownloadFailed(url, "yt-dlp finished without writing a file", detail=" | ".join(logger.messages))
        final = dest / (f"{name}{produced.suffix}" if name else produced.name)
        produced.replace(final)
        return final
    except yt_dlp.utils.DownloadError as exc:
        raise error_from_download(url, str(exc), exc.exc_info[1] if exc.exc_info else None) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ydl_options(work: Path | None, timeout_s: float, logger: "CollectingLogger",
                progress: ProgressCallback | None) -> dict[str, Any]:
    """yt-dlp options: silent, logged into ``logger``, writing only inside ``work`` (None: each use names its own
    folder, :meth:`VideoPage.process`)."""
    options: dict[str, Any] = {
        "quiet": True, "noprogress": True, "no_warnings": False, "logger": logger,
        "allowed_extractors": ALLOWED_EXTRACTORS, "socket_timeout": timeout_s, "outtmpl": OUTPUT_TEMPLATE,
        "noplaylist": True, "retries": RETRIES, "fragment_retries": RETRIES, "extractor_retries": RETRIES,
        "format": "best[ext=mp4]/best",  # one muxed file: no ffmpeg merge needed, and AssemblyAI accepts mp4
        "overwrites": True, "cachedir": False,
    }
    if work is not None:
        options["paths"] = {"home": str(work), "temp": str(work)}
    if progress is not None:
        options["progress_hooks"] = [_progress_hook(progress)]
    return options


def emulator_extractor(host: str) -> type[TikTokIE]:
    """yt-dlp's TikTok extractor for share pages served by the emulator at ``host`` ("127.0.0.1:PORT")."""
    base = f"http://{host}"

    class EmulatedTikTokIE(TikTokIE):
        IE_NAME = "tiktok:emulator"
        _VALID_URL = rf"https?://{re.escape(host)}/@(?P<user_id>[\w.-]+)/video/(?P<id>\d+)"
        _WEBPAGE_HOST = f"{base}/"

        @staticmethod
        def _create_url(user_id: str | None, video_id: str) -> str:
            return f"{base}/@{user_id or '_'}/video/{video_id}"

    return EmulatedTikTokIE


def register_emulator_extractor(ydl: yt_dlp.YoutubeDL, url: str,
                                trusted_hosts: frozenset[str] | set[str]) -> str | None:
    """For an emulator URL, add the emulator extractor and return its key (so the generic one never takes it)."""
    if TikTokIE.suitable(url):
        return None
    host = next((h for h in trusted_hosts if emulator_extractor(h).suitable(url)), None)
    if host is None:
        return None
    extractor = emulator_extractor(host)
    ydl.add_info_extractor(extractor())
    return extractor.ie_key()


def _progress_hook(progress: ProgressCallback) -> Callable[[dict[str, Any]], None]:
    def hook(status: dict[str, Any]) -> None:
        if status.get("status") in ("downloading", "finished"):
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            progress(int(status.get("downloaded_bytes") or 0), int(total) if total else None)
    return hook


def _produced_file(info: dict[str, Any] | None, work: Path) -> Path | None:
    # yt-dlp reports success even when it skipped the download (e.g. over max_filesize), so look on disk
    for item in (info or {}).get("requested_downloads") or []:
        path = Path(item.get("filepath") or "")
        if path.is_file() and path.resolve().parent == work.resolve():
            return path
    return None


class CollectingLogger:
    """A yt-dlp logger that keeps messages instead of printing them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, message: str) -> None:
        if not message.startswith("[debug] "):
            self.messages.append(message)

    def info(self, message: str) -> None:
        self.messages.append(message)

    def warning(self, message: str) -> None:
        self.messages.append(f"WARNING: {message}")

    def error(self, message: str) -> None:
        self.messages.append(message)


# (pattern in yt-dlp's message, error class, plain-words reason); first match wins
_MESSAGE_RULES: list[tuple[re.Pattern[str], type[DownloadFailed], str]] = [
    (re.compile(r"IP address is blocked", re.I), IPBlocked,
     "TikTok blocks this network's IP address for this post; try again later or from another network"),
    (re.compile(r"\blog ?in\b|\bprivate\b|permission to view|registered users", re.I), LoginRequired,
     "the post is private, friends-only or age-restricted: TikTok only shows it to a logged-in viewer"),
    (re.compile(r"Unable to extract|Unexpected response from webpage|Unable to solve JS challenge|"
                r"universal data", re.I), ExtractorOutdated,
     f"yt-dlp could not read TikTok's page, which usually means TikTok changed it: {UPGRADE_HINT}"),
    (re.compile(r"Unsupported URL|No suitable extractor|No video formats found", re.I), UnsupportedURL,
     "no video was found at this address"),
    (re.compile(r"Connection refused|timed out|Name or service not known|Temporary failure in name resolution|"
                r"Connection reset|Remote end closed", re.I), NetworkError,
     "the video host could not be reached (connection refused, dropped or timed out); try again later"),
]


def error_from_download(url: str, message: str, cause: BaseException | None) -> DownloadFailed:
    """Map a yt-dlp DownloadError (its message and underlying cause) to a typed error with a plain reason."""
    detail = _ANSI.sub("", message).removeprefix("ERROR: ").strip()
    status = cause.status if isinstance(cause, HTTPError) else _status_in(detail)
    if status is not None:
        return _error_for_status(url, status, detail)
    for pattern, cls, reason in _MESSAGE_RULES:
        if pattern.search(detail):
            return cls(url, reason, detail=detail)
    if isinstance(cause, TransportError):
        return NetworkError(url, "the video host could not be reached; try again later", detail=detail)
    return DownloadFailed(url, f"yt-dlp failed: {detail}", detail=detail)


def _status_in(detail: str) -> int | None:
    match = re.search(r"HTTP Error (\d{3})", detail)
    return int(match.group(1)) if match else None


def _error_for_status(url: str, status: int, detail: str) -> DownloadFailed:
    if status in (404, 410):
        return VideoNotFound(url, f"the video is gone or the link is wrong (HTTP {status})", detail=detail)
    if status == 403:
        return AccessDenied(url, f"the host refused the download (HTTP 403); try again later, or {UPGRADE_HINT}",
                            detail=detail)
    if status == 429 or status >= 500:
        return NetworkError(url, f"the host is overloaded or failing (HTTP {status}); try again later", detail=detail)
    return DownloadFailed(url, f"the host answered HTTP {status}", detail=detail)
