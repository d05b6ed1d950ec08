"""PULL_FROM_URL: URL ownership (reference 4.3) and the emulator's own download of the media.

``config.verified_url_prefixes`` holds TikTok's two kinds of URL property:
- a domain (``static.example.com``, no scheme) covers https URLs on it and on all its subdomains;
- a URL prefix (``https://example.com/videos/user/``) covers URLs that start with exactly that text.
URLs must be https, carry no user:password, and not name an IP host. Testing allowance (ours, not TikTok's): an
``http://127.0.0.1[:port]/...`` or ``http://localhost[:port]/...`` URL passes when it starts with an http prefix
listed in the config, so tests can serve media from a loopback server.

The download runs in a daemon thread with ``requests`` (no redirects followed: any 3xx fails the post; so does any
other non-200 answer, a connection error, or a file over the size limit), streaming to disk in blocks while hashing
and counting ``downloaded_bytes``. Failures end the post FAILED ``video_pull_failed`` / ``photo_pull_failed``, a
photo over 20 MB ``picture_size_check_failed``. Cancel (``publish_status.py``) sets an event the loop checks.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import requests

from .media_checks import MAX_PHOTO_BYTES, PICTURE_SIZE_FAILED, check_photo, check_video
from .post_schema import MAX_VIDEO_BYTES
from .posts import Post
from .processing import fail, transfer_finished
from .state import EmulatorState

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
BLOCK_BYTES = 1 << 20           # download read unit, 1 MiB
CONNECT_TIMEOUT_S = 10.0        # our choice; TikTok allows the whole download one hour (reference 4.3)
READ_TIMEOUT_S = 60.0           # our choice: a source silent this long counts as a failed pull


class PullFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def url_is_verified(url: str, verified: list[str]) -> bool:
    """Whether ``url`` falls under one of the verified domains or URL prefixes (rules in the module docstring)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return any(entry.startswith("http://") and url.startswith(entry) for entry in verified)
    if parts.scheme != "https" or _is_ip(host):
        return False
    for entry in verified:
        if "://" in entry:
            if entry.startswith("https://") and url.startswith(entry):
                return True
        elif host == entry.lower().strip(".") or host.endswith("." + entry.lower().strip(".")):
            return True
    return False


def start_pull(state: EmulatorState, post: Post, urls: list[str], cancel: threading.Event) -> threading.Thread:
    """Download ``urls`` for ``post`` in a daemon thread; returns the started thread."""
    thread = threading.Thread(target=_pull, args=(state, post, urls, cancel), daemon=True,
                              name=f"pull-{post.publish_id}")
    thread.start()
    return thread


def _pull(state: EmulatorState, post: Post, urls: list[str], cancel: threading.Event) -> None:
    paths = [os.path.join(state.media_dir, f"{post.publish_id.replace('~', '_')}-{i}.bin") for i in range(len(urls))]
    video = post.kind == "video"
    os.makedirs(state.media_dir, exist_ok=True)
    try:
        digest = hashlib.sha256()
        for url, path in zip(urls, paths):
            _download(state, post, url, path, digest, cancel, MAX_VIDEO_BYTES if video else MAX_PHOTO_BYTES)
        reason = _check(state, post, paths)
    except PullFailed as failed:
        reason, digest = failed.reason, None
    except (requests.RequestException, OSError):  # connection error, timeout, broken source: a failed pull
        reason, digest = ("video_pull_failed" if video else "photo_pull_failed"), None
    with state.lock:
        if digest is not None:
            post.sha256 = digest.hexdigest()
        if video and reason is None:
            post.media_path = paths[0]
        if cancel.is_set() or post.terminal:
            reason = None  # already FAILED (cancelled)
        elif reason and reason.endswith("_pull_failed"):
            fail(post, reason)
        else:
            transfer_finished(state, post, reason)
        keep = post.media_path
    for path in paths:
        if path != keep:
            Path(path).unlink(missing_ok=True)


def _download(state: EmulatorState, post: Post, url: str, path: str, digest, cancel: threading.Event,
              limit: int) -> None:
    pull_failed = "video_pull_failed" if post.kind == "video" else "photo_pull_failed"
    with requests.get(url, stream=True, allow_redirects=False, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)) as got:
        if got.status_code != 200:
            raise PullFailed(pull_failed)  # reference 4.3: redirects are invalid; anything else is a failed pull
        written = 0
        with open(path, "wb") as handle:
            for block in got.iter_content(BLOCK_BYTES):
                if cancel.is_set():
                    raise PullFailed("publish_cancelled")
                written += len(block)
                if written > limit:
                    raise PullFailed(PICTURE_SIZE_FAILED if post.kind == "photo" else pull_failed)
                digest.update(block)
                handle.write(block)
                with state.lock:
                    post.bytes_received += len(block)


def _check(state: EmulatorState, post: Post, paths: list[str]) -> str | None:
    """The media check of the downloaded files: first failing reason, or None."""
    if post.kind == "video":
        limit = state.config.posting_settings(post.open_id).max_video_post_duration_sec
        verdict = check_video(paths[0], limit)
        with state.lock:
            post.duration_s, post.width, post.height = verdict.duration_s, verdict.width, verdict.height
        return verdict.fail_reason
    return next((v.fail_reason for v in map(check_photo, paths) if v.fail_reason), None)
