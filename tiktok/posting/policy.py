"""How the posting client makes one API call for a post: with a fresh token (refreshed once on 401), through
the one retry engine (:mod:`tiktok.retry`), so rate limits are waited out and server errors are retried only
where a retry cannot create a second post. A failure that ends the entry becomes :class:`EntryStop` carrying
the entry's outcome status."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from tiktok.auth.access import call_with_token
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.errors import AuthError, PostingRefused, RateLimited, RelinkNeeded, ScopeError, TikTokError
from tiktok.exitcodes import FAILED, RELINK, TRY_LATER
from tiktok.retry import GaveUp, RetryPolicy, Runtime, call_with_retry
from tiktok.words import plain, relink, said

# Refusals that end when the 24-hour window moves on; everything else in PostingRefused needs a person.
WAIT_CODES = {"spam_risk_too_many_posts", "reached_active_user_cap", "spam_risk_too_many_pending_share"}
MIN_RATE_LIMIT_WAIT_S = 10.0  # TikTok's windows slide over 60 s and it sends no Retry-After
POSTING_RETRY = RetryPolicy(rate_limit_floor_s=MIN_RATE_LIMIT_WAIT_S)


class EntryStop(Exception):
    """Ends one manifest entry with an outcome (tiktok.exitcodes); ``may_exist`` when the post may be on TikTok
    although we never learned so (the next run must not send it again without --force)."""

    def __init__(self, status: str, detail: str, error: TikTokError | None = None, *, may_exist: bool = False) -> None:
        super().__init__(detail)
        self.status, self.detail, self.error, self.may_exist = status, detail, error, may_exist


def call_for_post(store: TokenStore, oauth: OAuthClient, runtime: Runtime, open_id: str,
                  call: Callable[[str], Any], *, idempotent: bool = True) -> Any:
    """``call(access_token)`` under the policy above; ``idempotent=False`` for calls that may create a post."""
    try:
        return call_with_retry(lambda: call_with_token(store, oauth, open_id, call), runtime,
                               idempotent=idempotent)
    except GaveUp as gave_up:
        last = gave_up.last
        what = f"rate limited by TikTok ({last})" if isinstance(last, RateLimited) else \
            f"TikTok is not answering ({last})"
        raise EntryStop(TRY_LATER, what, last if isinstance(last, TikTokError) else None) from None
    except TikTokError as exc:
        raise entry_stop(exc, idempotent=idempotent) from None


def entry_stop(exc: TikTokError, *, idempotent: bool) -> EntryStop:
    """The entry's outcome for an error the retry engine would not (or could no longer) retry."""
    if isinstance(exc, AuthError):
        return EntryStop(RELINK, str(said(exc)), exc)  # plain words first, TikTok's code and log_id after
    if isinstance(exc, RelinkNeeded):
        return EntryStop(RELINK, str(relink(exc.reason)), exc)
    if isinstance(exc, ScopeError):
        return EntryStop(RELINK, str(said(exc)), exc)
    if isinstance(exc, PostingRefused):
        return EntryStop(TRY_LATER if exc.code in WAIT_CODES else FAILED, str(said(exc)), exc)
    if exc.transient and not idempotent:
        return EntryStop(FAILED, f"TikTok did not answer the post request clearly ({exc}); it may or may not "
                                 "have been created: check the profile, then re-run with --force to post it "
                                 "again", exc, may_exist=True)
    return EntryStop(FAILED, str(said(exc)), exc)


# -- the TikTok app's mode (issue 25) ------------------------------------------------------------------------------

UNAUDITED_CODE = "unaudited_client_can_only_post_to_private_accounts"  # Content Posting API, a Direct Post's init
SANDBOX_CODE = "non_sandbox_target"  # Login Kit's callback error for a user who is not a sandbox target user
DETECTED_BY = {UNAUDITED_CODE: "unaudited", SANDBOX_CODE: "sandbox"}  # TikTok's code -> the mode it shows


class AppMode(NamedTuple):
    """The app's mode and where it comes from: ``setting`` (TIKTOK_APP_MODE), ``detected`` (TikTok's answer
    ``code`` said so) or ``unknown`` (mode None: nothing refused yet, so everything is offered as for audited)."""

    mode: str | None
    source: str
    code: str | None = None

    @property
    def unaudited(self) -> bool:
        return self.mode == "unaudited"


def app_mode(setting: str | None, detected: dict[str, Any] | None) -> AppMode:
    """TIKTOK_APP_MODE when set (it wins), else what the post store kept of TikTok's answers
    (``PostStore.detected_app_mode``), else unknown."""
    if setting:
        return AppMode(setting, "setting")
    if detected and detected.get("mode") in DETECTED_BY.values():
        return AppMode(detected["mode"], "detected", detected.get("code"))
    return AppMode(None, "unknown")


# -- what an unaudited app may Direct Post (issue 25) --------------------------------------------------------------

ACTIVE_USER_CAP_CODE = "reached_active_user_cap"  # Content Posting API: the app's posting users of the day used up
UNAUDITED_POSTING_USERS = 5  # an app TikTok has not audited: 5 accounts may post through it in 24 hours
DAY_S = 24 * 3600
PRIVATE_SIGN = "FOLLOWER_OF_CREATOR"  # creator_info offers it only to a private account (reference 3.1's answer)


def _mode_note(mode: AppMode) -> str:
    return "app mode unaudited (TIKTOK_APP_MODE)" if mode.source == "setting" else \
        f"app mode unaudited (TikTok answered {mode.code or UNAUDITED_CODE} earlier)"


def private_only_stop(mode: AppMode, privacy: str | None, privacy_options: Any, username: str) -> EntryStop | None:
    """An unaudited app's Direct Post (not an inbox draft) goes only from a private account (creator_info offers it
    FOLLOWER_OF_CREATOR) as SELF_ONLY, or TikTok refuses its init with UNAUDITED_CODE (Content Posting API, Direct
    Post): the stop before the init (outcome failed: a person makes the account private, chooses SELF_ONLY or sends
    a draft), None when the post may go."""
    if not mode.unaudited:
        return None
    who = f"@{username}" if username else "the account"
    if PRIVATE_SIGN not in (privacy_options or ()):
        what = (f"{who} is public; make it private in the TikTok app (Settings and privacy > Privacy > Private "
                'account) and post as SELF_ONLY ("Only me"), or set "draft": true to send it to the inbox and '
                "publish it from the TikTok app")
    elif privacy != "SELF_ONLY":
        what = (f'the privacy is {privacy}: choose SELF_ONLY ("Only me"), or set "draft": true to send it to the '
                "inbox and publish it from the TikTok app")
    else:
        return None
    words = plain(UNAUDITED_CODE)
    sentence = f"{words.sentence}. Nothing was sent: {what}"
    return EntryStop(FAILED, f"{sentence} ({words.details}; {_mode_note(mode)})", PostingRefused(UNAUDITED_CODE))


def active_user_cap_stop(mode: AppMode, user_id: str, posting_users: set[str]) -> EntryStop | None:
    """An unaudited app may have UNAUDITED_POSTING_USERS accounts posting through it in 24 hours; a sixth is refused
    with ``reached_active_user_cap`` (Content Posting API). ``posting_users``: the accounts that published through
    this tool in the last 24 hours. The stop before the call (try later: tomorrow it can), or None."""
    others = posting_users - {user_id}
    if not mode.unaudited or len(others) < UNAUDITED_POSTING_USERS:
        return None
    words = plain(ACTIVE_USER_CAP_CODE)
    return EntryStop(TRY_LATER, f"{words.sentence} ({len(others)} other accounts posted through it in the last 24 "
                                f"hours, and an app TikTok has not audited may have {UNAUDITED_POSTING_USERS}); "
                                f"nothing was sent ({words.details}; {_mode_note(mode)})",
                     PostingRefused(ACTIVE_USER_CAP_CODE))
