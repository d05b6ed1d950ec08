"""FILE_UPLOAD media transfer: PUT each chunk of a planned upload, in order, streamed from disk.

Memory does not grow with file size: each PUT body is a :class:`ChunkReader`, a window onto the file that requests
streams in blocks. A failed chunk is retried on its own (Retry-After honoured, else backoff with jitter). A 416
means our idea of the progress is off; TikTok's ``Content-Range`` answer says how much it holds, and we carry on
from there (a chunk whose answer was lost is not sent twice).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Callable

import requests
from requests.adapters import HTTPAdapter

from tiktok.posting.chunks import Chunk, ChunkPlan
from tiktok.errors import TikTokError, parse_retry_after
from tiktok.retry import GaveUp, Runtime, call_with_retry

Progress = Callable[[int], None]
BLOCK_BYTES = 1024 * 1024  # socket write size for request bodies; larger blocks cost less Python per byte
PUT_TIMEOUT = (10.0, 300.0)  # seconds: connect, then a read must come within this (a 64 MB chunk at slow uplinks)
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
_RANGE = re.compile(r"bytes\s+0-(-?\d+)/(\d+)")


class UploadError(TikTokError):
    """The chunk upload cannot go on."""

    def __init__(self, message: str, *, next_chunk: int, transient: bool = False) -> None:
        super().__init__(message)
        self.next_chunk = next_chunk
        self.transient = transient


class ChunkReader(io.RawIOBase):
    """Bytes ``[offset, offset + length)`` of an open file, seekable within the window, reporting progress."""

    def __init__(self, fd: int, offset: int, length: int, on_progress: Progress | None = None,
                 buffer: bytearray | None = None) -> None:
        super().__init__()
        self._fd, self._offset, self._length = fd, offset, length
        self._pos = 0
        self._on_progress = on_progress
        self._buffer = buffer if buffer is not None else bytearray(BLOCK_BYTES)

    def __len__(self) -> int:
        return self._length  # requests sends len() - tell() as Content-Length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        new = min(max(base + pos, 0), self._length)
        self._report(new - self._pos)  # a rewind takes the bytes back off the progress bar
        self._pos = new
        return new

    def read(self, size: int = -1) -> memoryview:
        """Up to ``size`` bytes as a view of one reused buffer: one copy from the kernel and no allocation per
        block, so memory stays flat however large the file. The view is valid until the next read (the socket
        has sent it by then)."""
        limit = len(self._buffer) if size is None or size < 0 else min(size, len(self._buffer))
        want = min(limit, self._length - self._pos)
        if want <= 0:
            return memoryview(b"")
        view = memoryview(self._buffer)[:want]
        got = os.preadv(self._fd, [view], self._offset + self._pos)
        self._pos += got
        self._report(got)
        return view[:got]

    def readinto(self, buffer) -> int:  # type: ignore[override]
        want = min(len(buffer), self._length - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._offset + self._pos)
        n = len(data)
        buffer[:n] = data
        self._pos += n
        self._report(n)
        return n

    def rewind(self) -> None:
        self.seek(0)

    def _report(self, n: int) -> None:
        if n and self._on_progress is not None:
            self._on_progress(n)


class _LargeBlockAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):  # noqa: D401 - requests' hook
        kwargs["blocksize"] = BLOCK_BYTES
        super().init_poolmanager(*args, **kwargs)


def upload_session(base: requests.Session | None = None) -> requests.Session:
    """A session whose request bodies go out in 1 MiB writes (no retries of its own: we retry per chunk)."""
    session = base or requests.Session()
    adapter = _LargeBlockAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class ChunkAnswer:
    status: int
    received: int | None  # bytes TikTok says it holds, from the answer's Content-Range


def received_bytes(header: str | None) -> int | None:
    """Bytes held, from ``Content-Range: bytes 0-LAST/TOTAL`` (LAST is the last byte index held)."""
    match = _RANGE.search(header or "")
    return int(match.group(1)) + 1 if match else None


def send_chunks(session: requests.Session, upload_url: str, path: str | os.PathLike[str], plan: ChunkPlan,
                mime_type: str, *, start_chunk: int = 0, runtime: Runtime | None = None,
                on_progress: Progress | None = None, on_chunk: Callable[[int], None] | None = None) -> None:
    """PUT chunks ``start_chunk..`` of ``plan``; ``on_chunk(next_index)`` after each one TikTok accepted."""
    runtime = runtime or Runtime()
    buffer = bytearray(BLOCK_BYTES)  # every block of every chunk passes through this one buffer
    # The environment's proxy and CA settings, read once for the upload instead of before every chunk's PUT.
    settings = session.merge_environment_settings(upload_url, {}, None, None, None)
    trusting, session.trust_env = session.trust_env, False
    fd = os.open(path, os.O_RDONLY)
    try:
        index = start_chunk
        while index < plan.total_chunk_count:
            held = _send_one(session, upload_url, fd, plan, plan.chunk(index), mime_type, runtime, on_progress,
                             buffer, settings)
            index = _next_index(plan, held, index)
            if on_chunk is not None:
                on_chunk(index)
    finally:
        os.close(fd)
        session.trust_env = trusting


def _next_index(plan: ChunkPlan, held: int, index: int) -> int:
    """The chunk that starts at byte ``held``; TikTok holds whole chunks only."""
    if held >= plan.video_size:
        return plan.total_chunk_count
    for chunk in plan.chunks():
        if chunk.first_byte == held:
            return chunk.index
    raise UploadError(f"TikTok holds {held} bytes, which is not a chunk boundary of the declared plan",
                      next_chunk=index)


class _ChunkNotTaken(TikTokError):
    """One PUT that may simply be sent again (connection trouble, 416 at our own offset, 429, 5xx)."""

    transient = True

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


def _send_one(session: requests.Session, url: str, fd: int, plan: ChunkPlan, chunk: Chunk, mime_type: str,
              runtime: Runtime, on_progress: Progress | None, buffer: bytearray, settings: dict) -> int:
    """Send one chunk until TikTok accepts it; returns how many bytes TikTok then holds.

    A chunk PUT is idempotent (TikTok keys it by its byte range), so every transient failure may be retried."""
    headers = {"Content-Type": mime_type, "Content-Range": chunk.content_range(plan.video_size)}
    where = f"chunk {chunk.index + 1}/{plan.total_chunk_count}"

    def put_once() -> int:
        body = ChunkReader(fd, chunk.first_byte, chunk.length, on_progress, buffer)
        try:
            response = session.put(url, data=body, headers=headers, timeout=PUT_TIMEOUT,
                                   proxies=settings["proxies"], verify=settings["verify"], cert=settings["cert"])
        except requests.RequestException as exc:
            raise _ChunkNotTaken(f"connection failed ({type(exc).__name__})") from None
        answer = ChunkAnswer(response.status_code, received_bytes(response.headers.get("Content-Range")))
        if answer.status in (201, 206):
            return chunk.last_byte + 1 if answer.received is None else answer.received
        if answer.status == 416 and answer.received is not None and answer.received != chunk.first_byte:
            return answer.received  # TikTok already holds this chunk (an answer was lost), or is elsewhere
        if answer.status == 403:
            raise UploadError("the upload URL has expired (TikTok allows one hour); run again to start a new "
                              "upload", next_chunk=chunk.index)
        if answer.status not in RETRYABLE_STATUS and answer.status != 416:
            raise UploadError(f"TikTok refused {where} with HTTP {answer.status}", next_chunk=chunk.index)
        raise _ChunkNotTaken(f"HTTP {answer.status}", parse_retry_after(response.headers.get("Retry-After")))

    try:
        return call_with_retry(put_once, runtime, retryable=lambda exc: isinstance(exc, _ChunkNotTaken))
    except GaveUp as gave_up:
        if gave_up.wait_too_long is not None:
            raise UploadError(f"TikTok asked to wait {gave_up.wait_too_long:.0f} s", next_chunk=chunk.index,
                              transient=True) from None
        raise UploadError(f"{where} failed {gave_up.attempts} times (last: {gave_up.last})",
                          next_chunk=chunk.index, transient=True) from None
