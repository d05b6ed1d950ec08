"""Accounts and tokens in PostgreSQL, one row per account: the same interface as the token file
(:class:`tiktok.auth.tokens.TokenStore`), so every command and the app use either.

A refresh runs inside :meth:`PgTokenStore.locked`: ``SELECT ... FOR UPDATE`` on that one account's row, held while
TikTok is asked, so any number of processes on any machines refreshing the same account queue up on the row, and
each re-checks the account after it gets the lock (:func:`tiktok.auth.access.refresh_account`): the second finds a
fresh token and never presents the refresh token the first one just spent. Other accounts are not held up.

With ``TOKENS_KEY`` the two token columns are sealed exactly like the file's fields (:mod:`tiktok.sealing`, bound to
the open_id and the field name); a sealed value read without the key, or with another, is a DatabaseError and
nothing is changed.

Connections: every call is one transaction on a connection of the process's accounts pool
(:func:`tiktok.db.connection.transaction`, its share of ``DATABASE_POOL_SIZE``), shared with the request limiter; a
refresh holds its connection while TikTok answers (at most the OAuth client's timeout). No call opens one of its own.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from tiktok.auth.tokens import SECRET_FIELDS, Account
from tiktok.db.connection import describe, transaction
from tiktok.errors import DatabaseError
from tiktok.sealing import ENCRYPTION, Cipher, is_sealed

COLUMNS = "open_id, profile, access_token, refresh_token"


class PgTokenStore:
    """The accounts' store in PostgreSQL (DATABASE_URL): :class:`~tiktok.auth.tokens.TokenStore`'s interface, one
    row per account, each refresh under that row's lock (see the module docstring)."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, key: str | None = None) -> None:
        self.url = url
        self.path = describe(url)  # what messages name ("no account ... in <path>")
        self.clock = clock
        self._cipher = Cipher(key) if key else None

    def __repr__(self) -> str:
        return f"PgTokenStore({self.path!r})"

    # -- reading -------------------------------------------------------------------------------------------------

    def load(self) -> dict[str, Account]:
        with transaction(self.url) as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM tiktok_accounts ORDER BY open_id").fetchall()
        return {row[0]: self._account(row, self._cipher) for row in rows}

    def get(self, open_id: str) -> Account | None:
        with transaction(self.url) as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM tiktok_accounts WHERE open_id = %s", (open_id,)).fetchone()
        return None if row is None else self._account(row, self._cipher)

    def encryption(self) -> str | None:
        """``fernet:v1`` when any stored token is sealed, else None."""
        with transaction(self.url) as conn:
            sealed = conn.execute("SELECT EXISTS (SELECT 1 FROM tiktok_accounts WHERE access_token LIKE 'fernet:%%' "
                                  "OR refresh_token LIKE 'fernet:%%')").fetchone()[0]
        return ENCRYPTION if sealed else None

    # -- changing --------------------------------------------------------------------------------------------------

    def put(self, account: Account) -> None:
        with transaction(self.url) as conn:
            self._upsert(conn, account, self._cipher)

    def remove(self, open_id: str) -> bool:
        with transaction(self.url) as conn:
            return conn.execute("DELETE FROM tiktok_accounts WHERE open_id = %s", (open_id,)).rowcount > 0

    @contextmanager
    def locked(self, open_id: str) -> Iterator[dict[str, Account]]:
        """This account's row locked (``FOR UPDATE``) until the block ends; yields ``{open_id: account}`` (empty
        when there is no such account) to change; the change (set, replace or pop) is written in the same
        transaction."""
        with transaction(self.url) as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM tiktok_accounts WHERE open_id = %s FOR UPDATE",
                               (open_id,)).fetchone()
            accounts = {} if row is None else {open_id: self._account(row, self._cipher)}
            before = dict(accounts)
            yield accounts
            self._write_changes(conn, before, accounts)

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Account]]:
        """Every account, the table locked against other writers until the block ends (imports, key changes)."""
        with transaction(self.url) as conn:
            conn.execute("LOCK TABLE tiktok_accounts IN SHARE ROW EXCLUSIVE MODE")
            rows = conn.execute(f"SELECT {COLUMNS} FROM tiktok_accounts").fetchall()
            accounts = {row[0]: self._account(row, self._cipher) for row in rows}
            before = dict(accounts)
            yield accounts
            self._write_changes(conn, before, accounts)

    def migrate(self, new_key: str | None) -> bool:
        """Re-seal every row with ``new_key`` (None: plain), under the table lock; False when nothing changes."""
        cipher = Cipher(new_key) if new_key else None
        with transaction(self.url) as conn:
            conn.execute("LOCK TABLE tiktok_accounts IN SHARE ROW EXCLUSIVE MODE")
            rows = conn.execute(f"SELECT {COLUMNS} FROM tiktok_accounts").fetchall()
            sealed = any(is_sealed(row[2]) or is_sealed(row[3]) for row in rows)
            if not rows or (not sealed and cipher is None):
                return False
            for row in rows:
                self._upsert(conn, self._account(row, self._cipher), cipher)
        return True

    # -- rows ------------------------------------------------------------------------------------------------------

    def _write_changes(self, conn, before: dict[str, Account], after: dict[str, Account]) -> None:
        for open_id in before.keys() - after.keys():
            conn.execute("DELETE FROM tiktok_accounts WHERE open_id = %s", (open_id,))
        for open_id, account in after.items():
            if before.get(open_id) != account:
                self._upsert(conn, account, self._cipher)

    def _upsert(self, conn, account: Account, cipher: Cipher | None) -> None:
        data = account.to_json()
        tokens = [data.pop(name) for name in SECRET_FIELDS]
        if cipher is not None:
            tokens = [cipher.seal(account.open_id, name, value) for name, value in zip(SECRET_FIELDS, tokens)]
        data.pop("open_id")
        conn.execute("INSERT INTO tiktok_accounts (open_id, profile, access_token, refresh_token) "
                     "VALUES (%s, %s, %s, %s) ON CONFLICT (open_id) DO UPDATE SET profile = EXCLUDED.profile, "
                     "access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token, "
                     "updated_at = now()", (account.open_id, json.dumps(data), *tokens))

    def _account(self, row: tuple[Any, ...], cipher: Cipher | None) -> Account:
        open_id, profile, *tokens = row
        secrets = {}
        for name, value in zip(SECRET_FIELDS, tokens):
            if is_sealed(value):
                if cipher is None:
                    raise DatabaseError(f"{self.path}: the tokens are encrypted but TOKENS_KEY is not set: set it to "
                                        "the key they were written with; nothing was changed")
                value = cipher.open(open_id, name, value, fail=lambda why: DatabaseError(f"{self.path}: {why}"))
            secrets[name] = value
        return Account.from_json(open_id, {**profile, **secrets}, self.path)
