"""Accounts and tokens in PostgreSQL (DATABASE_URL): migrations, the store's interface, encryption at rest, and many
processes refreshing under strict rotation without ever presenting a dead refresh token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import requests

from tiktok.auth.access import fresh_account
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import Account
from tiktok.db.migrations import LATEST, migrate, pending, schema_version
from tiktok.auth.pg_store import PgTokenStore
from tiktok.emulator.config import default_users
from tiktok.errors import DatabaseError, DatabaseUnavailable
from tests.support.flows import link_account
from tests.support.workers import _fake_grant, assert_rotations_kept

pytestmark = pytest.mark.slow  # throwaway PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[1]
KEY = "q0Bd8CQXuZ9yqUX4N1HnDqS0w7Qm6Hb3mE9cHvxg0C8="
OTHER_KEY = "x7WZ0jv8Xo7rJcFzv1m2gQ4Pz5k3nC0d9aYb6eRtS1U="


@pytest.fixture
def db(database_url) -> str:
    migrate(database_url)
    return database_url


def account(open_id: str, n: int = 0) -> Account:
    return Account.from_grant(_fake_grant(open_id, n), 1_800_000_000.0, username=f"u_{open_id}")


def test_migrate_applies_every_migration_once_and_is_safe_to_run_again(database_url):
    assert schema_version(database_url) == 0
    assert [m.version for m in migrate(database_url)] == list(range(1, LATEST + 1))
    assert migrate(database_url) == [] and schema_version(database_url) == LATEST
    assert pending([1]) and not pending(list(range(1, LATEST + 1)))
    with psycopg.connect(database_url) as conn:  # Procrastinate's tables came with migration 2
        assert conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]


def test_four_processes_migrating_at_once_apply_each_migration_once(database_url):
    code = "import sys; from tiktok.db.migrations import migrate; print(len(migrate(sys.argv[1])))"
    procs = [subprocess.Popen([sys.executable, "-c", code, database_url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
             for _ in range(4)]
    results = [(p.wait(timeout=60), p.stdout.read().strip(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    assert sorted(int(out) for _, out, _ in results) == [0, 0, 0, LATEST]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM tiktok_schema_migrations").fetchone()[0] == LATEST


def test_the_store_reads_back_what_it_wrote(db):
    store = PgTokenStore(db)
    store.put(account("a"))
    store.put(account("b"))
    assert set(store.load()) == {"a", "b"} and store.get("a") == account("a")
    with store.locked("a") as accounts:
        accounts["a"] = account("a", 1)
    assert store.get("a").refresh_token == account("a", 1).refresh_token
    with store.locked("nobody") as accounts:
        assert accounts == {}
    assert store.remove("b") and not store.remove("b") and set(store.load()) == {"a"}
    assert store.encryption() is None


def test_an_unmigrated_database_says_what_to_run(database_url):
    with pytest.raises(DatabaseError, match="python -m tiktok db migrate"):
        PgTokenStore(database_url).load()


def test_an_unreachable_server_is_a_transient_error_that_names_no_password(postgres):
    url = f"postgresql://user:s3cret-pass@127.0.0.1:{postgres.port + 1}/nothing"
    with pytest.raises(DatabaseUnavailable) as caught:
        PgTokenStore(url).load()
    assert "s3cret-pass" not in str(caught.value) and caught.value.transient
    assert 'database "nothing"' in str(caught.value)


def test_tokens_are_sealed_at_rest_with_the_key_and_unreadable_without_it(db):
    sealed = PgTokenStore(db, key=KEY)
    sealed.put(account("a"))
    with psycopg.connect(db) as conn:
        raw = conn.execute("SELECT access_token, refresh_token, profile::text FROM tiktok_accounts").fetchone()
    assert all(value.startswith("fernet:v1:") for value in raw[:2])
    assert account("a").access_token not in "".join(raw) and account("a").refresh_token not in "".join(raw)
    assert sealed.get("a") == account("a") and sealed.encryption() == "fernet:v1"
    with pytest.raises(DatabaseError, match="TOKENS_KEY is not set"):
        PgTokenStore(db).load()
    with pytest.raises(DatabaseError, match="another key"):
        PgTokenStore(db, key=OTHER_KEY).load()
    assert PgTokenStore(db, key=KEY).migrate(None) and PgTokenStore(db).get("a") == account("a")


def test_eight_processes_refreshing_with_strict_rotation_never_present_a_dead_token(db, emulator, remote):
    store = PgTokenStore(db)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    users = [u.open_id for u in default_users()]
    for open_id in users:
        link_account(emulator.url, store, oauth, open_id)
    cfg, workers, rounds = emulator.config, 8, 6
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.workers", "refresh", db, emulator.url,
                               cfg.client_key, cfg.client_secret, str(w), str(rounds)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(workers)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), [err[-1500:] for _, _, err in results]
    accounts = store.load()
    assert {f"w{w}-{i}" for w in range(workers) for i in range(rounds)} <= set(accounts)
    assert_rotations_kept(remote, accounts, users, workers * rounds)
    assert fresh_account(store, oauth, users[0]).access_token  # still usable afterwards
