"""Subtitle files as cues, and cues as text, SubRip and WebVTT: so captions TikTok already made can be stored in the
same three forms as an AssemblyAI transcript (pure functions, no I/O).

Only what a caption track needs is read: cue timings and payload text. WebVTT headers, ``NOTE``/``STYLE``/``REGION``
blocks, cue identifiers and cue settings are skipped; inline tags (``<c>``, ``<v Speaker>``, karaoke timestamps) are
removed and the five character references WebVTT defines are decoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TIMING = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})")
_TAG = re.compile(r"<[^>]*>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&nbsp;": " ", "&lrm;": "", "&rlm;": "", "&amp;": "&"}  # &amp; last
_SKIPPED_BLOCKS = ("WEBVTT", "NOTE", "STYLE", "REGION")


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str  # payload lines joined by "\n", tags removed


def parse_subtitles(text: str) -> list[Cue]:
    """The cues of a WebVTT or SubRip file (both are blocks separated by blank lines, with one timing line each)."""
    cues = []
    for block in re.split(r"\r?\n\s*\r?\n", text.lstrip("\ufeff")):
        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines or lines[0].split(" ", 1)[0].split("\t", 1)[0] in _SKIPPED_BLOCKS:
            continue
        timing = next((i for i, line in enumerate(lines[:2]) if _TIMING.match(line)), None)
        if timing is None:
            continue  # not a cue (a stray index, or a broken block): skip it rather than fail the whole file
        start, end = _TIMING.match(lines[timing]).groups()  # type: ignore[union-attr]
        payload = "\n".join(clean for line in lines[timing + 1:] if (clean := _clean(line)))
        if payload:
            cues.append(Cue(_ms(start), _ms(end), payload))
    return cues


def plain_text(cues: list[Cue]) -> str:
    """The spoken words: every cue's text on one line, with a line a rolling caption repeats kept once."""
    lines: list[str] = []
    for cue in cues:
        for line in cue.text.splitlines():
            if not lines or lines[-1] != line:
                lines.append(line)
    return " ".join(lines)


def render_srt(cues: list[Cue]) -> str:
    """SubRip: numbered cues, a comma before the milliseconds."""
    return "".join(f"{n}\n{_stamp(c.start_ms, ',')} --> {_stamp(c.end_ms, ',')}\n{c.text}\n\n"
                   for n, c in enumerate(cues, start=1))


def render_vtt(cues: list[Cue]) -> str:
    """WebVTT: the header, then cues with a dot before the milliseconds."""
    return "WEBVTT\n\n" + "".join(f"{_stamp(c.start_ms, '.')} --> {_stamp(c.end_ms, '.')}\n{c.text}\n\n"
                                  for c in cues)


def _clean(line: str) -> str:
    text = _TAG.sub("", line)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return " ".join(text.split())


def _ms(stamp: str) -> int:
    parts = stamp.replace(",", ".").split(":")
    hours = int(parts[0]) if len(parts) == 3 else 0
    seconds, millis = parts[-1].split(".")
    return ((hours * 60 + int(parts[-2])) * 60 + int(seconds)) * 1000 + int(millis)


def _stamp(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02}:{minutes:02}:{seconds:02}{separator}{millis:03}"
