"""Build a post caption from a description and hashtags within TikTok's UTF-16 length limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tiktok.errors import TikTokError

VIDEO_CAPTION_LIMIT = 2200  # Direct Post post_info.title, UTF-16 code units (reference 3.2)
PHOTO_TITLE_LIMIT = 90  # photo post_info.title, UTF-16 code units (reference 3.4)
PHOTO_DESCRIPTION_LIMIT = 4000  # photo post_info.description, UTF-16 code units (reference 3.4)


class CaptionTooLong(TikTokError):
    """The description alone is over the limit; tags can be dropped, the user's own text cannot."""

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"description is {length} UTF-16 units, {length - limit} over the limit of {limit}")


@dataclass(frozen=True)
class Caption:
    """The caption to send and the tags left out to make it fit."""

    text: str
    dropped_tags: tuple[str, ...] = ()


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as TikTok counts it (characters outside the BMP, like most emoji, count 2)."""
    return len(text.encode("utf-16-le")) // 2


def normalise_tag(tag: str) -> str:
    """The tag without leading '#'; ValueError when nothing is left or it holds whitespace."""
    bare = tag.lstrip("#")
    if not bare:
        raise ValueError(f"tag {tag!r} is empty")
    if any(ch.isspace() for ch in bare):
        raise ValueError(f"tag {tag!r} contains whitespace; TikTok would end the hashtag there")
    return bare


def unique_tags(tags: Sequence[str]) -> list[str]:
    """Normalised tags in their first order, later case-insensitive duplicates removed."""
    seen: set[str] = set()
    result = []
    for tag in tags:
        bare = normalise_tag(tag)
        key = bare.casefold()
        if key not in seen:
            seen.add(key)
            result.append(bare)
    return result


def build_caption(description: str, tags: Sequence[str], limit: int = VIDEO_CAPTION_LIMIT) -> Caption:
    """Join the description and '#tag's with spaces, dropping whole tags from the end until it fits ``limit``."""
    text = description.strip()
    length = utf16_len(text)
    if length > limit:
        raise CaptionTooLong(length, limit)
    kept: list[str] = []
    wanted = unique_tags(tags)
    for position, tag in enumerate(wanted):
        piece = f"#{tag}"
        extra = utf16_len(piece) + (1 if text or kept else 0)
        if length + extra > limit:
            # Keeping order means the first tag that does not fit ends the list, even if a later one would.
            return Caption(_join(text, kept), tuple(wanted[position:]))
        kept.append(piece)
        length += extra
    return Caption(_join(text, kept))


def _join(text: str, pieces: list[str]) -> str:
    return " ".join([text, *pieces] if text else pieces)
