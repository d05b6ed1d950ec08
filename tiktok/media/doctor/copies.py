"""The fixed copies a posting run sends: ``upload_to_tiktok.py --fix-media`` (and ``python -m tiktok post``).

:class:`FixedCopies` is the posting run's media hook (``Publisher.media_doctor``; tiktok.posting cannot import the
doctor, the import rules, so the command hands it down). For each video entry's local file it gives the file to
send and, once per file and run, a line saying what was done:

- A video TikTok takes is sent as it is.
- One TikTok would refuse for a reason a re-encode fixes (:func:`~tiktok.media.doctor.plan.plan_video`: codec,
  container, frame rate, picture size, file size) is fixed by :func:`~tiktok.media.doctor.fix_video` into
  ``NAME.tiktok.mp4`` beside it, the original kept. Only once: a later run, or another post of the same file, sends
  that copy while it is newer than the original and passes TikTok's checks (an original changed since, by its
  modification time, is fixed again).
- Without ``fix`` (no ``--fix-media``) such a video is refused with its problems and a word on ``--fix-media``.
- One no re-encode fixes (too short, too long, not a video) goes on to the publisher, which refuses it with every
  reason, as without the doctor.

A post keeps its identity: the store's entry and its key (:func:`tiktok.store.records.entry_key`) name the original
file, and only the bytes sent are the copy's. So fixing a file never makes a post new, and a post made once is never
made again because its file was fixed. The copy is written to a temp file and renamed into place (the doctor's
own rule), so a run killed part way never leaves a half-written copy to be sent later.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

from tiktok.errors import FileProblem
from tiktok.media.doctor import fix_video, fixed_path
from tiktok.media.doctor.plan import Change, plan_video
from tiktok.posting.media import MediaError, MediaInfo, check_video, probe

FIX_OPTION = "--fix-media"


class FixedCopies:
    """``copies(path) -> (file to send, line or None)``: the media hook of one posting run (see the module
    docstring). Safe for the run's worker threads: one file is fixed by one thread while the others wait for it."""

    def __init__(self, *, fix: bool) -> None:
        self.fix = fix
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._known: dict[Path, tuple[tuple[int, int], Path]] = {}  # source -> ((size, mtime_ns), file sent)

    def __call__(self, path: Path) -> tuple[Path, str | None]:
        """The file to send for ``path``; FileProblem when it must not be sent (see the module docstring)."""
        path = Path(path)
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            stamp = _stamp(path)
            known = self._known.get(path)
            if known is not None and stamp is not None and known[0] == stamp:
                return known[1], None  # said once in this run
            sent, line = self._decide(path)
            if stamp is not None:
                self._known[path] = (stamp, sent)
            return sent, line

    def _decide(self, path: Path) -> tuple[Path, str | None]:
        try:
            info = probe(path)
        except MediaError:
            return path, None  # the publisher says why it cannot be read
        problems = check_video(replace(info, path=""))
        plan = plan_video(info) if problems else None
        if plan is None or not plan.needed:
            return path, None  # taken as it is, or nothing a re-encode fixes: the publisher refuses it with why
        target = fixed_path(path, ".mp4")
        if not self.fix:
            raise FileProblem(path, f"{'; '.join(problems)}. Re-encoding fixes this: run again with {FIX_OPTION} "
                                    f"to send a fixed copy ({target.name}, written beside it; the original is kept)")
        if is_fresh(target, path):
            return target, f"{path.name}: sending {target.name}, fixed before: {changes_text(plan.changes)}"
        fixed = fix_video(path)  # MediaNotFixable or FileProblem (a folder it cannot write to) refuse the entry
        if fixed.output is None:  # the file changed since it was probed and needs nothing now
            return path, None
        return fixed.output, f"{path.name} fixed into {fixed.output.name}: {changes_text(fixed.changes)}"


def is_fresh(copy: Path, source: Path) -> bool:
    """Whether ``copy`` is a fixed copy of ``source`` to send again: made after ``source`` last changed, and taken
    by TikTok's checks."""
    try:
        if copy.stat().st_mtime_ns < source.stat().st_mtime_ns:
            return False
        info: MediaInfo = probe(copy)
    except (OSError, MediaError):
        return False
    return not check_video(info)


def changes_text(changes: tuple[Change, ...]) -> str:
    """Every change on one line, those TikTok's rules required first: ``frame rate 60.01 fps -> 30 fps: TikTok
    takes 23-60 fps; container mov -> mp4: ...``."""
    return "; ".join(str(change) for change in sorted(changes, key=lambda change: not change.required))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns
