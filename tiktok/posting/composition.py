"""The composer's rules: a submitted post form, checked against TikTok's content-sharing guidelines. Pure.

:func:`compose` takes the form's values, the creator_info TikTok gave for the account, what probing the uploaded
video found (or None) and the time now; it returns the manifest entry to queue, or every broken rule as a
:class:`FieldError` naming the form field. The page's script applies the same rules as the person types; these
are the ones that count, so a hand-made request gets no further than the form would.

Photos come as files or as addresses. Files: the page uploads each one first (tiktok/web/photos.py converts it for
TikTok) and the form names them in order (``photo_ids``); the caller gives the media store key each will have
(``photos``), and the entry names them by those keys (``photo_media``). Addresses TikTok pulls (``video_url``, photo
URLs) must lie under a domain or URL prefix verified for the app (reference 4.3); given the app's ``verified``
properties, one outside them is refused with TikTok's reason (:func:`tiktok.media.ownership.ownership_problem`, code
``url_ownership_unverified``) before anything is saved.

The guidelines (reference 8.4): privacy is chosen by the person from the creator's options, never defaulted;
comments, duets and stitches are off unless ticked and cannot be ticked where the creator turned them off (photos
have comments only); commercial content disclosure needs "Your brand", "Branded content" or both, and branded
content is never "Only me"; the video must fit the creator's ``max_video_post_duration_sec``. Captions over
TikTok's limit are refused whole: tags are never dropped behind the person's back.

An app TikTok has not audited (``app_mode="unaudited"``, TIKTOK_APP_MODE or detected: issue 25) may Direct Post
only as "Only me" (``SELF_ONLY``) and only for a private account; TikTok refuses anything else with
``unaudited_client_can_only_post_to_private_accounts``. So the composer offers only "Only me"
(:func:`offered_privacy`), and a Direct Post for an account that is not private is refused here, with TikTok's
reason, before any call. A private account is one whose creator_info ``privacy_level_options`` include
``FOLLOWER_OF_CREATOR`` (the reference's own example; a public one gets ``PUBLIC_TO_EVERYONE``). Inbox drafts are
not Direct Posts: they stay open, and are the way to publish publicly (the creator posts from the TikTok app).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from tiktok.media.ownership import ownership_problem
from tiktok.posting.caption import (
    PHOTO_DESCRIPTION_LIMIT,
    PHOTO_TITLE_LIMIT,
    VIDEO_CAPTION_LIMIT,
    build_caption,
    normalise_tag,
    utf16_len,
)
from tiktok.posting.client import CreatorInfo
from tiktok.posting.fields import MAX_PHOTOS
from tiktok.posting.manifest import validate_manifest
from tiktok.posting.limits import MAX_VIDEO_BYTES
from tiktok.posting.media import (MAX_DURATION_S, MAX_FPS, MAX_SIDE_PX, MIN_DURATION_S, MIN_FPS, MIN_SIDE_PX,
                                  SUPPORTED_CODECS, SUPPORTED_CONTAINERS, MediaInfo, check_video)
from tiktok.posting.schedule import check_future, form_post_at
from tiktok.text import duration
from tiktok.words import plain

ACTIONS = ("now", "schedule", "inbox")  # the form's three buttons: post now, schedule, send to the inbox
SOURCES = ("upload", "video_url", "photos")
PRIVACY_LABELS = {"PUBLIC_TO_EVERYONE": "Everyone", "MUTUAL_FOLLOW_FRIENDS": "Friends",
                  "FOLLOWER_OF_CREATOR": "Followers", "SELF_ONLY": "Only me"}
PROMOTIONAL = "Promotional content"  # TikTok's label for "Your brand" (brand_organic_toggle)
PAID_PARTNERSHIP = "Paid partnership"  # TikTok's label for "Branded content" (brand_content_toggle)
# TikTok's own words for the disclosure (content-sharing guidelines, reference 8.4; audit rejections quote them), kept
# here only: the page and its script take them from DISCLOSURE_TEXTS. tests/test_disclosure_strings.py holds copies.
LABELED_AS = "Your photo/video will be labeled as '{label}'"  # "photo/video" becomes what the post is
DISCLOSURE_NEEDED = "You need to indicate if your content promotes yourself, a third party, or both."  # hover text
BRANDED_NOT_PRIVATE = "Branded content visibility cannot be set to private."
# The declaration above the post button (UX point 4, "compliance"): the Branded Content Policy joins it when branded
# content is chosen.
CONSENT_MUSIC = "By posting, you agree to TikTok's Music Usage Confirmation."
CONSENT_BRANDED = "By posting, you agree to TikTok's Branded Content Policy and Music Usage Confirmation."
DISCLOSURE_TEXTS = {"labeled_as": LABELED_AS, "needed": DISCLOSURE_NEEDED, "branded_not_private": BRANDED_NOT_PRIVATE,
                    "promotional": PROMOTIONAL, "paid_partnership": PAID_PARTNERSHIP, "consent_music": CONSENT_MUSIC,
                    "consent_branded": CONSENT_BRANDED}
UNAUDITED_CODE = "unaudited_client_can_only_post_to_private_accounts"  # TikTok's refusal (tiktok.posting.policy)
PRIVATE_SIGN = "FOLLOWER_OF_CREATOR"  # offered only to a private account (reference 3.1's example answer)
# Uploaded files: 32 random hex digits, then optionally the original name's safe part; never a path.
MEDIA_ID = re.compile(r"[0-9a-f]{32}(?:-[A-Za-z0-9_-]{1,40})?\.(?:mp4|mov|webm)")
_OFF = ("", "0", "off", "false", "no")
_FORM_NAMES = {"user_id": "open_id", "photo_cover_index": "photo_cover", "post_at": "post_at_local",
               "photo_media": "photo_ids"}  # manifest -> form
_INTERACTIONS = (("allow_comment", "comments", "comment_disabled"), ("allow_duet", "duets", "duet_disabled"),
                 ("allow_stitch", "stitches", "stitch_disabled"))
# What the form calls each field (tiktok/templates/compose.html): people read these, never the field names.
LABELS = {"open_id": "Account", "action": "Post now, Schedule or Send to inbox", "source": "Video or photos",
          "media_id": "Video file", "video_url": "Video URL", "photo_ids": "Photo files",
          "photo_urls": "Photo addresses", "photo_cover": "Cover photo", "title": "Title", "description": "Description",
          "tags": "Hashtags", "privacy": "Who can see this post", "allow_comment": "Comment", "allow_duet": "Duet",
          "allow_stitch": "Stitch", "is_aigc": "Label as AI-generated content",
          "disclose": "Commercial content disclosure", "your_brand": "Your brand", "branded": "Branded content",
          "post_at_local": "Schedule for", "entry": "The post", "store": "Adding the post"}


class FieldError(NamedTuple):
    """One broken rule: the form field it is about (its name, which the page's script finds it by), and what to
    do; ``str()`` names it by its label on the form."""

    field: str
    message: str

    @property
    def label(self) -> str:
        """What the form calls the field: "Schedule for", not ``post_at_local``."""
        return LABELS.get(self.field, self.field.replace("_", " ").capitalize())

    def __str__(self) -> str:
        return f'{self.label}: {self.message}'


def compose(form: Mapping[str, str], creator: CreatorInfo, media: MediaInfo | None, now: datetime, *,
            allow_loopback: bool = False, photos: Sequence[str | None] | None = None,
            verified: Sequence[str] | None = None, app_mode: str | None = None) -> dict[str, Any] | list[FieldError]:
    """The manifest entry for this form, or every rule it breaks. ``media`` is the probed upload (its ``path``
    becomes ``video_path``); ``now`` is timezone-aware; ``allow_loopback`` accepts loopback media URLs (emulator).
    ``photos``: for each photo file the form names (``photo_ids``, in order), the media store key it will have, or
    None when no such photo is kept. ``verified``: the app's verified domains and URL prefixes, which a typed URL
    must lie under (None: not checked here; the manifest's own checks still run). ``app_mode``: the TikTok app's
    mode (None: not known, as audited); "unaudited" allows a Direct Post only as "Only me" from a private account."""
    errors: list[FieldError] = []
    action = _text(form, "action")
    if action not in ACTIONS:
        errors.append(FieldError("action", f"expected one of {', '.join(ACTIONS)}, got {action!r}"))
    draft = action == "inbox"
    entry: dict[str, Any] = {"user_id": _text(form, "open_id")}
    if not entry["user_id"]:
        errors.append(FieldError("open_id", "choose the account to post as"))
    entry.update(_media(form, creator, media, errors, photos))
    photo = "photo_urls" in entry or "photo_media" in entry
    if verified is not None:
        errors += _unverified(entry, tuple(verified), allow_loopback)
    entry.update(_caption(form, photo, draft, errors))
    if draft:
        entry["draft"] = True
    else:
        entry.update(_settings(form, creator, photo, errors))
        if app_mode == "unaudited":
            errors += unaudited_problems(entry.get("privacy") or "", creator)
    if action == "schedule":
        entry["post_at"] = _schedule(form, now, errors)
    reported = {error.field for error in errors}
    errors += [problem for problem in _manifest_errors(entry, allow_loopback)
               if not reported or (problem.field not in reported and problem.field != "entry")]
    return errors or entry


def _text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def ticked(form: Mapping[str, str], name: str) -> bool:
    """A checkbox: present with any value but an explicit "off" (browsers send "on")."""
    return name in form and (form.get(name) or "").strip().lower() not in _OFF


def _media(form: Mapping[str, str], creator: CreatorInfo, media: MediaInfo | None, errors: list[FieldError],
           photos: Sequence[str | None] | None) -> dict[str, Any]:
    source = _text(form, "source") or "upload"
    if source == "upload":
        if media is None:
            errors.append(FieldError("media_id", "no uploaded video with this id: choose a video file and let its "
                                                 "checks finish"))
            return {}
        for problem in media_problems(media, creator.max_duration_s):
            errors.append(FieldError("media_id", problem))
        return {"video_path": media.path}
    if source == "video_url":
        url = _text(form, "video_url")
        if not url:
            errors.append(FieldError("video_url", "give the https address of the video (on a domain verified for "
                                                  "this app)"))
        return {"video_url": url}
    if source == "photos":
        return _photos(form, photos, errors)
    errors.append(FieldError("source", f"expected one of {', '.join(SOURCES)}, got {source!r}"))
    return {}


def _photos(form: Mapping[str, str], photos: Sequence[str | None] | None,
            errors: list[FieldError]) -> dict[str, Any]:
    urls = [line.strip() for line in (form.get("photo_urls") or "").splitlines() if line.strip()]
    ids = (form.get("photo_ids") or "").split()
    if ids:
        if urls:
            errors.append(FieldError("photo_urls", "a post takes photo files or photo addresses, not both: remove "
                                                   "the addresses, or the files"))
        values: dict[str, Any] = {"photo_media": _photo_keys(ids, photos, errors)}
        count = len(ids)
    else:
        if not 1 <= len(urls) <= MAX_PHOTOS:
            errors.append(FieldError("photo_urls", f"give 1 to {MAX_PHOTOS} photo addresses, one a line (or choose "
                                                   f"photo files); got {len(urls)}"))
        values = {"photo_urls": urls}
        count = len(urls)
    values["photo_cover_index"] = 0
    cover = _text(form, "photo_cover") or "1"
    if not (cover.isdecimal() and len(cover) < 10) or not 1 <= int(cover) <= max(count, 1):  # "²", 10**5000
        errors.append(FieldError("photo_cover", f"the cover is photo 1 to {max(count, 1)}, got {cover!r}"))
    else:
        values["photo_cover_index"] = int(cover) - 1
    title = _text(form, "title")
    if utf16_len(title) > PHOTO_TITLE_LIMIT:
        errors.append(FieldError("title", f"is {utf16_len(title)} UTF-16 units, over TikTok's photo title limit "
                                          f"of {PHOTO_TITLE_LIMIT}"))
    if title:
        values["title"] = title
    return values


def _photo_keys(ids: list[str], photos: Sequence[str | None] | None, errors: list[FieldError]) -> list[str]:
    """The store keys of the photo files ``ids`` names; an error for too many, and for each no longer kept."""
    if len(ids) > MAX_PHOTOS:
        errors.append(FieldError("photo_ids", f"TikTok takes at most {MAX_PHOTOS} photos in a post; {len(ids)} "
                                              "were chosen: remove some"))
        return []
    keys = list(photos) if photos is not None and len(photos) == len(ids) else [None] * len(ids)
    for number, key in enumerate(keys, 1):
        if key is None:
            errors.append(FieldError("photo_ids", f"photo {number} is not on the server any more (it was removed, or "
                                                  "never arrived): remove it and choose the file again"))
    return [key for key in keys if key is not None]


def _unverified(entry: dict[str, Any], verified: tuple[str, ...], allow_loopback: bool) -> list[FieldError]:
    """The typed address TikTok would not pull (outside the verified properties), in TikTok's words; one error a
    field (the other photos are most likely on the same host)."""
    typed = [("video_url", [entry["video_url"]])] if entry.get("video_url") else []
    typed += [("photo_urls", entry["photo_urls"])] if entry.get("photo_urls") else []
    errors = []
    for name, urls in typed:
        for number, url in enumerate(urls, 1):
            problem = ownership_problem(url, verified, allow_loopback=allow_loopback)
            if problem is not None:
                where = f"photo {number} ({url[:200]}): " if name == "photo_urls" else ""
                errors.append(FieldError(name, where + problem))
                break
    return errors


def media_problems(media: MediaInfo, max_duration_s: int | None) -> list[str]:
    """What check_video finds, without the file's path, and the creator's longest allowed video in the page's words
    (check_video's own names creator_info's field, for the manifest's people)."""
    problems = check_video(replace(media, path=""))
    seconds = media.duration_s
    if max_duration_s and seconds is not None and seconds > max_duration_s:
        problems.append(f"the video is {seconds:.2f} s long, over the longest video this account may post: "
                        f"{duration(max_duration_s)}")
    return problems


def media_summary(media: MediaInfo, max_duration_s: int | None) -> dict[str, Any]:
    """What the page shows about an uploaded video: its facts, the creator's limit and every problem."""
    return {"size_bytes": media.size_bytes, "duration_s": media.duration_s, "container": media.container,
            "container_ok": media.container in SUPPORTED_CONTAINERS, "video_codec": media.video_codec,
            "codec_label": SUPPORTED_CODECS.get(media.video_codec, media.video_codec), "width": media.width,
            "height": media.height, "fps": media.fps, "max_duration_s": max_duration_s or None,
            "problems": media_problems(media, max_duration_s), "fixable": reencode_fixes(media, max_duration_s)}


def reencode_fixes(media: MediaInfo, max_duration_s: int | None) -> bool:
    """Whether TikTok would refuse the video for a reason the media doctor's re-encode fixes (codec, container,
    frame rate, a side, the file size) and for none it cannot (its length, sides too far apart to fit 360-4096 px
    without cropping, no picture). The doctor decides the same from the same probe (``plan_video(...).needed`` in
    tiktok.media.doctor.plan); posting cannot import it (tests/test_import_rules.py), so
    tests/test_media_fix_offer.py holds the two to one answer."""
    sides = (media.width, media.height)
    encoding = (media.container not in SUPPORTED_CONTAINERS or media.video_codec not in SUPPORTED_CODECS
                or media.size_bytes > MAX_VIDEO_BYTES or media.fps is None or not MIN_FPS <= media.fps <= MAX_FPS
                or not all(MIN_SIDE_PX <= side <= MAX_SIDE_PX for side in sides))
    if not encoding or min(sides) <= 0 or media.container in ("image2", "gif", "apng", "webp") \
            or media.container.endswith("_pipe"):
        return False
    limit = min(MAX_DURATION_S, max_duration_s) if max_duration_s else MAX_DURATION_S
    if media.duration_s is not None and not MIN_DURATION_S <= media.duration_s <= limit:
        return False
    long_side, short_side = max(sides), min(sides)
    scale = MAX_SIDE_PX / long_side if long_side > MAX_SIDE_PX else \
        MIN_SIDE_PX / short_side if short_side < MIN_SIDE_PX else 1.0
    return long_side * scale <= MAX_SIDE_PX + 0.5 and short_side * scale >= MIN_SIDE_PX - 0.5


def parse_tags(text: str) -> list[str]:
    """Tags typed as ``#a #b`` or ``a, b``, without their '#'; ValueError naming a tag that is only '#'."""
    return [normalise_tag(word) for word in re.split(r"[\s,]+", text.strip()) if word]


def caption_units(description: str, tags: list[str]) -> int:
    """UTF-16 units of the caption TikTok gets: the description, then each new ' #tag' (what compose.js counts)."""
    return utf16_len(build_caption(description, tags, limit=sys.maxsize).text)


def _caption(form: Mapping[str, str], photo: bool, draft: bool, errors: list[FieldError]) -> dict[str, Any]:
    description = (form.get("description") or "").replace("\r\n", "\n").strip()  # browsers send CRLF
    try:
        tags = parse_tags(form.get("tags") or "")
    except ValueError as bad:
        errors.append(FieldError("tags", str(bad)))
        return {}
    limit = PHOTO_DESCRIPTION_LIMIT if photo else VIDEO_CAPTION_LIMIT
    units = caption_units(description, tags)
    if units > limit:
        errors.append(FieldError("description", f"the caption (description and tags) is {units} UTF-16 units, "
                                                f"{units - limit} over TikTok's limit of {limit}: shorten it or "
                                                "remove tags (none are dropped for you)"))
    if draft and not photo:
        return {}  # a video sent to the inbox carries no caption: TikTok's inbox init takes none
    return {name: value for name, value in (("description", description), ("tags", tags)) if value}


def _settings(form: Mapping[str, str], creator: CreatorInfo, photo: bool,
              errors: list[FieldError]) -> dict[str, Any]:
    """Privacy, interactions, disclosure and the AI label of a direct post."""
    privacy = _text(form, "privacy")
    offered = ", ".join(f"“{PRIVACY_LABELS.get(p, p)}”" for p in creator.privacy_options) or "none"
    if not privacy:
        errors.append(FieldError("privacy", f"choose who can see this post (there is no default); offered: {offered}"))
    elif privacy not in creator.privacy_options:
        errors.append(FieldError("privacy", f"“{PRIVACY_LABELS.get(privacy, privacy)}” is not offered to this account "
                                            f"now; offered: {offered}"))
    values = _interactions(form, creator, photo, errors)
    values.update(_disclosure(form, privacy, errors))
    if ticked(form, "is_aigc"):
        values["is_aigc"] = True
    return {"privacy": privacy, **values}


def offered_privacy(creator: CreatorInfo, app_mode: str | None) -> list[str]:
    """The privacy levels the composer offers: the creator's, or for an unaudited app only "Only me"."""
    if app_mode == "unaudited":
        return [level for level in creator.privacy_options if level == "SELF_ONLY"]
    return list(creator.privacy_options)


def is_private(creator: CreatorInfo) -> bool:
    """Whether creator_info shows a private account: only a private one is offered ``FOLLOWER_OF_CREATOR``."""
    return PRIVATE_SIGN in creator.privacy_options


def unaudited_reason() -> str:
    """TikTok's reason an unaudited app posts only "Only me" from private accounts, in this tool's words."""
    return plain(UNAUDITED_CODE).sentence


def unaudited_problems(privacy: str, creator: CreatorInfo) -> list[FieldError]:
    """What an unaudited app's Direct Post breaks (the module docstring), in TikTok's words."""
    why = unaudited_reason()
    if not is_private(creator):
        return [FieldError("privacy", f"this account is public. {why}. Nothing was sent. "
                                      "To publish publicly, use “Send to inbox as a draft” and post from the "
                                      f"TikTok app (details: {UNAUDITED_CODE})")]
    if privacy and privacy != "SELF_ONLY":
        return [FieldError("privacy", f"“{PRIVACY_LABELS.get(privacy, privacy)}” is not possible: {why} (details: "
                                      f"{UNAUDITED_CODE})")]
    return []


def _interactions(form: Mapping[str, str], creator: CreatorInfo, photo: bool,
                  errors: list[FieldError]) -> dict[str, Any]:
    values = {}
    for name, what, switch in _INTERACTIONS:
        allowed = ticked(form, name)
        if photo and name != "allow_comment":
            if allowed:
                errors.append(FieldError(name, f"photo posts have no {what}: only comments can be allowed"))
            continue
        if allowed and getattr(creator, switch):
            errors.append(FieldError(name, f"this account has turned {what} off in its TikTok settings, so they "
                                           "cannot be allowed"))
        values["disable_" + name.removeprefix("allow_")] = not allowed
    return values


def _disclosure(form: Mapping[str, str], privacy: str, errors: list[FieldError]) -> dict[str, Any]:
    disclose, your_brand, branded = (ticked(form, n) for n in ("disclose", "your_brand", "branded"))
    if not disclose:
        for name, label in (("your_brand", "Your brand"), ("branded", "Branded content")):
            if ticked(form, name):
                errors.append(FieldError(name, f'"{label}" needs the commercial content disclosure turned on'))
        return {"brand_organic_toggle": False, "brand_content_toggle": False}
    if not (your_brand or branded):
        errors.append(FieldError("disclose", f'{DISCLOSURE_NEEDED} With disclosure on, choose "Your brand", '
                                             '"Branded content" or both, or turn disclosure off'))
    if branded and privacy == "SELF_ONLY":
        errors.append(FieldError("branded", f'{BRANDED_NOT_PRIVATE} Choose who can see it other than "Only me", or '
                                            'untick "Branded content"'))
    return {"brand_organic_toggle": your_brand, "brand_content_toggle": branded}


def disclosure_label(your_brand: bool, branded: bool) -> str | None:
    """The label TikTok puts on the post: branded content wins when both are chosen."""
    return PAID_PARTNERSHIP if branded else PROMOTIONAL if your_brand else None


def labeled_as(label: str, photo: bool) -> str:
    """TikTok's sentence naming the post's label, saying "photo" or "video" as the post is (guidelines: "Your
    photo/video will be labeled as ...")."""
    return LABELED_AS.replace("photo/video", "photo" if photo else "video").format(label=label)


def _schedule(form: Mapping[str, str], now: datetime, errors: list[FieldError]) -> str | None:
    local = _text(form, "post_at_local")
    if not local:
        errors.append(FieldError("post_at_local", "choose the date and time to post at"))
        return None
    try:
        post_at = form_post_at(form)
        check_future(post_at, now.timestamp())
        return post_at
    except ValueError as bad:
        errors.append(FieldError("post_at_local", str(bad)))
        return None


def _manifest_errors(entry: dict[str, Any], allow_loopback: bool) -> list[FieldError]:
    """The manifest's own checks, so what is queued is what the CLI and cron accept (e.g. https URLs)."""
    result = validate_manifest([entry], source="form", allow_loopback=allow_loopback)
    return [FieldError(_FORM_NAMES.get(problem.field or "entry", problem.field or "entry"),
                       re.sub(r'^.*?field "[^"]+": ', "", problem.message)) for problem in result.problems]


def is_media_id(text: str) -> bool:
    """Whether ``text`` is a name the upload route could have given (no folders, no dots but the suffix)."""
    return MEDIA_ID.fullmatch(text) is not None


def media_name(token: str, original: str, container: str) -> str:
    """The stored name of an upload: ``token`` (32 random hex digits), the original name's safe part, the
    container's suffix."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", original.rsplit(".", 1)[0]).strip("-_")[:40].strip("-_")
    return f"{token}-{stem}.{container}" if stem else f"{token}.{container}"
