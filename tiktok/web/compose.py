"""The composer (``/posts/new``): write one post for one connected account and add it to the post store.

GET asks TikTok for the account's creator_info (nickname, privacy options, the interactions it allows, its longest
video) and shows the form; when TikTok says the creator cannot post now, or the account needs linking again, the
page says why and shows no form. A video goes up on its own first: compose.js sends it in slices to
``/posts/new/uploads`` (tiktok/web/uploads.py), which writes it once into MEDIA_DIR under an unguessable name, probes
it and answers with the checks. The form's POST applies every rule again (:func:`tiktok.posting.composition.compose`)
with a creator_info answer at most 15 s old (:mod:`tiktok.web.creators`: kept per account, asked through the
limiter the posting runs use) and adds the post to the store (never to a manifest file; the CLI, cron
and the workers post from the same store); "Post now" then starts it (:func:`tiktok.web.queue_runner.start_post`:
the background runner on one machine, the workers with DATABASE_URL). A POST that breaks a rule
gets the form back with a 400 and the store is not touched. The post keeps the file's original name for the page.

Photos go up the same way, one file at a time (tiktok/web/photos.py converts each for TikTok and names what it
changed); the form names them in order, and only once every rule passed are they put into the media store (the
folder or S3) for the entry's ``photo_media``. A typed address TikTok would pull (a video URL, photo URLs) outside
the app's verified domains and URL prefixes (:func:`tiktok.media.publishing.verified_properties`) is refused on the
form with TikTok's reason (``url_ownership_unverified``), before anything is saved.

TikTok's per-account caps are warned of before a post is added (issue 27, item 5): picking a time asks
``/posts/new/day`` how many of the account's posts that local day holds, and the page shows the warning by the
Schedule button; the POST holds a Schedule onto a day already at the daily cap, or a "Send to inbox" with the pending
drafts at theirs, until the form's "anyway" box says the person saw the warning (:func:`over_cap`; without script
the server's answer shows the warning and the box). The counting is :mod:`tiktok.posting.slots` and
:mod:`tiktok.posting.budget`'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, send_from_directory,
                   url_for)
from markupsafe import Markup

from tiktok.auth.access import call_with_token
from tiktok.auth.names import UnknownAccountName, resolve_account
from tiktok.errors import (AccountNotFound, AuthError, ChangeRefused, PostingRefused, RelinkNeeded, ScopeError,
                           StoreError, TikTokError)
from tiktok.media.publishing import verified_properties
from tiktok.media.store import MediaStoreError
from tiktok.posting.client import CreatorInfo, PostingClient
from tiktok.posting.composition import (DISCLOSURE_TEXTS, PRIVACY_LABELS, FieldError, compose, disclosure_label,
                                        is_media_id, labeled_as, media_summary, ticked)
from tiktok.posting.composition import is_private, offered_privacy, unaudited_reason
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.policy import AppMode
from tiktok.posting.media import MediaError, MediaInfo, probe
from tiktok.posting.manifest import validate_manifest
from tiktok.posting.schedule import form_post_at
from tiktok.store.records import entry_key
from tiktok.web import queue_runner
from tiktok.web.views import check_csrf, current_app_mode, page_error, services
from tiktok.words import Words, said

log = logging.getLogger(__name__)
bp = Blueprint("compose", __name__, url_prefix="/posts")


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
    try:  # ?open_id= takes the account's open_id or its @name (tiktok.auth.names)
        open_id = resolve_account(request.args.get("open_id") or (accounts[0].open_id if accounts else ""), accounts,
                                  option="Account")
    except UnknownAccountName as exc:
        return page_error("No such account", f"{exc}", 404)
    if accounts and open_id not in {a.open_id for a in accounts}:
        return page_error("No such account", f"No connected account has open_id {open_id}.", 404)
    creator, refusal = creator_for(open_id) if accounts else (None, None)
    from tiktok.web.media import prefill
    media_id, original = prefill(request.args.get("media", ""))  # the media library's "Use in a new post"
    form = {"media_name": original} if original else {}
    if request.args.get("post_at_local"):  # the calendar's "compose for this day" (tiktok.web.calendar)
        form["post_at_local"] = request.args["post_at_local"][:19]
    return render_form(accounts, open_id, creator, refusal, form=form,
                       media=uploaded(media_id) if media_id else None, errors=[])


@bp.post("/new")
def create():
    check_csrf()
    accounts = connected_accounts()
    try:  # the picker's open_id, or an @name (tiktok.auth.names)
        open_id = resolve_account(request.form.get("open_id", ""), accounts, option="Account")
    except UnknownAccountName as exc:
        return page_error("Not added", f"{exc} Nothing was added.", 400)
    if open_id not in {a.open_id for a in accounts}:
        return page_error("Not added", f'Account: no connected account has the id "{open_id}"; nothing was '
                                       "added.", 400)
    creator, refusal = creator_for(open_id)
    if creator is None:
        return render_form(accounts, open_id, None, refusal, form=request.form, media=None, errors=[])
    source = request.form.get("source", "upload")
    media = uploaded(request.form.get("media_id", "")) if source == "upload" else None
    from tiktok.web import photos as pictures
    photos = pictures.kept_photos(pictures.photo_ids(request.form), media_folder()) if source == "photos" else []
    now = datetime.fromtimestamp(current_app.config["WORLD_CLOCK"](), timezone.utc)  # emulated: the emulator's
    settings = services().settings
    form = with_open_id(request.form, open_id)
    if form.get("action") == "slot":  # "Add to next free slot": scheduled at it (tiktok.web.slots)
        from tiktok.web.slots import into_next_slot
        form, problem = into_next_slot(form, open_id)
        if problem is not None:
            return render_form(accounts, open_id, creator, None, form=request.form, media=media, errors=[problem],
                               status=400, photos=photos)
    result = compose(schedule_fields(form), creator, media, now,
                     allow_loopback=settings.emulated,
                     photos=[photo.key if photo else None for photo in photos],
                     verified=verified_properties(settings), app_mode=current_app_mode().mode)
    if isinstance(result, list):
        return render_form(accounts, open_id, creator, None, form=request.form, media=media, errors=result,
                           status=400, photos=photos)
    held = over_cap(result, open_id, account_name(accounts, open_id, creator), form)
    if held is not None:  # seen nowhere yet: the form again, with the warning and its "anyway" box
        return render_form(accounts, open_id, creator, None, form=request.form, media=media, errors=[held],
                           status=409, photos=photos, held=held)
    from tiktok.web.post_store import post_store
    shown = original_name(request.form.get("media_name", "")) if media else None
    if "photo_media" in result:
        shown = pictures.label([photo for photo in photos if photo])
    try:
        result = into_media_store(result, shown, [photo for photo in photos if photo])
        checked = validate_manifest([result], source="form", allow_loopback=settings.emulated).entries[0]
        if form.get("action") == "slot":  # the slot is picked again and taken in one transaction: never twice
            post = into_slot(result, open_id, shown)
            result = post.entry or result
        else:
            post = post_store().add(result, key=entry_key(result), due_at=checked.due_at, media_name=shown)
    except (ChangeRefused, StoreError, MediaStoreError) as exc:
        errors = [FieldError("store", f"{exc}".rstrip(".") + ".")]
        return render_form(accounts, open_id, creator, None, form=request.form, media=media, errors=errors,
                           status=409 if isinstance(exc, ChangeRefused) else 503, photos=photos)
    started = queue_runner.start_post(current_app, post.key) if request.form.get("action") in ("now", "inbox") \
        else None
    flash(added_message(result, creator, started, post.id, post.media_name), "ok")
    over = full_day(post, f"@{creator.username}" if creator.username else "")
    if over:
        flash(over, "warning")
    return redirect(url_for("posts.index"))


@bp.get("/new/day")
def day():
    """How many of the account's posts the local day of ``post_at_local`` holds (read as the form reads it, with
    ``zone`` or ``offset``), as JSON for compose.js: ``{"day", "count", "cap", "full", "warning"}``, asked when the
    person picks a time, so the warning shows before Schedule is pressed (issue 27, item 5). 400 for a time that
    cannot be read, 404 for an account that is not connected, 503 when the store cannot say."""
    accounts = connected_accounts()
    try:
        open_id = resolve_account(request.args.get("open_id", ""), accounts, option="Account")
    except UnknownAccountName as exc:
        return {"error": f"{exc}"}, 404
    if open_id not in {a.open_id for a in accounts}:
        return {"error": f"Account: no connected account has the id {open_id!r}."}, 404
    try:
        post_at = form_post_at(schedule_fields(request.args))
    except ValueError as exc:
        return {"error": f"Schedule for: {exc}."}, 400
    if post_at is None:
        return {"error": "Schedule for: choose the date and time to post at."}, 400
    try:
        load = day_load(open_id, datetime.fromisoformat(post_at).timestamp())
    except StoreError as exc:
        log.warning("could not count the day's posts: %s", exc)
        return {"error": "The post store cannot say how many posts that day holds; try again in a minute."}, 503
    return {**load, "warning": full_day_text(load, account_name(accounts, open_id))}


def day_load(open_id: str, at: float) -> dict[str, Any]:
    """The local day holding ``at`` and how many of the account's posts it holds
    (:func:`tiktok.posting.slots.day_count`: the account's zone, else TZ) against TikTok's daily cap."""
    from tiktok.posting.slots import DAILY_CAP, day_count
    from tiktok.text import local_zone
    from tiktok.web.post_store import post_store

    local_day, count = day_count(post_store(), open_id, at, local_zone())
    return {"day": local_day, "count": count, "cap": DAILY_CAP, "full": count >= DAILY_CAP}


def full_day_text(load: dict[str, Any], name: str) -> str | None:
    """The warning before a post is scheduled onto a day that already holds TikTok's daily cap; None otherwise."""
    if not load["full"]:
        return None
    return (f"That day ({load['day']}) already has {load['count']} posts for {name}: TikTok refuses more than "
            f"{load['cap']} Direct Posts in 24 hours. Choose another day, or tick “Schedule anyway” (the runner "
            "holds the ones over the cap until TikTok has room).")


def drafts_text(budget, name: str) -> str | None:
    """The warning before "Send to inbox" when the account's pending drafts are at TikTok's cap
    (:mod:`tiktok.posting.budget`: every draft sent in 24 hours counts); None otherwise."""
    drafts = budget.drafts
    if drafts.room_at is None:
        return None
    from tiktok.text import moment
    return (f"{name} already has {drafts.used} inbox drafts from the last 24 hours: TikTok refuses more than "
            f"{drafts.limit} pending drafts in 24 hours. Tick “Send anyway” to add it all the same; it waits until "
            f"{moment(drafts.room_at)}.")


def over_cap(entry: dict[str, Any], open_id: str, name: str, form) -> FieldError | None:
    """Why the post is not added yet: Schedule onto a day already at TikTok's daily cap, or Send to inbox with the
    pending drafts at theirs, and the form's “anyway” box not ticked (the person has not seen the warning and chosen
    to go on). None when it fits, when the box is ticked, or when the store cannot say (the runner still holds a
    post TikTok would refuse)."""
    try:
        if "post_at" in entry and form.get("action") == "schedule" and not ticked(form, FULL_DAY_OK):
            warning = full_day_text(day_load(open_id, datetime.fromisoformat(entry["post_at"]).timestamp()), name)
            return FieldError("post_at_local", warning) if warning else None
        if entry.get("draft") and form.get("action") == "inbox" and not ticked(form, DRAFTS_FULL_OK):
            budget = account_budget(open_id, current_app_mode())
            warning = drafts_text(budget, name) if budget is not None else None
            return FieldError("action", warning) if warning else None
    except StoreError as exc:
        log.warning("could not count the account's posts: %s", exc)
    return None


FULL_DAY_OK = "full_day_ok"  # the "Schedule anyway" box
DRAFTS_FULL_OK = "drafts_full_ok"  # the "Send anyway" box


def account_name(accounts, open_id: str, creator: CreatorInfo | None = None) -> str:
    """``@name`` of the account (TikTok's creator_info answer when there is one, else the token store's), else its
    open_id (as :class:`tiktok.posting.runner.AccountNames` names it)."""
    if creator is not None and creator.username:
        return f"@{creator.username}"
    return next((f"@{a.username}" for a in accounts if a.open_id == open_id and a.username), open_id)


def full_day(post, name: str) -> str | None:
    """The warning when the post's local day now holds more of its account's posts than TikTok's daily cap
    (issue 27: :func:`tiktok.posting.slots.full_day_warning`); None otherwise, or when the store cannot say."""
    if post.due_at is None:
        return None
    from tiktok.posting.slots import full_day_warning
    from tiktok.text import local_zone
    from tiktok.web.post_store import post_store

    try:
        return full_day_warning(post_store(), post.user_id, post.due_at, local_zone(), name)
    except StoreError as exc:
        log.warning("could not count the day's posts: %s", exc)
        return None


def into_slot(entry: dict[str, Any], open_id: str, shown: str | None):
    """The post added at the account's next free slot, picked and taken in one store transaction
    (:func:`tiktok.posting.slots.add_in_next_slot`: two adds at once take two slots); ChangeRefused when none is
    free (taken since the form was checked)."""
    from tiktok.posting.slots import add_in_next_slot
    from tiktok.text import local_zone
    from tiktok.web.post_store import post_store

    def at_slot(at: float) -> tuple[dict[str, Any], str]:
        moved = {**entry, "post_at": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")}
        return moved, entry_key(moved)

    try:
        return add_in_next_slot(post_store(), open_id, at_slot, now=current_app.config["WORLD_CLOCK"](),
                                default_zone=local_zone(), media_name=shown)
    except ValueError as exc:
        raise ChangeRefused(f"this account {exc} (see the Slots page); nothing was added") from None


def into_media_store(entry: dict[str, Any], shown: str | None, photos=()) -> dict[str, Any]:
    """The entry as the post store keeps it. With the folder store (MEDIA_DIR, the default) the upload stays where
    it is and the entry names its path. With an S3 store (MEDIA_STORE) the upload is put into the bucket (by its
    content, so putting it twice stores it once) and the entry names its key (``video_media``): a worker on any
    machine posts it from there. Photo files (``photos``, :class:`tiktok.web.photos.KeptPhoto`) go into the store
    either way, folder or bucket, since TikTok pulls them from where the store publishes them (``photo_media``).
    MediaStoreError when the store cannot take one; nothing is added then."""
    from tiktok.media.store import MediaStoreSettings, open_media_store

    settings = services().settings
    if "photo_media" in entry and photos:
        from tiktok.web.photos import store_photos
        return store_photos(entry, list(photos), open_media_store(MediaStoreSettings.from_settings(settings)))
    if "video_path" not in entry or settings.media.store == "folder":
        return entry
    store = open_media_store(MediaStoreSettings.from_settings(settings))
    path = entry["video_path"]
    key = store.put_file(path, name=shown or Path(path).name)
    moved = {name: value for name, value in entry.items() if name != "video_path"}
    return {**moved, "video_media": key}


def with_open_id(form, open_id: str):
    """The form naming the account by its open_id (the picker may have sent its @name)."""
    if form.get("open_id") == open_id:
        return form
    fields = form.copy()
    fields["open_id"] = open_id
    return fields


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
                media: MediaInfo | None, errors: list[FieldError], status: int = 200, photos=(),
                held: FieldError | None = None):
    """The page with ``status``; a refusal replaces the form (with TikTok's reason and the refusal's status).
    ``photos``: the kept photo files the form named (:func:`tiktok.web.photos.kept_photos`), shown again. ``held``:
    the cap warning :func:`over_cap` stopped the post for, shown again by the button with its “anyway” box."""
    from tiktok.web.photos import MAX_PICTURE_BYTES, shown_photos

    summary = None
    if media is not None and creator is not None:
        summary = {**media_summary(media, creator.max_duration_s), "media_id": Path(media.path).name,
                   "preview_url": url_for("compose.media", name=Path(media.path).name)}
    mode = current_app_mode()
    budget, name = account_budget(open_id, mode), account_name(accounts, open_id, creator)
    day_warning = held.message if held is not None and held.field == "post_at_local" else None
    page = render_template(
        "compose.html", accounts=accounts, open_id=open_id, creator=creator, refusal=refusal, form=form,
        app_mode=mode, mode_note=mode_note(mode, creator),
        privacy_options=offered_privacy(creator, mode.mode) if creator is not None else [],
        errors=errors, media=summary, privacy_labels=PRIVACY_LABELS, ticked=lambda name: ticked(form, name),
        max_bytes=MAX_VIDEO_BYTES, max_photo_bytes=MAX_PICTURE_BYTES, photos=shown_photos(list(photos)),
        server_offset=server_offset(),
        disclosure=disclosure_label(ticked(form, "your_brand"), ticked(form, "branded")),
        disclosure_texts=DISCLOSURE_TEXTS, labeled_as=labeled_as, budget_note=budget and budget.warning(name),
        day_warning=day_warning, drafts_warning=budget and drafts_text(budget, name),
        full_day_ok=FULL_DAY_OK, drafts_full_ok=DRAFTS_FULL_OK)
    return page, (refusal.status if refusal is not None else status)


def account_budget(open_id: str, mode: AppMode):
    """The account's budget now (issue 27: :mod:`tiktok.posting.budget`): the line under the account picker when
    its Direct Posts are used up, the warning by "Send to inbox" when its drafts are. None when there is no account
    or the store cannot say (the run still holds such a post)."""
    from tiktok.posting.budget import account_budgets
    from tiktok.web.post_store import post_store

    if not open_id:
        return None
    try:
        store = post_store()
        return account_budgets(store, [open_id], store.clock(), app_mode_setting=mode.mode)[open_id]
    except StoreError as exc:
        log.warning("could not read the posting budget: %s", exc)
        return None


def mode_note(mode: AppMode, creator: CreatorInfo | None) -> str | None:
    """What the composer says about an unaudited app's privacy (None for the other modes)."""
    if not mode.unaudited:
        return None
    how = "TIKTOK_APP_MODE says so" if mode.source == "setting" else \
        f"TikTok answered {mode.code or 'unaudited_client_can_only_post_to_private_accounts'}"
    note = f"This TikTok app is unaudited ({how}): only “Only me” is offered. {unaudited_reason()}."
    if creator is not None and not is_private(creator):
        note += (" This account is public, so a Direct Post would be refused: to publish publicly, use “Send to "
                 "inbox as a draft” and post it from the TikTok app.")
    else:
        note += " To publish publicly, use “Send to inbox as a draft” and post it from the TikTok app."
    return note


def added_message(entry: dict[str, Any], creator: CreatorInfo, started: str | None, post_id: int,
                  original: str | None = None):
    """The flash naming the new post: its number, whose, what media, what caption and what happens next
    (``started``: what :func:`~tiktok.web.queue_runner.start_post` said; None for a scheduled post)."""
    who = f"@{creator.username}" if creator.username else creator.nickname or entry["user_id"]
    if "video_path" in entry or "video_media" in entry:
        media = original or Path(entry.get("video_path") or entry["video_media"]).name
    elif "video_url" in entry:
        media = entry["video_url"]
    else:
        media = original or f"{len(entry.get('photo_urls') or entry['photo_media'])} photo(s)"
    caption = " ".join([entry.get("description") or "", *(f"#{t}" for t in entry.get("tags", ()))]).strip()
    named = f"{media}, “{caption if len(caption) <= 60 else caption[:59] + '…'}”" if caption else media
    run = started or ""
    if "post_at" in entry:
        from tiktok.web.post_store import time_html
        then = Markup("scheduled for ") + time_html(datetime.fromisoformat(entry["post_at"]).timestamp())
    elif entry.get("draft"):
        then = f"going to the creator's TikTok inbox as a draft, {run}"
        then += "; a video carries no caption there, it is written in the TikTok app" if "photo_urls" not in entry \
            and "photo_media" not in entry else ""
    else:
        then = f"posting now, {run}"
    return Markup("Added post {} for {} ({}) to the queue: {}. TikTok may take a few minutes to process it.").format(
        post_id, who, named, then)


# -- the preview (uploads arrive through tiktok/web/uploads.py) -----------------------------------------------

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
    """creator_info for the account, or why there is none: an answer of the last seconds, else one call through the
    shared limiter (the rules: :mod:`tiktok.web.creators`)."""
    from tiktok.web.creators import creators_of
    return creators_of(current_app).answer(open_id, lambda take_slot: ask_creator(open_id, take_slot))


def ask_creator(open_id: str, take_slot) -> tuple[CreatorInfo | None, Refusal | None]:
    """Ask TikTok (refreshing the token if needed; ``take_slot()`` before each attempt), or why there is none."""
    svc = services()
    posting = PostingClient(svc.api)

    def limited(token: str) -> CreatorInfo:
        take_slot()
        return posting.creator_info(token)
    try:
        return call_with_token(svc.store, svc.oauth, open_id, limited), None
    except PostingRefused as exc:  # creator_info's refusals (reference 3.1), in the words of tiktok.words
        return None, Refusal("refused", written(said(exc)), 403)
    except ScopeError as exc:
        return None, Refusal("relink", written(Words("this account did not allow posting: link it again and allow "
                                                     "posting to TikTok", said(exc).details)), 403)
    except (RelinkNeeded, AuthError, AccountNotFound) as exc:
        return None, Refusal("relink", "This account must be linked again before it can post. " + written(said(exc)),
                             403)
    except TikTokError as exc:
        log.warning("creator_info for %s failed: %s", open_id, exc)
        why = said(exc)
        return None, Refusal("unavailable", written(Words("TikTok did not answer the creator info request: try again "
                                                          "in a minute", why.details or why.sentence)), 503)


def written(words: Words) -> str:
    """Words as the page writes them: a capital, a full stop, then TikTok's details (code, message, log_id)."""
    text = words.sentence[:1].upper() + words.sentence[1:].rstrip(".") + "."
    return f"{text} Details: {words.details}." if words.details else text


def media_folder() -> Path:
    folder = Path(services().settings.media_dir).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def server_offset() -> str:
    """The server's UTC offset now (``+01:00``): the schedule's offset when the browser runs no script."""
    text = datetime.now().astimezone().strftime("%z")
    return f"{text[:3]}:{text[3:]}"
