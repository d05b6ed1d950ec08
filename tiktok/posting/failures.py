"""Why a post failed, for people: the reason in plain words, with TikTok's code, its message and the ``log_id``
kept apart as details (:func:`failure_of`). The Posts page and ``python -m tiktok queue`` show the same words.

The words for TikTok's codes follow the Content Posting API reference: the ``fail_reason`` values of
``/v2/post/publish/status/fetch/`` and the error codes of the init endpoints. A failure with no TikTok code (a
missing file, a field that is not valid) is already one of this tool's sentences: it is the reason as it stands.
Pure: a record in, words out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tiktok.posting.media import MAX_FPS, MIN_FPS
from tiktok.store.records import PostRecord

# TikTok's codes in plain words: what happened, and what to do when a person can do something.
WORDS = {
    # publish status fail_reason values
    "file_format_check_failed": "TikTok could not read the video's format: re-encode it as MP4 (H.264), then retry",
    "duration_check_failed": "the video is longer (or shorter) than TikTok lets this account post: trim it, "
                             "then retry",
    "frame_rate_check_failed": f"TikTok does not take the video's frame rate: re-encode it at {MIN_FPS} to "
                               f"{MAX_FPS} frames a second, then retry",
    "picture_size_check_failed": "TikTok does not take the picture size: resize the video or photos, then retry",
    "internal": "TikTok had a problem of its own while processing the post",
    "video_pull_failed": "TikTok could not download the video from its URL: check that the URL answers publicly",
    "photo_pull_failed": "TikTok could not download the photos from their URLs: check that they answer publicly",
    "publish_cancelled": "the post was cancelled at TikTok",
    "auth_removed": "the account took this app's access away: link it again in the app, then retry",
    "spam_risk_too_many_posts": "the account reached TikTok's daily limit of posts made through apps: it can post "
                                "again tomorrow",
    "spam_risk_user_banned_from_posting": "TikTok does not let this account post at the moment",
    "spam_risk_text": "TikTok took the caption for spam: change it, then retry",
    "spam_risk": "TikTok took the post for spam",
    # error codes of the init endpoints and creator_info
    "spam_risk_too_many_pending_share": "the account has too many drafts waiting in its TikTok inbox: finish or "
                                        "delete some, then retry",
    "reached_active_user_cap": "this app reached TikTok's daily limit of accounts posting through it: try again "
                               "tomorrow",
    "unaudited_client_can_only_post_to_private_accounts": "TikTok has not audited this app yet, so it may post only "
                                                          "privately (SELF_ONLY): change the privacy, then retry",
    "url_ownership_unverified": "TikTok has not verified that this app owns the address it was to pull the media "
                                "from: verify its domain or URL prefix in TikTok's developer portal (README: \"Media "
                                "TikTok pulls\"), or upload a video file instead",
    "privacy_level_option_mismatch": "the privacy level is not one this account offers: choose another, then retry",
    "access_token_invalid": "TikTok refused the account's tokens: link the account again in the app",
    "scope_not_authorized": "the account did not grant a permission posting needs: link it again and allow it",
    "scope_permission_missed": "the account did not grant a permission posting needs: link it again and allow it",
    "rate_limit_exceeded": "TikTok's rate limit for this account was reached",
    "internal_error": "TikTok had a problem of its own",
}
# Codes found inside a recorded error's text: only those with an underscore, so an ordinary word is never a code.
_CODE_IN_TEXT = re.compile(r"\b(" + "|".join(sorted((c for c in WORDS if "_" in c), key=len, reverse=True))
                           + r")\b")


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
    code = record.fail_reason or _code_in(record.error)
    if code in WORDS:
        return Failure(WORDS[code], said, code)
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


def _code_in(text: str | None) -> str | None:
    match = _CODE_IN_TEXT.search(text or "")
    return match.group(1) if match else None


def where_met(record: PostRecord, *, pid: bool = False) -> str:
    """``on cron-box`` (``pid`` adds ``, pid 4242``): the machine whose run wrote the record last; "" when the
    record predates that being kept."""
    if not record.host:
        return ""
    return f"on {record.host}" + (f", pid {record.pid}" if pid and record.pid else "")
