"""The composer (``/posts/new``): write one post for one connected account and add it to the post store.

GET asks TikTok for the account's creator_info (nickname, privacy options, the interactions it allows, its longest
video) and shows the form; when TikTok says the creator cannot post now, or the account needs linking again, the
page says why and shows no form. A video goes up on its own first: compose.js POSTs the raw file to
``/posts/new/upload``, which streams it into MEDIA_DIR in blocks under an unguessable name, probes it and answers
with the checks. The form's POST asks creator_info afresh, applies every rule again
(:func:`tiktok.posting.composition.compose`) and adds the post to the store (never to a manifest file; the CLI, cron
and the workers post from the same store); "Post now" then starts it (:func:`tiktok.web.queue_runner.start_post`:
the background runner on one machine, the workers with DATABASE_URL). A POST that breaks a rule
gets the form back with a 400 and the store is not touched. The post keeps the file's original name for the page.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session,
                   send_from_directory, url_for)
from markupsafe import Markup
from werkzeug.exceptions import ClientDisconnected

from tiktok.auth.access import call_with_token
from tiktok.errors import (AccountNotFound, AuthError, ChangeRefused, PostingRefused, RelinkNeeded, ScopeError,
                           StoreError, TikTokError)
from tiktok.posting.client import CreatorInfo, PostingClient
from tiktok.posting.composition import (PRIVACY_LABELS, FieldError, compose, disclosure_label, is_media_id,
                                        media_name, media_summary, ticked)
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.media import SUPPORTED_CONTAINERS, MediaError, MediaInfo, probe
from tiktok.posting.manifest import validate_manifest
from tiktok.store.records import entry_key
from tiktok.web import queue_runner
from tiktok.web.views import check_csrf, page_error, services

log = logging.getLogger(__name__)
bp = Blueprint("compose", __name__, url_prefix="/posts")

BLOCK_BYTES = 1024 * 1024  # an upload is written in blocks of this size; memory use does not grow with the file
CSRF_HEADER = "X-CSRF-Token"
# What TikTok's creator_info refusals mean for a person (reference 3.1); TikTok's own code follows in the message.
REFUSALS = {
    "spam_risk_too_many_posts": "This account has reached TikTok's daily limit of posts made through apps. Try "
                                "again tomorrow, or post from the TikTok app.",
    "spam_risk_user_banned_from_posting": "TikTok does not allow this account to post at the moment.",
    "reached_active_user_cap": "This app has reached TikTok's daily limit of accounts posting through it. Try again "
                               "tomorrow.",
}


class UploadRefused(Exception):
    """An upload that cannot be kept; ``status`` is the HTTP answer. Never leaves this module."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Refusal:
    """Why there is no form for an account: TikTok refused, the account needs linking again, or no answer."""

    kind: str  # refused, relink or unavailable
    message: str
    status: int


# -- pages -------------------------------------------------------------------------------------------------------

@bp.get("/new")
def new():
    accounts = connected_accounts()
    open_id = request.args.get("open_id") or (accounts[0].open_id if accounts else "")
    if accounts and open_id not in {a.open_id for a in accounts}:
        return page_error("No such account", f"No connected account has open_id {open_id}.", 404)
    creator, refusal = creator_for(open_id) if accounts else (None, None)
    return render_form(accounts, open_id, creator, refusal, form={}, media=None, errors=[])


@bp.post("/new")
def create():
    check_csrf()
    accounts = connected_accounts()
    open_id = request.form.get("open_id", "")
    if open_id not in {a.open_id for a in accounts}:
        return page_error("Not added", f'open_id: no connected account has open_id "{open_id}"; nothing was '
                                       "added.", 400)
    creator, refusal = creator_for(open_id)
    if creator is None:
        return render_form(accounts, open_id, None, refusal, form=request.form, media=None, errors=[])
    source = request.form.get("source", "upload")
    media = uploaded(request.form.get("media_id", "")) if source == "upload" else None
    now = datetime.fromtimestamp(current_app.config["CLOCK"](), timezone.utc)
    result = compose(schedule_fields(request.form), creator, media, now, allow_loopback=services().settings.emulated)
    if isinstance(result, list):
        return render_form(accounts, open_id, creator, None, form=request.form, media=media, errors=result,
                           status=400)
    from tiktok.web.post_store import post_store
    checked = validate_manifest([result], source="form", allow_loopback=services().settings.emulated).entries[0]
    try:
        post = post_store().add(result, key=entry_key(result), due_at=checked.due_at,
                                media_name=original_name(request.form.get("media_name", "")) if media else None)
    except (ChangeRefused, StoreError) as exc:
        errors = [FieldError("store", f"{exc}".rstrip(".") + ".")]
        return render_form(accounts, open_id, creator, None, form=request.form, media=media, errors=errors,
                           status=409 if isinstance(exc, ChangeRefused) else 503)
    started = queue_runner.start_post(current_app, post.key) if request.form.get("action") in ("now", "inbox") \
        else None
    flash(added_message(result, creator, started, post.id, post.media_name), "ok")
    return redirect(url_for("posts.index"))


def schedule_fields(form):
    """The form as :func:`compose` reads it: with the browser's zone, the time is read in that zone alone. The
    offset compose.js sends beside it is the browser's guess for a time that happens twice (nobody chose it), so
    such a time is refused, as the edit page refuses it, rather than taken at the guess."""
    if not (form.get("zone") or "").strip():
        return form
    fields = form.copy()
    fields["offset"] = ""
    return fields


def original_name(text: str) -> str | None:
    """The name the person's file had (what the page shows), without folders or control characters."""
    name = "".join(ch for ch in text.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()).strip()
    return name[:200] or None


def render_form(accounts, open_id: str, creator: CreatorInfo | None, refusal: Refusal | None, *, form,
                media: MediaInfo | None, errors: list[FieldError], status: int = 200):
    """The page with ``status``; a refusal replaces the form (with TikTok's reason and the refusal's status)."""
    summary = None
    if media is not None and creator is not None:
        summary = {**media_summary(media, creator.max_duration_s), "media_id": Path(media.path).name,
                   "preview_url": url_for("compose.media", name=Path(media.path).name)}
    page = render_template(
        "compose.html", accounts=accounts, open_id=open_id, creator=creator, refusal=refusal, form=form,
        errors=errors, media=summary, privacy_labels=PRIVACY_LABELS, ticked=lambda name: ticked(form, name),
        max_bytes=MAX_VIDEO_BYTES, server_offset=server_offset(),
        disclosure=disclosure_label(ticked(form, "your_brand"), ticked(form, "branded")))
    return page, (refusal.status if refusal is not None else status)


def added_message(entry: dict[str, Any], creator: CreatorInfo, started: str | None, post_id: int,
                  original: str | None = None):
    """The flash naming the new post: its number, whose, what media, what caption and what happens next
    (``started``: what :func:`~tiktok.web.queue_runner.start_post` said; None for a scheduled post)."""
    who = f"@{creator.username}" if creator.username else creator.nickname or entry["user_id"]
    if "video_path" in entry:
        media = original or Path(entry["video_path"]).name
    elif "video_url" in entry:
        media = entry["video_url"]
    else:
        media = f"{len(entry['photo_urls'])} photo(s)"
    caption = " ".join([entry.get("description") or "", *(f"#{t}" for t in entry.get("tags", ()))]).strip()
    named = f"{media}, “{caption if len(caption) <= 60 else caption[:59] + '…'}”" if caption else media
    run = started or ""
    if "post_at" in entry:
        from tiktok.web.post_store import time_html
        then = Markup("scheduled for ") + time_html(datetime.fromisoformat(entry["post_at"]).timestamp())
    elif entry.get("draft"):
        then = f"going to the creator's TikTok inbox as a draft, {run}"
        then += "; a video carries no caption there, it is written in the TikTok app" if "video_path" in entry \
            or "video_url" in entry else ""
    else:
        then = f"posting now, {run}"
    return Markup("Added post {} for {} ({}) to the queue: {}. TikTok may take a few minutes to process it.").format(
        post_id, who, named, then)


# -- the upload and the preview ----------------------------------------------------------------------------------

@bp.post("/new/upload")
def upload():
    """The raw file as the body; answers the media id and the checks as JSON."""
    try:
        creator = upload_preflight()
        path = receive(request.stream, media_folder(), MAX_VIDEO_BYTES)
        info, name = keep(path, unquote(request.headers.get("X-File-Name", "")))
    except UploadRefused as refused:
        return jsonify({"error": str(refused)}), refused.status
    return jsonify({**media_summary(info, creator.max_duration_s), "media_id": name,
                    "original_name": original_name(unquote(request.headers.get("X-File-Name", ""))) or name,
                    "preview_url": url_for("compose.media", name=name)})


def upload_preflight() -> CreatorInfo:
    """CSRF token (header), account, announced size and creator_info, all before a byte of the body is read."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
        raise UploadRefused("The page expired or came from another site; reload it and choose the file again.", 400)
    open_id = request.args.get("open_id", "")
    if open_id not in {a.open_id for a in connected_accounts()}:
        raise UploadRefused(f'open_id: no connected account has open_id "{open_id}".', 400)
    if (request.content_length or 0) > MAX_VIDEO_BYTES:
        raise UploadRefused(f"The file is {request.content_length} bytes, over TikTok's 4 GB limit "
                            f"({MAX_VIDEO_BYTES} bytes).", 413)
    creator, refusal = creator_for(open_id)
    if refusal is not None:
        raise UploadRefused(refusal.message, refusal.status)
    return creator


def receive(stream: IO[bytes], folder: Path, limit: int, block: int = BLOCK_BYTES) -> Path:
    """Copy ``stream`` to a new private file in ``folder``, ``block`` bytes at a time; UploadRefused (and no file
    left behind) when it holds more than ``limit`` bytes, nothing, or the sender went away."""
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", suffix=".part", delete=False)
    path, size = Path(handle.name), 0
    try:
        with handle:
            while chunk := stream.read(block):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(f"The file is over TikTok's 4 GB limit ({limit} bytes); nothing was kept.",
                                        413)
                handle.write(chunk)
        if size == 0:
            raise UploadRefused("No file arrived: choose a video file.", 400)
        return path
    except ClientDisconnected:
        path.unlink(missing_ok=True)
        raise UploadRefused("The upload was cut off before the whole file arrived; try again.", 400) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def keep(path: Path, original: str) -> tuple[MediaInfo, str]:
    """Probe the received file and give it its final name; a file that is no usable video is deleted."""
    try:
        info = probe(path)
        if info.container not in SUPPORTED_CONTAINERS:
            raise UploadRefused(f"This is a {info.container} file; TikTok takes MP4, MOV or WebM videos.", 422)
    except MediaError as exc:
        path.unlink(missing_ok=True)
        raise UploadRefused(f"This file cannot be read as a video ({exc.reason}).", 422) from None
    except UploadRefused:
        path.unlink(missing_ok=True)
        raise
    name = media_name(secrets.token_hex(16), Path(original.replace("\\", "/")).name, info.container)
    final = path.with_name(name)
    os.replace(path, final)
    log.info("received upload %s (%d bytes)", name, info.size_bytes)
    return replace(info, path=str(final)), name


@bp.get("/media/<name>")
def media(name: str):
    """An uploaded video, for the preview (Range requests work, so the player can seek)."""
    if not is_media_id(name):
        abort(404)
    return send_from_directory(media_folder(), name, conditional=True)


def uploaded(media_id: str) -> MediaInfo | None:
    """The probed upload a form names, or None when the id is malformed, unknown or no longer a video."""
    if not is_media_id(media_id):
        return None
    path = media_folder() / media_id
    if not path.is_file():
        return None
    try:
        return probe(path)
    except MediaError:
        return None


# -- helpers -----------------------------------------------------------------------------------------------------

def connected_accounts():
    return sorted(services().store.load().values(), key=lambda a: a.label)


def creator_for(open_id: str) -> tuple[CreatorInfo | None, Refusal | None]:
    """creator_info for the account (refreshing its token if needed), or why there is none."""
    svc = services()
    try:
        return call_with_token(svc.store, svc.oauth, open_id, PostingClient(svc.api).creator_info), None
    except PostingRefused as exc:
        reason = REFUSALS.get(exc.code, "TikTok does not let this account post right now.")
        return None, Refusal("refused", f"{reason} TikTok's answer: {exc}.", 403)
    except ScopeError as exc:
        return None, Refusal("relink", f"This account did not allow posting ({exc}): link it again and allow "
                                       "posting to TikTok.", 403)
    except (RelinkNeeded, AuthError, AccountNotFound) as exc:
        return None, Refusal("relink", f"This account must be linked again before it can post ({exc}).", 403)
    except TikTokError as exc:
        log.warning("creator_info for %s failed: %s", open_id, exc)
        return None, Refusal("unavailable", f"TikTok did not answer the creator info request ({exc}); try again in "
                                            "a minute.", 503)


def media_folder() -> Path:
    folder = Path(services().settings.media_dir).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def server_offset() -> str:
    """The server's UTC offset now (``+01:00``): the schedule's offset when the browser runs no script."""
    text = datetime.now().astimezone().strftime("%z")
    return f"{text[:3]}:{text[3:]}"
