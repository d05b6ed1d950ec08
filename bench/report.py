"""Report benchmark: ``python -m tiktok report`` over many emulated accounts, one at a time against --jobs.

    .venv/bin/python bench/report.py [--accounts 100] [--latency 0.05] [--jobs 4] [--repeat 1]

Starts the TikTok emulator in its own process with ``--extra-users`` (so there are --accounts public accounts) and
``--latency`` (real seconds every API request waits, a stand-in for the round trip to TikTok: on loopback the
emulator answers in well under a millisecond, which would hide what concurrency buys). Links every account, then
runs the real command as a child process, the way cron does, with ``--jobs 1`` and with ``--jobs N`` (the default
unless told), each into its own reports folder, and checks both wrote the same files. Prints the median wall times,
their ratio, and how many 429 answers the emulator sent over the whole run (the target is none).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

from bench.emulated import start_emulator  # noqa: E402

import requests  # noqa: E402

from tiktok.auth.oauth import OAuthClient  # noqa: E402
from tiktok.auth.tokens import TokenStore  # noqa: E402
from tiktok.emulator.config import default_users, generated_users  # noqa: E402
from tiktok.emulator.remote import EmulatorRemote  # noqa: E402
from tiktok.report.limits import DEFAULT_JOBS  # noqa: E402

KEY, SECRET = "emulator-client-key", "emulator-client-secret"
SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")


def link_all(url: str, tokens: Path, open_ids: list[str]) -> None:
    from tests.support.flows import link_account

    def link(open_id: str) -> None:
        oauth = OAuthClient(requests.Session(), api_base=url, client_key=KEY, client_secret=SECRET)
        link_account(url, TokenStore(tokens), oauth, open_id, scopes=SCOPES)
    with ThreadPoolExecutor(8) as pool:  # linking is set-up, not what is measured
        list(pool.map(link, open_ids))


def report(url: str, tokens: Path, reports: Path, jobs: int, workdir: Path) -> float:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TIKTOK_", "REPORTS_"))}
    env.update(TIKTOK_CLIENT_KEY=KEY, TIKTOK_CLIENT_SECRET=SECRET, TIKTOK_API_BASE=url, TOKENS_FILE=str(tokens),
               PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tiktok", "report", "--reports", str(reports), "--jobs", str(jobs)],
                          cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"report --jobs {jobs} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100, help="emulated accounts to report (default 100)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds each API request waits in the emulator (default 0.05)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"the concurrent side (default {DEFAULT_JOBS})")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; medians are printed (default 1)")
    args = parser.parse_args()
    users = [u for u in default_users() if not u.private_account]
    extra = max(0, args.accounts - len(users))
    open_ids = ([u.open_id for u in users] + [u.open_id for u in generated_users(extra)])[:args.accounts]
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        work = Path(scratch)
        emulator, url = start_emulator(work, "--extra-users", str(extra), "--latency", str(args.latency))
        try:
            tokens = work / "user_tokens.json"
            link_all(url, tokens, open_ids)
            remote = EmulatorRemote(url)
            before = remote.rate_limited()
            times: dict[int, list[float]] = {1: [], args.jobs: []}
            for run in range(args.repeat):
                for jobs in times:
                    times[jobs].append(report(url, tokens, work / f"reports-{jobs}-{run}", jobs, work))
            same = all(folder_bytes(work / f"reports-1-{run}") == folder_bytes(work / f"reports-{args.jobs}-{run}")
                       for run in range(args.repeat))
            files = len(folder_bytes(work / "reports-1-0"))
            limited = remote.rate_limited() - before
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    one, many = statistics.median(times[1]), statistics.median(times[args.jobs])
    print(f"{len(open_ids)} emulated accounts, {args.latency * 1000:.0f} ms per API request, "
          f"median of {args.repeat} run(s), whole command (process start included)")
    print(f"  --jobs 1   {one:7.2f} s")
    print(f"  --jobs {args.jobs:<3} {many:7.2f} s")
    print(f"  ratio --jobs {args.jobs} / --jobs 1: {many / one:.2f}")
    print(f"  same files written by both: {'yes' if same else 'NO'} ({files} CSV files per run)")
    print(f"  429 answers from the emulator: {limited}")
    return 0 if same and limited == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
