"""``python -m tiktok doctor`` (issue 25, item 2): each check's verdict, sentence and fix, and its exit code.

- the must-show: a set-up with a wrong redirect URI, a missing scope, a world-readable token file and a busy
  emulator port names each problem and its fix and exits 1 (also in --json); no token or secret in the output;
- with the shipped defaults (emulated mode, a fresh folder, an account linked with every scope) it exits 0;
- an emulator given by TIKTOK_API_BASE: answering is ok (the app's key and secret set, never shown), nothing there
  is a problem naming the address tried;
- the rules themselves as tables: TikTok's redirect URI rules (reference 1.3), file modes, refresh deadlines.

Accounts are linked over real loopback HTTP against the emulator (consent page, code exchange); the doctor runs as
a real process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.app_process import free_port
from tests.support.flows import link_account
from tiktok.auth.tokens import Account, TokenStore
from tiktok.config import DEFAULT_SCOPES, load_settings
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.posting.budget import budget
from tiktok.posting.policy import UNAUDITED_POSTING_USERS
from tiktok.setup_checks import (NOTE, OK, PROBLEM, account_caps, account_grant, account_privacy, file_mode,
                                 posting_users, redirect_uri, redirect_uri_problems)
from tiktok.store.model import Started

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0
ADA, BO, CY = default_users()[:3]  # Cy's account is private


def doctor(cwd: Path, *args: str, **env: str) -> tuple[int, str]:
    """``python -m tiktok doctor`` in ``cwd`` with only ``env`` besides PATH and HOME; its exit code and output."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run([sys.executable, "-m", "tiktok", "doctor", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def lines_with(output: str, verdict: str) -> list[str]:
    """The lines with ``verdict``, without the ``[emulator]`` mark every line has in emulated mode."""
    lines = (line.removeprefix("[emulator] ") for line in output.splitlines())
    return [line for line in lines if line.startswith(verdict + " ")]


def secrets_of(*accounts: Account) -> list[str]:
    return [value for a in accounts for value in (a.access_token, a.refresh_token)]


@pytest.fixture
def busy_port():
    """A port something else holds: it accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.mark.slow
def test_a_broken_set_up_names_each_problem_and_its_fix(emulator, oauth, tmp_path, busy_port):
    store = TokenStore(tmp_path / "user_tokens.json")
    granted = tuple(s for s in DEFAULT_SCOPES if s != "video.publish")  # unticked on TikTok's consent page
    account = link_account(emulator.url, store, oauth, ADA.open_id, scopes=granted)
    store.put(replace(account, username=ADA.username))  # as the app stores it from /v2/user/info/
    os.chmod(store.path, 0o644)  # world-readable
    wrong_uri = "http://example.com:8000/callback/"  # http off loopback: TikTok refuses it
    env = {"TIKTOK_REDIRECT_URI": wrong_uri, "TIKTOK_EMULATOR_PORT": str(busy_port)}

    code, output = doctor(tmp_path, **env)

    assert code == 1, output
    problems = lines_with(output, PROBLEM)
    assert len(problems) == 3 + 1, output  # the redirect URI, the scope, the file, the emulator's port
    uri_line = next(line for line in problems if "TIKTOK_REDIRECT_URI" in line)
    assert wrong_uri in uri_line and "http only on localhost or 127.0.0.1" in uri_line and "https://" in uri_line
    scope_line = next(line for line in problems if f"@{ADA.username}" in line)
    assert "did not grant video.publish (direct posting)" in scope_line
    assert f"link @{ADA.username} again" in scope_line
    file_line = next(line for line in problems if "token file" in line)
    assert "0644" in file_line and f"Fix: chmod 600 {tmp_path / 'user_tokens.json'}" in file_line
    port_line = next(line for line in problems if "emulator" in line)
    assert f"http://127.0.0.1:{busy_port}" in port_line and "busy" in port_line
    assert "--emulator-port" in port_line and "TIKTOK_EMULATOR_PORT" in port_line
    assert all(secret not in output for secret in secrets_of(account)), "a token reached the output"
    assert "emulator-client-secret" not in output and "Traceback" not in output

    code, output = doctor(tmp_path, "--json", **env)
    report = json.loads(output)
    assert code == 1 and report["exit"] == 1
    assert {c["check"] for c in report["checks"] if c["verdict"] == PROBLEM} == {
        "redirect_uri", f"scopes:{ADA.open_id}", "token_file", "emulator"}
    assert all(c["fix"] for c in report["checks"] if c["verdict"] == PROBLEM)


@pytest.mark.slow
def test_the_shipped_defaults_with_an_account_linked_with_every_scope_pass(emulator, oauth, tmp_path):
    store = TokenStore(tmp_path / "user_tokens.json")  # TOKENS_FILE's default, in the folder the doctor runs in
    account = link_account(emulator.url, store, oauth, BO.open_id, scopes=DEFAULT_SCOPES)

    code, output = doctor(tmp_path)

    assert code == 0, output
    assert lines_with(output, PROBLEM) == []
    assert "Emulated mode" in output and "http://127.0.0.1:8001" in output  # the address the defaults give
    assert any(f"{BO.open_id} granted every scope asked for" in line for line in lines_with(output, OK)), output
    assert any("token file" in line and "(0600)" in line for line in lines_with(output, OK)), output
    mode_line = next(line for line in lines_with(output, NOTE) if "app's mode" in line)  # nothing says it yet
    assert "unknown" in mode_line and "Set TIKTOK_APP_MODE to sandbox, unaudited or audited" in mode_line
    said = ("is public:", "is private:", "privacy was not checked")  # creator_info is asked only when unaudited
    assert not any(words in output for words in said), output
    assert all(secret not in output for secret in secrets_of(account))


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(mode="unaudited")])
def test_an_unaudited_app_names_each_public_account_and_passes_a_private_one(emulator, oauth, tmp_path):
    store = TokenStore(tmp_path / "user_tokens.json")
    linked = [link_account(emulator.url, store, oauth, user.open_id, scopes=DEFAULT_SCOPES) for user in (ADA, CY)]
    for account, user in zip(linked, (ADA, CY)):
        store.put(replace(account, username=user.username))
    env = {"TIKTOK_API_BASE": emulator.url, "TIKTOK_CLIENT_KEY": emulator.config.client_key,
           "TIKTOK_CLIENT_SECRET": emulator.config.client_secret, "TIKTOK_APP_MODE": "unaudited"}

    code, output = doctor(tmp_path, **env)

    assert code == 1, output
    assert any("The TikTok app is unaudited (TIKTOK_APP_MODE)" in line for line in lines_with(output, OK)), output
    (problem,) = lines_with(output, PROBLEM)  # creator_info, asked of the emulator: Ada's account is public
    assert f"@{ADA.username} is public: unaudited apps may Direct Post only to private accounts." in problem
    assert f"Fix: make @{ADA.username} private" in problem and "post drafts" in problem
    assert any(f"@{CY.username} is private" in line for line in lines_with(output, OK)), output
    assert all(secret not in output for secret in secrets_of(*linked))
    assert emulator.config.client_secret not in output


@pytest.mark.slow
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(client_key="own-app-key-4711",
                                                              client_secret="own-app-secret-0815")])
def test_an_emulator_given_by_its_address_answers_and_the_key_is_never_shown(emulator, tmp_path):
    env = {"TIKTOK_API_BASE": emulator.url, "TIKTOK_CLIENT_KEY": emulator.config.client_key,
           "TIKTOK_CLIENT_SECRET": emulator.config.client_secret}
    code, output = doctor(tmp_path, **env)
    assert code == 0, output
    assert f"The TikTok emulator answers at {emulator.url}." in output
    assert "TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET are set (not shown)" in output
    assert emulator.config.client_secret not in output and emulator.config.client_key not in output


@pytest.mark.slow
def test_an_emulator_address_where_nothing_answers_is_a_problem_naming_it(tmp_path):
    address = f"http://127.0.0.1:{free_port()}"
    code, output = doctor(tmp_path, TIKTOK_API_BASE=address, TIKTOK_CLIENT_KEY="k" * 12,
                          TIKTOK_CLIENT_SECRET="s3cr3t-value-xyz")
    assert code == 1, output
    (line,) = lines_with(output, PROBLEM)
    assert f"TIKTOK_API_BASE {address} is not the TikTok emulator: nothing answers there." in line
    assert "Fix: start the emulator there" in line and "s3cr3t-value-xyz" not in output


@pytest.mark.slow
def test_bad_configuration_exits_2(tmp_path):
    code, output = doctor(tmp_path, TIKTOK_EMULATOR_PORT="eighty")
    assert code == 2 and "TIKTOK_EMULATOR_PORT" in output and "Traceback" not in output


# -- the rules -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri", [  # reference 1.3's examples that name a real port, and the app's default
    "https://dev.example.com/auth/callback/", "http://localhost:3455/callback/", "https://127.0.0.1:3455/callback/",
    "http://127.0.0.1:8000/callback/"])
def test_addresses_tiktok_accepts(uri):
    assert redirect_uri_problems(uri) == []


@pytest.mark.parametrize("uri, said", [
    ("http://example.com/callback/", "http only on localhost or 127.0.0.1"),
    ("http://127.0.0.1/callback/", "needs a port"),
    ("http://[::1]:8000/callback/", "does not list [::1]"),
    ("https://example.com/callback/?next=1", "has a query"),
    ("https://example.com/callback/#top", "has a fragment"),
    ("https://example.com/" + "a" * 500, "fewer than 512"),
    ("https://example.com/call back/", "spaces"),
    ("https://exämple.com/callback/", "non-ASCII"),
    ("/callback/", "not absolute"),
    ("http://127.0.0.1:*/callback/", "wildcard"),
])
def test_addresses_tiktok_refuses(uri, said):
    problems = redirect_uri_problems(uri)
    assert any(said in problem for problem, _ in problems), problems


@pytest.mark.parametrize("uri, port, said", [
    ("http://127.0.0.1:8000/callback", "8000", "serves its callback at /callback/ (the trailing slash counts)"),
    ("http://127.0.0.1:8002/callback/", "8000", "back to port 8002, but the app listens on port 8000"),
])
def test_the_redirect_uri_must_be_where_the_app_serves_its_callback(uri, port, said):
    check = redirect_uri(load_settings({"TIKTOK_REDIRECT_URI": uri, "PORT": port}))
    assert check.verdict == PROBLEM and said in check.sentence and "TIKTOK_REDIRECT_URI" in check.fix


@pytest.mark.parametrize("mode, verdict", [(0o600, OK), (0o400, OK), (0o640, PROBLEM), (0o604, PROBLEM),
                                           (0o666, PROBLEM), (None, NOTE)])
def test_only_the_owner_may_read_the_files(mode, verdict):
    check = file_mode("token_file", "token file", Path("/x/user_tokens.json"), None if mode is None else
                      0o100000 | mode)
    assert check.verdict == verdict
    assert (check.fix == "chmod 600 /x/user_tokens.json") == (verdict == PROBLEM)


@pytest.mark.parametrize("left_days, reason, verdict, said", [
    (200, "", OK, "is linked"), (31, "", OK, "is linked"), (29, "", PROBLEM, "within 30 days"),
    (-1, "", PROBLEM, "ran out"), (200, "invalid_grant", PROBLEM, "must be linked again")])
def test_accounts_to_link_again(left_days, reason, verdict, said):
    now = 1_800_000_000.0
    account = Account("oid", "a" * 20, "r" * 20, now + 3600, now + left_days * DAY, username="maker",
                      relink_reason=reason)
    check = account_grant(account, now)
    assert check.verdict == verdict and said in check.sentence and "@maker" in check.sentence
    assert "a" * 20 not in check.line() and "r" * 20 not in check.line()


def test_an_account_whose_privacy_cannot_be_asked_is_a_note_not_a_problem():
    account = Account("oid", "a" * 20, "r" * 20, 0.0, 0.0, username="maker")
    check = account_privacy(account, None, "TikTok could not be reached (timeout)")
    assert check.verdict == NOTE and check.sentence == ("@maker's privacy was not checked: TikTok could not be "
                                                        "reached (timeout).")


@pytest.mark.parametrize("direct, drafts, verdict, said", [
    (0, 0, OK, "@maker made 0 of 15 Direct Posts; 0 of 5 drafts in the last 24 hours (counted by this tool)."),
    (14, 4, OK, "@maker made 14 of 15 Direct Posts; 4 of 5 drafts in the last 24 hours (counted by this tool)."),
    (15, 0, PROBLEM, "@maker made 15 of 15 Direct Posts; 0 of 5 drafts in the last 24 hours (counted by this tool): "
                     "TikTok refuses more Direct Posts for now."),
    (3, 5, PROBLEM, "@maker made 3 of 15 Direct Posts; 5 of 5 drafts in the last 24 hours (counted by this tool): "
                    "TikTok refuses more drafts for now."),
])
def test_an_accounts_attempts_of_the_day_against_tiktoks_caps(direct, drafts, verdict, said):
    now = 1_800_000_000.0
    started = [Started("oid", False, now - 60 * i) for i in range(direct)] + \
        [Started("oid", True, now - 60 * i) for i in range(drafts)]
    check = account_caps(Account("oid", "a" * 20, "r" * 20, 0.0, 0.0, username="maker"), budget("oid", started, now))
    assert (check.verdict, check.sentence) == (verdict, said)
    assert (check.fix != "") == (verdict == PROBLEM)


@pytest.mark.parametrize("users, verdict", [(set(), OK), ({"a", "b", "c", "d"}, OK), ({"a", "b", "c", "d", "e"}, PROBLEM)])
def test_an_unaudited_apps_posting_accounts_against_its_five(users, verdict):
    check = posting_users(users, UNAUDITED_POSTING_USERS)
    assert check.verdict == verdict and check.sentence.startswith(f"{len(users)} of the 5 accounts")
