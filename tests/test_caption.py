"""Captions: tags joined in order, duplicates dropped, length counted in UTF-16 units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiktok.posting.caption import (
    Caption,
    CaptionTooLong,
    build_caption,
    normalise_tag,
    unique_tags,
    utf16_len,
)
from tiktok.errors import TikTokError


@pytest.mark.parametrize(("description", "tags", "text"), [
    ("Sunset run", ["running", "#sunset"], "Sunset run #running #sunset"),
    ("Sunset run", [], "Sunset run"),
    ("", ["a", "b"], "#a #b"),
    ("  padded \n", ["x"], "padded #x"),
    ("dupes", ["Cat", "#cat", "CAT", "dog", "##dog"], "dupes #Cat #dog"),
    ("keeps order", ["zeta", "alpha", "mid"], "keeps order #zeta #alpha #mid"),
    ("", [], ""),
])
def test_build_caption(description: str, tags: list[str], text: str) -> None:
    assert build_caption(description, tags) == Caption(text, ())


@pytest.mark.parametrize(("text", "units"), [
    ("abc", 3),
    ("é", 1),
    ("日本", 2),
    ("😀", 2),  # outside the BMP: a surrogate pair
    ("👍🏽", 4),  # emoji plus skin-tone modifier
    ("a😀b", 4),
])
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


def test_tags_dropped_from_the_end_when_over_limit() -> None:
    caption = build_caption("hello", ["one", "two", "three"], limit=len("hello #one #two"))
    assert caption == Caption("hello #one #two", ("three",))


def test_a_tag_is_never_cut_in_half() -> None:
    caption = build_caption("hello", ["one", "two"], limit=len("hello #one #tw"))
    assert caption.text == "hello #one"
    assert caption.dropped_tags == ("two",)


def test_emoji_count_twice_against_the_limit() -> None:
    # "😀 #a" is 5 UTF-16 units but only 4 code points: a code-point count would wrongly keep the tag.
    assert build_caption("😀", ["a"], limit=4) == Caption("😀", ("a",))
    assert build_caption("😀", ["a"], limit=5) == Caption("😀 #a", ())


def test_emoji_tag_counts_in_utf16_units() -> None:
    caption = build_caption("x", ["🔥🔥"], limit=utf16_len("x #🔥🔥") - 1)
    assert caption == Caption("x", ("🔥🔥",))


def test_description_exactly_at_limit_drops_all_tags() -> None:
    assert build_caption("a" * 10, ["t"], limit=10) == Caption("a" * 10, ("t",))


@pytest.mark.parametrize(("description", "limit", "over"), [
    ("a" * 2201, 2200, 1),
    ("😀" * 1101, 2200, 2),
    ("abcdef", 4, 2),
])
def test_description_over_limit_raises_with_the_excess(description: str, limit: int, over: int) -> None:
    with pytest.raises(CaptionTooLong, match=f"{over} over the limit of {limit}") as caught:
        build_caption(description, ["tag"], limit=limit)
    assert isinstance(caught.value, TikTokError)


@pytest.mark.parametrize("tag", ["", "#", "##", "two words", "tab\there", "#new\nline"])
def test_bad_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError):
        normalise_tag(tag)


def test_unique_tags_keeps_first_spelling() -> None:
    assert unique_tags(["#Foo", "foo", "Bar", "#FOO", "bar"]) == ["Foo", "Bar"]


tag_text = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"), blacklist_characters="#"),
    min_size=1, max_size=20)


@given(description=st.text(max_size=60), tags=st.lists(tag_text, max_size=12), limit=st.integers(0, 120))
def test_caption_never_exceeds_the_limit(description: str, tags: list[str], limit: int) -> None:
    if utf16_len(description.strip()) > limit:
        with pytest.raises(CaptionTooLong):
            build_caption(description, tags, limit=limit)
        return
    caption = build_caption(description, tags, limit=limit)
    assert utf16_len(caption.text) <= limit
    assert caption.text.startswith(description.strip())
    kept = [piece[1:] for piece in caption.text[len(description.strip()):].split()]
    # Kept tags plus dropped tags are exactly the de-duplicated tags, in order.
    assert kept + list(caption.dropped_tags) == unique_tags(tags)
