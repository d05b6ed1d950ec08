"""A small client for the emulator's control API, for tests in this or another process."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_S = 10.0  # loopback only; generous so a busy CI machine does not flake


class EmulatorRemote:
    """Drive a running emulator at ``base_url`` (e.g. ``http://127.0.0.1:5123``)."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.session.request(method, self.base_url + "/_emulator" + path, json=json, timeout=TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        """The emulator's public state (fingerprints only, never raw tokens)."""
        return self._call("GET", "/state")

    def inject_fault(self, path: str, *, status: int | None = None, error: str | None = None,
                     message: str | None = None, times: int = 1, retry_after: float | None = None,
                     drop: bool = False, delay: float = 0.0,
                     drop_after_bytes: int | None = None) -> list[dict[str, Any]]:
        """Queue a fault for the next ``times`` requests to ``path``; returns the queued faults.
        ``drop_after_bytes`` reads that much of the request body, then drops the connection."""
        body = {"path": path, "status": status, "error": error, "message": message, "times": times,
                "retry_after": retry_after, "drop": drop, "delay": delay}
        if drop_after_bytes is not None:
            body["drop_after_bytes"] = drop_after_bytes
        return self._call("POST", "/faults", body)["faults"]

    def rate_limited(self) -> int:
        """How many 429 answers the emulator has sent so far (its rate limits and injected 429 faults)."""
        return int(self.state()["rate_limited"]["total"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def clock(self) -> dict:
        """The emulated time: ``now`` and ``iso`` (see ``GET /_emulator/clock``)."""
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward; returns its new epoch time."""
        return self._call("POST", "/clock", {"advance": seconds})["now"]

    def moderation(self) -> dict[str, Any]:
        """The moderation new public posts get: ``{"delay_s": float, "withhold": bool}``."""
        return self._call("GET", "/moderation")

    def set_moderation(self, *, delay_s: float | None = None, withhold: bool | None = None) -> dict[str, Any]:
        """Change the moderation delay (emulator seconds) and/or withholding of public post ids, for posts that
        complete from now on; returns the new settings. ``None`` leaves a setting as it is."""
        body: dict[str, Any] = {}
        if delay_s is not None:
            body["delay_s"] = delay_s
        if withhold is not None:
            body["withhold"] = withhold
        return self._call("POST", "/moderation", body)

    def verified_prefixes(self) -> list[str]:
        """The URL prefixes and domains verified for the emulated app."""
        return self._call("GET", "/verified_prefixes")["verified"]

    def verify_prefixes(self, *prefixes: str) -> list[str]:
        """Verify more URL prefixes (ending in ``/``) or domains, as the app's owner would in TikTok's portal;
        returns every verified one."""
        return self._call("POST", "/verified_prefixes", {"add": list(prefixes)})["verified"]

    def mode(self) -> dict[str, Any]:
        """The app's mode: ``{"mode": "sandbox" | "unaudited" | "audited", "sandbox_targets": [...] | None}``."""
        return self._call("GET", "/mode")

    def set_mode(self, mode: str, *, sandbox_targets: list[str] | None = None) -> dict[str, Any]:
        """Switch the app's mode from now on (reference 8.2, 8.3); ``sandbox_targets`` names a sandbox's target users
        (None keeps the current list: by default the users marked as targets). Returns the new mode, as ``mode()``."""
        body: dict[str, Any] = {"mode": mode}
        if sandbox_targets is not None:
            body["sandbox_targets"] = list(sandbox_targets)
        return self._call("POST", "/mode", body)

    def set_private(self, open_id: str, private: bool = True) -> bool:
        """Make ``open_id``'s account private (or public again); returns the new setting."""
        return self._call("POST", f"/users/{open_id}/privacy", {"private": private})["private"]

    def stick_next_posts(self, times: int = 1) -> int:
        """The "stuck forever" fault: the next ``times`` posts stay PROCESSING_* with no fail_reason, never terminal;
        returns how many posts are queued to stick."""
        return self._call("POST", "/posts/stick_next", {"times": times})["stuck_next"]

    def revoke_user(self, open_id: str) -> int:
        """Revoke every grant of ``open_id`` (the user removed the app); returns how many were active."""
        return self._call("POST", f"/users/{open_id}/revoke")["revoked_grants"]

    def requests(self, after: int = 0) -> list[dict[str, Any]]:
        """Every request the emulator answered (its last ``request_log.LIMIT``), oldest first, numbered from 1 (``n``)
        with ``method``, ``path``, ``at`` (Unix seconds), ``user_agent`` and ``status``; only those after ``after``
        when given. Kept last in the class: the name would hide the requests module from later class-level code."""
        return self._call("GET", f"/requests?after={int(after)}")["requests"]
