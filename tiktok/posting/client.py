"""Content Posting API calls (creator info, init, status) and the pure builders of their request bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tiktok.api import ApiClient
from tiktok.pages import video_pages
from tiktok.posting.caption import Caption
from tiktok.posting.chunks import ChunkPlan
from tiktok.errors import TikTokError
from tiktok.posting.manifest import PostRequest

FALLBACK_PRIVACY = "SELF_ONLY"  # when neither the entry nor --privacy names one: the safest choice
TERMINAL = {"PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED"}
RETRYABLE_FAIL_REASONS = {"internal", "video_pull_failed", "photo_pull_failed"}


class PrivacyNotOffered(TikTokError):
    """The chosen privacy level is not one this creator can use now (creator_info's options)."""


@dataclass(frozen=True)
class CreatorInfo:
    """``creator_info/query/``: who would post, the privacy levels they are offered now, what they have turned off,
    and the longest video they may post (reference 3.1). A Direct Post must use one of ``privacy_options``."""

    nickname: str
    username: str
    privacy_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_duration_s: int

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "CreatorInfo":
        return cls(nickname=str(data.get("creator_nickname") or ""), username=str(data.get("creator_username") or ""),
                   privacy_options=tuple(data.get("privacy_level_options") or ()),
                   comment_disabled=bool(data.get("comment_disabled")), duet_disabled=bool(data.get("duet_disabled")),
                   stitch_disabled=bool(data.get("stitch_disabled")),
                   max_duration_s=int(data.get("max_video_post_duration_sec") or 0))


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str | None = field(default=None, repr=False)  # its upload_token is a credential


@dataclass(frozen=True)
class PublishStatus:
    """``status/fetch/``: ``status`` (PROCESSING_UPLOAD, PROCESSING_DOWNLOAD, SEND_TO_USER_INBOX, PUBLISH_COMPLETE
    or FAILED), ``fail_reason`` when FAILED, the public post ids once moderated (public posts only), byte counts,
    and TikTok's ``log_id`` for this answer (reference 3.5)."""

    status: str
    fail_reason: str | None = None
    post_ids: tuple[int, ...] = ()
    uploaded_bytes: int | None = None
    downloaded_bytes: int | None = None
    log_id: str | None = None  # TikTok's id for this status answer: what support asks for about a failed post

    @property
    def terminal(self) -> bool:
        """True when the status will not change again (posted, in the inbox, or failed)."""
        return self.status in TERMINAL


class PostingClient:
    """The Content Posting endpoints, acting with one access token per call."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def creator_info(self, token: str) -> CreatorInfo:
        return CreatorInfo.from_data(self._api.call("POST", "/v2/post/publish/creator_info/query/", token, json={}))

    def init_video(self, token: str, source_info: dict[str, Any], post_info: dict[str, Any] | None) -> InitResult:
        """Direct Post when ``post_info`` is given, else a draft to the creator's inbox (which takes none)."""
        if post_info is None:
            data = self._api.call("POST", "/v2/post/publish/inbox/video/init/", token,
                                  json={"source_info": source_info})
        else:
            data = self._api.call("POST", "/v2/post/publish/video/init/", token,
                                  json={"post_info": post_info, "source_info": source_info})
        return InitResult(str(data["publish_id"]), data.get("upload_url"))

    def init_photo(self, token: str, body: dict[str, Any]) -> InitResult:
        data = self._api.call("POST", "/v2/post/publish/content/init/", token, json=body)
        return InitResult(str(data["publish_id"]))

    def recent_captions(self, token: str) -> list[str]:
        """The titles and descriptions of the account's newest public videos (one page of ``/v2/video/list/``,
        scope ``video.list``): what a run compares a post's caption with when the store has no record of it."""
        fields = ("id", "title", "video_description")
        newest = next(video_pages(lambda body: self._api.video_page(token, fields, body)), [])  # the first page only: the newest videos
        return [str(video[name]) for video in newest for name in ("title", "video_description") if video.get(name)]

    def status(self, token: str, publish_id: str) -> PublishStatus:
        data, log_id = self._api.call_logged("POST", "/v2/post/publish/status/fetch/", token,
                                             json={"publish_id": publish_id})
        return PublishStatus(status=str(data.get("status") or ""), fail_reason=data.get("fail_reason") or None,
                             post_ids=tuple(int(i) for i in data.get("publicaly_available_post_id") or ()),
                             uploaded_bytes=data.get("uploaded_bytes"), downloaded_bytes=data.get("downloaded_bytes"),
                             log_id=log_id)


def choose_privacy(requested: str | None, default: str | None, creator: CreatorInfo) -> str:
    """The entry's privacy, else the run's default, else SELF_ONLY; it must be one the creator is offered."""
    privacy = requested or default or FALLBACK_PRIVACY
    if privacy not in creator.privacy_options:
        offered = ", ".join(creator.privacy_options) or "none"
        raise PrivacyNotOffered(f'field "privacy": {privacy} is not offered to @{creator.username} '
                                f"(offered: {offered})")
    return privacy


def video_post_info(entry: PostRequest, creator: CreatorInfo, privacy: str, caption: Caption) -> dict[str, Any]:
    """Direct Post ``post_info``. Interactions default to off (TikTok's guidelines: unchecked unless chosen) and
    stay off where the creator has disabled them."""
    info: dict[str, Any] = {
        "privacy_level": privacy,
        "disable_comment": creator.comment_disabled or _off_unless_allowed(entry.disable_comment),
        "disable_duet": creator.duet_disabled or _off_unless_allowed(entry.disable_duet),
        "disable_stitch": creator.stitch_disabled or _off_unless_allowed(entry.disable_stitch),
        "brand_content_toggle": bool(entry.brand_content_toggle),
        "brand_organic_toggle": bool(entry.brand_organic_toggle),
        "is_aigc": bool(entry.is_aigc),
    }
    if caption.text:
        info["title"] = caption.text
    if entry.video_cover_timestamp_ms is not None:
        info["video_cover_timestamp_ms"] = entry.video_cover_timestamp_ms
    return info


def _off_unless_allowed(disable: bool | None) -> bool:
    return True if disable is None else bool(disable)


def file_source_info(plan: ChunkPlan) -> dict[str, Any]:
    return {"source": "FILE_UPLOAD", "video_size": plan.video_size, "chunk_size": plan.chunk_size,
            "total_chunk_count": plan.total_chunk_count}


def pull_source_info(video_url: str) -> dict[str, Any]:
    return {"source": "PULL_FROM_URL", "video_url": video_url}


def photo_body(entry: PostRequest, creator: CreatorInfo | None, privacy: str | None,
               caption: Caption) -> dict[str, Any]:
    """content/init for a photo post: DIRECT_POST with privacy and toggles, or MEDIA_UPLOAD (a draft)."""
    post_info: dict[str, Any] = {}
    if entry.title:
        post_info["title"] = entry.title
    if caption.text:
        post_info["description"] = caption.text
    if not entry.draft:
        assert creator is not None and privacy is not None
        post_info.update(privacy_level=privacy,
                         disable_comment=creator.comment_disabled or _off_unless_allowed(entry.disable_comment),
                         brand_content_toggle=bool(entry.brand_content_toggle),
                         brand_organic_toggle=bool(entry.brand_organic_toggle))
    return {"media_type": "PHOTO", "post_mode": "MEDIA_UPLOAD" if entry.draft else "DIRECT_POST",
            "post_info": post_info,
            "source_info": {"source": "PULL_FROM_URL", "photo_images": list(entry.photo_urls),
                            "photo_cover_index": entry.photo_cover_index or 0}}
