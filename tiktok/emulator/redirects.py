"""Redirect URI registration and matching rules (reference §1.3), as pure functions.

- Loopback (desktop) URIs: host ``localhost`` or ``127.0.0.1``, scheme http or https, a port is mandatory and may be
  ``*``. A request URI matches when scheme, host and path are identical and the port is any port (``*``) or the
  registered one. IPv6 loopback ``[::1]`` is never allowed.
- Web URIs: https only and matched as exact strings.
- No query string or fragment on either side; registered URIs are shorter than 512 characters.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
MAX_URI_CHARS = 512  # Login Kit docs: "less than 512 characters"


class _Parts(NamedTuple):
    scheme: str
    host: str
    port: str  # "" when absent, "*" for a wildcard
    path: str


def _split(uri: str) -> _Parts | None:
    """Scheme, host, port text and path, or None when the URI has userinfo, query, fragment or no host."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.query or parts.fragment or "?" in uri or "#" in uri or "@" in parts.netloc or not parts.netloc:
        return None
    host, sep, port = parts.netloc.rpartition(":")
    if not sep or "]" in port:  # no port, or the colon was inside an IPv6 literal
        host, port = parts.netloc, ""
    return _Parts(parts.scheme, host, port, parts.path)


def is_loopback_uri(uri: str) -> bool:
    """True for http(s) URIs on localhost / 127.0.0.1 (the desktop flavour, where PKCE is required)."""
    parts = _split(uri)
    return parts is not None and parts.host in LOOPBACK_HOSTS


def validate_registered_uri(uri: str) -> str | None:
    """Why ``uri`` cannot be registered, or None when it can."""
    parts = _split(uri)
    if parts is None or len(uri) >= MAX_URI_CHARS:
        return f"redirect URI {uri!r} must be absolute, < {MAX_URI_CHARS} chars, without query or fragment"
    if parts.host in LOOPBACK_HOSTS:
        if parts.scheme not in ("http", "https"):
            return f"loopback redirect URI {uri!r} must be http or https"
        if parts.port != "*" and not parts.port.isdigit():
            return f"loopback redirect URI {uri!r} needs a port (a number or *)"
        return None
    if parts.scheme != "https" or parts.port == "*":
        return f"web redirect URI {uri!r} must be https without a wildcard port"
    return None


def redirect_uri_matches(candidate: str, registered: str) -> bool:
    """Whether an authorize-time ``redirect_uri`` is allowed by one registered URI."""
    if not is_loopback_uri(registered):
        return candidate == registered
    want, got = _split(registered), _split(candidate)
    if want is None or got is None or not got.port.isdigit():
        return False
    if (got.scheme, got.host, got.path) != (want.scheme, want.host, want.path):
        return False
    return want.port == "*" or want.port == got.port


def is_registered(candidate: str, registered: list[str]) -> bool:
    """Whether ``candidate`` matches any registered redirect URI."""
    return bool(candidate) and any(redirect_uri_matches(candidate, r) for r in registered)
