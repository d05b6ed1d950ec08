"""Sealing secret values at rest with ``TOKENS_KEY`` (a Fernet key): the token file's access and refresh tokens
(auth/tokens) and the post store's upload URLs (store/sql, and earlier versions' results files: store/legacy).

Each value is sealed with Fernet (AES-128-CBC + HMAC-SHA256) together with what it belongs to, e.g. an account's
open_id and the field name, so a value copied to another account, record or field fails to open. A sealed value
is ``fernet:v1:<token>``. ``cryptography`` is imported only when a :class:`Cipher` is made (a key is set), so plain
files and ``--help`` never load it.

The cipher raises the caller's own error (``fail``, e.g. ``TokenFileError`` for the file being read), so each
file's messages name that file; a key that is not a Fernet key is a :class:`~tiktok.errors.ConfigError`.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from tiktok.errors import ConfigError

ENCRYPTION = "fernet:v1"  # the only scheme; also the prefix (with ":") of every sealed value
PREFIX = ENCRYPTION + ":"
Fail = Callable[[str], Exception]  # builds the caller's error from a reason ("is encrypted with another key ...")


def is_sealed(value: Any) -> bool:
    """True for a value written by :meth:`Cipher.seal` (by its prefix; nothing is opened)."""
    return isinstance(value, str) and value.startswith(PREFIX)


class Cipher:
    """Fernet over one secret value, bound to its owner and field (a value moved elsewhere fails to open)."""

    def __init__(self, key: str) -> None:
        from cryptography.fernet import Fernet  # only when a key is set: plain stores never load cryptography

        try:
            self._fernet = Fernet(key.strip().encode("ascii"))
        except (ValueError, TypeError, UnicodeError):
            raise ConfigError("TOKENS_KEY is not a Fernet key (44 characters of url-safe base64; make one with: "
                              "python -c \"from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())\")") from None

    def seal(self, owner_id: str, name: str, value: str) -> str:
        plain = json.dumps([owner_id, name, value]).encode("utf-8")
        return f"{PREFIX}{self._fernet.encrypt(plain).decode('ascii')}"

    def open(self, owner_id: str, name: str, value: Any, *, fail: Fail, owner: str = "account") -> str:
        """The secret in ``value``, sealed for ``owner_id``/``name``; else raises ``fail(reason)``.

        ``owner`` names what ``owner_id`` is in messages (``account``, ``record``); messages never hold a secret.
        """
        from cryptography.fernet import InvalidToken

        where = f'{owner} "{owner_id}" field "{name}"'
        if not is_sealed(value):
            raise fail(f'is marked encrypted but {where} is not "{PREFIX}..."; restore the file from a backup')
        try:
            plain = self._fernet.decrypt(value[len(PREFIX):].encode("ascii"))
        except (InvalidToken, UnicodeError):
            raise fail("is encrypted with another key: TOKENS_KEY does not open it (nothing was changed; set "
                       "TOKENS_KEY to the key it was written with)") from None
        try:
            bound_id, bound_name, secret = json.loads(plain)
        except (ValueError, TypeError):
            raise fail(f"{where} decrypts to something this tool did not write") from None
        if (bound_id, bound_name) != (owner_id, name) or not isinstance(secret, str):
            raise fail(f"{where} holds a value sealed for another {owner} or field")
        return secret


def cipher_for(key: str | None) -> Cipher | None:
    """A cipher for ``key``, or None when no key is set (plain files)."""
    return Cipher(key) if key else None
