"""TOKENS_KEY: the token file's access and refresh tokens encrypted at rest (Fernet), and the ``tokens`` command.

The commands run as real subprocesses (``python -m tiktok ...``) against the emulator on loopback, except the
report, which runs in-process the way tests/support/reports.py runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.errors import ConfigError, TokenFileError
from tests.support.flows import link_account
from tests.support.reports import make_reporter

ROOT = Path(__file__).resolve().parents[1]
ADA, BO = (u.open_id for u in default_users()[:2])
SECRET = "cs-" + os.urandom(12).hex()
KEY, OTHER_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def emulator_config():
    return EmulatorConfig(client_secret=SECRET)


@pytest.fixture
def run_cli(emulator, tokens_path, tmp_path):
    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
               "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": SECRET,
               "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), **extra_env}
        return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    return run


def secrets_of(store: TokenStore) -> list[str]:
    return [value for acct in store.load().values() for value in (acct.access_token, acct.refresh_token)]


def assert_hidden(text: str, secrets: list[str], *keys: str) -> None:
    """No token or key appears in ``text`` (the failure message names none either)."""
    leaked = [i for i, s in enumerate(secrets) if s in text]
    assert not leaked, f"token number(s) {leaked} appear in the text"
    assert not [k for k in keys if k in text], "a key appears in the text"


def expire_soon(store: TokenStore, open_id: str) -> None:
    with store.transaction() as accounts:
        accounts[open_id] = replace(accounts[open_id], expires_at=time.time() + 60)


def test_an_encrypted_file_holds_no_token_and_says_it_is_encrypted(emulator, oauth, tokens_path):
    store = TokenStore(tokens_path, key=KEY)
    link_account(emulator.url, store, oauth, ADA)
    link_account(emulator.url, store, oauth, BO)
    text = tokens_path.read_text()
    data = json.loads(text)
    assert data["encryption"] == "fernet:v1"
    assert all(data["accounts"][oid][name].startswith("fernet:v1:") for oid in (ADA, BO)
               for name in ("access_token", "refresh_token"))
    assert_hidden(text, secrets_of(store), KEY)
    assert data["accounts"][ADA]["expires_at"] == store.get(ADA).expires_at  # the rest stays readable
    assert oct(tokens_path.stat().st_mode & 0o777) == oct(0o600)

    with pytest.raises(TokenFileError, match="TOKENS_KEY is not set"):
        TokenStore(tokens_path).load()
    with pytest.raises(TokenFileError, match="another key"):
        TokenStore(tokens_path, key=OTHER_KEY).load()


def test_a_value_moved_to_another_account_does_not_open(emulator, oauth, tokens_path):
    store = TokenStore(tokens_path, key=KEY)
    link_account(emulator.url, store, oauth, ADA)
    link_account(emulator.url, store, oauth, BO)
    data = json.loads(tokens_path.read_text())
    data["accounts"][ADA]["refresh_token"] = data["accounts"][BO]["refresh_token"]
    tokens_path.write_text(json.dumps(data))
    with pytest.raises(TokenFileError, match="sealed for another account"):
        store.load()


def test_a_key_that_is_not_a_fernet_key_is_a_config_error_that_does_not_echo_it(tokens_path, run_cli):
    with pytest.raises(ConfigError, match="not a Fernet key"):
        TokenStore(tokens_path, key="hunter2-not-a-key")
    result = run_cli("accounts", TOKENS_KEY="hunter2-not-a-key")
    assert result.returncode == 2 and "not a Fernet key" in result.stderr, result.stderr
    assert "hunter2" not in result.stdout + result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_refresh_and_accounts_work_with_the_key(emulator, oauth, remote, tokens_path, run_cli):
    store = TokenStore(tokens_path, key=KEY)
    link_account(emulator.url, store, oauth, ADA)
    expire_soon(store, ADA)
    old = store.get(ADA)
    rotations = remote.state()["tokens"]["rotated"]

    listed = run_cli("accounts", TOKENS_KEY=KEY)
    assert listed.returncode == 0 and ADA in listed.stdout, listed.stdout + listed.stderr
    refreshed = run_cli("refresh", TOKENS_KEY=KEY)
    assert refreshed.returncode == 0 and "DONE" in refreshed.stdout, refreshed.stdout + refreshed.stderr
    assert remote.state()["tokens"]["rotated"] == rotations + 1
    new = store.get(ADA)
    assert new.refresh_token != old.refresh_token
    text = tokens_path.read_text()
    assert json.loads(text)["encryption"] == "fernet:v1"
    assert_hidden(text + listed.stdout + listed.stderr + refreshed.stdout + refreshed.stderr,
                  [old.access_token, old.refresh_token, new.access_token, new.refresh_token], KEY)


@pytest.mark.slow
def test_a_wrong_or_missing_key_exits_2_and_leaves_the_file_byte_for_byte(emulator, oauth, remote, tokens_path,
                                                                         run_cli):
    store = TokenStore(tokens_path, key=KEY)
    link_account(emulator.url, store, oauth, ADA)
    expire_soon(store, ADA)
    before, rotations, secrets = tokens_path.read_bytes(), remote.state()["tokens"]["rotated"], secrets_of(store)
    for env, why in (({"TOKENS_KEY": OTHER_KEY}, "another key"), ({}, "TOKENS_KEY is not set")):
        for args in (("refresh", "--all"), ("accounts",), ("tokens", "decrypt"), ("tokens", "encrypt")):
            result = run_cli(*args, **env)
            assert result.returncode == 2, f"{args} {sorted(env)}: exit {result.returncode}: {result.stderr}"
            assert why in result.stderr and str(tokens_path) in result.stderr, result.stderr
            assert "Traceback" not in result.stderr
            assert_hidden(result.stdout + result.stderr, secrets, KEY, OTHER_KEY)
            assert tokens_path.read_bytes() == before, f"{args} {sorted(env)} changed the file"
    assert remote.state()["tokens"]["rotated"] == rotations


@pytest.mark.slow
def test_encrypt_then_decrypt_round_trips(emulator, oauth, tokens_path, run_cli):
    plain = TokenStore(tokens_path)
    link_account(emulator.url, plain, oauth, ADA)
    link_account(emulator.url, plain, oauth, BO)
    original = plain.load()
    secrets = secrets_of(plain)

    encrypted = run_cli("tokens", "encrypt", TOKENS_KEY=KEY)
    assert encrypted.returncode == 0 and encrypted.stdout.startswith("DONE"), encrypted.stdout + encrypted.stderr
    text = tokens_path.read_text()
    assert json.loads(text)["encryption"] == "fernet:v1"
    assert_hidden(text + encrypted.stdout + encrypted.stderr, secrets, KEY)
    assert TokenStore(tokens_path, key=KEY).load() == original
    assert not list(tokens_path.parent.glob(".user_tokens.json.*.tmp"))

    again = run_cli("tokens", "encrypt", TOKENS_KEY=KEY)
    assert again.returncode == 0 and again.stdout.startswith("SKIPPED"), again.stdout + again.stderr
    assert tokens_path.read_text() == text

    decrypted = run_cli("tokens", "decrypt", TOKENS_KEY=KEY)
    assert decrypted.returncode == 0 and decrypted.stdout.startswith("DONE"), decrypted.stdout + decrypted.stderr
    data = json.loads(tokens_path.read_text())
    assert "encryption" not in data
    assert data["accounts"][ADA]["refresh_token"] == original[ADA].refresh_token
    assert TokenStore(tokens_path).load() == original
    assert run_cli("tokens", "decrypt", TOKENS_KEY=KEY).stdout.startswith("SKIPPED")


@pytest.mark.slow
def test_rotate_key_re_encrypts_with_the_new_key(emulator, oauth, tokens_path, run_cli):
    store = TokenStore(tokens_path, key=KEY)
    link_account(emulator.url, store, oauth, ADA)
    original, secrets = store.load(), secrets_of(store)

    missing = run_cli("tokens", "rotate-key", TOKENS_KEY=KEY)
    assert missing.returncode == 2 and "TOKENS_NEW_KEY" in missing.stderr, missing.stderr
    before = tokens_path.read_bytes()
    rotated = run_cli("tokens", "rotate-key", TOKENS_KEY=KEY, TOKENS_NEW_KEY=OTHER_KEY)
    assert rotated.returncode == 0 and rotated.stdout.startswith("DONE"), rotated.stdout + rotated.stderr
    assert tokens_path.read_bytes() != before
    assert_hidden(tokens_path.read_text() + rotated.stdout + rotated.stderr, secrets, KEY, OTHER_KEY)
    assert TokenStore(tokens_path, key=OTHER_KEY).load() == original
    with pytest.raises(TokenFileError, match="another key"):
        TokenStore(tokens_path, key=KEY).load()
    assert run_cli("accounts", TOKENS_KEY=OTHER_KEY).returncode == 0
    assert run_cli("accounts", TOKENS_KEY=KEY).returncode == 2


def test_tokens_help_documents_both_keys(run_cli):
    result = run_cli("tokens", "--help")
    assert result.returncode == 0
    assert "TOKENS_KEY" in result.stdout and "TOKENS_NEW_KEY" in result.stdout and "rotate-key" in result.stdout


@pytest.mark.slow
def test_the_report_reads_an_encrypted_file(emulator, tokens_path, tmp_path, monkeypatch, capsys, run_cli):
    reporter = make_reporter(emulator, tokens_path, tmp_path, monkeypatch, capsys)
    reporter.link(ADA)
    assert run_cli("tokens", "encrypt", TOKENS_KEY=KEY).returncode == 0
    monkeypatch.setenv("TOKENS_KEY", KEY)
    result = reporter()
    assert result.code == 0, result.out + result.err
    assert ADA in result.out or "@" in result.out, result.out
    assert list((tmp_path / "reports" / reporter.today().isoformat()).glob("*.csv"))
    monkeypatch.delenv("TOKENS_KEY")
    without = reporter()
    assert without.code == 2 and "TOKENS_KEY is not set" in without.err, without.err


def test_the_app_logs_in_and_lists_accounts_with_an_encrypted_file(serve_app, tokens_path):
    app = serve_app(TOKENS_KEY=KEY)
    web = app.client()
    web.login(open_id=ADA)
    store = TokenStore(tokens_path, key=KEY)
    account = store.get(ADA)
    assert account is not None and json.loads(tokens_path.read_text())["encryption"] == "fernet:v1"
    page = web.get("/")
    assert page.status_code == 200 and (account.username in page.text or ADA in page.text)
    assert_hidden(tokens_path.read_text() + page.text, secrets_of(store), KEY)
