"""Identifiers the emulator hands out, shaped like TikTok's (reference §0.4, §1.6)."""

from __future__ import annotations

import hashlib
import secrets
import time

TOKEN_BYTES = 36      # token_urlsafe(36) -> 48 characters after the prefix
CODE_BYTES = 48       # token_urlsafe(48) -> 64 characters before the "*0!NNNN.u1" tail
LOG_ID_CHARS = 32     # 14-digit UTC timestamp + 18 uppercase hex, like "20261122034512" + "9A1F..."


def new_access_token() -> str:
    return "act." + secrets.token_urlsafe(TOKEN_BYTES)


def new_refresh_token() -> str:
    return "rft." + secrets.token_urlsafe(TOKEN_BYTES)


def new_code() -> str:
    """An authorization code with TikTok's ``*0!<digits>.u1`` tail, so clients must URL-decode it once."""
    return secrets.token_urlsafe(CODE_BYTES) + "*0!" + f"{secrets.randbelow(10_000):04d}" + ".u1"


def new_grant_id() -> str:
    return "grant-" + secrets.token_hex(6)


def new_log_id(epoch_seconds: float) -> str:
    """A per-response log id: UTC timestamp prefix then random uppercase hex."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch_seconds))
    return stamp + secrets.token_hex(LOG_ID_CHARS).upper()[: LOG_ID_CHARS - len(stamp)]


def fingerprint(secret: str) -> str:
    """sha256 hex of a token or code: what state keeps and shows instead of the raw value."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
