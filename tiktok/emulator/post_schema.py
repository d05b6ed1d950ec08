"""Body rules of the posting init endpoints (reference sections 3.2-3.4, 4.1): pure functions that raise ``Refusal``.

Stricter readings chosen where the docs leave room (each is a 400 ``invalid_param`` naming the field):
- unknown fields anywhere in the body are refused, so a misspelt field never passes silently;
- ``post_info.brand_content_toggle`` is required for direct video posts, and both brand toggles for DIRECT_POST
  photos (the docs' tables mark them required);
- FILE_UPLOAD takes no ``video_url`` and PULL_FROM_URL no size fields;
- DIRECT_POST-only photo fields (privacy_level, disable_comment, auto_add_music, brand toggles) are refused for
  MEDIA_UPLOAD; ``is_aigc`` is accepted at the body's top level or in ``post_info`` (placement UNCONFIRMED).

Chunk plans follow the strict profile of reference 4.1 ("MB" read whichever way is stricter) and fail with 400
``invalid_params`` "The chunk size is invalid" (the observed code and text); the rule broken goes in the
``X-Emulator-Reason`` header. A single-chunk plan must have ``chunk_size == video_size`` (the stricter reading).
"""

from __future__ import annotations

from typing import Any

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
VIDEO_SOURCES = ("FILE_UPLOAD", "PULL_FROM_URL")

MIN_CHUNK_BYTES = 5_242_880        # "5 MB" read as MiB: the larger minimum (strict profile, reference 4.1)
MAX_CHUNK_BYTES = 64_000_000       # "64 MB" read as 10**6: the smaller maximum
MAX_FINAL_CHUNK_BYTES = 128_000_000  # "128 MB" read as 10**6
MAX_SINGLE_CHUNK_VIDEO_BYTES = 64_000_000  # videos above "64 MB" must be multi-chunk (10**6 reading)
MAX_VIDEO_BYTES = 4_000_000_000    # "4 GB" read as 10**9
MAX_CHUNKS = 1000                  # 1 <= total_chunk_count <= 1000
MAX_VIDEO_TITLE_UNITS = 2200       # UTF-16 code units, direct post reference (2026)
MAX_PHOTO_TITLE_UNITS = 90         # UTF-16 code units, photo post reference
MAX_PHOTO_DESCRIPTION_UNITS = 4000  # UTF-16 code units, photo post reference
MAX_PHOTOS = 35                    # photo post reference: up to 35 images
CHUNK_PLAN_MESSAGE = "The chunk size is invalid"

VIDEO_POST_INFO = {"privacy_level": str, "title": str, "disable_duet": bool, "disable_stitch": bool,
                   "disable_comment": bool, "video_cover_timestamp_ms": int, "brand_content_toggle": bool,
                   "brand_organic_toggle": bool, "is_aigc": bool}
PHOTO_POST_INFO = {"title": str, "description": str, "privacy_level": str, "disable_comment": bool,
                   "auto_add_music": bool, "brand_content_toggle": bool, "brand_organic_toggle": bool,
                   "is_aigc": bool}
PHOTO_DIRECT_ONLY = ("privacy_level", "disable_comment", "auto_add_music", "brand_content_toggle",
                     "brand_organic_toggle")


class Refusal(Exception):
    """An API refusal: the envelope's error code, its message, the HTTP status and any extra headers."""

    def __init__(self, code: str, message: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.headers = code, message, status, headers or {}


def invalid(message: str) -> Refusal:
    return Refusal("invalid_param", message, 400)


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units, the unit TikTok counts caption limits in."""
    return len(text.encode("utf-16-le")) // 2


def _is_type(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _object(body: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise invalid(f"{where}{name} is required and must be a JSON object.")
    return value


def _no_unknown(obj: dict[str, Any], allowed: Any, where: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise invalid(f"Unknown field {where}{unknown[0]}.")


def _typed_fields(obj: dict[str, Any], spec: dict[str, type], where: str) -> None:
    _no_unknown(obj, spec, where)
    for name, kind in spec.items():
        if name in obj and not _is_type(obj[name], kind):
            raise invalid(f"{where}{name} must be a {kind.__name__}.")


def _max_units(obj: dict[str, Any], name: str, limit: int, where: str) -> None:
    if name in obj and utf16_units(obj[name]) > limit:
        raise invalid(f"{where}{name} is longer than {limit} UTF-16 code units.")


def video_source(body: dict[str, Any]) -> dict[str, Any]:
    """``source_info`` of a video init, checked for shape (the chunk plan is checked later)."""
    source = _object(body, "source_info")
    kind = source.get("source")
    if kind not in VIDEO_SOURCES:
        raise invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
    if kind == "FILE_UPLOAD":
        _no_unknown(source, ("source", "video_size", "chunk_size", "total_chunk_count"), "source_info.")
        for name in ("video_size", "chunk_size", "total_chunk_count"):
            if not _is_type(source.get(name), int):
                raise invalid(f"source_info.{name} is required for FILE_UPLOAD and must be an integer.")
    else:
        _no_unknown(source, ("source", "video_url"), "source_info.")
        if not isinstance(source.get("video_url"), str) or not source["video_url"]:
            raise invalid("source_info.video_url is required for PULL_FROM_URL.")
    return source


def direct_video_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(post_info, source_info)`` of a Direct Post video init."""
    _no_unknown(body, ("post_info", "source_info"), "")
    post_info = _object(body, "post_info")
    _typed_fields(post_info, VIDEO_POST_INFO, "post_info.")
    if "brand_content_toggle" not in post_info:
        raise invalid("post_info.brand_content_toggle is required.")
    _max_units(post_info, "title", MAX_VIDEO_TITLE_UNITS, "post_info.")
    if post_info.get("video_cover_timestamp_ms", 0) < 0:
        raise invalid("post_info.video_cover_timestamp_ms must be >= 0.")
    return post_info, video_source(body)


def inbox_video_body(body: dict[str, Any]) -> dict[str, Any]:
    """``source_info`` of an inbox (draft) video init, which takes nothing else."""
    if "post_info" in body:
        raise invalid("post_info is not accepted by the inbox upload endpoint; only source_info.")
    _no_unknown(body, ("source_info",), "")
    return video_source(body)


def photo_body(body: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(post_mode, post_info, source_info)`` of a photo content init."""
    _no_unknown(body, ("media_type", "post_mode", "post_info", "source_info", "is_aigc"), "")
    if body.get("media_type") != "PHOTO":
        raise invalid("media_type must be PHOTO.")
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise invalid("post_mode must be DIRECT_POST or MEDIA_UPLOAD.")
    if "is_aigc" in body and not isinstance(body["is_aigc"], bool):
        raise invalid("is_aigc must be a bool.")
    post_info = _object(body, "post_info")
    _typed_fields(post_info, PHOTO_POST_INFO, "post_info.")
    _photo_mode_fields(post_info, mode)
    _max_units(post_info, "title", MAX_PHOTO_TITLE_UNITS, "post_info.")
    _max_units(post_info, "description", MAX_PHOTO_DESCRIPTION_UNITS, "post_info.")
    return mode, post_info, photo_source(body)


def _photo_mode_fields(post_info: dict[str, Any], mode: str) -> None:
    if mode == "MEDIA_UPLOAD":
        extra = [name for name in PHOTO_DIRECT_ONLY if name in post_info]
        if extra:
            raise invalid(f"post_info.{extra[0]} is only accepted with post_mode DIRECT_POST.")
        return
    for name in ("brand_content_toggle", "brand_organic_toggle"):
        if name not in post_info:
            raise invalid(f"post_info.{name} is required.")


def photo_source(body: dict[str, Any]) -> dict[str, Any]:
    """``source_info`` of a photo post: PULL_FROM_URL, 1..35 image URLs and a cover index inside them."""
    source = _object(body, "source_info")
    _no_unknown(source, ("source", "photo_images", "photo_cover_index"), "source_info.")
    if source.get("source") != "PULL_FROM_URL":
        raise invalid("source_info.source must be PULL_FROM_URL for photos.")
    images = source.get("photo_images")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_PHOTOS:
        raise invalid(f"source_info.photo_images must be a list of 1 to {MAX_PHOTOS} URLs.")
    if not all(isinstance(url, str) and url for url in images):
        raise invalid("source_info.photo_images must hold URL strings.")
    index = source.get("photo_cover_index")
    if not _is_type(index, int) or not 0 <= index < len(images):
        raise invalid("source_info.photo_cover_index is required and must index photo_images.")
    return source


def chunk_plan_problem(video_size: int, chunk_size: int, count: int) -> str | None:
    """The first strict-profile chunk rule (reference 4.1) a declared plan breaks, or None."""
    if video_size <= 0 or chunk_size <= 0:
        return "video_size and chunk_size must be positive"
    if video_size > MAX_VIDEO_BYTES:
        return f"video_size is over {MAX_VIDEO_BYTES} bytes"
    if count != video_size // chunk_size:
        return f"total_chunk_count must be floor(video_size / chunk_size) = {video_size // chunk_size}"
    if not 1 <= count <= MAX_CHUNKS:
        return f"total_chunk_count must be between 1 and {MAX_CHUNKS}"
    if video_size < MIN_CHUNK_BYTES and chunk_size != video_size:
        return f"a video under {MIN_CHUNK_BYTES} bytes goes as one chunk with chunk_size == video_size"
    if chunk_size < MIN_CHUNK_BYTES and video_size >= MIN_CHUNK_BYTES:
        return f"chunk_size is under {MIN_CHUNK_BYTES} bytes"
    if chunk_size > MAX_CHUNK_BYTES:
        return f"chunk_size is over {MAX_CHUNK_BYTES} bytes"
    if count == 1 and video_size > MAX_SINGLE_CHUNK_VIDEO_BYTES:
        return f"a video over {MAX_SINGLE_CHUNK_VIDEO_BYTES} bytes must be sent in several chunks"
    if count == 1 and chunk_size != video_size:
        return "a single-chunk plan needs chunk_size == video_size"
    if video_size - (count - 1) * chunk_size > MAX_FINAL_CHUNK_BYTES:
        return f"the final chunk is over {MAX_FINAL_CHUNK_BYTES} bytes"
    return None


def check_chunk_plan(source: dict[str, Any]) -> dict[str, int]:
    """The declared plan of a FILE_UPLOAD ``source_info``; Refusal 400 ``invalid_params`` when it breaks a rule."""
    plan = {name: source[name] for name in ("video_size", "chunk_size", "total_chunk_count")}
    problem = chunk_plan_problem(plan["video_size"], plan["chunk_size"], plan["total_chunk_count"])
    if problem:
        raise Refusal("invalid_params", CHUNK_PLAN_MESSAGE, 400, {"X-Emulator-Reason": problem})
    return plan
