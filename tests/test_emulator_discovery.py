"""Emulated mode finds the app's emulator wherever its port (issue 25): ``python app.py --emulator-port E`` records
where its emulator listens beside the token file, and every command run in that folder, with no port setting, talks
to it; with no app running a command names the address it tried; a busy port stops the app with exit 2 and the
option to change."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.media_fixtures import make_video
from tests.support.flows import WebClient, consent
from tiktok.emulator.config import default_users
from tiktok.emulator.remote import EmulatorRemote

pytestmark = pytest.mark.slow  # the app and every command in their own processes

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 30.0  # generous: the machine is shared
ADDRESS_FILE = ".tiktok-emulator.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_env(folder: Path) -> dict[str, str]:
    """A user's environment: no TikTok app, no port setting, the folder as HOME."""
    return {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT)}


def command(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=folder, env=plain_env(folder),
                          capture_output=True, text=True, timeout=120)


def start_app(folder: Path, port: int, emulator_port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--emulator-port",
                             str(emulator_port)], cwd=folder, env=plain_env(folder),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{url} did not come up within {WAIT_S} s"
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err
    return out + err


def paths_since(emulator: EmulatorRemote, after: int) -> list[str]:
    return [r["path"] for r in emulator.requests(after)]


def last_n(emulator: EmulatorRemote) -> int:
    seen = emulator.requests()
    return seen[-1]["n"] if seen else 0


def test_every_command_reaches_the_emulator_the_app_started_on_its_port(tmp_path):
    port, emulator_port = free_port(), free_port()
    app = start_app(tmp_path, port, emulator_port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", app)
        emulator = EmulatorRemote(f"http://127.0.0.1:{emulator_port}")
        recorded = tmp_path / ADDRESS_FILE
        assert json.loads(recorded.read_text()) == {"url": emulator.base_url, "pid": app.pid}
        assert stat.S_IMODE(recorded.stat().st_mode) == 0o600
        web = WebClient(f"http://127.0.0.1:{port}")
        ada = default_users()[0]
        assert web.get(consent(web.start_login(), open_id=ada.open_id).headers["Location"]).status_code == 200

        before = last_n(emulator)
        refresh = command(tmp_path, "refresh", "--all")
        assert refresh.returncode == 0, refresh.stdout + refresh.stderr
        assert refresh.stdout.startswith("[emulator] DONE"), refresh.stdout
        assert "/v2/oauth/token/" in paths_since(emulator, before)

        accounts = command(tmp_path, "accounts")
        assert accounts.returncode == 0, accounts.stdout + accounts.stderr
        assert ada.open_id in accounts.stdout or ada.display_name in accounts.stdout, accounts.stdout

        before = last_n(emulator)
        report = command(tmp_path, "report")
        assert report.returncode == 0, report.stdout + report.stderr
        assert "/v2/video/list/" in paths_since(emulator, before)
        assert list((tmp_path / "reports").rglob("summary.csv"))

        make_video(tmp_path / "clip.mp4")
        manifest = tmp_path / "posts.json"
        manifest.write_text(json.dumps([{"user_id": ada.open_id, "video_path": "clip.mp4",
                                         "description": "found it"}]))
        post = command(tmp_path, "post", str(manifest), "--poll-interval", "0.05")
        assert post.returncode == 0, post.stdout + post.stderr
        assert "DONE: posted" in post.stdout, post.stdout
        (made,) = emulator.state()["posts"]
        assert made["status"] == "PUBLISH_COMPLETE" and made["post_info"]["title"] == "found it"

        status = command(tmp_path, "status")  # reads the store the app and the commands share: no call out
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.startswith("[emulator] ") and "accounts: none connected" not in status.stdout

        before = last_n(emulator)  # transcription lists the account's videos at the app's emulator
        transcribe = command(tmp_path, "transcribe", "--account", ada.open_id, "--limit", "1")
        assert "/v2/video/list/" in paths_since(emulator, before), transcribe.stdout + transcribe.stderr
        assert "nothing answers" not in transcribe.stdout + transcribe.stderr

        doctor = command(tmp_path, "doctor")  # asks the app's emulator whether it answers
        assert f"http://127.0.0.1:{emulator_port}" in doctor.stdout, doctor.stdout
        assert "8001" not in doctor.stdout, doctor.stdout

        queue = command(tmp_path, "queue")  # the workers' queue needs DATABASE_URL: it says so, as emulated
        assert queue.returncode == 2 and "DATABASE_URL" in queue.stderr, queue.stdout + queue.stderr
        assert "8001" not in refresh.stdout + report.stdout + post.stdout
    finally:
        output = stop(app)
    assert not recorded.exists(), "a clean stop removes the address file"
    assert "Traceback" not in output


def test_with_no_app_running_a_command_names_the_address_it_tried(tmp_path):
    port, emulator_port = free_port(), free_port()
    app = start_app(tmp_path, port, emulator_port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", app)
        # an account linked through the emulator directly, so there is something to refresh
        from tiktok.auth.oauth import OAuthClient
        from tiktok.auth.tokens import TokenStore
        from tests.support.flows import link_account
        oauth = OAuthClient(requests.Session(), api_base=f"http://127.0.0.1:{emulator_port}",
                            client_key="emulator-client-key", client_secret="emulator-client-secret")
        link_account(f"http://127.0.0.1:{emulator_port}", TokenStore(tmp_path / "user_tokens.json"), oauth,
                     default_users()[0].open_id)
    finally:
        stop(app)
    assert not (tmp_path / ADDRESS_FILE).exists()
    # The shipped default would try 8001, but another program on this shared machine may hold it: a port known to
    # be free stands in for it (test_the_address_file_counts_only_while_its_process_lives checks the default).
    nowhere = free_port()
    result = subprocess.run([sys.executable, "-m", "tiktok", "refresh", "--all"], cwd=tmp_path, capture_output=True,
                            env={**plain_env(tmp_path), "TIKTOK_EMULATOR_PORT": str(nowhere)}, text=True, timeout=120)
    assert result.returncode == 4, result.stdout + result.stderr  # try later, as for any unreachable server
    assert f"nothing answers at http://127.0.0.1:{nowhere}" in result.stdout, result.stdout
    assert "python app.py" in result.stdout and "TIKTOK_EMULATOR_PORT" in result.stdout, result.stdout


def test_the_address_file_counts_only_while_its_process_lives(tmp_path):
    from tiktok.config import load_settings

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    elsewhere = f"http://127.0.0.1:{free_port()}"
    recorded = tmp_path / ADDRESS_FILE
    env = {"TOKENS_FILE": str(tmp_path / "user_tokens.json")}  # the file is looked for beside the token file
    recorded.write_text(json.dumps({"url": elsewhere, "pid": int(gone.stdout)}))
    stale = load_settings(env)
    recorded.write_text(json.dumps({"url": elsewhere, "pid": os.getpid()}))  # a process that lives: this one
    live = load_settings(env)
    explicit = load_settings({**env, "TIKTOK_API_BASE": "http://127.0.0.1:9"})
    real = load_settings({**env, "TIKTOK_CLIENT_KEY": "key", "TIKTOK_CLIENT_SECRET": "secret"})
    assert stale.tiktok.api_base == "http://127.0.0.1:8001"  # the default: the app that wrote it is gone
    assert live.tiktok.api_base == elsewhere and live.tiktok.auth_url == elsewhere + "/v2/auth/authorize/"
    assert explicit.tiktok.api_base == "http://127.0.0.1:9"  # TIKTOK_API_BASE always wins
    assert real.tiktok.api_base == "https://open.tiktokapis.com"  # never for a real TikTok app


def busy(port: int) -> socket.socket:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


@pytest.mark.parametrize("which, option", [("emulator", "--emulator-port"), ("app", "--port")])
def test_a_busy_port_stops_the_app_with_exit_2_naming_the_option(tmp_path, which, option):
    port, emulator_port = free_port(), free_port()
    with busy(emulator_port if which == "emulator" else port):
        app = start_app(tmp_path, port, emulator_port)
        out, err = app.communicate(timeout=WAIT_S)
    assert app.returncode == 2, out + err
    taken = emulator_port if which == "emulator" else port
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert f"127.0.0.1:{taken}" in line and f"with {option}," in line, err
    assert "Traceback" not in err and "Either identify and stop that program" not in err, err  # werkzeug's text
    assert not (tmp_path / ADDRESS_FILE).exists()
