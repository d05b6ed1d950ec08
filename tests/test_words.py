"""Plain words for TikTok's codes (tiktok.words), as a table read from the reference itself: every code of its error
tables has a sentence a creator can act on, with TikTok's code, message and log_id kept apart as details."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tiktok.errors import OAuthError, RelinkNeeded, TransportError, error_from_envelope
from tiktok.posting.failures import failure_of
from tiktok.posting.media import MAX_FPS, MIN_FPS
from tiktok.store.records import PostRecord
from tiktok.words import NOT_ERRORS, UNKNOWN, WORDS, Words, code_in, plain, read, relink, said

REFERENCE = Path(__file__).parents[2] / "shared/reference/tiktok-open-api.md"
CODE_COLUMNS = {"error", "error.code", "fail_reason"}  # the header of every error table (reference 0.3, 3, 6.5)
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # a field or code name; setting names are upper case
_CELL = re.compile(r"(?<!\\)\|")  # a cell border; "\|" is a pipe inside a cell


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in _CELL.split(line.strip())[1:-1]]


def table_codes(text: str) -> dict[str, str]:
    """Every code in the tables whose header names a code column (``error``, ``error.code``, ``fail_reason``):
    the code, and the heading of the section it was first met in."""
    lines = text.splitlines()
    codes: dict[str, str] = {}
    section, at = "", 0
    while at < len(lines):
        line = lines[at]
        if line.startswith("#"):
            section = line.lstrip("# ").strip()
        separator = at + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[at + 1].strip())
        if line.startswith("|") and separator:
            columns = [n for n, name in enumerate(cells(line)) if name.strip("`") in CODE_COLUMNS]
            at += 2
            while at < len(lines) and lines[at].startswith("|"):
                row = cells(lines[at])
                for n in columns:
                    for code in re.findall(r"`([^`]+)`", row[n] if n < len(row) else ""):
                        codes.setdefault(code, section)
                at += 1
            continue
        at += 1
    return codes


CODES = table_codes(REFERENCE.read_text(encoding="utf-8"))
ERRORS = sorted(set(CODES) - NOT_ERRORS)


def test_the_reference_tables_are_all_read():
    """The parse itself: every error table of the reference is found (so a table the parse missed cannot hide a
    code), and ``ok`` is the only code that is not an error."""
    sections = {section.split()[0] for section in CODES.values()}
    assert {"0.3", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "6.5"} <= sections, sections
    assert {"access_denied", "temporarily_unavailable", "invalid_param", "app_version_check_failed",
            "invalid_publish_id", "token_not_authorized_for_specified_publish_id", "publish_not_cancellable",
            "spam_risk_text", "publish_cancelled", "invalid_file_upload", "invalid_params",
            "scope_permission_missed"} <= set(ERRORS)
    assert set(CODES) - set(ERRORS) == {"ok"} and len(ERRORS) >= 40


@pytest.mark.parametrize("code", ERRORS)
def test_every_code_in_the_references_tables_has_a_plain_sentence(code):
    words = plain(code, message="What TikTok said.", log_id="202612030900ABCDEF")
    assert code in WORDS and words.sentence == WORDS[code] != UNKNOWN, f"{code} ({CODES[code]}) has no words"
    sentence = words.sentence
    assert sentence[0].islower() or sentence.startswith("TikTok"), sentence  # composed after a colon
    assert not sentence.endswith(".") and "\n" not in sentence, sentence
    assert ": " in sentence or code in {"publish_cancelled", "spam_risk_user_banned_from_posting"}, sentence
    assert words.details == f'code {code}; TikTok said "What TikTok said."; log_id 202612030900ABCDEF'
    assert str(words) == f"{sentence} ({words.details})" and read(str(words)) == words  # stored, then read back


def test_no_sentence_names_a_code_or_a_field():
    every_code = set(CODES) | set(WORDS)
    for code, sentence in [*WORDS.items(), ("unknown", UNKNOWN)]:
        assert not SNAKE.search(sentence), (code, sentence)
        named = set(re.findall(r"\b[a-z_]+\b", sentence)) & every_code
        assert not named, (code, named)


def test_a_code_added_to_the_reference_without_words_is_caught():
    added = REFERENCE.read_text(encoding="utf-8") + "\n| HTTP | error.code | meaning |\n|---|---|---|\n" \
                                                    "| 403 | `brand_new_refusal` | new |\n"
    assert set(table_codes(added)) - set(WORDS) - NOT_ERRORS == {"brand_new_refusal"}
    words = plain("brand_new_refusal", log_id="L1")  # still a sentence, with the code in the details
    assert words.sentence == UNKNOWN and words.details == "code brand_new_refusal; log_id L1"


def test_the_frame_rate_words_name_the_limits_the_media_checks_use():
    assert f"{MIN_FPS} to {MAX_FPS} frames a second" in WORDS["frame_rate_check_failed"]


def test_errors_read_in_plain_words_with_the_code_apart():
    refused = error_from_envelope(403, {"error": {"code": "spam_risk_too_many_posts", "message": "Too many.",
                                                  "log_id": "L2"}})
    assert said(refused) == Words(WORDS["spam_risk_too_many_posts"],
                                  'code spam_risk_too_many_posts; TikTok said "Too many."; log_id L2',
                                  "spam_risk_too_many_posts")
    grant = said(OAuthError("invalid_grant", "Refresh token has been revoked.", log_id="L3"))
    assert str(grant) == ("TikTok no longer accepts this account's sign-in: link it again in the app "
                          '(code invalid_grant; TikTok said "Refresh token has been revoked."; log_id L3)')
    assert said(TransportError("TikTok did not answer in 30 s")) == Words("TikTok did not answer in 30 s")


@pytest.mark.parametrize("stored, sentence, details", [
    ("TikTok no longer accepts this account's sign-in: link it again in the app (code invalid_grant; TikTok said "
     '"Refresh token has been revoked."; log_id L4)', WORDS["invalid_grant"],
     'code invalid_grant; TikTok said "Refresh token has been revoked."; log_id L4'),
    ("TikTok refused the refresh token (invalid_grant: Refresh token has been revoked. (log_id L5))",
     WORDS["invalid_grant"], "TikTok refused the refresh token (invalid_grant: Refresh token has been revoked. "
                             "(log_id L5))"),  # an earlier version's reason: its code gets the words
    ("the refresh token has expired", "the refresh token has expired: link the account again in the app", ""),
], ids=["this version", "earlier version", "no code"])
def test_a_stored_relink_reason_reads_as_a_sentence_that_says_what_to_do(stored, sentence, details):
    assert (relink(stored).sentence, relink(stored).details) == (sentence, details)
    assert str(said(RelinkNeeded("ada", stored))).startswith(sentence)


def test_a_failure_written_in_words_shows_its_details_once():
    error = str(plain("spam_risk_too_many_posts", message="This user has posted too much.", log_id="L6"))
    failure = failure_of(PostRecord(key="k1", user_id="ada", state="failed", outcome="failed", error=error,
                                    log_id="L6"))
    assert failure.reason == WORDS["spam_risk_too_many_posts"] and failure.code == "spam_risk_too_many_posts"
    assert failure.details == 'code spam_risk_too_many_posts; TikTok said "This user has posted too much."; log_id L6'


def test_a_code_is_found_in_text_only_as_a_whole_code():
    assert code_in("TikTok refused: spam_risk_text: Caption. (log_id L7)") == "spam_risk_text"
    assert code_in("TikTok had internal trouble") is None  # "internal" is a word, not a code, in text
    assert code_in("spam_risk_text_v2") is None
