"""Pending logins: the OAuth ``state`` and PKCE verifier, kept server-side.

The browser holds only a random flow id in its session cookie. A flow is single-use, expires after
``ttl`` seconds, and its state is compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from tiktok.auth.pkce import make_verifier

FLOW_TTL_S = 600  # 10 minutes
_MAX_PENDING = 256


class StateError(Exception):
    """The callback's state cannot be trusted; ``kind`` is missing, reused, expired or mismatched."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class PendingLogin:
    state: str = field(repr=False)
    verifier: str = field(repr=False)
    created_at: float
    relink_open_id: str | None = None


class LoginFlows:
    def __init__(self, *, ttl: float = FLOW_TTL_S, clock: Callable[[], float] = time.time,
                 token: Callable[[int], str] = secrets.token_urlsafe) -> None:
        self._ttl = ttl
        self._clock = clock
        self._token = token
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, PendingLogin] = OrderedDict()
        self._used: OrderedDict[str, None] = OrderedDict()

    def start(self, relink_open_id: str | None = None) -> tuple[str, PendingLogin]:
        """A new flow: returns its id (for the session cookie) and the state and verifier to send."""
        flow_id = self._token(24)
        pending = PendingLogin(state=self._token(32), verifier=make_verifier(self._token),
                               created_at=self._clock(), relink_open_id=relink_open_id)
        with self._lock:
            self._pending[flow_id] = pending
            while len(self._pending) > _MAX_PENDING:
                self._pending.popitem(last=False)
        return flow_id, pending

    def finish(self, flow_id: str | None, state: str | None) -> PendingLogin:
        """Consume the flow and check the state; raises :class:`StateError` when it cannot be trusted."""
        if not state:
            raise StateError("missing", "The answer from TikTok carried no state parameter.")
        if not flow_id:
            raise StateError("missing", "This browser has no login in progress (it may have been started in "
                                        "another browser, or cookies are blocked).")
        with self._lock:
            pending = self._pending.pop(flow_id, None)
            if pending is None:
                reused = flow_id in self._used
            else:
                self._used[flow_id] = None
                while len(self._used) > _MAX_PENDING:
                    self._used.popitem(last=False)
        if pending is None:
            if reused:
                raise StateError("reused", "This login answer was already used; each one works once.")
            raise StateError("missing", "No login in progress matches this answer (the app may have restarted).")
        if not hmac.compare_digest(pending.state.encode(), state.encode()):
            raise StateError("mismatched", "The state in TikTok's answer does not match the login this browser "
                                           "started.")
        if self._clock() - pending.created_at > self._ttl:
            raise StateError("expired", f"The login took longer than {int(self._ttl // 60)} minutes.")
        return pending
