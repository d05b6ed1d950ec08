"""Worker processes for the concurrency and crash tests: ``python -m tests.support.workers MODE ...``.

refresh TOKENS URL KEY SECRET WORKER N   N rounds of: force-refresh one account (strict rotation), then add an
                                          account of its own; prints one line per success, exits 1 on any error.
                                          TOKENS: a token file, or a postgresql:// URL.
write TOKENS                             writes forever: rotates every account's tokens and adds one account per
                                          commit, printing "committed <open_id>" after each commit.
"""

from __future__ import annotations

import sys
import time

import requests

from tiktok.auth.access import refresh_account
from tiktok.auth.oauth import OAuthClient, TokenGrant
from tiktok.auth.tokens import Account, TokenStore


def open_store(tokens: str):
    """The token file at ``tokens``, or the PostgreSQL store when it is a postgresql:// URL."""
    if tokens.startswith("postgresql://"):
        from tiktok.auth.pg_store import PgTokenStore
        return PgTokenStore(tokens)
    return TokenStore(tokens)


def refresh_worker(tokens: str, url: str, key: str, secret: str, worker: str, rounds: str) -> int:
    store = open_store(tokens)
    oauth = OAuthClient(requests.Session(), api_base=url, client_key=key, client_secret=secret)
    linked = sorted(oid for oid, a in store.load().items() if a.emulated)
    for i in range(int(rounds)):
        open_id = linked[(int(worker) + i) % len(linked)]
        refresh_account(store, oauth, open_id, force=True)  # raises on a dead refresh token
        own = f"w{worker}-{i}"
        store.put(Account.from_grant(_fake_grant(own), time.time()))
        print(f"ok {open_id} {own}", flush=True)
    return 0


def write_forever(tokens: str) -> int:
    store = TokenStore(tokens)
    n = 0
    while True:
        n += 1
        open_id = f"c{n}-{time.monotonic_ns()}"
        with store.transaction() as accounts:
            for oid, account in list(accounts.items()):
                accounts[oid] = account.with_grant(_fake_grant(oid, n), time.time())
            accounts[open_id] = Account.from_grant(_fake_grant(open_id, n), time.time())
        print(f"committed {open_id}", flush=True)


def assert_rotations_kept(remote, accounts: dict, users: list[str], refreshes: int) -> None:
    """After concurrent refreshes under strict rotation: none presented a spent refresh token, none was lost, and
    the store holds, for every account, the refresh token live at TikTok (compared by hash: no token in a message)."""
    import hashlib

    tokens = remote.state()["tokens"]
    assert tokens["dead_refresh_token_uses"] == 0, "a process presented a refresh token that was rotated away"
    grants = {g["open_id"]: g for g in tokens["grants"] if g["status"] == "active"}
    assert sum(grants[oid]["rotations"] for oid in users) == refreshes, "a refresh was lost"
    for open_id in users:
        assert grants[open_id]["refresh_token_sha256"] == hashlib.sha256(
            accounts[open_id].refresh_token.encode()).hexdigest(), f"{open_id}: the stored refresh token is not live"


def _fake_grant(open_id: str, n: int = 0) -> TokenGrant:
    return TokenGrant(open_id=open_id, access_token=f"act.{open_id}.{n}" + "x" * 64,
                      refresh_token=f"rft.{open_id}.{n}" + "y" * 64, expires_in=7200,
                      refresh_expires_in=15_552_000, scopes=("user.info.basic",))


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    sys.exit(refresh_worker(*args) if mode == "refresh" else write_forever(*args))
