"""Fresh access tokens for any script: refresh under the store's lock, only when close to expiry.

The whole read -> refresh -> write sequence runs under the lock, because TikTok rotates refresh tokens: two
processes refreshing the same account at once would leave one of them holding a dead token.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, TypeVar

from tiktok.errors import AccountNotFound, AuthError, OAuthError, RelinkNeeded
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import Account, TokenStore

REFRESH_LEEWAY_S = 10 * 60  # refresh when the access token has less than this left
RELINK_WARNING_S = 30 * 24 * 3600  # warn this long before the refresh token runs out


def fresh_account(store: TokenStore, oauth: OAuthClient, open_id: str, *,
                  leeway: float = REFRESH_LEEWAY_S, force: bool = False) -> Account:
    """The account with an access token valid for at least ``leeway`` seconds, refreshing if needed."""
    account = store.get(open_id)
    if account is None:
        raise AccountNotFound(open_id, store.path)
    if not force and not account.access_expires_within(leeway, store.clock()) and not account.relink_reason:
        return account
    return refresh_account(store, oauth, open_id, leeway=leeway, force=force)


def refresh_account(store: TokenStore, oauth: OAuthClient, open_id: str, *,
                    leeway: float = REFRESH_LEEWAY_S, force: bool = True) -> Account:
    """Refresh with the account locked (the file's lock, or its database row). Without ``force``, skip when another
    process refreshed while we waited for the lock."""
    relink: RelinkNeeded | None = None
    with store.locked(open_id) as accounts:
        account = accounts.get(open_id)
        if account is None:
            raise AccountNotFound(open_id, store.path)
        now = store.clock()
        if not force and not account.access_expires_within(leeway, now) and not account.relink_reason:
            return account
        if account.relink_reason:  # TikTok refused this refresh token already: sending it again cannot help
            raise RelinkNeeded(open_id, account.relink_reason)
        if account.refresh_expires_at <= now:
            relink = RelinkNeeded(open_id, "the refresh token has expired")
        else:
            try:
                grant = oauth.refresh(account.refresh_token)
            except OAuthError as exc:
                if exc.error != "invalid_grant":
                    raise
                relink = RelinkNeeded(open_id, f"TikTok refused the refresh token ({exc})")
        if relink is not None:
            accounts[open_id] = replace(account, relink_reason=relink.reason)
        else:
            if grant.open_id != open_id:
                raise OAuthError("malformed_response", "refresh answered for a different open_id")
            accounts[open_id] = account.with_grant(grant, now)
            return accounts[open_id]
    raise relink



T = TypeVar("T")


def call_with_token(store: TokenStore, oauth: OAuthClient, open_id: str, call: Callable[[str], T]) -> T:
    """``call(access_token)`` with a fresh token; when TikTok still calls it invalid (revoked, or expired early by
    TikTok's clock), refresh once under the lock and try again. RelinkNeeded propagates."""
    account = fresh_account(store, oauth, open_id)
    try:
        return call(account.access_token)
    except AuthError:
        account = refresh_account(store, oauth, open_id, force=True)
        return call(account.access_token)
