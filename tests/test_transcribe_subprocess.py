"""``python transcribe.py`` as a user runs it: a real subprocess against the emulator and the AssemblyAI stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.flows import link_account
from tests.test_transcribe_cli import caption_text, captioned, catalogue, expected_text, media_digest
from tiktok.emulator.config import EmulatorConfig, default_users
from tiktok.auth.oauth import OAuthClient
from tiktok.emulator.serving import serve_in_thread
from tiktok.emulator.assemblyai import create_standin, standin_state
from tiktok.auth.tokens import TokenStore
from tiktok.transcription.store import TranscriptStore
from tiktok.web.app import create_app

pytestmark = pytest.mark.slow  # transcribe.py end to end in its own process

ROOT = Path(__file__).resolve().parents[1]
BO = default_users()[1].open_id
AAI_KEY = "aai-" + os.urandom(8).hex()
CLIENT_SECRET = "cs-" + os.urandom(8).hex()


@pytest.fixture
def emulator_config():
    return EmulatorConfig(client_secret=CLIENT_SECRET)


def run_script(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "transcribe.py"), *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=120, check=False)


def test_help_documents_inputs_options_and_exit_codes(tmp_path):
    result = run_script("--help", cwd=tmp_path)
    assert result.returncode == 0
    for text in ("--account", "--limit", "--since", "--jobs", "--force", "--transcripts", "--timeout",
                 "exit codes:", "ASSEMBLYAI_API_KEY", "3 wins over 2, 2 over 1, 1 over 4"):
        assert text in result.stdout


def test_an_account_end_to_end_then_searchable_in_the_app(emulator, tokens_path, tmp_path):
    store = TokenStore(tokens_path)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=CLIENT_SECRET)
    link_account(emulator.url, store, oauth, BO)
    standin_app = create_standin(api_key=AAI_KEY)
    env = {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), "ASSEMBLYAI_API_KEY": AAI_KEY,
           "ASSEMBLYAI_POLLING_INTERVAL": "0.01", "TRANSCRIPTS_DIR": "out"}
    with serve_in_thread(standin_app) as standin:
        result = run_script("--account", BO, cwd=tmp_path, env={**env, "ASSEMBLYAI_BASE_URL": standin.url})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    account = store.get(BO)
    for secret in (AAI_KEY, CLIENT_SECRET, account.access_token, account.refresh_token):
        assert secret not in output
    assert all(line.startswith("[emulator] ") for line in result.stdout.splitlines())
    assert "summary: 3 DONE" in result.stdout
    assert standin_state(standin_app).upload_count == 2  # TikTok has captions for one of bo_tests' 3 videos

    transcripts = TranscriptStore(tmp_path / "out")
    videos = catalogue(emulator.url, BO)
    digests = [media_digest(emulator.url, v["id"]) for v in videos]
    for video, (digest, size) in zip(videos, digests):
        expected = (caption_text(emulator, video["id"], "bo_tests") if captioned(emulator, video["id"])
                    else expected_text(digest, size))
        assert transcripts.read(BO, video["id"]) == expected

    client = create_app({"TOKENS_FILE": str(tokens_path), "TRANSCRIPTS_DIR": str(tmp_path / "out")}).test_client()
    marker = digests[1][0][:8]  # the stand-in names each clip by its digest: a word only this transcript has
    page = client.get("/transcripts/", query_string={"q": marker}).get_data(as_text=True)
    assert f"<mark>{marker}</mark>" in page
    results = page.split('id="results"', 1)[1].split("</section>", 1)[0]
    assert videos[1]["id"] in results
    assert videos[0]["id"] not in results and videos[2]["id"] not in results


@pytest.mark.parametrize("verbose", [False, True])
def test_the_built_in_standin_is_quiet_unless_verbose(emulator, tokens_path, tmp_path, verbose):
    store = TokenStore(tokens_path)
    oauth = OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                        client_secret=CLIENT_SECRET)
    link_account(emulator.url, store, oauth, BO)
    env = {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), "TRANSCRIPTS_DIR": "out"}
    result = run_script("--account", BO, *(["-v"] if verbose else []), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local AssemblyAI stand-in" in result.stdout and "summary: 3 DONE" in result.stdout
    request_lines = [line for line in result.stderr.splitlines() if '"POST /v2/transcript' in line]
    assert bool(request_lines) is verbose
    if not verbose:
        assert result.stderr == ""
