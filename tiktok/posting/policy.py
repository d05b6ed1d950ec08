"""How the posting client makes one API call for a post: with a fresh token, refreshing once on 401, waiting out
rate limits, and retrying server errors only where a retry cannot create a second post. A failure that ends the
entry becomes :class:`EntryStop` carrying the entry's outcome status."""

from __future__ import annotations

from typing import Any, Callable

from tiktok.auth.access import fresh_account, refresh_account
from tiktok.errors import AuthError, PostingRefused, RateLimited, RelinkNeeded, ScopeError, TikTokError
from tiktok.auth.oauth import OAuthClient
from tiktok.retry import Runtime
from tiktok.auth.tokens import TokenStore

# Refusals that end when the 24-hour window moves on; everything else in PostingRefused needs a person.
WAIT_CODES = {"spam_risk_too_many_posts", "reached_active_user_cap", "spam_risk_too_many_pending_share"}
MIN_RATE_LIMIT_WAIT_S = 10.0  # TikTok's windows slide over 60 s and it sends no Retry-After


class EntryStop(Exception):
    """Ends one manifest entry with an outcome status (relink, try_later, failed, unknown, bad_input)."""

    def __init__(self, status: str, detail: str, error: TikTokError | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.error = status, detail, error


def call_for_post(store: TokenStore, oauth: OAuthClient, runtime: Runtime, open_id: str,
                  call: Callable[[str], Any], *, idempotent: bool = True) -> Any:
    """``call(access_token)`` under the policy above; ``idempotent=False`` for calls that may create a post."""
    policy = runtime.policy
    refreshed = False
    for attempt in range(1, policy.max_attempts + 1):
        last = attempt == policy.max_attempts
        try:
            return call(fresh_account(store, oauth, open_id).access_token)
        except AuthError as exc:
            if refreshed:
                raise EntryStop("relink", f"TikTok refuses the account's tokens ({exc})", exc) from None
            refreshed = True
            _refresh(store, oauth, open_id)
        except RateLimited as exc:
            runtime.sleep(_rate_limit_wait(exc, attempt, runtime, last))
        except TikTokError as exc:
            _stop_unless_retryable(exc, idempotent=idempotent, last=last)
            runtime.sleep(policy.delay(attempt, None, runtime.rng))
    raise EntryStop("try_later", "gave up after repeated failures")


def _refresh(store: TokenStore, oauth: OAuthClient, open_id: str) -> None:
    try:
        refresh_account(store, oauth, open_id, force=True)
    except RelinkNeeded as exc:
        raise EntryStop("relink", f"log in again in the app: {exc.reason}", exc) from None


def _rate_limit_wait(exc: RateLimited, attempt: int, runtime: Runtime, last: bool) -> float:
    policy = runtime.policy
    wait = exc.retry_after if exc.retry_after is not None else max(
        policy.delay(attempt, None, runtime.rng), MIN_RATE_LIMIT_WAIT_S)
    if wait > policy.max_retry_after_s or last:
        raise EntryStop("try_later", f"rate limited by TikTok ({exc})", exc)
    return wait


def _stop_unless_retryable(exc: TikTokError, *, idempotent: bool, last: bool) -> None:
    """Raise the entry's outcome for ``exc``; return only when the same call may be tried again."""
    if isinstance(exc, RelinkNeeded):
        raise EntryStop("relink", f"log in again in the app: {exc.reason}", exc)
    if isinstance(exc, ScopeError):
        raise EntryStop("relink", f"the account did not grant a scope this needs ({exc}); relink it and tick "
                                  "the permission", exc)
    if isinstance(exc, PostingRefused):
        raise EntryStop("try_later" if exc.code in WAIT_CODES else "failed", f"TikTok refused: {exc}", exc)
    if not exc.transient:
        raise EntryStop("failed", str(exc), exc)
    if not idempotent:
        raise EntryStop("unknown", f"TikTok did not answer the post request clearly ({exc}); it may or may not "
                                   "have been created: check the profile, then re-run with --force to post it "
                                   "again", exc)
    if last:
        raise EntryStop("try_later", f"TikTok is not answering ({exc})", exc)
