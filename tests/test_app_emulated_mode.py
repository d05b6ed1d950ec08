"""The README's first command: ``python app.py`` with no TikTok credentials runs the whole flow on the emulator."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tiktok.emulator.config import default_users
from tiktok.auth.tokens import TokenStore
from tests.support.flows import WebClient, consent

pytestmark = pytest.mark.slow  # the app started in its own process, in emulator mode

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not come up within {timeout} s")


@pytest.fixture
def running_app(tmp_path):
    port, emulator_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port),
           "TIKTOK_EMULATOR_PORT": str(emulator_port)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", proc)
        yield f"http://127.0.0.1:{port}", emulator_port, tmp_path, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_newcomer_logs_in_on_the_emulator_with_no_configuration(running_app):
    url, emulator_port, workdir, proc = running_app
    web = WebClient(url)
    home = web.get("/")
    assert "EMULATED" in home.text and "No accounts connected yet" in home.text
    authorize_url = web.start_login()
    assert authorize_url.startswith(f"http://127.0.0.1:{emulator_port}/v2/auth/authorize/?")
    ada = default_users()[0]
    callback = consent(authorize_url, open_id=ada.open_id).headers["Location"]
    assert callback.startswith(url + "/callback/?")
    assert web.get(callback).status_code == 200  # follows back to the accounts page
    assert ada.display_name in web.get("/").text
    tokens_file = workdir / "user_tokens.json"
    assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
    account = TokenStore(tokens_file).load()[ada.open_id]
    assert account.emulated
    proc.terminate()
    _, stderr = proc.communicate(timeout=10)
    assert "EMULATED MODE" in stderr
    assert account.access_token not in stderr and account.refresh_token not in stderr
    assert "code=***" in stderr  # the callback's authorization code is masked in the access log


def test_cron_command_reaches_the_apps_emulator(running_app):
    url, emulator_port, workdir, proc = running_app
    web = WebClient(url)
    callback = consent(web.start_login(), open_id=default_users()[1].open_id).headers["Location"]
    web.get(callback)
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT),
           "TIKTOK_EMULATOR_PORT": str(emulator_port)}
    result = subprocess.run([sys.executable, "-m", "tiktok", "refresh", "--all"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("[emulator] DONE") and "refreshed" in result.stdout


def test_newcomer_posts_a_video_through_the_apps_emulator(running_app):
    from tests.media_fixtures import make_video
    url, emulator_port, workdir, proc = running_app
    web = WebClient(url)
    ada = default_users()[0]
    web.get(consent(web.start_login(), open_id=ada.open_id).headers["Location"])
    make_video(workdir / "clip.mp4")
    (workdir / "videos_to_upload.json").write_text(
        '[{"user_id": "%s", "video_path": "clip.mp4", "description": "first try", "tags": ["demo"]}]' % ada.open_id)
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT),
           "TIKTOK_EMULATOR_PORT": str(emulator_port)}
    result = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.05"],
                            cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[emulator]" in result.stdout and "  DONE: posted" in result.stdout
    assert "privacy SELF_ONLY" in result.stdout  # the safe default is said out loud
    assert "EMULATED: nothing was sent to TikTok" in result.stdout
    state = requests.get(f"http://127.0.0.1:{emulator_port}/_emulator/state", timeout=5).json()
    (post,) = state["posts"]
    assert post["status"] == "PUBLISH_COMPLETE" and post["post_info"]["title"] == "first try #demo"


def test_port_options_override_the_environment(tmp_path):
    port, emulator_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": "1", "TIKTOK_EMULATOR_PORT": "2"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                             "--emulator-port", str(emulator_port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", proc)
        authorize_url = WebClient(f"http://127.0.0.1:{port}").start_login()
        assert authorize_url.startswith(f"http://127.0.0.1:{emulator_port}/v2/auth/authorize/?")
        assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback%2F" in authorize_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_apps_emulator_trusts_the_apps_own_published_prefix(running_app):
    """With the shipped defaults, photo posts can work at once: the app publishes at its own /published/ and the
    emulator it starts treats that prefix as verified, as TikTok would once a person verified it."""
    url, emulator_port, workdir, proc = running_app
    listed = requests.get(f"http://127.0.0.1:{emulator_port}/_emulator/verified_prefixes", timeout=5).json()
    assert f"{url}/published/" in str(listed)
    assert requests.get(f"{url}/published/{'0' * 32}/1-a.jpg", timeout=5).status_code == 404  # nothing published
