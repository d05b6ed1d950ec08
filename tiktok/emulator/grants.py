"""Authorization codes, grants and tokens: the OAuth bookkeeping, with time passed in.

Only sha256 fingerprints of codes and tokens are kept, so nothing here can leak a raw secret.

Choices where upstream is silent (UNCONFIRMED):
- A code is single use and consumed by the first exchange attempt that passes client authentication, even when that
  attempt then fails (expired, wrong redirect_uri, wrong PKCE verifier). Reusing a code does not revoke the grant it
  produced.
- Refresh rotates strictly with no grace period: the presented refresh token dies as the new one is issued.
  Access tokens issued earlier in the grant stay valid until their own expiry.
- Revoking kills the whole grant: every access token and the refresh token.
- Every later presentation of a rotated-away refresh token is counted (``dead_refresh_token_uses``) so tests can
  prove a client never reuses one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import ids
from .config import EmulatorConfig


class TokenRequestError(Exception):
    """A token/revoke refusal in OAuth terms (``error`` + ``error_description``)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _invalid_grant(description: str) -> TokenRequestError:
    return TokenRequestError("invalid_grant", description)


@dataclass
class PendingCode:
    client_key: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    open_id: str
    expires_at: float
    used: bool = False


@dataclass
class Grant:
    grant_id: str
    client_key: str
    open_id: str
    scopes: tuple[str, ...]
    refresh_hash: str
    refresh_expires_at: float
    revoked: bool = False
    rotations: int = 0

    def status(self, now: float) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if now >= self.refresh_expires_at else "active"


@dataclass
class AccessToken:
    grant_id: str
    expires_at: float


@dataclass
class IssuedTokens:
    """One successful token response; ``body()`` is exactly what the token endpoint sends."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    refresh_expires_in: int
    open_id: str
    scopes: tuple[str, ...]

    def body(self) -> dict[str, object]:
        return {
            "access_token": self.access_token, "expires_in": self.expires_in, "open_id": self.open_id,
            "refresh_expires_in": self.refresh_expires_in, "refresh_token": self.refresh_token,
            "scope": ",".join(self.scopes), "token_type": "Bearer",
        }


def _remaining(deadline: float, now: float) -> int:
    # the epsilon keeps float noise from turning a fresh 7200 into 7199
    return max(0, math.floor(deadline - now + 1e-6))


class TokenStore:
    """All codes, grants and tokens of one emulator; callers hold EmulatorState's lock."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.codes: dict[str, PendingCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh_owner: dict[str, str] = {}  # every refresh token ever issued -> grant_id
        self.counters = {"issued": 0, "rotated": 0, "revoked": 0, "dead_refresh_token_uses": 0}

    def issue_code(self, *, client_key: str, redirect_uri: str, scopes: tuple[str, ...],
                   code_challenge: str | None, open_id: str, now: float) -> str:
        code = ids.new_code()
        self.codes[ids.fingerprint(code)] = PendingCode(
            client_key, redirect_uri, scopes, code_challenge, open_id, now + self.config.code_ttl)
        return code

    def take_code(self, code: str, client_key: str, now: float) -> PendingCode:
        """Consume ``code`` for ``client_key``; raises invalid_grant when it cannot be used."""
        pending = self.codes.get(ids.fingerprint(code))
        if pending is None or pending.client_key != client_key:
            raise _invalid_grant("Authorization code is invalid.")
        if pending.used:
            raise _invalid_grant("Authorization code has already been used.")
        pending.used = True
        if now >= pending.expires_at:
            raise _invalid_grant("Authorization code is expired.")
        return pending

    def create_grant(self, pending: PendingCode, now: float) -> IssuedTokens:
        """Start a new grant from a consumed code and issue its first token pair."""
        refresh = ids.new_refresh_token()
        grant = Grant(ids.new_grant_id(), pending.client_key, pending.open_id, pending.scopes,
                      ids.fingerprint(refresh), now + self.config.refresh_ttl)
        self.grants[grant.grant_id] = grant
        self.refresh_owner[grant.refresh_hash] = grant.grant_id
        return self._issue(grant, refresh, now)

    def refresh(self, refresh_token: str, client_key: str, now: float) -> IssuedTokens:
        """Rotate: a new refresh + access token, the presented refresh token dies at once."""
        digest = ids.fingerprint(refresh_token)
        grant = self.grants.get(self.refresh_owner.get(digest, ""))
        if grant is None or grant.client_key != client_key:
            raise _invalid_grant("Refresh token is invalid.")
        if grant.refresh_hash != digest:
            self.counters["dead_refresh_token_uses"] += 1
            raise _invalid_grant("Refresh token is invalid or has been rotated.")
        if grant.revoked:
            raise _invalid_grant("Refresh token has been revoked.")
        if now >= grant.refresh_expires_at:
            raise _invalid_grant("Refresh token is expired.")
        new_refresh = ids.new_refresh_token()
        grant.refresh_hash = ids.fingerprint(new_refresh)
        grant.rotations += 1
        if self.config.refresh_extends_deadline:
            grant.refresh_expires_at = now + self.config.refresh_ttl
        self.refresh_owner[grant.refresh_hash] = grant.grant_id
        self.counters["rotated"] += 1
        return self._issue(grant, new_refresh, now)

    def _issue(self, grant: Grant, refresh: str, now: float) -> IssuedTokens:
        access = ids.new_access_token()
        self.access[ids.fingerprint(access)] = AccessToken(grant.grant_id, now + self.config.access_ttl)
        self.counters["issued"] += 1
        return IssuedTokens(access, refresh, self.config.access_ttl,
                            _remaining(grant.refresh_expires_at, now), grant.open_id, grant.scopes)

    def grant_for_access(self, token: str) -> tuple[Grant, AccessToken] | None:
        """The grant and record of an access token, whatever its state; None when unknown."""
        record = self.access.get(ids.fingerprint(token))
        return None if record is None else (self.grants[record.grant_id], record)

    def live_access(self, token: str, now: float) -> Grant | None:
        """The grant of a known, unexpired access token whose grant is not revoked."""
        found = self.grant_for_access(token)
        if found is None:
            return None
        grant, record = found
        return None if grant.revoked or now >= record.expires_at else grant

    def revoke_grant(self, grant: Grant) -> None:
        if not grant.revoked:
            grant.revoked = True
            self.counters["revoked"] += 1

    def revoke_user(self, open_id: str) -> int:
        """Revoke every active grant of one user (they removed the app); returns how many."""
        active = [g for g in self.grants.values() if g.open_id == open_id and not g.revoked]
        for grant in active:
            self.revoke_grant(grant)
        return len(active)

    def summary(self, now: float) -> dict[str, object]:
        """Counters and per-grant facts, fingerprints only."""
        live: dict[str, int] = {}
        for record in self.access.values():
            if now < record.expires_at:
                live[record.grant_id] = live.get(record.grant_id, 0) + 1
        grants = [{
            "grant_id": g.grant_id, "open_id": g.open_id, "scopes": list(g.scopes), "status": g.status(now),
            "refresh_token_sha256": g.refresh_hash, "refresh_expires_at": g.refresh_expires_at,
            "access_tokens_live": 0 if g.revoked else live.get(g.grant_id, 0), "rotations": g.rotations,
        } for g in self.grants.values()]
        return {**self.counters, "grants": grants}
