"""Run the README's Python script (``readme_driver.py``) in a real process against a throwaway emulator.

Used by ``tests/test_readme_python.py`` (the project's own virtual environment) and ``tests/test_install.py`` (a
fresh one with the package installed from a clean clone)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tiktok.emulator.config import EmulatorConfig
from tiktok.emulator.remote import EmulatorRemote
from tiktok.emulator.server import start_emulator
from tests.emulator.posting_helpers import make_image, start_media_host
from tests.support.posting import padded_video, sha256_file

DRIVER = Path(__file__).with_name("readme_driver.py")
VIDEO_BYTES = 70_000_000  # seven 10 MB chunks


@dataclass
class ReadmeRun:
    returncode: int
    prints: list[str]
    peak_growth_bytes: int
    posts: list[dict]
    video_sha256: str
    output: str
    tokens_file: Path


def run_readme_script(python: str | Path, readme: Path, workdir: Path, *, source: Path | None = None) -> ReadmeRun:
    """``python readme_driver.py README`` in ``workdir`` (which gets clip.mp4), the emulator and a media host up;
    ``source`` is a folder to import ``tiktok`` from (none: the environment's installed package)."""
    workdir.mkdir(parents=True, exist_ok=True)
    video = padded_video(workdir / "clip.mp4", VIDEO_BYTES, seconds=3.5)
    photo = make_image(workdir / "photo.jpg", "mjpeg")
    host = start_media_host({"/photos/photo.jpg": photo})
    try:
        with start_emulator(EmulatorConfig()) as emulator:
            emulator.config.verified_url_prefixes.append(host.url + "/photos/")
            env = {key: value for key, value in os.environ.items() if not key.startswith(("TIKTOK_", "PYTHON"))}
            env.update(TIKTOK_API_BASE=emulator.url, TIKTOK_CLIENT_KEY=emulator.config.client_key,
                       TIKTOK_CLIENT_SECRET=emulator.config.client_secret, PHOTO_URL=host.url + "/photos/photo.jpg")
            if source is not None:
                env["PYTHONPATH"] = str(source)
            done = subprocess.run([str(python), str(DRIVER), str(readme)], cwd=workdir, env=env, text=True,
                                  capture_output=True, timeout=300)
            posts = EmulatorRemote(emulator.url).state()["posts"]
    finally:
        host.server.shutdown()
    output = done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    return ReadmeRun(returncode=done.returncode, prints=report.get("prints", []),
                     peak_growth_bytes=report.get("peak_growth_bytes", -1), posts=posts,
                     video_sha256=sha256_file(video), output=output, tokens_file=workdir / "user_tokens.json")
