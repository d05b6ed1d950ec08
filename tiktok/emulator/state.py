"""Everything one emulator instance remembers, behind one lock.

The server is threaded and many client processes hit it at once, so every read-modify-write of codes, tokens,
faults, rate-limit windows and posts happens under ``state.lock`` (an RLock, so helpers may nest).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, replace
from typing import Any, Callable

from . import ids
from .catalogue import Catalogue
from .clock import EmulatorClock
from .config import EmulatedUser, EmulatorConfig
from .faults import Fault, FaultQueue
from .grants import TokenStore
from .posts import Post, PostingBook
from .ratelimit import SlidingWindowLimiter


class EmulatorState:
    """Config, clock, OAuth bookkeeping, faults, rate limits and (later) posts of one emulator."""

    def __init__(self, config: EmulatorConfig, *, time_fn: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.clock = EmulatorClock(time_fn)
        self.sleep = sleep  # used only by injected "delay" faults
        self.lock = threading.RLock()
        self.tokens = TokenStore(config)
        self.faults = FaultQueue()
        self.limiter = SlidingWindowLimiter()
        self.rate_limited: Counter[str] = Counter()  # path -> 429 answers sent (rate limits and injected faults)
        self.posts: dict[str, Post] = {}  # publish_id -> Post (tiktok/emulator/posts.py)
        self.posting = PostingBook()  # caps, upload sessions, forced fail reasons
        self.catalogue = Catalogue(config.users, self.clock.now())  # seeded videos; counts grow per emulated day
        self._media_dir = config.media_dir  # created on first use when None

    @property
    def media_dir(self) -> str:
        """Where received media files go (a fresh temporary directory unless the config names one)."""
        with self.lock:
            if self._media_dir is None:
                self._media_dir = tempfile.mkdtemp(prefix="tiktok-emulator-media-")
            return self._media_dir

    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the emulator clock forward; returns the new now."""
        return self.clock.advance(seconds)

    def log_id(self) -> str:
        return ids.new_log_id(self.now())

    def user(self, open_id: str) -> EmulatedUser | None:
        return self.config.user(open_id)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.add(fault)

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            return self.faults.take(path)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def allow_request(self, key: tuple, limit: int) -> bool:
        """Count one request against ``key``'s sliding window; False when over ``limit`` per window."""
        with self.lock:
            return self.limiter.allow(key, limit, self.now())

    def count_answer(self, path: str, status: int) -> None:
        """Note one answer; every 429 is counted per path, so a benchmark can show it caused none."""
        if status == 429:
            with self.lock:
                self.rate_limited[path] += 1

    def release_public_ids(self) -> None:
        """Publish the post ids whose moderation delay is over (every request and snapshot calls this first)."""
        if not self.posting.under_review:
            return  # nothing under review: no lock taken on the hot path
        with self.lock:
            if not self.posting.under_review:
                return
            now = self.now()
            done = {pid for pid in self.posting.under_review
                    if pid not in self.posts or self.posts[pid].release_if_due(now)}
            self.posting.under_review -= done

    def set_moderation(self, changes: dict[str, Any]) -> None:
        """Change ``moderation_delay_s`` / ``withhold_post_ids`` at runtime (ValueError when invalid)."""
        with self.lock:
            # a validated copy, so the caller's config object (maybe shared by tests) is never changed
            self.config = self.tokens.config = self.config.replace(**changes)

    def set_mode(self, changes: dict[str, Any]) -> None:
        """Change ``mode`` and/or ``sandbox_targets`` at runtime (ValueError when invalid); caps already counted
        (the active users of the last 24 h) are kept."""
        with self.lock:
            self.config = self.tokens.config = self.config.replace(**changes)

    def set_private(self, open_id: str, private: bool) -> EmulatedUser:
        """Make ``open_id``'s account private or public, as its owner would in the app (KeyError when unknown)."""
        with self.lock:
            if self.user(open_id) is None:
                raise KeyError(open_id)
            users = [replace(u, private_account=private) if u.open_id == open_id else u
                     for u in self.config.users]
            self.config = self.tokens.config = self.config.replace(users=users)
            return self.config.user(open_id)  # type: ignore[return-value]

    def mode_view(self) -> dict[str, Any]:
        """The app's mode and who may authorise (``sandbox_targets`` is None unless the app is a sandbox)."""
        config = self.config
        return {"mode": config.app_mode, "sandbox_targets": config.targets}

    def add_verified_prefixes(self, prefixes: list[str]) -> list[str]:
        """Verify more URL prefixes or domains for the app, as its owner would in TikTok's portal (ValueError when one
        is not a domain or URL prefix); returns them all. Ones already verified are not added twice."""
        with self.lock:
            known = list(self.config.verified_url_prefixes)
            fresh = [p for p in dict.fromkeys(prefixes) if p not in known]
            self.config = self.tokens.config = self.config.replace(verified_url_prefixes=known + fresh)
            return list(self.config.verified_url_prefixes)

    def revoke_user(self, open_id: str) -> int:
        with self.lock:
            return self.tokens.revoke_user(open_id)

    def snapshot(self) -> dict[str, Any]:
        """The control API's view: public config, lifetimes, clock, users, token facts, faults, posts.

        Never contains a raw token, code or the client secret (only sha256 fingerprints).
        """
        config = self.config
        with self.lock:
            self.release_public_ids()
            return {
                "client": {
                    "client_key": config.client_key, "app_name": config.app_name,
                    "redirect_uris": list(config.redirect_uris), "approved_scopes": list(config.approved_scopes),
                    "pkce_encoding": config.pkce_encoding, "mode": config.app_mode,
                    "sandbox_targets": config.targets,
                },
                "lifetimes": {"access": config.access_ttl, "refresh": config.refresh_ttl, "code": config.code_ttl,
                              "refresh_extends_deadline": config.refresh_extends_deadline},
                "now": self.now(),
                "users": [asdict(u) for u in config.users],
                "tokens": self.tokens.summary(self.now()),
                "faults": self.faults.public(),
                "rate_limited": {"total": sum(self.rate_limited.values()), "by_path": dict(self.rate_limited)},
                "posts": [p.public() for p in self.posts.values()],
                "posting": {
                    "audited": config.app_mode != "unaudited", "daily_post_cap": config.daily_post_cap,
                    "pending_share_cap": config.pending_share_cap, "unaudited_user_cap": config.unaudited_user_cap,
                    "verified_url_prefixes": list(config.verified_url_prefixes),
                    "processing_polls": config.processing_polls, "upload_url_ttl": config.upload_url_ttl,
                    "moderation_delay_s": config.moderation_delay_s, "withhold_post_ids": config.withhold_post_ids,
                    "settings": {open_id: asdict(s) for open_id, s in config.posting.items()},
                    "forced_fail_reasons": list(self.posting.forced_fail_reasons),
                    "stuck_next": self.posting.stuck_next,
                },
            }
