"""``pip install .`` from a clean copy of the project into a fresh virtual environment, then the README's Python
script, run with that environment's Python from outside the copy, so ``tiktok`` is the installed package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support.readme_run import run_readme_script

ROOT = Path(__file__).resolve().parents[1]


def clean_copy(target: Path) -> Path:
    """The files a clone would have: tracked ones and new ones git does not ignore (no .venv, no caches)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the package installed; its bin folder."""
    base = tmp_path_factory.mktemp("install")
    copy = clean_copy(base / "clone")
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    bin_dir = base / "venv" / "bin"
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           str(copy)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(copy)  # the installed package must stand on its own
    return bin_dir


@pytest.mark.slow
def test_the_readme_script_runs_against_the_installed_package(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c", "import tiktok, sys; print(tiktok.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert "site-packages" in where and not where.startswith(str(ROOT))
    run = run_readme_script(installed / "python", ROOT / "README.md", tmp_path / "work")
    assert run.returncode == 0, run.output[-3000:]
    assert "video: PUBLISH_COMPLETE" in run.prints and "photo: PUBLISH_COMPLETE" in run.prints
    progress = [line for line in run.prints if line.endswith("% of clip.mp4 sent")]
    assert len(progress) >= 7 and progress[-1] == "100% of clip.mp4 sent"
    video, photo = run.posts
    assert video["sha256"] == run.video_sha256 and video["plan"]["total_chunk_count"] == 7
    assert run.peak_growth_bytes < 24 * 2**20, run.peak_growth_bytes  # memory flat while 70 MB went up


@pytest.mark.slow
def test_the_console_commands_and_the_type_marker_are_installed(installed, tmp_path):
    for command, words in (("tiktok", "refresh"), ("tiktok-post", "manifest"), ("tiktok-transcribe", "transcri"),
                           ("tiktok-app", "--port")):
        done = subprocess.run([str(installed / command), "--help"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0 and words in done.stdout, (command, done.stdout[-500:], done.stderr[-500:])
        assert f"usage: {command}" in done.stdout
    package = Path(subprocess.run([str(installed / "python"), "-c", "import tiktok; print(tiktok.__file__)"],
                                  cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()).parent
    assert (package / "py.typed").is_file()
    assert (package / "templates" / "index.html").is_file()
    assert (package / "emulator" / "templates" / "authorize.html").is_file()
    assert (package / "assets" / "app.js").is_file()
    assert not (package.parent / "tests").exists() and not (package.parent / "bench").exists()


@pytest.mark.slow
def test_the_installed_app_serves_its_pages(installed, tmp_path):
    page = subprocess.run([str(installed / "python"), "-c", (
        "from tiktok.web.app import create_app\n"
        "app = create_app({'TESTING': True, 'TOKENS_FILE': 'user_tokens.json'})\n"
        "answer = app.test_client().get('/assets/style.css')\n"
        "print(answer.status_code, len(answer.data))\n")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    status, size = page.stdout.split()
    assert (status, int(size) > 100) == ("200", True), page.stderr[-2000:]
