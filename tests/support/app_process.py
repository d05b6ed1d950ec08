"""``python app.py`` as a real process on free loopback ports (emulator mode unless the environment says not)."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
              open_files: tuple[int, int] | None = None) -> tuple[subprocess.Popen, str]:
    """Start the app (``open_files``: its soft and hard limit on open files) and wait until it answers."""
    port, emulator_port = free_port(), free_port()
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **(env or {})}
    limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, open_files)) if open_files else None
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--emulator-port",
                             str(emulator_port), *args], cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=limit)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app stopped: {proc.communicate()[1]}")
        try:
            requests.get(url + "/", timeout=2, allow_redirects=False)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the app did not start within 30 s")


def stop_app(proc: subprocess.Popen) -> str:
    """SIGTERM, as a service manager stops it; its stderr once it exited 0."""
    proc.terminate()
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    return stderr
