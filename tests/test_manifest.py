"""videos_to_upload.json validation: every bad entry reported by name, good entries kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiktok.errors import TikTokError
from tiktok.posting.manifest import (
    MAX_PHOTOS,
    PRIVACY_LEVELS,
    TOGGLE_FIELDS,
    ManifestError,
    PostRequest,
    load_manifest,
    validate_manifest,
)

SOURCE = "videos_to_upload.json"
USER = "open-id-1"
PHOTO = "https://media.example.com/p/1.jpg"


def entry(**fields: Any) -> dict[str, Any]:
    """A valid file-post entry with ``fields`` laid over it (a value of ... removes the key)."""
    base: dict[str, Any] = {"user_id": USER, "video_path": "/videos/a.mp4"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


BAD_ENTRIES = [
    pytest.param(entry(tags=3), "tags", "expected a list of strings, got int", id="tags-int"),
    pytest.param(entry(tags=["ok", 7]), "tags", "item 1 is int", id="tags-item-int"),
    pytest.param(entry(tags=["two words"]), "tags", "contains whitespace", id="tag-with-space"),
    pytest.param(entry(tags=["#"]), "tags", "is empty", id="tag-empty"),
    pytest.param(entry(user_id=...), "user_id", "required", id="missing-user-id"),
    pytest.param(entry(user_id=42), "user_id", "expected a string, got int", id="user-id-int"),
    pytest.param(entry(user_id=""), "user_id", "must not be empty", id="user-id-empty"),
    pytest.param(entry(user_id=None), "user_id", "expected a string, got null", id="user-id-null"),
    pytest.param(entry(video_url="https://media.example.com/v.mp4"), None,
                 'got "video_path" and "video_url"', id="two-sources"),
    pytest.param(entry(video_path=...), None, "got none", id="no-source"),
    pytest.param(entry(privacy="PUBLIC"), "privacy", "expected one of PUBLIC_TO_EVERYONE", id="bad-privacy"),
    pytest.param(entry(privacy=True), "privacy", "expected a string, got bool", id="privacy-bool"),
    pytest.param(entry(draft="yes"), "draft", "expected true or false, got string", id="draft-string"),
    pytest.param(entry(disable_comment=1), "disable_comment", "got int", id="toggle-int"),
    pytest.param(entry(video_cover_timestamp_ms=-1), "video_cover_timestamp_ms", "0 or more", id="cover-ms-neg"),
    pytest.param(entry(video_cover_timestamp_ms=1.5), "video_cover_timestamp_ms", "got float", id="cover-ms-float"),
    pytest.param(entry(video_cover_timestamp_ms=True), "video_cover_timestamp_ms", "got bool", id="cover-ms-bool"),
    pytest.param(entry(description=["x"]), "description", "expected a string, got list", id="description-list"),
    pytest.param(entry(description="a" * 2201), "description", "1 over the limit of 2200", id="caption-too-long"),
    pytest.param(entry(video_path=..., photo_urls=[PHOTO] * (MAX_PHOTOS + 1)), "photo_urls",
                 "needs 1 to 35 photos, got 36", id="too-many-photos"),
    pytest.param(entry(video_path=..., photo_urls=[]), "photo_urls", "got 0", id="no-photos"),
    pytest.param(entry(video_path=..., photo_urls=PHOTO), "photo_urls", "got string", id="photos-not-list"),
    pytest.param(entry(video_path=..., photo_urls=[PHOTO, PHOTO], photo_cover_index=2), "photo_cover_index",
                 "only 2 photos", id="cover-index-out-of-range"),
    pytest.param(entry(photo_cover_index=0), "photo_cover_index", 'only applies with "photo_urls"',
                 id="cover-index-without-photos"),
    pytest.param(entry(video_path=..., photo_urls=["http://media.example.com/p.jpg"]), "photo_urls",
                 "item 0: must be an https:// URL", id="photo-http"),
    pytest.param(entry(video_path=..., video_url="http://media.example.com/v.mp4"), "video_url",
                 "must be an https:// URL", id="video-url-http"),
    pytest.param(entry(video_path=..., video_url="https://203.0.113.9/v.mp4"), "video_url",
                 "not an IP address", id="video-url-ip"),
    pytest.param(entry(video_path=..., video_url="https:///v.mp4"), "video_url", "not a valid URL",
                 id="video-url-no-host"),
    pytest.param(entry(tgas=["x"]), "tgas", 'unknown field (did you mean "tags"?)', id="unknown-key-typo"),
    pytest.param(entry(colour="red"), "colour", "unknown field", id="unknown-key"),
    pytest.param(entry(title="Hi"), "title", "only applies to photo posts", id="title-on-video"),
    pytest.param(entry(video_path=..., photo_urls=[PHOTO], title="x" * 91), "title",
                 "91 UTF-16 units, over the photo title limit of 90", id="photo-title-too-long"),
    pytest.param(entry(video_path=..., photo_urls=[PHOTO], title="😀" * 46), "title",
                 "92 UTF-16 units", id="photo-title-emoji"),
]


@pytest.mark.parametrize(("raw", "field", "needle"), BAD_ENTRIES)
def test_bad_entry_is_reported_and_left_out(raw: dict[str, Any], field: str | None, needle: str) -> None:
    result = validate_manifest([raw], source=SOURCE)
    assert result.entries == []
    assert not result.ok
    matching = [p for p in result.problems if p.field == field and needle in p.message]
    assert matching, [p.message for p in result.problems]
    problem = matching[0]
    assert problem.index == 0
    assert problem.message.startswith(f"{SOURCE}: entry 1 (")
    if field is not None:
        assert f'field "{field}": ' in problem.message


def test_message_reads_like_the_spec() -> None:
    result = validate_manifest([entry(), entry(), entry(tags=3)], source=SOURCE)
    assert [str(p) for p in result.problems] == [
        f"{SOURCE}: entry 3 (user_id '{USER}'): field \"tags\": expected a list of strings, got int"]
    assert result.problems[0].index == 2


def test_every_bad_entry_reported_and_good_ones_kept() -> None:
    data = [entry(), entry(privacy="NOPE"), "not an object", entry(video_path="/videos/b.mp4"), entry(tags=1)]
    result = validate_manifest(data, source=SOURCE)
    assert [e.index for e in result.entries] == [0, 3]
    assert sorted({p.index for p in result.problems}) == [1, 2, 4]
    assert "entry 3: expected an object, got string" in result.problems[1].message


def test_several_problems_in_one_entry_are_all_reported() -> None:
    result = validate_manifest([entry(user_id=..., privacy="x", tags=2, extra=1)], source=SOURCE)
    assert {p.field for p in result.problems} == {"user_id", "privacy", "tags", "extra"}
    assert all("(no user_id)" in p.message for p in result.problems)


@pytest.mark.parametrize(("data", "needle"), [
    ({"entries": []}, 'expected a list of entries or {"videos": [...]}, got object'),
    ("hello", "got string"),
    (None, "got null"),
    ({"videos": 3}, "got int"),
    ({"videos": [], "extra": 1}, 'unknown top-level field "extra"'),
])
def test_bad_top_level(data: Any, needle: str) -> None:
    result = validate_manifest(data, source=SOURCE)
    assert any(needle in p.message and p.index is None for p in result.problems), result.problems


def test_videos_wrapper_is_accepted() -> None:
    result = validate_manifest({"videos": [entry()]}, source=SOURCE)
    assert result.ok and len(result.entries) == 1


def test_kinds_of_post() -> None:
    data = [
        entry(),
        entry(video_path=..., video_url="https://media.example.com/v.mp4?sig=abc"),
        entry(draft=True),
        entry(video_path=..., photo_urls=[PHOTO, PHOTO], photo_cover_index=1, draft=True, title="T"),
    ]
    kinds = [(e.media_type, e.source, e.post_mode) for e in validate_manifest(data, source=SOURCE).entries]
    assert kinds == [
        ("VIDEO", "FILE_UPLOAD", "DIRECT_POST"),
        ("VIDEO", "PULL_FROM_URL", "DIRECT_POST"),
        ("VIDEO", "FILE_UPLOAD", "MEDIA_UPLOAD"),
        ("PHOTO", "PULL_FROM_URL", "MEDIA_UPLOAD"),
    ]


def test_defaults_and_null_means_unset() -> None:
    [request] = validate_manifest([entry(privacy=None, tags=None)], source=SOURCE).entries
    assert request == PostRequest(index=0, user_id=USER, video_path=Path("/videos/a.mp4"))
    assert (request.draft, request.privacy, request.tags, request.caption_limit) == (False, None, (), 2200)


def test_tags_are_normalised() -> None:
    [request] = validate_manifest([entry(tags=["#a", "b", "##c"])], source=SOURCE).entries
    assert request.tags == ("a", "b", "c")


def test_video_draft_with_caption_and_privacy_warns_but_is_kept() -> None:
    result = validate_manifest([entry(draft=True, description="hi", privacy="SELF_ONLY", is_aigc=True)],
                               source=SOURCE)
    assert result.ok and len(result.entries) == 1
    assert {w.field for w in result.warnings} == {"description", "privacy", "is_aigc"}
    assert all("inbox" in w.message for w in result.warnings)


@pytest.mark.parametrize(("draft", "fields"), [
    (False, {"disable_duet", "video_cover_timestamp_ms"}),
    (True, {"disable_duet", "video_cover_timestamp_ms", "privacy", "disable_comment"}),
])
def test_photo_posts_warn_about_settings_they_cannot_carry(draft: bool, fields: set[str]) -> None:
    raw = entry(video_path=..., photo_urls=[PHOTO], draft=draft, disable_duet=True, video_cover_timestamp_ms=5,
                privacy="SELF_ONLY", disable_comment=False, title="ok", description="kept")
    result = validate_manifest([raw], source=SOURCE)
    assert result.ok
    assert {w.field for w in result.warnings} == fields


def test_tags_that_push_the_caption_over_warn() -> None:
    result = validate_manifest([entry(description="a" * 2195, tags=["ab", "toolong"])], source=SOURCE)
    assert result.ok
    [warning] = result.warnings
    assert warning.field == "tags" and "#toolong" in warning.message and "#ab" not in warning.message


def test_relative_video_path_resolves_against_base_dir(tmp_path: Path) -> None:
    data = [entry(video_path="clips/a.mp4"), entry(video_path="/abs/b.mp4")]
    paths = [e.video_path for e in validate_manifest(data, source=SOURCE, base_dir=tmp_path).entries]
    assert paths == [tmp_path / "clips" / "a.mp4", Path("/abs/b.mp4")]


def test_load_manifest_resolves_against_the_files_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "videos_to_upload.json").write_text(json.dumps([entry(video_path="a.mp4")]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a relative manifest path still yields an absolute video path
    [request] = load_manifest(Path("posts/videos_to_upload.json")).entries
    assert request.video_path == folder / "a.mp4"


def test_load_manifest_accepts_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([entry()]).encode())
    assert load_manifest(path).ok


@pytest.mark.parametrize(("content", "needle"), [
    ('[\n  {"user_id": "a",\n   "video_path": "x.mp4",}\n]', "malformed JSON at line 3, column 26"),
    ("", "malformed JSON at line 1, column 1"),
    (b"[\xff]", "not UTF-8"),
])
def test_load_manifest_bad_file(tmp_path: Path, content: str | bytes, needle: str) -> None:
    path = tmp_path / "videos_to_upload.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ManifestError, match=needle) as caught:
        load_manifest(path)
    assert isinstance(caught.value, TikTokError)
    assert caught.value.path == str(path) and str(path) in str(caught.value)


@pytest.mark.parametrize(("make", "needle"), [
    (lambda tmp: tmp / "missing.json", "file not found"),
    (lambda tmp: tmp, "is a folder"),
])
def test_load_manifest_unusable_path(tmp_path: Path, make: Any, needle: str) -> None:
    with pytest.raises(ManifestError, match=needle):
        load_manifest(make(tmp_path))


def test_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parent.parent / "videos_to_upload.json.example"
    result = load_manifest(example)
    assert result.ok and result.warnings == []
    assert {(e.media_type, e.source, e.post_mode) for e in result.entries} == {
        ("VIDEO", "FILE_UPLOAD", "DIRECT_POST"), ("VIDEO", "PULL_FROM_URL", "DIRECT_POST"),
        ("VIDEO", "FILE_UPLOAD", "MEDIA_UPLOAD"), ("PHOTO", "PULL_FROM_URL", "DIRECT_POST")}


# ---- round trip -------------------------------------------------------------------------------------------------

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
texts = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))  # any text but NUL and lone surrogates (refused)
https_urls = st.builds(lambda host, name: f"https://{host}.example.com/{name}.mp4", words, words)


@st.composite
def valid_entries(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {"user_id": draw(words)}
    kind = draw(st.sampled_from(["file", "url", "photo"]))
    if kind == "file":
        raw["video_path"] = "/" + draw(words) + ".mp4"
    elif kind == "url":
        raw["video_url"] = draw(https_urls)
    else:
        raw["photo_urls"] = draw(st.lists(https_urls, min_size=1, max_size=MAX_PHOTOS))
        raw["photo_cover_index"] = draw(st.integers(0, len(raw["photo_urls"]) - 1))
        if draw(st.booleans()):
            raw["title"] = draw(st.text(texts, max_size=45))
    optional = {
        "description": st.text(texts, max_size=80),
        "tags": st.lists(words, max_size=6, unique_by=str.casefold),
        "privacy": st.sampled_from(PRIVACY_LEVELS),
        "draft": st.booleans(),
        **{name: st.booleans() for name in TOGGLE_FIELDS},
        "video_cover_timestamp_ms": st.integers(0, 2**31 - 1),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            raw[name] = draw(strategy)
    return raw


@given(raw=valid_entries())
def test_valid_entries_round_trip(raw: dict[str, Any]) -> None:
    result = validate_manifest([raw], source=SOURCE)
    assert result.problems == []
    [request] = result.entries
    for name, value in raw.items():
        got = getattr(request, name)
        expected = Path(value) if name == "video_path" else value
        assert (list(got) if isinstance(got, tuple) else got) == expected, name
    again = validate_manifest([request.to_entry()], source=SOURCE)
    assert again.entries == [request]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123/v.mp4", "http://localhost:9/v.mp4"])
def test_loopback_media_urls_only_when_talking_to_the_emulator(url):
    entry = [{"user_id": "u", "video_url": url}]
    assert not validate_manifest(entry, source="m.json").ok
    allowed = validate_manifest(entry, source="m.json", allow_loopback=True)
    assert allowed.ok and allowed.entries[0].video_url == url
    assert not validate_manifest([{"user_id": "u", "video_url": "http://example.com/v.mp4"}], source="m.json",
                                 allow_loopback=True).ok
