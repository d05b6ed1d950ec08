"""``python -m tiktok refresh`` as cron runs it: a real subprocess against the emulator on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.auth.tokens import TokenStore
from tiktok.words import WORDS
from tests.support.flows import link_account

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())
SECRET = "cs-" + os.urandom(12).hex()


@pytest.fixture
def emulator_config():
    return EmulatorConfig(client_secret=SECRET)


@pytest.fixture
def run_cli(emulator, tokens_path, tmp_path):
    outputs: list[str] = []

    def run(*args: str, api_base: str | None = None) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
               "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": SECRET,
               "TIKTOK_API_BASE": api_base or emulator.url, "TOKENS_FILE": str(tokens_path)}
        result = subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        outputs.append(result.stdout + result.stderr)
        return result

    run.outputs = outputs
    return run


def expire_soon(store: TokenStore, open_id: str, seconds: float) -> None:
    with store.transaction() as accounts:
        accounts[open_id] = replace(accounts[open_id], expires_at=time.time() + seconds)


def lines_for(result, open_id: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if open_id in line]


def test_fresh_accounts_are_left_alone(run_cli, emulator, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    before = store.get(ADA)
    result = run_cli("refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines_for(result, ADA)[0].startswith("[emulator] SKIPPED") and "still fresh" in lines_for(result, ADA)[0]
    assert store.get(ADA).refresh_token == before.refresh_token


@pytest.mark.slow
def test_due_accounts_are_refreshed_and_the_rotated_token_kept(run_cli, emulator, store, oauth, remote):
    link_account(emulator.url, store, oauth, ADA)
    link_account(emulator.url, store, oauth, BO)
    expire_soon(store, ADA, 30 * 60)  # within the default 90-minute window
    before = store.load()
    result = run_cli("refresh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DONE" in lines_for(result, ADA)[0] and "still fresh" in lines_for(result, BO)[0]
    after = store.load()
    assert after[ADA].refresh_token != before[ADA].refresh_token
    assert after[BO].refresh_token == before[BO].refresh_token
    assert abs(after[ADA].expires_at - (time.time() + 7200)) < 60
    assert remote.state()["tokens"]["dead_refresh_token_uses"] == 0


@pytest.mark.slow
def test_all_and_within_choose_what_is_refreshed(run_cli, emulator, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    assert "SKIPPED" in run_cli("refresh", "--within", "1h").stdout
    assert "DONE " in run_cli("refresh", "--within", "3h").stdout
    assert "DONE " in run_cli("refresh", "--all").stdout


@pytest.mark.slow
def test_revoked_account_needs_relinking_exit_3(run_cli, emulator, store, oauth, remote):
    link_account(emulator.url, store, oauth, ADA)
    link_account(emulator.url, store, oauth, BO)
    remote.revoke_user(ADA)
    result = run_cli("refresh", "--all")
    assert result.returncode == 3
    relink = lines_for(result, ADA)[0]  # plain words first, TikTok's code and log_id in a trailing part
    assert "RELINK " in relink and f": {WORDS['invalid_grant']} (code invalid_grant; " in relink
    assert re.search(r"; log_id \w+\)$", relink), relink
    assert "DONE " in lines_for(result, BO)[0] and "refreshed" in lines_for(result, BO)[0]  # it still got its refresh
    assert store.get(ADA).relink_reason
    again = run_cli("refresh", "--all")  # no second call to TikTok with the dead token
    assert again.returncode == 3 and remote.state()["tokens"]["dead_refresh_token_uses"] == 0


def test_transient_failure_exit_4_keeps_the_tokens(run_cli, emulator, store, oauth, remote):
    link_account(emulator.url, store, oauth, ADA)
    before = store.get(ADA)
    remote.inject_fault("/v2/oauth/token/", status=503, error="temporarily_unavailable", times=1)
    result = run_cli("refresh", "--all")
    assert result.returncode == 4
    assert "TRY LATER" in lines_for(result, ADA)[0] and "temporarily_unavailable" in result.stdout
    assert store.get(ADA) == before


def test_unreachable_tiktok_is_transient(run_cli, emulator, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    result = run_cli("refresh", "--all", api_base="http://127.0.0.1:9")  # nothing listens on port 9
    assert result.returncode == 4 and "TRY LATER" in result.stdout


def test_refresh_token_running_out_warns_with_exit_3(run_cli, emulator, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    with store.transaction() as accounts:
        accounts[ADA] = replace(accounts[ADA], refresh_expires_at=time.time() + 12 * 86400)
    result = run_cli("refresh")
    assert result.returncode == 3
    (line,) = lines_for(result, ADA)
    assert "RELINK" in line and "relink soon" in line and "the refresh token expires in 11 days 23 h (" in line


@pytest.mark.parametrize("content", ["", "{not json", '{"version": 1, "accounts": []}'])
def test_bad_token_file_exit_2_names_the_file_and_keeps_it(run_cli, tokens_path, content):
    tokens_path.write_text(content)
    result = run_cli("refresh")
    assert result.returncode == 2
    assert str(tokens_path) in result.stderr
    assert tokens_path.read_text() == content


@pytest.mark.parametrize("args", [["refresh", "--within", "soon"], ["refresh", "--all", "--within", "1h"],
                                  ["nonsense"], []])
def test_bad_arguments_exit_2(run_cli, args):
    assert run_cli(*args).returncode == 2


def test_unknown_account_exit_2(run_cli, emulator, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    result = run_cli("refresh", "--account", "no-such-open-id")
    assert result.returncode == 2 and "no-such-open-id" in result.stderr


def test_help_documents_exit_codes_and_cron(run_cli):
    result = run_cli("refresh", "--help")
    assert result.returncode == 0
    assert "exit codes" in result.stdout and "crontab" in result.stdout and "--within" in result.stdout


def test_no_accounts_is_fine(run_cli):
    result = run_cli("refresh")
    assert result.returncode == 0 and "no connected accounts" in result.stdout


def test_accounts_command_lists_deadlines(run_cli, emulator, store, oauth):
    link_account(emulator.url, store, oauth, ADA)
    result = run_cli("accounts")
    assert result.returncode == 0 and ADA in result.stdout and "[emulator]" in result.stdout


@pytest.mark.slow
def test_no_token_or_secret_is_ever_printed(run_cli, emulator, store, oauth, remote):
    link_account(emulator.url, store, oauth, ADA)
    link_account(emulator.url, store, oauth, BO)
    seen = {a.access_token for a in store.load().values()} | {a.refresh_token for a in store.load().values()}
    run_cli("refresh", "--all", "-v")
    seen |= {a.access_token for a in store.load().values()} | {a.refresh_token for a in store.load().values()}
    remote.inject_fault("/v2/oauth/token/", status=200, error="invalid_client", times=1)
    run_cli("refresh", "--all", "-v")
    remote.revoke_user(BO)
    run_cli("refresh", "--all", "-v")
    run_cli("accounts")
    printed = "\n".join(run_cli.outputs)
    assert "DONE " in printed and "RELINK" in printed
    leaked = [i for i, secret in enumerate(sorted(seen | {SECRET})) if secret in printed]
    assert leaked == [], f"{len(leaked)} secret value(s) appeared in the command output"


def test_exit_precedence_is_the_same_for_every_command():
    from tiktok.exitcodes import ExitStatus, combine
    from tiktok.auth.refresh import Outcome
    from tiktok.exitcodes import exit_status
    assert combine([]) == ExitStatus.OK
    assert combine([ExitStatus.TRY_LATER, ExitStatus.FAILED]) == ExitStatus.FAILED
    assert combine([ExitStatus.TRY_LATER, ExitStatus.BAD_INPUT, ExitStatus.FAILED]) == ExitStatus.BAD_INPUT
    assert combine([ExitStatus.BAD_INPUT, ExitStatus.RELINK_NEEDED]) == ExitStatus.RELINK_NEEDED
    outcomes = [Outcome("a", "a", "try_later", ""), Outcome("b", "b", "failed", "")]
    assert exit_status(outcomes) == ExitStatus.FAILED  # a person must look; the transient one fixes itself
