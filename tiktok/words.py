"""TikTok's error codes in plain words: what happened and what a person can do, with TikTok's code, its message and
the ``log_id`` kept apart as details (:func:`plain`, :func:`said`).

The codes are those of the reference's error tables (/work/shared/reference/tiktok-open-api.md): the OAuth
``error`` values (0.3), the Content Posting API's ``error.code`` values (3.1 to 3.6) and its ``fail_reason`` values
(3.5), and the Display API's codes (6.5). tests/test_words.py reads those tables and fails when one of their codes
has no words here. ``ok`` is not an error and has none.

A sentence starts in lower case (or with "TikTok") and has no full stop, because the lines compose it after a
colon (``post 3 failed: ...``); it never names a code, so people read what happened, and the details keep the code
for support (``code spam_risk_text; TikTok said "..."; log_id 2026...``). A stored text written as
``sentence (details)`` by :class:`Words` reads back with :func:`read`; so does an older text that only holds the
code (a relink reason or a post's error from an earlier version). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tiktok.errors import APIError, OAuthError, RelinkNeeded

_RELINK = "link the account again in the app"

WORDS = {
    # -- OAuth: the token, revoke and QR endpoints' ``error`` (reference 0.3), and the login callback's
    "access_denied": "the sign-in was declined on TikTok's page: link the account again and allow this app there",
    "invalid_client": "TikTok does not recognise this app's client key or secret: check TIKTOK_CLIENT_KEY and "
                      "TIKTOK_CLIENT_SECRET against TikTok's developer portal",
    "invalid_grant": "TikTok no longer accepts this account's sign-in: link it again in the app",
    "invalid_request": "TikTok refused the sign-in request (most often the redirect address is not the one "
                       "registered for the app): check TIKTOK_REDIRECT_URI against TikTok's developer portal, then "
                       + _RELINK,
    "invalid_scope": "TikTok does not allow this app a permission it asked for: keep TIKTOK_SCOPES to the scopes "
                     "approved for the app in TikTok's developer portal, then " + _RELINK,
    "unauthorized_client": "TikTok does not let this app sign in this way: check the app's products and settings in "
                           "TikTok's developer portal",
    "unsupported_grant_type": "TikTok does not support the kind of sign-in this tool asked for: update this tool, "
                              "then " + _RELINK,
    "unsupported_response_type": "TikTok does not support the kind of sign-in page this tool asked for: update this "
                                 "tool, then " + _RELINK,
    "server_error": "TikTok's sign-in service had a problem of its own: try again in a few minutes",
    "temporarily_unavailable": "TikTok's sign-in service is unavailable for the moment: try again in a few minutes",
    # -- the Content Posting API's error.code (reference 3.1 to 3.6) and the Display API's (6.5)
    "access_token_invalid": "TikTok refused the account's tokens: " + _RELINK,
    "scope_not_authorized": "the account did not grant a permission this needs: link it again in the app and allow "
                            "it",
    "scope_permission_missed": "the account did not grant a permission this needs: link it again in the app and "
                               "allow it",
    "rate_limit_exceeded": "TikTok asked for fewer requests for a while (its rate limit): wait a minute, then try "
                           "again",
    "internal_error": "TikTok had a problem of its own: try again later",
    "invalid_param": "TikTok refused a value of the post as not valid (the details say which): fix it, then retry",
    "invalid_params": "TikTok refused a value this tool asked for as not valid (the details say which): update this "
                      "tool, or report it",
    "invalid_file_upload": "TikTok refused the uploaded file as not meeting its rules: check the file against "
                           "TikTok's media rules, then retry",
    "app_version_check_failed": "the account's TikTok app is too old to receive drafts: update the TikTok app on the "
                                "phone, then retry",
    "spam_risk_too_many_posts": "the account reached TikTok's daily limit of posts made through apps: it can post "
                                "again tomorrow",
    "spam_risk_user_banned_from_posting": "TikTok does not allow this account to post at the moment",
    "spam_risk_too_many_pending_share": "the account has too many drafts waiting in its TikTok inbox: finish or "
                                        "delete some, then retry",
    "reached_active_user_cap": "this app reached TikTok's daily limit of accounts posting through it: try again "
                               "tomorrow",
    "unaudited_client_can_only_post_to_private_accounts": "TikTok has not audited this app yet, so it posts only "
                                                          "from private accounts and only as \"Only me\": make the "
                                                          "TikTok account private and choose \"Only me\" (or send "
                                                          "it to the inbox), then retry",
    "url_ownership_unverified": "TikTok has not verified that this app owns the address it was to pull the media "
                                "from: verify its domain or URL prefix in TikTok's developer portal (README: \"Media "
                                "TikTok pulls\"), then retry (a video can be uploaded as a file instead)",
    "privacy_level_option_mismatch": "the privacy level is not one this account offers: choose who can see the post "
                                     "again, then retry",
    "invalid_publish_id": "TikTok does not know this post's publish id (it may have expired): check the profile, "
                          "then post it again if it is not there",
    "token_not_authorized_for_specified_publish_id": "TikTok says this post belongs to another account than the one "
                                                     "asking: check which account the post names",
    "publish_not_cancellable": "TikTok can no longer cancel this post: it already finished",
    # -- the publish status' fail_reason (reference 3.5)
    "file_format_check_failed": "TikTok could not read the media's format: re-encode a video as MP4 (H.264), or use "
                                "JPEG or WebP photos, then retry",
    "duration_check_failed": "the video is longer (or shorter) than TikTok lets this account post: trim it, "
                             "then retry",
    "frame_rate_check_failed": "TikTok does not take the video's frame rate: re-encode it at 23 to 60 frames a "
                               "second, then retry",  # reference 5 (tests/test_words.py holds it to posting.media)
    "picture_size_check_failed": "TikTok does not take the picture size: resize the video or photos, then retry",
    "internal": "TikTok had a problem of its own while processing the post: try again later",
    "video_pull_failed": "TikTok could not download the video from its URL: check that the URL answers publicly, "
                         "then retry",
    "photo_pull_failed": "TikTok could not download the photos from their URLs: check that they answer publicly, "
                         "then retry",
    "publish_cancelled": "the post was cancelled at TikTok before it finished",
    "auth_removed": "the account took this app's access away: link it again in the app, then retry",
    "spam_risk_text": "TikTok flagged the caption as spam: change the text and retry",
    "spam_risk": "TikTok judged the post as spam: change it before sending it again",
    # -- this tool's own code for an answer outside TikTok's contract (tiktok.errors.error_from_envelope)
    "malformed_response": "TikTok answered in a way this tool does not understand: try again later",
}
NOT_ERRORS = frozenset({"ok"})  # success, in every table
UNKNOWN = "TikTok refused with a reason this tool has no words for yet: the details hold TikTok's own"

# Codes found inside a recorded text: only those with an underscore, so an ordinary word is never a code.
_CODE_IN_TEXT = re.compile(r"\b(" + "|".join(sorted((c for c in WORDS if "_" in c), key=len, reverse=True))
                           + r")\b")
_COMPOSED = re.compile(r"(?P<sentence>.+) \((?P<details>code (?P<code>[a-z0-9_]+)\b.*)\)", re.S)


@dataclass(frozen=True)
class Words:
    """What happened in plain words (``sentence``), and the ``details`` apart: TikTok's code, its message and the
    log_id (empty when there is nothing more). ``str()`` is the line: ``sentence (details)``."""

    sentence: str
    details: str = ""
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.sentence} ({self.details})" if self.details else self.sentence


def plain(code: str, *, message: str = "", log_id: str | None = None) -> Words:
    """TikTok's ``code`` in plain words, with the code, TikTok's ``message`` and the ``log_id`` as details."""
    return Words(WORDS.get(code, UNKNOWN), details_line(code, message=message, log_id=log_id), code)


def details_line(code: str | None, *, message: str = "", log_id: str | None = None) -> str:
    """``code spam_risk_text; TikTok said "..."; log_id 2026...``: what support needs, in one line."""
    parts = [f"code {code}"] if code else []
    parts += [f'TikTok said "{message.strip()}"'] if message and message.strip() else []
    parts += [f"log_id {log_id}"] if log_id else []
    return "; ".join(parts)


def said(error: BaseException) -> Words:
    """An error in plain words: TikTok's code (an API or OAuth error) through :func:`plain`, a relink through
    :func:`relink`; any other error is already this tool's own sentence."""
    if isinstance(error, APIError):
        return plain(error.code, message=error.message, log_id=error.log_id)
    if isinstance(error, OAuthError):
        return plain(error.error, message=error.description, log_id=error.log_id)
    if isinstance(error, RelinkNeeded):
        return relink(error.reason)
    return Words(str(error))


def code_in(text: str | None) -> str | None:
    """The first code of the tables found in a recorded text (``TikTok refused: spam_risk_text: ...``), or None."""
    match = _CODE_IN_TEXT.search(text or "")
    return match.group(1) if match else None


def read(text: str) -> Words:
    """A stored text back in words: ``sentence (code ...)`` as :class:`Words` writes it; an older text holding a
    code gets that code's words, the text itself its details; any other text is its own sentence."""
    composed = _COMPOSED.fullmatch(text.strip())
    if composed:
        return Words(composed["sentence"], composed["details"], composed["code"])
    code = code_in(text)
    if code is not None:
        return Words(WORDS[code], text.strip(), code)
    return Words(text.strip())


def relink(reason: str) -> Words:
    """Why an account must be linked again, from its stored reason (this version's or an older one): a sentence
    that ends with what to do, the details apart."""
    words = read(reason) if reason.strip() else Words("TikTok no longer accepts this account's sign-in")
    if "again in the app" not in words.sentence:
        words = replace(words, sentence=f"{words.sentence}: {_RELINK}")
    return words
