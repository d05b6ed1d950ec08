"""Every command's ``--help`` (and ``python -m tiktok accounts``) loads none of the heavy packages.

Read from ``python -X importtime`` in a fresh interpreter, so the test sees exactly what a user's shell would.
The time itself is measured by bench/startup.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("flask", "werkzeug", "yt_dlp", "assemblyai", "av", "boto3", "tiktok.emulator")


def loaded_modules(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENS_FILE": str(cwd / "tokens.json")}
    result = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=60)
    modules = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:")}
    return result, modules


@pytest.mark.parametrize("args", [
    ["upload_to_tiktok.py", "--help"],
    ["transcribe.py", "--help"],
    ["app.py", "--help"],
    ["-m", "tiktok", "--help"],
    ["-m", "tiktok", "refresh", "--help"],
    ["-m", "tiktok", "report", "--help"],
    ["-m", "tiktok", "accounts"],
], ids=" ".join)
def test_no_heavy_imports(args: list[str], tmp_path: Path) -> None:
    argv = [str(ROOT / args[0]), *args[1:]] if args[0].endswith(".py") else args
    result, modules = loaded_modules(argv, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert len(modules) > 20  # importtime really reported
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []


@pytest.mark.slow
def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    _, modules = loaded_modules(["-c", "import tiktok.emulator.server"], tmp_path)
    assert {"flask", "tiktok.emulator"} <= modules


def test_app_help_prints_and_starts_nothing(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0
    for option in ("--host", "--port", "--emulator-port"):
        assert option in result.stdout
    assert "EMULATED MODE" not in result.stderr and "open http" not in result.stderr


@pytest.mark.parametrize("args, needle", [
    (["--port", "http"], "'http' is not a whole number"),
    (["--port", "70000"], "70000 is not a TCP port"),
    (["--emulator-port", "0"], "0 is not a TCP port"),
])
def test_app_bad_options_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert needle in result.stderr


@pytest.mark.parametrize("parse, text, expected", [
    ("positive_int", "3", 3), ("positive_int", "0", "0 must be 1 or more"), ("positive_int", "x", "'x' is not a"),
    ("positive_float", "0.5", 0.5), ("positive_float", "0", "0 must be more than 0"),
    ("positive_float", "nan", "nan must be more than 0"), ("tcp_port", "8000", 8000),
    ("tcp_port", "65536", "65536 is not a TCP port"), ("tcp_port", "", "'' is not a whole number"),
])
def test_shared_option_types(parse: str, text: str, expected: object) -> None:
    import argparse

    from tiktok import options
    if isinstance(expected, str):
        with pytest.raises(argparse.ArgumentTypeError, match=expected):
            getattr(options, parse)(text)
    else:
        assert getattr(options, parse)(text) == expected
