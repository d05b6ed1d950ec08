"""Many processes sharing user_tokens.json: no lost account or update, no dead refresh token, no torn file."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tiktok.emulator.config import default_users
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tests.support.flows import link_account
from tests.support.workers import _fake_grant, assert_rotations_kept

pytestmark = pytest.mark.slow  # processes writing and killed at random moments

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 8
ROUNDS = 6


def worker_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_eight_processes_refreshing_with_strict_rotation_lose_nothing(emulator, remote, tokens_path):
    store = TokenStore(tokens_path)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    users = [u.open_id for u in default_users()]
    for open_id in users:
        link_account(emulator.url, store, oauth, open_id)
    cfg = emulator.config
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.workers", "refresh", str(tokens_path),
                               emulator.url, cfg.client_key, cfg.client_secret, str(w), str(ROUNDS)],
                              cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for w in range(WORKERS)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert len(out.splitlines()) == ROUNDS

    accounts = store.load()
    expected_own = {f"w{w}-{i}" for w in range(WORKERS) for i in range(ROUNDS)}
    assert expected_own <= set(accounts), "an account added by a worker was lost"
    assert set(users) <= set(accounts), "a linked account was lost"
    assert_rotations_kept(remote, accounts, users, WORKERS * ROUNDS)


def test_writer_killed_at_random_moments_always_leaves_a_whole_file(tokens_path):
    store = TokenStore(tokens_path)
    seeded = [f"seed-{i}" for i in range(150)]  # a file of ~100 KB makes kills land mid-write often
    with store.transaction() as accounts:
        for open_id in seeded:
            accounts[open_id] = __import__("tiktok.auth.tokens", fromlist=["Account"]).Account.from_grant(
                _fake_grant(open_id), 1_800_000_000.0)
    rng = random.Random(20261122)
    committed: set[str] = set()
    for _ in range(30):
        proc = subprocess.Popen([sys.executable, "-m", "tests.support.workers", "write", str(tokens_path)],
                                cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(rng.randint(1, 6)):  # let it commit a few times, then kill it mid-stride
            line = proc.stdout.readline()
            assert line.startswith("committed "), line
            committed.add(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        committed.update(l.split()[1] for l in proc.stdout.read().splitlines() if l.startswith("committed "))
        json.loads(tokens_path.read_text())  # parses: never torn
        accounts = store.load()
        assert set(seeded) <= set(accounts), "a seeded account vanished"
        assert committed <= set(accounts), "an account reported as committed vanished"
    assert len(committed) >= 30
