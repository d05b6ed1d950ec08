"""The database away: every command says so, naming the database but never its password, and exits 4 (try later,
so cron and a supervisor can tell it from a setup problem); the app answers 503 with the same sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # throwaway PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [["upload_to_tiktok.py"], ["-m", "tiktok", "refresh"], ["-m", "tiktok", "report"],
            ["-m", "tiktok", "accounts"], ["-m", "tiktok", "queue"], ["-m", "tiktok", "worker"],
            ["-m", "tiktok", "db", "migrate"], ["-m", "tiktok", "db", "status"], ["-m", "tiktok", "db", "import"],
            ["transcribe.py", "--account", "nobody"], ["-m", "tiktok", "alerts", "status"]]


@pytest.fixture
def gone(postgres) -> str:
    """A URL on a port where no server listens (the throwaway server's port plus one), with a password."""
    return f"postgresql://tiktok:s3cret-pw@127.0.0.1:{postgres.port + 1}/tiktok"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_command_exits_4_and_names_the_database_without_its_password(command, gone, emulator, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "DATABASE_URL": gone,
           "TIKTOK_API_BASE": emulator.url, "TIKTOK_CLIENT_KEY": emulator.config.client_key,
           "TIKTOK_CLIENT_SECRET": emulator.config.client_secret}
    script = [str(ROOT / command[0]), *command[1:]] if command[0].endswith(".py") else command
    done = subprocess.run([sys.executable, *script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert 'PostgreSQL database "tiktok" on 127.0.0.1' in output and "cannot be reached" in output
    assert "s3cret-pw" not in output and "Traceback" not in output


def test_the_app_answers_503_with_the_reason(gone, serve_app, tmp_path):
    app = serve_app(DATABASE_URL=gone, MANIFEST_FILE=str(tmp_path / "m.json"))
    web = app.client()
    page = web.get("/")
    assert page.status_code == 503 and "cannot be reached" in page.text and "s3cret-pw" not in page.text
    posts = web.get("/posts/")
    assert posts.status_code == 503 and "cannot be reached" in posts.text  # the Posts page names the problem
    assert 'PostgreSQL database "tiktok" on 127.0.0.1' in posts.text.replace("&#34;", '"')
    assert "s3cret-pw" not in posts.text
    board = web.get("/posts/board?since=0")
    assert board.status_code == 503 and "cannot be reached" in board.json()["problem"]
    assert "s3cret-pw" not in board.text
