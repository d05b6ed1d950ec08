"""The composer's "Fix it" (``POST /posts/new/media/<media_id>/fix?open_id=ID``): the media doctor on an upload.

An uploaded video TikTok would refuse for a reason a re-encode fixes (the upload's JSON says ``"fixable": true``:
:func:`tiktok.posting.composition.reencode_fixes`) is re-encoded by :func:`tiktok.media.doctor.fix_video` to H.264
+ AAC in MP4 within TikTok's limits, into a new upload in MEDIA_DIR named as uploads are
(:func:`~tiktok.posting.composition.media_name`). The upload itself is kept as it was. The answer is the JSON an
upload answers (its ``media_id`` the fixed file's, so the page swaps it in), with ``fixed``: the upload it came
from, each change and why, and the seconds it took.

- The request carries the page's CSRF token in ``X-CSRF-Token``, as the uploads do, and the account (``open_id``):
  its creator_info gives the longest video the creator may post, which no re-encode changes.
- The fixed file's name comes from the upload's own (a digest of it, as unguessable as the upload's random name):
  pressing "Fix it" again, or after the page was closed mid-way, answers the finished copy without a second
  re-encode.
- A re-encode takes about as long as the video plays, or longer for a large picture, so the request stays open
  that long (waitress never closes a connection whose request is running); fix.js shows the page as busy meanwhile.
  One re-encode runs at a time in the app (:data:`FIXES_AT_ONCE`): another is answered 503 at once, saying so, so a
  few fixes cannot take every server thread. The doctor streams packet by packet: memory stays flat at any length.
- Every answer, refusals and surprises included, is JSON with a plain sentence in ``error``: 400 (token, account),
  404 (no such upload), 409 (nothing to fix), 422 (nothing a re-encode fixes: its length, its shape), 503 (busy),
  507 (MEDIA_DIR's disk is full), 500 (anything else; the details go to the log only).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote

from flask import Blueprint, Flask, current_app, jsonify, request, session, url_for

from tiktok.errors import FileProblem
from tiktok.media.doctor import MediaNotFixable, fix_video
from tiktok.media.doctor.plan import Change, VideoPlan, plan_video
from tiktok.posting.composition import is_media_id, media_name, media_summary
from tiktok.posting.media import MediaError, MediaInfo, probe
from tiktok.web.compose import connected_accounts, creator_for, media_folder, original_name
from tiktok.web.json_errors import answer_in_json
from tiktok.web.uploads import upload_finished

log = logging.getLogger(__name__)
bp = Blueprint("fixes", __name__, url_prefix="/posts/new/media")

CSRF_HEADER = "X-CSRF-Token"  # as the uploads (tiktok/web/uploads.py)
FIXES_AT_ONCE = 1  # re-encodes running in the app at once: x264 already uses every core for one
BUSY_RETRY_S = 30  # the Retry-After of a busy answer
WORK_PREFIX = ".fix-"  # a re-encode's private folder in MEDIA_DIR (hidden, never a media id); removed when done
EXPIRED = "The page expired or came from another site; reload it and choose the file again."
TURNS_KEY = "tiktok_fixes"


class FixRefused(Exception):
    """A fix that cannot be made; ``status`` is the HTTP answer. Never leaves this module."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def register(app: Flask) -> None:
    """The fix route, and the app's turns to re-encode (:data:`FIXES_AT_ONCE`)."""
    app.extensions[TURNS_KEY] = threading.BoundedSemaphore(FIXES_AT_ONCE)
    app.register_blueprint(bp)


@bp.post("/<media_id>/fix")
def fix(media_id: str):
    """Re-encode the upload ``media_id`` into a new upload TikTok takes; the upload's JSON for the new file."""
    check_token()
    open_id = request.args.get("open_id", "")
    if open_id not in {a.open_id for a in connected_accounts()}:
        raise FixRefused(f'open_id: no connected account has open_id "{open_id}".', 400)
    source = upload_path(media_id)
    creator, refusal = creator_for(open_id)
    if creator is None:
        raise FixRefused(refusal.message if refusal else "TikTok did not answer; try again in a minute.",
                         refusal.status if refusal else 503)
    plan = fix_plan(source, creator.max_duration_s)
    name = fixed_name(media_id)
    target = source.with_name(name)
    started = time.monotonic()
    shown = original_name(unquote(request.headers.get("X-File-Name", ""))) or name
    if not target.is_file():
        with one_at_a_time():
            if not target.is_file():  # made by a request that held the turn before this one
                upload_finished(reencode(source, target, creator.max_duration_s), name, shown,
                                creator.max_duration_s)
    info = probe(target)
    changes = [fix_line(c) for c in sorted(plan.changes, key=lambda c: not c.required)]  # TikTok's reasons first
    return jsonify({**media_summary(info, creator.max_duration_s), "media_id": name, "original_name": shown,
                    "preview_url": url_for("compose.media", name=name),
                    "fixed": {"from": media_id, "changes": changes, "seconds": round(time.monotonic() - started, 1)}})


def check_token() -> None:
    """The page's CSRF token in the header; FixRefused 400 otherwise (another site cannot read it)."""
    sent, expected = request.headers.get(CSRF_HEADER, ""), session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise FixRefused(EXPIRED, 400)


def upload_path(media_id: str) -> Path:
    """The kept upload ``media_id`` names in MEDIA_DIR; FixRefused 404 when there is none."""
    path = media_folder() / media_id if is_media_id(media_id) else None
    if path is None or not path.is_file():
        raise FixRefused("There is no such upload (it may have been removed): choose the file again.", 404)
    return path


def fix_plan(source: Path, max_duration_s: int | None) -> VideoPlan:
    """What the re-encode changes; FixRefused when nothing needs fixing (409) or no re-encode fixes it (422)."""
    try:
        plan = plan_video(probe(source), max_duration_s=max_duration_s)
    except MediaError as exc:
        raise FixRefused(f"This upload cannot be read as a video ({exc.reason}); choose another file.", 422) from None
    if not plan.fixable:
        raise FixRefused(f"This video cannot be fixed by re-encoding: {'; '.join(plan.unfixable)}.", 422)
    if not plan.needed:
        raise FixRefused("This video already meets TikTok's requirements: there is nothing to fix.", 409)
    return plan


def fixed_name(media_id: str) -> str:
    """The fixed copy's media id: a digest of the upload's own (so a second press finds it), the same original
    name, ``.mp4``."""
    token = hashlib.sha256(f"fixed:{media_id}".encode()).hexdigest()[:32]
    stem = Path(media_id).stem
    return media_name(token, stem.split("-", 1)[1] if "-" in stem else "", "mp4")


@contextmanager
def one_at_a_time() -> Iterator[None]:
    """The app's turn to re-encode; FixRefused 503 at once when another fix holds it."""
    turns = current_app.extensions[TURNS_KEY]
    if not turns.acquire(blocking=False):
        raise FixRefused("Another video is being fixed right now, and the app fixes one at a time; try again once "
                         "it is done.", 503)
    try:
        yield
    finally:
        turns.release()


def reencode(source: Path, target: Path, max_duration_s: int | None) -> MediaInfo:
    """Re-encode ``source`` into ``target`` through a private folder beside it, so ``target`` appears whole or not
    at all; the source is left as it was."""
    log.info("fixing upload %s into %s", source.name, target.name)
    try:
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=WORK_PREFIX))
    except OSError as exc:
        raise write_refusal(exc.strerror or str(exc), target.parent) from None
    try:
        fixed = fix_video(source, out_dir=work, max_duration_s=max_duration_s)
        if fixed.output is None:  # cannot happen after fix_plan, unless the upload changed under it
            raise FixRefused("This video already meets TikTok's requirements: there is nothing to fix.", 409)
        os.replace(fixed.output, target)
    except MediaNotFixable as exc:
        raise FixRefused(f"This video cannot be fixed by re-encoding: {exc.reason}.", 422) from None
    except FileProblem as exc:  # the doctor's words for a write that failed
        raise write_refusal(exc.reason, target.parent) from None
    except OSError as exc:
        raise write_refusal(exc.strerror or str(exc), target.parent) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info = probe(target)
    log.info("fixed upload %s into %s (%d bytes)", source.name, target.name, info.size_bytes)
    return info


def write_refusal(reason: str, folder: Path) -> FixRefused:
    """A failed write as a plain sentence: 507 for a full disk, else 500 with the system's words."""
    if os.strerror(errno.ENOSPC) in reason or os.strerror(errno.EDQUOT) in reason:
        return FixRefused(f"The disk holding MEDIA_DIR ({folder}) is full, so the fixed video could not be "
                          "written; your upload is kept. Free some space there, then press Fix it again.", 507)
    return FixRefused(f"The fixed video could not be written to MEDIA_DIR ({folder}): {reason}. Your upload is "
                      "kept; check the folder, then press Fix it again.", 500)


def fix_line(change: Change) -> str:
    """One change as the page lists it: ``frame rate 60.01 fps → 30 fps: TikTok takes 23-60 fps``."""
    return f"{change.what} {change.before} → {change.after}: {change.why}"


# -- every answer is JSON -----------------------------------------------------------------------------------------

@bp.errorhandler(FixRefused)
def refused(exc: FixRefused):
    headers = {"Retry-After": str(BUSY_RETRY_S)} if exc.status == 503 else {}
    return jsonify({"error": str(exc)}), exc.status, headers


answer_in_json(bp, "the video was not fixed")
