"""PKCE verifiers and challenges, in the two encodings TikTok's pages describe.

TikTok's Login Kit for Desktop derives the challenge as the lowercase hex SHA-256 of the verifier (method still
``S256``), which is not RFC 7636's unpadded base64url. Hex is our default; base64url is selectable.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
from typing import Callable
from urllib.parse import urlsplit

from tiktok.config import ENCODINGS, Encoding

VERIFIER_MIN_LENGTH = 43  # RFC 7636 and TikTok's desktop page
VERIFIER_MAX_LENGTH = 128
_VERIFIER_CHARS = re.compile(r"[A-Za-z0-9\-._~]+")  # RFC 7636's unreserved set; checked with fullmatch


def make_verifier(token_urlsafe: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """A fresh 64-character verifier from the unreserved set (a new one for every authorization)."""
    return token_urlsafe(48)  # 48 random bytes -> 64 base64url characters, all unreserved


def is_valid_verifier(verifier: str) -> bool:
    """43 to 128 characters, every one from the unreserved set (a trailing newline is not one of them)."""
    return (VERIFIER_MIN_LENGTH <= len(verifier) <= VERIFIER_MAX_LENGTH
            and _VERIFIER_CHARS.fullmatch(verifier) is not None)


def code_challenge(verifier: str, encoding: Encoding = "hex") -> str:
    """The S256 challenge for ``verifier``: hex (TikTok desktop) or unpadded base64url (RFC 7636)."""
    if not is_valid_verifier(verifier):
        raise ValueError("code_verifier must be 43-128 characters from A-Z a-z 0-9 - . _ ~")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":
        return digest.hex()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    raise ValueError(f"unknown PKCE encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")


def encoding_for(redirect_uri: str) -> Encoding:
    """Hex for a redirect URI on this machine (``localhost`` or a loopback address: TikTok's Login Kit for Desktop,
    which derives the challenge as hex SHA-256), RFC 7636's base64url for any other (web apps)."""
    host = (urlsplit(redirect_uri).hostname or "").lower()
    if host == "localhost":
        return "hex"
    try:
        return "hex" if ipaddress.ip_address(host).is_loopback else "base64url"
    except ValueError:
        return "base64url"
