"""``PUT /upload/video/?upload_id=..&upload_token=..``: the FILE_UPLOAD chunk host (reference 4.1, 4.2).

Checks in order: unknown upload or token -> 404; URL past its deadline (``config.upload_url_ttl`` on the emulator
clock) -> 403; Content-Type not video/mp4|quicktime|webm, missing or garbled Content-Length / Content-Range, or a
range whose length differs from Content-Length -> 400; upload already complete, first byte != bytes received so
far, total != declared video_size, a non-final chunk that is not exactly chunk_size long, or a final chunk that does
not end at video_size - 1 -> 416. An accepted chunk answers 206, the one completing the file 201, then processing
starts (``processing.py``).

Choices where the docs are silent (UNCONFIRMED upstream):
- Bodies are empty; the reason for a refusal goes in an ``X-Emulator-Reason`` header.
- Every answer except 404 carries ``Content-Range: bytes 0-<index of the last byte received>/<video_size>``; before
  any byte arrived that range cannot be written, so it reads ``bytes */<video_size>`` (RFC 9110's form).
- A refused request's body is read and discarded before answering, so the client sees the status, not a reset.
- A body cut short (the client dropped) is discarded whole: bytes received stays at the last accepted chunk, the
  file is truncated back and the running sha256 is untouched, so the same chunk can be sent again.
- A second PUT while one is in flight waits up to 5 s for it, then gets 416 (chunks are sequential).
- A body that stops arriving for ``STALLED_BODY_S`` (its client hung, or its network went) is dropped as a body cut
  short, as any HTTP server's body read timeout does: a hung client does not hold the upload for ever.

The body is streamed to disk in 1 MiB blocks while hashing; memory does not grow with chunk or file size. Whole
zero blocks are skipped with a seek, so sparse test files stay sparse on the emulator's disk too.
"""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, Response, request
from werkzeug.exceptions import ClientDisconnected

from . import ids
from .envelope import current_state
from .media_checks import check_video
from .posts import Post, UploadSession
from .processing import transfer_finished

bp = Blueprint("upload_host", __name__)

UPLOAD_PATH = "/upload/video/"
VIDEO_MIME_TYPES = ("video/mp4", "video/quicktime", "video/webm")  # reference 4.2
BLOCK_BYTES = 1 << 20  # read/hash/write unit: 1 MiB keeps memory flat whatever the chunk size
PUT_LOCK_WAIT_S = 5.0  # how long a PUT waits for an in-flight PUT of the same upload
STALLED_BODY_S = 20.0  # a chunk's body silent this long is dropped (nginx's client_body_timeout is 60 s)
_ZERO_BLOCK = bytes(BLOCK_BYTES)
_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_DIGITS_RE = re.compile(r"^\d+$")


class ChunkRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def progress_range(received: int, total: int) -> str:
    """The progress header value: inclusive index of the last byte received, or ``*`` before the first one."""
    return f"bytes 0-{received - 1}/{total}" if received else f"bytes */{total}"


def parse_chunk_headers(content_type: str, content_length: str | None, content_range: str | None
                        ) -> tuple[int, int, int]:
    """``(first, last, total)`` from a PUT's headers; ChunkRefused(400) when missing, garbled or inconsistent."""
    if content_type not in VIDEO_MIME_TYPES:
        raise ChunkRefused(400, f"Content-Type must be one of {', '.join(VIDEO_MIME_TYPES)}")
    if content_length is None or not _DIGITS_RE.match(content_length):
        raise ChunkRefused(400, "Content-Length is missing or not a number")
    match = _RANGE_RE.match(content_range or "")
    if not match:
        raise ChunkRefused(400, "Content-Range must read 'bytes FIRST-LAST/TOTAL'")
    first, last, total = (int(part) for part in match.groups())
    if last < first or last >= total:
        raise ChunkRefused(400, "Content-Range is not a range inside the file")
    if last - first + 1 != int(content_length):
        raise ChunkRefused(400, "Content-Length differs from the length of Content-Range (the end is inclusive)")
    return first, last, total


def check_progress(post: Post, first: int, last: int, total: int) -> None:
    """ChunkRefused(416) unless the chunk is exactly the next one of the declared plan."""
    plan = post.plan or {}
    size, chunk_size, count = plan["video_size"], plan["chunk_size"], plan["total_chunk_count"]
    if post.bytes_received >= size:
        raise ChunkRefused(416, "the upload is already complete")
    if total != size:
        raise ChunkRefused(416, f"total {total} differs from the declared video_size")
    if first != post.bytes_received:
        raise ChunkRefused(416, f"first byte {first} is not the next expected byte {post.bytes_received}")
    final_start = (count - 1) * chunk_size
    if first < final_start and last - first + 1 != chunk_size:
        raise ChunkRefused(416, "a non-final chunk must be exactly chunk_size bytes")
    if first >= final_start and last != size - 1:
        raise ChunkRefused(416, "the final chunk must end at video_size - 1")


def _answer(status: int, session: UploadSession | None, post: Post | None, reason: str = "") -> Response:
    response = Response(b"", status=status)
    if post is not None and post.plan:
        response.headers["Content-Range"] = progress_range(post.bytes_received, post.plan["video_size"])
    if reason:
        response.headers["X-Emulator-Reason"] = reason
    return response


def drain_body() -> None:
    """Read and discard the request body so the client can read our answer instead of hitting a reset."""
    buffer = memoryview(bytearray(BLOCK_BYTES))
    try:
        while request.stream.readinto(buffer):
            pass
    except (ClientDisconnected, OSError):
        pass


def _find(state) -> tuple[UploadSession | None, Post | None]:
    upload_id, token = request.args.get("upload_id", ""), request.args.get("upload_token", "")
    with state.lock:
        session = state.posting.uploads.get(upload_id)
        if session is None or not hmac.compare_digest(session.token_sha256, ids.fingerprint(token)):
            return None, None
        return session, state.posts.get(session.publish_id)


@bp.put(UPLOAD_PATH)
def put_chunk() -> Response:
    state = current_state()
    session, post = _find(state)
    if session is None or post is None:
        drain_body()
        return _answer(404, None, None, "no upload task for this URL")
    if state.now() >= session.expires_at:
        drain_body()
        return _answer(403, session, post, "the upload URL expired")
    try:
        first, last, total = parse_chunk_headers(request.mimetype, request.headers.get("Content-Length"),
                                                 request.headers.get("Content-Range"))
    except ChunkRefused as refused:
        drain_body()
        return _answer(refused.status, session, post, refused.reason)
    if not session.put_lock.acquire(timeout=PUT_LOCK_WAIT_S):
        drain_body()
        return _answer(416, session, post, "another PUT of this upload is in flight")
    try:
        return _accept_chunk(state, session, post, first, last, total)
    finally:
        session.put_lock.release()


def _accept_chunk(state, session: UploadSession, post: Post, first: int, last: int, total: int) -> Response:
    try:
        with state.lock:
            check_progress(post, first, last, total)
    except ChunkRefused as refused:
        drain_body()
        return _answer(refused.status, session, post, refused.reason)
    length = last - first + 1
    hasher = session.hasher.copy()  # committed only if the whole chunk arrives
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        sock.settimeout(STALLED_BODY_S)  # a stalled read raises; receive_into counts it as the body cut short
    with open(session.media_path, "r+b") as handle:
        handle.seek(first)
        received = receive_into(request.stream, handle, length, hasher)
        handle.truncate(first + (length if received == length else 0))
    if sock is not None and received == length:
        sock.settimeout(None)
    if received != length:
        with state.lock:
            post.partial_chunks_discarded += 1
        return _answer(400, session, post, "the body ended before Content-Length bytes")  # client is gone
    with state.lock:
        session.hasher = hasher
        post.bytes_received = last + 1
        complete = post.bytes_received == total
        if complete:
            post.sha256 = hasher.hexdigest()
    if not complete:
        return _answer(206, session, post)
    _start_processing(state, post, session.media_path)
    return _answer(201, session, post)


def receive_into(stream, handle, length: int, hasher) -> int:
    """Copy ``length`` body bytes from ``stream`` to ``handle`` in blocks, hashing them; returns bytes copied."""
    buffer = bytearray(BLOCK_BYTES)
    view = memoryview(buffer)
    copied = 0
    while copied < length:
        try:
            count = stream.readinto(view[:min(BLOCK_BYTES, length - copied)])
        except (ClientDisconnected, OSError):
            break
        if not count:
            break
        hasher.update(view[:count])
        if count == BLOCK_BYTES and buffer == _ZERO_BLOCK:
            handle.seek(count, 1)  # leave a hole: same bytes, no disk blocks
        else:
            handle.write(view[:count])
        copied += count
    return copied


def _start_processing(state, post: Post, media_path: str) -> None:
    """Check the complete file (outside the state lock: probing reads the disk) and start the processing polls."""
    limit = state.config.posting_settings(post.open_id).max_video_post_duration_sec
    verdict = check_video(media_path, limit)
    with state.lock:
        post.duration_s, post.width, post.height = verdict.duration_s, verdict.width, verdict.height
        transfer_finished(state, post, verdict.fail_reason)
