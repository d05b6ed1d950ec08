"""atomic.held_lock: the one lock helper both stores use; its failures become the caller's typed error."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tiktok.atomic import held_lock
from tiktok.errors import TokenFileError


def _hold(lock_path: str, ready, done) -> None:
    with held_lock(lock_path, 5, RuntimeError):
        ready.set()
        done.wait(10)


@pytest.mark.slow
def test_a_lock_held_by_another_process_times_out_into_the_callers_error(tmp_path: Path) -> None:
    lock_path = tmp_path / "user_tokens.json.lock"
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(lock_path), ready, done))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(TokenFileError, match=r"could not lock .* within 0 s \(another process is holding it\)"):
            with held_lock(lock_path, 0.2, lambda reason: TokenFileError(tmp_path / "user_tokens.json", reason)):
                pass
    finally:
        done.set()
        holder.join(10)
    with held_lock(lock_path, 1, RuntimeError):  # released: free again
        pass


def test_an_unusable_lock_file_names_the_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(TokenFileError, match=r"cannot be locked: .*not-a-folder/t.lock: \w+"):
        with held_lock(blocker / "t.lock", 1, lambda reason: TokenFileError(tmp_path / "t", reason)):
            pass
