"""Bounded snippets: a window of text around each match, snapped to word boundaries, a few per transcript.

Pure: the search index finds the matches (FTS5 ``highlight()`` offsets); this cuts what a results page shows, so
a page's size depends on how many hits it lists, never on how long the transcripts are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SNIPPET_RADIUS_CHARS = 60  # context shown either side of a match
MAX_SNIPPETS = 3  # per transcript in search results


@dataclass(frozen=True)
class Snippet:
    """A piece of transcript text around matches; ``matches`` are (start, end) offsets into ``text``."""

    text: str
    matches: tuple[tuple[int, int], ...]
    offset: int  # where ``text`` starts in the full transcript
    cut_before: bool
    cut_after: bool


def make_snippets(text: str, spans: Iterable[tuple[int, int]], radius: int = SNIPPET_RADIUS_CHARS,
                  limit: int = MAX_SNIPPETS) -> tuple[Snippet, ...]:
    """Up to ``limit`` windows of text around the matches, with match offsets relative to each window.

    Close matches share a window, but a window never grows past ``4 * radius`` characters (plus the match that
    ends it): a word found every few words must not turn one snippet into the whole transcript."""
    windows: list[list[int]] = []
    widest = 4 * radius
    seen: list[tuple[int, int]] = []  # the spans read so far: every one inside a window (``spans`` may be lazy)
    for start, end in spans:
        seen.append((start, end))
        lo, hi = _snap_left(text, max(0, start - radius), start), _snap_right(text, min(len(text), end + radius), end)
        if windows and start < windows[-1][1]:  # already shown by the current window
            continue
        if windows and lo <= windows[-1][1] and hi - windows[-1][0] <= widest:
            windows[-1][1] = max(windows[-1][1], hi)
        elif len(windows) < limit:
            windows.append([max(lo, windows[-1][1]) if windows else lo, hi])
        else:
            break
    return tuple(Snippet(text=text[lo:hi], offset=lo, cut_before=lo > 0, cut_after=hi < len(text),
                         matches=tuple((max(s, lo) - lo, min(e, hi) - lo) for s, e in seen if s < hi and e > lo))
                 for lo, hi in windows)


def _snap_left(text: str, lo: int, limit: int) -> int:
    # start the window at a word boundary rather than mid-word, without passing the match
    if lo == 0:
        return 0
    space = text.find(" ", lo, limit)
    return space + 1 if space != -1 else lo


def _snap_right(text: str, hi: int, limit: int) -> int:
    if hi >= len(text):
        return len(text)
    space = text.rfind(" ", limit, hi)
    return space if space != -1 else hi
