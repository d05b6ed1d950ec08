"""The composer's rules (tiktok.posting.composition), as tables: what a form becomes, and every refusal by field."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiktok.posting.caption import build_caption
from tiktok.posting.client import CreatorInfo
from tiktok.posting.composition import (
    LABELS,
    FieldError,
    caption_units,
    compose,
    disclosure_label,
    is_media_id,
    media_name,
    media_summary,
    parse_tags,
    ticked,
)
from tiktok.posting.manifest import validate_manifest
from tiktok.posting.media import MediaInfo
from tiktok.posting.schedule import check_future, form_post_at

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
ADA = CreatorInfo(nickname="Ada Creator", username="ada.creates", privacy_options=PUBLIC, comment_disabled=False,
                  duet_disabled=False, stitch_disabled=False, max_duration_s=600)
BO = replace(ADA, nickname="Bo Sandbox", username="bo_tests", stitch_disabled=True, max_duration_s=60)
QUIET = replace(ADA, comment_disabled=True, duet_disabled=True)
CLIP = MediaInfo(container="mp4", video_codec="h264", width=720, height=1280, fps=30.0, duration_s=12.0,
                 size_bytes=5_000_000, has_audio=True, path=f"/srv/media/{TOKEN}-clip.mp4")
PHOTOS = "https://cdn.example.com/a.jpg\r\nhttps://cdn.example.com/b.jpg\r\n"
CLOSED = {"disable_comment": True, "disable_duet": True, "disable_stitch": True, "brand_organic_toggle": False,
          "brand_content_toggle": False}


def form(**changes: str | None) -> dict[str, str]:
    """A valid "post now" form for an uploaded video; ``None`` leaves a field out."""
    values = {"open_id": "ada-open-id", "action": "now", "source": "upload", "media_id": CLIP.path.rsplit("/")[-1],
              "description": "Bread", "tags": "#baking", "privacy": "PUBLIC_TO_EVERYONE"}
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def photo_form(**changes: str | None) -> dict[str, str]:
    values = {"source": "photos", "media_id": None, "photo_urls": PHOTOS, "photo_cover": "2", "title": "Two loaves"}
    return form(**{**values, **changes})


VIDEO_ENTRY = {"user_id": "ada-open-id", "video_path": CLIP.path, "description": "Bread", "tags": ["baking"],
               "privacy": "PUBLIC_TO_EVERYONE", **CLOSED}
PHOTO_ENTRY = {"user_id": "ada-open-id",
               "photo_urls": ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"], "photo_cover_index": 1,
               "title": "Two loaves", "description": "Bread", "tags": ["baking"]}


@pytest.mark.parametrize("submitted, creator, expected", [
    pytest.param(form(), ADA, VIDEO_ENTRY, id="post-now-everything-off-by-default"),
    pytest.param(form(allow_comment="on", allow_duet="on", allow_stitch="on"), ADA,
                 {**VIDEO_ENTRY, "disable_comment": False, "disable_duet": False, "disable_stitch": False},
                 id="ticked-interactions"),
    pytest.param(form(allow_comment="on", allow_duet="on"), BO,
                 {**VIDEO_ENTRY, "disable_comment": False, "disable_duet": False}, id="bo-without-stitch"),
    pytest.param(form(allow_stitch="off"), BO, VIDEO_ENTRY, id="an-explicit-off-is-not-ticked"),
    pytest.param(form(action="schedule", post_at_local="2026-12-03T09:00", offset="+01:00"), ADA,
                 {**VIDEO_ENTRY, "post_at": "2026-12-03T09:00:00+01:00"}, id="scheduled-with-the-browser-offset"),
    pytest.param(form(post_at_local="2020-01-01T00:00", offset="+01:00"), ADA, VIDEO_ENTRY,
                 id="post-now-ignores-a-time"),
    pytest.param(form(action="inbox", privacy=None, allow_stitch="on"), BO,
                 {"user_id": "ada-open-id", "video_path": CLIP.path, "draft": True},
                 id="video-inbox-draft-takes-no-caption-privacy-or-toggles"),
    pytest.param(form(disclose="on", your_brand="on"), ADA, {**VIDEO_ENTRY, "brand_organic_toggle": True},
                 id="your-brand"),
    pytest.param(form(disclose="on", your_brand="on", branded="on"), ADA,
                 {**VIDEO_ENTRY, "brand_organic_toggle": True, "brand_content_toggle": True}, id="both-brands"),
    pytest.param(form(is_aigc="on"), ADA, {**VIDEO_ENTRY, "is_aigc": True}, id="ai-label"),
    pytest.param(form(description="  Two\r\nlines  ", tags="#a, b  #A"), ADA,
                 {**VIDEO_ENTRY, "description": "Two\nlines", "tags": ["a", "b", "A"]},
                 id="crlf-and-tag-separators"),
    pytest.param(form(source="video_url", media_id=None, video_url="https://cdn.example.com/v.mp4"), ADA,
                 {**{k: v for k, v in VIDEO_ENTRY.items() if k != "video_path"},
                  "video_url": "https://cdn.example.com/v.mp4"}, id="video-url"),
    pytest.param(photo_form(allow_comment="on"), ADA,
                 {**PHOTO_ENTRY, "privacy": "PUBLIC_TO_EVERYONE", "disable_comment": False,
                  "brand_organic_toggle": False, "brand_content_toggle": False}, id="photos-comments-only"),
    pytest.param(photo_form(action="inbox", privacy=None), ADA, {**PHOTO_ENTRY, "draft": True},
                 id="photos-to-the-inbox-keep-title-and-description"),
])
def test_a_valid_form_becomes_the_manifest_entry(submitted, creator, expected):
    media = CLIP if submitted.get("source") == "upload" else None
    entry = compose(submitted, creator, media, NOW)
    assert entry == expected
    assert validate_manifest([entry], source="t").ok  # what is queued is what the CLI and cron accept


LONG = replace(CLIP, duration_s=61.0)


@pytest.mark.parametrize("submitted, creator, media, field, words", [
    (form(privacy=None), ADA, CLIP, "privacy", "choose who can see this post"),
    (form(privacy=""), ADA, CLIP, "privacy", "no default"),
    (form(privacy="FOLLOWER_OF_CREATOR"), ADA, CLIP, "privacy", "not offered"),
    (form(allow_stitch="on"), BO, CLIP, "allow_stitch", "turned stitches off"),
    (form(allow_comment="on"), QUIET, CLIP, "allow_comment", "turned comments off"),
    (form(allow_duet="yes"), QUIET, CLIP, "allow_duet", "turned duets off"),
    (photo_form(allow_duet="on"), ADA, None, "allow_duet", "photo posts have no duets"),
    (photo_form(allow_stitch="on"), ADA, None, "allow_stitch", "photo posts have no stitches"),
    (form(disclose="on"), ADA, CLIP, "disclose", "choose \"Your brand\", \"Branded content\" or both"),
    (form(disclose="on", branded="on", privacy="SELF_ONLY"), ADA, CLIP, "branded", "cannot be set to private"),
    (form(branded="on"), ADA, CLIP, "branded", "needs the commercial content disclosure"),
    (form(your_brand="on"), ADA, CLIP, "your_brand", "needs the commercial content disclosure"),
    (form(description="a" * 2195, tags="#bcde"), ADA, CLIP, "description", "2201 UTF-16 units, 1 over"),
    (form(description="😀" * 1100, tags="a"), ADA, CLIP, "description", "2203 UTF-16 units"),
    (form(description="a" * 2201, tags=""), ADA, CLIP, "description", "limit of 2200"),
    (photo_form(description="a" * 4001, tags=""), ADA, None, "description", "limit of 4000"),
    (photo_form(title="t" * 91), ADA, None, "title", "over TikTok's photo title limit of 90"),
    (photo_form(photo_urls=""), ADA, None, "photo_urls", "give 1 to 35"),
    (photo_form(photo_urls="\n".join(f"https://cdn.example.com/{n}.jpg" for n in range(36))), ADA, None,
     "photo_urls", "got 36"),
    (photo_form(photo_cover="3"), ADA, None, "photo_cover", "photo 1 to 2"),
    (photo_form(photo_cover="0"), ADA, None, "photo_cover", "photo 1 to 2"),
    (photo_form(photo_urls="http://cdn.example.com/a.jpg"), ADA, None, "photo_urls", "https"),
    (form(), ADA, None, "media_id", "no uploaded video"),
    (form(), BO, LONG, "media_id", "61.00 s long, over the longest video this account may post: 1 min"),
    (form(), ADA, replace(CLIP, video_codec="mpeg4"), "media_id", "codec 'mpeg4' is not supported"),
    (form(), ADA, replace(CLIP, width=200), "media_id", "width 200 px"),
    (form(action="schedule"), ADA, CLIP, "post_at_local", "choose the date and time"),
    (form(action="schedule", post_at_local="2026-11-30T12:58:59", offset="+01:00"), ADA, CLIP, "post_at_local",
     "in the past"),
    (form(action="schedule", post_at_local="2026-12-03T09:00", offset="+1"), ADA, CLIP, "post_at_local",
         "UTC offset"),
    (form(action="schedule", post_at_local="2027-03-28T02:30", offset="", zone="Europe/Berlin"), ADA, CLIP,
     "post_at_local", "does not exist in Europe/Berlin"),
    (form(action="later"), ADA, CLIP, "action", "expected one of now, schedule, inbox"),
    (form(source="tape"), ADA, CLIP, "source", "expected one of upload, video_url, photos"),
    (form(source="video_url", video_url=""), ADA, None, "video_url", "give the https address"),
    (form(source="video_url", video_url="http://cdn.example.com/v.mp4"), ADA, None, "video_url",
     "must be an https:// URL"),
    (form(source="video_url", video_url="http://127.0.0.1:9/v.mp4"), ADA, None, "video_url", "https"),
    (form(tags="#ok #"), ADA, CLIP, "tags", "is empty"),
    (form(open_id=""), ADA, CLIP, "open_id", "choose the account"),
])
def test_each_broken_rule_is_refused_naming_its_field(submitted, creator, media, field, words):
    errors = compose(submitted, creator, media, NOW)
    assert isinstance(errors, list), errors
    assert field in [e.field for e in errors], errors
    message = next(e.message for e in errors if e.field == field)
    assert words in message
    error = next(e for e in errors if e.field == field)  # the page names the field by the form's label
    assert str(error) == f"{error.label}: {message}" and error.label == LABELS[field] and "_" not in error.label


def test_every_broken_rule_is_reported_at_once():
    errors = compose(form(privacy=None, allow_stitch="on", disclose="on"), BO, LONG, NOW)
    assert {e.field for e in errors} == {"privacy", "allow_stitch", "disclose", "media_id"}
    assert all(isinstance(e, FieldError) for e in errors)


@pytest.mark.parametrize("submitted, creator", [
    (form(privacy="FOLLOWER_OF_CREATOR", allow_stitch="on"), BO),
    (form(disclose="on", branded="on", privacy="SELF_ONLY"), ADA),
    (form(privacy=None, allow_comment="on", allow_duet="on"), QUIET),
    (form(action="schedule", post_at_local="2026-11-30T12:58:59", offset="+01:00"), BO),
])
def test_the_page_reads_the_forms_words_never_tiktoks_field_names_or_values(submitted, creator):
    """What the composer says names what the form shows ("Only me", the longest video this account may post), not
    creator_info's fields or TikTok's privacy values; the manifest's own messages (CLI) keep the manifest's names."""
    errors = compose(submitted, creator, LONG, NOW)
    assert isinstance(errors, list) and errors
    for error in errors:
        text = str(error)
        assert not re.search(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z]+(?:_[A-Z]+)+\b", text), text


@pytest.mark.parametrize("seconds_ago, ok", [(0, True), (59, True), (60, True), (61, False), (3600, False)])
def test_a_schedule_may_be_a_minute_late_but_no_more(seconds_ago, ok):
    local = (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S")
    result = compose(form(action="schedule", post_at_local=local, offset="Z"), ADA, CLIP, NOW)
    assert isinstance(result, dict) is ok, result


def test_loopback_media_urls_only_for_the_emulator():
    submitted = form(source="video_url", video_url="http://127.0.0.1:9/v.mp4")
    assert isinstance(compose(submitted, ADA, None, NOW), list)
    assert compose(submitted, ADA, None, NOW, allow_loopback=True)["video_url"] == "http://127.0.0.1:9/v.mp4"


@pytest.mark.parametrize("description, tags, units", [
    ("", [], 0),
    ("hi", [], 2),
    ("hi", ["a"], 5),           # "hi #a": the description, then " #tag"
    ("hi", ["a", "bc"], 9),     # "hi #a #bc"
    ("", ["a", "b"], 5),        # "#a #b": no space before the first tag
    ("  hi \n", ["a"], 5),      # the description is trimmed as it is sent
    ("😀", [], 2),              # a surrogate pair counts 2, as TikTok counts it
    ("😀", ["😀"], 6),
    ("x", ["Cat", "cat"], 6),   # a repeated tag is sent once
])
def test_caption_units_count_what_tiktok_receives(description, tags, units):
    assert caption_units(description, tags) == units
    assert units == len(build_caption(description, tags, limit=10**9).text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("text, tags", [
    ("", []),
    ("#a #b", ["a", "b"]),
    ("a, b,c", ["a", "b", "c"]),
    ("  ##a\n#b\t", ["a", "b"]),
    ("#日本 #😀", ["日本", "😀"]),
    ("bread, baking,", ["bread", "baking"]),
    ("  ", []),
])
def test_parse_tags(text, tags):
    """The composer's and the Posts page's edit form's one rule for the tags field."""
    assert parse_tags(text) == tags


@pytest.mark.parametrize("text", ["# #x", "#bread ##"])
def test_a_tag_that_is_only_hashes_is_refused_not_dropped(text):
    with pytest.raises(ValueError, match="is empty"):
        parse_tags(text)


@pytest.mark.parametrize("fields", [
    {"post_at_local": "2026-12-03T09:00", "offset": "+01:00"},
    {"post_at_local": "2026-12-03T09:00:30", "offset": "-05:30"},
    {"post_at_local": "2026-12-03T09:00", "offset": "Z"},
    {"post_at_local": "2026-07-03T09:00", "zone": "Europe/Berlin", "offset": "+05:00"},  # the zone wins
    {"post_at_local": "2026-12-03 09:00", "offset": "+01:00"},
    {"post_at_local": "2026-12-03T09:00", "offset": "+1"},
    {"post_at_local": "2026-12-03T09:00", "offset": "+24:00"},
    {"post_at_local": "2026-02-30T09:00", "offset": "+01:00"},
    {"post_at_local": "2026-11-30T12:00", "offset": "+01:00"},  # 11:00 UTC: an hour ago
    {"post_at_local": "2026-11-30T11:58:59", "offset": "Z"},  # 61 s ago: past
    {"post_at_local": "2026-11-30T11:59", "offset": "Z"},  # a minute ago still counts as now
    {"post_at_local": "2027-10-31T02:30", "zone": "Europe/Berlin", "offset": "+01:00"},  # happens twice
])
def test_the_composer_reads_a_time_by_the_one_rule_the_edit_form_uses(fields):
    """compose() and the Posts page's edit and reschedule (form_post_at, then check_future) agree on every time."""
    try:
        expected: str | list[str] = form_post_at(fields)
        check_future(expected, NOW.timestamp())
    except ValueError as bad:
        expected = [f"Schedule for: {bad}"]  # the form's label for post_at_local
    result = compose(form(action="schedule", **fields), ADA, CLIP, NOW)
    assert (result["post_at"] if isinstance(result, dict) else [str(e) for e in result]) == expected


@pytest.mark.parametrize("text, ok", [
    (f"{TOKEN}.mp4", True),
    (f"{TOKEN}-my_clip-2.mov", True),
    (f"{TOKEN}.webm", True),
    (f"{TOKEN}.mkv", False),
    (f"{TOKEN.upper()}.mp4", False),
    (f"{TOKEN[:-1]}.mp4", False),
    (f"{TOKEN}-{'x' * 41}.mp4", False),
    (f"{TOKEN}-../../user_tokens.mp4", False),
    (f"../{TOKEN}.mp4", False),
    (f"{TOKEN}/x.mp4", False),
    (f"{TOKEN}.mp4\n", False),
    ("user_tokens.json", False),
    ("", False),
])
def test_media_ids_are_strict(text, ok):
    assert is_media_id(text) is ok


@pytest.mark.parametrize("original, container, name", [
    ("clip.mp4", "mp4", f"{TOKEN}-clip.mp4"),
    ("My holiday video!.MOV", "mov", f"{TOKEN}-My-holiday-video.mov"),
    ("../../etc/passwd", "mp4", f"{TOKEN}.mp4"),
    ("", "webm", f"{TOKEN}.webm"),
    ("日本.mp4", "mp4", f"{TOKEN}.mp4"),
    ("a" * 60 + ".mp4", "mp4", f"{TOKEN}-{'a' * 40}.mp4"),
])
def test_media_name(original, container, name):
    assert media_name(TOKEN, original, container) == name


@given(st.text(max_size=80), st.sampled_from(["mp4", "mov", "webm"]))
def test_any_original_name_gives_a_valid_media_id(original, container):
    assert is_media_id(media_name(TOKEN, original, container))


@pytest.mark.parametrize("your_brand, branded, label", [
    (False, False, None), (True, False, "Promotional content"), (False, True, "Paid partnership"),
    (True, True, "Paid partnership"),
])
def test_disclosure_label(your_brand, branded, label):
    assert disclosure_label(your_brand, branded) == label


@pytest.mark.parametrize("values, result", [
    ({"x": "on"}, True), ({"x": "1"}, True), ({"x": "yes"}, True), ({"x": ""}, False), ({"x": "off"}, False),
    ({"x": "false"}, False), ({"x": "0"}, False), ({}, False),
])
def test_ticked(values, result):
    assert ticked(values, "x") is result


def test_the_media_summary_gives_the_facts_the_limit_and_problems_without_the_path():
    summary = media_summary(LONG, 60)
    assert summary["max_duration_s"] == 60 and summary["duration_s"] == 61.0 and summary["codec_label"] == "H.264"
    (problem,) = summary["problems"]
    assert "over the longest video this account may post: 1 min" in problem and "/srv/media" not in problem
    assert "max_video_post_duration_sec" not in problem  # creator_info's field is the manifest's word, not the page's
    assert media_summary(CLIP, 600)["problems"] == []
