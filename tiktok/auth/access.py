"""Fresh access tokens for any script: refresh under the store's lock, only when close to expiry.

The whole read -> refresh -> write sequence runs under the lock, because TikTok rotates refresh tokens: two
processes refreshing the same account at once would leave one of them holding a dead token. For the same reason
Ctrl-C and SIGTERM wait from the token call until its answer is written (:mod:`tiktok.signals`).

A refresh token TikTok refuses (``invalid_grant``) marks the account: its ``relink_reason`` is the plain sentence,
then TikTok's code, message and log_id in a trailing part (:class:`tiktok.words.Words`; :func:`tiktok.words.relink`
reads it back, and the reasons earlier versions stored too).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, TypeVar

from tiktok.api import DEFAULT_TIMEOUT
from tiktok.errors import AccountNotFound, AuthError, OAuthError, RelinkNeeded
from tiktok.logs import inert
from tiktok.signals import Hold
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import Account, TokenStore
from tiktok.words import plain

REFRESH_LEEWAY_S = 10 * 60  # refresh when the access token has less than this left
RELINK_WARNING_S = 30 * 24 * 3600  # warn this long before the refresh token runs out
HOLD_BOUND_S = sum(DEFAULT_TIMEOUT)  # the longest a held Ctrl-C waits: OAuthClient's connect + read timeouts


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
    process refreshed while we waited for the lock.

    From just before the token call until its answer is written, SIGINT and SIGTERM wait (:class:`Hold`, main thread
    only): TikTok has already killed the old refresh token when it answers, so stopping in between would lose the
    account. The call's own timeout (OAuthClient's) bounds the wait."""
    relink: RelinkNeeded | None = None
    with Hold() as hold, store.locked(open_id) as accounts:  # the Hold ends after the lock's write
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
            hold.start(inert(f"finishing the token refresh of {account.label} first, so that its new tokens are "
                             f"saved (this waits at most about {HOLD_BOUND_S:.0f} s for TikTok)"))
            try:
                grant = oauth.refresh(account.refresh_token)
            except OAuthError as exc:
                if exc.error != "invalid_grant":
                    raise
                # stored as words.Words writes it: the plain sentence, then (code invalid_grant; ...; log_id ...)
                relink = RelinkNeeded(open_id, str(plain(exc.error, message=exc.description, log_id=exc.log_id)))
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
