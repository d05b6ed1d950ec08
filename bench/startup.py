"""Start-up benchmark: each command's ``--help`` against ``python -c pass``, the two timed in the same pairs.

    .venv/bin/python bench/startup.py [--pairs 41]

Every command runs in a fresh interpreter (the same one as this script) from an empty folder (no .env), stdout
discarded. Each command is paired with ``python -c pass`` (bench/paired.py): the two run back to back, the order
alternated pair to pair, after one warm-up round; the figure is the median of the per-pair ratios, with the middle
half of them as the spread, so load from other processes moves both sides of a pair and not the ratio. The pairs
are taken in rounds, one per command each round, so a burst of load touches a pair or two of every command
rather than all of one command's. Also prints which heavy packages (flask, yt_dlp, assemblyai, av, boto3,
procrastinate, psycopg, tiktok.emulator) a command's ``--help`` loaded, read from ``-X importtime``.

Target: every command at most 5 times ``python -c pass``, and no heavy import. Exit status 1 when one misses it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from functools import partial  # noqa: E402

from bench.paired import measure_rounds, timed, verdict  # noqa: E402
from tiktok.cli import COMMANDS as TREE  # noqa: E402

HEAVY = ("flask", "yt_dlp", "assemblyai", "av", "boto3", "procrastinate", "psycopg", "tiktok.emulator")
TARGET_RATIO = 5.0  # issue 20: --help stays under 5 times python -c pass
BASELINE = ["-c", "pass"]
SCRIPTS = {"upload_to_tiktok.py": "post", "transcribe.py": "transcribe", "app.py": "app"}  # each runs one command
COMMANDS = {  # every entry script, the tree, and every command of it (read from tiktok.cli, so none is missed)
    **{f"{script} --help": [script, "--help"] for script in SCRIPTS},
    "-m tiktok --help": ["-m", "tiktok", "--help"],
    **{f"-m tiktok {name} --help": ["-m", "tiktok", name, "--help"] for name in TREE},
}


def run(args: list[str], cwd: Path) -> None:
    subprocess.run([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, check=True)


def heavy_imports(args: list[str], cwd: Path) -> list[str]:
    """The heavy packages among the modules ``-X importtime`` reports for one run."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, capture_output=True, text=True,
                            check=True)
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if any(m == name or m.startswith(name + ".") for m in loaded)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=41,
                        help="pairs (command, python -c pass) per command, after a warm-up round (default 41)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:  # no .env here: what a fresh checkout sees
        cwd = Path(scratch)
        os.environ["PYTHONPATH"] = str(ROOT)
        argvs = {name: [str(ROOT / argv[0]) if argv[0].endswith(".py") else argv[0], *argv[1:]]
                 for name, argv in COMMANDS.items()}
        results = measure_rounds({name: timed(partial(run, argv, cwd)) for name, argv in argvs.items()},
                                 timed(partial(run, BASELINE, cwd)), args.pairs, warmup=1)
        heavy = {name: heavy_imports(argv, cwd) for name, argv in argvs.items()}
    print(f"{'command':<28} {'ms':>6} {'pass ms':>7}   ratio to python -c pass (median of per-pair ratios)")
    for name, result in results.items():
        print(f"{name:<28} {result.median_a * 1000:6.1f} {result.median_b * 1000:7.1f}   {result.describe()}"
              f"   heavy imports: {', '.join(heavy[name]) or 'none'}")
    worst = max(result.ratio for result in results.values())
    light = not any(heavy.values())
    print(f"worst ratio {worst:.3f}x; target: every command at most {TARGET_RATIO:g}x python -c pass "
          f"({verdict(worst, TARGET_RATIO)}), and no heavy import ({'met' if light else 'MISSED'})")
    return 0 if light and worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
