"""Connected accounts and their tokens, kept in one JSON file guarded by a lock file beside it.

Every change goes through :meth:`TokenStore.transaction`: take the lock, re-read the file, change it, write a temp
file in the same folder, fsync, ``os.replace`` over the original, fsync the folder, release. Readers need no lock:
``os.replace`` is atomic, so a reader sees the old file or the new one, never a mix. A file that cannot be read or
parsed raises :class:`TokenFileError` naming it and is never overwritten.

File shape (``user_tokens.json.example``)::

    {"version": 1, "accounts": {"<open_id>": {<Account fields>}, ...}}
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout

from tiktok.atomic import atomic_write, remove_stale_temps
from tiktok.errors import TokenFileError
from tiktok.auth.oauth import TokenGrant

FORMAT_VERSION = 1
LOCK_TIMEOUT_S = 60.0  # long enough for a refresh round trip held under the lock
Clock = Callable[[], float]


@dataclass(frozen=True)
class Account:
    """One connected TikTok account. Times are absolute Unix seconds computed from TikTok's relative lifetimes."""

    open_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    refresh_expires_at: float
    scopes: tuple[str, ...] = ()
    display_name: str = ""
    username: str = ""
    avatar_url: str = ""
    emulated: bool = False
    linked_at: float = 0.0
    refreshed_at: float = 0.0
    #: Why TikTok refused this account's refresh token; empty while the grant works.
    relink_reason: str = ""

    @property
    def label(self) -> str:
        """How to name the account in messages (never a token)."""
        name = f"@{self.username}" if self.username else (self.display_name or "account")
        return f"{name} ({self.open_id})"

    def access_expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at - now <= seconds

    def refresh_expires_within(self, seconds: float, now: float) -> bool:
        return self.refresh_expires_at - now <= seconds

    def with_grant(self, grant: TokenGrant, now: float) -> "Account":
        """This account after a refresh: new tokens, new deadlines, profile kept."""
        return replace(self, access_token=grant.access_token, refresh_token=grant.refresh_token,
                       expires_at=now + grant.expires_in, refresh_expires_at=now + grant.refresh_expires_in,
                       scopes=grant.scopes or self.scopes, refreshed_at=now, relink_reason="")

    @classmethod
    def from_grant(cls, grant: TokenGrant, now: float, **profile: Any) -> "Account":
        return cls(open_id=grant.open_id, access_token=grant.access_token, refresh_token=grant.refresh_token,
                   expires_at=now + grant.expires_in, refresh_expires_at=now + grant.refresh_expires_in,
                   scopes=grant.scopes, linked_at=now, refreshed_at=now, **profile)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scopes"] = list(self.scopes)
        return data

    @classmethod
    def from_json(cls, open_id: str, data: Any, path: Path) -> "Account":
        if not isinstance(data, dict):
            raise TokenFileError(path, f'account "{open_id}" is not a JSON object')
        known = {f.name for f in fields(cls)}
        for required in ("access_token", "refresh_token", "expires_at", "refresh_expires_at"):
            if required not in data:
                raise TokenFileError(path, f'account "{open_id}" has no "{required}"')
        values = {k: v for k, v in data.items() if k in known}
        values["open_id"] = open_id
        values["scopes"] = tuple(values.get("scopes") or ())
        _check_types(values, open_id, path)
        return cls(**values)


_EXPECTED_TYPES: dict[str, type | tuple[type, ...]] = {
    "access_token": str, "refresh_token": str, "display_name": str, "username": str, "avatar_url": str,
    "relink_reason": str,
    "expires_at": (int, float), "refresh_expires_at": (int, float), "linked_at": (int, float),
    "refreshed_at": (int, float), "emulated": bool,
}


def _check_types(values: dict[str, Any], open_id: str, path: Path) -> None:
    for name, expected in _EXPECTED_TYPES.items():
        value = values.get(name)
        if name in values and (not isinstance(value, expected) or (expected != bool and isinstance(value, bool))):
            raise TokenFileError(path, f'account "{open_id}" field "{name}" has the wrong type')
    if not all(isinstance(s, str) for s in values["scopes"]):
        raise TokenFileError(path, f'account "{open_id}" field "scopes" must be a list of strings')


class TokenStore:
    """The token file. Construct one per use; locks are created per transaction (safe across fork)."""

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = LOCK_TIMEOUT_S,
                 clock: Clock = time.time) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout
        self.clock = clock

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> dict[str, Account]:
        """All accounts, read without the lock. A missing file is an empty store."""
        return _parse(self.path, _read_text(self.path))

    def get(self, open_id: str) -> Account | None:
        return self.load().get(open_id)

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Account]]:
        """Hold the lock, yield the accounts as a dict to change, and write it back atomically if it changed."""
        lock = FileLock(str(self.lock_path), timeout=self.lock_timeout, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise TokenFileError(self.path, f"could not lock {self.lock_path} within {self.lock_timeout:.0f} s "
                                            "(another process is holding it)") from None
        try:
            accounts = self.load()
            before = dict(accounts)
            yield accounts
            if accounts != before:
                self._write(accounts)
        finally:
            lock.release()

    def put(self, account: Account) -> None:
        with self.transaction() as accounts:
            accounts[account.open_id] = account

    def remove(self, open_id: str) -> bool:
        with self.transaction() as accounts:
            return accounts.pop(open_id, None) is not None

    def _write(self, accounts: dict[str, Account]) -> None:
        payload = {"version": FORMAT_VERSION,
                   "accounts": {oid: acct.to_json() for oid, acct in sorted(accounts.items())}}
        text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
        remove_stale_temps(self.path)  # only the lock holder writes temps, so any left are a killed writer's
        atomic_write(self.path, text, mode=0o600)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(path, f"cannot be read ({exc.__class__.__name__}: {getattr(exc, 'strerror', '') or exc})")


def _parse(path: Path, text: str | None) -> dict[str, Account]:
    if text is None:
        return {}
    if not text.strip():
        raise TokenFileError(path, "is empty (expected a JSON object; restore it from a backup or delete it "
                                   "and log in again)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenFileError(path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise TokenFileError(path, 'has the wrong shape: expected {"version": 1, "accounts": {...}}')
    if data.get("version") != FORMAT_VERSION:
        raise TokenFileError(path, f"has format version {data.get('version')!r}; this tool reads {FORMAT_VERSION}")
    return {oid: Account.from_json(oid, acct, path) for oid, acct in data["accounts"].items()}
