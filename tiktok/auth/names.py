"""Which connected account a person means: an open_id, or the account's ``@name`` as the tool shows it.

Every place a person names an account (``--account`` of the commands, the composer's account picker) resolves it
here, with one rule (issue 26 item 8): a value equal to a connected account's open_id is that account, whatever it
looks like; ``@name`` is the account whose TikTok username is ``name``, compared case-insensitively (the issue's
rule: a person types the name as they remember it, ``@Ada.Creates`` for ``@ada.creates``); any other value is passed on unchanged, so the caller's own "no such
open_id" stays as it was. An ``@name`` that matches no account, or more than one, is :class:`UnknownAccountName`
(exit 2), naming the option and listing the known ``@names``.

Pure: the accounts are given (:meth:`tiktok.auth.tokens.TokenStore.load`'s values, or anything with ``open_id``
and ``username``), nothing is read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from tiktok.errors import AccountNotFound, TikTokError


class Named(Protocol):
    open_id: str
    username: str


class UnknownAccountName(AccountNotFound):
    """An ``@name`` given for an account names no connected account, or several (then only the open_id will do)."""

    def __init__(self, value: str, option: str, known: Sequence[str], *, matches: Sequence[str] = ()) -> None:
        self.open_id = value
        self.option = option
        self.known = tuple(known)
        self.matches = tuple(matches)
        listed = ", ".join(self.known) if self.known else "none has an @name yet"
        if self.matches:
            why = (f"{len(self.matches)} connected accounts are called {value} (open_ids {', '.join(self.matches)}): "
                   f"give the open_id instead")
        else:
            why = "no connected account is called that: give one of the connected accounts' @names or its open_id"
        TikTokError.__init__(self, f"{option} {value}: {why}. Connected accounts: {listed}.")


def is_name(value: str) -> bool:
    """Whether ``value`` is written as an ``@name``."""
    return value.startswith("@") and len(value) > 1


def known_names(accounts: Iterable[Named]) -> list[str]:
    """The ``@names`` of the accounts, sorted case-insensitively (accounts without a username have none)."""
    return sorted({f"@{a.username}" for a in accounts if a.username}, key=str.casefold)


def resolve_account(value: str, accounts: Iterable[Named], *, option: str = "--account") -> str:
    """The open_id ``value`` stands for (the rule in the module docstring); UnknownAccountName for an ``@name``
    that names no connected account or several."""
    accounts = list(accounts)
    if any(a.open_id == value for a in accounts) or not is_name(value):
        return value
    wanted = value[1:].casefold()
    matches = [a.open_id for a in accounts if a.username and a.username.casefold() == wanted]
    if len(matches) == 1:
        return matches[0]
    raise UnknownAccountName(value, option, known_names(accounts), matches=sorted(matches))


def resolve_accounts(values: Iterable[str], accounts: Iterable[Named], *, option: str = "--account") -> list[str]:
    """:func:`resolve_account` for each value, in order, each open_id once."""
    accounts = list(accounts)
    resolved = [resolve_account(value, accounts, option=option) for value in values]
    return list(dict.fromkeys(resolved))


def needs_accounts(values: Iterable[str]) -> bool:
    """Whether resolving ``values`` needs the accounts at all (some is an ``@name``): callers read the token store
    only then, so an open_id alone behaves exactly as before."""
    return any(is_name(value) for value in values)


def resolve_from(values: Iterable[str], store, *, option: str = "--account") -> list[str]:
    """:func:`resolve_accounts` against the connected accounts in ``store`` (a token store: ``load()``), read only
    when some value is an ``@name``; otherwise the values as given."""
    values = list(values)
    if not needs_accounts(values):
        return values
    return resolve_accounts(values, store.load().values(), option=option)
