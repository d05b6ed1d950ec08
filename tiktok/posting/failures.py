"""Why a post failed, for people: the reason in plain words, with TikTok's code, its message and the ``log_id``
kept apart as details (:func:`failure_of`). The Posts page and ``python -m tiktok queue`` show the same words.

The words for TikTok's codes are :mod:`tiktok.words` (every code of the reference's error tables: the
``fail_reason`` values of ``/v2/post/publish/status/fetch/`` and the error codes of the init endpoints among them).
A failure with no TikTok code (a missing file, a field that is not valid) is already one of this tool's sentences:
it is the reason as it stands. Pure: a record in, words out.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiktok.store.records import PostRecord
from tiktok.words import WORDS, code_in, read

__all__ = ["WORDS", "Failure", "failure_of", "recorded", "where_met"]


@dataclass(frozen=True)
class Failure:
    """A failed attempt for people: ``reason`` in plain words; ``details`` what TikTok said (its code, message and
    log_id), empty when there is nothing more; ``code`` TikTok's code when there is one."""

    reason: str
    details: str = ""
    code: str | None = None


def failure_of(record: PostRecord) -> Failure:
    """The reason of ``record``'s failure in plain words, and the details apart (see the module docstring)."""
    said = recorded(record)
    code = record.fail_reason or code_in(record.error)
    if code in WORDS:
        return Failure(WORDS[code], _apart(record) or said, code)
    if record.log_id and record.error and record.log_id not in record.error:
        return Failure(record.error, f"log_id {record.log_id}", code)
    return Failure(said or "the attempt failed (no reason was recorded)", "", code)


def recorded(record: PostRecord) -> str:
    """What the run recorded, as one line: its error (or TikTok's fail_reason) and the log_id."""
    text = record.error or (f"TikTok failed the post: {record.fail_reason}" if record.fail_reason else "")
    if record.fail_reason and record.fail_reason not in text:
        text = f"{text} ({record.fail_reason})" if text else record.fail_reason
    if record.log_id and record.log_id not in text:
        text = f"{text} (log_id {record.log_id})" if text else f"log_id {record.log_id}"
    return text


def _apart(record: PostRecord) -> str:
    """The details part of an error written as ``sentence (code ...; log_id ...)`` (:class:`tiktok.words.Words`),
    with the record's log_id when the part lacks it; "" for an error written otherwise."""
    words = read(record.error or "")
    if not words.details.startswith("code "):
        return ""
    if record.log_id and record.log_id not in words.details:
        return f"{words.details}; log_id {record.log_id}"
    return words.details


def where_met(record: PostRecord, *, pid: bool = False) -> str:
    """``on cron-box`` (``pid`` adds ``, pid 4242``): the machine whose run wrote the record last; "" when the
    record predates that being kept."""
    if not record.host:
        return ""
    return f"on {record.host}" + (f", pid {record.pid}" if pid and record.pid else "")
