"""Real mounts for the disk tests (tmpfs, read-only bind mounts), where this machine allows them.

Each returns None when the mount worked, else why not (not root, no mount binary, a container that forbids it),
so a test can fall back to injecting the same error and say which path it took."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mount(*args: str) -> str | None:
    try:
        done = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount exit {done.returncode}")


def umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True, timeout=20)


def read_only_bind(source: Path, view: Path) -> str | None:
    """``source`` seen read-only at ``view``; unmount ``view`` afterwards when this returned None."""
    refused = mount("--bind", str(source), str(view))
    if refused is None:
        refused = mount("-o", "remount,ro,bind", str(view))
        if refused is not None:
            umount(view)
    return refused
