"""Text from TikTok or from files cannot drive the terminal: real commands print no ESC or BEL byte from it.

The hostile title sets a terminal's window title (``ESC]0;...BEL``), clears the screen (``ESC[2J``) and starts a
fake red line (``ESC[31m``); printed inert it reads ``\\x1b]0;pwned\\x07...`` and does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.logs import RedactingFilter, inert

ROOT = Path(__file__).resolve().parents[1]
ADA, BO = (u.open_id for u in default_users()[:2])
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mFAKE"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mFAKE"  # how it reads once inert
CONTROL_BYTES = (b"\x1b", b"\x07", b"\x9b", "\u202e".encode())


def assert_inert(result: subprocess.CompletedProcess) -> None:
    for stream, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        found = [byte for byte in CONTROL_BYTES if byte in data]
        assert found == [], f"{stream} holds terminal control bytes {found}:\n{data.decode(errors='replace')}"


def environment(emulator, folder: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT),
            "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(folder / "user_tokens.json"), **extra}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *command], cwd=cwd, env=env, capture_output=True, timeout=120)


@pytest.fixture
def token_store(tmp_path) -> TokenStore:
    return TokenStore(tmp_path / "user_tokens.json")


def link(emulator, store: TokenStore, open_id: str, scopes: tuple[str, ...]) -> None:
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=emulator.config.client_secret)
    link_account(emulator.url, store, oauth, open_id, scopes=scopes)


@pytest.mark.parametrize("text, shown", [
    (HOSTILE, SHOWN),
    ("a\u202eb\u2066c", "a\\u202eb\\u2066c"),          # bidi override and isolate
    ("csi\x9b2J del\x7f nul\x00 cr\r", "csi\\x9b2J del\\x7f nul\\x00 cr\\x0d"),  # C1, DEL, NUL, carriage return
    ("file\udcff.mp4", "file\\udcff.mp4"),               # an undecodable byte of a file name
    ("tab\tstays, é and 🎬 too", "tab\tstays, é and 🎬 too"),
])
def test_inert_escapes_what_drives_a_terminal(text, shown):
    assert inert(text) == shown
    assert inert(inert(text)) == shown  # applying it twice changes nothing


def test_newlines_stay_unless_the_text_is_one_line():
    assert inert("one\ntwo") == "one\ntwo"
    assert inert("title\n[emulator] DONE fake", newlines=False) == "title\\x0a[emulator] DONE fake"


@pytest.mark.slow
def test_transcribe_prints_a_hostile_title_inert(emulator, remote, token_store, tmp_path):
    link(emulator, token_store, BO, ("user.info.basic", "video.list"))
    response = remote.session.post(f"{remote.base_url}/_emulator/videos/{BO}", json={"title": HOSTILE}, timeout=10)
    response.raise_for_status()
    env = environment(emulator, tmp_path, TRANSCRIPTS_DIR="out")  # no AssemblyAI key: the emulator's stand-in
    for verbose in ([], ["-v"]):
        result = run([str(ROOT / "transcribe.py"), "--account", BO, "--force", *verbose], tmp_path, env)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert_inert(result)
        assert SHOWN in result.stdout.decode(), "the title was not printed at all"


@pytest.mark.slow
def test_upload_prints_a_hostile_caption_and_file_name_inert(emulator, remote, token_store, tmp_path):
    link(emulator, token_store, ADA, ("user.info.basic", "video.publish", "video.upload"))
    name = f"clip{HOSTILE}.mp4"
    make_video(tmp_path / name)
    (tmp_path / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": ADA, "video_path": name, "description": HOSTILE, "privacy": "SELF_ONLY"}]))
    remote.inject_fault("/v2/post/publish/video/init/", status=400, error="invalid_params",
                        message=f"caption refused: {HOSTILE}")
    result = run([str(ROOT / "upload_to_tiktok.py"), "--poll-interval", "0.01"], tmp_path,
                 environment(emulator, tmp_path))
    assert result.returncode == 1, result.stdout.decode(errors="replace")
    assert_inert(result)
    out = result.stdout.decode()
    assert f"caption refused: {SHOWN}" in out and f"clip{SHOWN}.mp4" in out  # both printed, inert


@pytest.mark.slow
def test_refresh_and_accounts_print_hostile_names_inert(emulator, token_store, tmp_path):
    link(emulator, token_store, ADA, ("user.info.basic",))
    with token_store.transaction() as accounts:  # the profile TikTok gave at login
        accounts[ADA] = replace(accounts[ADA], display_name=HOSTILE, username="")
    env = environment(emulator, tmp_path)
    for command in (["refresh", "--all"], ["accounts"]):
        result = run(["-m", "tiktok", *command], tmp_path, env)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert_inert(result)
        assert SHOWN in result.stdout.decode()


LOGGING_SCRIPT = """
import logging, sys
from tiktok.logs import configure_logging
configure_logging()
title = sys.argv[1]
logging.getLogger("tiktok.demo").warning("video %s listed", title)
logging.getLogger("werkzeug").warning(f"GET /?code=abc {title}")
try:
    raise ValueError(title)
except ValueError:
    logging.getLogger("tiktok.demo").exception("could not save %r", title)
"""


def test_log_lines_and_tracebacks_are_inert(tmp_path):
    result = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT, HOSTILE], cwd=tmp_path, capture_output=True,
                            timeout=30, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert_inert(result)
    err = result.stderr.decode()
    assert f"video {SHOWN} listed" in err and f"ValueError: {SHOWN}" in err and "code=***" in err
    assert "Traceback (most recent call last):\n" in err  # the program's own newlines stay


def test_filter_escapes_the_message_and_the_traceback():
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "title %s", (HOSTILE,), sys.exc_info())
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"title {SHOWN}"
    assert "\x1b" not in record.exc_text and f"RuntimeError: {SHOWN}" in record.exc_text
