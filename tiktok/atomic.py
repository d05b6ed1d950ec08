"""Atomic file replacement: after a crash at any moment the file holds the old content or the new, never a mix."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o600) -> None:
    """Write to a temp file in the same folder, fsync, chmod ``mode``, ``os.replace``, then fsync the folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode != 0o600:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # makes the rename itself durable
    finally:
        os.close(dir_fd)


def remove_stale_temps(path: str | os.PathLike[str]) -> None:
    """Delete temp files a killed writer left beside ``path``; call only while holding the file's lock."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


class Reservation:
    """A temp file beside ``path`` already holding ``size`` bytes, so the later :meth:`commit` needs no new space.

    Made before an action that cannot be undone (a refresh that rotates a token at TikTok): if the disk is full or
    read-only, :func:`reserve` fails first and nothing was attempted. :meth:`commit` overwrites the reserved bytes
    from offset 0, truncates to the real length, fsyncs, ``os.replace``\\ s ``path`` and fsyncs the folder; content
    longer than the reservation still works while the disk has room. (Copy-on-write filesystems such as btrfs or
    ZFS may need new blocks even for an overwrite; there the reservation lowers the risk but cannot remove it.)
    """

    def __init__(self, path: Path, tmp: str, fd: int, size: int) -> None:
        self.path, self.tmp, self.size = path, tmp, size
        self._fd: int | None = fd

    def commit(self, data: bytes | str, *, mode: int = 0o600) -> None:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        fd = self._take()
        try:
            try:
                _write_all(fd, payload, offset=0)
                os.ftruncate(fd, len(payload))
                os.fsync(fd)
            finally:
                os.close(fd)
            if mode != 0o600:
                os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.path)
        except BaseException:
            Path(self.tmp).unlink(missing_ok=True)
            raise
        _fsync_folder(self.path.parent)

    def discard(self) -> None:
        """Remove the reserved temp file (nothing was written); safe to call after commit."""
        if self._fd is not None:
            os.close(self._take())
            Path(self.tmp).unlink(missing_ok=True)

    def _take(self) -> int:
        if self._fd is None:
            raise RuntimeError("this reservation was already committed or discarded")
        fd, self._fd = self._fd, None
        return fd

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def reserve(path: str | os.PathLike[str], size: int) -> Reservation:
    """Create the temp file for a later write of ``path`` and fill it with ``size`` bytes, then fsync.

    Raises the OSError (ENOSPC, EROFS, EACCES, EDQUOT, ...) when the space cannot be had; leaves nothing behind.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        _fill(fd, size)
        os.fsync(fd)  # delayed allocation: make the filesystem commit the blocks now, not at the later write
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return Reservation(path, tmp, fd, size)


def _fill(fd: int, size: int) -> None:
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
                raise
    _write_all(fd, b" " * size, offset=0)  # real bytes too: some filesystems ignore or emulate fallocate


def _write_all(fd: int, data: bytes, *, offset: int) -> None:
    os.lseek(fd, offset, os.SEEK_SET)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_folder(folder: Path) -> None:
    dir_fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def os_reason(exc: OSError) -> str:
    """``No space left on device`` and the like; never the exception's repr (no paths or data doubled)."""
    return exc.strerror or type(exc).__name__


@contextmanager
def held_lock(lock_path: str | os.PathLike[str], timeout: float,
              fail: Callable[[str], Exception]) -> Iterator[None]:
    """Hold the file lock at ``lock_path``. Waiting longer than ``timeout`` seconds, or a lock file that cannot be
    made, raises ``fail(reason)``: each store turns the reason into its own typed error naming its file."""
    lock = FileLock(str(lock_path), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise fail(f"could not lock {lock_path} within {timeout:.0f} s (another process is holding it)") from None
    except OSError as exc:
        raise fail(f"cannot be locked: {lock_path}: {os_reason(exc)}") from None
    try:
        yield
    finally:
        lock.release()
