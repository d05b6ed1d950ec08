"""The control API: fault injection, the state view, the clock; and the command-line entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
TOKEN_PATH = "/v2/oauth/token/"
USER_INFO_PATH = "/v2/user/info/"


def test_fault_with_status_and_retry_after_on_token_endpoint(walker, remote):
    remote.inject_fault(TOKEN_PATH, status=503, error="temporarily_unavailable", message="busy", retry_after=2)
    callback = walker.consent(walker.params())
    failed = walker.exchange(callback.query["code"])
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert failed.json()["error"] == "temporarily_unavailable" and failed.json()["error_description"] == "busy"
    assert set(failed.json()) == {"error", "error_description", "log_id"}
    assert walker.exchange(callback.query["code"]).status_code == 200  # the fault did not consume the code


def test_http_200_with_error_on_an_api_path(walker, remote):
    token = walker.login()["access_token"]
    remote.inject_fault(USER_INFO_PATH, status=200, error="internal_error", message="oops")
    response = walker.user_info(token)
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {} and body["error"]["code"] == "internal_error" and body["error"]["message"] == "oops"


def test_times_counts_down_and_state_shows_remaining(walker, remote):
    token = walker.login()["access_token"]
    remote.inject_fault(USER_INFO_PATH, status=500, times=2)
    assert remote.state()["faults"][0]["times"] == 2
    first = walker.user_info(token)
    assert first.status_code == 500 and first.json()["error"]["code"] == "internal_error"
    assert remote.state()["faults"][0]["times"] == 1
    assert walker.user_info(token).status_code == 500
    assert remote.state()["faults"] == []
    assert walker.user_info(token).status_code == 200


def test_fault_only_hits_its_exact_path(walker, remote):
    remote.inject_fault("/v2/user/info", status=500)  # no trailing slash: a different path
    token = walker.login()["access_token"]
    assert walker.user_info(token).status_code == 200
    assert len(remote.state()["faults"]) == 1


def test_drop_closes_the_connection_without_a_response(walker, remote):
    token = walker.login()["access_token"]
    remote.inject_fault(USER_INFO_PATH, drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(walker.url + USER_INFO_PATH, params={"fields": "open_id"},
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert walker.user_info(token).status_code == 200


def test_delay_sleeps_then_handles_normally(walker, remote):
    slept: list[float] = []
    walker.server.state.sleep = slept.append  # no real sleeping in tests
    token = walker.login()["access_token"]
    remote.inject_fault(USER_INFO_PATH, delay=1.5)
    assert walker.user_info(token).status_code == 200
    remote.inject_fault(USER_INFO_PATH, delay=0.5, status=429)
    limited = walker.user_info(token)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert slept == [1.5, 0.5]


def test_clear_faults(walker, remote):
    remote.inject_fault(TOKEN_PATH, status=500, times=5)
    remote.clear_faults()
    assert remote.state()["faults"] == []
    walker.login()


@pytest.mark.parametrize("body", [{"times": 1}, {"path": "v2/no-slash"}, {"path": "/x", "times": 0},
                                  {"path": "/x", "status": 99}, {"path": "/x", "bogus": 1}, [1, 2]])
def test_bad_fault_requests_are_rejected(emulator, body):
    response = requests.post(emulator.url + "/_emulator/faults", json=body, timeout=10)
    assert response.status_code == 400 and "error" in response.json()


def test_clock_only_moves_forward(emulator, remote):
    before = remote.state()["now"]
    assert remote.advance_clock(30) == pytest.approx(before + 30)
    response = requests.post(emulator.url + "/_emulator/clock", json={"advance": -5}, timeout=10)
    assert response.status_code == 400


def test_get_clock_shows_the_emulated_time(emulator, remote):
    before = remote.clock()
    assert before["now"] == pytest.approx(remote.state()["now"], abs=5)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", before["iso"])
    remote.advance_clock(86_400)
    after = remote.clock()
    assert after["now"] - before["now"] == pytest.approx(86_400, abs=5)
    assert after["iso"][:10] != before["iso"][:10]  # one emulated day later


def test_state_never_contains_a_raw_secret(walker, remote):
    first = walker.login()
    callback = walker.consent(walker.params())  # an issued, not yet exchanged code
    second = walker.refresh(first["refresh_token"]).json()
    state_text = requests.get(walker.url + "/_emulator/state", timeout=10).text
    secrets = [first["access_token"], first["refresh_token"], second["access_token"], second["refresh_token"],
               callback.query["code"], walker.config.client_secret]
    leaked = [i for i, secret in enumerate(secrets) if secret in state_text]
    assert leaked == []  # indexes only: never print a token
    state = remote.state()
    assert state["client"]["client_key"] == walker.config.client_key
    assert state["lifetimes"] == {"access": 7200, "refresh": 15_552_000, "code": 600,
                                  "refresh_extends_deadline": False}
    assert [u["username"] for u in state["users"]] == ["ada.creates", "bo_tests", "cy.private"]
    assert state["posts"] == []


def test_unknown_user_revoke_is_404(emulator):
    response = requests.post(emulator.url + "/_emulator/users/nobody/revoke", timeout=10)
    assert response.status_code == 404


@pytest.mark.slow
def test_help_exits_zero():
    result = subprocess.run([sys.executable, "-m", "tiktok.emulator", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0 and "--pkce-encoding" in result.stdout


@pytest.mark.slow
def test_command_line_serves_and_hides_the_secret():
    process = subprocess.Popen(
        [sys.executable, "-m", "tiktok.emulator", "--port", "0", "--client-key", "ck-cli", "--client-secret",
         "cs-cli-secret", "--redirect-uri", "http://localhost:*/cb/", "--legacy-lifetimes"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[0].rsplit(" ", 1)[1].strip()
        state = requests.get(url + "/_emulator/state", timeout=10).json()
        assert state["client"]["client_key"] == "ck-cli"
        assert state["client"]["redirect_uris"] == ["http://localhost:*/cb/"]
        assert state["lifetimes"]["access"] == 86400
        assert "ck-cli" in "".join(lines) and "http://localhost:*/cb/" in "".join(lines)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert "cs-cli-secret" not in "".join(lines) + out + err


@pytest.mark.slow
def test_command_line_rejects_an_invalid_app():
    result = subprocess.run([sys.executable, "-m", "tiktok.emulator", "--redirect-uri", "http://example.com/cb/"],
                            cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "redirect URI" in result.stderr
