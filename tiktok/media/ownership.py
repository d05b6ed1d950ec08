"""Which media URLs TikTok will pull for this app: its verified URL properties (reference 4.3, PULL_FROM_URL).

TikTok pulls a video (``video_url``) or a photo (``photo_urls``) only from a URL under a property verified for the
app in the developer portal; anything else fails at init with 403 ``url_ownership_unverified``. Checking here
refuses such a URL when a person types it, before anything is saved, instead of at posting time. The two kinds:

- a **domain** (``static.example.com``, verified with a DNS TXT record) covers https URLs on that host and on every
  subdomain of it (``video.static.example.com``), but not its parent (``example.com``);
- a **URL prefix** (``https://example.com/videos/user/``, verified with a file at that address) covers https URLs
  that start with exactly that text.

A pulled URL must be https and name a host, not an IP address. TikTok does not publish an app's properties through
its API, so this tool learns them from VERIFIED_URL_PREFIXES (and, against the emulator, from the emulator itself).
Our testing allowance, for the emulator only (``allow_loopback``): an ``http://127.0.0.1`` or ``http://localhost``
URL passes when it starts with an http prefix in the list, so media can be served from a loopback server.

Pure rules, in the media package's plumbing: :mod:`tiktok.config` checks VERIFIED_URL_PREFIXES and MEDIA_PUBLIC_URL
with them at start-up, the manifest and the composer check a URL with them before saving it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

UNVERIFIED = "url_ownership_unverified"  # TikTok's error code for a URL outside the app's properties
LOOPBACK = ("127.0.0.1", "localhost")
_HOST_NAME = re.compile(r"[A-Za-z0-9.-]+")  # a domain property: letters, digits, dots and hyphens (IDNs as xn--)


def property_problem(prop: str) -> str | None:
    """Why ``prop`` is not a URL property TikTok can verify, or None. A domain has no scheme and no path; a URL
    prefix starts with https:// and ends with '/'."""
    if not prop or prop != prop.strip() or any(ch in prop for ch in "\0\r\n\t "):
        return f"{prop!r} is empty or has spaces in it"
    if "://" not in prop:
        if "/" in prop or "." not in prop or not _HOST_NAME.fullmatch(prop):
            return f"{prop!r} is not a domain such as static.example.com (no scheme, no path)"
        return "a domain must be a host name, not an IP address" if _is_ip(prop) else None
    scheme, rest = prop.split("://", 1)
    scheme = scheme.lower()
    if "@" in rest.split("/", 1)[0]:  # never repeated in the message: the part before @ is a credential
        return "a URL prefix must not carry a user name or password (user:password@)"
    if scheme not in ("https", "http"):
        return f"{prop!r} must start with https://"
    if not prop.endswith("/"):
        return f"{prop!r} must end with '/' (TikTok verifies a URL prefix as a folder)"
    try:
        parts = urlsplit(prop)
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"{prop!r} is not a web address"
    if not host:
        return f"{prop!r} names no host"
    if parts.query or parts.fragment or "?" in prop:
        return f"{prop!r} must be a plain address: no ?query, no #fragment"
    if scheme == "http" and host not in LOOPBACK:
        return f"{prop!r} must start with https:// (TikTok pulls only https)"
    if scheme == "https" and _is_ip(host):
        return f"{prop!r} must name a host, not an IP address (TikTok verifies host names only)"
    return None


def covering(url: str, properties: list[str] | tuple[str, ...], *, allow_loopback: bool = False) -> str | None:
    """The property in ``properties`` that covers ``url``, or None (rules in the module docstring)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if not host or parts.username is not None or parts.password is not None:
        return None
    if parts.scheme == "http":
        if not (allow_loopback and host in LOOPBACK):
            return None
        return next((p for p in properties if p.startswith("http://") and url.startswith(p)), None)
    if parts.scheme != "https" or _is_ip(host):
        return None
    for prop in properties:
        if "://" in prop:
            if prop.startswith("https://") and url.startswith(prop):
                return prop
            continue
        domain = prop.lower().strip(".")
        if host == domain or host.endswith("." + domain):
            return prop
    return None


def ownership_problem(url: str, properties: list[str] | tuple[str, ...], *, allow_loopback: bool = False) -> str | None:
    """A plain sentence saying why TikTok would not pull ``url`` (TikTok's code at its end), or None when a verified
    property covers it."""
    if covering(url, properties, allow_loopback=allow_loopback) is not None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return f"{url[:200]!r} is not a web address ({UNVERIFIED})"
    if parts.scheme != "https" and not (allow_loopback and parts.scheme == "http" and host in LOOPBACK):
        return f"TikTok pulls media only from https addresses ({UNVERIFIED})"
    if _is_ip(host):
        return f"TikTok pulls media only from a host name it has verified, never an IP address ({UNVERIFIED})"
    if not properties:
        return (f"TikTok pulls media only from a domain or URL prefix verified for this app, and none is set: "
                f"verify one in TikTok's developer portal and list it in VERIFIED_URL_PREFIXES ({UNVERIFIED})")
    listed = ", ".join(properties[:5]) + (", ..." if len(properties) > 5 else "")
    return (f"{host or 'this address'} is not under a domain or URL prefix verified for this app ({listed}); "
            f"TikTok would refuse it ({UNVERIFIED})")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
