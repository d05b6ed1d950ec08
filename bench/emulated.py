"""What the benchmarks share: the TikTok emulator in a process of its own, on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_emulator(workdir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``python -m tiktok.emulator --port 0 OPTIONS`` with its temporary files under ``workdir``; (process, URL)."""
    env = {**os.environ, "TMPDIR": str(workdir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tiktok.emulator", "--port", "0", *options], env=env, cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline()
    url = first.rsplit(" ", 1)[-1].strip()
    assert url.startswith("http://"), first
    return proc, url
