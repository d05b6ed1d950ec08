"""What a webhook delivery is made of (pure): the JSON body of an event (:func:`body`) and its signature headers
(:func:`signed_headers`); :func:`verify` checks one as a receiver would (the README shows the same in a few lines).

The signature follows the scheme Stripe and GitHub use: HMAC-SHA256, keyed with WEBHOOK_SECRET, over
``<timestamp>.<raw body>`` (the timestamp in Unix seconds, as sent in its header), sent as ``sha256=<hex>``. Signing
the timestamp with the body lets a receiver refuse an old delivery replayed (:data:`TOLERANCE_S`); the event id
header (the same on every retry of one event) lets it take each event once, since a delivery may arrive more than
once (at least once: a receiver that answered 2xx too late is sent it again).

Headers: ``X-Tiktok-Tool-Event`` (the event id), ``X-Tiktok-Tool-Kind``, ``X-Tiktok-Tool-Timestamp`` and
``X-Tiktok-Tool-Signature``. The body holds the event's id, kind and time, the account and the post it is about,
the plain words of :func:`tiktok.alerts.messages.describe`, and the facts; never a token, an upload URL or a
password (a record's upload URL and publication token are never kept in an event: tiktok.store.events).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import tzinfo
from typing import Any, Mapping

from tiktok.alerts.messages import account_name, describe
from tiktok.store.events import Event
from tiktok.text import utc_iso

EVENT_HEADER = "X-Tiktok-Tool-Event"
KIND_HEADER = "X-Tiktok-Tool-Kind"
TIMESTAMP_HEADER = "X-Tiktok-Tool-Timestamp"
SIGNATURE_HEADER = "X-Tiktok-Tool-Signature"
TOLERANCE_S = 300  # a receiver refuses a delivery signed longer ago than this (or this far in the future)
VERSION = 1  # the body's shape: a field may be added, none removed or changed without a new version
# a post's record fields a webhook carries (the rest is the tool's bookkeeping)
_POST_FIELDS = ("state", "publish_id", "post_ids", "privacy", "username", "fail_reason", "error", "log_id", "outcome",
                "published_at", "emulated")


def payload(event: Event, names: Mapping[str, str] | None = None, *, tz: tzinfo | None = None) -> dict[str, Any]:
    """The JSON object sent for ``event`` (see the module docstring)."""
    message = describe(event, names, tz=tz)
    record = _record(event)
    post = None
    if event.post_id is not None:
        post = {"id": event.post_id, **{key: record[key] for key in _POST_FIELDS if key in record},
                "link": message.link}
    facts = {key: value for key, value in event.data.items() if key != "record"}
    return {
        "version": VERSION, "id": event.id, "kind": event.kind, "at": utc_iso(event.at), "at_epoch": event.at,
        "account": None if event.user_id is None else {"open_id": event.user_id,
                                                        "name": account_name(event, names)},
        "post": post, "emulated": message.emulated,
        "title": message.title, "body": message.body, "details": message.details, "link": message.link,
        "facts": facts,
    }


def body(event: Event, names: Mapping[str, str] | None = None, *, tz: tzinfo | None = None) -> bytes:
    """The raw body (UTF-8 JSON) sent for ``event``: what the signature covers, byte for byte."""
    return json.dumps(payload(event, names, tz=tz), ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode("utf-8")


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``<timestamp>.<raw body>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + raw_body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(event: Event, raw_body: bytes, *, secret: str, timestamp: int) -> dict[str, str]:
    """The headers of one delivery of ``event`` (its body ``raw_body``), signed at ``timestamp``."""
    return {"Content-Type": "application/json; charset=utf-8", EVENT_HEADER: str(event.id), KIND_HEADER: event.kind,
            TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, raw_body)}


def verify(secret: str, headers: Mapping[str, str], raw_body: bytes, *, now: float,
           tolerance_s: float = TOLERANCE_S) -> bool:
    """True when ``raw_body`` carries a good signature of ``secret``, made within ``tolerance_s`` of ``now``."""
    wanted = {key.lower(): value for key, value in headers.items()}
    try:
        timestamp = int(wanted[TIMESTAMP_HEADER.lower()])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, raw_body), wanted.get(SIGNATURE_HEADER.lower(), ""))


def _record(event: Event) -> dict[str, Any]:
    value = event.data.get("record")
    return value if isinstance(value, dict) else {}
