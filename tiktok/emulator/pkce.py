"""PKCE checks as pure functions (reference §1.4).

TikTok's desktop docs derive the challenge as lowercase hex of SHA-256 (64 chars), not RFC 7636's unpadded base64url
(43 chars). The authorize page accepts either shape; only the token endpoint tells them apart, using the configured
encoding. Whether TikTok accepts uppercase hex is UNCONFIRMED: we compare case-sensitively (lowercase only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

#: RFC 7636 §4.1/§4.2 character set and length, which TikTok's desktop page repeats for the verifier (43-128).
PKCE_VALUE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def is_valid_pkce_value(value: str | None) -> bool:
    """Whether ``value`` is 43-128 characters from the unreserved set (verifier or challenge)."""
    return bool(value) and PKCE_VALUE_RE.fullmatch(value) is not None


def challenge_for(verifier: str, encoding: str) -> str:
    """The S256 challenge for ``verifier``: lowercase hex (TikTok desktop) or unpadded base64url (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    raise ValueError(f"unknown PKCE encoding {encoding!r}")


def verifier_matches(verifier: str | None, challenge: str, encoding: str) -> bool:
    """Whether ``verifier`` is well-formed and hashes to ``challenge`` under ``encoding``."""
    if not is_valid_pkce_value(verifier):
        return False
    return hmac.compare_digest(challenge_for(verifier, encoding), challenge)  # type: ignore[arg-type]
