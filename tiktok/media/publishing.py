"""Media TikTok pulls: published for a post under MEDIA_PUBLIC_URL, and withdrawn once TikTok has them.

TikTok takes photos only by pulling them (PULL_FROM_URL), and pulls a URL video too, from a URL under a domain or URL
prefix verified for the app (reference 4.3; :mod:`tiktok.media.ownership`). A bucket's own host name
(``bucket.s3.amazonaws.com``) is shared by every customer of the service and can never be verified, so media are
published under MEDIA_PUBLIC_URL, an address the person verified with TikTok:

- with the folder store, the app itself serves ``<MEDIA_DIR>/.published/<token>/<name>`` at
  ``MEDIA_PUBLIC_URL<token>/<name>`` (the app behind HTTPS at a verified prefix, e.g.
  ``https://posts.example.com/published/``; the app's route is ``/published/``);
- with an S3 store, the object is copied inside the bucket to ``<prefix>/published/<token>/<name>``, and
  MEDIA_PUBLIC_URL is the custom domain in front of that folder (e.g. a CDN at ``https://media.example.com/``
  whose origin is the bucket's ``<prefix>/published/``).

Each publication gets its own random token (32 hex characters): its URLs cannot be guessed or listed, and
withdrawing it removes everything under it at once. The folder store publishes with a hard link (no second copy of
the bytes) and falls back to a copy across file systems. Withdrawing is idempotent; a publication nobody withdrew
(a process killed mid-post) is removed by :meth:`sweep` after a day (the app's runner and the workers call
:func:`sweep_leftovers`). The app's ``/published/<token>/<name>`` route (:mod:`tiktok.web.published`) serves
either store's publications through :meth:`file` / :meth:`open`: only names this module gave, of a publication not
yet withdrawn.

Which address, and which properties (:func:`public_url`, :func:`verified_properties`): MEDIA_PUBLIC_URL and
VERIFIED_URL_PREFIXES (checked in :mod:`tiktok.config`); VERIFIED_URL_PREFIXES defaults to MEDIA_PUBLIC_URL itself.
In emulated mode with no MEDIA_PUBLIC_URL the app's own ``http://127.0.0.1:<PORT>/published/`` is both
(:func:`emulated_public_prefix`; the app tells the emulator it starts that this prefix is verified), so photo posts
work from the first run. Against TikTok with no MEDIA_PUBLIC_URL there is no address: a post that needs one stops
before its init, naming the setting.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

from tiktok.atomic import os_reason
from tiktok.config import Settings
from tiktok.media.store import (
    FolderStore,
    MediaNotFound,
    MediaStore,
    MediaStoreError,
    MediaStoreSettings,
    S3Store,
    display_name,
    open_media_store,
)

log = logging.getLogger(__name__)
TOKEN = re.compile(r"[0-9a-f]{32}")
NAME = re.compile(r"[1-9][0-9]{0,2}-[\w.-]{1,80}")  # what published_name gives: never hidden, never a path
STALE_S = 86400.0  # a publication older than a day that nobody withdrew is left over (TikTok pulls within an hour)
PUBLISHED = ".published"  # the folder store's publications, under MEDIA_DIR
ROUTE = "/published/"  # where the app serves the folder store's publications (tiktok.web.published)


def public_url(settings: Settings) -> str | None:
    """Where published media can be fetched: MEDIA_PUBLIC_URL, else (emulated) the app's own ``/published/``; None
    against TikTok without MEDIA_PUBLIC_URL."""
    return settings.media.public_url or emulated_public_prefix(settings)


def emulated_public_prefix(settings: Settings) -> str | None:
    """``http://127.0.0.1:<PORT>/published/`` in emulated mode with no MEDIA_PUBLIC_URL (the app tells the emulator
    it starts that this prefix is verified), else None."""
    if not settings.tiktok.emulated or settings.media.public_url is not None:
        return None
    return f"http://127.0.0.1:{settings.app.port}{ROUTE}"


def verified_properties(settings: Settings) -> tuple[str, ...]:
    """The domains and URL prefixes verified for the app, as far as this tool knows: VERIFIED_URL_PREFIXES, else
    MEDIA_PUBLIC_URL itself, and in emulated mode the app's own prefix (:func:`emulated_public_prefix`)."""
    media = settings.media
    known = media.verified_prefixes or ((media.public_url,) if media.public_url else ())
    own = emulated_public_prefix(settings)
    return known + ((own,) if own is not None and own not in known else ())


def sweep_leftovers(settings: Settings, *, now: float | None = None) -> int | None:
    """Remove what interrupted work left in the media store of ``settings``, once it is older than a day
    (:data:`STALE_S`): publications nobody withdrew (a run killed mid-post), and the store's own leftovers (temp
    files of a killed put, unfinished multipart uploads, local copies of S3 objects unused for a day, which
    workers otherwise keep forever: :meth:`~tiktok.media.store.MediaStore.sweep`). How many went, or None when the
    store cannot be used now (logged, never raised: the app's runner and the workers' periodic task call it and go
    on)."""
    try:
        store = open_media_store(MediaStoreSettings.from_settings(settings))
        swept = publisher_for(store, public_url(settings) or "").sweep(now=now)
        left = store.sweep(now=now)
    except MediaStoreError as exc:
        log.warning("the sweep of media left behind did not run: %s", exc)
        return None
    if swept:
        log.info("removed %d publication(s) of media left behind for more than a day", swept)
    if left:
        log.info("removed %d temporary file(s), unfinished upload(s) or unused local copies of media", left)
    return swept + left


@dataclass(frozen=True)
class PublishedFile:
    """One published file being served: its bytes (``stream``, closed by the reader) and ``size``."""

    stream: BinaryIO
    size: int


@dataclass(frozen=True)
class Publication:
    """One post's published media: withdraw it by ``token``; ``urls`` in the order given to :meth:`publish`."""

    token: str
    urls: tuple[str, ...]


class Publisher(Protocol):
    public_url: str

    def publish(self, items: list[tuple[str, str]]) -> Publication: ...
    def withdraw(self, token: str) -> bool: ...
    def open(self, token: str, name: str) -> PublishedFile | None: ...
    def sweep(self, older_than_s: float = STALE_S, *, now: float | None = None) -> int: ...


def publisher_for(store: MediaStore, public_url: str) -> Publisher:
    """The publisher that goes with ``store``: the folder's or the bucket's."""
    if isinstance(store, S3Store):
        return BucketPublisher(store, public_url)
    if isinstance(store, FolderStore):
        return FolderPublisher(store, public_url)
    raise TypeError(f"no publisher for {type(store).__name__}")


def items_of(store: MediaStore, keys: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """``(key, name)`` for :meth:`Publisher.publish`: each key with its original name (the key itself when it was
    stored without one), the key's extension kept so the URL's name says the type. MediaNotFound for a key the store
    does not hold."""
    items = []
    for key in keys:
        name = store.stat(key).name or key
        extension = Path(key).suffix
        if extension and Path(name).suffix.lower() != extension:
            name += extension
        items.append((key, name))
    return items


def servable(token: str, name: str) -> bool:
    """Whether ``<token>/<name>`` is a published file's address at all: a token and a name as this module makes
    them (no hidden file, no folder, no other path)."""
    return bool(TOKEN.fullmatch(token)) and bool(NAME.fullmatch(name))


def published_name(index: int, name: str) -> str:
    """``<n>-<safe name>``: the file's own name, reduced to letters, digits, '.', '-' and '_' (TikTok sees it in
    the URL, percent-encoded), numbered so two photos named alike stay apart."""
    shown = display_name(name) or "media"
    safe = re.sub(r"[^\w.-]+", "-", shown).strip("-.") or "media"
    return f"{index + 1}-{safe[-80:]}"


def _url(public_url: str, token: str, name: str) -> str:
    return f"{public_url}{token}/{quote(name)}"


class FolderPublisher:
    """Publications as folders ``<MEDIA_DIR>/.published/<token>/`` that the app serves at ``/published/``."""

    def __init__(self, store: FolderStore, public_url: str) -> None:
        self.store, self.public_url = store, public_url
        self.root = store.root / PUBLISHED

    def publish(self, items: list[tuple[str, str]]) -> Publication:
        """Publish each ``(key, name)``; the URLs TikTok can pull."""
        token = secrets.token_hex(16)
        folder = self.root / token
        urls = []
        try:
            folder.mkdir(parents=True, mode=0o755)
            for index, (key, name) in enumerate(items):
                source, target = self.store.local_path(key), folder / published_name(index, name)
                try:
                    os.link(source, target)
                except OSError:  # another file system, or links not allowed: a copy
                    shutil.copyfile(source, target)
                urls.append(_url(self.public_url, token, target.name))
        except OSError as exc:
            self.withdraw(token)
            raise MediaStoreError(f"MEDIA_DIR {self.store.root}", f"cannot publish media: {os_reason(exc)}") from None
        except BaseException:
            self.withdraw(token)
            raise
        return Publication(token, tuple(urls))

    def withdraw(self, token: str) -> bool:
        """Remove the publication; False when there was none."""
        if not TOKEN.fullmatch(token):
            return False
        folder = self.root / token
        if not folder.is_dir():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def file(self, token: str, name: str) -> Path | None:
        """The published file the app serves for ``/published/<token>/<name>``, or None (a regular file only:
        nothing a link points to)."""
        if not servable(token, name):
            return None
        path = self.root / token / name
        try:
            return path if S_ISREG(path.lstat().st_mode) and not (self.root / token).is_symlink() else None
        except OSError:
            return None

    def open(self, token: str, name: str) -> PublishedFile | None:
        path = self.file(token, name)
        if path is None:
            return None
        try:
            stream = path.open("rb")
        except OSError:  # withdrawn meanwhile
            return None
        return PublishedFile(stream, os.fstat(stream.fileno()).st_size)

    def sweep(self, older_than_s: float = STALE_S, *, now: float | None = None) -> int:
        cutoff = (time.time() if now is None else now) - older_than_s
        try:
            old = [entry for entry in self.root.iterdir() if TOKEN.fullmatch(entry.name)
                   and entry.stat().st_mtime < cutoff]
        except FileNotFoundError:
            return 0
        return sum(self.withdraw(entry.name) for entry in old)


class BucketPublisher:
    """Publications as objects ``<prefix>/published/<token>/<name>`` in the store's bucket (server-side copies)."""

    def __init__(self, store: S3Store, public_url: str) -> None:
        self.store, self.public_url = store, public_url
        self.folder = f"{store.prefix}/published/" if store.prefix else "published/"

    def publish(self, items: list[tuple[str, str]]) -> Publication:
        token = secrets.token_hex(16)
        urls = []
        try:
            for index, (key, name) in enumerate(items):
                target = published_name(index, name)
                source = {"Bucket": self.store.bucket, "Key": self.store._object(key)}
                self.store._call(f"cannot publish {key}", self.store.client.copy_object, CopySource=source,
                                 Bucket=self.store.bucket, Key=f"{self.folder}{token}/{target}",
                                 ContentType=mimetypes.guess_type(target)[0] or "application/octet-stream",
                                 MetadataDirective="REPLACE", missing=key)
                urls.append(_url(self.public_url, token, target))
        except BaseException:
            self.withdraw(token)
            raise
        return Publication(token, tuple(urls))

    def open(self, token: str, name: str) -> PublishedFile | None:
        """The published object's bytes, streamed from the bucket (the app serves them when no custom domain
        does, as in emulated mode), or None."""
        if not servable(token, name):
            return None
        try:
            got = self.store._call("cannot read published media", self.store.client.get_object,
                                   Bucket=self.store.bucket, Key=f"{self.folder}{token}/{name}", missing=name)
        except MediaNotFound:
            return None
        return PublishedFile(got["Body"], int(got["ContentLength"]))

    def withdraw(self, token: str) -> bool:
        if not TOKEN.fullmatch(token):
            return False
        found = self._objects(f"{self.folder}{token}/")
        for key in found:
            self.store._call("cannot withdraw published media", self.store.client.delete_object,
                             Bucket=self.store.bucket, Key=key)
        return bool(found)

    def sweep(self, older_than_s: float = STALE_S, *, now: float | None = None) -> int:
        cutoff = (time.time() if now is None else now) - older_than_s
        tokens = {item["Key"][len(self.folder):].split("/", 1)[0] for item in self._listing(self.folder)
                  if item["LastModified"].timestamp() < cutoff}
        return sum(self.withdraw(token) for token in tokens if TOKEN.fullmatch(token))

    def _objects(self, start: str) -> list[str]:
        return [item["Key"] for item in self._listing(start)]

    def _listing(self, start: str) -> list[dict[str, Any]]:
        pages = self.store.client.get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket, Prefix=start)
        return [item for page in self.store._call("cannot list published media", lambda: list(pages))
                for item in page.get("Contents", [])]
