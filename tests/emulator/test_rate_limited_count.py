"""What benchmarks read off the emulator: every 429 it answers, counted per path; a network-like latency; and many
seeded accounts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiktok.emulator.__main__ import build_parser, config_from_args
from tiktok.emulator.config import EmulatorConfig, generated_users
from tests.emulator.posting_helpers import Poster, login

REPO = Path(__file__).resolve().parents[2]
USER_INFO_PATH = "/v2/user/info/"
CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"


def test_injected_429s_are_counted_per_path(walker, remote):
    token = walker.login()["access_token"]
    assert remote.rate_limited() == 0
    remote.inject_fault(USER_INFO_PATH, status=429, error="rate_limit_exceeded", times=2)
    answers = [walker.user_info(token).status_code for _ in range(3)]
    assert answers == [429, 429, 200]
    assert remote.rate_limited() == 2
    assert remote.state()["rate_limited"]["by_path"] == {USER_INFO_PATH: 2}


def test_the_emulator_s_own_rate_limit_is_counted_too(emulator, remote):
    poster = Poster(emulator.url, login(emulator))
    answers = [poster.creator_info().status_code for _ in range(21)]  # 20 a minute per token (reference section 7)
    assert answers == [200] * 20 + [429]
    assert remote.state()["rate_limited"] == {"total": 1, "by_path": {CREATOR_INFO_PATH: 1}}


@pytest.mark.slow
def test_latency_delays_api_requests_but_not_control_calls(make_emulator, remote):
    emulator = make_emulator(latency_s=0.2)
    start = time.monotonic()
    remote.state()
    control_s = time.monotonic() - start
    start = time.monotonic()
    emulator_response = remote.session.get(emulator.url + USER_INFO_PATH, timeout=10)
    api_s = time.monotonic() - start
    assert emulator_response.status_code == 401  # no token: refused, after the same wait as any API call
    assert api_s >= 0.2
    assert control_s < 0.2


@pytest.mark.parametrize("latency", [-0.1, 11])
def test_latency_out_of_range_is_refused(latency):
    with pytest.raises(ValueError, match="latency_s"):
        EmulatorConfig(latency_s=latency)


def test_generated_users_are_distinct_public_accounts_after_the_defaults():
    config = config_from_args(build_parser().parse_args(["--extra-users", "100", "--latency", "0.01"]))
    assert len(config.users) == 103 and len({u.open_id for u in config.users}) == 103
    assert config.latency_s == 0.01
    extra = generated_users(2)
    assert [u.username for u in extra] == ["user0001", "user0002"]
    assert not any(u.private_account for u in extra)


@pytest.mark.slow
def test_command_line_refuses_a_negative_user_count():
    done = subprocess.run([sys.executable, "-m", "tiktok.emulator", "--extra-users", "-1"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--extra-users" in done.stderr


def test_a_state_reset_starts_the_count_again(walker, emulator, remote):
    token = walker.login()["access_token"]
    remote.inject_fault(USER_INFO_PATH, status=429, error="rate_limit_exceeded")
    assert walker.user_info(token).status_code == 429 and remote.rate_limited() == 1
    emulator.reset()
    assert remote.state()["rate_limited"] == {"total": 0, "by_path": {}}
