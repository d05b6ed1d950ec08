"""Start-up benchmark: each command's ``--help`` against ``python -c pass``, measured in the same run.

    .venv/bin/python bench/startup.py [--repeat 15]

Every command runs in a fresh interpreter (the same one as this script), stdout discarded; the best of
``--repeat`` wall times is kept for each, because start-up noise only ever adds time. Prints each command's time
and its ratio to the baseline, and which of the heavy packages (flask, yt_dlp, assemblyai, av, boto3,
tiktok.emulator) its ``--help`` loaded, read from ``-X importtime``. Target: at most 5 times the baseline.
Exit status 1 when a command loads a heavy package or is over the target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("flask", "yt_dlp", "assemblyai", "av", "boto3", "tiktok.emulator")
TARGET_RATIO = 5.0
COMMANDS = {
    "upload_to_tiktok.py --help": ["upload_to_tiktok.py", "--help"],
    "transcribe.py --help": ["transcribe.py", "--help"],
    "app.py --help": ["app.py", "--help"],
    "-m tiktok --help": ["-m", "tiktok", "--help"],
    "-m tiktok refresh --help": ["-m", "tiktok", "refresh", "--help"],
    "-m tiktok report --help": ["-m", "tiktok", "report", "--help"],
}


def best_time(args: list[str], repeat: int, cwd: Path) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def heavy_imports(args: list[str], cwd: Path) -> list[str]:
    """The heavy packages among the modules ``-X importtime`` reports for one run."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, capture_output=True, text=True,
                            check=True)
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if any(m == name or m.startswith(name + ".") for m in loaded)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per command; the best is kept (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:  # no .env here: what a fresh checkout sees
        cwd = Path(scratch)
        commands = {name: [str(ROOT / argv[0]) if argv[0].endswith(".py") else argv[0], *argv[1:]]
                    for name, argv in COMMANDS.items()}
        os.environ["PYTHONPATH"] = str(ROOT)
        baseline = best_time(["-c", "pass"], args.repeat, cwd)
        print(f"{'python -c pass (baseline)':<30} {baseline * 1000:7.1f} ms   1.0x")
        worst = 1.0
        heavy_seen = False
        for name, argv in commands.items():
            seconds = best_time(argv, args.repeat, cwd)
            heavy = heavy_imports(argv, cwd)
            heavy_seen |= bool(heavy)
            ratio = seconds / baseline
            worst = max(worst, ratio)
            print(f"{name:<30} {seconds * 1000:7.1f} ms {ratio:5.1f}x   heavy imports: {', '.join(heavy) or 'none'}")
    verdict = "within" if worst <= TARGET_RATIO else "OVER"
    print(f"worst ratio {worst:.1f}x: {verdict} the {TARGET_RATIO:g}x target")
    return 1 if heavy_seen or worst > TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
