"""One media store that every worker can read: a local folder (MEDIA_DIR, the default) or an S3 bucket.

MEDIA_STORE chooses it (read in tiktok.config): ``folder`` keeps the objects in MEDIA_DIR; ``s3://bucket/prefix``
keeps them in an S3 or S3-compatible bucket (AWS_ENDPOINT_URL_S3 names another server, as for the report; the
client and its error reasons are tiktok.s3's). :func:`open_media_store` builds one; both pass the same contract
tests (tests/test_media_store.py).

Keys are content-addressed: the SHA-256 of the bytes and the original name's extension, such as
``9f86d0...0f00a08.mp4``. The same bytes are one object however many processes put them at once, and a key never
changes meaning, so a copy a worker downloaded never goes stale. The original name is kept as metadata for display
(the folder: ``.store/meta/<key>.json``; S3: ``x-amz-meta-name``, percent-encoded UTF-8); putting bytes already
stored keeps the stored object and its first name.

One exception, for the composer's uploads (:func:`adopt_upload`): hashing a 1 GB upload again after it arrived costs
seconds the person waits for, so an upload is adopted under the digest its receiver computed when it has one, and
otherwise under a random key of the same form (64 hex digits from ``secrets``, 256 bits: never equal to another key).
Such a key still never changes meaning (nothing else is ever stored under it); its metadata says ``keyed: random``
(the folder's ``.store/meta`` file, S3's ``x-amz-meta-keyed``) so a download is not checked against it, and the same
file uploaded twice is two objects, as it was two files before. Adopting is a rename on the folder store (the upload
already lies in ``MEDIA_DIR``: no copy, whatever the size); the S3 store uploads it and keeps the file as its local
copy (a rename into ``.store/cache``), so the machine that received it never downloads it again.

Nothing half-written is ever visible: the folder store writes a temp file in ``.store/tmp``, fsyncs it and renames
it into place; S3 shows an object only when its upload completes (multipart from 8 MB, which s3transfer aborts on a
failure). A process killed mid-put leaves an invisible temp file or unfinished multipart upload: :meth:`sweep`
removes them (for S3 a bucket lifecycle rule, AbortIncompleteMultipartUpload, does too). Memory stays flat at any
size: copies go in 1 MB blocks, S3 transfers in 8 MB parts, two at a time.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import mimetypes
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from types import TracebackType
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote, unquote

from tiktok.atomic import atomic_write, os_reason
from tiktok.config import DEFAULT_MEDIA_DIR, Settings
from tiktok.errors import FileProblem, TikTokError
from tiktok.s3 import describe, make_client, parse_s3_uri

MB = 1 << 20
BLOCK_BYTES = 1 * MB                # one read or write of a local copy
PART_BYTES = 8 * MB                 # s3transfer's default part size; S3 takes 5 MB to 5 GB (AWS multipart limits)
PARTS_AT_ONCE = 2                   # parts in flight: the peak grows with these, not with the file (measured)
IO_QUEUE = 16                       # 256 KB writes a download may hold before the disk takes them
STALE_S = 86400.0                   # sweep(): a temp file or an unfinished upload older than a day is left over
NAME_BYTES = 255                    # NAME_MAX: a longer name is cut (its extension kept); S3 metadata stays < 2 KB
KEY = re.compile(r"[0-9a-f]{64}(\.[a-z0-9]{1,10})?")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
              "ServiceUnavailable", "InternalError"}
_ADVICE = {
    "NoSuchBucket": "create the bucket or fix MEDIA_STORE",
    "AccessDenied": "the AWS credentials need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it",
    "403": "the AWS credentials need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it",
    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID (or ~/.aws/credentials)",
    "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials)",
    "NoCredentialsError": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws",
}


class MediaStoreError(TikTokError):
    """The media store cannot do what was asked; the message names it (MEDIA_DIR or MEDIA_STORE), never a secret."""

    def __init__(self, where: str, reason: str) -> None:
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


class MediaNotFound(MediaStoreError):
    """No media with this key in the store."""


class MediaStoreUnavailable(MediaStoreError):
    """The bucket's server could not be reached, timed out, throttled or answered 5xx; a later try may work."""

    transient = True


@dataclass(frozen=True)
class StoredMedia:
    """One object: ``modified`` in seconds since the epoch; ``name`` (the original file name) from :meth:`stat`
    only, None from :meth:`list` (an S3 listing does not carry it) or when it was stored without one."""

    key: str
    size: int
    modified: float
    name: str | None = None


class MediaReader(Protocol):
    """A seekable binary stream over one object, with its ``size``: the chunked uploader reads byte ranges."""

    size: int

    def read(self, size: int = -1, /) -> bytes: ...
    def readinto(self, buffer: Any, /) -> int: ...
    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int: ...
    def tell(self) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> None: ...


class MediaStore(Protocol):
    """Where media are kept; keys come from :func:`media_key`. Every method raises MediaStoreError (MediaNotFound
    for a key it does not hold, MediaStoreUnavailable when a later try may work)."""

    where: str  # the setting and place, for messages: "MEDIA_DIR /srv/media", "MEDIA_STORE s3://bucket/prefix"

    def put_file(self, path: str | os.PathLike[str], *, name: str | None = None) -> str: ...
    def put_stream(self, stream: BinaryIO, *, name: str) -> str: ...
    def adopt(self, path: str | os.PathLike[str], *, name: str | None = None, digest: str | None = None) -> str: ...
    def open(self, key: str) -> MediaReader: ...
    def local_path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def stat(self, key: str) -> StoredMedia: ...
    def delete(self, key: str) -> bool: ...
    def list(self) -> list[StoredMedia]: ...
    def sweep(self, older_than_s: float = STALE_S, *, now: float | None = None) -> int: ...


@dataclass(frozen=True)
class MediaStoreSettings:
    """The store's settings: MEDIA_DIR (the folder store, or the S3 store's local copies), MEDIA_STORE's bucket
    and prefix (no bucket: the folder store) and AWS_ENDPOINT_URL_S3."""

    media_dir: Path = Path(DEFAULT_MEDIA_DIR)
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaStoreSettings:
        media = settings.media
        bucket, prefix = parse_s3_uri(media.store) if media.store != "folder" else (None, "")
        return cls(media.media_dir, bucket, prefix, settings.report.s3_endpoint_url)


def open_media_store(settings: MediaStoreSettings, *, client: Any = None) -> MediaStore:
    """The folder store, or the S3 store when a bucket is set (``client``: a boto3 S3 client to use instead)."""
    if settings.bucket is None:
        return FolderStore(settings.media_dir)
    try:
        client = client if client is not None else make_client(settings.endpoint_url)
    except Exception as exc:  # boto3 refuses bad settings (region, endpoint) when the client is built
        raise MediaStoreError(f"MEDIA_STORE {_uri(settings.bucket, settings.prefix)}",
                              f"cannot make an S3 client ({describe(exc)})") from None
    return S3Store(client, settings.bucket, settings.prefix, settings.media_dir / ".store")


def import_file(store: MediaStore, path: str | os.PathLike[str]) -> str:
    """Put a local file (a manifest's video) into the store under its own name; the key. Idempotent: the same
    bytes give the same key and are stored once. The local file is left as it is."""
    return store.put_file(path)


def adopt_upload(store: MediaStore, path: str | os.PathLike[str], *, name: str, digest: str | None = None) -> str:
    """Make a kept composer upload (a file in ``MEDIA_DIR``) an object of ``store``; its key. ``name`` is the
    original file name (kept for display, its extension in the key); ``digest``, the SHA-256 hex of the bytes when
    the receiver computed it on the way in (a content key), else the key is random (see the module docstring).

    The file is moved, never copied on the folder store: a rename in ``MEDIA_DIR`` (a copy only when ``path`` is on
    another file system); on S3 it is uploaded and then becomes the local copy. On success ``path`` is gone; on
    failure (MediaStoreError, or FileProblem naming ``path``) it is left where it was."""
    return store.adopt(path, name=name, digest=digest)


def lazy_media_store(settings: MediaStoreSettings) -> Callable[[], MediaStore]:
    """A function that opens the store on its first call and gives the same one after (threads share it: boto3's
    clients are thread-safe); a run whose posts never name stored media never builds an S3 client."""
    lock = threading.Lock()
    opened: list[MediaStore] = []

    def media() -> MediaStore:
        with lock:
            if not opened:
                opened.append(open_media_store(settings))
            return opened[0]
    return media


def media_key(digest: str, name: str) -> str:
    """``<sha-256 hex><extension>``: the extension is the name's, lower-cased, when it is 1-10 letters or digits."""
    suffix = Path(display_name(name)).suffix.lower()
    return digest + (suffix if _EXTENSION.fullmatch(suffix) else "")


def display_name(name: str) -> str:
    """The name kept for display: its last path part, control characters dropped, at most NAME_BYTES of UTF-8
    (the stem is cut, a short extension kept)."""
    last = "".join(ch for ch in re.split(r"[\\/]", name)[-1] if ord(ch) >= 32 and ord(ch) != 127)
    if len(last.encode("utf-8")) <= NAME_BYTES:
        return last
    suffix = Path(last).suffix if len(Path(last).suffix) <= 11 else ""
    room = NAME_BYTES - len(suffix.encode("utf-8"))
    return last[:len(last) - len(suffix)].encode("utf-8")[:room].decode("utf-8", "ignore") + suffix


class FolderStore:
    """Objects as files ``<MEDIA_DIR>/<key>``; temp files and names under ``<MEDIA_DIR>/.store``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.where = f"MEDIA_DIR {self.root}"
        self._tmp, self._meta = self.root / ".store" / "tmp", self.root / ".store" / "meta"

    def put_file(self, path: str | os.PathLike[str], *, name: str | None = None) -> str:
        with _source(path) as stream:
            return self.put_stream(stream, name=name or Path(path).name)

    def put_stream(self, stream: BinaryIO, *, name: str) -> str:
        fail = self._fail("cannot store " + repr(display_name(name)))
        tmp, digest = _spool(stream, self._tmp, fail)  # the stream's own errors stay the caller's
        key = media_key(digest, name)
        try:
            with _failing(fail):
                if not (self.root / key).is_file():
                    self._meta.mkdir(exist_ok=True)
                    atomic_write(self._meta / f"{key}.json", json.dumps({"name": display_name(name)}))
                    os.replace(tmp, self.root / key)  # the name first: a visible object always has it
                    _fsync_folder(self.root)
        finally:
            tmp.unlink(missing_ok=True)
        return key

    def adopt(self, path: str | os.PathLike[str], *, name: str | None = None, digest: str | None = None) -> str:
        """Rename ``path`` into place as a new object (see :func:`adopt_upload`), fsynced first."""
        source = Path(path)
        name = name or source.name
        key = _adopted_key(name, digest)
        _sync(source)
        fail = self._fail("cannot store " + repr(display_name(name)))
        with _failing(fail):
            if digest is not None and (self.root / key).is_file():
                source.unlink()  # the same bytes are stored already: keep that object and its first name
                return key
            self._meta.mkdir(parents=True, exist_ok=True)
            atomic_write(self._meta / f"{key}.json", json.dumps(_meta(name, digest)))
            try:
                os.replace(source, self.root / key)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                (self._meta / f"{key}.json").unlink(missing_ok=True)
                key = self.put_file(source, name=name)  # another file system: one copy, keyed by what it read
                source.unlink()
                return key
            _fsync_folder(self.root)
        return key

    def open(self, key: str) -> MediaReader:
        with _failing(self._fail(f"cannot read {key}")):
            reader = _FileReader(self._existing(key), "r")
            reader.size = os.fstat(reader.fileno()).st_size
        return reader

    def local_path(self, key: str) -> Path:
        return self._existing(key)

    def exists(self, key: str) -> bool:
        return bool(KEY.fullmatch(key)) and (self.root / key).is_file()

    def stat(self, key: str) -> StoredMedia:
        with _failing(self._fail(f"cannot read {key}")):
            info = self._existing(key).stat()
            try:
                name = json.loads((self._meta / f"{key}.json").read_text("utf-8"))["name"]
            except (OSError, ValueError, KeyError, TypeError):
                name = None  # stored without one, or by hand
        return StoredMedia(key, info.st_size, info.st_mtime, name)

    def delete(self, key: str) -> bool:
        if not KEY.fullmatch(key):
            return False
        with _failing(self._fail(f"cannot delete {key}")):
            try:
                (self.root / key).unlink()
            except FileNotFoundError:
                return False
            finally:
                (self._meta / f"{key}.json").unlink(missing_ok=True)
        return True

    def list(self) -> list[StoredMedia]:
        with _failing(self._fail("cannot list it")):
            found = [StoredMedia(path.name, info.st_size, info.st_mtime) for path, info in _files(self.root)
                     if KEY.fullmatch(path.name)]
        return sorted(found, key=lambda media: media.key)

    def sweep(self, older_than_s: float = STALE_S, *, now: float | None = None) -> int:
        """Remove temp files a killed put left, and names whose object is gone, older than ``older_than_s``."""
        cutoff = (time.time() if now is None else now) - older_than_s
        with _failing(self._fail("cannot sweep it")):
            left = [path for path, info in _files(self._tmp) if info.st_mtime < cutoff]
            left += [path for path, info in _files(self._meta) if info.st_mtime < cutoff
                     and not (path.name.endswith(".json") and (self.root / path.name[:-5]).is_file())]
            for path in left:
                path.unlink(missing_ok=True)
        return len(left)

    def _existing(self, key: str) -> Path:
        path = self.root / key
        if not KEY.fullmatch(key) or not path.is_file():
            raise MediaNotFound(self.where, f"no media with key {key[:80]!r}")
        return path

    def _fail(self, action: str) -> Callable[[OSError], MediaStoreError]:
        return lambda exc: MediaStoreError(self.where, f"{action}: {os_reason(exc)}")


class S3Store:
    """Objects as ``<prefix>/<key>`` in a bucket; local copies for :meth:`local_path` in ``<MEDIA_DIR>/.store``."""

    def __init__(self, client: Any, bucket: str, prefix: str, local: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.where = f"MEDIA_STORE {_uri(bucket, prefix)}"
        self._cache, self._tmp = local / "cache", local / "tmp"
        self._transfer = TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES,
                                        max_concurrency=PARTS_AT_ONCE, max_io_queue=IO_QUEUE,
                                        preferred_transfer_client="classic")

    def put_file(self, path: str | os.PathLike[str], *, name: str | None = None) -> str:
        name = name or Path(path).name
        with _source(path) as stream:
            digest = _sha256(stream)
        key = media_key(digest, name)
        if not self.exists(key):
            self._upload(Path(path), key, name)  # the same bytes already there: nothing to send
        return key

    def put_stream(self, stream: BinaryIO, *, name: str) -> str:
        """Spooled to a local copy first (the key is the bytes' digest), which then serves :meth:`local_path`."""
        tmp, digest = _spool(stream, self._tmp, self._fail_locally("cannot store " + repr(display_name(name))))
        key = media_key(digest, name)
        try:
            if not self.exists(key):
                self._upload(tmp, key, name)
            with _failing(self._fail_locally(f"cannot keep a copy of {key}")):
                self._cache.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, self._cache / key)
        finally:
            tmp.unlink(missing_ok=True)
        return key

    def adopt(self, path: str | os.PathLike[str], *, name: str | None = None, digest: str | None = None) -> str:
        """Upload ``path`` as a new object, then keep it as the local copy (see :func:`adopt_upload`)."""
        source = Path(path)
        name = name or source.name
        key = _adopted_key(name, digest)
        _sync(source)
        if digest is None or not self.exists(key):
            self._upload(source, key, name, random=digest is None)
        try:
            self._cache.mkdir(parents=True, exist_ok=True)
            os.replace(source, self._cache / key)
        except OSError:  # the object is stored: a local copy only saves a download later
            source.unlink(missing_ok=True)
        return key

    def open(self, key: str) -> MediaReader:
        return _S3Reader(self, self._object(key), self.stat(key).size)

    def local_path(self, key: str) -> Path:
        """The object as a local file, downloaded once into ``.store/cache`` and checked against its key (unless its
        key is random: an adopted upload)."""
        cached = self._cache / key
        if KEY.fullmatch(key) and cached.is_file():
            os.utime(cached)  # in use: sweep() keeps it
            return cached
        object_key = self._object(key)
        head = self._head(key)  # missing media is said as such, a missing bucket as that
        if head is None:
            raise MediaNotFound(self.where, f"no media with key {key[:80]!r}")
        random = head.get("Metadata", {}).get("keyed") == "random"
        with _failing(self._fail_locally(f"cannot download {key}")):
            self._tmp.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self._tmp, prefix="get-", suffix=".tmp")
            os.close(fd)
            tmp = Path(name)
            try:
                self._call(f"cannot download {key}", self.client.download_file, self.bucket, object_key, name,
                           Config=self._transfer, missing=key)
                with tmp.open("rb") as got:
                    if not random and _sha256(got) != key[:64]:
                        raise MediaStoreError(self.where, f"{key}: the stored bytes do not match their key (changed "
                                              "outside this tool); put the file again")
                self._cache.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, cached)
            finally:
                tmp.unlink(missing_ok=True)
        return cached

    def exists(self, key: str) -> bool:
        return bool(KEY.fullmatch(key)) and self._head(key) is not None

    def stat(self, key: str) -> StoredMedia:
        head = self._head(key) if KEY.fullmatch(key) else None
        if head is None:
            raise MediaNotFound(self.where, f"no media with key {key[:80]!r}")
        name = head.get("Metadata", {}).get("name")
        return StoredMedia(key, head["ContentLength"], head["LastModified"].timestamp(),
                           unquote(name) if name else None)

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False
        self._call(f"cannot delete {key}", self.client.delete_object, Bucket=self.bucket, Key=self._object(key))
        (self._cache / key).unlink(missing_ok=True)
        return True

    def list(self) -> list[StoredMedia]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        found = []
        for page in self._call("cannot list it", lambda: list(pages)):
            for item in page.get("Contents", []):
                key = item["Key"][len(start):]
                if KEY.fullmatch(key):
                    found.append(StoredMedia(key, item["Size"], item["LastModified"].timestamp()))
        return found

    def sweep(self, older_than_s: float = STALE_S, *, now: float | None = None) -> int:
        """Abort unfinished uploads under the prefix, and remove local copies unused, and temp files left, for
        longer than ``older_than_s``."""
        cutoff = (time.time() if now is None else now) - older_than_s
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=start)
        stale = [u for page in self._call("cannot sweep it", lambda: list(pages)) for u in page.get("Uploads", [])
                 if u["Initiated"].timestamp() < cutoff]
        for upload in stale:
            self._call("cannot sweep it", self.client.abort_multipart_upload, Bucket=self.bucket,
                       Key=upload["Key"], UploadId=upload["UploadId"])
        with _failing(self._fail_locally("cannot sweep its local copies")):
            local = [path for path, info in (*_files(self._cache), *_files(self._tmp)) if info.st_mtime < cutoff]
            for path in local:
                path.unlink(missing_ok=True)
        return len(stale) + len(local)

    def _upload(self, path: Path, key: str, name: str, *, random: bool = False) -> None:
        shown = display_name(name)
        extra = {"Metadata": {"name": quote(shown, safe=""), **({"keyed": "random"} if random else {})},
                 "ContentType": mimetypes.guess_type(shown)[0] or "application/octet-stream"}
        self._call(f"cannot store {shown!r}", self.client.upload_file, str(path), self.bucket, self._object(key),
                   ExtraArgs=extra, Config=self._transfer)

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._object(key))  # type: ignore[no-any-return]
        except Exception as exc:
            if _code(exc) not in _NOT_FOUND:
                raise _s3_error(self.where, f"cannot read {key}", exc) from None
        try:  # a HEAD says 404 for a missing bucket too: ask the bucket, so that one is not taken for no media
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            if _code(exc) in _NOT_FOUND:
                raise MediaStoreError(self.where, f"there is no bucket {self.bucket!r} ({describe(exc)}); "
                                      f"{_ADVICE['NoSuchBucket']}") from None
            raise _s3_error(self.where, f"cannot read {key}", exc) from None
        return None

    def _object(self, key: str) -> str:
        if not KEY.fullmatch(key):
            raise MediaNotFound(self.where, f"no media with key {key[:80]!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, action: str, method: Callable[..., Any], *args: Any, missing: str | None = None,
              **kwargs: Any) -> Any:
        """``method(*args, **kwargs)``; any failure as a MediaStoreError (MediaNotFound for a 404 when the call
        was for the media ``missing``)."""
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # botocore and s3transfer raise many unrelated classes
            if missing is not None and _code(exc) in _NOT_FOUND:
                raise MediaNotFound(self.where, f"no media with key {missing[:80]!r}") from None
            raise _s3_error(self.where, action, exc) from None

    def _fail_locally(self, action: str) -> Callable[[OSError], MediaStoreError]:
        return lambda exc: MediaStoreError(self.where, f"{action}: {os_reason(exc)} (in {self._tmp.parent}, "
                                           "MEDIA_DIR's local copies)")


class _FileReader(io.FileIO):
    size: int


class _S3Reader(io.RawIOBase):
    """Byte ranges of one object: a ranged GET from the position, kept open while reads follow on; a seek starts a
    new one. A dropped connection is a MediaStoreUnavailable; the reader may seek back and read on."""

    def __init__(self, store: S3Store, object_key: str, size: int) -> None:
        super().__init__()
        self.size, self._store, self._key = size, store, object_key
        self._pos, self._body = 0, None  # type: tuple[int, Any]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence] + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target != self._pos:
            self._drop()
        self._pos = target
        return target

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want, done = min(len(view), self.size - self._pos), 0
        while done < want:
            try:
                if self._body is None:
                    self._body = self._store.client.get_object(Bucket=self._store.bucket, Key=self._key,
                                                               Range=f"bytes={self._pos}-")["Body"]
                chunk = self._body.read(want - done)
            except Exception as exc:  # botocore raises many unrelated classes
                self._drop()
                raise _s3_error(self._store.where, f"cannot read {self._key} at byte {self._pos}", exc) from None
            if not chunk:
                self._drop()
                raise MediaStoreUnavailable(self._store.where, f"{self._key} ended at byte {self._pos} of {self.size}")
            view[done:done + len(chunk)] = chunk
            done, self._pos = done + len(chunk), self._pos + len(chunk)
        return done

    def close(self) -> None:
        self._drop()
        super().close()

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


@contextmanager
def _failing(fail: Callable[[OSError], MediaStoreError]) -> Iterator[None]:
    """An OSError inside the block (the store's own disk) becomes ``fail(exc)``, a MediaStoreError naming it."""
    try:
        yield
    except OSError as exc:
        raise fail(exc) from None


@contextmanager
def _source(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """The local file to put, opened; failing to open or read it is a FileProblem naming it (the store's own
    failures are MediaStoreErrors by then, never OSErrors)."""
    try:
        with open(path, "rb") as stream:
            yield stream
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({os_reason(exc)})") from None


def _spool(stream: BinaryIO, folder: Path, fail: Callable[[OSError], MediaStoreError]) -> tuple[Path, str]:
    """Copy ``stream`` into a new temp file in ``folder``, fsynced: (its path, the bytes' SHA-256 hex). Reading
    ``stream`` raises what it raises; writing the copy raises ``fail(exc)``; either way no temp file is left."""
    with _failing(fail):
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix="put-", suffix=".tmp")  # 0600
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(BLOCK_BYTES):
                digest.update(block)
                with _failing(fail):
                    out.write(block)
            with _failing(fail):
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest()


def _adopted_key(name: str, digest: str | None) -> str:
    """The key of an adopted upload: ``digest`` (a SHA-256 hex the caller computed) or 64 random hex digits."""
    if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"digest must be a SHA-256 in lower-case hex, got {digest[:80]!r}")
    return media_key(digest if digest is not None else secrets.token_hex(32), name)


def _meta(name: str, digest: str | None) -> dict[str, str]:
    return {"name": display_name(name), **({"keyed": "random"} if digest is None else {})}


def _sync(path: Path) -> None:
    """fsync a file about to be renamed into the store (a crash must not leave a named object with lost bytes);
    FileProblem naming it when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({os_reason(exc)})") from None
    try:
        if not S_ISREG(os.fstat(fd).st_mode):
            raise FileProblem(path, "is not a regular file")
        os.fsync(fd)
    except OSError as exc:
        raise FileProblem(path, f"cannot be read ({os_reason(exc)})") from None
    finally:
        os.close(fd)


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := stream.read(BLOCK_BYTES):
        digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The regular files in ``folder`` with their stat; none when it is missing; one removed meanwhile is left out."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                found.append((folder / entry.name, entry.stat(follow_symlinks=False)))
        except FileNotFoundError:
            continue
    return found


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)  # makes the rename itself durable
    finally:
        os.close(fd)


def _uri(bucket: str, prefix: str) -> str:
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _unwrap(exc: BaseException) -> BaseException:
    """What boto3's transfer wrappers hide: S3UploadFailedError keeps the ClientError as its context,
    RetriesExceededError (a download) keeps the last failure."""
    from boto3.exceptions import RetriesExceededError, S3UploadFailedError

    inner = (getattr(exc, "last_exception", None) if isinstance(exc, RetriesExceededError)
             else exc.__context__ if isinstance(exc, S3UploadFailedError) else None)
    return inner if isinstance(inner, BaseException) else exc


def _code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError (``NoSuchBucket``, ``404``), else the class name."""
    response = getattr(_unwrap(exc), "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    return type(_unwrap(exc)).__name__


def _s3_error(where: str, action: str, exc: BaseException) -> MediaStoreError:
    """One error for any botocore or s3transfer failure; transient for no answer, throttling or 5xx. botocore's
    messages name the operation, code and endpoint, never credentials."""
    from botocore.exceptions import ConnectionError as NoAnswer, HTTPClientError

    cause = _unwrap(exc)
    code = _code(cause)
    response = getattr(cause, "response", None)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if isinstance(response, dict) else 0
    transient = isinstance(cause, (NoAnswer, HTTPClientError)) or code in _THROTTLED or status >= 500
    advice = _ADVICE.get(code, "try again later" if transient else "")
    reason = f"{action} ({describe(cause)})" + (f"; {advice}" if advice else "")
    return (MediaStoreUnavailable if transient else MediaStoreError)(where, reason)
