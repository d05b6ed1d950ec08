"""The README's "Use it from Python" script, run unchanged in a real process against the emulator.

The install test runs the same script in a fresh virtual environment with the package installed; this one uses the
project's own, so it runs in the fast subset and names a broken example at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.readme_driver import readme_script
from tests.support.readme_run import VIDEO_BYTES, run_readme_script

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@pytest.mark.slow  # real pauses: the script waits for two posts as written (about 10 s)
def test_the_readme_script_runs_from_login_to_revoke(tmp_path):
    run = run_readme_script(sys.executable, README, tmp_path / "work", source=ROOT)
    assert run.returncode == 0, run.output[-3000:]
    assert run.prints[0].startswith("Open this page and allow access: http") and "code_challenge=" in run.prints[0]
    assert run.prints[1].startswith("Posting as @")
    progress = [line for line in run.prints if line.endswith("% of clip.mp4 sent")]
    assert len(progress) >= 7 and progress[-1] == "100% of clip.mp4 sent"
    assert "video: PUBLISH_COMPLETE" in run.prints and "photo: PUBLISH_COMPLETE" in run.prints
    video, photo = run.posts
    assert video["sha256"] == run.video_sha256 and video["plan"]["total_chunk_count"] == 7
    assert video["plan"]["video_size"] == VIDEO_BYTES and photo["kind"] == "photo"
    accounts = json.loads(run.tokens_file.read_text())["accounts"]
    assert len(accounts) == 1 and run.tokens_file.stat().st_mode & 0o777 == 0o600
    assert run.peak_growth_bytes < 24 * 2**20, run.peak_growth_bytes  # 70 MB went up; memory stayed flat


def test_the_readme_has_exactly_one_script_and_it_uses_only_public_names():
    import ast
    import tiktok

    tree = ast.parse(readme_script(README))
    imported = [(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names]
    assert imported and all(module == "tiktok" and name in tiktok.__all__ for module, name in imported)


@pytest.mark.slow
def test_mypy_strict_passes_on_the_public_module_and_the_readme_script(tmp_path):
    script = tmp_path / "readme_example.py"
    script.write_text(readme_script(README))
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--cache-dir", str(tmp_path / "mypy-cache"), "tiktok/__init__.py", "tiktok/client.py",
                           str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found in 3 source files" in done.stdout
