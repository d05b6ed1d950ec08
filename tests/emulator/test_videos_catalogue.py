"""The catalogue's pure functions: seeded videos, counts per emulated day, posts as videos, list paging."""

from __future__ import annotations

import itertools
import re

import pytest

from tiktok.emulator.catalogue import (
    DAY_S,
    Catalogue,
    CatalogueVideo,
    emulated_day,
    newest_first,
    seed_videos,
    user_stats,
    video_from_post,
    video_stats,
)
from tiktok.emulator.config import EmulatedUser, default_users
from tiktok.emulator.posts import Post
from tiktok.emulator.videos import page_of

START_DAY = 20_775  # 2026-11-18
ADA, BO, CY = default_users()


def test_emulated_day_is_the_utc_calendar_day():
    assert emulated_day(START_DAY * DAY_S) == START_DAY
    assert emulated_day(START_DAY * DAY_S + DAY_S - 0.001) == START_DAY
    assert emulated_day((START_DAY + 1) * DAY_S) == START_DAY + 1


def test_seeded_videos_are_deterministic_newest_first_and_before_the_start_day():
    videos = seed_videos(ADA, 25, START_DAY)
    assert videos == seed_videos(ADA, 25, START_DAY)
    assert len({v.id for v in videos}) == 25
    assert all(re.fullmatch(r"[1-9]\d{18}", v.id) for v in videos)
    times = [v.create_ms for v in videos]
    assert times == sorted(times, reverse=True) and len(set(times)) == 25
    assert times[0] < START_DAY * DAY_S * 1000
    assert all(1 <= len(v.title) <= 150 and 1 <= len(v.description) <= 150 for v in videos)
    assert {v.title for v in videos} != {videos[0].title}


def test_seeded_ids_differ_between_users_and_start_days():
    ada_ids = {v.id for v in seed_videos(ADA, 3, START_DAY)}
    assert ada_ids.isdisjoint(v.id for v in seed_videos(BO, 3, START_DAY))
    assert ada_ids.isdisjoint(v.id for v in seed_videos(ADA, 3, START_DAY + 1))


def test_default_seeding_per_user():
    catalogue = Catalogue(default_users(), START_DAY * DAY_S + 5)
    assert [len(catalogue.videos(u.open_id)) for u in (ADA, BO, CY)] == [25, 3, 0]
    custom = EmulatedUser(open_id="x", union_id="u", display_name="X", username="x", seeded_videos=7)
    assert len(Catalogue([custom], 0).videos("x")) == 7


def test_video_counts_never_decrease_and_start_at_zero():
    video_id, created = "7420000000000000001", START_DAY
    days = [video_stats(video_id, created, created + n) for n in range(40)]
    assert days[0].view_count == days[0].like_count == days[0].comment_count == days[0].share_count == 0
    for earlier, later in itertools.pairwise(days):
        assert later.view_count > earlier.view_count
        assert later.like_count >= earlier.like_count and later.comment_count >= earlier.comment_count
        assert later.share_count >= earlier.share_count
    assert days[-1].like_count > 0 and days[-1].view_count >= days[-1].like_count
    assert video_stats(video_id, created, created - 3) == days[0]  # before creation: nothing yet


def test_video_counts_are_deterministic_and_differ_between_videos():
    ids = [v.id for v in seed_videos(ADA, 10, START_DAY)]
    counts = [video_stats(i, START_DAY - 5, START_DAY) for i in ids]
    assert counts == [video_stats(i, START_DAY - 5, START_DAY) for i in ids]
    assert len({c.view_count for c in counts}) == len(ids)


def test_user_stats_equal_the_configured_counts_on_the_start_day_then_grow():
    videos = seed_videos(ADA, 25, START_DAY)
    first = user_stats(ADA, videos, START_DAY, START_DAY)
    assert first == {"follower_count": ADA.follower_count, "following_count": ADA.following_count,
                     "likes_count": ADA.likes_count, "video_count": 25}
    later = [user_stats(ADA, videos, START_DAY, START_DAY + n) for n in range(1, 5)]
    for before, after in zip([first, *later], later):
        assert after["follower_count"] > before["follower_count"]
        assert after["following_count"] > before["following_count"]
        assert after["likes_count"] > before["likes_count"]
    gained = sum(video_stats(v.id, v.created_day, START_DAY + 4).like_count
                 - video_stats(v.id, v.created_day, START_DAY).like_count for v in videos)
    assert later[-1]["likes_count"] == ADA.likes_count + gained


def _post(**changes) -> Post:
    fields = {"publish_id": "v_pub_file~v2-1.1", "open_id": BO.open_id, "kind": "video", "mode": "direct",
              "source": "FILE_UPLOAD", "status": "PUBLISH_COMPLETE", "created_at": START_DAY * DAY_S + 100.0,
              "post_info": {"title": "Posted through the API #api", "privacy_level": "PUBLIC_TO_EVERYONE"},
              "media_path": "/tmp/posted.mp4", "duration_s": 5.4, "width": 720, "height": 1280,
              "completed_at": START_DAY * DAY_S + 130.25, "post_ids": [7440000000000000123]}
    return Post(**{**fields, **changes})


def test_a_completed_public_video_post_becomes_a_video():
    video = video_from_post(_post())
    assert video == CatalogueVideo(
        id="7440000000000000123", open_id=BO.open_id, create_ms=(START_DAY * DAY_S + 130) * 1000 + 250,
        title="Posted through the API #api", description="Posted through the API #api", duration=5, width=720,
        height=1280, is_aigc=False, media_path="/tmp/posted.mp4")
    assert video.create_time == START_DAY * DAY_S + 130


@pytest.mark.parametrize("changes", [
    {"status": "PROCESSING_UPLOAD", "completed_at": None},
    {"status": "FAILED", "fail_reason": "file_format_check_failed"},
    {"kind": "photo"},
    {"post_ids": []},
    {"post_info": {"title": "private", "privacy_level": "SELF_ONLY"}},
    {"mode": "inbox", "status": "SEND_TO_USER_INBOX", "post_info": {}, "post_ids": []},
])
def test_other_posts_are_not_listed(changes):
    assert video_from_post(_post(**changes)) is None


def test_posted_videos_join_their_owners_catalogue_newest_first():
    catalogue = Catalogue(default_users(), START_DAY * DAY_S)
    posts = [_post(), _post(publish_id="p2", open_id=ADA.open_id, post_ids=[7440000000000000999])]
    bo_videos = catalogue.videos(BO.open_id, posts)
    assert [v.id for v in bo_videos][:1] == ["7440000000000000123"] and len(bo_videos) == 4
    assert catalogue.find("7440000000000000999", posts).open_id == ADA.open_id
    assert catalogue.find("7440000000000000999", posts[:1]) is None


def test_videos_sharing_a_millisecond_are_spread_so_paging_keeps_both():
    same = [CatalogueVideo(id=str(7_000_000_000_000_000_000 + n), open_id="o", create_ms=5_000, title="t",
                           description="d", duration=3) for n in range(3)]
    ordered = newest_first(same)
    assert [v.create_ms for v in ordered] == [5_002, 5_001, 5_000]
    first, cursor, more = page_of(ordered, 0, 2)
    rest, _, more_after = page_of(ordered, cursor, 2)
    assert more and not more_after
    assert {v.id for v in first + rest} == {v.id for v in same}


@pytest.mark.parametrize("cursor, max_count, expected_ids, expected_cursor, has_more", [
    (0, 2, ["e", "d"], 4_000, True),
    (4_000, 2, ["c", "b"], 2_000, True),
    (2_000, 2, ["a"], 1_000, False),
    (1_000, 2, [], 1_000, False),
    (3_500, 10, ["c", "b", "a"], 1_000, False),
    (0, 5, ["e", "d", "c", "b", "a"], 1_000, False),
])
def test_page_of(cursor, max_count, expected_ids, expected_cursor, has_more):
    videos = [CatalogueVideo(id=name, open_id="o", create_ms=ms, title="", description="", duration=1)
              for name, ms in (("e", 5_000), ("d", 4_000), ("c", 3_000), ("b", 2_000), ("a", 1_000))]
    page, next_cursor, more = page_of(videos, cursor, max_count)
    assert [v.id for v in page] == expected_ids and next_cursor == expected_cursor and more is has_more
