"""Ctrl-C and SIGTERM during ``python -m tiktok refresh --all``: a rotated refresh token is never lost.

TikTok (the emulator, strict rotation) kills the old refresh token as it answers. Real processes are interrupted at
random moments while a slowed token call is under way; the signal waits until the new tokens are written, then the
run stops with a line and exit 130 (SIGINT) or 143 (SIGTERM), never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.flows import link_account
from tiktok.emulator.config import EmulatorConfig, default_users, generated_users
from tiktok.signals import Hold, Interrupted, stop_on_signals

pytestmark = pytest.mark.slow  # real processes stopped by real signals mid-refresh

ROOT = Path(__file__).resolve().parents[1]
USERS = default_users() + generated_users(17)  # 20 accounts
TOKEN_PATH = "/v2/oauth/token/"
DELAY_S = 0.3  # each slowed token call: the window a signal is sent in
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@pytest.fixture
def emulator_config():
    return EmulatorConfig(users=USERS)


def refresh_env(emulator, tokens_path: Path, home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT),
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path)}


def wait_for_calls(remote, left: int, timeout_s: float = 10.0) -> None:
    """Until the queued delay fault has ``left`` uses: the call that took the last one is now being slowed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        faults = remote.state()["faults"]
        if (faults[0]["times"] if faults else 0) <= left:
            return
        time.sleep(0.005)
    raise AssertionError("the refresh never reached the token endpoint")


def answered(remote) -> int:
    """Token calls the emulator has finished with a refresh or a refusal of a spent token."""
    tokens = remote.state()["tokens"]
    return tokens["rotated"] + tokens["dead_refresh_token_uses"]


def wait_until_answered(remote, count: int, timeout_s: float = 10.0) -> None:
    """Until the emulator has finished ``count`` token calls (a killed client's call still ends at the server)."""
    deadline = time.monotonic() + timeout_s
    while answered(remote) < count:
        assert time.monotonic() < deadline, "a token call never finished at the emulator"
        time.sleep(0.005)


def live_tokens_kept(remote, store, users=USERS) -> list[str]:
    """The accounts whose stored refresh token is not the one live at TikTok (compared by hash)."""
    grants = {g["open_id"]: g for g in remote.state()["tokens"]["grants"] if g["status"] == "active"}
    accounts = store.load()
    return [u.open_id for u in users
            if grants[u.open_id]["refresh_token_sha256"]
            != hashlib.sha256(accounts[u.open_id].refresh_token.encode()).hexdigest()]


def test_sigint_and_sigterm_during_refresh_lose_no_account(emulator, remote, store, oauth, tokens_path, tmp_path):
    for user in USERS:
        link_account(emulator.url, store, oauth, user.open_id)
    env = refresh_env(emulator, tokens_path, tmp_path)
    rng = random.Random(19)
    signums = [signal.SIGINT] * 10 + [signal.SIGTERM] * 10
    rng.shuffle(signums)
    held = 0
    for trial, signum in enumerate(signums):
        before = answered(remote)
        remote.inject_fault(TOKEN_PATH, delay=DELAY_S, times=len(USERS))  # every token call of the run is slowed
        proc = subprocess.Popen([sys.executable, "-m", "tiktok", "refresh", "--all"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        calls = rng.randint(1, 3)  # interrupt the first, second or third account's token call
        wait_for_calls(remote, len(USERS) - calls)
        time.sleep(rng.uniform(0.0, 0.8 * DELAY_S))  # margin: the poll above sees the call a little late
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
        faults = remote.state()["faults"]
        remote.clear_faults()
        wait_until_answered(remote, before + len(USERS) - (faults[0]["times"] if faults else 0))
        name = signal.Signals(signum).name
        assert proc.returncode == EXIT_CODES[signum], f"trial {trial} ({name}): exit {proc.returncode}\n{err}"
        assert "Traceback" not in out + err, f"trial {trial} ({name}):\n{err}"
        assert f"interrupted by {name} after" in err
        assert len([line for line in out.splitlines() if "DONE" in line]) >= calls - 1, out + err
        held += f"{name} received: finishing the token refresh of" in err
        assert live_tokens_kept(remote, store) == [], f"trial {trial} ({name}) lost an account"
    assert held >= 10, f"only {held} of 20 signals arrived during a token call: the test missed its window"

    final = subprocess.run([sys.executable, "-m", "tiktok", "refresh", "--all"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=30)
    assert final.returncode == 0, final.stdout + final.stderr
    lines = final.stdout.splitlines()
    assert len(lines) == len(USERS) and all(line.startswith("[emulator] DONE") for line in lines), final.stdout
    assert "RELINK" not in final.stdout and not any(a.relink_reason for a in store.load().values())
    assert remote.state()["tokens"]["dead_refresh_token_uses"] == 0


def test_help_documents_the_interrupted_exit_codes():
    result = subprocess.run([sys.executable, "-m", "tiktok", "refresh", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=30)
    assert "130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM" in " ".join(result.stdout.split())


def test_a_hold_delivers_the_signal_after_its_block():
    """In the main thread: a SIGTERM raised inside a started Hold arrives after the outermost Hold ends; the handlers
    are put back."""
    seen: list[str] = []
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop_on_signals():
        with pytest.raises(Interrupted) as stopped:
            with Hold() as hold:
                hold.start()
                signal.raise_signal(signal.SIGTERM)
                seen.append("still running")
                with Hold() as inner:  # nested: the outer one delivers
                    inner.start()
                    signal.raise_signal(signal.SIGINT)
                seen.append("after the inner hold")
    assert seen == ["still running", "after the inner hold"]
    assert stopped.value.signum == signal.SIGTERM and stopped.value.exit_code == 143
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_hold_before_start_lets_signals_through():
    with stop_on_signals():
        with pytest.raises(Interrupted):
            with Hold():
                signal.raise_signal(signal.SIGINT)  # not started (e.g. still waiting for the lock): at once
                pytest.fail("the signal was held before start()")


def test_a_hold_outside_the_main_thread_does_nothing():
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with Hold() as hold:
                hold.start()  # signal.signal would raise ValueError here; a Hold must not try
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and signal.getsignal(signal.SIGTERM) is before


def test_the_app_stopped_during_refresh_all_tokens_now_keeps_every_account(emulator, remote, store, oauth,
                                                                           tokens_path, tmp_path):
    """``python app.py`` gets SIGTERM while its page's refresh is in TikTok's slowed token call: the request thread
    is a daemon, so the app waits for that refresh to be written before it exits (then exits 0)."""
    from tests.support.app_process import start_app
    from tests.support.flows import WebClient

    accounts = USERS[:3]
    for user in accounts:
        link_account(emulator.url, store, oauth, user.open_id)
    app, url = start_app(tmp_path, env={**refresh_env(emulator, tokens_path, tmp_path)})
    try:
        web = WebClient(url)
        # longer than waitress waits for its threads when it closes (5 s): the app itself must wait for the rest
        remote.inject_fault(TOKEN_PATH, delay=6.5, times=1)
        answer: list = []

        def click() -> None:
            try:
                answer.append(web.post_form("/refresh_tokens/"))
            except requests.RequestException as exc:  # the app may close the connection as it stops
                answer.append(exc)

        clicked = threading.Thread(target=click)
        clicked.start()
        wait_for_calls(remote, 0)  # the first account's token call is under way
        app.send_signal(signal.SIGTERM)
        _, stderr = app.communicate(timeout=30)
        clicked.join(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    assert "waiting for a token refresh to be saved before stopping" in stderr
    wait_until_answered(remote, 1)
    assert live_tokens_kept(remote, store, accounts) == [], "an account's rotated refresh token was lost"
