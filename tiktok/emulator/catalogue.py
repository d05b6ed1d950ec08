"""Each emulated user's videos and the counts that grow on them, as pure functions of ids and the emulated day.

A catalogue holds seeded videos (derived from the open_id and the day the emulator started, so a frozen start time
gives the same ids every run), videos tests add through the control API, and completed public video posts from
``state.posts`` (the post-record contract). Counts never decrease: each grows linearly per emulated day (UTC,
``floor(now / 86400)``) at a rate hashed from the video id or open_id, so two reads on one day agree exactly.

Choices where TikTok is silent (EMU): a video id is ``create_time << 32`` plus 32 hashed bits (the shape of real
TikTok ids, 19 digits until 2043); follower/following/likes counts equal the configured values on the start day;
likes received grow by exactly the likes the user's videos gain; ``video_count`` counts the public videos listed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import EmulatedUser

DAY_S = 86_400                 # an emulated day is a UTC calendar day
DEFAULT_SEEDED_VIDEOS = 3      # per public user unless EmulatedUser.seeded_videos says otherwise
SEED_GAP_MIN_S = 6 * 3600      # seeded videos are 6 to 54 hours apart, newest just before the start day
SEED_GAP_SPAN_S = 48 * 3600
CAPTIONED_ONE_IN = 3           # EMU: about one seeded video in three has TikTok's auto-generated captions
CAPTION_LANGUAGE = "eng-US"    # TikTok's LanguageCodeName form (subtitleInfos), not an ISO 639-1 code
VIDEO_WIDTH, VIDEO_HEIGHT = 360, 640   # portrait, as TikTok; matches the generated media
TOPICS = ("One-pan pasta", "Knife skills", "Sourdough basics", "Five-minute breakfast", "Street food tour",
          "Kitchen hacks", "Spice cupboard", "Leftover magic", "Weeknight curry", "Dessert in a mug")
PUBLIC = "PUBLIC_TO_EVERYONE"


@dataclass(frozen=True)
class CatalogueVideo:
    """What the emulator knows about one public video; counts come from ``video_stats``."""

    id: str
    open_id: str
    create_ms: int             # creation instant in ms: the cursor unit (create_time is this // 1000)
    title: str
    description: str
    duration: int              # seconds
    width: int = VIDEO_WIDTH
    height: int = VIDEO_HEIGHT
    is_aigc: bool = False
    media_path: str | None = None  # a posted video's own file; None = generated from the id on request
    captions: bool = False     # TikTok offers auto-generated captions for it (seeded videos only)

    @property
    def create_time(self) -> int:
        return self.create_ms // 1000

    @property
    def created_day(self) -> int:
        return emulated_day(self.create_time)


@dataclass(frozen=True)
class VideoStats:
    view_count: int
    like_count: int
    comment_count: int
    share_count: int


def emulated_day(epoch_s: float) -> int:
    """The UTC day number of an instant: ``floor(epoch_s / 86400)``."""
    return int(epoch_s // DAY_S)


def hashed(seed: str, label: str, low: int, high: int) -> int:
    """A deterministic integer in ``[low, high]`` drawn from ``seed`` and ``label``."""
    digest = hashlib.sha256(f"{seed}|{label}".encode()).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def video_id_for(create_s: int, salt: str) -> str:
    """A 19-digit id whose high bits are the creation second, like TikTok's item ids."""
    return str((create_s << 32) | hashed(salt, "id", 0, 0xFFFF_FFFF))


def video_stats(video_id: str, created_day: int, day: int) -> VideoStats:
    """The counts of a video on ``day``: zero on its creation day, then linear growth at hashed rates."""
    age = max(0, day - created_day)
    views = hashed(video_id, "views", 40, 4000) * age
    return VideoStats(
        view_count=views,
        like_count=views * hashed(video_id, "likes", 20, 120) // 1000,       # 2-12 % of viewers like
        comment_count=views * hashed(video_id, "comments", 5, 40) // 10_000,  # 0.05-0.4 % comment
        share_count=views * hashed(video_id, "shares", 2, 30) // 10_000,
    )


def user_stats(user: EmulatedUser, videos: Iterable[CatalogueVideo], start_day: int, day: int) -> dict[str, int]:
    """The user.info.stats counts on ``day``; equal to the configured ones on ``start_day``."""
    videos = list(videos)
    days = max(0, day - start_day)
    gained_likes = sum(video_stats(v.id, v.created_day, day).like_count
                       - video_stats(v.id, v.created_day, start_day).like_count for v in videos)
    follower_rate = hashed(user.open_id, "followers", 1, 5) * max(1, user.follower_count // 200)  # 0.5-2.5 %/day
    return {
        "follower_count": user.follower_count + days * follower_rate,
        "following_count": user.following_count + days * hashed(user.open_id, "following", 1, 2),
        "likes_count": user.likes_count + gained_likes,
        "video_count": len(videos),
    }


def seeded_count(user: EmulatedUser) -> int:
    """How many videos to seed for ``user``: its own setting, else 0 for a private account and 3 otherwise."""
    if user.seeded_videos is not None:
        return user.seeded_videos
    return 0 if user.private_account else DEFAULT_SEEDED_VIDEOS


def seed_videos(user: EmulatedUser, count: int, start_day: int) -> list[CatalogueVideo]:
    """``count`` videos of ``user``, newest first, all created before ``start_day`` began."""
    videos, create_s = [], start_day * DAY_S
    for index in range(count):
        salt = f"{user.open_id}|seed|{index}"
        create_s -= SEED_GAP_MIN_S + hashed(salt, "gap", 0, SEED_GAP_SPAN_S)
        number = count - index  # "Episode 1" is the oldest
        topic = TOPICS[hashed(salt, "topic", 0, len(TOPICS) - 1)]
        videos.append(CatalogueVideo(
            id=video_id_for(create_s, salt), open_id=user.open_id, create_ms=create_s * 1000,
            title=f"Episode {number}: {topic}",
            description=f"{topic}, episode {number} by @{user.username}. #emulated #ep{number}",
            duration=hashed(salt, "duration", 2, 4), is_aigc=hashed(salt, "aigc", 0, 4) == 0,
            captions=hashed(salt, "captions", 1, CAPTIONED_ONE_IN) == 1))
    return videos


def caption_cues(video: CatalogueVideo, username: str) -> list[tuple[int, int, str]]:
    """The words of a captioned video as (start_ms, end_ms, text) cues spread over its duration.

    Derived from the video's own title and owner, so each captioned video reads differently from every other and
    from anything the AssemblyAI stand-in writes.
    """
    lines = [f"Hey, it's {username} here.", f"{video.title}.", f"Clip {video.id[-6:]}, see you next time!"]
    span_ms = max(1, video.duration) * 1000 // len(lines)
    return [(i * span_ms, (i + 1) * span_ms - 100, text) for i, text in enumerate(lines)]


def _field(record: Any, name: str, default: Any = None) -> Any:
    """A field of a Post (or of a dict with the same keys)."""
    if isinstance(record, dict):
        return record.get(name, default)
    return getattr(record, name, default)


def video_from_post(post: Any) -> CatalogueVideo | None:
    """The listed video of a completed public video post (post-record contract), else None."""
    post_info = _field(post, "post_info") or {}
    post_ids = _field(post, "post_ids") or []
    completed_at = _field(post, "completed_at")
    if (_field(post, "kind") != "video" or _field(post, "status") != "PUBLISH_COMPLETE" or not post_ids
            or post_info.get("privacy_level") != PUBLIC or completed_at is None):
        return None
    title = str(post_info.get("title") or "")
    return CatalogueVideo(
        id=str(post_ids[0]), open_id=_field(post, "open_id"), create_ms=int(completed_at * 1000),
        title=title, description=title, duration=round(_field(post, "duration_s") or 0),
        width=_field(post, "width") or 0, height=_field(post, "height") or 0,
        is_aigc=bool(post_info.get("is_aigc", False)), media_path=_field(post, "media_path"))


def newest_first(videos: Iterable[CatalogueVideo]) -> list[CatalogueVideo]:
    """Sorted newest first, each on its own millisecond.

    The list cursor returns videos strictly older than a millisecond, so two videos sharing one would make a page
    boundary between them drop the second; a later one of a tie moves forward by a millisecond instead.
    """
    ordered: list[CatalogueVideo] = []
    for video in sorted(videos, key=lambda v: (v.create_ms, v.id)):
        if ordered and video.create_ms <= ordered[-1].create_ms:
            video = dataclasses.replace(video, create_ms=ordered[-1].create_ms + 1)
        ordered.append(video)
    return ordered[::-1]


class Catalogue:
    """Seeded and control-added videos of every user; not thread-safe on its own (callers hold ``state.lock``)."""

    def __init__(self, users: Iterable[EmulatedUser], start_s: float) -> None:
        self.start_day = emulated_day(start_s)
        self._seeded = {u.open_id: seed_videos(u, seeded_count(u), self.start_day) for u in users}
        self._added: dict[str, list[CatalogueVideo]] = {}

    def videos(self, open_id: str, posts: Iterable[Any] = ()) -> list[CatalogueVideo]:
        """Every public video of ``open_id``, newest first."""
        posted = [v for v in map(video_from_post, posts) if v is not None and v.open_id == open_id]
        own = self._seeded.get(open_id, []) + self._added.get(open_id, [])
        return newest_first(own + posted)

    def find(self, video_id: str, posts: Iterable[Any] = ()) -> CatalogueVideo | None:
        """The public video with this id, whoever owns it."""
        posts = list(posts)
        owners = set(self._seeded) | set(self._added) | {_field(p, "open_id") for p in posts}
        return next((v for o in owners for v in self.videos(o, posts) if v.id == video_id), None)

    def add(self, user: EmulatedUser, now_s: float, title: str | None = None) -> CatalogueVideo:
        """A new seeded-style video of ``user`` created at ``now_s`` (the control API's way to post)."""
        added = self._added.setdefault(user.open_id, [])
        salt = f"{user.open_id}|added|{len(added)}"
        title = title if title is not None else f"Fresh upload {len(added) + 1}"
        video = CatalogueVideo(
            id=video_id_for(int(now_s), salt), open_id=user.open_id, create_ms=int(now_s * 1000),
            title=title, description=title, duration=hashed(salt, "duration", 2, 4))
        added.append(video)
        return video


def state_posts(state: Any) -> list[Any]:
    """The post records of ``state`` (a dict by publish_id per the contract, or a list); caller holds the lock."""
    posts = getattr(state, "posts", None) or {}
    return list(posts.values()) if isinstance(posts, dict) else list(posts)


def public_videos(state: Any, open_id: str) -> list[CatalogueVideo]:
    """``open_id``'s public videos in ``state`` right now, newest first."""
    with state.lock:
        return state.catalogue.videos(open_id, state_posts(state))


def find_video(state: Any, video_id: str) -> CatalogueVideo | None:
    with state.lock:
        return state.catalogue.find(video_id, state_posts(state))


def account_stats(state: Any, user: EmulatedUser) -> dict[str, int]:
    """``user``'s stats fields on the emulator's current day (what /v2/user/info/ returns)."""
    videos = public_videos(state, user.open_id)
    return user_stats(user, videos, state.catalogue.start_day, emulated_day(state.now()))
