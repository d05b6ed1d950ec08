"""Connected accounts and their tokens, kept in one JSON file guarded by a lock file beside it.

Every change goes through :meth:`TokenStore.transaction`: take the lock, re-read the file, *reserve the space* for
the next version (a temp file in the same folder, already written at a generous size and fsynced), change it, write
the real content into that reserved temp file, fsync, ``os.replace`` over the original, fsync the folder, release.
The reservation is made before the caller gets the accounts, so a refresh (which rotates the refresh token at
TikTok: the old one dies) is never sent when the new token could not be stored: a full, read-only or unwritable
folder raises :class:`TokenFileError` first. Readers need no lock: ``os.replace`` is atomic, so a reader sees the
old file or the new one, never a mix. A file that cannot be read or parsed raises :class:`TokenFileError` naming it
and is never overwritten.

A token file that is a symlink is updated through the link: the path is resolved once when the store is made, and
both the lock file (``<target>.lock``) and the temp file live beside the target, so processes naming the link and
processes naming the target share one lock, and the link stays a link.

With a key (``TOKENS_KEY``, a Fernet key) the secret fields (``access_token``, ``refresh_token``) are stored
encrypted and authenticated (Fernet: AES-128-CBC + HMAC-SHA256, :mod:`tiktok.sealing`), each value bound to its
account and field name; the file then says ``"encryption": "fernet:v1"`` and every secret value starts with
``fernet:v1:``. An encrypted file read without the key, or with another key, raises :class:`TokenFileError` and is
left untouched. A plain file read with a key works and is encrypted at its next write;
``python -m tiktok tokens encrypt|decrypt|rotate-key`` migrates it at once (:meth:`TokenStore.migrate`).

File shape (``user_tokens.json.example``)::

    {"version": 1, "accounts": {"<open_id>": {<Account fields>}, ...}}
    {"version": 1, "encryption": "fernet:v1", "accounts": {"<open_id>": {"access_token": "fernet:v1:...", ...}}}
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from tiktok.atomic import Reservation, held_lock, os_reason, remove_stale_temps, reserve
from tiktok.errors import TokenFileError
from tiktok.auth.oauth import TokenGrant
from tiktok.sealing import ENCRYPTION, Cipher

FORMAT_VERSION = 1
LOCK_TIMEOUT_S = 60.0  # long enough for a refresh round trip held under the lock
RESERVE_HEADROOM = 16 * 1024  # reserved beyond twice the current size: room for new, longer or encrypted tokens
SECRET_FIELDS = ("access_token", "refresh_token")
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
    """The token file. Construct one per use; locks are created per transaction (safe across fork).

    ``key``: a Fernet key (``TOKENS_KEY``); with it, secret fields are written encrypted and encrypted files can be
    read. ``path`` stays as given for messages; ``target`` (the symlink-resolved path) is what is locked and written.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = LOCK_TIMEOUT_S,
                 clock: Clock = time.time, key: str | None = None) -> None:
        self.path = Path(path)
        self.target = Path(os.path.realpath(self.path))  # through any symlinks, once: one lock for link and target
        self.lock_path = self.target.with_name(self.target.name + ".lock")
        self.lock_timeout = lock_timeout
        self.clock = clock
        self._cipher = Cipher(key) if key else None

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> dict[str, Account]:
        """All accounts, read without the lock. A missing file is an empty store."""
        return self._read()[0]

    def encryption(self) -> str | None:
        """How the file on disk is encrypted now (``"fernet:v1"``) or None for a plain (or missing) file."""
        return self._read()[1]

    def get(self, open_id: str) -> Account | None:
        return self.load().get(open_id)

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Account]]:
        """Hold the lock, reserve the space for the write, yield the accounts as a dict to change, and write it back
        atomically (into the reserved space) if it changed."""
        with self._locked():
            accounts = self.load()
            before = dict(accounts)
            with self._reserved() as reservation:
                yield accounts
                if accounts != before:
                    self._write(accounts, reservation, self._cipher)

    @contextmanager
    def locked(self, open_id: str) -> Iterator[dict[str, Account]]:
        """The accounts, with ``open_id``'s held against other writers until the block ends (here: the whole file's
        lock; the PostgreSQL store locks only that account's row). Changes are written like :meth:`transaction`."""
        with self.transaction() as accounts:
            yield accounts

    def migrate(self, new_key: str | None) -> bool:
        """Rewrite the file under the lock, read with this store's key and written with ``new_key`` (None: plain).

        Returns False (nothing written) when the file is missing, or already plain and ``new_key`` is None.
        """
        cipher = Cipher(new_key) if new_key else None
        with self._locked():
            accounts, encryption = self._read()
            if not self.target.exists() or (encryption is None and cipher is None):
                return False
            with self._reserved() as reservation:
                self._write(accounts, reservation, cipher)
        return True

    def put(self, account: Account) -> None:
        with self.transaction() as accounts:
            accounts[account.open_id] = account

    def remove(self, open_id: str) -> bool:
        with self.transaction() as accounts:
            return accounts.pop(open_id, None) is not None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        def fail(reason: str) -> TokenFileError:
            return TokenFileError(self.path, f"{reason}; nothing was changed and no token was refreshed")
        with held_lock(self.lock_path, self.lock_timeout, fail):
            yield

    @contextmanager
    def _reserved(self) -> Iterator[Reservation]:
        """The temp file for the next write, already holding enough bytes; raises before any change if it can't."""
        try:
            remove_stale_temps(self.target)  # only the lock holder writes temps, so any left are a killed writer's
            try:
                current = self.target.stat().st_size
            except FileNotFoundError:
                current = 0
            reservation = reserve(self.target, 2 * current + RESERVE_HEADROOM)
        except OSError as exc:
            raise TokenFileError(self.path, f"cannot be written: reserving space for the next version in "
                                            f"{self.target.parent} failed ({os_reason(exc)}); nothing was changed "
                                            "and no token was refreshed") from None
        try:
            yield reservation
        finally:
            reservation.discard()

    def _read(self) -> tuple[dict[str, Account], str | None]:
        return _parse(self.path, _read_text(self.path), self._cipher)

    def _write(self, accounts: dict[str, Account], reservation: Reservation, cipher: "Cipher | None") -> None:
        payload: dict[str, Any] = {"version": FORMAT_VERSION, "accounts": {
            oid: _seal(acct.to_json(), cipher) for oid, acct in sorted(accounts.items())}}
        if cipher is not None:
            payload["encryption"] = ENCRYPTION
        text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
        try:
            reservation.commit(text, mode=0o600)
        except OSError as exc:
            raise TokenFileError(self.path, f"could not be written ({os_reason(exc)}); it still holds its previous "
                                            "content") from None


def _seal(data: dict[str, Any], cipher: Cipher | None) -> dict[str, Any]:
    if cipher is None:
        return data
    return {**data, **{name: cipher.seal(data["open_id"], name, data[name]) for name in SECRET_FIELDS}}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(path, f"cannot be read ({exc.__class__.__name__}: {getattr(exc, 'strerror', '') or exc})")


def _parse(path: Path, text: str | None, cipher: Cipher | None = None) -> tuple[dict[str, Account], str | None]:
    """The accounts and the file's encryption scheme (None when plain)."""
    if text is None:
        return {}, None
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
    encryption = data.get("encryption")
    if encryption is None:
        return {oid: Account.from_json(oid, acct, path) for oid, acct in data["accounts"].items()}, None
    if encryption != ENCRYPTION:
        raise TokenFileError(path, f"is encrypted with {encryption!r}; this tool reads {ENCRYPTION!r}")
    if cipher is None:
        raise TokenFileError(path, "is encrypted but TOKENS_KEY is not set: set it (in .env or the environment) to "
                                   "the key the file was written with; the file was not changed")
    accounts = {}
    fail = lambda why: TokenFileError(path, why)  # noqa: E731
    for oid, acct in data["accounts"].items():
        if isinstance(acct, dict):
            acct = {**acct, **{name: cipher.open(oid, name, acct[name], fail=fail) for name in SECRET_FIELDS
                               if name in acct}}
        accounts[oid] = Account.from_json(oid, acct, path)
    return accounts, ENCRYPTION
